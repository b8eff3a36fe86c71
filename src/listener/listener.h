/*
 * listener: what emotune keeps of each listener in the store, and the
 * recommender built from the library and that state.
 *
 * Several listeners share one store; each has a name (1..ET_LISTENER_MAX_NAME
 * characters of [A-Za-z0-9._-], not starting with '.' nor holding "..", so
 * that every id NAME/... is one the store takes) and their own:
 *  - profile  (collection "profiles", id NAME/profile): policy, mood
 *    smoothing and history retention;
 *  - feedback (collection "feedback", id NAME/TIME-RAND): like, skip (with
 *    how far into the song) or complete, with the mood at that moment,
 *    kept within the profile's retention (feedback_days, feedback_max);
 *  - history  (collection "history", id NAME/TIME-RAND): the mood over time,
 *    points and names with timestamps (never pictures), kept within the
 *    profile's retention; with its summary (collection "profiles", id
 *    NAME/history: the count, the oldest time, the newest id), so that an
 *    append and the newest mood cost a few store operations whatever the
 *    history's length;
 *  - a stated mood (collection "profiles", id NAME/override): a mood said
 *    by hand, which holds until cleared or until its end.
 * The ids start with the listener's name, so on Redis one listener's
 * documents share a hash tag. TIME is the Unix time in milliseconds, 15
 * digits, so ids sort by time.
 *
 * Times are Unix seconds passed in by the caller (tests fix them). Every
 * function returns ET_OK or an error with a message in err; a refused write
 * changes nothing. Documents written by hand that do not have the expected
 * fields are skipped on reading (and logged), never fatal.
 */
#ifndef ET_LISTENER_H
#define ET_LISTENER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "recommend/recommend.h"
#include "store/store.h"
#include "vision/vision.h"

#define ET_LISTENER_PROFILES "profiles"
#define ET_LISTENER_FEEDBACK "feedback"
#define ET_LISTENER_HISTORY "history"
#define ET_LISTENER_DEFAULT "default"
#define ET_LISTENER_MAX_NAME 64
/* The length assumed for a song whose duration is unknown (a link), to tell
 * an early skip from a late one: about a pop song's. */
#define ET_LISTENER_TYPICAL_SONG_S 240.0
/* Files shorter than this (jingles, sound effects; links have no known
 * length and are kept) are not songs: they are left out of recommendations. */
#define ET_LISTENER_MIN_SONG_S 30.0
/* Mood names are at most this long ("disgusted", "unknown", ...). */
#define ET_LISTENER_MAX_MOOD 16

/* ET_E_INVALID, with the rule, unless name is a valid listener name. */
et_status et_listener_check_name(const char *name, char *err);

/* ---- profile ---- */

typedef struct et_listener_profile {
    char name[ET_LISTENER_MAX_NAME + 1];
    et_rec_policy policy; /* default ET_REC_MATCH */
    double tau_s;         /* mood smoothing time constant, (0, 600] (3) */
    double hold_s;        /* hysteresis of the named mood, [0, 600] (2) */
    double history_days;  /* moods older than this are deleted, (0, 36500] (90) */
    size_t history_max;   /* and the oldest beyond this many, [1, 1000000] (10000) */
    double feedback_days; /* feedback older than this is deleted, (0, 36500] (365) */
    size_t feedback_max;  /* and the oldest beyond this many, [1, 1000000] (10000) */
    bool stored;          /* false: defaults, nothing stored yet */
} et_listener_profile;

/* The fields of a profile a change sets (et_listener_profile_change). */
enum {
    ET_LISTENER_SET_POLICY = 1u << 0,
    ET_LISTENER_SET_TAU = 1u << 1,
    ET_LISTENER_SET_HOLD = 1u << 2,
    ET_LISTENER_SET_HISTORY_DAYS = 1u << 3,
    ET_LISTENER_SET_HISTORY_MAX = 1u << 4,
    ET_LISTENER_SET_FEEDBACK_DAYS = 1u << 5,
    ET_LISTENER_SET_FEEDBACK_MAX = 1u << 6,
    ET_LISTENER_SET_ALL = (1u << 7) - 1
};

/* A change of some fields of a profile: those whose bit is in `set` take
 * their value from `to` (its name and other fields are ignored). */
typedef struct et_listener_profile_change {
    unsigned set;
    et_listener_profile to;
} et_listener_profile_change;

/* The defaults for a listener (name must be valid: ET_E_INVALID). */
et_status et_listener_profile_default(const char *name, et_listener_profile *out, char *err);

/* ET_E_INVALID naming the first field out of range. */
et_status et_listener_profile_check(const et_listener_profile *p, char *err);

