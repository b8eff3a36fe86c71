/* The recommendation module's promises: the policies move the target the
 * right way, the queue never repeats a track within the window nor an
 * artist twice in a row when there is a choice, the same seed gives the same
 * queue, feedback moves later picks the expected way (and only in the mood
 * it came in), bad input is refused without changing anything, and a pick
 * among 100,000 tracks is fast. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mood/mood.h"
#include "recommend/recommend.h"
#include "support.h"

#define MAX_TRACKS 100000

/* A generated library: ids "t<i>", artists "a<i % artists>", genres
 * "g<i % 7>", points spread over the plane (every 13th without features,
 * every 5th a link without tempo). */
typedef struct lib {
    et_rec_track *t;
    char (*names)[3][24];
    size_t n;
} lib;

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

static lib make_lib(size_t n, size_t artists, bool spread)
{
    lib l = {calloc(n, sizeof *l.t), calloc(n, sizeof *l.names), n};
    assert_non_null(l.t);
    assert_non_null(l.names);
    uint64_t s = 42;
    for (size_t i = 0; i < n; i++) {
        snprintf(l.names[i][0], 24, "t%zu", i);
        snprintf(l.names[i][1], 24, "a%zu", i % artists);
        snprintf(l.names[i][2], 24, "g%zu", i % 7);
        et_rec_track *t = &l.t[i];
        t->id = l.names[i][0];
        t->artist = l.names[i][1];
        t->genre = l.names[i][2];
        t->has_point = !spread || i % 13 != 0;
        t->valence = spread ? (double)lcg(&s) / (1u << 30) - 1.0 : 0.8;
        t->arousal = spread ? (double)lcg(&s) / (1u << 30) - 1.0 : 0.5;
        t->tempo = i % 5 == 0 ? 0.0 : 60.0 + (double)(i % 120);
    }
    return l;
}

static void free_lib(lib *l)
{
    free(l->t);
    free(l->names);
}

static et_rec *rec_of(const lib *l, uint64_t seed)
{
    et_rec *r = NULL;
    char err[ET_ERR_MAX] = "";
    assert_int_equal(et_rec_new(l->t, l->n, seed, &r, err), ET_OK);
    return r;
}

static void mood(const char *name, double *v, double *a)
{
    assert_true(et_mood_named_point(name, v, a));
}

static size_t next_index(et_rec *r, et_rec_policy p, double v, double a)
{
    et_rec_pick pick;
    char err[ET_ERR_MAX] = "";
    assert_int_equal(et_rec_next(r, p, v, a, &pick, err), ET_OK);
    assert_true(pick.reason[0] != '\0');
    return pick.index;
}

static void policy_names_parse_and_unknown_is_refused(void **state)
{
    (void)state;
    et_rec_policy p = ET_REC_CALM;
    char err[ET_ERR_MAX] = "";
    assert_int_equal(et_rec_policy_parse("match", &p, err), ET_OK);
    assert_int_equal(p, ET_REC_MATCH);
    assert_int_equal(et_rec_policy_parse("lift", &p, err), ET_OK);
    assert_int_equal(p, ET_REC_LIFT);
    assert_int_equal(et_rec_policy_parse("calm", &p, err), ET_OK);
    assert_int_equal(p, ET_REC_CALM);
    assert_int_equal(et_rec_policy_parse("party", &p, err), ET_E_INVALID);
    assert_non_null(strstr(err, "party"));
    assert_int_equal(p, ET_REC_CALM);
    assert_int_equal(et_rec_policy_parse(NULL, &p, err), ET_E_INVALID);
    assert_string_equal(et_rec_policy_name(ET_REC_LIFT), "lift");
    assert_null(et_rec_policy_name(ET_REC__POLICY_COUNT));
}

