/* Recommendation: policies, scoring with Thompson sampling, the seeded draw
 * and the feedback model. The formulas are in recommend.h. */
#include "recommend/recommend.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mood/mood.h"

/* Mood quadrants, the context in which feedback counts. */
enum { Q_HAPPY, Q_CALM, Q_SAD, Q_TENSE, QUADS };
static const char *const quad_names[QUADS] = {"happy", "calm", "sad", "tense"};

/* Beta pseudo-counts beyond the Beta(1, 1) prior. */
typedef struct counts {
    float a, b;
} counts;

typedef struct rtrack {
    const char *id, *genre_name;
    int32_t artist, genre; /* -1: unknown */
    float v, a, tempo;
    bool has_point;
    uint64_t last_pick; /* pick number (1-based) of its latest pick; 0 never */
    counts pref[QUADS];
} rtrack;

/* Artists or genres: Beta counts per quadrant, and this pick's draw (one
 * per artist per pick, shared by its tracks: Thompson sampling among
 * artists, not among their many tracks). */
typedef struct group {
    size_t n;
    counts *pref;        /* [id * QUADS + quadrant] */
    double *theta;       /* the draw of pick number epoch[id] */
    uint64_t *epoch;
} group;

static double group_theta(struct et_rec *r, group *g, int32_t id, int q, uint64_t now,
                          double prior);

struct et_rec {
    rtrack *t;
    size_t n;
    char *strings;      /* every copied string, one block */
    uint32_t *id_slots; /* open addressing: track index + 1, 0 empty */
    size_t id_mask;
    group artists, genres;
    uint64_t *artist_last; /* pick number of each artist's latest pick */
    int32_t *artist_genre; /* each artist's genre: that of its first track with one */
    uint64_t rng[4];
    uint64_t picks;
    size_t window;
    int32_t last_artist;
    et_rec_policy session_policy;
    bool in_session;
    uint64_t session_steps;
};

/* ---- random numbers: xoshiro256** seeded by splitmix64 (Blackman and
 * Vigna, https://prng.di.unimi.it/xoshiro256starstar.c) ---- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t next_u64(uint64_t s[4])
{
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1). */
static double uniform(uint64_t s[4]) { return (double)(next_u64(s) >> 11) * 0x1.0p-53; }

static double normal(uint64_t s[4])
{
    double u1 = 1.0 - uniform(s); /* (0, 1] */
    double u2 = uniform(s);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* Gamma(shape, 1): Marsaglia and Tsang, "A simple method for generating
 * gamma variables", ACM TOMS 26(3), 2000; shape < 1 by their boost. */
static double gamma_sample(uint64_t s[4], double shape)
{
    if (shape < 1.0) {
        double u = 1.0 - uniform(s);
        return gamma_sample(s, shape + 1.0) * pow(u, 1.0 / shape);
    }
    double d = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x = normal(s), v = 1.0 + c * x;
        if (v <= 0.0)
            continue;
        v = v * v * v;
        double u = 1.0 - uniform(s);
        if (log(u) < 0.5 * x * x + d - d * v + d * log(v))
            return d * v;
    }
}

/* Thompson sample of Beta(alpha, beta); Beta(1, 1) is the uniform draw. */
static double beta_sample(uint64_t s[4], double alpha, double beta)
{
    if (alpha == 1.0 && beta == 1.0)
        return uniform(s);
    double x = gamma_sample(s, alpha), y = gamma_sample(s, beta);
    return x + y > 0.0 ? x / (x + y) : 0.5;
}

/* ---- strings ---- */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

static size_t table_size(size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    return cap;
}

static bool known(const char *s) { return s && *s; }

/* Id of name in an interning table (keys: the first name seen, ids: its
 * number), adding it when new. */
static int32_t intern(const char **keys, int32_t *ids, size_t mask, const char *name,
                      size_t *count)
{
    for (size_t h = hash_str(name) & mask;; h = (h + 1) & mask) {
        if (!keys[h]) {
            keys[h] = name;
            ids[h] = (int32_t)(*count)++;
            return ids[h];
        }
        if (strcmp(keys[h], name) == 0)
            return ids[h];
    }
}

