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
 * The summary changes only inside the store's atomic update (et_store_update),
 * from what it holds at that moment: an append adds one to the count (and
 * takes the newest id when it is newer, the oldest time when it is older),
 * and a prune takes off the entries its deletes removed (a delete that found
 * nothing, another server having deleted it first, takes off nothing). So
 * servers appending for one listener at once lose no count, and the
 * retention holds. When the summary is missing or unreadable (a store from
 * before it, or edited by hand) it is rebuilt from the ids before the new
 * entry is written, by an update that keeps a summary made meanwhile.
 */
#define SUMMARY_SUFFIX "/history"
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

static bool summary_parse(const char *name, const char *json, size_t len, summary *out);

/* Reads the stored summary; *have is false when there is none or it is not
 * one (then the caller rebuilds it). */
static et_status summary_load(et_store *s, const char *name, summary *out, bool *have, char *err)
{
    char id[ET__LISTENER_ID_MAX], *json = NULL;
    size_t len = 0;
    summary_id(id, name);
    *have = false;
    et_status st = et_store_get(s, ET_LISTENER_PROFILES, id, &json, &len, err);
    if (st == ET_E_NOT_FOUND)
        return ET_OK;
    if (st != ET_OK)
        return st;
    *have = summary_parse(name, json, len, out);
    free(json);
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

/* ---- the summary's atomic changes ---- */

typedef enum summary_op { SUMMARY_MAKE, SUMMARY_APPEND, SUMMARY_PRUNE } summary_op;

typedef struct summary_change {
    summary_op op;
    const char *name;
    summary made;        /* MAKE: the rebuilt summary, unless one is stored */
    const char *id;      /* APPEND: the new entry's id and time */
    double time;
    size_t removed;      /* PRUNE: entries deleted */
    double oldest;       /* and the oldest time left (INFINITY: not known) */
    summary after;       /* the summary written (of the last call) */
} summary_change;

/* The stored summary from its text; false when it is not one. */
static bool summary_parse(const char *name, const char *json, size_t len, summary *out)
{
    json_t *doc = json ? json_loadb(json, len, 0, NULL) : NULL;
    double count = et__json_number(doc, "count", -1);
    double appends = et__json_number(doc, "appends", -1);
    *out = (summary){.oldest = INFINITY, .newest = -INFINITY};
    et__json_copy_string(doc, "newest_id", out->newest_id, sizeof out->newest_id);
    size_t prefix_len = strlen(name) + 1;
    bool named = strncmp(out->newest_id, name, prefix_len - 1) == 0 &&
                 out->newest_id[prefix_len - 1] == '/';
    bool ok = false;
    if (count >= 0 && count <= 1e12 && appends >= 0 && (named || count == 0)) {
        out->count = (size_t)count;
        out->appends = (unsigned long)appends;
        out->oldest = count ? et__json_number(doc, "oldest", NAN) : INFINITY;
        out->newest = count ? id_time_of(out->newest_id, prefix_len) : -INFINITY;
        if (!count)
            out->newest_id[0] = '\0';
        ok = count == 0 || isfinite(out->oldest);
    }
    json_decref(doc);
    return ok;
}

static et_status change_summary(void *user, const char *old, size_t old_len, char **out,
                                size_t *out_len, char *err)
{
    summary_change *c = user;
    summary sm;
    bool have = summary_parse(c->name, old, old_len, &sm);
    if (!have) /* none: the rebuilt one, or an empty one (deleted meanwhile) */
        sm = c->op == SUMMARY_MAKE ? c->made
                                   : (summary){.oldest = INFINITY, .newest = -INFINITY};
    if (c->op == SUMMARY_APPEND) {
        sm.count++;
        sm.appends++;
        sm.oldest = fmin(sm.oldest, c->time);
        if (c->time >= sm.newest) {
            snprintf(sm.newest_id, sizeof sm.newest_id, "%s", c->id);
            sm.newest = c->time;
        }
    } else if (c->op == SUMMARY_PRUNE) {
        sm.count = c->removed < sm.count ? sm.count - c->removed : 0;
        /* the oldest only moves up by deleting (a stale low one costs one
         * page read at the next append, which corrects it) */
        if (isfinite(c->oldest) && c->oldest > sm.oldest)
            sm.oldest = c->oldest;
        if (sm.count == 0)
            sm.oldest = INFINITY, sm.newest = -INFINITY, sm.newest_id[0] = '\0';
    }
    c->after = sm;
    /* an empty history: 0 for the oldest (JSON has no infinity) */
    summary shown = sm;
    if (!isfinite(shown.oldest))
        shown.oldest = 0;
    *out = summary_json(&shown, out_len);
    return *out ? ET_OK : et_fail(err, ET_E_NOMEM, "out of memory");
}

static et_status summary_update(et_store *s, summary_change *c, char *err)
{
    char sid[ET__LISTENER_ID_MAX];
    summary_id(sid, c->name);
    return et_store_update(s, ET_LISTENER_PROFILES, sid, change_summary, c, err);
}

/* Makes the summary from the ids when there is none that reads (before a
 * new entry is written, so that every entry written after it is counted by
 * its own append only). */
static et_status summary_ensure(et_store *s, const char *name, char *err)
{
    summary sm = {0};
    bool have = false;
    et_status st = summary_load(s, name, &sm, &have, err);
    if (st != ET_OK || have)
        return st;
    if ((st = summary_rebuild(s, name, &sm, err)) != ET_OK)
        return st;
    summary_change c = {.op = SUMMARY_MAKE, .name = name, .made = sm};
    return summary_update(s, &c, err);
}

/* Deletes the entries out of p's retention after an append left the
 * summary at *sm: the oldest beyond history_max, and those older than
 * history_days before `now`. *pruned gets how many this call removed. */
static et_status prune(et_store *s, const et_listener_profile *p, const summary *sm, double now,
                       size_t *pruned, char *err)
{
    *pruned = 0;
    double cutoff = now - p->history_days * 86400.0;
    size_t over = sm->count > p->history_max ? sm->count - p->history_max : 0;
    if (!over && !(sm->oldest < cutoff))
        return ET_OK;
    char prefix[ET_LISTENER_MAX_NAME + 2];
    id_list l = {0};
    et_status st = oldest_ids(s, p->name, prefix, over, cutoff, &l, err);
    size_t expired = 0;
    while (st == ET_OK && expired < l.n && expires(&l, expired, over, cutoff))
        expired++;
    size_t removed = 0;
    for (size_t i = 0; st == ET_OK && i < expired; i++) {
        et_status d = et_store_del(s, ET_LISTENER_HISTORY, l.items[i].id, err);
        if (d == ET_OK)
            removed++;
        else if (d != ET_E_NOT_FOUND) /* not found: another server deleted it first */
            st = d;
    }
    if (removed || (st == ET_OK && expired == 0 && l.n)) {
        summary_change c = {.op = SUMMARY_PRUNE, .name = p->name, .removed = removed,
                            .oldest = expired < l.n ? l.items[expired].time : INFINITY};
        et_status u = summary_update(s, &c, err);
        st = st == ET_OK ? u : st;
    }
    id_list_free(&l);
    *pruned = removed;
    return st;
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
    if (st == ET_OK)
        st = summary_ensure(s, p->name, err);
    if (st != ET_OK)
        return st;
    char id[ET__LISTENER_ID_MAX];
    et__listener_event_id(id, p->name, m->time);
    json_t *doc = mood_doc(m);
    size_t len = 0;
    char *json = doc ? et__json_dump(doc, &len) : NULL;
    json_decref(doc);
    et_store_op *ops = json ? calloc(1 + n_extra, sizeof *ops) : NULL;
    if (!json || !ops) {
        free(json);
        free(ops);
        return et_fail(err, ET_E_NOMEM, "out of memory");
    }
    ops[0] = (et_store_op){ET_STORE_OP_PUT, ET_LISTENER_HISTORY, id, json, len};
    for (size_t i = 0; i < n_extra; i++)
        ops[1 + i] = extra[i];
    st = et_store_batch(s, ops, 1 + n_extra, err);
    free(ops);
    free(json);
    summary_change c = {.op = SUMMARY_APPEND, .name = p->name, .id = id, .time = m->time};
    if (st == ET_OK)
        st = summary_update(s, &c, err);
    size_t removed = 0;
    if (st == ET_OK)
        st = prune(s, p, &c.after, m->time, &removed, err);
    if (st == ET_OK && pruned)
        *pruned = removed;
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
