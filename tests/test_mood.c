/* The mood module's promises: a face's expressions become a point on the
 * valence/arousal plane, on the named-mood table's points, with an entropy
 * confidence; the table itself names and places moods; a stream of
 * frames becomes a smoothed mood whose name does not flicker, whose
 * confidence falls without a face, which follows the listener's face, and
 * which refuses bad input without changing. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mood/mood.h"
#include "support.h"

#define FPS 10.0

/* One face, certain of one expression, score 1. */
static et_face face_of(et_expression e, double x, double y, double w, double h)
{
    et_face f;
    memset(&f, 0, sizeof f);
    f.box = (et_box){x, y, w, h};
    f.score = 1.0;
    f.has_score = true;
    f.expressions[e] = 1.0f;
    f.top = e;
    f.smiling = e == ET_EXPR_HAPPY;
    return f;
}

static et_face listener(et_expression e) { return face_of(e, 100, 100, 120, 120); }

static void point_of(const char *mood, double *v, double *a)
{
    assert_true(et_mood_named_point(mood, v, a));
}

/* ---- the named-mood table ---- */

static void named_point_gives_the_table_point_for_names_and_aliases(void **state)
{
    (void)state;
    static const struct { const char *name; double v, a; } want[] = {
        {"happy", 0.8, 0.5},      {"calm", 0.3, -0.6},      {"sad", -0.7, -0.4},
        {"angry", -0.6, 0.7},     {"tense", -0.5, 0.6},     {"disgusted", -0.7, 0.2},
        {"surprised", 0.3, 0.8},  {"energetic", 0.4, 0.8},  {"excited", 0.6, 0.7},
        {"neutral", 0.3, -0.6},   {"relaxed", 0.3, -0.6},   {"fearful", -0.5, 0.6},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        double v = 9, a = 9;
        assert_true(et_mood_named_point(want[i].name, &v, &a));
        assert_true(v == want[i].v && a == want[i].a);
    }
}

static void named_point_ignores_case_and_blanks_around(void **state)
{
    (void)state;
    double v = 9, a = 9;
    assert_true(et_mood_named_point("  HaPpY \t", &v, &a));
    assert_true(v == 0.8 && a == 0.5);
    assert_true(et_mood_named_point("Neutral\n", &v, &a));
    assert_true(v == 0.3 && a == -0.6);
    assert_true(et_mood_named_point("FEARFUL", NULL, NULL));
}

static void named_point_refuses_unknown_names_and_writes_nothing(void **state)
{
    (void)state;
    const char *bad[] = {"", "   ", "happyy", "hap py", "joy", "calm!", "sa"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        double v = 9, a = 9;
        assert_false(et_mood_named_point(bad[i], &v, &a));
        assert_true(v == 9 && a == 9);
    }
    assert_false(et_mood_named_point(NULL, NULL, NULL));
}

static void named_find_reads_a_word_that_is_not_nul_terminated(void **state)
{
    (void)state;
    const char *word = NULL;
    const et_mood_named *m = et_mood_named_find(" Neutral,sad", 8, &word);
    assert_non_null(m);
    assert_string_equal(m->name, "calm");
    assert_string_equal(word, "neutral");
    assert_null(et_mood_named_find("sadness", 4, NULL)); /* "sadn" */
    assert_null(et_mood_named_find(NULL, 3, &word));
}

static void named_canonical_gives_the_table_word_for_aliases(void **state)
{
    (void)state;
    assert_string_equal(et_mood_named_canonical(" Neutral "), "calm");
    assert_string_equal(et_mood_named_canonical("RELAXED"), "calm");
    assert_string_equal(et_mood_named_canonical("fearful"), "tense");
    assert_string_equal(et_mood_named_canonical("Excited"), "excited");
    assert_null(et_mood_named_canonical("joy"));
    assert_null(et_mood_named_canonical(NULL));
}

