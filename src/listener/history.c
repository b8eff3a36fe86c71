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

/* The time an entry's id carries (NAME/TIME-RAND, TIME in milliseconds). */
static double id_time_of(const char *id, size_t prefix_len)
{
    return strtod(id + prefix_len, NULL) / 1000.0;
}

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
    l->items[l->n++] = (id_time){copy, id_time_of(id, l->prefix_len)};
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

/*
 * The history's summary: one small document per listener (collection
 * profiles, id NAME/history) with the number of entries, the oldest entry's
 * time and the newest entry's id. With it an append reads one document and
 * the few oldest ids it deletes, and the newest mood is one read, whatever
 * the history's length: on Redis, a camera's moods cost a constant number of
 * store operations each (issue 11), not a walk over the whole history.
 *
 * The summary is written in the same atomic batch as the entry it counts.
 * Two servers appending for one listener at the same moment may each write
 * their own count (one is lost); so every ET__HISTORY_RECOUNT-th append, and
 * whenever the summary is missing or unreadable (a store from before it, or
 * edited by hand), it is rebuilt from the ids themselves.
 */
#define SUMMARY_SUFFIX "/history"
#define ET__HISTORY_RECOUNT 256
/* The oldest ids are read in pages of at least this many. */
#define OLDEST_PAGE 16

typedef struct summary {
    size_t count;
    double oldest;  /* time of the oldest entry; INFINITY when count is 0 */
    char newest_id[ET__LISTENER_ID_MAX]; /* "" when count is 0 */
    double newest;  /* its time; -INFINITY when count is 0 */
    unsigned long appends;
} summary;

static void summary_id(char out[ET__LISTENER_ID_MAX], const char *name)
{
    snprintf(out, ET__LISTENER_ID_MAX, "%s%s", name, SUMMARY_SUFFIX);
}

/* Rebuilds the summary from every id of the history: the one walk over it. */
static et_status summary_rebuild(et_store *s, const char *name, summary *out, char *err)
{
    char prefix[ET_LISTENER_MAX_NAME + 2];
    id_list l;
    et_status st = list_ids(s, name, prefix, &l, err);
    if (st == ET_OK) {
        unsigned long appends = out->appends;
        *out = (summary){.count = l.n, .oldest = INFINITY, .newest = -INFINITY,
                         .appends = appends};
        if (l.n) {
            out->oldest = l.items[0].time;
            out->newest = l.items[l.n - 1].time;
            snprintf(out->newest_id, sizeof out->newest_id, "%s", l.items[l.n - 1].id);
        }
    }
    id_list_free(&l);
    return st;
}

/* Reads the stored summary; *have is false when there is none or it is not
 * one (then the caller rebuilds it). */
static et_status summary_load(et_store *s, const char *name, summary *out, bool *have, char *err)
{
    char id[ET__LISTENER_ID_MAX];
    summary_id(id, name);
    json_t *doc;
    *have = false;
    et_status st = et__listener_get_json(s, ET_LISTENER_PROFILES, id, &doc, err);
    if (st != ET_OK || !doc)
        return st;
    double count = et__json_number(doc, "count", -1);
    double appends = et__json_number(doc, "appends", -1);
    *out = (summary){.oldest = INFINITY, .newest = -INFINITY};
    et__json_copy_string(doc, "newest_id", out->newest_id, sizeof out->newest_id);
    size_t prefix_len = strlen(name) + 1;
    bool named = strncmp(out->newest_id, name, prefix_len - 1) == 0 &&
                 out->newest_id[prefix_len - 1] == '/';
    if (count >= 1 && count <= 1e12 && appends >= 0 && named) {
        out->count = (size_t)count;
        out->appends = (unsigned long)appends;
        out->oldest = et__json_number(doc, "oldest", NAN);
        out->newest = id_time_of(out->newest_id, prefix_len);
        *have = isfinite(out->oldest);
    }
    json_decref(doc);
    if (!*have)
        et_log(ET_LOG_WARN, "profiles/%s is not a history summary: rebuilding it", id);
    return ET_OK;
}