static void match_target_is_the_mood(void **state)
{
    (void)state;
    lib l = make_lib(100, 10, true);
    et_rec *r = rec_of(&l, 1);
    double v, a, tv, ta;
    mood("sad", &v, &a);
    for (int k = 0; k < 5; k++) {
        assert_int_equal(et_rec_target(r, ET_REC_MATCH, v, a, &tv, &ta, NULL), ET_OK);
        assert_true(tv == v && ta == a);
        next_index(r, ET_REC_MATCH, v, a);
    }
    et_rec_free(r);
    free_lib(&l);
}

static void lift_moves_valence_up_step_by_step_from_the_mood(void **state)
{
    (void)state;
    lib l = make_lib(100, 10, true);
    et_rec *r = rec_of(&l, 1);
    double v, a, tv, ta, prev_v = -2;
    mood("sad", &v, &a);
    assert_int_equal(et_rec_target(r, ET_REC_LIFT, v, a, &tv, &ta, NULL), ET_OK);
    assert_true(tv == v && ta == a); /* iso: the first song meets the mood */
    for (int k = 0; k < 10; k++) {
        et_rec_pick pick;
        assert_int_equal(et_rec_next(r, ET_REC_LIFT, v, a, &pick, NULL), ET_OK);
        assert_true(pick.target_v >= prev_v);
        assert_true(pick.target_v - (prev_v < -1 ? v : prev_v) <= ET_REC_LIFT_STEP + 1e-9);
        assert_true(fabs(pick.target_a - ET_REC_LIFT_AROUSAL) <= fabs(a - ET_REC_LIFT_AROUSAL));
        prev_v = pick.target_v;
    }
    assert_true(fabs(prev_v - ET_REC_LIFT_VALENCE) < 1e-9); /* arrived */
    /* Never lowers an already happy mood. */
    mood("happy", &v, &a);
    et_rec_session_reset(r);
    for (int k = 0; k < 5; k++) {
        assert_int_equal(et_rec_target(r, ET_REC_LIFT, 0.95, a, &tv, &ta, NULL), ET_OK);
        assert_true(tv == 0.95);
        next_index(r, ET_REC_LIFT, 0.95, a);
    }
    /* A new session starts at the mood again. */
    et_rec_session_reset(r);
    mood("sad", &v, &a);
    assert_int_equal(et_rec_target(r, ET_REC_LIFT, v, a, &tv, &ta, NULL), ET_OK);
    assert_true(tv == v);
    et_rec_free(r);
    free_lib(&l);
}

static void calm_lowers_arousal_and_never_valence(void **state)
{
    (void)state;
    lib l = make_lib(100, 10, true);
    et_rec *r = rec_of(&l, 1);
    double v, a, tv, ta, prev_a = 2;
    mood("angry", &v, &a);
    assert_int_equal(et_rec_target(r, ET_REC_CALM, v, a, &tv, &ta, NULL), ET_OK);
    assert_true(tv == v && ta == a);
    for (int k = 0; k < 10; k++) {
        et_rec_pick pick;
        assert_int_equal(et_rec_next(r, ET_REC_CALM, v, a, &pick, NULL), ET_OK);
        assert_true(pick.target_a <= prev_a);
        assert_true(pick.target_v >= v);
        prev_a = pick.target_a;
    }
    assert_true(fabs(prev_a - ET_REC_CALM_AROUSAL) < 1e-9);
    /* A change of policy starts a new session: match then calm starts at the mood. */
    next_index(r, ET_REC_MATCH, v, a);
    assert_int_equal(et_rec_target(r, ET_REC_CALM, v, a, &tv, &ta, NULL), ET_OK);
    assert_true(ta == a);
    et_rec_free(r);
    free_lib(&l);
}

static void picks_follow_the_target(void **state)
{
    (void)state;
    lib l = make_lib(2000, 100, true);
    et_rec *r = rec_of(&l, 3);
    double v, a;
    mood("calm", &v, &a);
    double sum = 0;
    for (int k = 0; k < 100; k++) {
        et_rec_pick pick;
        assert_int_equal(et_rec_next(r, ET_REC_MATCH, v, a, &pick, NULL), ET_OK);
        sum += pick.distance;
        if (k == 0)
            assert_non_null(strstr(pick.reason, "calm mood"));
    }
    assert_true(sum / 100 < 0.3); /* random tracks lie ~1 away on average */
    et_rec_free(r);
    free_lib(&l);
}

