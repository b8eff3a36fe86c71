/* listener: the mood history, kept within the profile's retention. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listener/listener_internal.h"
#include "mood/mood.h"

static et_status check_mood(const et_listener_mood *m, char *err)
{
    if (!isfinite(m->time) || m->time <= 0)
        return et_fail(err, ET_E_INVALID, "mood time %g is not a Unix time", m->time);
    et_status st = et__listener_check_point(m->valence, m->arousal, err);
    if (st != ET_OK)
        return st;
    if (!isfinite(m->confidence) || m->confidence < 0 || m->confidence > 1)
        return et_fail(err, ET_E_INVALID, "mood confidence %g is not in [0, 1]", m->confidence);
    if (strcmp(m->mood, "unknown") != 0 && !et_mood_named_point(m->mood, NULL, NULL))
        return et_fail(err, ET_E_INVALID, "unknown mood name '%.16s'", m->mood);
    if (m->smiling != -1 && !(isfinite(m->smiling) && m->smiling >= 0 && m->smiling <= 1))
        return et_fail(err, ET_E_INVALID, "smiling share %g is not in [0, 1] (or -1)",
                       m->smiling);
    if (strcmp(m->source, "face") != 0 && strcmp(m->source, "stated") != 0)
        return et_fail(err, ET_E_INVALID, "mood source '%.16s' is neither face nor stated",
                       m->source);
    return ET_OK;
}

static json_t *mood_doc(const et_listener_mood *m)
{
    return json_pack("{s:f, s:f, s:f, s:f, s:s, s:o, s:s}", "time", m->time, "valence",
                     m->valence, "arousal", m->arousal, "confidence", m->confidence, "mood",
                     m->mood, "smiling", m->smiling >= 0 ? json_real(m->smiling) : json_null(),
                     "source", m->source);
}

/* The ids of one listener's history, oldest first, with their times (from
 * the id: NAME/TIME-RAND); the documents themselves are not parsed. */
typedef struct id_time {
    char *id;
    double time;
} id_time;

typedef struct id_list {
    const char *prefix;
    size_t prefix_len;
    id_time *items;
    size_t n, cap;
    bool nomem;
} id_list;

static int collect_id(void *user, const char *id, const char *json, size_t len)
{
    (void)json, (void)len;
    id_list *l = user;
    if (strncmp(id, l->prefix, l->prefix_len) != 0)
        return 1;
    void *grown = et__listener_grow(l->items, l->n, &l->cap, sizeof *l->items);
    char *copy = grown ? strdup(id) : NULL;
    if (grown)
        l->items = grown;
    if (!copy)
        return l->nomem = true, 1;
    l->items[l->n++] = (id_time){copy, strtod(id + l->prefix_len, NULL) / 1000.0};
    return 0;
}

static void id_list_free(id_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i].id);
    free(l->items);
}

/* Lists the ids of `name`'s history into *l (free with id_list_free, also
 * on error); prefix is the caller's buffer. */
static et_status list_ids(et_store *s, const char *name, char prefix[ET_LISTENER_MAX_NAME + 2],
                          id_list *l, char *err)
{
    snprintf(prefix, ET_LISTENER_MAX_NAME + 2, "%s/", name);
    *l = (id_list){.prefix = prefix, .prefix_len = strlen(prefix)};
    et_status st = et_store_iterate(s, ET_LISTENER_HISTORY, prefix, 0, collect_id, l, err);
    if (st == ET_OK && l->nomem)
        st = et_fail(err, ET_E_NOMEM, "out of memory");
    return st;
}

/* How many of the oldest entries fall out of the retention once one more
 * entry at `now` is added. */
static size_t count_expired(const id_list *l, const et_listener_profile *p, double now)
{
    double cutoff = now - p->history_days * 86400.0;
    size_t k = 0;
    while (k < l->n && l->items[k].time < cutoff)
        k++;
    if (l->n - k + 1 > p->history_max)
        k = l->n + 1 - p->history_max;
    return k;
}