static char *summary_json(const summary *sm, size_t *len)
{
    json_t *doc = json_pack("{s:I, s:f, s:s, s:I}", "count", (json_int_t)sm->count, "oldest",
                            sm->oldest, "newest_id", sm->newest_id, "appends",
                            (json_int_t)sm->appends);
    char *json = doc ? et__json_dump(doc, len) : NULL;
    json_decref(doc);
    return json;
}

typedef struct oldest_page {
    id_list *l;
    const char *skip; /* the id the page starts from, already taken */
} oldest_page;

static int collect_after(void *user, const char *id, const char *json, size_t len)
{
    oldest_page *p = user;
    if (p->skip && strcmp(id, p->skip) == 0)
        return 0;
    return collect_id(p->l, id, json, len);
}

/* Whether the i-th oldest entry (0-based) must go when one more is added:
 * older than the cutoff, or beyond the count limit. */
static bool expires(const id_list *l, size_t i, size_t over, double cutoff)
{
    return i < over || l->items[i].time < cutoff;
}

/*
 * Reads the oldest ids, page by page, until it holds every one that expires
 * (see expires) and one more (the new oldest), or the history's end. Costs
 * the number of expired entries, not the history's length.
 */
static et_status oldest_ids(et_store *s, const char *name, char prefix[ET_LISTENER_MAX_NAME + 2],
                            size_t over, double cutoff, id_list *l, char *err)
{
    snprintf(prefix, ET_LISTENER_MAX_NAME + 2, "%s/", name);
    *l = (id_list){.prefix = prefix, .prefix_len = strlen(prefix)};
    size_t page = over + 1 > OLDEST_PAGE ? over + 1 : OLDEST_PAGE;
    for (;;) {
        size_t before = l->n;
        char *from = before ? strdup(l->items[before - 1].id) : NULL;
        if (before && !from)
            return et_fail(err, ET_E_NOMEM, "out of memory");
        oldest_page p = {l, from};
        et_status st = et_store_iterate(s, ET_LISTENER_HISTORY, from ? from : prefix,
                                        page + (from != NULL), collect_after, &p, err);
        free(from);
        if (st == ET_OK && l->nomem)
            st = et_fail(err, ET_E_NOMEM, "out of memory");
        if (st != ET_OK)
            return st;
        bool ended = l->n - before < page;
        if (ended || !expires(l, l->n - 1, over, cutoff))
            return ET_OK;
    }
}

