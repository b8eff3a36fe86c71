/* server: what .../next needs kept in memory between requests -- the
 * library as the recommender sees it (one, shared by every listener) and
 * each listener's feedback -- each with the stamp read just before it was
 * loaded (library.h, listener.h). A request reads both stamps (two store
 * reads) and reloads only what changed since, whoever changed it: this
 * server, another one on the store, or a command. The tracks queued for the
 * listener change at every request and are few (ET_LISTENER_QUEUED_MAX):
 * they are read each time (one store read).
 *
 * Threads: what is cached is immutable and reference-counted; the cache's
 * lock guards only which snapshot is current, and is held for a few
 * instructions, never while loading: a worker that finds a stale snapshot
 * loads the new one without holding anything, and requests that need no
 * load never wait for one. Two workers may load the same change at once;
 * the last to finish stays (both are current). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "library/library.h"
#include "server/server_internal.h"

/* One loaded state: the library, or one listener's feedback. */
typedef struct snap {
    atomic_size_t refs;
    uint64_t stamp;              /* read before loading */
    et_listener_library *lib;    /* the library's */
    et_listener_feedback *fb;    /* a listener's feedback (NULL when none) */
    size_t nf;
} snap;

/* A listener's cached feedback, in a chained hash table by name. */
typedef struct listener_slot {
    char name[ET_LISTENER_MAX_NAME + 1];
    snap *feedback;
    struct listener_slot *next;
} listener_slot;

#define BUCKETS 1024

struct et__next_cache {
    pthread_mutex_t lock; /* guards the pointers below, not what they point to */
    snap *library;
    listener_slot *buckets[BUCKETS];
    size_t listeners;
};

static void snap_release(snap *p)
{
    if (!p || atomic_fetch_sub(&p->refs, 1) != 1)
        return;
    et_listener_library_release(p->lib);
    free(p->fb);
    free(p);
}

/* The current snapshot of *slot, retained, when it has this stamp; else
 * NULL. */
static snap *take(et__next_cache *c, snap **slot, uint64_t stamp)
{
    pthread_mutex_lock(&c->lock);
    snap *p = *slot && (*slot)->stamp == stamp ? *slot : NULL;
    if (p)
        atomic_fetch_add(&p->refs, 1);
    pthread_mutex_unlock(&c->lock);
    return p;
}

/* Makes fresh (the caller's reference kept) the current snapshot of *slot. */
static void install(et__next_cache *c, snap **slot, snap *fresh)
{
    atomic_fetch_add(&fresh->refs, 1);
    pthread_mutex_lock(&c->lock);
    snap *old = *slot;
    *slot = fresh;
    pthread_mutex_unlock(&c->lock);
    snap_release(old);
}

static uint64_t name_hash(const char *s)
{
    uint64_t h = 14695981039346656037ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* The listener's slot, made on first use; NULL past ET__MAX_LISTENERS (or
 * out of memory): that listener's feedback is then read per request. */
static listener_slot *slot_of(et__next_cache *c, const char *name)
{
    listener_slot **head = &c->buckets[name_hash(name) % BUCKETS];
    pthread_mutex_lock(&c->lock);
    listener_slot *l = *head;
    while (l && strcmp(l->name, name) != 0)
        l = l->next;
    if (!l && c->listeners < ET__MAX_LISTENERS && (l = calloc(1, sizeof *l))) {
        snprintf(l->name, sizeof l->name, "%s", name);
        l->next = *head;
        *head = l;
        c->listeners++;
    }
    pthread_mutex_unlock(&c->lock);
    return l;
}

/* A new snapshot holding one reference (the caller's). */
static snap *snap_new(uint64_t stamp, char *err)
{
    snap *p = calloc(1, sizeof *p);
    if (!p) {
        et_fail(err, ET_E_NOMEM, "out of memory");
        return NULL;
    }
    atomic_init(&p->refs, 1);
    p->stamp = stamp;
    return p;
}

/* The library at this stamp, retained: cached, or loaded and cached. */
static et_status library_at(et_server *s, et_store *st, uint64_t stamp, snap **out, char *err)
{
    et__next_cache *c = s->next_cache;
    if ((*out = take(c, &c->library, stamp)))
        return ET_OK;
    snap *p = snap_new(stamp, err);
    if (!p)
        return ET_E_NOMEM;
    et_status rc = et_listener_library_load(st, &p->lib, err);
    if (rc != ET_OK) {
        snap_release(p);
        return rc;
    }
    atomic_fetch_add(&s->next_library_loads, 1);
    install(c, &c->library, p);
    *out = p;
    return ET_OK;
}

/* The listener's feedback at this stamp, retained: cached, or read (and
 * cached while there is room). */
static et_status feedback_at(et_server *s, et_store *st, const char *name, uint64_t stamp,
                             snap **out, char *err)
{
    et__next_cache *c = s->next_cache;
    listener_slot *l = slot_of(c, name);
    if (l && (*out = take(c, &l->feedback, stamp)))
        return ET_OK;
    snap *p = snap_new(stamp, err);
    if (!p)
        return ET_E_NOMEM;
    et_status rc = et_listener_feedbacks(st, name, &p->fb, &p->nf, err);
    if (rc != ET_OK) {
        snap_release(p);
        return rc;
    }
    atomic_fetch_add(&s->next_feedback_loads, 1);
    if (l)
        install(c, &l->feedback, p);
    *out = p;
    return ET_OK;
}

et_status et__next_session(et_server *s, et_store *st, const char *name, uint64_t seed,
                           et_listener_session **out, char *err)
{
    *out = NULL;
    uint64_t lib_stamp, fb_stamp;
    /* the stamps first, then what they stand for: a change made meanwhile
     * is seen at the next request */
    et_status rc = et_library_stamp(st, &lib_stamp, err);
    if (rc == ET_OK)
        rc = et_listener_feedback_stamp(st, name, &fb_stamp, err);
    snap *lib = NULL, *fb = NULL;
    if (rc == ET_OK)
        rc = library_at(s, st, lib_stamp, &lib, err);
    et_listener_queued_track *q = NULL;
    size_t nq = 0;
    if (rc == ET_OK && lib->lib->n) /* an empty library: session_new says so */
        rc = feedback_at(s, st, name, fb_stamp, &fb, err);
    if (rc == ET_OK && lib->lib->n)
        rc = et_listener_queued(st, name, &q, &nq, err);
    if (rc == ET_OK)
        rc = et_listener_session_new(lib->lib, fb ? fb->fb : NULL, fb ? fb->nf : 0, q, nq, seed,
                                     out, err);
    free(q);
    snap_release(fb);
    snap_release(lib);
    return rc;
}

et_status et__next_cache_open(et_server *s, char *err)
{
    et__next_cache *c = calloc(1, sizeof *c);
    if (!c)
        return et_fail(err, ET_E_NOMEM, "out of memory");
    pthread_mutex_init(&c->lock, NULL);
    s->next_cache = c;
    return ET_OK;
}

void et__next_cache_close(et_server *s)
{
    et__next_cache *c = s->next_cache;
    if (!c)
        return;
    for (size_t b = 0; b < BUCKETS; b++)
        for (listener_slot *l = c->buckets[b], *next; l; l = next) {
            next = l->next;
            snap_release(l->feedback);
            free(l);
        }
    snap_release(c->library);
    pthread_mutex_destroy(&c->lock);
    free(c);
    s->next_cache = NULL;
}