static const rtrack *find_track(const et_rec *r, const char *id, size_t *index)
{
    for (size_t h = hash_str(id) & r->id_mask;; h = (h + 1) & r->id_mask) {
        uint32_t slot = r->id_slots[h];
        if (!slot)
            return NULL;
        if (strcmp(r->t[slot - 1].id, id) == 0) {
            if (index)
                *index = slot - 1;
            return &r->t[slot - 1];
        }
    }
}

/* ---- construction ---- */

static bool in_range(double x, double lo, double hi) { return isfinite(x) && x >= lo && x <= hi; }

static et_status check_track(const et_rec_track *t, size_t i, char *err)
{
    if (!known(t->id))
        return et_fail(err, ET_E_INVALID, "track %zu: no id", i);
    if (t->has_point && (!in_range(t->valence, -1, 1) || !in_range(t->arousal, -1, 1)))
        return et_fail(err, ET_E_INVALID,
                       "track %zu (%s): valence %g, arousal %g: each must be in [-1, 1]", i,
                       t->id, t->valence, t->arousal);
    if (!isfinite(t->tempo) || t->tempo < 0)
        return et_fail(err, ET_E_INVALID, "track %zu (%s): tempo %g must be >= 0", i, t->id,
                       t->tempo);
    return ET_OK;
}

static char *copy_str(char **at, const char *s)
{
    if (!known(s))
        return NULL;
    size_t len = strlen(s) + 1;
    char *d = memcpy(*at, s, len);
    *at += len;
    return d;
}

/* Copies the strings and interns artists and genres. */
static et_status fill_tracks(et_rec *r, const et_rec_track *tracks, char *err)
{
    size_t cap = table_size(r->n);
    const char **akeys = calloc(cap, sizeof *akeys), **gkeys = calloc(cap, sizeof *gkeys);
    int32_t *aids = calloc(cap, sizeof *aids), *gids = calloc(cap, sizeof *gids);
    et_status st = ET_OK;
    if (!akeys || !gkeys || !aids || !gids) {
        st = et_fail(err, ET_E_NOMEM, "no memory for %zu tracks", r->n);
        goto done;
    }
    char *at = r->strings;
    for (size_t i = 0; i < r->n; i++) {
        const et_rec_track *src = &tracks[i];
        rtrack *t = &r->t[i];
        t->id = copy_str(&at, src->id);
        const char *artist = copy_str(&at, src->artist);
        t->genre_name = copy_str(&at, src->genre);
        t->artist = artist ? intern(akeys, aids, cap - 1, artist, &r->artists.n) : -1;
        t->genre = t->genre_name ? intern(gkeys, gids, cap - 1, t->genre_name, &r->genres.n)
                                 : -1;
        t->has_point = src->has_point;
        t->v = src->has_point ? (float)src->valence : 0.0f;
        t->a = src->has_point ? (float)src->arousal : 0.0f;
        t->tempo = (float)src->tempo;
        size_t h = hash_str(t->id) & r->id_mask;
        for (; r->id_slots[h]; h = (h + 1) & r->id_mask) {
            if (strcmp(r->t[r->id_slots[h] - 1].id, t->id) == 0) {
                st = et_fail(err, ET_E_INVALID, "track %zu: id %s already used by track %u",
                             i, t->id, r->id_slots[h] - 1);
                goto done;
            }
        }
        r->id_slots[h] = (uint32_t)i + 1;
    }
done:
    free(akeys);
    free(gkeys);
    free(aids);
    free(gids);
    return st;
}

static bool group_alloc(group *g)
{
    g->pref = calloc((g->n + 1) * QUADS, sizeof *g->pref);
    g->theta = calloc(g->n + 1, sizeof *g->theta);
    g->epoch = calloc(g->n + 1, sizeof *g->epoch);
    return g->pref && g->theta && g->epoch;
}

static void group_free(group *g)
{
    free(g->pref);
    free(g->theta);
    free(g->epoch);
}