et_status et__listener_mood_add_with(et_store *s, const et_listener_profile *p,
                                     const et_listener_mood *m, const et_store_op *extra,
                                     size_t n_extra, size_t *pruned, char *err)
{
    if (!s || !p || !m || (n_extra && !extra))
        return et_fail(err, ET_E_INVALID, "et_listener_mood_add: NULL argument");
    et_status st = et_listener_profile_check(p, err);
    if (st == ET_OK)
        st = check_mood(m, err);
    if (st != ET_OK)
        return st;
    summary sm = {0};
    bool have = false;
    st = summary_load(s, p->name, &sm, &have, err);
    if (st == ET_OK && (!have || sm.appends % ET__HISTORY_RECOUNT == ET__HISTORY_RECOUNT - 1))
        st = summary_rebuild(s, p->name, &sm, err);
    if (st != ET_OK)
        return st;
    double cutoff = m->time - p->history_days * 86400.0;
    size_t over = sm.count + 1 > p->history_max ? sm.count + 1 - p->history_max : 0;
    char prefix[ET_LISTENER_MAX_NAME + 2];
    id_list l = {0};
    if (over || sm.oldest < cutoff)
        st = oldest_ids(s, p->name, prefix, over, cutoff, &l, err);
    size_t expired = 0;
    while (expired < l.n && expires(&l, expired, over, cutoff))
        expired++;

    char id[ET__LISTENER_ID_MAX], sid[ET__LISTENER_ID_MAX];
    et__listener_event_id(id, p->name, m->time);
    summary_id(sid, p->name);
    /* The summary after: the ids read tell the new oldest when some went. */
    summary after = sm;
    after.count = sm.count - (expired < sm.count ? expired : sm.count) + 1;
    after.oldest = expired < l.n ? l.items[expired].time : expired ? INFINITY : sm.oldest;
    after.oldest = fmin(after.oldest, m->time);
    if (m->time >= sm.newest) {
        snprintf(after.newest_id, sizeof after.newest_id, "%s", id);
        after.newest = m->time;
    }
    after.appends = sm.appends + 1;

    json_t *doc = st == ET_OK ? mood_doc(m) : NULL;
    size_t len = 0, slen = 0;
    char *json = doc ? et__json_dump(doc, &len) : NULL;
    json_decref(doc);
    char *sjson = json ? summary_json(&after, &slen) : NULL;
    et_store_op *ops = st == ET_OK ? calloc(expired + 2 + n_extra, sizeof *ops) : NULL;
    if (st == ET_OK && (!json || !sjson || !ops))
        st = et_fail(err, ET_E_NOMEM, "out of memory");
    if (st == ET_OK) {
        for (size_t i = 0; i < expired; i++)
            ops[i] = (et_store_op){ET_STORE_OP_DEL, ET_LISTENER_HISTORY, l.items[i].id, NULL, 0};
        ops[expired] = (et_store_op){ET_STORE_OP_PUT, ET_LISTENER_HISTORY, id, json, len};
        ops[expired + 1] = (et_store_op){ET_STORE_OP_PUT, ET_LISTENER_PROFILES, sid, sjson, slen};
        for (size_t i = 0; i < n_extra; i++)
            ops[expired + 2 + i] = extra[i];
        st = et_store_batch(s, ops, expired + 2 + n_extra, err);
    }
    if (st == ET_OK && pruned)
        *pruned = expired;
    free(ops);
    free(json);
    free(sjson);
    id_list_free(&l);
    return st;
}

et_status et_listener_mood_add(et_store *s, const et_listener_profile *p,
                               const et_listener_mood *m, size_t *pruned, char *err)
{
    return et__listener_mood_add_with(s, p, m, NULL, 0, pruned, err);
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

/* The summary's newest entry, if it is still there and a mood: one read. */
static et_status read_summary_newest(et_store *s, const char *name, et_listener_mood *out,
                                     bool *found, char *err)
{
    summary sm;
    bool have = false;
    *found = false;
    et_status st = summary_load(s, name, &sm, &have, err);
    if (st != ET_OK || !have)
        return st;
    char *json = NULL;
    size_t len = 0;
    st = et_store_get(s, ET_LISTENER_HISTORY, sm.newest_id, &json, &len, err);
    if (st == ET_E_NOT_FOUND)
        return ET_OK; /* deleted since (by hand, or another server): walk */
    if (st != ET_OK)
        return st;
    json_t *doc = json_loadb(json, len, 0, NULL);
    free(json);
    *found = json_is_object(doc) && et__listener_read_mood(doc, out);
    json_decref(doc);
    return ET_OK;
}

et_status et_listener_mood_latest(et_store *s, const char *name, et_listener_mood *out,
                                  bool *found, char *err)
{
    if (!s || !out || !found)
        return et_fail(err, ET_E_INVALID, "et_listener_mood_latest: NULL argument");
    et_status st = et_listener_check_name(name, err);
    et_listener_mood m;
    bool have = false;
    if (st == ET_OK)
        st = read_summary_newest(s, name, &m, &have, err);
    char prefix[ET_LISTENER_MAX_NAME + 2];
    id_list l = {0};
    if (st == ET_OK && !have)
        st = list_ids(s, name, prefix, &l, err);
    if (st == ET_OK && !have)
        st = read_newest(s, &l, &m, &have, err);
    id_list_free(&l);
    if (st != ET_OK)
        return st;
    *found = have;
    if (have)
        *out = m;
    return ET_OK;
}
