/* listener: the tracks queued for a listener's playing, kept in the store so
 * that the no-repeat window and the artist spacing hold across requests,
 * processes, servers and restarts, not only inside one recommender. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listener/listener_internal.h"

#define QUEUED_SUFFIX "/queued"

static void queued_id(char out[ET__LISTENER_ID_MAX], const char *name)
{
    snprintf(out, ET__LISTENER_ID_MAX, "%s%s", name, QUEUED_SUFFIX);
}

typedef struct append_ctx {
    const char *const *ids;
    size_t n;
    double now;
} append_ctx;

/* The stored document's list (a new reference), or a new empty one when
 * the document is absent (NULL) or holds no list. */
static json_t *list_in(const json_t *doc)
{
    json_t *list = json_object_get(doc, "tracks");
    return json_is_array(list) ? json_incref(list) : json_array();
}

/* et_store_update_fn: the stored list plus the new tracks, the oldest
 * dropped beyond ET_LISTENER_QUEUED_MAX. */
static et_status append_tracks(void *user, const char *old, size_t old_len, char **out,
                               size_t *out_len, char *err)
{
    const append_ctx *c = user;
    json_t *stored = old ? json_loadb(old, old_len, 0, NULL) : NULL;
    json_t *list = list_in(stored);
    json_decref(stored);
    int ok = list != NULL;
    for (size_t i = 0; ok && i < c->n; i++)
        ok = json_array_append_new(list, json_pack("{s:s, s:f}", "id", c->ids[i], "time",
                                                   c->now)) == 0;
    while (ok && json_array_size(list) > ET_LISTENER_QUEUED_MAX)
        ok = json_array_remove(list, 0) == 0;
    json_t *doc = ok ? json_pack("{s:o}", "tracks", list) : NULL;
    if (!doc)
        json_decref(list);
    *out = doc ? et__json_dump(doc, out_len) : NULL;
    json_decref(doc);
    return *out ? ET_OK : et_fail(err, ET_E_NOMEM, "out of memory");
}

et_status et_listener_queued_add(et_store *s, const char *name, const char *const *track_ids,
                                 size_t n, double now, char *err)
{
    if (!s || (n && !track_ids))
        return et_fail(err, ET_E_INVALID, "et_listener_queued_add: NULL argument");
    et_status st = et_listener_check_name(name, err);
    if (st != ET_OK)
        return st;
    if (!isfinite(now) || now <= 0)
        return et_fail(err, ET_E_INVALID, "queue time %g is not a Unix time", now);
    for (size_t i = 0; i < n; i++)
        if ((st = et_store_check_id(track_ids[i], err)) != ET_OK)
            return st;
    if (n == 0)
        return ET_OK;
    char id[ET__LISTENER_ID_MAX];
    queued_id(id, name);
    append_ctx c = {track_ids, n, now};
    return et_store_update(s, ET_LISTENER_PROFILES, id, append_tracks, &c, err);
}

et_status et_listener_queued(et_store *s, const char *name, et_listener_queued_track **out,
                             size_t *n, char *err)
{
    if (!s || !out || !n)
        return et_fail(err, ET_E_INVALID, "et_listener_queued: NULL argument");
    *out = NULL;
    *n = 0;
    et_status st = et_listener_check_name(name, err);
    if (st != ET_OK)
        return st;
    char id[ET__LISTENER_ID_MAX];
    queued_id(id, name);
    json_t *doc;
    st = et__listener_get_json(s, ET_LISTENER_PROFILES, id, &doc, err);
    if (st != ET_OK || !doc)
        return st;
    json_t *list = list_in(doc);
    json_decref(doc);
    size_t count = json_array_size(list);
    et_listener_queued_track *items = count ? calloc(count, sizeof *items) : NULL;
    if (count && !items) {
        json_decref(list);
        return et_fail(err, ET_E_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < count; i++) {
        json_t *e = json_array_get(list, i);
        et_listener_queued_track t = {.time = et__json_number(e, "time", NAN)};
        et__json_copy_string(e, "id", t.track, sizeof t.track);
        if (!t.track[0] || !isfinite(t.time)) {
            et_log(ET_LOG_WARN, "profiles/%s: skipping entry %zu, not a queued track", id, i);
            continue;
        }
        items[(*n)++] = t;
    }
    json_decref(list);
    if (*n)
        *out = items;
    else
        free(items);
    return ET_OK;
}

et_status et_listener_next(et_store *s, et_listener_session *se, const char *name,
                           et_rec_policy policy, double valence, double arousal, size_t n,
                           bool peek, double now, et_rec_pick *picks, char *err)
{
    if (!s || !se || !picks)
        return et_fail(err, ET_E_INVALID, "et_listener_next: NULL argument");
    et_status st = ET_OK;
    for (size_t k = 0; k < n && st == ET_OK; k++)
        st = et_rec_next(se->rec, policy, valence, arousal, &picks[k], err);
    if (st != ET_OK || peek || n == 0)
        return st;
    const char **ids = calloc(n, sizeof *ids);
    if (!ids)
        return et_fail(err, ET_E_NOMEM, "out of memory");
    for (size_t k = 0; k < n; k++)
        ids[k] = se->tracks[picks[k].index].id;
    st = et_listener_queued_add(s, name, ids, n, now, err);
    free(ids);
    return st;
}