static void nearest_named_is_one_of_the_seven_face_moods(void **state)
{
    (void)state;
    /* On each face mood's own point, that mood. */
    for (int e = 0; e < ET_EXPR_COUNT; e++) {
        const char *name = et_mood_expression_mood((et_expression)e);
        double v, a;
        point_of(name, &v, &a);
        assert_string_equal(et_mood_nearest_named(v, a), name);
    }
    /* On energetic's and excited's own points: a face mood, not them
     * (energetic (0.4, 0.8) is nearest surprised (0.3, 0.8); excited
     * (0.6, 0.7) nearest happy (0.8, 0.5), 0.283 against surprised's 0.316). */
    assert_string_equal(et_mood_nearest_named(0.4, 0.8), "surprised");
    assert_string_equal(et_mood_nearest_named(0.6, 0.7), "happy");
}

static et_mood_tracker *tracker(double tau, double hold)
{
    et_mood_opts o = et_mood_default_opts();
    o.tau_s = tau;
    o.hold_s = hold;
    et_mood_tracker *t = NULL;
    char err[ET_ERR_MAX];
    assert_int_equal(et_mood_tracker_new(&o, &t, err), ET_OK);
    return t;
}

static et_mood_state state_of(const et_mood_tracker *t)
{
    et_mood_state s;
    assert_int_equal(et_mood_tracker_state(t, &s), ET_OK);
    return s;
}

static void push1(et_mood_tracker *t, double time, et_expression e)
{
    char err[ET_ERR_MAX];
    et_face f = listener(e);
    assert_int_equal(et_mood_tracker_push(t, time, &f, 1, err), ET_OK);
}

/* Frames i0 .. i1-1 at FPS, all showing e. */
static void push_run(et_mood_tracker *t, int i0, int i1, et_expression e)
{
    for (int i = i0; i < i1; i++)
        push1(t, i / FPS, e);
}

static void assert_same_state(et_mood_state x, et_mood_state y)
{
    assert_true(x.valence == y.valence && x.arousal == y.arousal);
    assert_true(x.confidence == y.confidence);
    assert_string_equal(x.name, y.name);
    assert_true(x.smiling_share == y.smiling_share);
    assert_true(x.has_face == y.has_face && x.last_time == y.last_time);
    assert_true(x.frames == y.frames && x.late_dropped == y.late_dropped);
}

/* ---- one face ---- */

static void a_certain_face_sits_on_its_moods_table_point(void **state)
{
    (void)state;
    for (int e = 0; e < ET_EXPR_COUNT; e++) {
        et_face f = listener((et_expression)e);
        et_mood_point p;
        assert_int_equal(et_mood_from_expressions(f.expressions, &p, NULL), ET_OK);
        double v, a;
        point_of(et_mood_expression_mood((et_expression)e), &v, &a);
        assert_float_equal(p.valence, v, 1e-12);
        assert_float_equal(p.arousal, a, 1e-12);
        assert_float_equal(p.confidence, 1.0, 1e-12);
    }
    /* the face model's names are the library's aliases: the same points */
    double v1, a1, v2, a2;
    point_of("neutral", &v1, &a1);
    point_of(et_mood_expression_mood(ET_EXPR_NEUTRAL), &v2, &a2);
    assert_true(v1 == v2 && a1 == a2);
    assert_string_equal(et_mood_expression_mood(ET_EXPR_FEARFUL), "tense");
    assert_null(et_mood_expression_mood(ET_EXPR_COUNT));

    /* half happy (0.8, 0.5), half sad (-0.7, -0.4): mean (0.05, 0.05);
     * entropy ln 2, confidence 1 - ln 2 / ln 7 = 0.643789... */
    float probs[ET_EXPR_COUNT] = {0};
    probs[ET_EXPR_HAPPY] = probs[ET_EXPR_SAD] = 0.5f;
    et_mood_point p;
    assert_int_equal(et_mood_from_expressions(probs, &p, NULL), ET_OK);
    assert_float_equal(p.valence, 0.05, 1e-9);
    assert_float_equal(p.arousal, 0.05, 1e-9);
    assert_float_equal(p.confidence, 1 - log(2) / log(7), 1e-9);
}