et_status et_rec_new(const et_rec_track *tracks, size_t n, uint64_t seed, et_rec **out,
                     char *err)
{
    if (!out)
        return et_fail(err, ET_E_INVALID, "et_rec_new: out is NULL");
    *out = NULL;
    if (!tracks || n == 0)
        return et_fail(err, ET_E_INVALID, "no tracks to recommend from");
    if (n >= UINT32_MAX)
        return et_fail(err, ET_E_INVALID, "%zu tracks: too many", n);
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        et_status st = check_track(&tracks[i], i, err);
        if (st != ET_OK)
            return st;
        bytes += strlen(tracks[i].id) + 1;
        bytes += known(tracks[i].artist) ? strlen(tracks[i].artist) + 1 : 0;
        bytes += known(tracks[i].genre) ? strlen(tracks[i].genre) + 1 : 0;
    }
    et_rec *r = calloc(1, sizeof *r);
    if (!r)
        return et_fail(err, ET_E_NOMEM, "no memory for a recommender");
    r->n = n;
    r->id_mask = table_size(n) - 1;
    r->t = calloc(n, sizeof *r->t);
    r->strings = malloc(bytes);
    r->id_slots = calloc(r->id_mask + 1, sizeof *r->id_slots);
    et_status st;
    if (!r->t || !r->strings || !r->id_slots) {
        st = et_fail(err, ET_E_NOMEM, "no memory for %zu tracks", n);
        goto fail;
    }
    if ((st = fill_tracks(r, tracks, err)) != ET_OK)
        goto fail;
    r->artist_last = calloc(r->artists.n + 1, sizeof *r->artist_last);
    r->artist_genre = malloc((r->artists.n + 1) * sizeof *r->artist_genre);
    if (!r->artist_last || !r->artist_genre || !group_alloc(&r->artists) ||
        !group_alloc(&r->genres)) {
        st = et_fail(err, ET_E_NOMEM, "no memory for %zu artists", r->artists.n);
        goto fail;
    }
    for (size_t a = 0; a <= r->artists.n; a++)
        r->artist_genre[a] = -1;
    for (size_t i = 0; i < n; i++)
        if (r->t[i].artist >= 0 && r->artist_genre[r->t[i].artist] < 0)
            r->artist_genre[r->t[i].artist] = r->t[i].genre;
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->rng[i] = splitmix64(&x);
    r->window = n - 1 < ET_REC_WINDOW ? n - 1 : ET_REC_WINDOW;
    r->last_artist = -1;
    *out = r;
    return ET_OK;
fail:
    et_rec_free(r);
    return st;
}

void et_rec_free(et_rec *r)
{
    if (!r)
        return;
    free(r->t);
    free(r->strings);
    free(r->id_slots);
    free(r->artist_last);
    free(r->artist_genre);
    group_free(&r->artists);
    group_free(&r->genres);
    free(r);
}

size_t et_rec_count(const et_rec *r) { return r ? r->n : 0; }

void et_rec_session_reset(et_rec *r)
{
    if (r)
        r->in_session = false;
}

/* ---- policies ---- */

static const char *const policy_names[ET_REC__POLICY_COUNT] = {"match", "lift", "calm"};

const char *et_rec_policy_name(et_rec_policy p)
{
    return (unsigned)p < ET_REC__POLICY_COUNT ? policy_names[p] : NULL;
}

et_status et_rec_policy_parse(const char *name, et_rec_policy *out, char *err)
{
    for (int p = 0; name && p < ET_REC__POLICY_COUNT; p++) {
        if (strcmp(name, policy_names[p]) == 0) {
            if (out)
                *out = (et_rec_policy)p;
            return ET_OK;
        }
    }
    return et_fail(err, ET_E_INVALID, "unknown policy \"%s\" (match, lift or calm)",
                   name ? name : "(null)");
}

static et_status check_mood(et_rec_policy policy, double v, double a, char *err)
{
    if ((unsigned)policy >= ET_REC__POLICY_COUNT)
        return et_fail(err, ET_E_INVALID, "unknown policy %d (match, lift or calm)",
                       (int)policy);
    if (!in_range(v, -1, 1) || !in_range(a, -1, 1))
        return et_fail(err, ET_E_INVALID, "mood valence %g, arousal %g: each must be in [-1, 1]",
                       v, a);
    return ET_OK;
}

/* x moved by at most step towards goal. */
static double approach(double x, double goal, double step)
{
    return x < goal ? fmin(x + step, goal) : fmax(x - step, goal);
}

/* x raised by at most step towards goal, never lowered. */
static double raise_to(double x, double goal, double step)
{
    return x < goal ? fmin(x + step, goal) : x;
}

