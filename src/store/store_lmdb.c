/* LMDB backend: one environment (data.mdb + lock.mdb) in the store's
 * directory, one database whose keys are "collection\0id", so a collection is
 * a contiguous, id-ordered key range. LMDB gives the rest: every write
 * transaction is atomic and durable (synchronous commits), readers never
 * block the writer, and write transactions of all processes are serialised,
 * which makes read-modify-write atomic across processes. The map grows by
 * itself: on MDB_MAP_FULL the transaction is retried with a doubled map. */
#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/store_internal.h"

#define INITIAL_MAP ((size_t)64 << 20)
#define MAX_GROWS 12
#define KEY_MAX (ET_STORE_MAX_COLLECTION + 1 + ET_STORE_MAX_ID)
static const char schema_key[] = "\0schema"; /* sorts before every collection */

typedef struct lmdb_store {
    MDB_env *env;
    MDB_dbi dbi;
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

static et_status lmdb_open(const char *dir, const et_store_opts *opts, void **impl, char *err)
{
    (void)opts;
    lmdb_store *l = calloc(1, sizeof *l);
    if (!l)
        return et_fail(err, ET_E_NOMEM, "out of memory opening lmdb:%s", dir);
    snprintf(l->path, sizeof l->path, "%s", dir);
    *impl = l;
    if (make_dirs(dir) != 0)
        return et_fail(err, ET_E_IO, "lmdb %s: cannot create the directory: %s", dir,
                       strerror(errno));
    int rc = mdb_env_create(&l->env);
    if (rc == 0) {
        /* A store opened before keeps its (larger) size; a new one starts here. */
        MDB_envinfo info;
        rc = mdb_env_set_mapsize(l->env, INITIAL_MAP);
        if (rc == 0)
            rc = mdb_env_open(l->env, dir, 0, 0644);
        if (rc == 0 && mdb_env_info(l->env, &info) == 0 && info.me_mapsize < INITIAL_MAP)
            rc = mdb_env_set_mapsize(l->env, INITIAL_MAP);
    }
    MDB_txn *txn = NULL;
    if (rc == 0)
        rc = mdb_txn_begin(l->env, NULL, 0, &txn);
    if (rc == 0)
        rc = mdb_dbi_open(txn, NULL, 0, &l->dbi);
    if (rc == 0) {
        rc = mdb_txn_commit(txn);
        txn = NULL;
    }
    if (txn)
        mdb_txn_abort(txn);
    return rc ? lmdb_fail(l, rc, "open", err) : ET_OK;
}

static void lmdb_close(void *impl)
{
    lmdb_store *l = impl;
    if (l->env)
        mdb_env_close(l->env);
    free(l);
}

static int grow_map(lmdb_store *l)
{
    MDB_envinfo info;
    if (mdb_env_info(l->env, &info) != 0)
        return -1;
    return mdb_env_set_mapsize(l->env, info.me_mapsize * 2);
}

/* Runs fn in a write transaction and commits, retrying with a bigger map
 * when the data did not fit, and adopting a map another process grew. */
typedef et_status (*write_fn)(lmdb_store *l, MDB_txn *txn, void *arg, char *err);

static et_status with_write(lmdb_store *l, write_fn fn, void *arg, char *err)
{
    for (int attempt = 0; attempt <= MAX_GROWS; attempt++) {
        MDB_txn *txn;
        int rc = mdb_txn_begin(l->env, NULL, 0, &txn);
        if (rc == MDB_MAP_RESIZED) {
            mdb_env_set_mapsize(l->env, 0);
            continue;
        }
        if (rc)
            return lmdb_fail(l, rc, "begin", err);
        l->map_full = 0;
        et_status st = fn(l, txn, arg, err);
        if (st == ET_OK) {
            rc = mdb_txn_commit(txn);
            if (rc == 0)
                return ET_OK;
            st = lmdb_fail(l, rc, "commit", err);
        } else {
            mdb_txn_abort(txn);
        }
        if (!l->map_full)
            return st;
        if (grow_map(l) != 0)
            return et_fail(err, ET_E_IO, "lmdb %s: cannot grow the map", l->path);
    }
    return et_fail(err, ET_E_IO, "lmdb %s: the map is still full after %d doublings", l->path,
                   MAX_GROWS);
}

static et_status with_read(lmdb_store *l, MDB_txn **txn, char *err)
{
    int rc = mdb_txn_begin(l->env, NULL, MDB_RDONLY, txn);
    if (rc == MDB_MAP_RESIZED) {
        mdb_env_set_mapsize(l->env, 0);
        rc = mdb_txn_begin(l->env, NULL, MDB_RDONLY, txn);
    }
    return rc ? lmdb_fail(l, rc, "begin read", err) : ET_OK;
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
    int rc = mdb_get(txn, l->dbi, &k, &v);
    if (rc == MDB_NOTFOUND)
        st = et_fail(err, ET_E_NOT_FOUND, "%s/%s not found", coll, id);
    else if (rc)
        st = lmdb_fail(l, rc, "get", err);
    else
        st = copy_out(&v, json, len, err);
    mdb_txn_abort(txn);
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
            rc = mdb_put(txn, l->dbi, &k, &v, 0);
        } else {
            rc = mdb_del(txn, l->dbi, &k, NULL);
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
    int rc = mdb_cursor_open(*txn, l->dbi, cur);
    if (rc) {
        mdb_txn_abort(*txn);
        return lmdb_fail(l, rc, "cursor", err);
    }
    return ET_OK;
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
    int rc;
    char kb[KEY_MAX], id[ET_STORE_MAX_ID + 1];
    size_t clen = strlen(coll) + 1, seen = 0;
    MDB_val k = make_key(kb, coll, from), v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size < clen || memcmp(k.mv_data, kb, clen) != 0)
            break; /* past the collection */
        size_t ilen = k.mv_size - clen;
        memcpy(id, (char *)k.mv_data + clen, ilen);
        id[ilen] = '\0';
        if (fn && fn(user, id, v.mv_data, v.mv_size))
            break;
        if (limit && ++seen == limit)
            break;
    }
    if (rc && rc != MDB_NOTFOUND)
        st = lmdb_fail(l, rc, "iterate", err);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return st;
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
    mdb_txn_abort(txn);
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
    int rc = mdb_get(txn, l->dbi, &k, &v);
    if (rc && rc != MDB_NOTFOUND)
        return lmdb_fail(l, rc, "get", err);
    char *out = NULL;
    size_t out_len = 0;
    et_status st = a->fn(a->user, rc ? NULL : v.mv_data, rc ? 0 : v.mv_size, &out, &out_len, err);
    if (st != ET_OK)
        return st;
    if (out) {
        MDB_val nv = {out_len, out};
        rc = mdb_put(txn, l->dbi, &k, &nv, 0);
    } else {
        rc = mdb_del(txn, l->dbi, &k, NULL);
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
    int rc = mdb_get(txn, l->dbi, &k, &v);
    if (rc == 0) {
        char buf[16] = "";
        memcpy(buf, v.mv_data, v.mv_size < 15 ? v.mv_size : 15);
        *version = atoi(buf);
    } else if (rc != MDB_NOTFOUND) {
        st = lmdb_fail(l, rc, "read the schema version", err);
    }
    mdb_txn_abort(txn);
    return st;
}

static et_status set_version_txn(lmdb_store *l, MDB_txn *txn, void *arg, char *err)
{
    char buf[16];
    int n = snprintf(buf, sizeof buf, "%d", *(int *)arg);
    MDB_val k = {sizeof schema_key - 1, (void *)schema_key}, v = {(size_t)n, buf};
    int rc = mdb_put(txn, l->dbi, &k, &v, 0);
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
    .count = lmdb_count,
    .collections = lmdb_collections,
    .batch = lmdb_batch,
    .update = lmdb_update,
    .get_version = lmdb_get_version,
    .set_version = lmdb_set_version,
};
