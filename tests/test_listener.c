/* listener: profiles, mood history with retention, feedback and the
 * recommender built from the store -- on a real LMDB store and on a real
 * redis-server, the same tests. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis.h>

#include "listener/listener.h"
#include "mood/mood.h"
#include "support.h"

static et_store *store_of(void **state) { return ((ts_store_fixture *)*state)->s; }

static void put(et_store *s, const char *coll, const char *id, const char *json)
{
    char err[ET_ERR_MAX];
    if (et_store_put(s, coll, id, json, strlen(json), err) != ET_OK)
        fail_msg("put %s/%s: %s", coll, id, err);
}

/* A scanned track as `emotune scan` writes it (the fields read back). */
static void put_track(et_store *s, const char *id, const char *artist, const char *genre,
                      double v, double a, double duration)
{
    char json[512];
    snprintf(json, sizeof json,
             "{\"kind\":\"file\",\"path\":\"/music/%s.flac\",\"title\":\"Song %s\","
             "\"artist\":\"%s\",\"genre\":\"%s\",\"duration\":%g,\"valence\":%g,"
             "\"arousal\":%g,\"features\":{\"tempo\":100},\"missing\":false}",
             id, id, artist, genre, duration, v, a);
    put(s, "tracks", id, json);
}

static et_listener_mood mood_at(double t, const char *name)
{
    et_listener_mood m = {.time = t, .confidence = 0.9, .smiling = 0.5};
    assert_true(et_mood_named_point(name, &m.valence, &m.arousal));
    snprintf(m.mood, sizeof m.mood, "%s", name);
    snprintf(m.source, sizeof m.source, "face");
    return m;
}

#define T0 1.79e9 /* a Unix time in 2026 */

static void listener_names_are_checked(void **state)
{
    (void)state;
    char err[ET_ERR_MAX], long_name[80];
    memset(long_name, 'a', 65);
    long_name[65] = '\0';
    const char *good[] = {"default", "Ann-Marie_2", "a.b", "x"};
    const char *bad[] = {"", "a/b", ".hidden", "with space", "ü", long_name, "a{b}"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        assert_int_equal(et_listener_check_name(good[i], err), ET_OK);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        assert_int_equal(et_listener_check_name(bad[i], err), ET_E_INVALID);
        assert_true(err[0]);
    }
    assert_int_equal(et_listener_check_name(NULL, err), ET_E_INVALID);
}

static void profile_defaults_then_saved_settings_and_other_fields_kept(void **state)
{
    et_store *s = store_of(state);
    char err[ET_ERR_MAX];
    et_listener_profile p;
    assert_int_equal(et_listener_profile_load(s, "ann", &p, err), ET_OK);
    assert_false(p.stored);
    assert_int_equal(p.policy, ET_REC_MATCH);
    assert_true(p.tau_s == 3.0 && p.hold_s == 2.0 && p.history_days == 90.0);
    assert_int_equal(p.history_max, 10000);
    /* a profile written by another tool, with a field emotune does not know
     * and a smoothing time out of range */
    put(s, "profiles", "ann/profile",
        "{\"policy\":\"calm\",\"tau_s\":-4,\"history_max\":50,\"calibration\":[1,2]}");
    assert_int_equal(et_listener_profile_load(s, "ann", &p, err), ET_OK);
    assert_true(p.stored);
    assert_int_equal(p.policy, ET_REC_CALM);
    assert_true(p.tau_s == 3.0); /* the bad field falls back alone */
    assert_int_equal(p.history_max, 50);
    p.policy = ET_REC_LIFT;
    p.hold_s = 5;
    assert_int_equal(et_listener_profile_save(s, &p, err), ET_OK);
    et_listener_profile q;
    assert_int_equal(et_listener_profile_load(s, "ann", &q, err), ET_OK);
    assert_int_equal(q.policy, ET_REC_LIFT);
    assert_true(q.hold_s == 5.0);
    char *doc;
    assert_int_equal(et_store_get(s, "profiles", "ann/profile", &doc, NULL, err), ET_OK);
    assert_non_null(strstr(doc, "\"calibration\":[1,2]"));
    free(doc);
    /* a bad profile is refused and nothing changes */
    char *before = ts_store_export(s);
    et_listener_profile bad = q;
    bad.tau_s = 0;
    assert_int_equal(et_listener_profile_save(s, &bad, err), ET_E_INVALID);
    assert_non_null(strstr(err, "smoothing"));
    bad = q;
    bad.history_max = 0;
    assert_int_equal(et_listener_profile_save(s, &bad, err), ET_E_INVALID);
    bad = q;
    bad.policy = (et_rec_policy)7;
    assert_int_equal(et_listener_profile_save(s, &bad, err), ET_E_INVALID);
    char *after = ts_store_export(s);
    assert_string_equal(before, after);
    free(before);
    free(after);
}