static uint64_t steps_for(const et_rec *r, et_rec_policy policy)
{
    return r->in_session && r->session_policy == policy ? r->session_steps : 0;
}

static void target_of(et_rec_policy policy, uint64_t steps, double v, double a, double *tv,
                      double *ta)
{
    double k = (double)steps;
    *tv = v;
    *ta = a;
    if (policy == ET_REC_LIFT) {
        *tv = raise_to(v, ET_REC_LIFT_VALENCE, k * ET_REC_LIFT_STEP);
        *ta = approach(a, ET_REC_LIFT_AROUSAL, k * ET_REC_LIFT_AROUSAL_STEP);
    } else if (policy == ET_REC_CALM) {
        *ta = -raise_to(-a, -ET_REC_CALM_AROUSAL, k * ET_REC_CALM_STEP);
        *tv = raise_to(v, ET_REC_CALM_VALENCE, k * ET_REC_CALM_VALENCE_STEP);
    }
}

et_status et_rec_target(const et_rec *r, et_rec_policy policy, double mood_v, double mood_a,
                        double *tv, double *ta, char *err)
{
    if (!r || !tv || !ta)
        return et_fail(err, ET_E_INVALID, "et_rec_target: NULL argument");
    et_status st = check_mood(policy, mood_v, mood_a, err);
    if (st != ET_OK)
        return st;
    target_of(policy, steps_for(r, policy), mood_v, mood_a, tv, ta);
    return ET_OK;
}

static int quadrant(double v, double a)
{
    if (v >= 0)
        return a >= 0 ? Q_HAPPY : Q_CALM;
    return a >= 0 ? Q_TENSE : Q_SAD;
}

/* ---- the pick ---- */

typedef struct top {
    size_t n;
    size_t idx[ET_REC_TOP_K];
    double score[ET_REC_TOP_K];
} top;

/* Keeps the ET_REC_TOP_K best, sorted best first. */
static void top_add(top *t, size_t idx, double score)
{
    size_t i = t->n;
    if (i == ET_REC_TOP_K) {
        if (score <= t->score[i - 1])
            return;
        i--;
    } else {
        t->n++;
    }
    for (; i > 0 && t->score[i - 1] < score; i--) {
        t->idx[i] = t->idx[i - 1];
        t->score[i] = t->score[i - 1];
    }
    t->idx[i] = idx;
    t->score[i] = score;
}

static size_t top_draw(const top *t, uint64_t rng[4])
{
    double w[ET_REC_TOP_K], sum = 0;
    for (size_t i = 0; i < t->n; i++)
        sum += w[i] = exp((t->score[i] - t->score[0]) / ET_REC_TEMPERATURE);
    double u = uniform(rng) * sum;
    for (size_t i = 0; i < t->n; i++) {
        if (u < w[i])
            return i;
        u -= w[i];
    }
    return t->n - 1;
}

static double distance(const rtrack *t, double tv, double ta)
{
    if (!t->has_point)
        return ET_REC_MISSING_DIST;
    double dv = t->v - tv, da = t->a - ta;
    return sqrt(dv * dv + da * da);
}

/* Posterior mean of counts c over a prior of mean m (ET_REC_PRIOR
 * pseudo-counts). */
static double post_mean(const counts *c, double m)
{
    return (ET_REC_PRIOR * m + c->a) / (ET_REC_PRIOR + c->a + c->b);
}

static double beta_draw(et_rec *r, const counts *c, double m)
{
    return beta_sample(r->rng, ET_REC_PRIOR * m + c->a, ET_REC_PRIOR * (1.0 - m) + c->b);
}

static const counts *pref_of(const group *g, int32_t id, int q)
{
    return &g->pref[(size_t)id * QUADS + (size_t)q];
}

static double group_theta(et_rec *r, group *g, int32_t id, int q, uint64_t now, double prior)
{
    if (g->epoch[id] != now) {
        g->theta[id] = beta_draw(r, pref_of(g, id, q), prior);
        g->epoch[id] = now;
    }
    return g->theta[id];
}

/* Scores every allowed track into best (others) and fallback (the previous
 * pick's artist). */