static void a_uniform_face_has_no_confidence(void **state)
{
    (void)state;
    float probs[ET_EXPR_COUNT];
    for (int i = 0; i < ET_EXPR_COUNT; i++)
        probs[i] = 1.0f / ET_EXPR_COUNT;
    et_mood_point p;
    assert_int_equal(et_mood_from_expressions(probs, &p, NULL), ET_OK);
    assert_true(p.confidence < 1e-6);
    /* mean of the table: valences sum 0.3+0.8-0.7-0.6-0.5-0.7+0.3 = -1.1,
     * arousals -0.6+0.5-0.4+0.7+0.6+0.2+0.8 = 1.8 */
    assert_float_equal(p.valence, -1.1 / 7, 1e-6);
    assert_float_equal(p.arousal, 1.8 / 7, 1e-6);
}

static void bad_probabilities_are_refused_and_out_is_untouched(void **state)
{
    (void)state;
    static const float bad[][ET_EXPR_COUNT] = {
        {NAN, 1, 0, 0, 0, 0, 0},
        {-0.1f, 1.1f, 0, 0, 0, 0, 0},
        {1.5f, 0, 0, 0, 0, 0, 0},
        {0.5f, 0.4f, 0, 0, 0, 0, 0},       /* sums to 0.9 */
        {0.5f, 0.5f, 0.002f, 0, 0, 0, 0},  /* 1.002: past the 1e-3 tolerance */
        {INFINITY, 0, 0, 0, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        et_mood_point p = {7, 8, 9};
        char err[ET_ERR_MAX] = "";
        assert_int_equal(et_mood_from_expressions(bad[i], &p, err), ET_E_INVALID);
        assert_true(p.valence == 7 && p.arousal == 8 && p.confidence == 9);
        assert_true(strlen(err) > 0);
    }
    char err[ET_ERR_MAX] = "";
    et_mood_point p;
    assert_int_equal(et_mood_from_expressions(NULL, &p, err), ET_E_INVALID);
    /* within the tolerance is fine: 1.0005 */
    float ok[ET_EXPR_COUNT] = {0.5f, 0.5005f, 0, 0, 0, 0, 0};
    assert_int_equal(et_mood_from_expressions(ok, &p, err), ET_OK);
}

/* ---- the tracker ---- */

static void options_out_of_range_are_refused(void **state)
{
    (void)state;
    char err[ET_ERR_MAX];
    et_mood_tracker *t = NULL;
    et_mood_opts o = et_mood_default_opts();
    assert_float_equal(o.tau_s, 3.0, 0);
    assert_float_equal(o.hold_s, 2.0, 0);
    et_mood_opts bad[6];
    for (int i = 0; i < 6; i++)
        bad[i] = o;
    bad[0].tau_s = 0;
    bad[1].tau_s = NAN;
    bad[2].hold_s = -1;
    bad[3].min_score = 1.5;
    bad[4].window_s = 0;
    bad[5].window_s = INFINITY;
    for (int i = 0; i < 6; i++) {
        err[0] = 0;
        assert_int_equal(et_mood_tracker_new(&bad[i], &t, err), ET_E_INVALID);
        assert_null(t);
        assert_true(strlen(err) > 0);
    }
    assert_int_equal(et_mood_tracker_new(NULL, &t, err), ET_OK);
    et_mood_state s = state_of(t);
    assert_string_equal(s.name, "unknown"); /* before any frame */
    assert_int_equal(s.frames, 0);
    et_mood_tracker_free(t);
}

static void one_surprised_frame_in_a_calm_minute_stays_calm(void **state)
{
    (void)state;
    et_mood_tracker *t = tracker(3.0, 2.0);
    /* The surprised frame moves the point 1 - exp(-0.1/3) = 3.3% of the way
     * from calm (0.3, -0.6) to surprised (0.3, 0.8): arousal -0.554 at most. */
    double max_arousal = -1;
    for (int i = 0; i < 600; i++) {
        push1(t, i / FPS, i == 300 ? ET_EXPR_SURPRISED : ET_EXPR_NEUTRAL);
        et_mood_state s = state_of(t);
        if (i >= 10) /* confidence 1 - exp(-t/3) >= 0.25 from t = 0.86 s */
            assert_string_equal(s.name, "calm");
        if (s.arousal > max_arousal)
            max_arousal = s.arousal;
    }
    assert_float_equal(max_arousal, -0.6 + 1.4 * -expm1(-0.1 / 3), 1e-9);
    et_mood_tracker_free(t);
}

static void a_burst_shorter_than_hold_does_not_change_the_name(void **state)
{
    (void)state;
    /* tau 0.1 s: the point reaches surprised within a frame or two, so only
     * the hysteresis can keep the name. */
    et_mood_tracker *t = tracker(0.1, 2.0);
    push_run(t, 0, 100, ET_EXPR_NEUTRAL);
    assert_string_equal(state_of(t).name, "calm");
    for (int i = 100; i < 115; i++) { /* 1.5 s of surprise */
        push1(t, i / FPS, ET_EXPR_SURPRISED);
        /* from the first frame the point is past the boundary: arousal
         * -0.6 + 1.4 (1 - e^-1) = 0.285, 0.515 from surprised, 0.544 from
         * happy, 0.885 from calm */
        assert_true(state_of(t).arousal > 0.28);
        assert_string_equal(state_of(t).name, "calm");
    }
    for (int i = 115; i < 200; i++) {
        push1(t, i / FPS, ET_EXPR_NEUTRAL);
        assert_string_equal(state_of(t).name, "calm");
    }
    /* held for 2 s it changes: first nearest at 20.0 s, adopted at 22.0 s */
    double changed = -1;
    for (int i = 200; i < 300 && changed < 0; i++) {
        push1(t, i / FPS, ET_EXPR_SURPRISED);
        if (strcmp(state_of(t).name, "surprised") == 0)
            changed = i / FPS;
    }
    assert_float_equal(changed, 22.0, 0.05);
    et_mood_tracker_free(t);
}

static void a_sustained_change_renames_within_a_few_seconds(void **state)
{
    (void)state;
    et_mood_tracker *t = tracker(3.0, 2.0);
    push_run(t, 0, 600, ET_EXPR_NEUTRAL);
    assert_string_equal(state_of(t).name, "calm");
    /* From calm (0.3, -0.6) towards happy (0.8, 0.5) the point is
     * calm + f (happy - calm), f = 1 - exp(-s/3), s counted from the last
     * calm frame (59.9 s). Happy becomes the nearest at s = 2.1 (f = 0.503,
     * point (0.552, -0.046); at 2.0 still calm), i.e. at 62.0 s, and the
     * name follows hold = 2 s later, at 64.0 s: 4.0 s after the first happy
     * frame, inside [hold, hold + 3 tau] = [2, 11]. */
    double changed = -1;
    for (int i = 600; i < 800 && changed < 0; i++) {
        push1(t, i / FPS, ET_EXPR_HAPPY);
        if (strcmp(state_of(t).name, "happy") == 0)
            changed = i / FPS - 60.0;
        else
            assert_string_equal(state_of(t).name, "calm");
    }
    assert_true(changed >= 2.0 && changed <= 11.0);
    assert_float_equal(changed, 4.0, 0.05);
    et_mood_tracker_free(t);
}

static void smoothing_covers_one_minus_exp_of_the_way_at_irregular_times(void **state)
{
    (void)state;
    et_mood_tracker *t = tracker(3.0, 2.0);
    push1(t, 5.0, ET_EXPR_NEUTRAL); /* first face: the point is calm outright */
    double cv, ca, hv, ha;
    point_of("calm", &cv, &ca);
    point_of("happy", &hv, &ha);
    assert_float_equal(state_of(t).valence, cv, 1e-12);
    /* after the step, the share of the way left is the product of
     * exp(-dt_i / tau) = exp(-(t - 5) / tau), whatever the spacing */
    static const double times[] = {5.013, 5.4, 5.41, 6.77, 6.77, 9.0, 9.05, 14.2};
    for (size_t i = 0; i < sizeof times / sizeof *times; i++) {
        push1(t, times[i], ET_EXPR_HAPPY);
        double f = 1 - exp(-(times[i] - 5.0) / 3.0);
        et_mood_state s = state_of(t);
        assert_float_equal(s.valence, cv + f * (hv - cv), 1e-6);
        assert_float_equal(s.arousal, ca + f * (ha - ca), 1e-6);
        /* confidence starts at 0 and approaches the evidence (1) alike */
        assert_float_equal(s.confidence, f, 1e-6);
    }
    et_mood_tracker_free(t);
}

static void frames_without_a_face_drop_confidence_to_unknown(void **state)
{
    (void)state;
    et_mood_tracker *t = tracker(3.0, 2.0);
    push_run(t, 0, 601, ET_EXPR_HAPPY);
    et_mood_state s0 = state_of(t);
    assert_string_equal(s0.name, "happy");
    assert_true(s0.has_face);
    assert_float_equal(s0.confidence, 1 - exp(-60.0 / 3), 1e-9);
    /* no face from 60.1 s: confidence c0 exp(-s / 3); below 0.2 after
     * s = 3 ln(c0 / 0.2) = 4.83 s. The point does not move. */
    char err[ET_ERR_MAX];
    for (int i = 601; i < 700; i++) {
        assert_int_equal(et_mood_tracker_push(t, i / FPS, NULL, 0, err), ET_OK);
        et_mood_state s = state_of(t);
        double since = i / FPS - 60.0;
        assert_float_equal(s.confidence, s0.confidence * exp(-since / 3), 1e-9);
        assert_true(s.valence == s0.valence && s.arousal == s0.arousal);
        assert_false(s.has_face);
        assert_string_equal(s.name, since < 4.8 ? "happy" : since > 4.9 ? "unknown" : s.name);
        assert_string_not_equal(s.name, "calm"); /* no face is never neutral */
    }
    /* faces under min_score (0.5) are no face either */
    et_face weak = listener(ET_EXPR_HAPPY);
    weak.score = 0.3;
    double c = state_of(t).confidence;
    assert_int_equal(et_mood_tracker_push(t, 70.0, &weak, 1, err), ET_OK);
    assert_true(state_of(t).confidence < c);
    assert_false(state_of(t).has_face);
    et_mood_tracker_free(t);
}

static void a_lower_detector_score_lowers_confidence(void **state)
{
    (void)state;
    et_mood_tracker *t = tracker(3.0, 2.0);
    char err[ET_ERR_MAX];
    et_face f = listener(ET_EXPR_SAD);
    f.score = 0.6; /* evidence = 1 (certain expression) x 0.6 */
    for (int i = 0; i < 600; i++)
        assert_int_equal(et_mood_tracker_push(t, i / FPS, &f, 1, err), ET_OK);
    /* 0.6 (1 - exp(-59.9 / 3)) */
    assert_float_equal(state_of(t).confidence, 0.6, 1e-6);
    assert_string_equal(state_of(t).name, "sad");
    et_mood_tracker_free(t);
}

static void the_listener_is_followed_while_present(void **state)
{
    (void)state;
    et_mood_tracker *t = tracker(0.5, 0.5);
    char err[ET_ERR_MAX];
    double hv, ha, sv, sa;
    point_of("happy", &hv, &ha);
    point_of("sad", &sv, &sa);
    /* the listener, smiling, drifting right 5 px a frame (IoU with the
     * previous box (120-5)/(120+5) = 0.92) */
    int i = 0;
    for (; i < 50; i++) {
        et_face f = face_of(ET_EXPR_HAPPY, 100 + 5 * i, 100, 120, 120);
        assert_int_equal(et_mood_tracker_push(t, i / FPS, &f, 1, err), ET_OK);
    }
    /* a bigger, sad face comes in far away (IoU 0), listed first: the
     * listener is still followed */
    for (; i < 100; i++) {
        et_face fs[2] = {face_of(ET_EXPR_SAD, 900, 50, 300, 300),
                         face_of(ET_EXPR_HAPPY, 100 + 5 * i, 100, 120, 120)};
        assert_int_equal(et_mood_tracker_push(t, i / FPS, fs, 2, err), ET_OK);
        assert_float_equal(state_of(t).valence, hv, 1e-12);
    }
    assert_string_equal(state_of(t).name, "happy");
    /* the listener leaves: the largest face (the sad one) is followed */
    for (; i < 150; i++) {
        et_face f = face_of(ET_EXPR_SAD, 900, 50, 300, 300);
        assert_int_equal(et_mood_tracker_push(t, i / FPS, &f, 1, err), ET_OK);
    }
    assert_float_equal(state_of(t).valence, sv + (hv - sv) * exp(-5.0 / 0.5), 1e-6);
    assert_string_equal(state_of(t).name, "sad");
    /* the first face comes back: the one followed now stays followed */
    et_face fs[2] = {face_of(ET_EXPR_HAPPY, 100, 100, 120, 120),
                     face_of(ET_EXPR_SAD, 905, 50, 300, 300)};
    double v = state_of(t).valence;
    assert_int_equal(et_mood_tracker_push(t, i / FPS, fs, 2, err), ET_OK);
    assert_true(state_of(t).valence <= v);
    et_mood_tracker_free(t);
}

static void late_frames_count_by_their_age_and_very_late_ones_are_dropped(void **state)
{
    (void)state;
    et_mood_tracker *t = tracker(3.0, 2.0);
    push_run(t, 0, 101, ET_EXPR_NEUTRAL); /* up to 10.0 s, 0.1 s apart */
    et_mood_state s0 = state_of(t);
    double hv, ha;
    point_of("happy", &hv, &ha);
    /* happy frame from 9.5 s: the weight it had in order (1 - exp(-0.1/3))
     * decayed over its 0.5 s of lateness: x exp(-0.5/3) = 0.0277 */
    push1(t, 9.5, ET_EXPR_HAPPY);
    double w = -expm1(-0.1 / 3) * exp(-0.5 / 3);
    et_mood_state s1 = state_of(t);
    assert_float_equal(s1.valence, s0.valence + w * (hv - s0.valence), 1e-9);
    assert_float_equal(s1.arousal, s0.arousal + w * (ha - s0.arousal), 1e-9);
    assert_true(s1.last_time == 10.0); /* the clock does not go back */
    assert_int_equal(s1.frames, s0.frames + 1);
    assert_string_equal(s1.name, "calm");
    /* 1.5 s late: dropped, nothing else changes */
    push1(t, 8.5, ET_EXPR_HAPPY);
    et_mood_state s2 = state_of(t);
    assert_int_equal(s2.late_dropped, 1);
    s2.late_dropped = 0;
    assert_same_state(s1, s2);
    /* in order again: dt measured from 10.0 s */
    push1(t, 10.3, ET_EXPR_NEUTRAL);
    assert_float_equal(state_of(t).last_time, 10.3, 0);
    et_mood_tracker_free(t);
}

static void bad_input_is_refused_and_changes_nothing(void **state)
{
    (void)state;
    et_mood_tracker *t = tracker(3.0, 2.0);
    push_run(t, 0, 50, ET_EXPR_HAPPY);
    et_mood_state before = state_of(t);
    char err[ET_ERR_MAX];
    et_face good = listener(ET_EXPR_SAD);
    static const double bad_times[] = {NAN, INFINITY, -INFINITY, -1.0, 4.9 + 1e6};
    for (size_t i = 0; i < sizeof bad_times / sizeof *bad_times; i++) {
        err[0] = 0;
        assert_int_equal(et_mood_tracker_push(t, bad_times[i], &good, 1, err), ET_E_INVALID);
        assert_true(strlen(err) > 0);
        assert_same_state(before, state_of(t));
    }
    et_face bad[4] = {good, good, good, good};
    bad[0].score = 2.0;
    bad[1].box.width = NAN;
    bad[2].expressions[ET_EXPR_HAPPY] = 0.5f; /* sums to 1.5 */
    bad[3].box.height = -3;
    for (int i = 0; i < 4; i++) {
        /* a bad face anywhere in the frame refuses the whole frame */
        et_face fs[2] = {good, bad[i]};
        err[0] = 0;
        assert_int_equal(et_mood_tracker_push(t, 5.0, fs, 2, err), ET_E_INVALID);
        assert_non_null(strstr(err, "face 1"));
        assert_same_state(before, state_of(t));
    }
    assert_int_equal(et_mood_tracker_push(t, 5.0, NULL, 1, err), ET_E_INVALID);
    assert_int_equal(et_mood_tracker_push(NULL, 5.0, NULL, 0, err), ET_E_INVALID);
    assert_same_state(before, state_of(t));
    et_mood_tracker_free(t);
}

static void smiling_share_counts_face_frames_of_the_window(void **state)
{
    (void)state;
    et_mood_tracker *t = tracker(3.0, 2.0);
    char err[ET_ERR_MAX];
    push_run(t, 0, 100, ET_EXPR_HAPPY);    /* 0.0 .. 9.9 s smiling */
    assert_float_equal(state_of(t).smiling_share, 1.0, 0);
    push_run(t, 100, 150, ET_EXPR_NEUTRAL); /* 10.0 .. 14.9 s not */
    /* no-face frame at 14.95: window (4.95, 14.95] holds 50 smiling frames
     * (5.0 .. 9.9) and 50 not; the no-face frame does not count */
    assert_int_equal(et_mood_tracker_push(t, 14.95, NULL, 0, err), ET_OK);
    assert_float_equal(state_of(t).smiling_share, 0.5, 1e-12);
    /* 20 s without faces: no face frame in the window, share 0 */
    assert_int_equal(et_mood_tracker_push(t, 35.0, NULL, 0, err), ET_OK);
    assert_float_equal(state_of(t).smiling_share, 0.0, 0);
    et_mood_tracker_reset(t);
    assert_int_equal(state_of(t).frames, 0);
    assert_string_equal(state_of(t).name, "unknown");
    et_mood_tracker_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(named_point_gives_the_table_point_for_names_and_aliases),
        cmocka_unit_test(named_point_ignores_case_and_blanks_around),
        cmocka_unit_test(named_point_refuses_unknown_names_and_writes_nothing),
        cmocka_unit_test(named_find_reads_a_word_that_is_not_nul_terminated),
        cmocka_unit_test(named_canonical_gives_the_table_word_for_aliases),
        cmocka_unit_test(nearest_named_is_one_of_the_seven_face_moods),
        cmocka_unit_test(a_certain_face_sits_on_its_moods_table_point),
        cmocka_unit_test(a_uniform_face_has_no_confidence),
        cmocka_unit_test(bad_probabilities_are_refused_and_out_is_untouched),
        cmocka_unit_test(options_out_of_range_are_refused),
        cmocka_unit_test(one_surprised_frame_in_a_calm_minute_stays_calm),
        cmocka_unit_test(a_burst_shorter_than_hold_does_not_change_the_name),
        cmocka_unit_test(a_sustained_change_renames_within_a_few_seconds),
        cmocka_unit_test(smoothing_covers_one_minus_exp_of_the_way_at_irregular_times),
        cmocka_unit_test(frames_without_a_face_drop_confidence_to_unknown),
        cmocka_unit_test(a_lower_detector_score_lowers_confidence),
        cmocka_unit_test(the_listener_is_followed_while_present),
        cmocka_unit_test(late_frames_count_by_their_age_and_very_late_ones_are_dropped),
        cmocka_unit_test(bad_input_is_refused_and_changes_nothing),
        cmocka_unit_test(smiling_share_counts_face_frames_of_the_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
