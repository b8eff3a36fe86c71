/* LMDB backend: one environment (data.mdb + lock.mdb) in the store's
 * directory, one database whose keys are "collection\0id", so a collection is
 * a contiguous, id-ordered key range. LMDB gives the rest: every write
 * transaction is atomic and durable (synchronous commits), readers never
 * block the writer, and write transactions of all processes and threads are
 * serialised, which makes read-modify-write atomic across both. The map grows
 * by itself: on MDB_MAP_FULL the transaction is retried with a doubled map.
 *
 * Threads: every et_store handle on one directory in one process shares one
 * MDB_env (see shared_env below), opened with MDB_NOTLS so that a read
 * transaction is tied to its MDB_txn, not to its thread: threads (and one
 * thread, in an iterate callback) may hold several at once. */
#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_internal.h"

#define MAX_GROWS 12
#define MAP_UNIT ((size_t)1 << 20) /* opts.lmdb_map_bytes is rounded up to this */
#define KEY_MAX (ET_STORE_MAX_COLLECTION + 1 + ET_STORE_MAX_ID)
static const char schema_key[] = "\0schema"; /* sorts before every collection */

/*
 * One open environment, shared by every handle on its directory in this
 * process. lmdb.h (Caveats): "Do not have open an LMDB database twice in the
 * same process at the same time": LMDB's fcntl() locks belong to the
 * process, so closing a second MDB_env (or any descriptor) of the same
 * lock.mdb drops them for all, and another process then takes the store for
 * unused and resets its lock table under our feet. Hence the registry below.
 *
 * Map size: mdb_env_set_mapsize may only be called when no transaction of
 * this process is open on the env (LMDB does not check it). Every
 * transaction holds `resize` shared from begin to commit/abort; growing
 * (MDB_MAP_FULL) and adopting a map another process grew (MDB_MAP_RESIZED)
 * take it exclusive. A thread re-taking it shared (a read in an iterate
 * callback) relies on new readers passing a waiting writer, which glibc's
 * default rwlock (PTHREAD_RWLOCK_PREFER_READER_NP) does; the same makes a
 * grower wait until the readers pause, which they do between calls.
 */
typedef struct shared_env {
    struct shared_env *next;
    dev_t dev;       /* the directory's identity: any path that names it */
    ino_t ino;
    pid_t pid;       /* the opener: an MDB_env is not usable after fork() */
    int refs;        /* et_store handles on it; the last close closes it */
    MDB_env *env;
    MDB_dbi dbi;
    pthread_rwlock_t resize;
} shared_env;

/*
 * The process's open environments. This is the one mutable global of the
 * store, and the rule it serves is itself per process (LMDB's locks are), so
 * it cannot live in a handle. Guarded by registry_mutex, which is held across
 * fork() (pthread_atfork) so a child never inherits it locked. A child keeps
 * its parent's entries in the list but never uses or closes them (pid).
 */
static pthread_mutex_t registry_mutex = PTHREAD_MUTEX_INITIALIZER;
static shared_env *registry;
static pthread_once_t registry_once = PTHREAD_ONCE_INIT;

static void registry_lock(void) { pthread_mutex_lock(&registry_mutex); }
static void registry_unlock(void) { pthread_mutex_unlock(&registry_mutex); }
static void registry_init(void) { pthread_atfork(registry_lock, registry_unlock, registry_unlock); }

typedef struct lmdb_store {
    shared_env *shared;
    char path[4096];
    int map_full; /* set when an operation hit MDB_MAP_FULL */
} lmdb_store;

static et_status lmdb_fail(lmdb_store *l, int rc, const char *what, char *err)
{
    if (rc == MDB_MAP_FULL)
        l->map_full = 1;
    return et_fail(err, ET_E_IO, "lmdb %s: %s: %s", l->path, what, mdb_strerror(rc));
}