static void score_all(et_rec *r, double tv, double ta, int q, top *best, top *fallback)
{
    uint64_t now = r->picks + 1;
    double track_scale = r->window ? (double)r->window : 1.0;
    for (size_t i = 0; i < r->n; i++) {
        const rtrack *t = &r->t[i];
        double fresh = 0;
        if (t->last_pick) {
            uint64_t age = now - t->last_pick;
            if (age <= r->window)
                continue;
            fresh += ET_REC_W_TRACK * exp(-(double)(age - r->window) / track_scale);
        }
        if (t->artist >= 0 && r->artist_last[t->artist])
            fresh += ET_REC_W_ARTIST *
                     exp(-(double)(now - r->artist_last[t->artist] - 1) / ET_REC_ARTIST_TAU);
        top *into = t->artist >= 0 && t->artist == r->last_artist ? fallback : best;
        double base = -ET_REC_W_DIST * distance(t, tv, ta) - fresh;
        /* theta <= 1: a track that cannot beat the K-th best whatever its
         * draw needs no draw (the result is the same, and a pick among
         * 100,000 tracks draws only for the few near the target). */
        if (into->n == ET_REC_TOP_K && base + ET_REC_W_PREF <= into->score[ET_REC_TOP_K - 1])
            continue;
        /* the hierarchy of priors: genre (0.5) -> artist -> track */
        double m = t->genre >= 0 ? post_mean(pref_of(&r->genres, t->genre, q), 0.5) : 0.5;
        double sum = 0, theta = 0;
        if (t->genre >= 0) {
            theta += ET_REC_PREF_GENRE * group_theta(r, &r->genres, t->genre, q, now, 0.5);
            sum += ET_REC_PREF_GENRE;
        }
        if (t->artist >= 0) {
            int32_t hg = r->artist_genre[t->artist];
            double ma = hg >= 0 ? post_mean(pref_of(&r->genres, hg, q), 0.5) : 0.5;
            theta += ET_REC_PREF_ARTIST * group_theta(r, &r->artists, t->artist, q, now, ma);
            sum += ET_REC_PREF_ARTIST;
            m = post_mean(pref_of(&r->artists, t->artist, q), ma);
        }
        sum += ET_REC_PREF_TRACK;
        /* the same with the artist's and genre's draws known */
        if (into->n == ET_REC_TOP_K &&
            base + ET_REC_W_PREF * (theta + ET_REC_PREF_TRACK) / sum <=
                into->score[ET_REC_TOP_K - 1])
            continue;
        theta += ET_REC_PREF_TRACK * beta_draw(r, &t->pref[q], m);
        top_add(into, i, base + ET_REC_W_PREF * theta / sum);
    }
}

static bool liked(const counts *c) { return c->a >= 1.0f && c->a > c->b; }

static void describe(const et_rec *r, const rtrack *t, et_rec_policy policy, uint64_t steps,
                     double mood_v, double mood_a, double tv, double ta, int q, char *out,
                     size_t size)
{
    char what[48];
    if (!t->has_point) {
        snprintf(what, sizeof what, "mood not yet known");
    } else {
        const char *energy = t->a <= -0.3f ? "calm" : t->a >= 0.3f ? "energetic" : "steady";
        const char *second = t->tempo > 0 ? (t->tempo < 90 ? "slow" : t->tempo >= 130 ? "fast"
                                                                                   : "mid-tempo")
                                          : (t->v >= 0.3f ? "bright" : t->v <= -0.3f ? "dark"
                                                                                     : "mellow");
        snprintf(what, sizeof what, "%s and %s", energy, second);
    }
    const char *who = NULL;
    if (liked(&t->pref[q]))
        who = "this song";
    else if (t->artist >= 0 && liked(&r->artists.pref[(size_t)t->artist * QUADS + (size_t)q]))
        who = "this artist";
    else if (t->genre >= 0 && liked(&r->genres.pref[(size_t)t->genre * QUADS + (size_t)q]))
        who = t->genre_name;
    if (who) {
        snprintf(out, size, "%s, you liked %s when %s", what, who, quad_names[q]);
        return;
    }
    const char *mood = et_mood_nearest_named(mood_v, mood_a);
    const char *aim = policy == ET_REC_MATCH || steps == 0 ? ""
                    : policy == ET_REC_LIFT                ? "a step up from "
                                                           : "a step towards calm from ";
    if (distance(t, tv, ta) > ET_REC_FAR)
        snprintf(out, size, "%s, the nearest in your library to %syour %s mood", what, aim, mood);
    else if (!*aim)
        snprintf(out, size, "%s, matches your %s mood", what, mood);
    else
        snprintf(out, size, "%s, %syour %s mood", what, aim, mood);
}

