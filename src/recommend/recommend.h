/*
 * recommend: picks the next song for the listener's mood from an in-memory
 * array of candidate tracks (the store-facing glue lives elsewhere).
 *
 * A recommender (et_rec) owns a copy of the tracks, a seeded random
 * generator, the history of its picks and the preferences learnt from
 * feedback. It has no global state; one et_rec is not thread-safe, distinct
 * ones are independent.
 *
 * Each pick:
 *  1. target point (et_rec_target) from the policy, the mood and the number
 *     of songs picked so far in this session (see the policies below);
 *  2. every candidate scored:
 *        score = -ET_REC_W_DIST * d + ET_REC_W_PREF * theta - fresh
 *     d: Euclidean distance between the track's (valence, arousal) and the
 *        target; ET_REC_MISSING_DIST for a track without features;
 *     theta: Thompson sampling, in [0, 1]: the weighted mean
 *        (ET_REC_PREF_TRACK, _ARTIST, _GENRE; renormalised when the
 *        artist or genre is unknown) of draws from the Beta posteriors of
 *        the track, of its artist and of its genre, counted in the
 *        listener's current mood quadrant (see et_rec_feedback). The priors
 *        are nested, each worth P = ET_REC_PRIOR pseudo-counts around a mean
 *        m: Beta(P m + likes, P (1 - m) + dislikes). A genre's m is 1/2; an
 *        artist's, the posterior mean of its genre (that of its first track
 *        with a genre); a track's, the posterior mean of its artist (of its
 *        genre when it has no artist). So an artist not yet heard starts
 *        where its genre stands with the listener, and a new song by a
 *        liked artist starts high. Each artist and genre gets one draw per
 *        pick, shared by its tracks, so artists compete as arms of their
 *        own (a liked artist is not drowned by the noise of thousands of
 *        unknown tracks); with no feedback every m is 1/2 and, P being 2,
 *        every draw uniform, which keeps exploring the whole library;
 *     fresh: ET_REC_W_ARTIST exp(-(k - 1) / ET_REC_ARTIST_TAU) when the
 *        track's artist was picked k picks ago, plus ET_REC_W_TRACK
 *        exp(-(k - W) / W) when the track itself was picked k > W picks ago
 *        (W the no-repeat window);
 *  3. the pick is drawn among the ET_REC_TOP_K best by softmax(score /
 *     ET_REC_TEMPERATURE). Hard rules: no track picked within the last W =
 *     min(ET_REC_WINDOW, n - 1) picks, and not the previous pick's artist
 *     when a track by another artist is allowed (tracks without an artist
 *     never count as the same artist).
 *
 * Cost: one pass over the tracks per pick, no allocation; a track that
 * cannot reach the top K whatever its draws is not drawn for (about 0.6 ms
 * for 100,000 tracks at -O3 on one core: bench/sim_recommend.c).
 */
#ifndef ET_RECOMMEND_H
#define ET_RECOMMEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* The no-repeat window (or n - 1 for a smaller library). */
#define ET_REC_WINDOW 50
/* The draw is among this many best candidates. */
#define ET_REC_TOP_K 10
#define ET_REC_TEMPERATURE 0.1
/* Scoring weights (formula above). */
#define ET_REC_W_DIST 1.0
#define ET_REC_W_PREF 1.0
#define ET_REC_W_ARTIST 0.15
#define ET_REC_ARTIST_TAU 3.0
#define ET_REC_W_TRACK 0.2
/* Distance given to a track without valence/arousal: about the distance
 * between neighbouring named moods, so such tracks come up now and then but
 * never beat a good match on distance alone. */
#define ET_REC_MISSING_DIST 0.75
/* A pick farther than this from the target (about half the distance
 * between neighbouring named moods) does not claim to match: its reason
 * says it is the nearest the library has. */
#define ET_REC_FAR 0.45
/* The weights of the track's, its artist's and its genre's draw in theta
 * (tuned by bench/sim_recommend.c: a track is heard too seldom for its own
 * counts to say much, its genre's fill up fast). */
#define ET_REC_PREF_TRACK 0.2
#define ET_REC_PREF_ARTIST 0.4
#define ET_REC_PREF_GENRE 0.4
/* Pseudo-counts of each prior in theta (2: uniform with no feedback). */
#define ET_REC_PRIOR 2.0
/* Policy steps per song picked (see et_rec_target). */
#define ET_REC_LIFT_VALENCE 0.8
#define ET_REC_LIFT_STEP 0.25
#define ET_REC_LIFT_AROUSAL 0.3
#define ET_REC_LIFT_AROUSAL_STEP 0.15
#define ET_REC_CALM_AROUSAL -0.7
#define ET_REC_CALM_STEP 0.25
#define ET_REC_CALM_VALENCE 0.3
#define ET_REC_CALM_VALENCE_STEP 0.1

/* One candidate. Strings are copied by et_rec_new. */
typedef struct et_rec_track {
    const char *id;     /* required, non-empty, unique */
    const char *artist; /* NULL or "" when unknown */
    const char *genre;  /* NULL or "" when unknown */
    double valence, arousal; /* in [-1, 1]; read only when has_point */
    bool has_point;     /* false: features missing (ET_REC_MISSING_DIST) */
    double tempo;       /* beats per minute, >= 0; 0 = unknown (links) */
} et_rec_track;

