/* store: stamps, the change counters that tell a cache it is current
 * (store.h explains the contract). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"

/* Stamps stay below 2^48: exact as JSON numbers in any reader. */
#define STAMP_MASK ((UINT64_C(1) << 48) - 1)

/* The stamp in a stored document, or 0 when it holds none. */
static uint64_t parse_stamp(const char *json, size_t len)
{
    json_t *doc = json ? json_loadb(json, len, 0, NULL) : NULL;
    json_t *v = json_object_get(doc, "stamp");
    uint64_t n = json_is_integer(v) && json_integer_value(v) > 0
                     ? (uint64_t)json_integer_value(v) & STAMP_MASK
                     : 0;
    json_decref(doc);
    return n;
}

/* Where a new stamp starts: the clock's nanoseconds, the process id and a
 * stack address, mixed (splitmix64's finaliser), never 0. */
static uint64_t random_start(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^
                 ((uint64_t)getpid() << 17) ^ (uint64_t)(uintptr_t)&ts;
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    x ^= x >> 31;
    return (x & STAMP_MASK) | 1;
}

typedef struct bump_ctx {
    uint64_t start; /* for a stamp not there yet; the same on every retry */
    uint64_t value; /* what was written */
} bump_ctx;

/* et_store_update_fn: the stamp plus one (a new one from the start). */
static et_status bump(void *user, const char *old, size_t old_len, char **out, size_t *out_len,
                      char *err)
{
    bump_ctx *c = user;
    uint64_t n = parse_stamp(old, old_len);
    c->value = n ? ((n + 1) & STAMP_MASK ? (n + 1) & STAMP_MASK : 1) : c->start;
    char buf[48];
    int len = snprintf(buf, sizeof buf, "{\"stamp\":%llu}", (unsigned long long)c->value);
    if (!(*out = strdup(buf)))
        return et_fail(err, ET_E_NOMEM, "out of memory");
    *out_len = (size_t)len;
    return ET_OK;
}

et_status et_store_stamp_read(et_store *s, const char *collection, const char *id,
                              uint64_t *stamp, char *err)
{
    char *json = NULL;
    size_t len = 0;
    *stamp = 0;
    et_status st = et_store_get(s, collection, id, &json, &len, err);
    if (st == ET_E_NOT_FOUND)
        return ET_OK;
    if (st == ET_OK)
        *stamp = parse_stamp(json, len);
    free(json);
    return st;
}

et_status et_store_stamp_bump(et_store *s, const char *collection, const char *id,
                              uint64_t *stamp, char *err)
{
    bump_ctx c = {.start = random_start()};
    et_status st = et_store_update(s, collection, id, bump, &c, err);
    if (stamp)
        *stamp = st == ET_OK ? c.value : 0;
    return st;
}