static void no_track_repeats_within_the_window_over_1000_picks(void **state)
{
    (void)state;
    const size_t sizes[] = {1, 2, 10, 51, 300};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        size_t window = n - 1 < ET_REC_WINDOW ? n - 1 : ET_REC_WINDOW;
        lib l = make_lib(n, n < 5 ? 1 : 5, true);
        et_rec *r = rec_of(&l, 7);
        size_t *seq = calloc(1000, sizeof *seq);
        assert_non_null(seq);
        for (size_t k = 0; k < 1000; k++) {
            double v = sin((double)k / 40), a = cos((double)k / 70); /* a wandering mood */
            seq[k] = next_index(r, (et_rec_policy)(k / 100 % 3), v, a);
            for (size_t j = k > window ? k - window : 0; j < k; j++)
                assert_true(seq[j] != seq[k]);
        }
        free(seq);
        et_rec_free(r);
        free_lib(&l);
    }
}

static void plays_marked_from_earlier_sessions_wait_their_window(void **state)
{
    (void)state;
    lib l = make_lib(120, 120, true);
    et_rec *r = rec_of(&l, 3);
    char err[ET_ERR_MAX];
    /* The 50 tracks nearest the target, played earlier: none may come back
     * before 50 more picks, although they are the best matches. */
    et_rec_pick p;
    et_rec *probe = rec_of(&l, 3);
    const char *played[ET_REC_WINDOW];
    for (size_t k = 0; k < ET_REC_WINDOW; k++) {
        assert_int_equal(et_rec_next(probe, ET_REC_MATCH, 0.5, 0.5, &p, err), ET_OK);
        played[k] = p.id;
        assert_int_equal(et_rec_mark_played(r, p.id, err), ET_OK);
    }
    for (size_t k = 0; k < ET_REC_WINDOW; k++) {
        assert_int_equal(et_rec_next(r, ET_REC_MATCH, 0.5, 0.5, &p, err), ET_OK);
        for (size_t j = k; j < ET_REC_WINDOW; j++) /* played[j] is within the window */
            assert_string_not_equal(p.id, played[j]);
    }
    /* an unknown id is refused and changes nothing */
    et_rec *a = rec_of(&l, 5), *b = rec_of(&l, 5);
    assert_int_equal(et_rec_mark_played(a, "no-such-track", err), ET_E_NOT_FOUND);
    assert_non_null(strstr(err, "no-such-track"));
    for (int k = 0; k < 20; k++)
        assert_int_equal(next_index(a, ET_REC_LIFT, -0.5, 0.2),
                         next_index(b, ET_REC_LIFT, -0.5, 0.2));
    et_rec_free(a);
    et_rec_free(b);
    et_rec_free(probe);
    et_rec_free(r);
    free_lib(&l);
}

static void same_artist_never_twice_in_a_row_when_there_is_a_choice(void **state)
{
    (void)state;
    lib l = make_lib(200, 4, false); /* all at one point: only the rule separates */
    et_rec *r = rec_of(&l, 9);
    size_t prev = SIZE_MAX;
    for (int k = 0; k < 1000; k++) {
        size_t i = next_index(r, ET_REC_MATCH, 0.8, 0.5);
        if (prev != SIZE_MAX)
            assert_string_not_equal(l.t[i].artist, l.t[prev].artist);
        prev = i;
    }
    et_rec_free(r);
    free_lib(&l);
    /* One artist only: still picks. */
    l = make_lib(5, 1, true);
    r = rec_of(&l, 9);
    for (int k = 0; k < 20; k++)
        next_index(r, ET_REC_MATCH, 0.0, 0.0);
    et_rec_free(r);
    free_lib(&l);
}

