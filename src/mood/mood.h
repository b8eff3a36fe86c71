/*
 * mood: the listener's mood from their face, as a point on the
 * valence/arousal plane (Russell's circumplex) and a named mood; and the
 * table of named moods itself, which the library, recommend and listener
 * use to place a mood word (moods.c needs nothing but libc).
 *
 * Two layers:
 *  - et_mood_from_expressions: one face's seven expression probabilities
 *    become one point and a confidence (pure function, thread-safe).
 *  - et_mood_tracker: a stream of timestamped frames (any number of faces
 *    each) becomes a steady mood -- smoothed, with a confidence that falls
 *    when the face is missing, and a named mood with hysteresis.
 *
 * The points: each expression sits on the point of its named mood in the
 * named-mood table below (moods.c, et_mood_named_point), so the face and the
 * music are placed by ONE table. The plane is that of J. A. Russell's
 * circumplex ("A circumplex model of affect", JPSP 39(6), 1980); the points
 * are NOT his coordinates but emotune's placements after him, each word in
 * the quadrant where his figure puts it or its nearest word (moods.c says
 * how each was chosen):
 *
 *     expression   named mood   (valence, arousal) as in moods.c
 *     neutral      calm         ( 0.3, -0.6)
 *     happy        happy        ( 0.8,  0.5)
 *     sad          sad          (-0.7, -0.4)
 *     angry        angry        (-0.6,  0.7)
 *     fearful      tense        (-0.5,  0.6)
 *     disgusted    disgusted    (-0.7,  0.2)
 *     surprised    surprised    ( 0.3,  0.8)
 *
 * "neutral" is a mood (calm); no face at all is "unknown", never calm.
 */
#ifndef ET_MOOD_H
#define ET_MOOD_H

#include <stdbool.h>
#include <stddef.h>

#include "core/core.h"
#include "vision/vision.h"

/* ---- named moods: words as points on the valence/arousal plane (moods.c) ---- */

/* One row of the named-mood table. */
typedef struct et_mood_named {
    const char *name;        /* the table's word, lower case, e.g. "calm" */
    double valence, arousal; /* in [-1, 1] */
} et_mood_named;

/* The named moods emotune uses, each with its (valence, arousal) point: the
 * seven a face shows (table above: happy, calm, sad, angry, tense,
 * disgusted, surprised) and energetic (0.4, 0.8) and excited (0.6, 0.7),
 * words for music near happy with more arousal. Aliases: neutral (= calm),
 * relaxed (= calm), fearful (= tense). Any case; blanks around are ignored.
 * valence and arousal may be NULL. Returns false (and writes nothing) for
 * an unknown name or NULL. Thread-safe (a constant table), as are the three
 * below. */
bool et_mood_named_point(const char *mood, double *valence, double *arousal);

/* The row of the mood or alias in name[0..len) (any case, blanks around
 * ignored, need not be NUL-terminated), or NULL when unknown (or name NULL).
 * An alias gives its target's row ("neutral" -> calm); *word (may be NULL)
 * gets the table's spelling of the word given ("Neutral" -> "neutral").
 * The row and the word are static. */
const et_mood_named *et_mood_named_find(const char *name, size_t len, const char **word);

/* The table's own word for a mood or alias ("Neutral " -> "calm"), a static
 * string; NULL when unknown. */
const char *et_mood_named_canonical(const char *mood);

/* The whole table, in its order (the seven a face shows first, then
 * energetic and excited), its length in *n; static. */
const et_mood_named *et_mood_named_table(size_t *n);

/* The nearest of the seven moods a face shows (happy, calm, sad, angry,
 * tense, disgusted, surprised; never energetic or excited) to a point,
 * Euclidean; a static string, never NULL. */
const char *et_mood_nearest_named(double valence, double arousal);

/* ---- a face's mood and the tracker ---- */

/* Probabilities must sum to 1 within this (the network's softmax in float). */
#define ET_MOOD_PROB_TOLERANCE 1e-3
/* Below this smoothed confidence the named mood is "unknown"; once unknown,
 * a name comes back only at ET_MOOD_RESUME_CONFIDENCE (a small band, so the
 * name does not blink on and off around one threshold). */
#define ET_MOOD_MIN_CONFIDENCE 0.2
#define ET_MOOD_RESUME_CONFIDENCE 0.25
/* A face continues the tracked one when their boxes overlap this much (IoU). */
#define ET_MOOD_FOLLOW_IOU 0.3
/* A frame older than the newest one seen by more than this is dropped. */
#define ET_MOOD_LATE_MAX_S 1.0
/* A frame newer than the newest one seen by more than this is a clock error. */
#define ET_MOOD_MAX_JUMP_S 86400.0
/* Face frames remembered for the smiling share; beyond, the oldest go early
 * (at 30 frames/s, 136 s: more than any sensible window). */
#define ET_MOOD_SMILE_FRAMES 4096

typedef struct et_mood_point {
    double valence, arousal; /* in [-1, 1] */
    double confidence;       /* in [0, 1] */
} et_mood_point;