/* mkdir -p */
static int make_dirs(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static MDB_val make_key(char *buf, const char *coll, const char *id)
{
    size_t c = strlen(coll), i = id ? strlen(id) : 0;
    memcpy(buf, coll, c);
    buf[c] = '\0';
    if (i)
        memcpy(buf + c + 1, id, i);
    return (MDB_val){c + 1 + i, buf};
}

/* The map a new store starts with: opts.lmdb_map_bytes rounded up to whole
 * MiB, or the default. */
static size_t initial_map(const et_store_opts *opts)
{
    size_t want = opts && opts->lmdb_map_bytes ? opts->lmdb_map_bytes : ET_STORE_DEFAULT_LMDB_MAP;
    return (want + MAP_UNIT - 1) / MAP_UNIT * MAP_UNIT;
}

/* Opens the environment of `dir` and its database (the caller holds the
 * registry lock, so no other thread opens it meanwhile). */
static int env_open(shared_env *e, const char *dir, size_t map)
{
    int rc = mdb_env_create(&e->env);
    if (rc)
        return rc;
    /* A store opened before keeps its (larger) size; a new one starts here. */
    MDB_envinfo info;
    rc = mdb_env_set_mapsize(e->env, map);
    if (rc == 0)
        rc = mdb_env_open(e->env, dir, MDB_NOTLS, 0644);
    if (rc == 0 && mdb_env_info(e->env, &info) == 0 && info.me_mapsize < map)
        rc = mdb_env_set_mapsize(e->env, map);
    MDB_txn *txn = NULL;
    if (rc == 0)
        rc = mdb_txn_begin(e->env, NULL, 0, &txn);
    if (rc == 0)
        rc = mdb_dbi_open(txn, NULL, 0, &e->dbi);
    if (rc == 0) {
        rc = mdb_txn_commit(txn);
        txn = NULL;
    }
    if (txn)
        mdb_txn_abort(txn);
    return rc;
}

/* The process's environment for the directory st names, opened if need be,
 * with one more reference. */
static int env_acquire(const char *dir, const struct stat *st, size_t map, shared_env **out)
{
    pid_t me = getpid();
    int rc = 0;
    registry_lock();
    shared_env *e = registry;
    while (e && !(e->dev == st->st_dev && e->ino == st->st_ino && e->pid == me))
        e = e->next;
    if (e) {
        e->refs++;
    } else if (!(e = calloc(1, sizeof *e))) {
        rc = ENOMEM;
    } else if ((rc = pthread_rwlock_init(&e->resize, NULL)) != 0) {
        free(e);
        e = NULL;
    } else if ((rc = env_open(e, dir, map)) != 0) {
        if (e->env)
            mdb_env_close(e->env);
        pthread_rwlock_destroy(&e->resize);
        free(e);
        e = NULL;
    } else {
        e->dev = st->st_dev;
        e->ino = st->st_ino;
        e->pid = me;
        e->refs = 1;
        e->next = registry;
        registry = e;
    }
    registry_unlock();
    *out = e;
    return rc;
}

/* Drops a reference; the last one closes the environment. */
static void env_release(shared_env *e)
{
    if (e->pid != getpid())
        return; /* inherited over fork(): the parent's, never closed here */
    registry_lock();
    if (--e->refs == 0) {
        shared_env **p = &registry;
        while (*p != e)
            p = &(*p)->next;
        *p = e->next;
        mdb_env_close(e->env);
        pthread_rwlock_destroy(&e->resize);
        free(e);
    }
    registry_unlock();
}

static et_status lmdb_open(const char *dir, const et_store_opts *opts, void **impl, char *err)
{
    pthread_once(&registry_once, registry_init);
    lmdb_store *l = calloc(1, sizeof *l);
    if (!l)
        return et_fail(err, ET_E_NOMEM, "out of memory opening lmdb:%s", dir);
    snprintf(l->path, sizeof l->path, "%s", dir);
    *impl = l;
    struct stat st;
    if (make_dirs(dir) != 0 || stat(dir, &st) != 0)
        return et_fail(err, ET_E_IO, "lmdb %s: cannot create the directory: %s", dir,
                       strerror(errno));
    int rc = env_acquire(dir, &st, initial_map(opts), &l->shared);
    if (rc == ENOMEM)
        return et_fail(err, ET_E_NOMEM, "out of memory opening lmdb:%s", dir);
    return rc ? lmdb_fail(l, rc, "open", err) : ET_OK;
}

static void lmdb_close(void *impl)
{
    lmdb_store *l = impl;
    if (l->shared)
        env_release(l->shared);
    free(l);
}

/* Begins a transaction holding the resize lock shared (end() lets both go);
 * adopts a map another process grew. *mapsize (may be NULL) gets the map
 * size the transaction runs with. */
static et_status begin(lmdb_store *l, unsigned flags, MDB_txn **txn, size_t *mapsize, char *err)
{
    shared_env *e = l->shared;
    for (int adopted = 0;; adopted++) {
        pthread_rwlock_rdlock(&e->resize);
        int rc = mdb_txn_begin(e->env, NULL, flags, txn);
        if (rc == 0) {
            MDB_envinfo info;
            if (mapsize)
                *mapsize = mdb_env_info(e->env, &info) == 0 ? info.me_mapsize : 0;
            return ET_OK;
        }
        pthread_rwlock_unlock(&e->resize);
        if (rc != MDB_MAP_RESIZED || adopted == MAX_GROWS)
            return lmdb_fail(l, rc, flags & MDB_RDONLY ? "begin read" : "begin", err);
        pthread_rwlock_wrlock(&e->resize);
        mdb_env_set_mapsize(e->env, 0);
        pthread_rwlock_unlock(&e->resize);
    }
}

/* Commits (or aborts) and releases the resize lock; 0 or LMDB's error. */
static int end(lmdb_store *l, MDB_txn *txn, int commit)
{
    int rc = 0;
    if (commit)
        rc = mdb_txn_commit(txn);
    else
        mdb_txn_abort(txn);
    pthread_rwlock_unlock(&l->shared->resize);
    return rc;
}

/* Doubles a map that was `seen` bytes when it proved too small, alone with
 * the environment; when another thread grew it meanwhile, that will do. */
static int grow_map(lmdb_store *l, size_t seen)
{
    shared_env *e = l->shared;
    MDB_envinfo info;
    int rc;
    pthread_rwlock_wrlock(&e->resize);
    rc = mdb_env_info(e->env, &info);
    if (rc == 0 && info.me_mapsize <= seen)
        rc = mdb_env_set_mapsize(e->env, seen * 2);
    pthread_rwlock_unlock(&e->resize);
    return rc;
}

/* Runs fn in a write transaction and commits, retrying with a bigger map
 * when the data did not fit, and adopting a map another process grew. */
typedef et_status (*write_fn)(lmdb_store *l, MDB_txn *txn, void *arg, char *err);

static et_status with_write(lmdb_store *l, write_fn fn, void *arg, char *err)
{
    for (int attempt = 0; attempt <= MAX_GROWS; attempt++) {
        MDB_txn *txn;
        size_t seen;
        et_status st = begin(l, 0, &txn, &seen, err);
        if (st != ET_OK)
            return st;
        l->map_full = 0;
        st = fn(l, txn, arg, err);
        int rc = end(l, txn, st == ET_OK);
        if (st == ET_OK && rc == 0)
            return ET_OK;
        if (st == ET_OK)
            st = lmdb_fail(l, rc, "commit", err);
        if (!l->map_full)
            return st;
        if (grow_map(l, seen) != 0)
            return et_fail(err, ET_E_IO, "lmdb %s: cannot grow the map", l->path);
    }
    return et_fail(err, ET_E_IO, "lmdb %s: the map is still full after %d doublings", l->path,
                   MAX_GROWS);
}

static et_status with_read(lmdb_store *l, MDB_txn **txn, char *err)
{
    return begin(l, MDB_RDONLY, txn, NULL, err);
}

static et_status copy_out(const MDB_val *v, char **json, size_t *len, char *err)
{
    *json = malloc(v->mv_size + 1);
    if (!*json)
        return et_fail(err, ET_E_NOMEM, "out of memory reading a %zu byte document", v->mv_size);
    memcpy(*json, v->mv_data, v->mv_size);
    (*json)[v->mv_size] = '\0';
    *len = v->mv_size;
    return ET_OK;
}

static et_status lmdb_get(void *impl, const char *coll, const char *id, char **json,
                          size_t *len, char *err)
{
    lmdb_store *l = impl;
    MDB_txn *txn;
    et_status st = with_read(l, &txn, err);
    if (st != ET_OK)
        return st;
    char kb[KEY_MAX];
    MDB_val k = make_key(kb, coll, id), v;
    int rc = mdb_get(txn, l->shared->dbi, &k, &v);
    if (rc == MDB_NOTFOUND)
        st = et_fail(err, ET_E_NOT_FOUND, "%s/%s not found", coll, id);
    else if (rc)
        st = lmdb_fail(l, rc, "get", err);
    else
        st = copy_out(&v, json, len, err);
    end(l, txn, 0);
    return st;
}

typedef struct put_arg {
    const et_store_op *ops;
    size_t n;
    int strict_del; /* a DEL of an absent document is an error (single del) */
} put_arg;

static et_status apply_ops(lmdb_store *l, MDB_txn *txn, void *arg, char *err)
{
    put_arg *a = arg;
    for (size_t i = 0; i < a->n; i++) {
        const et_store_op *op = &a->ops[i];
        char kb[KEY_MAX];
        MDB_val k = make_key(kb, op->collection, op->id);
        int rc;
        if (op->kind == ET_STORE_OP_PUT) {
            MDB_val v = {op->len, (void *)op->json};
            rc = mdb_put(txn, l->shared->dbi, &k, &v, 0);
        } else {
            rc = mdb_del(txn, l->shared->dbi, &k, NULL);
            if (rc == MDB_NOTFOUND && a->strict_del)
                return et_fail(err, ET_E_NOT_FOUND, "%s/%s not found", op->collection, op->id);
            if (rc == MDB_NOTFOUND)
                rc = 0;
        }
        if (rc)
            return lmdb_fail(l, rc, op->kind == ET_STORE_OP_PUT ? "put" : "delete", err);
    }
    return ET_OK;
}

static et_status lmdb_put(void *impl, const char *coll, const char *id, const char *json,
                          size_t len, char *err)
{
    et_store_op op = {ET_STORE_OP_PUT, coll, id, json, len};
    put_arg a = {&op, 1, 0};
    return with_write(impl, apply_ops, &a, err);
}

static et_status lmdb_del(void *impl, const char *coll, const char *id, char *err)
{
    et_store_op op = {ET_STORE_OP_DEL, coll, id, NULL, 0};
    put_arg a = {&op, 1, 1};
    return with_write(impl, apply_ops, &a, err);
}

static et_status lmdb_batch(void *impl, const et_store_op *ops, size_t n, char *err)
{
    put_arg a = {ops, n, 0};
    return with_write(impl, apply_ops, &a, err);
}

/* A read transaction and a cursor on the database (close both). */
static et_status read_cursor(lmdb_store *l, MDB_txn **txn, MDB_cursor **cur, char *err)
{
    et_status st = with_read(l, txn, err);
    if (st != ET_OK)
        return st;
    int rc = mdb_cursor_open(*txn, l->shared->dbi, cur);
    if (rc) {
        end(l, *txn, 0);
        return lmdb_fail(l, rc, "cursor", err);
    }
    return ET_OK;
}

/* From the entry at k (rc its cursor_get's result), steps by `step` while
 * the keys are in the collection whose prefix (clen bytes) is at kb, calling
 * fn on each, until fn stops it or limit entries (0: no limit) were seen.
 * Returns the last cursor_get's result (MDB_NOTFOUND at the end). */
static int walk(MDB_cursor *cur, MDB_val *k, MDB_val *v, int rc, MDB_cursor_op step,
                const char *kb, size_t clen, size_t limit, et_store_visit_fn fn, void *user)
{
    char id[ET_STORE_MAX_ID + 1];
    for (size_t seen = 0; rc == 0; rc = mdb_cursor_get(cur, k, v, step)) {
        if (k->mv_size < clen || memcmp(k->mv_data, kb, clen) != 0)
            break; /* outside the collection */
        size_t ilen = k->mv_size - clen;
        memcpy(id, (char *)k->mv_data + clen, ilen);
        id[ilen] = '\0';
        if (fn && fn(user, id, v->mv_data, v->mv_size))
            break;
        if (limit && ++seen == limit)
            break;
    }
    return rc;
}

/* Closes a walk's cursor and read transaction; its status from rc. */
static et_status end_walk(lmdb_store *l, MDB_txn *txn, MDB_cursor *cur, int rc, char *err)
{
    et_status st = rc && rc != MDB_NOTFOUND ? lmdb_fail(l, rc, "iterate", err) : ET_OK;
    mdb_cursor_close(cur);
    end(l, txn, 0);
    return st;
}

/* Walks the keys of one collection from `from`, calling fn on each. */
static et_status lmdb_iterate(void *impl, const char *coll, const char *from, size_t limit,
                              et_store_visit_fn fn, void *user, char *err)
{
    lmdb_store *l = impl;
    MDB_txn *txn;
    MDB_cursor *cur;
    et_status st = read_cursor(l, &txn, &cur, err);
    if (st != ET_OK)
        return st;
    char kb[KEY_MAX];
    size_t clen = strlen(coll) + 1;
    MDB_val k = make_key(kb, coll, from), v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    return end_walk(l, txn, cur, walk(cur, &k, &v, rc, MDB_NEXT, kb, clen, limit, fn, user), err);
}

/* Walks the keys of one collection before `before` (NULL: from its last),
 * the last first. */
static et_status lmdb_iterate_back(void *impl, const char *coll, const char *before,
                                   size_t limit, et_store_visit_fn fn, void *user, char *err)
{
    lmdb_store *l = impl;
    MDB_txn *txn;
    MDB_cursor *cur;
    et_status st = read_cursor(l, &txn, &cur, err);
    if (st != ET_OK)
        return st;
    char kb[KEY_MAX];
    size_t clen = strlen(coll) + 1;
    MDB_val k = make_key(kb, coll, before), v;
    if (!before) /* just past the collection: its name, then a byte above '\0' */
        kb[clen - 1] = '\1';
    /* the first key at or after the bound, then one back; none after it:
     * the last key of all */
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    rc = rc == MDB_NOTFOUND ? mdb_cursor_get(cur, &k, &v, MDB_LAST)
         : rc == 0          ? mdb_cursor_get(cur, &k, &v, MDB_PREV)
                            : rc;
    /* the bound's prefix, for comparing: make_key wrote it at kb */
    kb[clen - 1] = '\0';
    return end_walk(l, txn, cur, walk(cur, &k, &v, rc, MDB_PREV, kb, clen, limit, fn, user), err);
}

static int count_one(void *user, const char *id, const char *json, size_t len)
{
    (void)id, (void)json, (void)len;
    ++*(size_t *)user;
    return 0;
}

static et_status lmdb_count(void *impl, const char *coll, size_t *n, char *err)
{
    *n = 0;
    return lmdb_iterate(impl, coll, NULL, 0, count_one, n, err);
}

/* Jumps from collection to collection: after "name\0..." comes "name\1". */
static et_status lmdb_collections(void *impl, char ***names, size_t *n, char *err)
{
    lmdb_store *l = impl;
    MDB_txn *txn;
    MDB_cursor *cur;
    et_status st = read_cursor(l, &txn, &cur, err);
    if (st != ET_OK)
        return st;
    int rc;
    size_t cap = 0;
    char seek[ET_STORE_MAX_COLLECTION + 2] = "\x01";
    MDB_val k = {1, seek}, v;
    while ((rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)) == 0) {
        const char *key = k.mv_data;
        size_t clen = strnlen(key, k.mv_size);
        if (clen == 0 || clen > ET_STORE_MAX_COLLECTION)
            break;
        st = et__store_names_add(names, n, &cap, key, clen, err);
        if (st != ET_OK)
            break;
        memcpy(seek, key, clen);
        seek[clen] = '\x01';
        k = (MDB_val){clen + 1, seek};
    }
    if (rc && rc != MDB_NOTFOUND && st == ET_OK)
        st = lmdb_fail(l, rc, "list collections", err);
    mdb_cursor_close(cur);
    end(l, txn, 0);
    return st;
}

