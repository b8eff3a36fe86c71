/* listener: feedback on tracks, with the mood it was given in. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "library/library.h"
#include "listener/listener_internal.h"
#include "mood/mood.h"

static const char *const kind_names[ET_REC__FEEDBACK_COUNT] = {"like", "skip", "complete"};

const char *et_listener_feedback_kind_name(et_rec_feedback_kind k)
{
    return (unsigned)k < ET_REC__FEEDBACK_COUNT ? kind_names[k] : NULL;
}

et_status et_listener_feedback_kind_parse(const char *name, et_rec_feedback_kind *out,
                                          char *err)
{
    for (int k = 0; name && k < ET_REC__FEEDBACK_COUNT; k++) {
        if (strcmp(name, kind_names[k]) == 0) {
            *out = (et_rec_feedback_kind)k;
            return ET_OK;
        }
    }
    return et_fail(err, ET_E_INVALID, "unknown feedback '%.32s': like, skip or complete",
                   name ? name : "(null)");
}

/* The id of the listener's feedback stamp (listener.h). */
static void stamp_key(char out[ET__LISTENER_ID_MAX], const char *name)
{
    snprintf(out, ET__LISTENER_ID_MAX, "%s/feedback_stamp", name);
}

/* Checks what the caller gives (the fraction is computed later). */
static et_status check_feedback(const et_listener_feedback *f, char *err)
{
    if (!isfinite(f->time) || f->time <= 0)
        return et_fail(err, ET_E_INVALID, "feedback time %g is not a Unix time", f->time);
    if (!et_listener_feedback_kind_name(f->kind))
        return et_fail(err, ET_E_INVALID, "unknown feedback kind %d: like, skip or complete",
                       (int)f->kind);
    if (f->at_s != -1 && !(isfinite(f->at_s) && f->at_s >= 0))
        return et_fail(err, ET_E_INVALID, "position %g s in the song is not a time", f->at_s);
    et_status st = et__listener_check_point(f->valence, f->arousal, err);
    if (st != ET_OK)
        return st;
    if (strcmp(f->mood, "unknown") != 0 && !et_mood_named_point(f->mood, NULL, NULL))
        return et_fail(err, ET_E_INVALID, "unknown mood name '%.16s'", f->mood);
    return et_store_check_id(f->track, err);
}

/* The track's duration in seconds (0 when unknown); ET_E_NOT_FOUND when the
 * library has no such track. */
static et_status track_duration(et_store *s, const char *track, double *duration, char *err)
{
    char *json = NULL;
    size_t len = 0;
    et_status st = et_store_get(s, ET_LIBRARY_TRACKS, track, &json, &len, err);
    if (st == ET_E_NOT_FOUND)
        return et_fail(err, ET_E_NOT_FOUND, "no track %s in the library (emotune tracks lists them)",
                       track);
    if (st != ET_OK)
        return st;
    json_t *doc = json_loadb(json, len, 0, NULL);
    free(json);
    double d = et__json_number(doc, "duration", 0);
    *duration = isfinite(d) && d > 0 ? d : 0;
    json_decref(doc);
    return ET_OK;
}

/* ---- the count and the retention ----
 * NAME/feedback_count in "profiles" ({"count": N}) counts the listener's
 * feedback: each add adds one and each delete that removed a document takes
 * one, both by atomic updates (et_store_update), so concurrent adds and
 * prunes, from any server, keep it exact. When there is none (a store from
 * before it, or a listener's first feedback) it is made before the new
 * feedback is written, from one walk over the listener's ids, by an update
 * that keeps a count made meanwhile: every feedback written after a count
 * exists is counted once, by its own add. */

static void count_key(char out[ET__LISTENER_ID_MAX], const char *name)
{
    snprintf(out, ET__LISTENER_ID_MAX, "%s/feedback_count", name);
}

/* The stored count; *have false when there is none (or it is not one). */
static bool read_count(const char *json, size_t len, size_t *n)
{
    json_t *doc = json ? json_loadb(json, len, 0, NULL) : NULL;
    double c = et__json_number(doc, "count", -1);
    json_decref(doc);
    if (!(c >= 0 && c <= 1e12))
        return false;
    *n = (size_t)c;
    return true;
}

typedef struct count_change {
    long delta;     /* added to a stored count */
    size_t initial; /* the count when there is none yet */
    size_t after;   /* the count written (of the last call) */
} count_change;