typedef enum et_rec_policy {
    /* songs near the listener's mood: the target is the mood itself */
    ET_REC_MATCH = 0,
    /* the iso principle: the first target is the mood; each song picked
     * moves valence ET_REC_LIFT_STEP up towards ET_REC_LIFT_VALENCE (never
     * down) and arousal ET_REC_LIFT_AROUSAL_STEP towards ET_REC_LIFT_AROUSAL */
    ET_REC_LIFT,
    /* the first target is the mood; each song picked moves arousal
     * ET_REC_CALM_STEP down towards ET_REC_CALM_AROUSAL (never up) and
     * valence ET_REC_CALM_VALENCE_STEP up towards ET_REC_CALM_VALENCE when it
     * is below (never down) */
    ET_REC_CALM,
    ET_REC__POLICY_COUNT
} et_rec_policy;

/* "match", "lift" or "calm" (exact, lower case) into *out. ET_E_INVALID
 * (err lists the names) for anything else or NULL; *out then unchanged. */
et_status et_rec_policy_parse(const char *name, et_rec_policy *out, char *err);

/* The policy's name, or NULL when out of range. */
const char *et_rec_policy_name(et_rec_policy p);

typedef struct et_rec et_rec;

/*
 * A recommender over a copy of tracks[0..n) (n >= 1; the caller keeps its
 * array), its generator seeded with seed: the same seed, tracks and calls
 * give the same picks.
 * Errors: ET_E_INVALID (out NULL, n == 0, tracks NULL, an empty or
 * duplicate id, a point not finite or outside [-1, 1], a tempo negative or
 * not finite; err names the track's index and id), ET_E_NOMEM. *out is NULL
 * on error.
 */
et_status et_rec_new(const et_rec_track *tracks, size_t n, uint64_t seed, et_rec **out,
                     char *err);
void et_rec_free(et_rec *r);

/* Number of tracks. */
size_t et_rec_count(const et_rec *r);

/* Starts a new session: the policies' steps count from 0 again. History
 * and preferences are kept. A change of policy also starts a new session. */
void et_rec_session_reset(et_rec *r);

/*
 * The target point of the next pick for this policy and mood (rules at
 * et_rec_policy), given the songs picked so far in this session. Changes
 * nothing. Errors: ET_E_INVALID (r, tv or ta NULL, unknown policy, mood not
 * finite or outside [-1, 1]).
 */
et_status et_rec_target(const et_rec *r, et_rec_policy policy, double mood_v, double mood_a,
                        double *tv, double *ta, char *err);

typedef struct et_rec_pick {
    size_t index;       /* into the tracks given to et_rec_new */
    const char *id;     /* the recommender's copy: valid until et_rec_free */
    double target_v, target_a;
    double distance;    /* from the target (ET_REC_MISSING_DIST: no features) */
    double score;
    char reason[128];   /* e.g. "calm and slow, matches your calm mood" */
} et_rec_pick;

/*
 * Picks the next track (as described at the top) and records it in the
 * history. Errors: ET_E_INVALID (r or out NULL, unknown policy, mood not
 * finite or outside [-1, 1]): then nothing changes, the generator included.
 */
et_status et_rec_next(et_rec *r, et_rec_policy policy, double mood_v, double mood_a,
                      et_rec_pick *out, char *err);

/*
 * Records that the track was played just now although this recommender did
 * not pick it (a play from an earlier session, loaded from the store): from
 * then on it counts as the newest pick for freshness, the no-repeat window
 * and the previous artist. The session's policy steps do not move.
 * Errors: ET_E_INVALID (NULL), ET_E_NOT_FOUND (no such id); nothing changes.
 */
et_status et_rec_mark_played(et_rec *r, const char *track_id, char *err);

typedef enum et_rec_feedback_kind {
    ET_REC_LIKE = 0,  /* alpha += 1 */
    ET_REC_SKIP,      /* beta += 1 - at_fraction: an early skip weighs most */
    ET_REC_COMPLETE,  /* played to the end: alpha += 0.25 (weaker than a like:
                       * most songs that are not skipped are played out) */
    ET_REC__FEEDBACK_COUNT
} et_rec_feedback_kind;

/*
 * Feedback on a track heard in mood (mood_v, mood_a): updates the Beta
 * counts of the track, its artist and its genre in that mood's quadrant
 * (happy: v >= 0, a >= 0; calm: v >= 0, a < 0; sad: v < 0, a < 0; tense:
 * v < 0, a >= 0), so what the listener likes when happy does not decide what
 * they hear when sad. at_fraction, how far into the song, in [0, 1], is
 * used by skips only (but checked always).
 * Errors: ET_E_INVALID (r or track_id NULL, unknown kind, at_fraction or the
 * mood not finite or out of range), ET_E_NOT_FOUND (no such track id); then
 * nothing changes.
 */
et_status et_rec_feedback(et_rec *r, const char *track_id, et_rec_feedback_kind kind,
                          double at_fraction, double mood_v, double mood_a, char *err);

#endif