typedef struct update_arg {
    const char *coll, *id;
    et_store_update_fn fn;
    void *user;
} update_arg;

static et_status update_in_txn(lmdb_store *l, MDB_txn *txn, void *arg, char *err)
{
    update_arg *a = arg;
    char kb[KEY_MAX];
    MDB_val k = make_key(kb, a->coll, a->id), v;
    int rc = mdb_get(txn, l->shared->dbi, &k, &v);
    if (rc && rc != MDB_NOTFOUND)
        return lmdb_fail(l, rc, "get", err);
    char *out = NULL;
    size_t out_len = 0;
    et_status st = a->fn(a->user, rc ? NULL : v.mv_data, rc ? 0 : v.mv_size, &out, &out_len, err);
    if (st != ET_OK)
        return st;
    if (out) {
        MDB_val nv = {out_len, out};
        rc = mdb_put(txn, l->shared->dbi, &k, &nv, 0);
    } else {
        rc = mdb_del(txn, l->shared->dbi, &k, NULL);
        rc = rc == MDB_NOTFOUND ? 0 : rc;
    }
    free(out);
    return rc ? lmdb_fail(l, rc, "update", err) : ET_OK;
}

static et_status lmdb_update(void *impl, const char *coll, const char *id, et_store_update_fn fn,
                             void *user, char *err)
{
    update_arg a = {coll, id, fn, user};
    return with_write(impl, update_in_txn, &a, err);
}