/* The stored profile, or the defaults (stored = false) when there is none.
 * Fields missing or out of range in a stored document take their default. */
et_status et_listener_profile_load(et_store *s, const char *name, et_listener_profile *out,
                                   char *err);

/* p with the fields of ch set over it (nothing checked). */
void et_listener_profile_apply(const et_listener_profile_change *ch, et_listener_profile *p);

/*
 * Changes only the fields of ch->set in the listener's stored profile (the
 * defaults when there is none), inside one atomic update of the stored
 * document (et_store_update): the merge is made from the document as it is
 * at that moment, so concurrent changes of different fields, by any process
 * or server, all stay. The merged profile is checked inside the update:
 * ET_E_INVALID names the first field out of range, and nothing is written.
 * Other fields of the stored document are kept. *out (may be NULL) gets the
 * profile as written (stored = true).
 */
et_status et_listener_profile_update(et_store *s, const char *name,
                                     const et_listener_profile_change *ch,
                                     et_listener_profile *out, char *err);

/* Writes every field of the profile (checked first), keeping any other
 * field of the stored document; atomic against other writers (a change of
 * every field: to change some, use et_listener_profile_update). */
et_status et_listener_profile_save(et_store *s, const et_listener_profile *p, char *err);

/* The names of the listeners with a stored profile, sorted; free with
 * et_store_free_names. */
et_status et_listener_names(et_store *s, char ***names, size_t *n, char *err);

/* ---- mood history ---- */

typedef struct et_listener_mood {
    double time;                          /* Unix seconds */
    double valence, arousal;              /* in [-1, 1] */
    double confidence;                    /* in [0, 1] */
    char mood[ET_LISTENER_MAX_MOOD];      /* a named mood or "unknown" */
    double smiling;                       /* share in [0, 1]; -1: not known */
    char source[ET_LISTENER_MAX_MOOD];    /* "face" or "stated" */
} et_listener_mood;

/*
 * Appends a mood to p's listener's history, then deletes what falls out of
 * p's retention (entries older than history_days before m->time, then the
 * oldest beyond history_max). The history's summary (its count, oldest
 * time, newest id) changes only inside atomic updates of the store, so
 * appends at once, from any process or server, are all counted and the
 * retention holds. *pruned (may be NULL) gets the number this call deleted.
 * ET_E_INVALID for a field out of range (named).
 */
et_status et_listener_mood_add(et_store *s, const et_listener_profile *p,
                               const et_listener_mood *m, size_t *pruned, char *err);

/* The listener's moods, oldest first, into a new array (caller frees; NULL
 * when *n is 0). */
et_status et_listener_moods(et_store *s, const char *name, et_listener_mood **out, size_t *n,
                            char *err);

/* The newest mood into *out; *found false (and *out untouched) when the
 * history is empty. */
et_status et_listener_mood_latest(et_store *s, const char *name, et_listener_mood *out,
                                  bool *found, char *err);

/* ---- a mood stated by hand (the manual override) ---- */

/* The longest a stated mood may be set to hold for (the server's rule). */
#define ET_LISTENER_OVERRIDE_MAX_S 86400.0

typedef struct et_listener_override {
    char mood[ET_LISTENER_MAX_MOOD]; /* a named mood, the table's word */
    double valence, arousal;         /* in [-1, 1] */
    double time;                     /* Unix seconds when it was stated */
    double until;                    /* Unix seconds when it ends (> time); 0: until cleared */
} et_listener_override;

/*
 * States the listener's mood by hand: until it is cleared or `until` passes,
 * it is their mood whatever a camera sees. Kept in the store (collection
 * "profiles", id NAME/override, replacing any), so every server and every
 * process on the store sees it, and a restarted one keeps it. In the same
 * atomic batch the mood goes into the history (source "stated", confidence
 * 1, smiling unknown, at o->time), within p's retention as
 * et_listener_mood_add. ET_E_INVALID for a mood that is not the table's word,
 * a point out of range, a bad time or an `until` not after it (nothing is
 * written).
 */
et_status et_listener_override_set(et_store *s, const et_listener_profile *p,
                                   const et_listener_override *o, char *err);

/* The stated mood holding at Unix time `now` into *out; *found false (and
 * *out untouched) when there is none, it ended (until <= now), or the stored
 * document is not one (logged). Reads one document. */
et_status et_listener_override_get(et_store *s, const char *name, double now,
                                   et_listener_override *out, bool *found, char *err);

/* Removes the stated mood; *cleared (may be NULL) tells whether there was a
 * document (even an ended one). Not an error when there is none. */