et_status et_listener_mood_add(et_store *s, const et_listener_profile *p,
                               const et_listener_mood *m, size_t *pruned, char *err)
{
    if (!s || !p || !m)
        return et_fail(err, ET_E_INVALID, "et_listener_mood_add: NULL argument");
    et_status st = et_listener_profile_check(p, err);
    if (st == ET_OK)
        st = check_mood(m, err);
    if (st != ET_OK)
        return st;
    char prefix[ET_LISTENER_MAX_NAME + 2];
    id_list l;
    st = list_ids(s, p->name, prefix, &l, err);
    json_t *doc = st == ET_OK ? mood_doc(m) : NULL;
    size_t len = 0;
    char *json = doc ? et__json_dump(doc, &len) : NULL;
    json_decref(doc);
    size_t expired = count_expired(&l, p, m->time);
    et_store_op *ops = st == ET_OK ? calloc(expired + 1, sizeof *ops) : NULL;
    if (st == ET_OK && (!json || !ops))
        st = et_fail(err, ET_E_NOMEM, "out of memory");
    if (st == ET_OK) {
        for (size_t i = 0; i < expired; i++)
            ops[i] = (et_store_op){ET_STORE_OP_DEL, ET_LISTENER_HISTORY, l.items[i].id, NULL, 0};
        char id[ET__LISTENER_ID_MAX];
        et__listener_event_id(id, p->name, m->time);
        ops[expired] = (et_store_op){ET_STORE_OP_PUT, ET_LISTENER_HISTORY, id, json, len};
        st = et_store_batch(s, ops, expired + 1, err);
    }
    if (st == ET_OK && pruned)
        *pruned = expired;
    free(ops);
    free(json);
    id_list_free(&l);
    return st;
}

/* A stored document back into a mood; false when it is not one. */
bool et__listener_read_mood(const json_t *doc, et_listener_mood *m)
{
    memset(m, 0, sizeof *m);
    m->time = et__json_number(doc, "time", NAN);
    m->valence = et__json_number(doc, "valence", NAN);
    m->arousal = et__json_number(doc, "arousal", NAN);
    m->confidence = et__json_number(doc, "confidence", NAN);
    m->smiling = et__json_number(doc, "smiling", -1);
    et__json_copy_string(doc, "mood", m->mood, sizeof m->mood);
    et__json_copy_string(doc, "source", m->source, sizeof m->source);
    return check_mood(m, NULL) == ET_OK;
}

static bool read_any_mood(const json_t *doc, void *item)
{
    return et__listener_read_mood(doc, item);
}

et_status et_listener_moods(et_store *s, const char *name, et_listener_mood **out, size_t *n,
                            char *err)
{
    if (!out)
        return et_fail(err, ET_E_INVALID, "%s: NULL argument", "et_listener_moods");
    void *items = NULL;
    et_status st = et__listener_collect(s, ET_LISTENER_HISTORY, name, read_any_mood,
                                        sizeof **out, "mood entry", &items, n, err);
    if (st == ET_OK)
        *out = items;
    return st;
}

/* The newest readable mood among the listed ids, from the end: one document
 * read, unless the newest were written by hand and are not moods. */
static et_status read_newest(et_store *s, const id_list *l, et_listener_mood *out, bool *found,
                             char *err)
{
    *found = false;
    for (size_t i = l->n; i-- > 0 && !*found;) {
        char *json = NULL;
        size_t len = 0;
        et_status st = et_store_get(s, ET_LISTENER_HISTORY, l->items[i].id, &json, &len, err);
        if (st == ET_E_NOT_FOUND)
            continue; /* deleted meanwhile */
        if (st != ET_OK)
            return st;
        json_t *doc = json_loadb(json, len, 0, NULL);
        free(json);
        *found = json_is_object(doc) && et__listener_read_mood(doc, out);
        if (!*found)
            et_log(ET_LOG_WARN, "skipping history/%s: not a mood entry", l->items[i].id);
        json_decref(doc);
    }
    return ET_OK;
}

et_status et_listener_mood_latest(et_store *s, const char *name, et_listener_mood *out,
                                  bool *found, char *err)
{
    if (!s || !out || !found)
        return et_fail(err, ET_E_INVALID, "et_listener_mood_latest: NULL argument");
    et_status st = et_listener_check_name(name, err);
    char prefix[ET_LISTENER_MAX_NAME + 2];
    id_list l = {0};
    if (st == ET_OK)
        st = list_ids(s, name, prefix, &l, err);
    et_listener_mood m;
    bool have = false;
    if (st == ET_OK)
        st = read_newest(s, &l, &m, &have, err);
    id_list_free(&l);
    if (st != ET_OK)
        return st;
    *found = have;
    if (have)
        *out = m;
    return ET_OK;
}