static et_status lmdb_get_version(void *impl, int *version, char *err)
{
    lmdb_store *l = impl;
    MDB_txn *txn;
    *version = 0;
    et_status st = with_read(l, &txn, err);
    if (st != ET_OK)
        return st;
    MDB_val k = {sizeof schema_key - 1, (void *)schema_key}, v;
    int rc = mdb_get(txn, l->shared->dbi, &k, &v);
    if (rc == 0) {
        char buf[16] = "";
        memcpy(buf, v.mv_data, v.mv_size < 15 ? v.mv_size : 15);
        *version = atoi(buf);
    } else if (rc != MDB_NOTFOUND) {
        st = lmdb_fail(l, rc, "read the schema version", err);
    }
    end(l, txn, 0);
    return st;
}

static et_status set_version_txn(lmdb_store *l, MDB_txn *txn, void *arg, char *err)
{
    char buf[16];
    int n = snprintf(buf, sizeof buf, "%d", *(int *)arg);
    MDB_val k = {sizeof schema_key - 1, (void *)schema_key}, v = {(size_t)n, buf};
    int rc = mdb_put(txn, l->shared->dbi, &k, &v, 0);
    return rc ? lmdb_fail(l, rc, "write the schema version", err) : ET_OK;
}

static et_status lmdb_set_version(void *impl, int version, char *err)
{
    return with_write(impl, set_version_txn, &version, err);
}

const et__store_ops et__store_lmdb = {
    .name = "lmdb",
    .open = lmdb_open,
    .close = lmdb_close,
    .get = lmdb_get,
    .put = lmdb_put,
    .del = lmdb_del,
    .iterate = lmdb_iterate,
    .iterate_back = lmdb_iterate_back,
    .count = lmdb_count,
    .collections = lmdb_collections,
    .batch = lmdb_batch,
    .update = lmdb_update,
    .get_version = lmdb_get_version,
    .set_version = lmdb_set_version,
};
