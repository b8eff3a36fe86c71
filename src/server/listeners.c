/* server: a listener's camera -- frames in, the smoothed mood out, and the
 * mood into the listener's history when it changes name or at most every
 * history_every_s. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report/report.h"
#include "server/server_internal.h"

double et__wall_time(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void listener_free(et__listener *l)
{
    if (!l)
        return;
    et_mood_tracker_free(l->tracker);
    pthread_mutex_destroy(&l->lock);
    pthread_mutex_destroy(&l->bucket_lock);
    free(l);
}

void et__listeners_free(et_server *s)
{
    for (size_t i = 0; i < s->n_listeners; i++)
        listener_free(s->listeners[i]);
    free(s->listeners);
    s->listeners = NULL;
    s->n_listeners = 0;
}

static double monotonic_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The rate limit's clock (and the table's). */
static double server_clock(et_server *s)
{
    return s->clock ? s->clock(s->clock_ctx) : monotonic_seconds();
}

/* The live listener `name`, or NULL; with the table's lock held. */
static et__listener *find_locked(et_server *s, const char *name)
{
    for (size_t i = 0; i < s->n_listeners; i++)
        if (strcmp(s->listeners[i]->name, name) == 0)
            return s->listeners[i];
    return NULL;
}

/* The same, taking the table's lock; held (et__listener_put) when found. */
static et__listener *find(et_server *s, const char *name)
{
    pthread_mutex_lock(&s->listeners_lock);
    et__listener *found = find_locked(s, name);
    if (found)
        found->refs++;
    pthread_mutex_unlock(&s->listeners_lock);
    return found;
}

void et__listener_put(et_server *s, et__listener *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&s->listeners_lock);
    bool last = --l->refs == 0 && l->gone;
    pthread_mutex_unlock(&s->listeners_lock);
    if (last)
        listener_free(l);
}

size_t et__listeners_count(et_server *s)
{
    pthread_mutex_lock(&s->listeners_lock);
    size_t n = s->n_listeners;
    pthread_mutex_unlock(&s->listeners_lock);
    return n;
}

/* Takes entry i out of the table (it is freed now, or by the last request
 * holding it); with the table's lock held. */
static void drop_locked(et_server *s, size_t i, et__listener **free_now)
{
    et__listener *l = s->listeners[i];
    s->listeners[i] = s->listeners[--s->n_listeners];
    l->gone = true;
    if (l->refs == 0) {
        l->next_free = *free_now;
        *free_now = l;
    }
}

/* Makes room for one more: every listener idle for listener_idle_s leaves,
 * then, when the table is still full, the least recently seen. With the
 * table's lock held; what is to be freed goes on *free_now. */
static void make_room_locked(et_server *s, double now, et__listener **free_now)
{
    for (size_t i = s->n_listeners; i-- > 0;)
        if (now - s->listeners[i]->used_at > s->listener_idle_s)
            drop_locked(s, i, free_now);
    if (s->n_listeners < s->max_listeners)
        return;
    size_t oldest = 0;
    for (size_t i = 1; i < s->n_listeners; i++)
        if (s->listeners[i]->used_at < s->listeners[oldest]->used_at)
            oldest = i;
    drop_locked(s, oldest, free_now);
}

/* A tracker with the profile's smoothing. */
static et_status new_tracker(const et_listener_profile *p, et_mood_tracker **out, char *err)
{
    et_mood_opts o = et_mood_default_opts();
    o.tau_s = p->tau_s;
    o.hold_s = p->hold_s;
    return et_mood_tracker_new(&o, out, err);
}

/* A new live listener with the profile's smoothing (read before any lock:
 * the store is not touched under the table's lock). */
