/*
 * The recommender evaluated by simulation: simulated listeners with hidden
 * tastes hear songs picked by emotune (et_rec_next + et_rec_feedback) and by
 * two baselines, on the same library, the same listeners and the same mood
 * sequences. Deterministic: everything comes from one seed (--seed N); the
 * only wall-clock figure (the pick time at 100,000 tracks, measured after the
 * simulation on its own library and recommender; --no-timing skips it) does
 * not touch the simulation's numbers. Prints one JSON object
 * (bench/recommend.sh turns it into a report and a plot).
 *
 * THE MODEL (written before any tuning of the recommender; not to be bent
 * towards it)
 *
 * Library (LIB_TRACKS tracks): GENRES genres, each with a centre on the
 * valence/arousal plane (uniform in [-0.75, 0.75]^2, at least 0.3 apart)
 * and a spread (0.15..0.3); ARTISTS artists, each in one genre (uniform),
 * offset from its centre by N(0, 0.15) per axis; each track by a uniform
 * artist, at the artist's point + N(0, genre spread) per axis (clamped to
 * [-1, 1]). That point is the track's true character: the listener always
 * hears it, but NO_POINT_SHARE of the tracks hide it from the recommender
 * (has_point false, as when features are missing) and NO_TEMPO_SHARE have no
 * tempo.
 *
 * Listener (LISTENERS of them, policy = index % 3: match, lift, calm):
 *  - hidden taste of a track = genre affinity + artist affinity + track
 *    noise: genres N(0, 0.5), two loved (+1) and two disliked (-1); artists
 *    N(0, 0.4), 3% favourites (+1.2), 3% disliked (-1.2); tracks N(0, 0.3);
 *  - mood: a named mood of the named-mood table (et_mood_named_point),
 *    uniform, replaced by another one every 20..60 songs (uniform);
 *  - what they want in their mood, s songs after it began: match: the mood's
 *    point; lift: from the mood's point towards their own uplifted point
 *    (valence 0.5..0.9, arousal 0.1..0.5; valence never lowered), a share
 *    min(1, s / speed) of the way, speed 4..12 songs; calm: likewise towards
 *    their own calm point (arousal -0.8..-0.4, never raised; valence
 *    0.1..0.4, never lowered). Each listener draws their own points and speed;
 *  - fit = exp(-(d / 0.4)^2), d the distance from the track's true point to
 *    what they want; boredom = 0.35 per play of the same artist among their
 *    last 20 songs + 0.5 when they heard the track among their last 150;
 *  - x = taste + 1.2 fit - boredom; like with probability
 *    sigmoid(1.5 x - 2.6) (a random track: about 10%; a perfectly fitting
 *    one of neutral taste: about 30%); otherwise skip with probability
 *    sigmoid(0.3 - 1.5 x), at a point u (0.3 + 0.6 sigmoid(x)) into the song
 *    (worse songs are skipped earlier); otherwise played to the end.
 *    The three draws per song come from the listener's own stream, the same
 *    for every picker (common random numbers).
 *
 * Pickers, each for SONGS songs per listener:
 *  1. emotune: et_rec_next(policy, mood) on a recommender of its own per
 *     listener, then et_rec_feedback (like; skip with the point; complete);
 *     a new mood starts a new session (et_rec_session_reset);
 *  2. random in the mood: a uniform track (with features) whose nearest
 *     named mood is the listener's mood, none repeated within 50 songs;
 *  3. distance only: uniform among the 10 tracks (with features) nearest to
 *     emotune's target (et_rec_target of a recommender given no feedback,
 *     whose sessions follow the same moods), none repeated within 50;
 *  4. emotune without feedback: as 1 without et_rec_feedback -- what the
 *     learning adds is the gap between 1 and 4.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mood/mood.h"
#include "recommend/recommend.h"

/* The seed of everything (--seed N to change it). */
#define DEFAULT_SEED 20261125u
#define LIB_TRACKS 10000
#define GENRES 12
#define ARTISTS 800
#define NO_POINT_SHARE 0.04
#define NO_TEMPO_SHARE 0.10
#define LISTENERS 180
#define SONGS 500
#define WIN 20             /* songs per reported window */
#define NO_REPEAT 50       /* the baselines' no-repeat window */
#define NEAREST 10         /* the distance-only baseline's pool */
#define TOP_ARTISTS 5
#define TIMING_TRACKS 100000
#define TIMING_ARTISTS 8000
#define TIMING_PICKS 200
#define TIMING_BUDGET_MS 10.0