static et_status change_count(void *user, const char *old, size_t old_len, char **out,
                              size_t *out_len, char *err)
{
    count_change *c = user;
    size_t n;
    if (read_count(old, old_len, &n))
        n = c->delta < 0 && (size_t)-c->delta > n ? 0 : n + (size_t)c->delta;
    else
        n = c->initial;
    json_t *doc = json_pack("{s:I}", "count", (json_int_t)n);
    *out = doc ? et__json_dump(doc, out_len) : NULL;
    json_decref(doc);
    c->after = n;
    return *out ? ET_OK : et_fail(err, ET_E_NOMEM, "out of memory");
}

/* The prefix NAME/ of a listener's ids, and a visit that stops past it. */
typedef struct id_walk {
    char prefix[ET_LISTENER_MAX_NAME + 2];
    size_t prefix_len;
    size_t n;           /* ids seen */
    size_t over;        /* the oldest this many go whatever their age */
    double cutoff;      /* and those older than this (Unix seconds) */
    char (*ids)[ET__LISTENER_ID_MAX]; /* the ids to delete (cap of them) */
    size_t n_ids, cap;
} id_walk;

static void walk_init(id_walk *w, const char *name)
{
    memset(w, 0, sizeof *w);
    snprintf(w->prefix, sizeof w->prefix, "%s/", name);
    w->prefix_len = strlen(w->prefix);
}

static int count_id(void *user, const char *id, const char *json, size_t len)
{
    (void)json, (void)len;
    id_walk *w = user;
    if (strncmp(id, w->prefix, w->prefix_len) != 0)
        return 1;
    w->n++;
    return 0;
}

/* Oldest first: takes the ids that expire, stops at the first that does
 * not (or when the page is full). */
static int expired_id(void *user, const char *id, const char *json, size_t len)
{
    (void)json, (void)len;
    id_walk *w = user;
    if (strncmp(id, w->prefix, w->prefix_len) != 0)
        return 1;
    double t = strtod(id + w->prefix_len, NULL) / 1000.0; /* NAME/TIME-RAND, ms */
    if (!(w->n < w->over || t < w->cutoff) || w->n_ids == w->cap)
        return 1;
    w->n++;
    snprintf(w->ids[w->n_ids++], ET__LISTENER_ID_MAX, "%s", id);
    return 0;
}

/* Ids deleted per page of the retention. */
#define PRUNE_PAGE 64

/* et_store_update_fn: the count as it is, or c->initial when there is none. */
static et_status make_count(void *user, const char *old, size_t old_len, char **out,
                            size_t *out_len, char *err)
{
    count_change *c = user;
    size_t n;
    if (!read_count(old, old_len, &n))
        return change_count(user, NULL, 0, out, out_len, err);
    *out = strndup(old, old_len);
    *out_len = old_len;
    c->after = n;
    return *out ? ET_OK : et_fail(err, ET_E_NOMEM, "out of memory");
}

/* Makes the listener's count when there is none (before their new feedback
 * is written: see above). */
static et_status ensure_count(et_store *s, const char *name, char *err)
{
    char key[ET__LISTENER_ID_MAX], *json = NULL;
    size_t len = 0, stored;
    count_key(key, name);
    et_status st = et_store_get(s, ET_LISTENER_PROFILES, key, &json, &len, err);
    bool have = st == ET_OK && read_count(json, len, &stored);
    free(json);
    if (st != ET_OK && st != ET_E_NOT_FOUND)
        return st;
    if (have)
        return ET_OK;
    id_walk w;
    walk_init(&w, name);
    st = et_store_iterate(s, ET_LISTENER_FEEDBACK, w.prefix, 0, count_id, &w, err);
    count_change c = {.initial = w.n};
    return st == ET_OK ? et_store_update(s, ET_LISTENER_PROFILES, key, make_count, &c, err) : st;
}

/* Ids deleted per page of the retention. */
#define PRUNE_PAGE 64

/* Adds the new feedback to the count, then deletes the oldest beyond
 * p->feedback_max and those older than p->feedback_days before `now`, in
 * pages; costs what it deletes. */