static et__listener *make(et_store *st, const char *name, et__reply *fail)
{
    char err[ET_ERR_MAX];
    et__listener *l = calloc(1, sizeof *l);
    if (!l) {
        *fail = et__error(503, ET_E_NOMEM, "out of memory");
        return NULL;
    }
    snprintf(l->name, sizeof l->name, "%s", name);
    pthread_mutex_init(&l->lock, NULL);
    pthread_mutex_init(&l->bucket_lock, NULL);
    et_status rc = et_listener_profile_load(st, name, &l->profile, err);
    if (rc == ET_OK)
        rc = new_tracker(&l->profile, &l->tracker, err);
    if (rc != ET_OK) {
        *fail = et__error(rc == ET_E_INVALID ? 400 : 503, rc, "%s", err);
        listener_free(l);
        return NULL;
    }
    return l;
}

void et__listener_profile_changed(et_server *s, const et_listener_profile *p)
{
    et__listener *l = find(s, p->name);
    if (!l)
        return;
    et_mood_tracker *fresh = NULL;
    if (new_tracker(p, &fresh, NULL) != ET_OK) {
        et__listener_put(s, l);
        return; /* out of memory: the old smoothing stays */
    }
    pthread_mutex_lock(&l->lock);
    l->profile = *p;
    et_mood_tracker *old = l->tracker;
    l->tracker = fresh;
    pthread_mutex_unlock(&l->lock);
    et_mood_tracker_free(old);
    et__listener_put(s, l);
}

/* Whether two profiles smooth alike, within the 15 significant digits the
 * store keeps (a profile saved here equals itself read back). */
static bool same_smoothing(const et_listener_profile *a, const et_listener_profile *b)
{
    return fabs(a->tau_s - b->tau_s) <= 1e-9 * a->tau_s &&
           fabs(a->hold_s - b->hold_s) <= 1e-9 * a->hold_s;
}

/* Another server sharing the store may have saved the listener's profile:
 * the stored one replaces the cached one, and new smoothing starts the
 * tracker over, as a PUT here does. On a store error the cached one serves
 * (a frame needs the store only to write the history). */
static void refresh_profile(et_server *s, et_store *st, et__listener *l)
{
    char err[ET_ERR_MAX];
    et_listener_profile p;
    if (et_listener_profile_load(st, l->name, &p, err) != ET_OK)
        return;
    pthread_mutex_lock(&l->lock);
    bool same = same_smoothing(&p, &l->profile);
    if (same)
        l->profile = p;
    pthread_mutex_unlock(&l->lock);
    if (!same)
        et__listener_profile_changed(s, &p);
}

et__listener *et__listener_get(et_server *s, et_store *st, const char *name, et__reply *fail)
{
    et__listener *l = find(s, name);
    if (l) {
        refresh_profile(s, st, l);
        pthread_mutex_lock(&s->listeners_lock);
        l->used_at = server_clock(s);
        pthread_mutex_unlock(&s->listeners_lock);
        return l;
    }
    et__listener *fresh = make(st, name, fail);
    if (!fresh)
        return NULL;
    et__listener *free_now = NULL;
    double now = server_clock(s);
    pthread_mutex_lock(&s->listeners_lock);
    l = find_locked(s, name); /* made meanwhile? */
    if (!l) {
        make_room_locked(s, now, &free_now); /* one pass: a new name is rare */
        et__listener **grown =
            realloc(s->listeners, (s->n_listeners + 1) * sizeof *s->listeners);
        if (grown) {
            s->listeners = grown;
            s->listeners[s->n_listeners++] = l = fresh;
            fresh = NULL;
        }
    }
    if (l) {
        l->refs++;
        l->used_at = now;
    }
    pthread_mutex_unlock(&s->listeners_lock);
    listener_free(fresh);
    while (free_now) {
        et__listener *next = free_now->next_free;
        listener_free(free_now);
        free_now = next;
    }
    if (!l)
        *fail = et__error(503, ET_E_NOMEM, "out of memory");
    return l;
}

/* The listener's name from the path, checked; false with a 400 in *fail. */
bool et__check_name(const char *name, et__reply *fail)
{
    char err[ET_ERR_MAX];
    if (et_listener_check_name(name, err) == ET_OK)
        return true;
    *fail = et__error(400, ET_E_INVALID, "%s", err);
    return false;
}