static void history_keeps_the_newest_within_the_count_limit(void **state)
{
    et_store *s = store_of(state);
    char err[ET_ERR_MAX];
    et_listener_profile p;
    assert_int_equal(et_listener_profile_default("ann", &p, err), ET_OK);
    p.history_max = 5;
    const char *names[] = {"happy", "calm", "sad", "angry", "tense", "disgusted", "surprised",
                           "happy"};
    size_t pruned_total = 0;
    for (int i = 0; i < 8; i++) {
        et_listener_mood m = mood_at(T0 + 10.0 * i, names[i]);
        size_t pruned = 99;
        assert_int_equal(et_listener_mood_add(s, &p, &m, &pruned, err), ET_OK);
        assert_int_equal(pruned, i < 5 ? 0 : 1);
        pruned_total += pruned;
    }
    assert_int_equal(pruned_total, 3);
    et_listener_mood *all;
    size_t n;
    assert_int_equal(et_listener_moods(s, "ann", &all, &n, err), ET_OK);
    assert_int_equal(n, 5);
    for (size_t i = 0; i < n; i++) { /* the newest five, oldest first */
        assert_true(fabs(all[i].time - (T0 + 10.0 * (double)(i + 3))) < 1e-3);
        assert_string_equal(all[i].mood, names[i + 3]);
        assert_string_equal(all[i].source, "face");
        assert_true(fabs(all[i].smiling - 0.5) < 1e-9);
    }
    free(all);
    et_listener_mood latest;
    bool found = false;
    assert_int_equal(et_listener_mood_latest(s, "ann", &latest, &found, err), ET_OK);
    assert_true(found);
    assert_string_equal(latest.mood, "happy");
    /* a newer document that is no mood (written by hand) is passed over */
    put(s, "history", "ann/999999999999999-00000000", "{\"note\":\"not a mood\"}");
    assert_int_equal(et_listener_mood_latest(s, "ann", &latest, &found, err), ET_OK);
    assert_true(found);
    assert_string_equal(latest.mood, "happy");
    assert_int_equal(et_listener_mood_latest(s, "bob", &latest, &found, err), ET_OK);
    assert_false(found);
}

static void history_forgets_moods_older_than_the_retention(void **state)
{
    et_store *s = store_of(state);
    char err[ET_ERR_MAX];
    et_listener_profile p;
    assert_int_equal(et_listener_profile_default("ann", &p, err), ET_OK);
    p.history_days = 1;
    const double day = 86400;
    double times[] = {T0, T0 + 0.5 * day, T0 + 1.2 * day, T0 + 2.0 * day};
    /* at +1.2 d the mood of +0 is over a day old; at +2 d, the one of +0.5 d */
    size_t expect_pruned[] = {0, 0, 1, 1};
    for (int i = 0; i < 4; i++) {
        et_listener_mood m = mood_at(times[i], "calm");
        size_t pruned;
        assert_int_equal(et_listener_mood_add(s, &p, &m, &pruned, err), ET_OK);
        assert_int_equal(pruned, expect_pruned[i]);
    }
    et_listener_mood *all;
    size_t n;
    assert_int_equal(et_listener_moods(s, "ann", &all, &n, err), ET_OK);
    assert_int_equal(n, 2);
    assert_true(fabs(all[0].time - times[2]) < 1e-3 && fabs(all[1].time - times[3]) < 1e-3);
    free(all);
}