/*
 * One face's expressions as a point: the probability-weighted mean of the
 * seven expressions' points (table above). confidence = 1 - H(p) / ln 7,
 * H the Shannon entropy (0 ln 0 = 0): 1 for one certain expression, 0 for
 * the uniform distribution -- a face the network cannot read adds little.
 * Errors: ET_E_INVALID (probs NULL, a value not finite or outside [0, 1], or
 * a sum off 1 by more than ET_MOOD_PROB_TOLERANCE; err names the value), and
 * then *out is not written. Thread-safe.
 */
et_status et_mood_from_expressions(const float probs[ET_EXPR_COUNT], et_mood_point *out,
                                   char *err);

/* The named mood of an expression's point: "calm" for neutral, "tense" for
 * fearful, else the expression's own name; NULL when out of range. */
const char *et_mood_expression_mood(et_expression e);

typedef struct et_mood_opts {
    double tau_s;     /* smoothing time constant, > 0 (default 3) */
    double hold_s;    /* a new name must be the nearest this long, >= 0 (default 2) */
    double min_score; /* faces with a detector score below are ignored, [0, 1] (0.5) */
    double window_s;  /* smiling share over the last window_s seconds, > 0 (10) */
} et_mood_opts;

et_mood_opts et_mood_default_opts(void);

typedef struct et_mood_tracker et_mood_tracker;

/* A new tracker (opts NULL: defaults). ET_E_INVALID with the option named
 * when one is out of range (or out NULL); ET_E_NOMEM. One tracker per
 * listener; a tracker is not thread-safe, distinct trackers are independent. */
et_status et_mood_tracker_new(const et_mood_opts *opts, et_mood_tracker **out, char *err);
void et_mood_tracker_free(et_mood_tracker *t);

/* Forgets every frame, as if new (keeps the options). */
void et_mood_tracker_reset(et_mood_tracker *t);

/*
 * One frame at time_s (seconds on any clock, >= 0): the n faces the camera
 * saw (n may be 0: no face). Frames may come at any rate.
 *
 * Which face: faces with has_score and score < min_score are ignored (a
 * face without a score, e.g. a face crop, counts). Of the rest, the one
 * overlapping the face followed so far (IoU > ET_MOOD_FOLLOW_IOU, the most
 * overlapping) is the listener, even when a bigger face appears; when none
 * overlaps (the listener left), the largest box is followed from now on.
 *
 * Smoothing: with dt the time since the newest frame, alpha = 1 -
 * exp(-dt / tau_s); point += alpha (face point - point) and confidence +=
 * alpha (evidence - confidence), where evidence = the face's confidence
 * times its detector score (1 without score). The first face sets the point
 * outright; the confidence starts at 0 and builds up. A frame with no usable
 * face leaves the point and decays the confidence (evidence 0).
 *
 * Late frames (time_s < the newest time): one late by at most
 * ET_MOOD_LATE_MAX_S is folded in with weight (1 - exp(-d / tau_s)) *
 * exp(-age / tau_s), d the newest in-order frame interval, age its lateness:
 * the weight it would have had in order, decayed by the time since. It does
 * not move the clock (last_time, the hysteresis timer) nor the followed box,
 * and a late frame without a usable face is ignored. Older ones are dropped
 * (counted in late_dropped). Neither is an error.
 *
 * Errors: ET_E_INVALID when t is NULL, faces NULL with n > 0, time_s NaN,
 * infinite, negative or more than ET_MOOD_MAX_JUMP_S after the newest frame,
 * or any face has a non-finite or negative-size box, a score outside [0, 1],
 * or bad probabilities (et_mood_from_expressions); err names the face and
 * field. Then nothing changes.
 */
et_status et_mood_tracker_push(et_mood_tracker *t, double time_s, const et_face *faces,
                               size_t n, char *err);

typedef struct et_mood_state {
    double valence, arousal; /* smoothed point; 0, 0 before any face */
    double confidence;       /* smoothed, in [0, 1] */
    /* "unknown" (no face yet, or confidence below ET_MOOD_MIN_CONFIDENCE) or
     * the named mood nearest the point (happy, calm, sad, angry, tense,
     * disgusted, surprised), with hysteresis: the name changes only after
     * another name has been the nearest, frame after frame, for hold_s.
     * A static string. */
    const char *name;
    double smiling_share;    /* smiling face frames / face frames in the last
                              * window_s before last_time; 0 when none */
    bool has_face;           /* the newest in-order frame had a usable face */
    double last_time;        /* newest frame time (0 before any) */
    size_t frames;           /* frames taken into account */
    size_t late_dropped;     /* frames dropped as too late */
} et_mood_state;

/* The mood as of the newest frame (a camera that stops should keep pushing
 * empty frames, so the confidence falls). ET_E_INVALID if t or out is NULL. */
et_status et_mood_tracker_state(const et_mood_tracker *t, et_mood_state *out);

#endif