/* This thread's store handle; false with a 503 in *fail. */
et_store *et__store(et_server *s, et__reply *fail)
{
    char err[ET_ERR_MAX];
    et__worker *w = et__worker_get(s, err);
    et_store *st = w ? et__worker_store(s, w, err) : NULL;
    if (!st)
        *fail = et__error(503, ET_E_UNAVAILABLE, "the store cannot be reached: %s", err);
    return st;
}

/* The capture time: ?t=SECONDS on the client's clock (any clock that
 * only goes forward), else the server's; false with a 400 in *fail. */
static bool capture_time(const et__call *c, double *t, et__reply *fail)
{
    const char *v = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "t");
    char err[ET_ERR_MAX];
    bool given;
    if (!et__query_time(v, t, &given, err)) {
        *fail = et__error(400, ET_E_INVALID, "%s", err);
        return false;
    }
    if (!given)
        *t = et__wall_time();
    return true;
}

static json_t *state_json(const et_mood_state *m)
{
    return json_pack("{s:s,s:f,s:f,s:f,s:f,s:b,s:s}", "name", m->name, "valence", m->valence,
                     "arousal", m->arousal, "confidence", m->confidence, "smiling_share",
                     m->smiling_share, "has_face", m->has_face, "source", "face");
}

/* Whether the history's newest mood was written after `since` (by another
 * server, or by hand), into *newest; false when not, or on a store error
 * (*rc). One store read: the history keeps its newest entry at hand. */
static bool history_newer(et_store *st, const char *name, double since,
                          et_listener_mood *newest, et_status *rc, char *err)
{
    bool found = false;
    *rc = et_listener_mood_latest(st, name, newest, &found, err);
    return *rc == ET_OK && found && newest->time > since;
}

/* Writes the mood to the history when its name changed since the last
 * write here, or the last is history_every_s old, or the history's newest
 * entry (written meanwhile elsewhere: the listener's frames went to another
 * server for a while) names another mood; with l locked. An unknown mood
 * (no face, or not sure enough) is not history: it is never written. */
static et_status maybe_record(et_server *s, et_store *st, et__listener *l,
                              const et_mood_state *m, bool *recorded, char *err)
{
    double now = et__wall_time();
    *recorded = false;
    if (strcmp(m->name, "unknown") == 0)
        return ET_OK;
    et_status rc = ET_OK;
    if (strcmp(m->name, l->recorded_name) == 0 && now - l->recorded_at < s->history_every_s) {
        et_listener_mood newest;
        if (!history_newer(st, l->name, l->recorded_at, &newest, &rc, err) ||
            strcmp(newest.mood, m->name) == 0)
            return rc;
    }
    et_listener_mood rec = {.time = now, .valence = m->valence, .arousal = m->arousal,
                            .confidence = m->confidence, .smiling = m->smiling_share};
    snprintf(rec.mood, sizeof rec.mood, "%s", m->name);
    snprintf(rec.source, sizeof rec.source, "face");
    rc = et_listener_mood_add(st, &l->profile, &rec, NULL, err);
    if (rc == ET_OK) {
        snprintf(l->recorded_name, sizeof l->recorded_name, "%s", m->name);
        l->recorded_at = now;
        *recorded = true;
    }
    return rc;
}

/* Takes one frame from the listener's token bucket, which holds up to
 * max(1, frames_per_s) frames and refills at frames_per_s on the server's
 * clock; false with a 429 in *fail (and counted) when it is empty, so the
 * frame is dropped before it is decoded. */