static void bad_moods_are_refused_and_change_nothing(void **state)
{
    et_store *s = store_of(state);
    char err[ET_ERR_MAX];
    et_listener_profile p;
    assert_int_equal(et_listener_profile_default("ann", &p, err), ET_OK);
    et_listener_mood ok = mood_at(T0, "sad");
    assert_int_equal(et_listener_mood_add(s, &p, &ok, NULL, err), ET_OK);
    char *before = ts_store_export(s);
    et_listener_mood bad[6];
    for (int i = 0; i < 6; i++)
        bad[i] = mood_at(T0 + 1, "happy");
    bad[0].valence = 1.5;
    bad[1].arousal = NAN;
    snprintf(bad[2].mood, sizeof bad[2].mood, "glad");
    snprintf(bad[3].source, sizeof bad[3].source, "webcam");
    bad[4].confidence = 2;
    bad[5].time = -1;
    const char *named[] = {"valence", "arousal", "glad", "webcam", "confidence", "time"};
    for (int i = 0; i < 6; i++) {
        assert_int_equal(et_listener_mood_add(s, &p, &bad[i], NULL, err), ET_E_INVALID);
        assert_non_null(strstr(err, named[i]));
    }
    char *after = ts_store_export(s);
    assert_string_equal(before, after);
    free(before);
    free(after);
}

static void listeners_keep_their_own_history_feedback_and_profile(void **state)
{
    et_store *s = store_of(state);
    char err[ET_ERR_MAX];
    put_track(s, "t1", "A", "rock", 0.5, 0.5, 120);
    /* names chosen so that one's ids sort inside the other's range by
     * prefix: "ab-c/..." < "ab/..." < "abc/..." */
    const char *who[] = {"ab", "ab-c", "abc"};
    for (int i = 0; i < 3; i++) {
        et_listener_profile p;
        assert_int_equal(et_listener_profile_default(who[i], &p, err), ET_OK);
        p.policy = (et_rec_policy)i;
        assert_int_equal(et_listener_profile_save(s, &p, err), ET_OK);
        for (int k = 0; k <= i; k++) {
            et_listener_mood m = mood_at(T0 + k, "calm");
            assert_int_equal(et_listener_mood_add(s, &p, &m, NULL, err), ET_OK);
            et_listener_feedback f = {.time = T0 + k, .kind = ET_REC_LIKE, .at_s = -1,
                                      .valence = 0.3, .arousal = -0.6};
            snprintf(f.track, sizeof f.track, "t1");
            snprintf(f.mood, sizeof f.mood, "calm");
            assert_int_equal(et_listener_feedback_add(s, who[i], &f, err), ET_OK);
        }
    }
    for (int i = 0; i < 3; i++) {
        et_listener_mood *m;
        et_listener_feedback *f;
        size_t nm, nf;
        assert_int_equal(et_listener_moods(s, who[i], &m, &nm, err), ET_OK);
        assert_int_equal(et_listener_feedbacks(s, who[i], &f, &nf, err), ET_OK);
        assert_int_equal(nm, (size_t)i + 1);
        assert_int_equal(nf, (size_t)i + 1);
        free(m);
        free(f);
        et_listener_profile p;
        assert_int_equal(et_listener_profile_load(s, who[i], &p, err), ET_OK);
        assert_int_equal(p.policy, (et_rec_policy)i);
    }
    char **names;
    size_t n;
    assert_int_equal(et_listener_names(s, &names, &n, err), ET_OK);
    assert_int_equal(n, 3);
    assert_string_equal(names[0], "ab");
    assert_string_equal(names[1], "ab-c");
    assert_string_equal(names[2], "abc");
    et_store_free_names(names, n);
}