static et_status keep_within(et_store *s, const et_listener_profile *p, double now, char *err)
{
    char key[ET__LISTENER_ID_MAX];
    count_key(key, p->name);
    id_walk w;
    walk_init(&w, p->name);
    count_change c = {.delta = 1, .initial = 1};
    et_status st = et_store_update(s, ET_LISTENER_PROFILES, key, change_count, &c, err);
    if (st != ET_OK)
        return st;
    w.ids = malloc(PRUNE_PAGE * sizeof *w.ids);
    if (!w.ids)
        return et_fail(err, ET_E_NOMEM, "out of memory");
    w.cap = PRUNE_PAGE;
    w.cutoff = now - p->feedback_days * 86400.0;
    size_t total = c.after;
    for (;;) {
        w.n = 0;
        w.n_ids = 0;
        w.over = total > p->feedback_max ? total - p->feedback_max : 0;
        st = et_store_iterate(s, ET_LISTENER_FEEDBACK, w.prefix, PRUNE_PAGE, expired_id, &w,
                              err);
        long removed = 0;
        for (size_t i = 0; st == ET_OK && i < w.n_ids; i++) {
            et_status d = et_store_del(s, ET_LISTENER_FEEDBACK, w.ids[i], err);
            if (d == ET_OK)
                removed++;
            else if (d != ET_E_NOT_FOUND) /* not found: another server deleted it first */
                st = d;
        }
        if (removed) {
            count_change down = {.delta = -removed, .initial = 0};
            et_status u = et_store_update(s, ET_LISTENER_PROFILES, key, change_count, &down,
                                          err);
            st = st == ET_OK ? u : st;
            total = down.after;
        }
        if (st != ET_OK || w.n_ids < PRUNE_PAGE)
            break;
    }
    free(w.ids);
    return st;
}

et_status et_listener_feedback_add(et_store *s, const char *name, et_listener_feedback *f,
                                   char *err)
{
    if (!s || !f)
        return et_fail(err, ET_E_INVALID, "et_listener_feedback_add: NULL argument");
    et_status st = et_listener_check_name(name, err);
    if (st == ET_OK)
        st = check_feedback(f, err);
    double duration = 0;
    if (st == ET_OK)
        st = track_duration(s, f->track, &duration, err);
    if (st != ET_OK)
        return st;
    if (f->at_s >= 0 && duration > 0 && f->at_s > duration + 1.0)
        return et_fail(err, ET_E_INVALID, "position %.1f s is past the end of the %.1f s track",
                       f->at_s, duration);
    double length = duration > 0 ? duration : ET_LISTENER_TYPICAL_SONG_S;
    f->fraction = f->at_s >= 0 ? fmin(f->at_s / length, 1.0) : 0.0;
    json_t *doc = json_pack("{s:f, s:s, s:s, s:o, s:f, s:f, s:f, s:s}", "time", f->time,
                            "track", f->track, "kind", et_listener_feedback_kind_name(f->kind),
                            "at", f->at_s >= 0 ? json_real(f->at_s) : json_null(), "fraction",
                            f->fraction, "valence", f->valence, "arousal", f->arousal, "mood",
                            f->mood);
    size_t len = 0;
    char *json = doc ? et__json_dump(doc, &len) : NULL;
    json_decref(doc);
    if (!json)
        return et_fail(err, ET_E_NOMEM, "out of memory");
    et_listener_profile p;
    st = et_listener_profile_load(s, name, &p, err);
    char id[ET__LISTENER_ID_MAX];
    et__listener_event_id(id, name, f->time);
    if (st == ET_OK)
        st = ensure_count(s, name, err);
    if (st == ET_OK)
        st = et_store_put(s, ET_LISTENER_FEEDBACK, id, json, len, err);
    free(json);
    if (st == ET_OK)
        st = keep_within(s, &p, f->time, err);
    if (st != ET_OK)
        return st;
    /* after the write: a cache that missed it finds a new stamp */
    char stamp_id[ET__LISTENER_ID_MAX], why[ET_ERR_MAX];
    stamp_key(stamp_id, name);
    st = et_store_stamp_bump(s, ET_LISTENER_PROFILES, stamp_id, NULL, why);
    if (st != ET_OK)
        et_fail(err, st, "the feedback is stored, but its stamp could not be bumped (%s): "
                         "servers may not see it until the next feedback", why);
    return st;
}

et_status et_listener_feedback_stamp(et_store *s, const char *name, uint64_t *stamp, char *err)
{
    if (!s || !stamp)
        return et_fail(err, ET_E_INVALID, "et_listener_feedback_stamp: NULL argument");
    et_status st = et_listener_check_name(name, err);
    if (st != ET_OK)
        return st;
    char id[ET__LISTENER_ID_MAX];
    stamp_key(id, name);
    return et_store_stamp_read(s, ET_LISTENER_PROFILES, id, stamp, err);
}