static bool take_frame(et_server *s, et__listener *l, et__reply *fail)
{
    double rate = s->frames_per_s;
    if (rate <= 0)
        return true;
    double burst = fmax(1, rate), now = server_clock(s);
    pthread_mutex_lock(&l->bucket_lock);
    if (!l->bucket_primed) {
        l->tokens = burst;
        l->tokens_at = now;
        l->bucket_primed = true;
    } else if (now > l->tokens_at) {
        l->tokens = fmin(burst, l->tokens + (now - l->tokens_at) * rate);
        l->tokens_at = now;
    }
    bool allowed = l->tokens >= 1;
    if (allowed)
        l->tokens -= 1;
    double wait = (1 - l->tokens) / rate;
    pthread_mutex_unlock(&l->bucket_lock);
    if (allowed)
        return true;
    atomic_fetch_add(&s->frames_dropped, 1);
    atomic_fetch_add(&s->limited[ET__LIMIT_FRAMES], 1);
    char msg[ET_ERR_MAX];
    snprintf(msg, sizeof msg, "listener %s posts frames faster than %g a second: wait %.2f s",
             l->name, rate, wait);
    *fail = (et__reply){.status = 429, .retry_after_s = (unsigned)ceil(fmax(1, wait)),
                        .json = json_pack("{s:{s:s,s:s}}", "error", "code", "rate_limited",
                                          "message", msg)};
    return false;
}

/* The frame's listener: one already live pays the rate limit before the
 * picture is decoded (*l set, the picture not yet seen); a new name becomes
 * a listener only once its picture has decoded (*l set after et__see, its
 * bucket full), so bodies that do not decode never fill the table. False
 * with the error in *fail (the picture freed). */
static bool frame_listener(et_server *s, const et__call *c, et_store *st,
                           const et_detect_opts *see, et__listener **l, et_image *img,
                           et_face *faces, size_t *n, et__reply *fail)
{
    if ((*l = find(s, c->name))) {
        if (!take_frame(s, *l, fail)) {
            et__listener_put(s, *l);
            return false;
        }
        refresh_profile(s, st, *l);
        if (!et__see(s, c->req, see, img, faces, n, fail)) {
            et__listener_put(s, *l);
            return false;
        }
        return true;
    }
    if (!et__see(s, c->req, see, img, faces, n, fail))
        return false;
    if (!(*l = et__listener_get(s, st, c->name, fail)) || !take_frame(s, *l, fail)) {
        et__listener_put(s, *l);
        et_image_free(img);
        return false;
    }
    return true;
}

et__reply et__frames(et_server *s, const et__call *c)
{
    et__reply fail;
    double t;
    et_store *st;
    et__listener *l;
    et_listener_override o;
    bool held;
    et_detect_opts see;
    if (!et__check_name(c->name, &fail) || !capture_time(c, &t, &fail) ||
        !et__detect_opts(s, c, &see, &fail) || !(st = et__store(s, &fail)))
        return fail;
    et_image img;
    et_face faces[ET__MAX_FACES];
    size_t n;
    if (!frame_listener(s, c, st, &see, &l, &img, faces, &n, &fail))
        return fail;
    if (!et__override_get(st, c->name, &o, &held, &fail)) {
        et_image_free(&img);
        et__listener_put(s, l);
        return fail;
    }
    et_listener_calibration cal; /* the listener's own face, read through it */
    et__calibrate_faces(st, c->name, faces, n, &cal);
    char err[ET_ERR_MAX];
    et_mood_state m;
    bool recorded = false;
    pthread_mutex_lock(&l->lock);
    et_status rc = et_mood_tracker_push(l->tracker, t, faces, n, err);
    if (rc == ET_OK)
        rc = et_mood_tracker_state(l->tracker, &m);
    if (rc == ET_OK && maybe_record(s, st, l, &m, &recorded, err) != ET_OK)
        rc = ET_E_UNAVAILABLE;
    l->last_frame_at = et__wall_time(); /* after its own history entry */
    pthread_mutex_unlock(&l->lock);
    pthread_mutex_lock(&s->listeners_lock);
    l->used_at = server_clock(s);
    pthread_mutex_unlock(&s->listeners_lock);
    et__listener_put(s, l);
    json_t *seen = rc == ET_OK ? et_report_faces(NULL, &img, &see, faces, n) : NULL;
    et__calibrated_json(json_object_get(seen, "faces"), faces, n, &cal);
    et_image_free(&img);
    if (rc != ET_OK)
        return et__error(rc == ET_E_INVALID ? 400 : 503, rc, "%s", err);
    /* the camera's mood, and the stated one when it holds */
    json_t *doc = json_pack("{s:O,s:O,s:o,s:b,s:o}", "detection",
                            json_object_get(seen, "detection"), "faces",
                            json_object_get(seen, "faces"), "mood", state_json(&m),
                            "recorded", recorded, "override",
                            held ? et__override_json(&o) : json_null());
    json_decref(seen);
    return (et__reply){.status = 200, .json = doc};
}