static void feedback_is_checked_and_its_position_becomes_a_fraction(void **state)
{
    et_store *s = store_of(state);
    char err[ET_ERR_MAX];
    put_track(s, "t1", "A", "rock", 0.5, 0.5, 120);
    put(s, "tracks", "link1", "{\"kind\":\"link\",\"url\":\"https://example.org/x\","
                              "\"title\":\"X\",\"valence\":null,\"arousal\":null}");
    et_listener_feedback f = {.time = T0, .kind = ET_REC_SKIP, .at_s = 30, .valence = -0.7,
                              .arousal = -0.4};
    snprintf(f.track, sizeof f.track, "t1");
    snprintf(f.mood, sizeof f.mood, "sad");
    assert_int_equal(et_listener_feedback_add(s, "ann", &f, err), ET_OK);
    assert_true(fabs(f.fraction - 0.25) < 1e-12); /* 30 s of 120 s */
    /* a link has no duration: it counts as ET_LISTENER_TYPICAL_SONG_S long */
    et_listener_feedback g = f;
    g.time = T0 + 1;
    snprintf(g.track, sizeof g.track, "link1");
    g.at_s = 60;
    assert_int_equal(et_listener_feedback_add(s, "ann", &g, err), ET_OK);
    assert_true(fabs(g.fraction - 60 / ET_LISTENER_TYPICAL_SONG_S) < 1e-12);
    g.time = T0 + 2;
    g.at_s = 500; /* not past an end nobody knows; at most the whole song */
    assert_int_equal(et_listener_feedback_add(s, "ann", &g, err), ET_OK);
    assert_true(g.fraction == 1);
    char *before = ts_store_export(s);
    struct {
        const char *track;
        double at, v;
        int kind;
        et_status want;
        const char *says;
    } bad[] = {
        {"nope", -1, 0.1, ET_REC_LIKE, ET_E_NOT_FOUND, "nope"},
        {"t1", 200, 0.1, ET_REC_SKIP, ET_E_INVALID, "past the end"},
        {"t1", -5, 0.1, ET_REC_SKIP, ET_E_INVALID, "position"},
        {"t1", -1, 1.1, ET_REC_LIKE, ET_E_INVALID, "valence"},
        {"t1", -1, 0.1, 9, ET_E_INVALID, "kind"},
        {"../t1", -1, 0.1, ET_REC_LIKE, ET_E_INVALID, ".."},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        et_listener_feedback h = f;
        snprintf(h.track, sizeof h.track, "%s", bad[i].track);
        h.at_s = bad[i].at;
        h.valence = bad[i].v;
        h.kind = (et_rec_feedback_kind)bad[i].kind;
        assert_int_equal(et_listener_feedback_add(s, "ann", &h, err), bad[i].want);
        if (!strstr(err, bad[i].says))
            fail_msg("case %zu: '%s' does not say '%s'", i, err, bad[i].says);
    }
    char *after = ts_store_export(s);
    assert_string_equal(before, after);
    free(before);
    free(after);
    et_listener_feedback *all;
    size_t n;
    assert_int_equal(et_listener_feedbacks(s, "ann", &all, &n, err), ET_OK);
    assert_int_equal(n, 3);
    assert_string_equal(all[0].track, "t1");
    assert_int_equal(all[0].kind, ET_REC_SKIP);
    assert_true(fabs(all[0].at_s - 30) < 1e-9 && fabs(all[0].fraction - 0.25) < 1e-9);
    assert_string_equal(all[0].mood, "sad");
    free(all);
    et_rec_feedback_kind k;
    assert_int_equal(et_listener_feedback_kind_parse("complete", &k, err), ET_OK);
    assert_int_equal(k, ET_REC_COMPLETE);
    assert_int_equal(et_listener_feedback_kind_parse("love", &k, err), ET_E_INVALID);
    assert_non_null(strstr(err, "like, skip or complete"));
}