static void queue_of(uint64_t seed, size_t *seq, size_t n)
{
    lib l = make_lib(500, 40, true);
    et_rec *r = rec_of(&l, seed);
    for (size_t k = 0; k < n; k++)
        seq[k] = next_index(r, (et_rec_policy)(k % 3), 0.1, -0.2);
    et_rec_free(r);
    free_lib(&l);
}

static void same_seed_same_queue(void **state)
{
    (void)state;
    size_t a[200], b[200], c[200];
    queue_of(123, a, 200);
    queue_of(123, b, 200);
    queue_of(124, c, 200);
    assert_memory_equal(a, b, sizeof a);
    assert_memory_not_equal(a, c, sizeof a);
}

/* Share of picks by artist a0 over 200 happy picks after fb likes/skips. */
static double share_of_a0(et_rec_feedback_kind kind, int times, const char *fb_mood)
{
    lib l = make_lib(400, 10, false); /* every track at the happy point */
    et_rec *r = rec_of(&l, 5);
    double v, a;
    mood(fb_mood, &v, &a);
    for (int k = 0; k < times; k++) /* tracks t0, t10, ...: artist a0 */
        assert_int_equal(et_rec_feedback(r, l.t[10 * k].id, kind, 0.05, v, a, NULL), ET_OK);
    mood("happy", &v, &a);
    int hits = 0;
    for (int k = 0; k < 200; k++) {
        et_rec_pick pick;
        assert_int_equal(et_rec_next(r, ET_REC_MATCH, v, a, &pick, NULL), ET_OK);
        if (strcmp(l.t[pick.index].artist, "a0") == 0) {
            hits++;
            if (kind == ET_REC_LIKE && times && strcmp(fb_mood, "happy") == 0)
                assert_non_null(strstr(pick.reason, "when happy"));
        }
    }
    et_rec_free(r);
    free_lib(&l);
    return hits / 200.0;
}

static void feedback_changes_later_picks_in_its_direction(void **state)
{
    (void)state;
    double base = share_of_a0(ET_REC_LIKE, 0, "happy");
    double liked = share_of_a0(ET_REC_LIKE, 8, "happy");
    double completed = share_of_a0(ET_REC_COMPLETE, 8, "happy");
    double skipped = share_of_a0(ET_REC_SKIP, 8, "happy");
    double liked_when_sad = share_of_a0(ET_REC_LIKE, 8, "sad");
    printf("artist share: none %.2f, liked %.2f, completed %.2f, skipped %.2f, "
           "liked when sad %.2f\n", base, liked, completed, skipped, liked_when_sad);
    assert_true(base > 0.03 && base < 0.2); /* one of 10 artists */
    assert_true(liked > base + 0.06);
    assert_true(completed > base + 0.04 && completed < liked);
    assert_true(skipped < base * 0.5);
    assert_true(liked_when_sad == base); /* another mood's feedback: same draws */
}

static void bad_input_is_refused_and_changes_nothing(void **state)
{
    (void)state;
    lib l = make_lib(300, 20, true);
    et_rec *r1 = rec_of(&l, 77), *r2 = rec_of(&l, 77);
    et_rec_pick pick;
    char err[ET_ERR_MAX];
    memset(&pick, 0, sizeof pick);
    err[0] = '\0';
    assert_int_equal(et_rec_next(r1, (et_rec_policy)42, 0, 0, &pick, err), ET_E_INVALID);
    assert_non_null(strstr(err, "policy"));
    assert_int_equal(et_rec_next(r1, ET_REC_MATCH, 1.5, 0, &pick, err), ET_E_INVALID);
    assert_non_null(strstr(err, "1.5"));
    assert_int_equal(et_rec_next(r1, ET_REC_MATCH, 0, NAN, &pick, err), ET_E_INVALID);
    assert_int_equal(et_rec_next(r1, ET_REC_MATCH, 0, 0, NULL, err), ET_E_INVALID);
    double tv, ta;
    assert_int_equal(et_rec_target(r1, ET_REC_LIFT, -1.01, 0, &tv, &ta, err), ET_E_INVALID);
    assert_int_equal(et_rec_feedback(r1, "no-such", ET_REC_LIKE, 0, 0, 0, err),
                     ET_E_NOT_FOUND);
    assert_non_null(strstr(err, "no-such"));
    assert_int_equal(et_rec_feedback(r1, "t1", (et_rec_feedback_kind)9, 0, 0, 0, err),
                     ET_E_INVALID);
    assert_int_equal(et_rec_feedback(r1, "t1", ET_REC_SKIP, 1.2, 0, 0, err), ET_E_INVALID);
    assert_int_equal(et_rec_feedback(r1, "t1", ET_REC_SKIP, 0.5, 0, -3, err), ET_E_INVALID);
    assert_int_equal(et_rec_feedback(r1, NULL, ET_REC_SKIP, 0.5, 0, 0, err), ET_E_INVALID);
    for (int k = 0; k < 100; k++)
        assert_int_equal(next_index(r1, ET_REC_LIFT, -0.5, 0.5),
                         next_index(r2, ET_REC_LIFT, -0.5, 0.5));
    et_rec_free(r1);
    et_rec_free(r2);
    free_lib(&l);
}

