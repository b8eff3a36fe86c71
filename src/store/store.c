/* The store's front: checks every name, id and document, picks the backend
 * from the URI, records and checks the schema version. */
#include <yajl/yajl_parse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

struct et_store {
    const et__store_ops *ops;
    void *impl;
    et_store_opts opts;
};

et_store_opts et_store_default_opts(void)
{
    return (et_store_opts){
        .max_doc_bytes = ET_STORE_DEFAULT_MAX_DOC,
        .timeout_ms = 1000,
        .retries = 3,
    };
}

const char *et_store_default_uri(char *buf, size_t len)
{
    const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    if (xdg && *xdg)
        snprintf(buf, len, "lmdb:%s/emotune", xdg);
    else
        snprintf(buf, len, "lmdb:%s/.local/share/emotune", home && *home ? home : ".");
    return buf;
}

const char *et_store_backend(const et_store *s) { return s->ops->name; }

const char *et_store_stat_name(et_store_stat_op op)
{
    static const char *const names[ET_STORE_STAT__COUNT] = {
        "get", "put", "del", "iterate", "count", "batch", "update"};
    return (unsigned)op < ET_STORE_STAT__COUNT ? names[op] : "unknown";
}

/* Counts a call in the handle's stats (when it has some) and returns st. */
static et_status tally(const et_store *s, et_store_stat_op op, et_status st)
{
    et_store_stats *t = s->opts.stats;
    if (!t)
        return st;
    atomic_fetch_add_explicit(&t->calls[op], 1, memory_order_relaxed);
    if (st == ET_E_IO || st == ET_E_UNAVAILABLE || st == ET_E_CONFLICT || st == ET_E_NOMEM ||
        st == ET_E_VERSION)
        atomic_fetch_add_explicit(&t->errors[op], 1, memory_order_relaxed);
    return st;
}

et_status et_store_check_collection(const char *c, char *err)
{
    size_t n = c ? strlen(c) : 0;
    if (n == 0 || n > ET_STORE_MAX_COLLECTION)
        return et_fail(err, ET_E_INVALID, "collection name must have 1 to %d characters",
                       ET_STORE_MAX_COLLECTION);
    if (c[0] < 'a' || c[0] > 'z')
        return et_fail(err, ET_E_INVALID, "collection name '%s' must start with a letter a-z", c);
    for (size_t i = 0; i < n; i++)
        if (!((c[i] >= 'a' && c[i] <= 'z') || (c[i] >= '0' && c[i] <= '9') || c[i] == '_'))
            return et_fail(err, ET_E_INVALID,
                           "collection name '%s' may hold only a-z, 0-9 and _", c);
    return ET_OK;
}

static int id_char_ok(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("._~:@+=/-", ch));
}

et_status et_store_check_id(const char *id, char *err)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n > ET_STORE_MAX_ID)
        return et_fail(err, ET_E_INVALID, "id must have 1 to %d bytes", ET_STORE_MAX_ID);
    for (size_t i = 0; i < n; i++)
        if (!id_char_ok((unsigned char)id[i]))
            return et_fail(err, ET_E_INVALID,
                           "id has a character outside A-Z a-z 0-9 . _ ~ : @ + = / - at byte %zu",
                           i);
    if (strstr(id, ".."))
        return et_fail(err, ET_E_INVALID, "id must not contain '..'");
    return ET_OK;
}

/* JSON validation with yajl's streaming parser: no tree is built, several
 * times faster than parsing into jansson values, which matters on the write
 * path of every document. yajl checks UTF-8 and refuses comments; the number
 * callbacks make it refuse numbers out of range (1e999, 2^63) as jansson,
 * which reads the documents back, does. The callbacks also note where the
 * top-level value ends, because yajl accepts a complete value followed by an
 * unterminated string ("null\"", found by fuzzing): anything but white space
 * after the value is refused here. */
typedef struct json_check {
    yajl_handle h;
    int depth, done, completing;
    size_t end; /* bytes up to the end of the top-level value */
} json_check;

static int value_done(json_check *c)
{
    if (c->depth > 0)
        return 1;
    if (c->done)
        return 0; /* a second top-level value */
    c->done = 1;
    /* During yajl_complete_parse the value ran to the end of the input. */
    c->end = c->completing ? SIZE_MAX : yajl_get_bytes_consumed(c->h);
    return 1;
}