et_status et_listener_override_clear(et_store *s, const char *name, bool *cleared, char *err);

/* ---- feedback ---- */

typedef struct et_listener_feedback {
    double time;                      /* Unix seconds */
    char track[ET_STORE_MAX_ID + 1];
    et_rec_feedback_kind kind;
    double at_s;                      /* seconds into the song; -1: not given */
    double fraction;                  /* how far into the song, in [0, 1] */
    double valence, arousal;          /* the mood when it was given */
    char mood[ET_LISTENER_MAX_MOOD];
} et_listener_feedback;

/* "like", "skip", "complete" <-> the kind; ET_E_INVALID lists them. */
et_status et_listener_feedback_kind_parse(const char *name, et_rec_feedback_kind *out,
                                          char *err);
const char *et_listener_feedback_kind_name(et_rec_feedback_kind k);

/*
 * Records feedback on a track of the library: f->track must name a stored
 * track (ET_E_NOT_FOUND otherwise). f->fraction is computed here: at_s /
 * the track's duration, or / ET_LISTENER_TYPICAL_SONG_S for a track of
 * unknown duration (links), at most 1; 0 when at_s is not given (a skip
 * without a position counts as one at the start). An at_s past the end
 * of a track of known duration (by more than one second) is ET_E_INVALID,
 * as is a negative or non-finite one (other than -1), an unknown kind or a
 * mood out of range. The stored copy is written to *f.
 * The listener's feedback is then kept within their stored profile's
 * retention: entries older than feedback_days before f->time, then the
 * oldest beyond feedback_max, are deleted (in pages: it costs what it
 * deletes), and a count of the listener's feedback (collection "profiles",
 * id NAME/feedback_count) kept exact by atomic updates.
 */
et_status et_listener_feedback_add(et_store *s, const char *name, et_listener_feedback *f,
                                   char *err);

/* The listener's newest feedback, at most limit (>= 1), newest first, into
 * a new array (caller frees; NULL when *n is 0), and in *total how many the
 * listener has. Reads the entries it returns and one small document (the
 * count kept by et_listener_feedback_add), whatever the feedback's length. */
et_status et_listener_feedback_newest(et_store *s, const char *name, size_t limit,
                                      et_listener_feedback **out, size_t *n, size_t *total,
                                      char *err);

/* The listener's feedback, oldest first (caller frees; NULL when *n is 0). */
et_status et_listener_feedbacks(et_store *s, const char *name, et_listener_feedback **out,
                                size_t *n, char *err);

/*
 * The stamp of the listener's feedback (store.h's stamps; collection
 * "profiles", id NAME/feedback_stamp): et_listener_feedback_add bumps it
 * after each feedback it writes (when that bump fails it returns the error,
 * the feedback being stored), so a copy of the listener's feedback read
 * after reading stamp N is current while the stamp still reads N, whichever
 * process or server gave the feedback. One store read; 0 before any
 * feedback. Feedback written or deleted by other means (emotune store) does
 * not bump it.
 */
et_status et_listener_feedback_stamp(et_store *s, const char *name, uint64_t *stamp, char *err);

/* ---- the recommender over the library ---- */

/* ---- tracks queued for playing ---- */

/* How many queued tracks are kept per listener: at least the recommender's
 * no-repeat window, so the window holds across requests. */
#define ET_LISTENER_QUEUED_MAX 64

typedef struct et_listener_queued_track {
    char track[ET_STORE_MAX_ID + 1];
    double time; /* Unix seconds when it was queued */
} et_listener_queued_track;

/*
 * Records that the n tracks were queued for the listener's playing at `now`
 * (recommended and handed out: `emotune recommend`, the server's next track),
 * in the store (collection "profiles", id NAME/queued), keeping the newest
 * ET_LISTENER_QUEUED_MAX. Atomic against other writers, so two servers
 * queueing for one listener lose nothing. ET_E_INVALID for a bad name, id or
 * time (nothing is written).
 */
et_status et_listener_queued_add(et_store *s, const char *name, const char *const *track_ids,
                                 size_t n, double now, char *err);

/* The queued tracks, oldest first, in a new array (caller frees; NULL when
 * *n is 0). Entries that are not queued tracks (edited by hand) are skipped. */
et_status et_listener_queued(et_store *s, const char *name, et_listener_queued_track **out,
                             size_t *n, char *err);

typedef struct et_listener_track {
    char *id, *title, *artist, *genre; /* artist and genre may be NULL */
    char *location;                    /* the file's path or the link's URL */
    double duration;                   /* seconds; 0 when unknown */
    double tempo;                      /* beats per minute; 0 when unknown */
    double valence, arousal;           /* when has_point */
    bool has_point;
    bool is_link;
} et_listener_track;