/* et__current_mood but for a stated mood: the camera's on this server, unless
 * the history has a newer mood (the listener's frames went to another server
 * since, or a mood was given by hand), else the history's. */
static bool camera_or_history(et_server *s, et_store *st, const char *name,
                              et_listener_mood *out, bool *live, et__reply *fail)
{
    *live = false;
    fail->status = 0;
    char err[ET_ERR_MAX];
    et_status rc;
    et__listener *l = find(s, name);
    if (l) {
        et_mood_state m;
        pthread_mutex_lock(&l->lock);
        et_mood_tracker_state(l->tracker, &m);
        double last_frame_at = l->last_frame_at;
        pthread_mutex_unlock(&l->lock);
        et__listener_put(s, l);
        if (m.frames && strcmp(m.name, "unknown") != 0) {
            if (history_newer(st, name, last_frame_at, out, &rc, err))
                return true;
            /* the camera's (also when the store cannot say: it is what we know) */
            *out = (et_listener_mood){.time = et__wall_time(), .valence = m.valence,
                                      .arousal = m.arousal, .confidence = m.confidence,
                                      .smiling = m.smiling_share};
            snprintf(out->mood, sizeof out->mood, "%s", m.name);
            snprintf(out->source, sizeof out->source, "face");
            return *live = true;
        }
    }
    bool found = false;
    if (et_listener_mood_latest(st, name, out, &found, err) != ET_OK)
        *fail = et__error(503, ET_E_UNAVAILABLE, "%s", err);
    return found;
}

bool et__current_mood(et_server *s, et_store *st, const char *name, et_listener_mood *out,
                      bool *live, et__reply *fail)
{
    *live = false;
    et_listener_override o;
    bool held;
    if (!et__override_get(st, name, &o, &held, fail))
        return false;
    if (held) {
        et__override_mood(&o, out);
        return true;
    }
    return camera_or_history(s, st, name, out, live, fail);
}

static json_t *mood_json(const et_listener_mood *m, bool live)
{
    return json_pack("{s:s,s:f,s:f,s:f,s:s,s:b,s:f}", "name", m->mood, "valence", m->valence,
                     "arousal", m->arousal, "confidence", m->confidence, "source", m->source,
                     "live", live, "time", m->time);
}

json_t *et__override_json(const et_listener_override *o)
{
    et_listener_mood m;
    et__override_mood(o, &m);
    json_t *doc = mood_json(&m, false);
    if (json_object_set_new(doc, "until", o->until ? json_real(o->until) : json_null()) != 0) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

et__reply et__mood(et_server *s, const et__call *c)
{
    et__reply fail;
    et_store *st;
    et_listener_override o;
    bool held;
    if (!et__check_name(c->name, &fail) || !(st = et__store(s, &fail)) ||
        !et__override_get(st, c->name, &o, &held, &fail))
        return fail;
    et__listener *l = find(s, c->name);
    et_mood_state cam = {.frames = 0};
    double last_frame_at = 0;
    if (l) { /* the camera's own state, even while unknown */
        pthread_mutex_lock(&l->lock);
        et_mood_tracker_state(l->tracker, &cam);
        last_frame_at = l->last_frame_at;
        pthread_mutex_unlock(&l->lock);
        et__listener_put(s, l);
    }
    if (held) { /* the stated mood, and what the camera sees meanwhile */
        json_t *doc = et__override_json(&o);
        if (doc && json_object_set_new(doc, "camera", cam.frames ? state_json(&cam)
                                                                 : json_null()) != 0)
            doc = (json_decref(doc), NULL);
        return (et__reply){.status = 200, .json = doc};
    }
    et_listener_mood m;
    bool live;
    char err[ET_ERR_MAX];
    et_status rc;
    /* nobody in front of this server's camera, unless the listener was seen
     * elsewhere since (a newer mood in the history) */
    if (cam.frames && strcmp(cam.name, "unknown") == 0 &&
        !history_newer(st, c->name, last_frame_at, &m, &rc, err))
        return (et__reply){.status = 200, .json = state_json(&cam)};
    if (!camera_or_history(s, st, c->name, &m, &live, &fail))
        return fail.status ? fail
                           : et__error(404, ET_E_NOT_FOUND,
                                       "no mood known for listener %s yet: post camera frames",
                                       c->name);
    return (et__reply){.status = 200, .json = mood_json(&m, live)};
}

/* A query number in [lo, hi] (whole when integral), or def when absent;
 * false with a 400 in *fail. */
static bool query_number(const et__call *c, const char *key, double lo, double hi,
                         bool integral, double def, double *out, et__reply *fail)
{
    const char *v = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, key);
    char err[ET_ERR_MAX];
    if (et__query_number(key, v, lo, hi, integral, def, out, err))
        return true;
    *fail = et__error(400, ET_E_INVALID, "%s", err);
    return false;
}