static int on_null(void *c) { return value_done(c); }
static int on_bool(void *c, int b) { return (void)b, value_done(c); }
static int on_integer(void *c, long long v) { return (void)v, value_done(c); }
static int on_double(void *c, double v) { return (void)v, value_done(c); }
static int on_string(void *c, const unsigned char *s, size_t n)
{
    return (void)s, (void)n, value_done(c);
}
static int on_key(void *c, const unsigned char *s, size_t n)
{
    return (void)c, (void)s, (void)n, 1;
}
static int on_open(void *ctx)
{
    json_check *c = ctx;
    if (c->done)
        return 0;
    c->depth++;
    return 1;
}
static int on_close(void *ctx)
{
    json_check *c = ctx;
    c->depth--;
    return value_done(c);
}

static const yajl_callbacks json_check_callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_bool,
    .yajl_integer = on_integer,
    .yajl_double = on_double,
    .yajl_string = on_string,
    .yajl_start_map = on_open,
    .yajl_map_key = on_key,
    .yajl_end_map = on_close,
    .yajl_start_array = on_open,
    .yajl_end_array = on_close,
};

static int only_space(const char *s, size_t from, size_t len)
{
    for (size_t i = from; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
            return 0;
    return 1;
}

et_status et_store_check_doc(const et_store *s, const char *json, size_t len, char *err)
{
    size_t max = s ? s->opts.max_doc_bytes : ET_STORE_DEFAULT_MAX_DOC;
    if (!json)
        return et_fail(err, ET_E_INVALID, "no document");
    if (len > max)
        return et_fail(err, ET_E_TOO_LARGE, "document of %zu bytes is over the limit of %zu",
                       len, max);
    /* yajl takes form feed and vertical tab for white space; JSON (RFC 8259)
     * does not, nor does jansson, which reads the documents back. Raw, they
     * are invalid anywhere: inside strings they must be escaped. */
    const char *ctl = memchr(json, '\f', len);
    const char *vt = memchr(json, '\v', len);
    if (!ctl || (vt && vt < ctl))
        ctl = vt;
    if (ctl)
        return et_fail(err, ET_E_INVALID,
                       "document is not valid JSON (at byte %zu: a raw control character)",
                       (size_t)(ctl - json));
    json_check c = {0};
    c.h = yajl_alloc(&json_check_callbacks, NULL, &c);
    if (!c.h)
        return et_fail(err, ET_E_NOMEM, "out of memory validating a document");
    yajl_status ys = yajl_parse(c.h, (const unsigned char *)json, len);
    c.completing = 1;
    if (ys == yajl_status_ok)
        ys = yajl_complete_parse(c.h);
    et_status st = ET_OK;
    if (ys != yajl_status_ok) {
        unsigned char *msg = yajl_get_error(c.h, 0, (const unsigned char *)json, len);
        st = et_fail(err, ET_E_INVALID, "document is not valid JSON (at byte %zu: %s)",
                     yajl_get_bytes_consumed(c.h), msg ? (const char *)msg : "parse error");
        yajl_free_error(c.h, msg);
    } else if (!c.done || (c.end != SIZE_MAX && !only_space(json, c.end, len))) {
        st = et_fail(err, ET_E_INVALID, "document is not valid JSON (text after the value)");
    }
    yajl_free(c.h);
    return st;
}

static et_status check_key(const char *coll, const char *id, char *err)
{
    et_status s = et_store_check_collection(coll, err);
    return s == ET_OK ? et_store_check_id(id, err) : s;
}

/* The URI for messages: credentials before an '@' become "***". */
static const char *redacted(const char *uri, char *buf, size_t len)
{
    const char *scheme = uri ? strstr(uri, "://") : NULL;
    const char *at = scheme ? strchr(scheme, '@') : NULL;
    if (!at)
        return uri ? uri : "";
    snprintf(buf, len, "%.*s***%s", (int)(scheme + 3 - uri), uri, at);
    return buf;
}

/* Schema: a new store gets the current version; an older one (or one with
 * documents but no version: written before versions existed) is migrated;
 * a newer one is refused. Version 1 is the first, so migration is only the
 * recording of the version for now. */
static et_status check_schema(et_store *s, const char *uri, char *err)
{
    int v;
    et_status st = s->ops->get_version(s->impl, &v, err);
    if (st != ET_OK)
        return st;
    char shown[600];
    uri = redacted(uri, shown, sizeof shown);
    if (v > ET_STORE_SCHEMA_VERSION)
        return et_fail(err, ET_E_VERSION,
                       "%s was written by a newer emotune (schema %d, this one knows %d): "
                       "upgrade emotune to open it",
                       uri, v, ET_STORE_SCHEMA_VERSION);
    if (v < ET_STORE_SCHEMA_VERSION) {
        if (v > 0)
            et_log(ET_LOG_INFO, "%s: migrating schema %d to %d", uri, v, ET_STORE_SCHEMA_VERSION);
        return s->ops->set_version(s->impl, ET_STORE_SCHEMA_VERSION, err);
    }
    return ET_OK;
}

et_status et_store_open(const char *uri, const et_store_opts *opts, et_store **out, char *err)
{
    *out = NULL;
    const et__store_ops *ops;
    const char *location;
    if (uri && !strncmp(uri, "lmdb:", 5) && uri[5]) {
        ops = &et__store_lmdb;
        location = uri + 5;
    } else if (uri && !strncmp(uri, "redis://", 8)) {
        ops = &et__store_redis;
        location = uri;
    } else {
        char shown[600];
        return et_fail(err, ET_E_INVALID,
                       "store URI '%s' must be lmdb:DIR or redis://[:PASSWORD@]HOST:PORT[/DB]",
                       redacted(uri, shown, sizeof shown));
    }
    et_store *s = calloc(1, sizeof *s);
    if (!s)
        return et_fail(err, ET_E_NOMEM, "out of memory opening the store");
    s->ops = ops;
    s->opts = opts ? *opts : et_store_default_opts();
    et_status st = ops->open(location, &s->opts, &s->impl, err);
    if (st == ET_OK)
        st = check_schema(s, uri, err);
    if (st != ET_OK) {
        et_store_close(s);
        return st;
    }
    *out = s;
    return ET_OK;
}

void et_store_close(et_store *s)
{
    if (!s)
        return;
    if (s->impl)
        s->ops->close(s->impl);
    free(s);
}

et_status et_store_put(et_store *s, const char *coll, const char *id, const char *json,
                       size_t len, char *err)
{
    et_status st = check_key(coll, id, err);
    if (st == ET_OK)
        st = et_store_check_doc(s, json, len, err);
    return tally(s, ET_STORE_STAT_PUT,
                 st == ET_OK ? s->ops->put(s->impl, coll, id, json, len, err) : st);
}

/* Counts documents read in the handle's stats (when it has some). */
static void tally_docs(const et_store *s, unsigned long n)
{
    if (s->opts.stats && n)
        atomic_fetch_add_explicit(&s->opts.stats->docs_read, n, memory_order_relaxed);
}

et_status et_store_get(et_store *s, const char *coll, const char *id, char **json, size_t *len,
                       char *err)
{
    *json = NULL;
    size_t dummy;
    et_status st = check_key(coll, id, err);
    if (st == ET_OK)
        st = s->ops->get(s->impl, coll, id, json, len ? len : &dummy, err);
    if (st == ET_OK)
        tally_docs(s, 1);
    return tally(s, ET_STORE_STAT_GET, st);
}

/* The caller's visit function, counting the documents it is given. */
typedef struct counted_visit {
    et_store_visit_fn fn;
    void *user;
    unsigned long n;
} counted_visit;

static int visit_counted(void *user, const char *id, const char *json, size_t len)
{
    counted_visit *c = user;
    c->n++;
    return c->fn ? c->fn(c->user, id, json, len) : 0;
}

et_status et_store_del(et_store *s, const char *coll, const char *id, char *err)
{
    et_status st = check_key(coll, id, err);
    return tally(s, ET_STORE_STAT_DEL, st == ET_OK ? s->ops->del(s->impl, coll, id, err) : st);
}

et_status et_store_iterate(et_store *s, const char *coll, const char *from, size_t limit,
                           et_store_visit_fn fn, void *user, char *err)
{
    et_status st = et_store_check_collection(coll, err);
    if (st == ET_OK && from && *from)
        st = et_store_check_id(from, err);
    counted_visit c = {fn, user, 0};
    if (st == ET_OK)
        st = s->ops->iterate(s->impl, coll, from && *from ? from : NULL, limit, visit_counted,
                             &c, err);
    tally_docs(s, c.n);
    return tally(s, ET_STORE_STAT_ITERATE, st);
}

et_status et_store_iterate_back(et_store *s, const char *coll, const char *before, size_t limit,
                                et_store_visit_fn fn, void *user, char *err)
{
    et_status st = et_store_check_collection(coll, err);
    if (st == ET_OK && before && *before)
        st = et_store_check_id(before, err);
    counted_visit c = {fn, user, 0};
    if (st == ET_OK)
        st = s->ops->iterate_back(s->impl, coll, before && *before ? before : NULL, limit,
                                  visit_counted, &c, err);
    tally_docs(s, c.n);
    return tally(s, ET_STORE_STAT_ITERATE, st);
}

et_status et_store_count(et_store *s, const char *coll, size_t *n, char *err)
{
    *n = 0;
    et_status st = et_store_check_collection(coll, err);
    return tally(s, ET_STORE_STAT_COUNT, st == ET_OK ? s->ops->count(s->impl, coll, n, err) : st);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

et_status et_store_collections(et_store *s, char ***names, size_t *n, char *err)
{
    *names = NULL;
    *n = 0;
    et_status st = s->ops->collections(s->impl, names, n, err);
    if (st == ET_OK && *n > 1)
        qsort(*names, *n, sizeof **names, cmp_names);
    return st;
}

void et_store_free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

et_status et__store_names_add(char ***names, size_t *n, size_t *cap, const char *name,
                              size_t len, char *err)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        char **grown = realloc(*names, nc * sizeof *grown);
        if (!grown)
            return et_fail(err, ET_E_NOMEM, "out of memory listing collections");
        *names = grown;
        *cap = nc;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return et_fail(err, ET_E_NOMEM, "out of memory listing collections");
    memcpy(copy, name, len);
    copy[len] = '\0';
    (*names)[(*n)++] = copy;
    return ET_OK;
}

et_status et_store_batch(et_store *s, const et_store_op *ops, size_t n, char *err)
{
    for (size_t i = 0; i < n; i++) {
        char why[ET_ERR_MAX];
        et_status st = check_key(ops[i].collection, ops[i].id, why);
        if (st == ET_OK && ops[i].kind == ET_STORE_OP_PUT)
            st = et_store_check_doc(s, ops[i].json, ops[i].len, why);
        else if (st == ET_OK && ops[i].kind != ET_STORE_OP_DEL)
            st = et_fail(why, ET_E_INVALID, "unknown operation kind %d", (int)ops[i].kind);
        if (st != ET_OK)
            return tally(s, ET_STORE_STAT_BATCH,
                         et_fail(err, st, "batch operation %zu: %s (nothing was written)", i,
                                 why));
    }
    return tally(s, ET_STORE_STAT_BATCH, n ? s->ops->batch(s->impl, ops, n, err) : ET_OK);
}

/* Wraps the caller's update function so the backend only ever writes a
 * checked document. */
typedef struct checked_update {
    et_store *s;
    et_store_update_fn fn;
    void *user;
} checked_update;

static et_status run_checked(void *user, const char *old, size_t old_len, char **out,
                             size_t *out_len, char *err)
{
    checked_update *c = user;
    *out = NULL;
    *out_len = 0;
    et_status st = c->fn(c->user, old, old_len, out, out_len, err);
    if (st == ET_OK && *out)
        st = et_store_check_doc(c->s, *out, *out_len, err);
    if (st != ET_OK) {
        free(*out);
        *out = NULL;
    }
    return st;
}

et_status et_store_update(et_store *s, const char *coll, const char *id, et_store_update_fn fn,
                          void *user, char *err)
{
    et_status st = check_key(coll, id, err);
    if (st != ET_OK)
        return tally(s, ET_STORE_STAT_UPDATE, st);
    checked_update c = {s, fn, user};
    return tally(s, ET_STORE_STAT_UPDATE, s->ops->update(s->impl, coll, id, run_checked, &c, err));
}

et_status et_store_schema_version(et_store *s, int *version, char *err)
{
    return s->ops->get_version(s->impl, version, err);
}