/*
 * The library as the recommender sees it: the tracks not marked missing
 * and not shorter than ET_LISTENER_MIN_SONG_S (too_short counts those left
 * out), in id order. Loaded once, it serves any number of sessions, in any
 * threads: nothing changes it after et_listener_library_load, and it is
 * reference-counted (atomically): the loader holds one reference, each
 * session made from it another; et_listener_library_release drops one and
 * frees it with the last. A cache keeps it with the library's stamp read
 * before loading it (library.h: et_library_stamp).
 */
typedef struct et_listener_library {
    et_listener_track *tracks;
    size_t n;
    size_t too_short;
    atomic_size_t refs; /* private */
} et_listener_library;

et_status et_listener_library_load(et_store *s, et_listener_library **out, char *err);
void et_listener_library_retain(et_listener_library *lib);
void et_listener_library_release(et_listener_library *lib); /* NULL: nothing */

typedef struct et_listener_session {
    et_rec *rec;                 /* over tracks[0..n), same order */
    et_listener_track *tracks;   /* library->tracks */
    size_t n;
    size_t too_short;            /* tracks left out: shorter than ET_LISTENER_MIN_SONG_S */
    size_t feedback_used;        /* feedback replayed into rec */
    size_t feedback_stale;       /* feedback on tracks no longer in the library */
    et_listener_library *library; /* the tracks' owner: one reference, held */
} et_listener_session;

/*
 * Loads the library (tracks not marked missing, and not shorter than
 * ET_LISTENER_MIN_SONG_S), the listener's feedback and queued tracks
 * into a new recommender seeded with seed: every feedback and every queued
 * track, oldest first, counts as a play (et_rec_mark_played), so the
 * no-repeat window and the artist spacing hold across sessions; feedback
 * also counts as a preference (et_rec_feedback in its mood); feedback on a
 * track left out counts as stale. ET_E_NOT_FOUND when the library has no such track. Free with
 * et_listener_session_free.
 */
et_status et_listener_session_open(et_store *s, const char *name, uint64_t seed,
                                   et_listener_session **out, char *err);

/*
 * The same session from what is already loaded, reading no store: the
 * library lib (retained until et_listener_session_free), the listener's
 * feedback fb[0..nf) and queued tracks q[0..nq), each oldest first
 * (et_listener_feedbacks, et_listener_queued), which the caller keeps.
 * The same inputs and seed give the same recommender as
 * et_listener_session_open. ET_E_NOT_FOUND when lib has no track (the
 * message says why), ET_E_INVALID (NULL), ET_E_NOMEM.
 */
et_status et_listener_session_new(et_listener_library *lib, const et_listener_feedback *fb,
                                  size_t nf, const et_listener_queued_track *q, size_t nq,
                                  uint64_t seed, et_listener_session **out, char *err);
void et_listener_session_free(et_listener_session *session);

/*
 * Draws the listener's next n songs from the session's recommender for the
 * mood point (valence, arousal) and the policy into picks[n], and unless
 * peek records them as queued at `now` (et_listener_queued_add), so the
 * next request, here or on another server, goes on from them. On an error
 * nothing is recorded. Errors: those of et_rec_next and of the store.
 */
et_status et_listener_next(et_store *s, et_listener_session *se, const char *name,
                           et_rec_policy policy, double valence, double arousal, size_t n,
                           bool peek, double now, et_rec_pick *picks, char *err);

/* ---- calibration: the listener's own face (calibration.c, calibration_fit.c) ---- */

/*
 * Examples of the listener's face, each labelled with the expression they
 * said they showed, adjust the reading of that listener's faces (issue 19).
 * Kept as features only, never pictures: per example the expression, the
 * Unix time, emotune-1's 263 head inputs x (et_vision_head_inputs of both
 * views) and face-api's 7 probabilities of the unmirrored view. Two
 * documents in "profiles": NAME/calibration holds the examples (at most
 * ET_LISTENER_CALIB_MAX_PER_EXPR per expression) and a revision counter;
 * NAME/calibration_fit holds what reading needs, small: the counts and a
 * bias per reader, refitted on every change and written only when its
 * revision is newer than the stored one, so two servers changing one
 * listener at once leave the fit of the newest examples.
 *
 * The adjustment of a reader (face-api, emotune-1) is a bias b on its
 * log-probabilities: for the examples' log-probabilities z_i (the natural
 * log of the reader's probabilities floored at ET_VISION_HEAD_LOG_FLOOR)
 * and labels y_i, b minimises sum_i CE(softmax(z_i + b), y_i) +
 * (lambda/2) ||b||^2 with lambda = ET_LISTENER_CALIB_LAMBDA, which holds b
 * towards 0 (the population reader) so that a few examples cannot overturn
 * it. A calibrated reading is softmax(log p + b).
 */