/* The draw's seed: ?seed=N, else from the clock (printed in the reply). */
static uint64_t clock_seed(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ((uint64_t)ts.tv_sec * 1000003u ^ (uint64_t)ts.tv_nsec) % 1000000000ULL;
}

et__reply et__next(et_server *s, const et__call *c)
{
    et__reply fail = {0};
    et_store *st;
    double count, seed_d, peek_d;
    if (!et__check_name(c->name, &fail) || !(st = et__store(s, &fail)) ||
        !query_number(c, "count", 1, 100, true, 5, &count, &fail) ||
        !query_number(c, "seed", 0, 999999999, true, -1, &seed_d, &fail) ||
        !query_number(c, "peek", 0, 1, true, 0, &peek_d, &fail))
        return fail;
    char err[ET_ERR_MAX];
    et_listener_profile prof;
    if (et_listener_profile_load(st, c->name, &prof, err) != ET_OK)
        return et__error(503, ET_E_UNAVAILABLE, "%s", err);
    et_rec_policy policy = prof.policy;
    const char *p = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "policy");
    if (p && et_rec_policy_parse(p, &policy, err) != ET_OK)
        return et__error(400, ET_E_INVALID, "%s", err);
    et_listener_mood m;
    bool live;
    if (!et__current_mood(s, st, c->name, &m, &live, &fail))
        return fail.status ? fail
                           : et__error(404, ET_E_NOT_FOUND,
                                       "no mood known for listener %s yet: post camera frames",
                                       c->name);
    uint64_t seed = seed_d >= 0 ? (uint64_t)seed_d : clock_seed();
    et_listener_session *se;
    et_status rc = et__next_session(s, st, c->name, seed, &se, err);
    if (rc != ET_OK)
        return et__error(rc == ET_E_NOT_FOUND ? 404 : 503, rc, "%s", err);
    et_rec_pick picks[100];
    rc = et_listener_next(st, se, c->name, policy, m.valence, m.arousal, (size_t)count,
                          peek_d == 1, et__wall_time(), picks, err);
    json_t *queue = rc == ET_OK ? json_array() : NULL;
    for (size_t k = 0; queue && k < (size_t)count; k++)
        json_array_append_new(queue, et_report_pick(&se->tracks[picks[k].index], &picks[k],
                                                    false));
    size_t library = se->n;
    et_listener_session_free(se);
    if (rc != ET_OK)
        return et__error(rc == ET_E_INVALID ? 400 : 503, rc, "%s", err);
    return (et__reply){.status = 200,
                       .json = json_pack("{s:s,s:o,s:s,s:I,s:I,s:o}", "listener", c->name,
                                         "mood", mood_json(&m, live), "policy",
                                         et_rec_policy_name(policy), "seed", (json_int_t)seed,
                                         "library", (json_int_t)library, "queue", queue)};
}
