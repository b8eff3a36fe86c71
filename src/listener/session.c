/* listener: a recommender over the library, taught by the listener's
 * feedback. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "library/library.h"
#include "listener/listener_internal.h"

typedef struct load_ctx {
    et_listener_track *tracks;
    size_t n, cap, too_short;
    bool nomem;
} load_ctx;

void et__listener_track_free(et_listener_track *t)
{
    free(t->id);
    free(t->title);
    free(t->artist);
    free(t->genre);
    free(t->location);
}

/* A copy of an optional string field: NULL when absent or empty; false when
 * out of memory. */
static bool copy_optional(const json_t *doc, const char *key, char **out)
{
    const char *s = json_string_value(json_object_get(doc, key));
    *out = s && *s ? strdup(s) : NULL;
    return !(s && *s) || *out;
}

/* One stored track document into t; false when out of memory. */
bool et__listener_read_track(const char *id, const json_t *doc, et_listener_track *t)
{
    memset(t, 0, sizeof *t);
    const char *title = json_string_value(json_object_get(doc, "title"));
    const char *url = json_string_value(json_object_get(doc, "url"));
    const char *path = json_string_value(json_object_get(doc, "path"));
    t->is_link = url && !path;
    t->id = strdup(id);
    t->title = strdup(title && *title ? title : id);
    t->location = strdup(path ? path : url ? url : "");
    bool ok = t->id && t->title && t->location && copy_optional(doc, "artist", &t->artist) &&
              copy_optional(doc, "genre", &t->genre);
    if (!ok) {
        et__listener_track_free(t);
        return false;
    }
    double d = et__json_number(doc, "duration", 0);
    t->duration = isfinite(d) && d > 0 ? d : 0;
    double tempo = et__json_number(json_object_get(doc, "features"), "tempo", 0);
    t->tempo = isfinite(tempo) && tempo > 0 && tempo < 1000 ? tempo : 0;
    double v = et__json_number(doc, "valence", NAN), a = et__json_number(doc, "arousal", NAN);
    t->has_point = et__listener_check_point(v, a, NULL) == ET_OK;
    t->valence = t->has_point ? v : 0;
    t->arousal = t->has_point ? a : 0;
    return true;
}

static int load_track(void *user, const char *id, const char *json, size_t len)
{
    load_ctx *c = user;
    json_t *doc = json_loadb(json, len, 0, NULL);
    if (!json_is_object(doc) || json_is_true(json_object_get(doc, "missing"))) {
        json_decref(doc);
        return 0; /* not a track, or its file is gone */
    }
    void *grown = et__listener_grow(c->tracks, c->n, &c->cap, sizeof *c->tracks);
    if (grown)
        c->tracks = grown;
    bool ok = grown && et__listener_read_track(id, doc, &c->tracks[c->n]);
    json_decref(doc);
    if (!ok)
        return c->nomem = true, 1;
    const et_listener_track *t = &c->tracks[c->n];
    if (t->duration > 0 && t->duration < ET_LISTENER_MIN_SONG_S) {
        et__listener_track_free(&c->tracks[c->n]);
        c->too_short++;
        return 0;
    }
    c->n++;
    return 0;
}

static et_status build_rec(et_listener_session *se, uint64_t seed, char *err)
{
    et_rec_track *rt = calloc(se->n, sizeof *rt);
    if (!rt)
        return et_fail(err, ET_E_NOMEM, "out of memory");
    for (size_t i = 0; i < se->n; i++) {
        const et_listener_track *t = &se->tracks[i];
        rt[i] = (et_rec_track){.id = t->id, .artist = t->artist, .genre = t->genre,
                               .valence = t->valence, .arousal = t->arousal,
                               .has_point = t->has_point, .tempo = t->tempo};
    }
    et_status st = et_rec_new(rt, se->n, seed, &se->rec, err);
    free(rt);
    return st;
}

/* One play to replay: a feedback (fb) or a queued track (q). */
typedef struct play {
    double time;
    const et_listener_feedback *fb;
    const et_listener_queued_track *q;
} play;

/* Replays one play: a feedback is also a preference in its mood. */
static et_status replay_one(et_listener_session *se, const play *p, char *err)
{
    const char *track = p->fb ? p->fb->track : p->q->track;
    et_status st = et_rec_mark_played(se->rec, track, NULL);
    if (st == ET_E_NOT_FOUND) { /* no longer in the library (or too short) */
        se->feedback_stale += p->fb != NULL;
        return ET_OK;
    }
    if (st != ET_OK || !p->fb)
        return st;
    st = et_rec_feedback(se->rec, track, p->fb->kind, p->fb->fraction, p->fb->valence,
                         p->fb->arousal, err);
    se->feedback_used += st == ET_OK;
    return st;
}

