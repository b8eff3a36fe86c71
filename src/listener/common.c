/* listener: names, event ids, and reading one listener's documents. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "listener/listener_internal.h"

et_status et_listener_check_name(const char *name, char *err)
{
    if (!name || !*name)
        return et_fail(err, ET_E_INVALID, "the listener name is empty");
    size_t len = strlen(name);
    if (len > ET_LISTENER_MAX_NAME)
        return et_fail(err, ET_E_INVALID, "listener name of %zu characters: at most %d", len,
                       ET_LISTENER_MAX_NAME);
    if (name[0] == '.')
        return et_fail(err, ET_E_INVALID, "listener name '%s' starts with '.'", name);
    for (const char *p = name; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok)
            return et_fail(err, ET_E_INVALID,
                           "listener name '%.*s' has '%c': use letters, digits, '.', '_', '-'",
                           ET_LISTENER_MAX_NAME, name, c >= 0x20 && c < 0x7f ? c : '?');
    }
    /* the store's id rule (store.h): its ids NAME/... must not hold ".." */
    if (strstr(name, ".."))
        return et_fail(err, ET_E_INVALID, "listener name '%s' has '..'", name);
    return ET_OK;
}

/* A few random bits so that two events in the same millisecond (two
 * processes, or two calls) get distinct ids: the clock's nanoseconds, the
 * process id and the stack address, mixed. */
static uint32_t id_noise(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^
                 ((uint64_t)getpid() << 17) ^ (uint64_t)(uintptr_t)&ts;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (uint32_t)x;
}

void et__listener_event_id(char out[ET__LISTENER_ID_MAX], const char *name, double time)
{
    unsigned long long ms = time > 0 ? (unsigned long long)llround(time * 1000.0) : 0;
    snprintf(out, ET__LISTENER_ID_MAX, "%s/%015llu-%08x", name, ms, (unsigned)id_noise());
}

typedef struct iter_ctx {
    const char *prefix;
    size_t prefix_len;
    et__listener_visit_fn fn;
    void *user;
    const char *collection;
} iter_ctx;

static int visit_raw(void *user, const char *id, const char *json, size_t len)
{
    iter_ctx *c = user;
    if (strncmp(id, c->prefix, c->prefix_len) != 0)
        return 1; /* past this listener's ids: they are contiguous */
    json_error_t jerr;
    json_t *doc = json_loadb(json, len, 0, &jerr);
    if (!json_is_object(doc)) {
        et_log(ET_LOG_WARN, "skipping %s/%s: not a JSON object", c->collection, id);
        json_decref(doc);
        return 0;
    }
    int stop = c->fn(c->user, id, doc);
    json_decref(doc);
    return stop;
}

et_status et__listener_iterate(et_store *s, const char *collection, const char *name,
                               et__listener_visit_fn fn, void *user, char *err)
{
    et_status st = et_listener_check_name(name, err);
    if (st != ET_OK)
        return st;
    char prefix[ET_LISTENER_MAX_NAME + 2];
    snprintf(prefix, sizeof prefix, "%s/", name);
    iter_ctx c = {prefix, strlen(prefix), fn, user, collection};
    return et_store_iterate(s, collection, prefix, 0, visit_raw, &c, err);
}

void *et__listener_grow(void *items, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return items;
    size_t grown_cap = *cap ? 2 * *cap : 64;
    void *grown = realloc(items, grown_cap * size);
    if (grown)
        *cap = grown_cap;
    return grown;
}

et_status et__listener_get_json(et_store *s, const char *collection, const char *id,
                                json_t **doc, char *err)
{
    char *json = NULL;
    size_t len = 0;
    *doc = NULL;
    et_status st = et_store_get(s, collection, id, &json, &len, err);
    if (st == ET_E_NOT_FOUND)
        return ET_OK;
    if (st == ET_OK && !(*doc = json_loadb(json, len, JSON_DECODE_ANY, NULL)))
        *doc = json_null();
    free(json);
    return st;
}

double et__json_number(const json_t *obj, const char *key, double fallback)
{
    const json_t *v = json_object_get(obj, key);
    return json_is_number(v) ? json_number_value(v) : fallback;
}

void et__json_copy_string(const json_t *obj, const char *key, char *out, size_t len)
{
    const char *v = json_string_value(json_object_get(obj, key));
    snprintf(out, len, "%s", v ? v : "");
}

char *et__json_dump(const json_t *doc, size_t *len)
{
    char *text = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(15));
    if (text && len)
        *len = strlen(text);
    return text;
}

et_status et__listener_check_point(double valence, double arousal, char *err)
{
    if (!isfinite(valence) || valence < -1 || valence > 1)
        return et_fail(err, ET_E_INVALID, "valence %g is not in [-1, 1]", valence);
    if (!isfinite(arousal) || arousal < -1 || arousal > 1)
        return et_fail(err, ET_E_INVALID, "arousal %g is not in [-1, 1]", arousal);
    return ET_OK;
}

typedef struct collect_ctx {
    et__listener_read_fn read;
    size_t size;
    const char *what, *collection;
    char *items;
    size_t n, cap;
    bool nomem;
} collect_ctx;

static int collect_one(void *user, const char *id, json_t *doc)
{
    collect_ctx *c = user;
    void *grown = et__listener_grow(c->items, c->n, &c->cap, c->size);
    if (!grown)
        return c->nomem = true, 1;
    c->items = grown;
    if (c->read(doc, c->items + c->n * c->size))
        c->n++;
    else
        et_log(ET_LOG_WARN, "skipping %s/%s: not a %s", c->collection, id, c->what);
    return 0;
}

et_status et__listener_collect(et_store *s, const char *collection, const char *name,
                               et__listener_read_fn read, size_t size, const char *what,
                               void **out, size_t *n, char *err)
{
    if (!out || !n)
        return et_fail(err, ET_E_INVALID, "reading %s: NULL argument", collection);
    collect_ctx c = {.read = read, .size = size, .what = what, .collection = collection};
    et_status st = et__listener_iterate(s, collection, name, collect_one, &c, err);
    if (st == ET_OK && c.nomem)
        st = et_fail(err, ET_E_NOMEM, "out of memory");
    if (st != ET_OK) {
        free(c.items);
        return st;
    }
    if (c.n == 0) { /* the documented NULL for an empty list */
        free(c.items);
        c.items = NULL;
    }
    *out = c.items;
    *n = c.n;
    return ET_OK;
}