static void session_takes_present_tracks_and_replays_feedback(void **state)
{
    et_store *s = store_of(state);
    char err[ET_ERR_MAX];
    et_listener_session *se = NULL;
    assert_int_equal(et_listener_session_open(s, "ann", 1, &se, err), ET_E_NOT_FOUND);
    assert_null(se);
    assert_non_null(strstr(err, "library is empty"));
    put_track(s, "beep", "C", "fx", 0.5, 0.5, 0.4); /* a sound effect: not a song */
    assert_int_equal(et_listener_session_open(s, "ann", 1, &se, err), ET_E_NOT_FOUND);
    assert_non_null(strstr(err, "no song of 30 s or more (1 shorter"));
    put_track(s, "t1", "A", "rock", 0.5, 0.5, 120);
    put_track(s, "t2", "B", "jazz", -0.5, -0.5, 200);
    put(s, "tracks", "gone", "{\"kind\":\"file\",\"path\":\"/music/gone.mp3\",\"missing\":true}");
    put(s, "tracks", "link1", "{\"kind\":\"link\",\"url\":\"https://example.org/x\","
                              "\"title\":\"\",\"artist\":\"\",\"valence\":null}");
    put(s, "tracks", "odd", "[1, 2, 3]"); /* not a track document: skipped */
    et_listener_feedback f = {.time = T0, .kind = ET_REC_LIKE, .at_s = -1, .valence = 0.8,
                              .arousal = 0.5};
    snprintf(f.mood, sizeof f.mood, "happy");
    snprintf(f.track, sizeof f.track, "t2");
    assert_int_equal(et_listener_feedback_add(s, "ann", &f, err), ET_OK);
    snprintf(f.track, sizeof f.track, "gone");
    assert_int_equal(et_listener_feedback_add(s, "ann", &f, err), ET_OK);
    assert_int_equal(et_listener_session_open(s, "ann", 1, &se, err), ET_OK);
    assert_int_equal(se->n, 3); /* t1, t2, link1; not the missing one, nor the beep */
    assert_int_equal(se->too_short, 1);
    assert_int_equal(se->feedback_used, 1);
    assert_int_equal(se->feedback_stale, 1);
    for (size_t i = 0; i < se->n; i++) {
        const et_listener_track *t = &se->tracks[i];
        if (!strcmp(t->id, "link1")) {
            assert_true(t->is_link && !t->has_point);
            assert_null(t->artist);
            assert_string_equal(t->title, "link1"); /* empty title: the id */
            assert_string_equal(t->location, "https://example.org/x");
        } else if (!strcmp(t->id, "t1")) {
            assert_string_equal(t->location, "/music/t1.flac");
            assert_true(t->has_point && t->duration == 120 && t->tempo == 100);
        }
    }
    /* t2 had feedback: it was played just now, so with 3 tracks (window 2)
     * the next two picks are the others */
    et_rec_pick p;
    for (int k = 0; k < 2; k++) {
        assert_int_equal(et_rec_next(se->rec, ET_REC_MATCH, -0.5, -0.5, &p, err), ET_OK);
        assert_string_not_equal(p.id, "t2");
    }
    et_listener_session_free(se);
}

/* How many of `picks` picks in the happy mood are by artist `a`. */
static int picks_by(et_store *s, const char *listener, const char *artist, uint64_t seed,
                    int picks)
{
    char err[ET_ERR_MAX];
    et_listener_session *se;
    assert_int_equal(et_listener_session_open(s, listener, seed, &se, err), ET_OK);
    int count = 0;
    for (int k = 0; k < picks; k++) {
        et_rec_pick p;
        assert_int_equal(et_rec_next(se->rec, ET_REC_MATCH, 0.8, 0.5, &p, err), ET_OK);
        const char *a = se->tracks[p.index].artist;
        count += a && !strcmp(a, artist);
    }
    et_listener_session_free(se);
    return count;
}