/* Every feedback and queued track, oldest first. */
static et_status replay_plays(et_listener_session *se, const et_listener_feedback *fb, size_t nf,
                              const et_listener_queued_track *q, size_t nq, char *err)
{
    if (nf + nq == 0)
        return ET_OK;
    play *plays = calloc(nf + nq, sizeof *plays);
    if (!plays)
        return et_fail(err, ET_E_NOMEM, "out of memory");
    /* Both lists are oldest first: merge them, a queueing before a feedback
     * of the same moment. */
    size_t i = 0, j = 0, k = 0;
    while (i < nq || j < nf) {
        if (j == nf || (i < nq && q[i].time <= fb[j].time))
            plays[k++] = (play){.time = q[i].time, .q = &q[i]}, i++;
        else
            plays[k++] = (play){.time = fb[j].time, .fb = &fb[j]}, j++;
    }
    et_status st = ET_OK;
    for (k = 0; k < nf + nq && st == ET_OK; k++)
        st = replay_one(se, &plays[k], err);
    free(plays);
    return st;
}

et_status et_listener_library_load(et_store *s, et_listener_library **out, char *err)
{
    if (!s || !out)
        return et_fail(err, ET_E_INVALID, "et_listener_library_load: NULL argument");
    *out = NULL;
    et_listener_library *lib = calloc(1, sizeof *lib);
    if (!lib)
        return et_fail(err, ET_E_NOMEM, "out of memory");
    atomic_init(&lib->refs, 1);
    load_ctx c = {0};
    et_status st = et_store_iterate(s, ET_LIBRARY_TRACKS, NULL, 0, load_track, &c, err);
    lib->tracks = c.tracks;
    lib->n = c.n;
    lib->too_short = c.too_short;
    if (st == ET_OK && c.nomem)
        st = et_fail(err, ET_E_NOMEM, "out of memory");
    if (st != ET_OK) {
        et_listener_library_release(lib);
        return st;
    }
    *out = lib;
    return ET_OK;
}

void et_listener_library_retain(et_listener_library *lib)
{
    if (lib)
        atomic_fetch_add(&lib->refs, 1);
}

void et_listener_library_release(et_listener_library *lib)
{
    if (!lib || atomic_fetch_sub(&lib->refs, 1) != 1)
        return;
    for (size_t i = 0; i < lib->n; i++)
        et__listener_track_free(&lib->tracks[i]);
    free(lib->tracks);
    free(lib);
}

/* ET_E_NOT_FOUND, saying why, when the library has nothing to recommend. */
static et_status check_not_empty(const et_listener_library *lib, char *err)
{
    if (lib->n)
        return ET_OK;
    if (lib->too_short)
        return et_fail(err, ET_E_NOT_FOUND,
                       "the library has no song of %.0f s or more (%zu shorter files, sound "
                       "effects or jingles, are not recommended): add music with emotune scan DIR",
                       ET_LISTENER_MIN_SONG_S, lib->too_short);
    return et_fail(err, ET_E_NOT_FOUND,
                   "the library is empty: add music with emotune scan DIR or emotune import "
                   "FILE");
}

et_status et_listener_session_new(et_listener_library *lib, const et_listener_feedback *fb,
                                  size_t nf, const et_listener_queued_track *q, size_t nq,
                                  uint64_t seed, et_listener_session **out, char *err)
{
    if (!lib || !out || (nf && !fb) || (nq && !q))
        return et_fail(err, ET_E_INVALID, "et_listener_session_new: NULL argument");
    *out = NULL;
    et_status st = check_not_empty(lib, err);
    if (st != ET_OK)
        return st;
    et_listener_session *se = calloc(1, sizeof *se);
    if (!se)
        return et_fail(err, ET_E_NOMEM, "out of memory");
    et_listener_library_retain(lib);
    se->library = lib;
    se->tracks = lib->tracks;
    se->n = lib->n;
    se->too_short = lib->too_short;
    st = build_rec(se, seed, err);
    if (st == ET_OK)
        st = replay_plays(se, fb, nf, q, nq, err);
    if (st != ET_OK) {
        et_listener_session_free(se);
        return st;
    }
    *out = se;
    return ET_OK;
}

et_status et_listener_session_open(et_store *s, const char *name, uint64_t seed,
                                   et_listener_session **out, char *err)
{
    if (!s || !out)
        return et_fail(err, ET_E_INVALID, "et_listener_session_open: NULL argument");
    *out = NULL;
    et_status st = et_listener_check_name(name, err);
    if (st != ET_OK)
        return st;
    et_listener_library *lib = NULL;
    et_listener_feedback *fb = NULL;
    et_listener_queued_track *q = NULL;
    size_t nf = 0, nq = 0;
    st = et_listener_library_load(s, &lib, err);
    if (st == ET_OK)
        st = check_not_empty(lib, err);
    if (st == ET_OK)
        st = et_listener_feedbacks(s, name, &fb, &nf, err);
    if (st == ET_OK)
        st = et_listener_queued(s, name, &q, &nq, err);
    if (st == ET_OK)
        st = et_listener_session_new(lib, fb, nf, q, nq, seed, out, err);
    et_listener_library_release(lib);
    free(fb);
    free(q);
    return st;
}

void et_listener_session_free(et_listener_session *session)
{
    if (!session)
        return;
    et_rec_free(session->rec);
    et_listener_library_release(session->library);
    free(session);
}