enum { P_EMOTUNE, P_RANDOM, P_DISTANCE, P_UNTAUGHT, PICKERS };
static uint64_t sim_seed = DEFAULT_SEED; /* --seed */

static const char *const picker_names[PICKERS] = {"emotune", "random in the mood",
                                                  "distance only",
                                                  "emotune without feedback"};

static const char *const mood_names[] = {"happy",     "calm",      "sad",
                                         "angry",     "tense",     "disgusted",
                                         "surprised", "energetic", "excited"};
#define MOODS (sizeof mood_names / sizeof mood_names[0])
static double mood_v[MOODS], mood_a[MOODS];

static const char *const genre_names[GENRES] = {
    "ambient", "classical", "folk", "jazz", "soul", "pop",
    "rock", "metal", "punk", "electronic", "hip-hop", "blues"};

/* ---- random numbers: splitmix64 as the whole generator ---- */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rng_u64(rng *g)
{
    uint64_t z = (g->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static rng rng_of(uint64_t a, uint64_t b)
{
    rng g = {a * 0x2545f4914f6cdd1dULL ^ (b + 0x632be59bd9b4e019ULL)};
    rng_u64(&g);
    return g;
}

/* Uniform in [0, 1). */
static double unif(rng *g) { return (double)(rng_u64(g) >> 11) * 0x1.0p-53; }

static double unif_in(rng *g, double lo, double hi) { return lo + (hi - lo) * unif(g); }

static size_t below(rng *g, size_t n) { return (size_t)(unif(g) * (double)n); }

static double gauss(rng *g)
{
    double u1 = 1.0 - unif(g), u2 = unif(g);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static double clamp1(double x) { return x < -1 ? -1 : x > 1 ? 1 : x; }

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

/* ---- the library ---- */

typedef struct library {
    size_t n, n_artists;
    et_rec_track *t;
    double *true_v, *true_a;   /* what the listener hears, features or not */
    int *artist, *genre;       /* per track */
    int *artist_genre;         /* per artist */
    char (*ids)[24];
    char (*artist_names)[24];
} library;

static void make_library(library *L, size_t n, size_t n_artists, uint64_t seed)
{
    rng g = rng_of(seed, 1);
    memset(L, 0, sizeof *L);
    L->n = n;
    L->n_artists = n_artists;
    L->t = calloc(n, sizeof *L->t);
    L->true_v = calloc(n, sizeof *L->true_v);
    L->true_a = calloc(n, sizeof *L->true_a);
    L->artist = calloc(n, sizeof *L->artist);
    L->genre = calloc(n, sizeof *L->genre);
    L->ids = calloc(n, sizeof *L->ids);
    L->artist_genre = calloc(n_artists, sizeof *L->artist_genre);
    L->artist_names = calloc(n_artists, sizeof *L->artist_names);
    double *art_v = calloc(n_artists, sizeof *art_v), *art_a = calloc(n_artists, sizeof *art_a);
    if (!L->t || !L->true_v || !L->true_a || !L->artist || !L->genre || !L->ids ||
        !L->artist_genre || !L->artist_names || !art_v || !art_a) {
        fprintf(stderr, "sim_recommend: out of memory\n");
        exit(1);
    }
    double gv[GENRES], ga[GENRES], gs[GENRES];
    for (int k = 0; k < GENRES; k++) {
        for (int tries = 0;; tries++) {
            gv[k] = unif_in(&g, -0.75, 0.75);
            ga[k] = unif_in(&g, -0.75, 0.75);
            bool ok = true;
            for (int j = 0; j < k; j++)
                ok = ok && hypot(gv[k] - gv[j], ga[k] - ga[j]) >= 0.3;
            if (ok || tries > 1000)
                break;
        }
        gs[k] = unif_in(&g, 0.15, 0.3);
    }
    for (size_t a = 0; a < n_artists; a++) {
        int k = (int)below(&g, GENRES);
        L->artist_genre[a] = k;
        art_v[a] = gv[k] + 0.15 * gauss(&g);
        art_a[a] = ga[k] + 0.15 * gauss(&g);
        snprintf(L->artist_names[a], sizeof L->artist_names[a], "a%04zu", a);
    }
    for (size_t i = 0; i < n; i++) {
        size_t a = below(&g, n_artists);
        int k = L->artist_genre[a];
        L->artist[i] = (int)a;
        L->genre[i] = k;
        L->true_v[i] = clamp1(art_v[a] + gs[k] * gauss(&g));
        L->true_a[i] = clamp1(art_a[a] + gs[k] * gauss(&g));
        snprintf(L->ids[i], sizeof L->ids[i], "t%06zu", i);
        et_rec_track *t = &L->t[i];
        t->id = L->ids[i];
        t->artist = L->artist_names[a];
        t->genre = genre_names[k];
        t->has_point = unif(&g) >= NO_POINT_SHARE;
        t->valence = t->has_point ? L->true_v[i] : 0;
        t->arousal = t->has_point ? L->true_a[i] : 0;
        double tempo = 100 + 40 * L->true_a[i] + 15 * gauss(&g);
        t->tempo = unif(&g) < NO_TEMPO_SHARE ? 0 : tempo < 50 ? 50 : tempo > 200 ? 200 : tempo;
    }
    free(art_v);
    free(art_a);
}

static void free_library(library *L)
{
    free(L->t);
    free(L->true_v);
    free(L->true_a);
    free(L->artist);
    free(L->genre);
    free(L->ids);
    free(L->artist_genre);
    free(L->artist_names);
}

static size_t nearest_mood(double v, double a)
{
    size_t best = 0;
    double best_d = INFINITY;
    for (size_t m = 0; m < MOODS; m++) {
        double d = hypot(v - mood_v[m], a - mood_a[m]);
        if (d < best_d) {
            best_d = d;
            best = m;
        }
    }
    return best;
}

/* ---- listeners ---- */

typedef struct listener {
    et_rec_policy policy;
    double genre_aff[GENRES];
    double *artist_aff; /* [n_artists] */
    double *track_aff;  /* [n] */
    double end_v, end_a, speed; /* lift or calm: their own point and speed */
    size_t *mood;       /* [SONGS]: the mood at each song */
    bool *mood_starts;  /* [SONGS]: a new mood begins at this song */
    size_t *since;      /* [SONGS]: songs since the mood began */
    int top_artist[TOP_ARTISTS];
} listener;

static void make_listener(listener *P, const library *L, size_t index)
{
    rng g = rng_of(sim_seed + 7919u * index, 2);
    P->policy = (et_rec_policy)(index % 3);
    P->artist_aff = calloc(L->n_artists, sizeof *P->artist_aff);
    P->track_aff = calloc(L->n, sizeof *P->track_aff);
    P->mood = calloc(SONGS, sizeof *P->mood);
    P->mood_starts = calloc(SONGS, sizeof *P->mood_starts);
    P->since = calloc(SONGS, sizeof *P->since);
    if (!P->artist_aff || !P->track_aff || !P->mood || !P->mood_starts || !P->since) {
        fprintf(stderr, "sim_recommend: out of memory\n");
        exit(1);
    }
    for (int k = 0; k < GENRES; k++)
        P->genre_aff[k] = 0.5 * gauss(&g);
    int order[GENRES];
    for (int k = 0; k < GENRES; k++)
        order[k] = k;
    for (int k = GENRES - 1; k > 0; k--) { /* shuffle: the first two loved, next two not */
        int j = (int)below(&g, (size_t)k + 1), x = order[k];
        order[k] = order[j];
        order[j] = x;
    }
    P->genre_aff[order[0]] += 1.0;
    P->genre_aff[order[1]] += 1.0;
    P->genre_aff[order[2]] -= 1.0;
    P->genre_aff[order[3]] -= 1.0;
    for (size_t a = 0; a < L->n_artists; a++) {
        double u = unif(&g);
        P->artist_aff[a] = 0.4 * gauss(&g) + (u < 0.03 ? 1.2 : u < 0.06 ? -1.2 : 0.0);
    }
    for (size_t i = 0; i < L->n; i++)
        P->track_aff[i] = 0.3 * gauss(&g);
    if (P->policy == ET_REC_LIFT) {
        P->end_v = unif_in(&g, 0.5, 0.9);
        P->end_a = unif_in(&g, 0.1, 0.5);
    } else {
        P->end_v = unif_in(&g, 0.1, 0.4);
        P->end_a = unif_in(&g, -0.8, -0.4);
    }
    P->speed = unif_in(&g, 4, 12);
    size_t m = below(&g, MOODS), left = 20 + below(&g, 41), s = 0;
    for (size_t k = 0; k < SONGS; k++, s++) {
        if (left-- == 0) {
            size_t next = below(&g, MOODS - 1);
            m = next >= m ? next + 1 : next;
            left = 20 + below(&g, 41) - 1;
            s = 0;
        }
        P->mood[k] = m;
        P->mood_starts[k] = s == 0;
        P->since[k] = s;
    }
    /* their five favourite artists, by genre + artist affinity */
    for (int j = 0; j < TOP_ARTISTS; j++)
        P->top_artist[j] = -1;
    for (size_t a = 0; a < L->n_artists; a++) {
        double x = P->genre_aff[L->artist_genre[a]] + P->artist_aff[a];
        for (int j = 0; j < TOP_ARTISTS; j++) {
            int b = P->top_artist[j];
            if (b < 0 || x > P->genre_aff[L->artist_genre[b]] + P->artist_aff[b]) {
                memmove(&P->top_artist[j + 1], &P->top_artist[j],
                        (TOP_ARTISTS - 1 - (size_t)j) * sizeof P->top_artist[0]);
                P->top_artist[j] = (int)a;
                break;
            }
        }
    }
}

static void free_listener(listener *P)
{
    free(P->artist_aff);
    free(P->track_aff);
    free(P->mood);
    free(P->mood_starts);
    free(P->since);
}

/* The point they want at song k. */
static void wanted(const listener *P, size_t k, double *v, double *a)
{
    double mv = mood_v[P->mood[k]], ma = mood_a[P->mood[k]];
    double f = fmin(1.0, (double)P->since[k] / P->speed);
    *v = mv;
    *a = ma;
    if (P->policy == ET_REC_LIFT) {
        if (mv < P->end_v)
            *v = mv + f * (P->end_v - mv);
        *a = ma + f * (P->end_a - ma);
    } else if (P->policy == ET_REC_CALM) {
        if (ma > P->end_a)
            *a = ma + f * (P->end_a - ma);
        if (mv < P->end_v)
            *v = mv + f * (P->end_v - mv);
    }
}

typedef enum { R_LIKE, R_SKIP, R_COMPLETE } reaction;

/* Boredom with track i at song k, given the plays so far (played[0..k)). */
static double boredom(const library *L, size_t k, size_t i, const size_t *played)
{
    double bored = 0;
    bool heard = false;
    for (size_t j = k > 150 ? k - 150 : 0; j < k; j++) {
        heard = heard || played[j] == i;
        if (j + 20 >= k && L->artist[played[j]] == L->artist[i])
            bored += 0.35;
    }
    return bored + (heard ? 0.5 : 0.0);
}

/* The listener's reaction to track i at song k; three uniforms from their
 * own stream. */
static reaction react(const listener *P, const library *L, size_t k, size_t i, double bored,
                      rng *g, double *at)
{
    double u1 = unif(g), u2 = unif(g), u3 = unif(g);
    double wv, wa;
    wanted(P, k, &wv, &wa);
    double d = hypot(L->true_v[i] - wv, L->true_a[i] - wa);
    double fit = exp(-(d / 0.4) * (d / 0.4));
    double x = P->genre_aff[L->genre[i]] + P->artist_aff[L->artist[i]] + P->track_aff[i] +
               1.2 * fit - bored;
    *at = 1.0;
    if (u1 < sigmoid(1.5 * x - 2.6))
        return R_LIKE;
    if (u2 < sigmoid(0.3 - 1.5 * x)) {
        *at = u3 * (0.3 + 0.6 * sigmoid(x));
        return R_SKIP;
    }
    return R_COMPLETE;
}

/* ---- results ---- */

typedef struct results {
    double like[SONGS / WIN], skip[SONGS / WIN]; /* summed over listeners */
    double like10, skip10; /* the first 10 songs (the cold start) */
    double likes, skips, distinct_tracks, distinct_artists, top_share;
    double by_policy_like[ET_REC__POLICY_COUNT], by_policy_last[ET_REC__POLICY_COUNT];
    double fit; /* mean distance to what the listener wants */
} results;

static void fail_rec(et_status st, const char *what, const char *err)
{
    if (st != ET_OK) {
        fprintf(stderr, "sim_recommend: %s: %s\n", what, err);
        exit(1);
    }
}

/* Tracks with features whose nearest named mood is m. */
typedef struct pool {
    size_t *idx, n;
} pool;

static size_t pick_random(const pool *p, rng *g, const size_t *last, size_t k)
{
    for (int tries = 0;; tries++) {
        size_t i = p->idx[below(g, p->n)];
        if (!last[i] || last[i] + NO_REPEAT <= k + 1 || tries > 10000)
            return i;
    }
}

static size_t pick_distance(const library *L, double tv, double ta, rng *g, const size_t *last,
                            size_t k)
{
    size_t best[NEAREST], nb = 0;
    double bd[NEAREST];
    for (size_t i = 0; i < L->n; i++) {
        if (!L->t[i].has_point || (last[i] && last[i] + NO_REPEAT > k + 1))
            continue;
        double d = hypot(L->t[i].valence - tv, L->t[i].arousal - ta);
        if (nb == NEAREST && d >= bd[NEAREST - 1])
            continue;
        size_t j = nb < NEAREST ? nb++ : NEAREST - 1;
        for (; j > 0 && bd[j - 1] > d; j--) {
            best[j] = best[j - 1];
            bd[j] = bd[j - 1];
        }
        best[j] = i;
        bd[j] = d;
    }
    return best[below(g, nb)];
}

static void run(const library *L, const listener *P, size_t li, int picker, const pool *pools,
                results *R)
{
    char err[ET_ERR_MAX] = "";
    et_rec *rec = NULL;
    if (picker != P_RANDOM)
        fail_rec(et_rec_new(L->t, L->n, sim_seed + 31u * li, &rec, err), "et_rec_new", err);
    rng react_g = rng_of(sim_seed + 7919u * li, 3);        /* the same for every picker */
    rng pick_g = rng_of(sim_seed + 7919u * li, 4 + (uint64_t)picker);
    size_t *played = calloc(SONGS, sizeof *played);
    size_t *last = calloc(L->n, sizeof *last); /* song number + 1 of its latest play */
    char *seen_artist = calloc(L->n_artists, 1), *seen_track = calloc(L->n, 1);
    if (!played || !last || !seen_artist || !seen_track) {
        fprintf(stderr, "sim_recommend: out of memory\n");
        exit(1);
    }
    size_t distinct_t = 0, distinct_a = 0, top = 0, likes = 0, last_likes = 0;
    for (size_t k = 0; k < SONGS; k++) {
        double mv = mood_v[P->mood[k]], ma = mood_a[P->mood[k]];
        if (rec && P->mood_starts[k] && k > 0)
            et_rec_session_reset(rec);
        size_t i;
        if (picker == P_EMOTUNE || picker == P_UNTAUGHT) {
            et_rec_pick pick;
            fail_rec(et_rec_next(rec, P->policy, mv, ma, &pick, err), "et_rec_next", err);
            i = pick.index;
        } else if (picker == P_RANDOM) {
            i = pick_random(&pools[P->mood[k]], &pick_g, last, k);
        } else {
            double tv, ta;
            et_rec_pick shadow;
            fail_rec(et_rec_target(rec, P->policy, mv, ma, &tv, &ta, err), "et_rec_target", err);
            /* moves the shadow's session steps on like emotune's; its pick is unused */
            fail_rec(et_rec_next(rec, P->policy, mv, ma, &shadow, err), "et_rec_next", err);
            i = pick_distance(L, tv, ta, &pick_g, last, k);
        }
        double at;
        reaction re = react(P, L, k, i, boredom(L, k, i, played), &react_g, &at);
        if (picker == P_EMOTUNE) {
            et_rec_feedback_kind kind = re == R_LIKE   ? ET_REC_LIKE
                                        : re == R_SKIP ? ET_REC_SKIP
                                                       : ET_REC_COMPLETE;
            fail_rec(et_rec_feedback(rec, L->ids[i], kind, at, mv, ma, err), "et_rec_feedback",
                     err);
        }
        played[k] = i;
        last[i] = k + 1;
        double wv, wa;
        wanted(P, k, &wv, &wa);
        R->fit += hypot(L->true_v[i] - wv, L->true_a[i] - wa);
        R->like[k / WIN] += re == R_LIKE;
        R->skip[k / WIN] += re == R_SKIP;
        R->like10 += re == R_LIKE && k < 10;
        R->skip10 += re == R_SKIP && k < 10;
        R->likes += re == R_LIKE;
        R->skips += re == R_SKIP;
        likes += re == R_LIKE;
        last_likes += re == R_LIKE && k >= SONGS - WIN;
        distinct_t += !seen_track[i];
        seen_track[i] = 1;
        distinct_a += !seen_artist[L->artist[i]];
        seen_artist[L->artist[i]] = 1;
        for (int j = 0; j < TOP_ARTISTS; j++)
            top += L->artist[i] == P->top_artist[j];
    }
    R->distinct_tracks += (double)distinct_t;
    R->distinct_artists += (double)distinct_a;
    R->top_share += (double)top / SONGS;
    R->by_policy_like[P->policy] += (double)likes / SONGS;
    R->by_policy_last[P->policy] += (double)last_likes / WIN;
    free(played);
    free(last);
    free(seen_artist);
    free(seen_track);
    et_rec_free(rec);
}

/* ---- the pick time at 100,000 tracks (the only wall-clock figure) ---- */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void time_picks(double *median, double *p95, double *max)
{
    library L;
    make_library(&L, TIMING_TRACKS, TIMING_ARTISTS, sim_seed + 99);
    char err[ET_ERR_MAX] = "";
    et_rec *rec = NULL;
    fail_rec(et_rec_new(L.t, L.n, sim_seed, &rec, err), "et_rec_new", err);
    rng g = rng_of(sim_seed, 99);
    for (int k = 0; k < 2000; k++) { /* earlier feedback, in every mood */
        size_t m = below(&g, MOODS), i = below(&g, L.n);
        fail_rec(et_rec_feedback(rec, L.ids[i], (et_rec_feedback_kind)below(&g, 3), unif(&g),
                                 mood_v[m], mood_a[m], err),
                 "et_rec_feedback", err);
    }
    double ms[TIMING_PICKS];
    for (int k = -20; k < TIMING_PICKS; k++) { /* 20 warm-up picks */
        size_t m = (size_t)(k + 20) / 25 % MOODS;
        et_rec_policy policy = (et_rec_policy)((size_t)(k + 20) / 75 % 3);
        et_rec_pick pick;
        double t0 = now_ms();
        fail_rec(et_rec_next(rec, policy, mood_v[m], mood_a[m], &pick, err), "et_rec_next", err);
        double t1 = now_ms();
        if (k >= 0)
            ms[k] = t1 - t0;
        fail_rec(et_rec_feedback(rec, pick.id, (et_rec_feedback_kind)below(&g, 3), unif(&g),
                                 mood_v[m], mood_a[m], err),
                 "et_rec_feedback", err);
    }
    qsort(ms, TIMING_PICKS, sizeof ms[0], cmp_double);
    *median = (ms[TIMING_PICKS / 2 - 1] + ms[TIMING_PICKS / 2]) / 2;
    *p95 = ms[TIMING_PICKS * 95 / 100];
    *max = ms[TIMING_PICKS - 1];
    et_rec_free(rec);
    free_library(&L);
}

/* ---- main ---- */

static void print_array(const double *x, size_t n, double scale)
{
    printf("[");
    for (size_t j = 0; j < n; j++)
        printf("%s%.4f", j ? ", " : "", x[j] * scale);
    printf("]");
}

int main(int argc, char **argv)
{
    bool timing = true;
    for (int k = 1; k < argc; k++) {
        if (strcmp(argv[k], "--no-timing") == 0) {
            timing = false;
        } else if (strcmp(argv[k], "--seed") == 0 && k + 1 < argc) {
            sim_seed = strtoull(argv[++k], NULL, 10);
        } else {
            fprintf(stderr, "usage: sim_recommend [--no-timing] [--seed N]\n");
            return 2;
        }
    }
    for (size_t m = 0; m < MOODS; m++) {
        if (!et_mood_named_point(mood_names[m], &mood_v[m], &mood_a[m])) {
            fprintf(stderr, "sim_recommend: no point for mood %s\n", mood_names[m]);
            return 1;
        }
    }
    library L;
    make_library(&L, LIB_TRACKS, ARTISTS, sim_seed);
    pool pools[MOODS];
    size_t with_point = 0, no_tempo = 0;
    for (size_t m = 0; m < MOODS; m++) {
        pools[m].idx = calloc(L.n, sizeof *pools[m].idx);
        pools[m].n = 0;
    }
    for (size_t i = 0; i < L.n; i++) {
        no_tempo += L.t[i].tempo == 0;
        if (!L.t[i].has_point)
            continue;
        with_point++;
        pool *p = &pools[nearest_mood(L.t[i].valence, L.t[i].arousal)];
        p->idx[p->n++] = i;
    }

    static results R[PICKERS];
    double random_track_like = 0; /* the model's base rate: uniform tracks, no boredom */
    size_t n_random = 0;
    for (size_t li = 0; li < LISTENERS; li++) {
        listener P;
        make_listener(&P, &L, li);
        for (int p = 0; p < PICKERS; p++)
            run(&L, &P, li, p, pools, &R[p]);
        rng g = rng_of(sim_seed + li, 5);
        for (size_t k = 0; k < SONGS; k++, n_random++) {
            size_t i = below(&g, L.n);
            double at;
            random_track_like += react(&P, &L, k, i, 0.0, &g, &at) == R_LIKE;
        }
        free_listener(&P);
    }

    double med = 0, p95 = 0, max = 0;
    if (timing)
        time_picks(&med, &p95, &max);

    const double per = 1.0 / LISTENERS, per_song = 1.0 / (LISTENERS * (double)SONGS);
    printf("{\n  \"seed\": %llu, \"tracks\": %d, \"genres\": %d, \"artists\": %d,\n",
           (unsigned long long)sim_seed, LIB_TRACKS, GENRES, ARTISTS);
    printf("  \"tracks_without_features\": %zu, \"tracks_without_tempo\": %zu,\n",
           L.n - with_point, no_tempo);
    printf("  \"listeners\": %d, \"songs\": %d, \"window\": %d,\n", LISTENERS, SONGS, WIN);
    printf("  \"random_track_like_rate\": %.4f,\n", random_track_like / (double)n_random);
    printf("  \"mood_pool_sizes\": {");
    for (size_t m = 0; m < MOODS; m++)
        printf("%s\"%s\": %zu", m ? ", " : "", mood_names[m], pools[m].n);
    printf("},\n  \"pickers\": [\n");
    for (int p = 0; p < PICKERS; p++) {
        const results *r = &R[p];
        printf("    {\"name\": \"%s\",\n     \"like\": ", picker_names[p]);
        print_array(r->like, SONGS / WIN, 1.0 / (LISTENERS * WIN));
        printf(",\n     \"skip\": ");
        print_array(r->skip, SONGS / WIN, 1.0 / (LISTENERS * WIN));
        printf(",\n     \"like_first10\": %.4f, \"skip_first10\": %.4f",
               r->like10 / (LISTENERS * 10.0), r->skip10 / (LISTENERS * 10.0));
        printf(",\n     \"like_rate\": %.4f, \"skip_rate\": %.4f, \"distinct_tracks\": %.1f, "
               "\"distinct_artists\": %.1f, \"top5_artist_share\": %.4f, "
               "\"mean_distance\": %.4f,\n",
               r->likes * per_song, r->skips * per_song, r->distinct_tracks * per,
               r->distinct_artists * per, r->top_share * per, r->fit * per_song);
        printf("     \"like_rate_by_policy\": {");
        for (int q = 0; q < ET_REC__POLICY_COUNT; q++)
            printf("%s\"%s\": [%.4f, %.4f]", q ? ", " : "", et_rec_policy_name((et_rec_policy)q),
                   r->by_policy_like[q] * 3 * per, r->by_policy_last[q] * 3 * per);
        printf("}}%s\n", p + 1 < PICKERS ? "," : "");
    }
    printf("  ],\n");
    if (timing)
        printf("  \"pick_ms\": {\"tracks\": %d, \"picks\": %d, \"median\": %.3f, \"p95\": %.3f, "
               "\"max\": %.3f, \"budget\": %.1f}\n",
               TIMING_TRACKS, TIMING_PICKS, med, p95, max, TIMING_BUDGET_MS);
    else
        printf("  \"pick_ms\": null\n");
    printf("}\n");
    for (size_t m = 0; m < MOODS; m++)
        free(pools[m].idx);
    free_library(&L);
    return 0;
}