static void stored_feedback_steers_later_sessions(void **state)
{
    et_store *s = store_of(state);
    char err[ET_ERR_MAX];
    /* 400 tracks by 20 artists, all near "happy": only preference differs */
    for (int i = 0; i < 400; i++) {
        char id[16], artist[24];
        snprintf(id, sizeof id, "t%03d", i);
        snprintf(artist, sizeof artist, "artist%02d", i % 20);
        put_track(s, id, artist, i % 2 ? "pop" : "rock", 0.8 - 0.001 * (i % 7),
                  0.5 + 0.001 * (i % 5), 180);
    }
    /* ann likes 4 songs of artist03 and skips 4 of artist07 early, when
     * happy: the artists' other 16 songs are to follow */
    for (int i = 0; i < 4; i++) {
        et_listener_feedback f = {.time = T0 + i, .at_s = -1, .valence = 0.8, .arousal = 0.5};
        snprintf(f.mood, sizeof f.mood, "happy");
        f.kind = ET_REC_LIKE;
        snprintf(f.track, sizeof f.track, "t%03d", 3 + 20 * i);
        assert_int_equal(et_listener_feedback_add(s, "ann", &f, err), ET_OK);
        f.kind = ET_REC_SKIP;
        f.at_s = 5;
        snprintf(f.track, sizeof f.track, "t%03d", 7 + 20 * i);
        assert_int_equal(et_listener_feedback_add(s, "ann", &f, err), ET_OK);
    }
    int liked_ann = 0, liked_bob = 0, skipped_ann = 0, skipped_bob = 0;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        liked_ann += picks_by(s, "ann", "artist03", seed, 100);
        liked_bob += picks_by(s, "bob", "artist03", seed, 100);
        skipped_ann += picks_by(s, "ann", "artist07", seed, 100);
        skipped_bob += picks_by(s, "bob", "artist07", seed, 100);
    }
    /* bob (no feedback) hears each artist about 1 time in 20, 15 of 300;
     * ann clearly more of the artist she liked (at least half as much
     * again) and clearly less of the one she skipped (at most half) */
    print_message("artist03: ann %d, bob %d of 300; artist07: ann %d, bob %d\n", liked_ann,
                  liked_bob, skipped_ann, skipped_bob);
    assert_true(2 * liked_ann >= 3 * liked_bob);
    assert_true(skipped_ann * 2 <= skipped_bob);
}

/* Issue 11: what one request queued waits its window in the next, even on
 * another server. Two store handles stand for two servers sharing the store:
 * each queues songs; a third opens the session, and the next picks avoid
 * every queued song while the library allows (12 songs, window 11). */
static void queued_tracks_wait_their_window_across_servers(void **state)
{
    ts_store_fixture *f = *state;
    char err[ET_ERR_MAX];
    for (int i = 0; i < 12; i++) {
        char id[16], artist[24];
        snprintf(id, sizeof id, "s%02d", i);
        snprintf(artist, sizeof artist, "artist%d", i);
        put_track(f->s, id, artist, "pop", -0.5 + 0.01 * i, -0.4, 180);
    }
    et_store *a, *b;
    assert_int_equal(et_store_open(f->b->uri, NULL, &a, err), ET_OK);
    assert_int_equal(et_store_open(f->b->uri, NULL, &b, err), ET_OK);
    const char *first[] = {"s00", "s01", "s02"}, *second[] = {"s03", "s04"};
    assert_int_equal(et_listener_queued_add(a, "ann", first, 3, T0, err), ET_OK);
    assert_int_equal(et_listener_queued_add(b, "ann", second, 2, T0 + 1, err), ET_OK);
    /* both recorded, oldest first; another listener's queue is apart */
    et_listener_queued_track *q;
    size_t n;
    assert_int_equal(et_listener_queued(f->s, "ann", &q, &n, err), ET_OK);
    assert_int_equal(n, 5);
    assert_string_equal(q[0].track, "s00");
    assert_string_equal(q[4].track, "s04");
    free(q);
    assert_int_equal(et_listener_queued(f->s, "bob", &q, &n, err), ET_OK);
    assert_int_equal(n, 0);
    et_store_close(a);
    et_store_close(b);
    /* the next six picks are the six songs never queued */
    et_listener_session *se;
    assert_int_equal(et_listener_session_open(f->s, "ann", 5, &se, err), ET_OK);
    for (int k = 0; k < 7; k++) {
        et_rec_pick p;
        assert_int_equal(et_rec_next(se->rec, ET_REC_MATCH, -0.5, -0.4, &p, err), ET_OK);
        int num = atoi(se->tracks[p.index].id + 1);
        if (num < 5)
            fail_msg("pick %d is %s, queued just before", k, se->tracks[p.index].id);
    }
    et_listener_session_free(se);
    /* bad input is refused and changes nothing */
    char *before = ts_store_export(f->s);
    const char *bad_id[] = {"../etc"};
    assert_int_equal(et_listener_queued_add(f->s, "ann", bad_id, 1, T0, err), ET_E_INVALID);
    assert_int_equal(et_listener_queued_add(f->s, "../x", first, 1, T0, err), ET_E_INVALID);
    assert_int_equal(et_listener_queued_add(f->s, "ann", first, 1, NAN, err), ET_E_INVALID);
    char *after = ts_store_export(f->s);
    assert_string_equal(before, after);
    free(before);
    free(after);
}