#define ET_LISTENER_CALIB_MAX_PER_EXPR 20
#define ET_LISTENER_CALIB_LAMBDA 2.0
#define ET_LISTENER_CALIB_MAX_ITER 25
#define ET_LISTENER_CALIB_TOL 1e-6

typedef struct et_listener_calib_example {
    et_expression expression;
    double time;                      /* Unix seconds */
    float x[ET_VISION_HEAD_INPUTS];   /* emotune-1's inputs, mirror-mean */
    float faceapi[ET_EXPR_COUNT];     /* face-api's probabilities, unmirrored view */
} et_listener_calib_example;

typedef struct et_listener_calibration {
    unsigned counts[ET_EXPR_COUNT];   /* examples per expression */
    unsigned total;
    bool in_use;                      /* total > 0: readings are adjusted */
    uint64_t rev;                     /* changes so far (0: never calibrated) */
    double bias[ET_EXPR_MODEL_COUNT][ET_EXPR_COUNT]; /* per reader (et_expr_model) */
} et_listener_calibration;

/* The expression named `name` (et_vision_expression_name's words, any
 * case); ET_E_INVALID naming the seven otherwise. */
et_status et_listener_calib_expression_parse(const char *name, et_expression *out, char *err);

/*
 * Newton's method for b from b = 0 (at most ET_LISTENER_CALIB_MAX_ITER
 * steps, or until the largest step is below ET_LISTENER_CALIB_TOL): the
 * gradient sum_i (softmax(z_i + b) - onehot(y_i)) + lambda b, the Hessian
 * sum_i (diag(p_i) - p_i p_i^T) + lambda I solved by Cholesky. z is n rows
 * of 7, y n labels in [0, 7). n may be 0 (b = 0). *iterations (may be NULL)
 * gets the steps taken. ET_E_INVALID for lambda <= 0, a label out of range
 * or a z not finite. Pure, thread-safe.
 */
et_status et_listener_calib_fit(const double (*z)[ET_EXPR_COUNT], const int *y, size_t n,
                                double lambda, double b[ET_EXPR_COUNT], int *iterations,
                                char *err);

/* The reader's log-probabilities: log(max(p, ET_VISION_HEAD_LOG_FLOOR)). */
void et_listener_calib_logits(const float p[ET_EXPR_COUNT], double z[ET_EXPR_COUNT]);

/* A calibrated reading in place: p = softmax(log max(p, floor) + b), sum 1.
 * O(7). */
void et_listener_calib_apply(const double b[ET_EXPR_COUNT], float p[ET_EXPR_COUNT]);

/* The face's reading calibrated with cal's bias for the face's reader
 * (face->model), its top expression and smiling updated; false (the face
 * untouched) when cal is not in use. */
bool et_listener_calib_apply_face(const et_listener_calibration *cal, et_face *face);

/*
 * Adds one example (its time, expression and numbers checked: ET_E_INVALID)
 * to the listener's calibration and refits both readers, atomically against
 * other writers (et_store_update). When the expression already has
 * ET_LISTENER_CALIB_MAX_PER_EXPR examples it is ET_E_INVALID saying so, and
 * nothing stored changes. *out (may be NULL) gets the new calibration.
 */
et_status et_listener_calib_add(et_store *s, const char *name,
                                const et_listener_calib_example *ex,
                                et_listener_calibration *out, char *err);

/* Forgets the examples of one expression (expression in [0, 7)), or all of
 * them (expression -1), and refits; *removed (may be NULL) gets how many
 * went. Not an error when there were none. *out (may be NULL) as above. */
et_status et_listener_calib_forget(et_store *s, const char *name, int expression,
                                   unsigned *removed, et_listener_calibration *out, char *err);

/* The listener's calibration as reading needs it: one small document read;
 * all zero (not in use) when there is none or it is not one (logged). */
et_status et_listener_calib_get(et_store *s, const char *name, et_listener_calibration *out,
                                char *err);

/* The stored examples, oldest first, in a new array (caller frees; NULL
 * when *n is 0); entries that are not examples are skipped (logged). */
et_status et_listener_calib_examples(et_store *s, const char *name,
                                     et_listener_calib_example **out, size_t *n, char *err);

#endif