/* A stored document back into feedback; false when it is not one. */
bool et__listener_read_feedback(const json_t *doc, et_listener_feedback *f)
{
    memset(f, 0, sizeof *f);
    f->time = et__json_number(doc, "time", NAN);
    et__json_copy_string(doc, "track", f->track, sizeof f->track);
    f->kind = ET_REC__FEEDBACK_COUNT;
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    if (kind && et_listener_feedback_kind_parse(kind, &f->kind, NULL) != ET_OK)
        return false;
    f->at_s = et__json_number(doc, "at", -1);
    f->fraction = et__json_number(doc, "fraction", 0);
    f->valence = et__json_number(doc, "valence", NAN);
    f->arousal = et__json_number(doc, "arousal", NAN);
    et__json_copy_string(doc, "mood", f->mood, sizeof f->mood);
    return check_feedback(f, NULL) == ET_OK && isfinite(f->fraction) && f->fraction >= 0 &&
           f->fraction <= 1;
}

static bool read_any_feedback(const json_t *doc, void *item)
{
    return et__listener_read_feedback(doc, item);
}

et_status et_listener_feedbacks(et_store *s, const char *name, et_listener_feedback **out,
                                size_t *n, char *err)
{
    if (!out)
        return et_fail(err, ET_E_INVALID, "%s: NULL argument", "et_listener_feedbacks");
    void *items = NULL;
    et_status st = et__listener_collect(s, ET_LISTENER_FEEDBACK, name, read_any_feedback,
                                        sizeof **out, "feedback entry", &items, n, err);
    if (st == ET_OK)
        *out = items;
    return st;
}

typedef struct newest_ctx {
    id_walk w;
    et_listener_feedback *items;
    size_t limit, n;
} newest_ctx;

static int take_newest(void *user, const char *id, const char *json, size_t len)
{
    newest_ctx *c = user;
    if (strncmp(id, c->w.prefix, c->w.prefix_len) != 0)
        return 1; /* before this listener's ids */
    json_t *doc = json_loadb(json, len, 0, NULL);
    if (json_is_object(doc) && et__listener_read_feedback(doc, &c->items[c->n]))
        c->n++;
    else
        et_log(ET_LOG_WARN, "skipping %s/%s: not a feedback entry", ET_LISTENER_FEEDBACK, id);
    json_decref(doc);
    return c->n == c->limit;
}

et_status et_listener_feedback_newest(et_store *s, const char *name, size_t limit,
                                      et_listener_feedback **out, size_t *n, size_t *total,
                                      char *err)
{
    if (!s || !out || !n || !total || limit == 0)
        return et_fail(err, ET_E_INVALID, "et_listener_feedback_newest: NULL argument or limit 0");
    *out = NULL;
    *n = *total = 0;
    et_status st = et_listener_check_name(name, err);
    if (st != ET_OK)
        return st;
    newest_ctx c = {.limit = limit};
    walk_init(&c.w, name);
    if (!(c.items = calloc(limit, sizeof *c.items)))
        return et_fail(err, ET_E_NOMEM, "out of memory");
    /* NAME0 is just past every NAME/...: '0' follows '/' */
    char before[ET_LISTENER_MAX_NAME + 2];
    snprintf(before, sizeof before, "%s0", name);
    st = et_store_iterate_back(s, ET_LISTENER_FEEDBACK, before, 0, take_newest, &c, err);
    char key[ET__LISTENER_ID_MAX], *json = NULL;
    size_t len = 0;
    count_key(key, name);
    et_status g = st == ET_OK ? et_store_get(s, ET_LISTENER_PROFILES, key, &json, &len, err) : st;
    bool have = g == ET_OK && read_count(json, len, total);
    free(json);
    if (g != ET_OK && g != ET_E_NOT_FOUND)
        st = g;
    if (st == ET_OK && !have && c.n < limit) {
        *total = c.n; /* no count yet (a store from before it): all were read */
    } else if (st == ET_OK && !have) {
        st = et_store_iterate(s, ET_LISTENER_FEEDBACK, c.w.prefix, 0, count_id, &c.w, err);
        *total = c.w.n;
    }
    if (st == ET_OK && *total < c.n)
        *total = c.n;
    if (st != ET_OK || c.n == 0) {
        free(c.items);
        return st;
    }
    *out = c.items;
    *n = c.n;
    return ET_OK;
}