/* The queue keeps the newest ET_LISTENER_QUEUED_MAX entries. */
static void the_queue_keeps_its_newest_entries(void **state)
{
    et_store *s = store_of(state);
    char err[ET_ERR_MAX];
    for (int i = 0; i < ET_LISTENER_QUEUED_MAX + 10; i++) {
        char id[16];
        snprintf(id, sizeof id, "q%03d", i);
        const char *one[] = {id};
        assert_int_equal(et_listener_queued_add(s, "ann", one, 1, T0 + i, err), ET_OK);
    }
    et_listener_queued_track *q;
    size_t n;
    assert_int_equal(et_listener_queued(s, "ann", &q, &n, err), ET_OK);
    assert_int_equal(n, ET_LISTENER_QUEUED_MAX);
    assert_string_equal(q[0].track, "q010");
    assert_true(fabs(q[n - 1].time - (T0 + ET_LISTENER_QUEUED_MAX + 9)) < 1e-3);
    free(q);
}

/* Keeps the last id seen (ids come in order). */
static int keep_last_id(void *user, const char *id, const char *json, size_t len)
{
    (void)json, (void)len;
    snprintf(user, 128, "%s", id);
    return 0;
}

/* The history's summary (profiles/NAME/history) is a cache of the ids: when
 * it is missing, not a summary, or names an entry deleted by hand, the
 * history still keeps its retention exactly and finds its newest mood. */
static void history_summary_is_rebuilt_when_missing_or_wrong(void **state)
{
    et_store *s = store_of(state);
    char err[ET_ERR_MAX];
    et_listener_profile p;
    assert_int_equal(et_listener_profile_default("ann", &p, err), ET_OK);
    p.history_max = 4;
    const char *names[] = {"happy", "calm", "sad", "angry", "tense", "disgusted"};
    size_t pruned;
    for (int i = 0; i < 4; i++) {
        et_listener_mood m = mood_at(T0 + 10.0 * i, names[i]);
        assert_int_equal(et_listener_mood_add(s, &p, &m, &pruned, err), ET_OK);
        assert_int_equal(pruned, 0);
    }
    /* gone: rebuilt from the four ids, so the fifth still pushes one out */
    assert_int_equal(et_store_del(s, "profiles", "ann/history", err), ET_OK);
    et_listener_mood m = mood_at(T0 + 40, names[4]);
    assert_int_equal(et_listener_mood_add(s, &p, &m, &pruned, err), ET_OK);
    assert_int_equal(pruned, 1);
    /* not a summary: the same */
    put(s, "profiles", "ann/history", "{\"count\":\"many\"}");
    m = mood_at(T0 + 50, names[5]);
    assert_int_equal(et_listener_mood_add(s, &p, &m, &pruned, err), ET_OK);
    assert_int_equal(pruned, 1);
    et_listener_mood *all;
    size_t n;
    assert_int_equal(et_listener_moods(s, "ann", &all, &n, err), ET_OK);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(all[i].mood, names[i + 2]);
    free(all);
    /* the newest entry deleted by hand: the one before it is the newest */
    char newest[128] = "";
    assert_int_equal(et_store_iterate(s, "history", "ann/", 0, keep_last_id, newest, err), ET_OK);
    assert_int_equal(et_store_del(s, "history", newest, err), ET_OK);
    et_listener_mood latest;
    bool found = false;
    assert_int_equal(et_listener_mood_latest(s, "ann", &latest, &found, err), ET_OK);
    assert_true(found);
    assert_string_equal(latest.mood, "tense");
    /* the profile list does not take the summary for a listener */
    char **listeners;
    assert_int_equal(et_listener_names(s, &listeners, &n, err), ET_OK);
    for (size_t i = 0; i < n; i++)
        assert_string_not_equal(listeners[i], "ann/history");
    et_store_free_names(listeners, n);
}