static void bad_tracks_are_refused_with_the_track_named(void **state)
{
    (void)state;
    lib l = make_lib(10, 3, true);
    et_rec *r = (et_rec *)1;
    char err[ET_ERR_MAX];
    assert_int_equal(et_rec_new(l.t, 0, 1, &r, err), ET_E_INVALID);
    assert_null(r);
    assert_int_equal(et_rec_new(NULL, 3, 1, &r, err), ET_E_INVALID);
    l.t[4].id = "t2";
    assert_int_equal(et_rec_new(l.t, l.n, 1, &r, err), ET_E_INVALID);
    assert_non_null(strstr(err, "t2"));
    l.t[4].id = "";
    assert_int_equal(et_rec_new(l.t, l.n, 1, &r, err), ET_E_INVALID);
    assert_non_null(strstr(err, "track 4"));
    l.t[4].id = l.names[4][0];
    l.t[3].has_point = true;
    l.t[3].valence = 1.5;
    assert_int_equal(et_rec_new(l.t, l.n, 1, &r, err), ET_E_INVALID);
    assert_non_null(strstr(err, "t3"));
    l.t[3].valence = 0;
    l.t[2].tempo = -1;
    assert_int_equal(et_rec_new(l.t, l.n, 1, &r, err), ET_E_INVALID);
    l.t[2].tempo = 0;
    assert_int_equal(et_rec_new(l.t, l.n, 1, &r, err), ET_OK);
    assert_int_equal(et_rec_count(r), 10);
    et_rec_free(r);
    free_lib(&l);
}

static void one_track_links_and_missing_features_work(void **state)
{
    (void)state;
    et_rec_track one = {.id = "only", .has_point = false};
    et_rec *r = NULL;
    assert_int_equal(et_rec_new(&one, 1, 1, &r, NULL), ET_OK);
    for (int k = 0; k < 5; k++) {
        et_rec_pick pick;
        assert_int_equal(et_rec_next(r, ET_REC_CALM, -0.3, 0.9, &pick, NULL), ET_OK);
        assert_string_equal(pick.id, "only");
        assert_true(pick.distance == ET_REC_MISSING_DIST);
        assert_non_null(strstr(pick.reason, "not yet known"));
    }
    assert_int_equal(et_rec_feedback(r, "only", ET_REC_COMPLETE, 1, 0, 0, NULL), ET_OK);
    et_rec_free(r);
    /* A link (no tempo, no artist, no genre) next to a track without
     * features: both come, in turn (the window of 1 forbids a repeat). */
    et_rec_track two[] = {
        {.id = "u-link", .valence = 0.3, .arousal = -0.6, .has_point = true},
        {.id = "file", .artist = "x", .genre = "y"},
    };
    assert_int_equal(et_rec_new(two, 2, 1, &r, NULL), ET_OK);
    int link = 0;
    for (int k = 0; k < 200; k++) {
        et_rec_pick pick;
        assert_int_equal(et_rec_next(r, ET_REC_MATCH, 0.3, -0.6, &pick, NULL), ET_OK);
        link += pick.index == 0;
    }
    assert_int_equal(link, 100);
    et_rec_free(r);
}