/* The track becomes the newest pick. */
static void record_play(et_rec *r, rtrack *t)
{
    r->picks++;
    t->last_pick = r->picks;
    if (t->artist >= 0)
        r->artist_last[t->artist] = r->picks;
    r->last_artist = t->artist;
}

et_status et_rec_mark_played(et_rec *r, const char *track_id, char *err)
{
    if (!r || !track_id)
        return et_fail(err, ET_E_INVALID, "et_rec_mark_played: NULL argument");
    size_t i;
    if (!find_track(r, track_id, &i))
        return et_fail(err, ET_E_NOT_FOUND, "no track %s among the %zu candidates", track_id,
                       r->n);
    record_play(r, &r->t[i]);
    return ET_OK;
}

et_status et_rec_next(et_rec *r, et_rec_policy policy, double mood_v, double mood_a,
                      et_rec_pick *out, char *err)
{
    if (!r || !out)
        return et_fail(err, ET_E_INVALID, "et_rec_next: NULL argument");
    et_status st = check_mood(policy, mood_v, mood_a, err);
    if (st != ET_OK)
        return st;
    uint64_t steps = steps_for(r, policy);
    double tv, ta;
    target_of(policy, steps, mood_v, mood_a, &tv, &ta);
    int q = quadrant(mood_v, mood_a);
    top best = {0}, fallback = {0};
    score_all(r, tv, ta, q, &best, &fallback);
    /* The window leaves at least one track (it is at most n - 1 long). */
    const top *from = best.n ? &best : &fallback;
    size_t k = top_draw(from, r->rng);
    size_t i = from->idx[k];
    rtrack *t = &r->t[i];

    record_play(r, t);
    r->in_session = true;
    r->session_policy = policy;
    r->session_steps = steps + 1;

    memset(out, 0, sizeof *out);
    out->index = i;
    out->id = t->id;
    out->target_v = tv;
    out->target_a = ta;
    out->distance = distance(t, tv, ta);
    out->score = from->score[k];
    describe(r, t, policy, steps, mood_v, mood_a, tv, ta, q, out->reason, sizeof out->reason);
    return ET_OK;
}

/* ---- feedback ---- */

et_status et_rec_feedback(et_rec *r, const char *track_id, et_rec_feedback_kind kind,
                          double at_fraction, double mood_v, double mood_a, char *err)
{
    if (!r || !track_id)
        return et_fail(err, ET_E_INVALID, "et_rec_feedback: NULL argument");
    if ((unsigned)kind >= ET_REC__FEEDBACK_COUNT)
        return et_fail(err, ET_E_INVALID, "unknown feedback kind %d (like, skip or complete)",
                       (int)kind);
    if (!in_range(at_fraction, 0, 1))
        return et_fail(err, ET_E_INVALID, "position %g in the song must be in [0, 1]",
                       at_fraction);
    et_status st = check_mood(ET_REC_MATCH, mood_v, mood_a, err);
    if (st != ET_OK)
        return st;
    size_t i;
    if (!find_track(r, track_id, &i))
        return et_fail(err, ET_E_NOT_FOUND, "no track %s among the %zu candidates", track_id,
                       r->n);
    float da = kind == ET_REC_LIKE ? 1.0f : kind == ET_REC_COMPLETE ? 0.25f : 0.0f;
    float db = kind == ET_REC_SKIP ? (float)(1.0 - at_fraction) : 0.0f;
    int q = quadrant(mood_v, mood_a);
    rtrack *t = &r->t[i];
    counts *cs[3] = {&t->pref[q], NULL, NULL};
    if (t->artist >= 0)
        cs[1] = &r->artists.pref[(size_t)t->artist * QUADS + (size_t)q];
    if (t->genre >= 0)
        cs[2] = &r->genres.pref[(size_t)t->genre * QUADS + (size_t)q];
    for (int k = 0; k < 3; k++) {
        if (cs[k]) {
            cs[k]->a += da;
            cs[k]->b += db;
        }
    }
    return ET_OK;
}