/* Redis's own count of the commands it has processed (INFO stats). */
static long long redis_commands(int port)
{
    redisContext *c = redisConnect("127.0.0.1", port);
    assert_true(c && !c->err);
    redisReply *r = redisCommand(c, "INFO stats");
    assert_true(r && r->type == REDIS_REPLY_STRING);
    const char *at = strstr(r->str, "total_commands_processed:");
    assert_non_null(at);
    long long n = atoll(at + strlen("total_commands_processed:"));
    freeReplyObject(r);
    redisFree(c);
    return n;
}

/* Commands Redis processes for one mood appended at time t, and for reading
 * the newest mood. */
static void cost_of_one_append(et_store *s, int port, const et_listener_profile *p, double t,
                               long long *append, long long *latest)
{
    char err[ET_ERR_MAX];
    et_listener_mood m = mood_at(t, "calm"), got;
    bool found;
    long long before = redis_commands(port);
    assert_int_equal(et_listener_mood_add(s, p, &m, NULL, err), ET_OK);
    long long mid = redis_commands(port);
    assert_int_equal(et_listener_mood_latest(s, p->name, &got, &found, err), ET_OK);
    long long after = redis_commands(port);
    assert_true(found && fabs(got.time - t) < 1e-3);
    *append = mid - before;
    *latest = after - mid;
}

/* Issue 11 (Redis only: it counts commands): a camera's moods on Redis cost a constant number of store
 * operations each, not a walk over the history. Counted by Redis itself,
 * at a history of 10 entries and of 1,210 (the old code walked every id:
 * 3 more page reads at 1,210). */
static void history_appends_cost_the_same_at_any_length(void **state)
{
    ts_store_fixture *f = *state;
    char err[ET_ERR_MAX];
    et_listener_profile p;
    assert_int_equal(et_listener_profile_default("ann", &p, err), ET_OK);
    for (int i = 0; i < 10; i++) {
        et_listener_mood m = mood_at(T0 + i, "sad");
        assert_int_equal(et_listener_mood_add(f->s, &p, &m, NULL, err), ET_OK);
    }
    long long short_append, short_latest, long_append, long_latest;
    cost_of_one_append(f->s, f->b->redis.port, &p, T0 + 10, &short_append, &short_latest);
    for (int i = 11; i < 1210; i++) {
        et_listener_mood m = mood_at(T0 + i, "sad");
        assert_int_equal(et_listener_mood_add(f->s, &p, &m, NULL, err), ET_OK);
    }
    cost_of_one_append(f->s, f->b->redis.port, &p, T0 + 1210, &long_append, &long_latest);
    print_message("  commands per append: %lld at 11 entries, %lld at 1,211; per newest mood: "
                  "%lld and %lld\n", short_append, long_append, short_latest, long_latest);
    assert_int_equal(long_append, short_append);
    assert_int_equal(long_latest, short_latest);
}

#define T(f) cmocka_unit_test_setup_teardown(f, ts_store_open_fresh, ts_store_close)

/* The same tests on both backends; on Redis one more, which counts its
 * commands. */
#define LISTENER_TESTS \
    cmocka_unit_test(listener_names_are_checked), \
    T(profile_defaults_then_saved_settings_and_other_fields_kept), \
    T(history_keeps_the_newest_within_the_count_limit), \
    T(history_forgets_moods_older_than_the_retention), \
    T(history_summary_is_rebuilt_when_missing_or_wrong), \
    T(queued_tracks_wait_their_window_across_servers), \
    T(the_queue_keeps_its_newest_entries), \
    T(bad_moods_are_refused_and_change_nothing), \
    T(listeners_keep_their_own_history_feedback_and_profile), \
    T(feedback_is_checked_and_its_position_becomes_a_fraction), \
    T(session_takes_present_tracks_and_replays_feedback), \
    T(stored_feedback_steers_later_sessions),

int main(void)
{
    const struct CMUnitTest on_lmdb[] = {LISTENER_TESTS};
    const struct CMUnitTest on_redis[] = {
        LISTENER_TESTS
        T(history_appends_cost_the_same_at_any_length),
    };
    int failed = cmocka_run_group_tests_name("listener on lmdb", on_lmdb, ts_backend_lmdb_setup,
                                             ts_backend_teardown);
    failed += cmocka_run_group_tests_name("listener on redis", on_redis, ts_backend_redis_setup,
                                          ts_backend_teardown);
    return failed;
}