static void a_far_pick_says_it_is_only_the_nearest(void **state)
{
    (void)state;
    /* two sad songs: for a sad listener they match; for a happy one they
     * are only the nearest there is, and the reason must not claim more */
    et_rec_track t[2] = {{.id = "s1", .artist = "A", .valence = -0.7, .arousal = -0.4,
                          .has_point = true, .tempo = 70},
                         {.id = "s2", .artist = "B", .valence = -0.6, .arousal = -0.4,
                          .has_point = true, .tempo = 70}};
    et_rec *r = NULL;
    char err[ET_ERR_MAX];
    assert_int_equal(et_rec_new(t, 2, 1, &r, err), ET_OK);
    et_rec_pick p;
    assert_int_equal(et_rec_next(r, ET_REC_MATCH, -0.7, -0.4, &p, err), ET_OK);
    assert_string_equal(p.reason, "calm and slow, matches your sad mood");
    assert_int_equal(et_rec_next(r, ET_REC_MATCH, 0.8, 0.5, &p, err), ET_OK);
    assert_string_equal(p.reason, "calm and slow, the nearest in your library to your happy mood");
    et_rec_session_reset(r);
    assert_int_equal(et_rec_next(r, ET_REC_LIFT, -0.7, -0.4, &p, err), ET_OK);
    assert_int_equal(et_rec_next(r, ET_REC_LIFT, -0.7, -0.4, &p, err), ET_OK);
    assert_string_equal(p.reason, "calm and slow, a step up from your sad mood");
    et_rec_free(r);
}

/* The size the issue names; its speed is measured in bench/ (make bench). */
static void a_library_of_100000_tracks_works(void **state)
{
    (void)state;
    lib l = make_lib(MAX_TRACKS, 5000, true);
    et_rec *r = rec_of(&l, 11);
    /* Some feedback, so the Beta draws are not all uniform. */
    for (size_t i = 0; i < 2000; i++)
        assert_int_equal(et_rec_feedback(r, l.t[i * 37].id, (et_rec_feedback_kind)(i % 3), 0.3,
                                         0.5, 0.5, NULL),
                         ET_OK);
    size_t seen[60];
    char err[ET_ERR_MAX];
    for (int k = 0; k < 60; k++) {
        et_rec_pick p;
        assert_int_equal(et_rec_next(r, ET_REC_MATCH, 0.5, 0.5, &p, err), ET_OK);
        /* 100,000 points spread over the plane: many lie within 0.1 */
        assert_true(p.distance < 0.1);
        seen[k] = p.index;
        for (int j = 0; j < k; j++)
            assert_true(seen[j] != seen[k]);
    }
    et_rec_free(r);
    free_lib(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(policy_names_parse_and_unknown_is_refused),
        cmocka_unit_test(match_target_is_the_mood),
        cmocka_unit_test(lift_moves_valence_up_step_by_step_from_the_mood),
        cmocka_unit_test(calm_lowers_arousal_and_never_valence),
        cmocka_unit_test(picks_follow_the_target),
        cmocka_unit_test(no_track_repeats_within_the_window_over_1000_picks),
        cmocka_unit_test(same_artist_never_twice_in_a_row_when_there_is_a_choice),
        cmocka_unit_test(same_seed_same_queue),
        cmocka_unit_test(plays_marked_from_earlier_sessions_wait_their_window),
        cmocka_unit_test(feedback_changes_later_picks_in_its_direction),
        cmocka_unit_test(bad_input_is_refused_and_changes_nothing),
        cmocka_unit_test(bad_tracks_are_refused_with_the_track_named),
        cmocka_unit_test(one_track_links_and_missing_features_work),
        cmocka_unit_test(a_far_pick_says_it_is_only_the_nearest),
        cmocka_unit_test(a_library_of_100000_tracks_works),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
