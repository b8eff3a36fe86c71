/*
 * The Redis backend of the store (contract in store.h, table in
 * store_internal.h). store.c has validated every name, id and document.
 *
 * Key layout. Every key starts with "emotune:"; collection names start with
 * a letter and ids cannot hold '{', so the "~" keys never collide with a
 * document key and the id -> key mapping is one-to-one:
 *   emotune:<coll>:<id>        a document (string)
 *   emotune:<coll>:{<L>}/<R>   a document whose id is "L/R": the listener L is
 *                              a Cluster hash tag, one listener = one slot
 *   emotune:~ids:<coll>        the collection's ids: a sorted set, every
 *                              score 0, so ZRANGEBYLEX walks ids bytewise
 *                              (the order LMDB gives); Redis deletes it when
 *                              it becomes empty
 *   emotune:~collections       a set of every collection name ever written;
 *                              a name is listed only while its index exists,
 *                              so a delete never has to maintain it
 *   emotune:~meta:schema       the schema version, in decimal
 *   emotune:~tx:<128 bits>     this handle's last update (see update_try)
 *
 * Atomicity: every write is one MULTI/EXEC transaction, so the document and
 * its index entry change together, or not at all if the connection drops
 * before EXEC. update is optimistic (WATCH the document, retry on conflict).
 *
 * Connection loss: an operation that loses its connection (I/O error, EOF,
 * timeout, or a server still loading its data after a restart) reconnects, at most opts->retries connection attempts per call
 * (50 ms, 100 ms, ... apart; the first is immediate), and runs again; a
 * later call reconnects lazily. Worst case for one call with T = timeout_ms,
 * N = retries: T for the command that hung + N * T for the attempts + the
 * back-off (150 ms for N = 3): about 4.15 s with the defaults.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "store/store_internal.h"

#define RS_SCHEME "redis://"
#define RS_PREFIX "emotune:"
#define RS_IDX_PREFIX "emotune:~ids:"
#define RS_COLLECTIONS "emotune:~collections"
#define RS_SCHEMA "emotune:~meta:schema"
#define RS_TX_PREFIX "emotune:~tx:"
#define RS_TX_RANDOM_BYTES 16
/* Longest key: the index prefix is the longest prefix; +3 for ':', '{', '}'. */
#define RS_KEY_MAX (sizeof RS_IDX_PREFIX + ET_STORE_MAX_COLLECTION + ET_STORE_MAX_ID + 3)

enum {
    RS_DEFAULT_TIMEOUT_MS = 1000,
    RS_MAX_PORT = 65535,
    RS_MAX_DB = 15,
    RS_BACKOFF_FIRST_MS = 50,
    RS_BACKOFF_MAX_MS = 1000,
    RS_PAGE = 500,            /* ids per ZRANGEBYLEX + MGET round trip */
    RS_CHUNK_BYTES = 1 << 20, /* batch: document bytes written out at a time */
    RS_UPDATE_TRIES = 100,
    RS_UPDATE_BACKOFF_US = 100, /* conflict back-off: random below this << try */
    RS_UPDATE_BACKOFF_SHIFT_MAX = 5,
    /* How long an update's marker outlives it: far more than the worst-case
     * reconnection, after which nobody reads it. */
    RS_TX_TTL_MS = 60000,
};

typedef struct redis_store {
    char *host;
    char *password; /* NULL: no AUTH */
    char *where;    /* "HOST:PORT" as written in the URI, for messages */
    int port;
    int db;
    int timeout_ms;
    int attempts;    /* connection attempts per call before ET_E_UNAVAILABLE */
    redisContext *c; /* NULL while disconnected */
    int lost;        /* the last command lost the connection: run() retries */
    char why[128];   /* why the connection was lost or refused */
    char txkey[sizeof RS_TX_PREFIX + 2 * RS_TX_RANDOM_BYTES];
    unsigned long long txseq; /* numbers this handle's update calls */
    uint64_t rng;             /* xorshift state for the conflict back-off */
} redis_store;

/* ---- URI ---------------------------------------------------------------- */

/* Digits only, 1..5 of them, at most max. */
static int parse_small_uint(const char *s, size_t n, long max, int *out)
{
    if (n == 0 || n > 5)
        return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v > max)
        return -1;
    *out = (int)v;
    return 0;
}

static int host_char_ok(unsigned char ch, int bracketed)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '.' || ch == '-' || ch == '_' || (bracketed && (ch == ':' || ch == '%'));
}

/* Splits "HOST:PORT[/DB]" (HOST may be a bracketed IPv6 address). Messages
 * never repeat the URI: it may hold a password. */
static et_status parse_hostport(redis_store *r, const char *p, char *err)
{
    const char *host = p, *host_end;
    int bracketed = *p == '[';
    if (bracketed) {
        host = p + 1;
        host_end = strchr(host, ']');
        if (!host_end)
            return et_fail(err, ET_E_INVALID, "redis URI: '[' without ']' around the host");
    } else {
        host_end = host + strcspn(host, ":/");
    }
    if (host_end == host)
        return et_fail(err, ET_E_INVALID, "redis URI: no host (redis://HOST:PORT[/DB])");
    for (const char *h = host; h < host_end; h++)
        if (!host_char_ok((unsigned char)*h, bracketed))
            return et_fail(err, ET_E_INVALID, "redis URI: bad character in the host at '%.20s'",
                           h);
    const char *q = host_end + bracketed;
    if (*q != ':')
        return et_fail(err, ET_E_INVALID, "redis URI: no port (redis://HOST:PORT[/DB])");
    const char *port = q + 1, *port_end = port + strcspn(port, "/");
    if (parse_small_uint(port, (size_t)(port_end - port), RS_MAX_PORT, &r->port) != 0 ||
        r->port == 0)
        return et_fail(err, ET_E_INVALID, "redis URI: port '%.*s' is not a number in 1..%d",
                       (int)(port_end - port > 16 ? 16 : port_end - port), port, RS_MAX_PORT);
    if (*port_end == '/') {
        const char *db = port_end + 1;
        if (parse_small_uint(db, strlen(db), RS_MAX_DB, &r->db) != 0)
            return et_fail(err, ET_E_INVALID, "redis URI: database '%.16s' is not a number in 0..%d",
                           db, RS_MAX_DB);
    }
    r->host = strndup(host, (size_t)(host_end - host));
    r->where = strndup(p, (size_t)(port_end - p));
    if (!r->host || !r->where)
        return et_fail(err, ET_E_NOMEM, "out of memory opening redis");
    return ET_OK;
}

/* "redis://[:PASSWORD@]HOST:PORT[/DB]". The password is taken verbatim (no
 * percent-decoding) up to the last '@'. */
static et_status parse_uri(redis_store *r, const char *uri, char *err)
{
    if (strncmp(uri, RS_SCHEME, sizeof RS_SCHEME - 1) != 0)
        return et_fail(err, ET_E_INVALID, "redis URI must start with " RS_SCHEME);
    const char *p = uri + sizeof RS_SCHEME - 1;
    const char *at = strrchr(p, '@');
    if (at) {
        if (p[0] != ':')
            return et_fail(err, ET_E_INVALID,
                           "redis URI: credentials must be ':PASSWORD@' (no user name)");
        if (at == p + 1)
            return et_fail(err, ET_E_INVALID, "redis URI: empty password");
        r->password = strndup(p + 1, (size_t)(at - p - 1));
        if (!r->password)
            return et_fail(err, ET_E_NOMEM, "out of memory opening redis");
        p = at + 1;
    }
    return parse_hostport(r, p, err);
}

/* ---- keys --------------------------------------------------------------- */

/* emotune:<coll>:<id>, or emotune:<coll>:{<listener>}/<rest>. */
static size_t doc_key(char *buf, const char *coll, const char *id)
{
    const char *slash = strchr(id, '/');
    int n = slash ? snprintf(buf, RS_KEY_MAX, RS_PREFIX "%s:{%.*s}%s", coll,
                             (int)(slash - id), id, slash)
                  : snprintf(buf, RS_KEY_MAX, RS_PREFIX "%s:%s", coll, id);
    return (size_t)n;
}

static size_t idx_key(char *buf, const char *coll)
{
    return (size_t)snprintf(buf, RS_KEY_MAX, RS_IDX_PREFIX "%s", coll);
}

/* ---- connection ------------------------------------------------------------ */

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

static uint64_t next_random(redis_store *r)
{
    r->rng ^= r->rng << 13;
    r->rng ^= r->rng >> 7;
    r->rng ^= r->rng << 17;
    return r->rng;
}

/*
 * hiredis writes with write(), so a write to a connection the server has
 * closed raises SIGPIPE, whose default action kills the process. A library
 * must not change the process's handlers; like libpq (pq_block_sigpipe) we
 * block SIGPIPE in this thread around the write and discard the one we
 * caused, leaving any earlier pending SIGPIPE alone.
 */
typedef struct pipe_guard {
    sigset_t old;
    int was_pending;
} pipe_guard;

static void pipe_block(pipe_guard *g)
{
    sigset_t pipe_set, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigpending(&pending);
    g->was_pending = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_set, &g->old);
}

static void pipe_restore(pipe_guard *g)
{
    sigset_t pipe_set, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigpending(&pending);
    if (!g->was_pending && sigismember(&pending, SIGPIPE) == 1) {
        const struct timespec now = {0, 0};
        sigtimedwait(&pipe_set, NULL, &now);
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

static void drop(redis_store *r)
{
    if (r->c)
        redisFree(r->c);
    r->c = NULL;
}

/* The context failed: I/O error, EOF and timeout mark the connection lost
 * (run() reconnects and retries); anything else leaves it in an unknown
 * state, so it is dropped too and the call fails. */
static et_status conn_failed(redis_store *r, int saved_errno, char *err)
{
    int kind = r->c ? r->c->err : REDIS_ERR_EOF;
    if (!r->c)
        snprintf(r->why, sizeof r->why, "not connected");
    else if (kind == REDIS_ERR_IO && (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK))
        snprintf(r->why, sizeof r->why, "no reply within %d ms", r->timeout_ms);
    else
        snprintf(r->why, sizeof r->why, "%s", r->c->errstr[0] ? r->c->errstr : "connection error");
    drop(r);
    if (kind == REDIS_ERR_IO || kind == REDIS_ERR_EOF) {
        r->lost = 1;
        return et_fail(err, ET_E_UNAVAILABLE, "redis %s: %s", r->where, r->why);
    }
    if (kind == REDIS_ERR_OOM)
        return et_fail(err, ET_E_NOMEM, "redis %s: out of memory", r->where);
    return et_fail(err, ET_E_IO, "redis %s: %s", r->where, r->why);
}

/* Appends one command to the pipeline (sent by the next get_reply). Uses
 * hiredis' format: %s and %b are single, binary-safe arguments. */
static et_status cmd(redis_store *r, char *err, const char *fmt, ...)
{
    if (!r->c)
        return conn_failed(r, 0, err);
    va_list ap;
    va_start(ap, fmt);
    int rc = redisvAppendCommand(r->c, fmt, ap);
    va_end(ap);
    return rc == REDIS_OK ? ET_OK : conn_failed(r, errno, err);
}

static et_status cmd_argv(redis_store *r, int argc, const char **argv, const size_t *lens,
                          char *err)
{
    if (!r->c)
        return conn_failed(r, 0, err);
    int rc = redisAppendCommandArgv(r->c, argc, argv, lens);
    return rc == REDIS_OK ? ET_OK : conn_failed(r, errno, err);
}

/* A Redis that has just started refuses commands with "-LOADING ..." until
 * its data set is in memory. That is a passing state, as a lost connection
 * is: the connection is dropped and marked lost, so run() reconnects after
 * its back-off and runs the operation again (nothing was applied: a refused
 * command inside MULTI makes EXEC refuse too). Takes rep. */
static et_status still_loading(redis_store *r, redisReply *rep, char *err)
{
    snprintf(r->why, sizeof r->why, "%.*s", (int)rep->len, rep->str);
    freeReplyObject(rep);
    drop(r);
    r->lost = 1;
    return et_fail(err, ET_E_UNAVAILABLE, "redis %s: %s", r->where, r->why);
}

/* The next reply (caller frees), flushing the pipeline first if needed. */
static et_status get_reply(redis_store *r, redisReply **out, char *err)
{
    *out = NULL;
    if (!r->c)
        return conn_failed(r, 0, err);
    int writing = r->c->obuf && r->c->obuf[0];
    pipe_guard g;
    if (writing)
        pipe_block(&g);
    void *reply = NULL;
    int rc = redisGetReply(r->c, &reply);
    int saved_errno = errno;
    if (writing)
        pipe_restore(&g);
    if (rc != REDIS_OK || !reply) {
        freeReplyObject(reply);
        return conn_failed(r, saved_errno, err);
    }
    redisReply *rep = reply;
    if (rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "LOADING ", 8) == 0)
        return still_loading(r, rep, err);
    *out = reply;
    return ET_OK;
}

/* Writes out everything appended so far without waiting for replies, so the
 * server works on one chunk while the next is being prepared and sent. Safe
 * from deadlock: Redis buffers its replies instead of blocking on them, and
 * a batch has only a few replies per thousand documents. */
static et_status flush_out(redis_store *r, char *err)
{
    if (!r->c)
        return conn_failed(r, 0, err);
    pipe_guard g;
    pipe_block(&g);
    int done = 0, rc = REDIS_OK;
    while (!done && rc == REDIS_OK)
        rc = redisBufferWrite(r->c, &done);
    int saved_errno = errno;
    pipe_restore(&g);
    return rc == REDIS_OK ? ET_OK : conn_failed(r, saved_errno, err);
}

static et_status reply_failed(const redis_store *r, const redisReply *rep, const char *what,
                              char *err)
{
    if (rep->type == REDIS_REPLY_ERROR)
        return et_fail(err, ET_E_IO, "redis %s: %s: %.*s", r->where, what,
                       (int)(rep->len > 160 ? 160 : rep->len), rep->str);
    return et_fail(err, ET_E_IO, "redis %s: %s: unexpected reply (type %d)", r->where, what,
                   rep->type);
}

/* Reads n replies that only acknowledge (OK, QUEUED, integers). Reads them
 * all even after an error reply, to keep the pipeline in step; returns the
 * first error. */
static et_status read_acks(redis_store *r, size_t n, const char *what, char *err)
{
    et_status first = ET_OK;
    for (size_t i = 0; i < n; i++) {
        redisReply *rep;
        et_status st = get_reply(r, &rep, err);
        if (st != ET_OK)
            return st;
        if (rep->type == REDIS_REPLY_ERROR && first == ET_OK)
            first = reply_failed(r, rep, what, err);
        freeReplyObject(rep);
    }
    return first;
}

/* One attempt: TCP connect, AUTH, SELECT. ET_E_UNAVAILABLE means worth
 * retrying; a refused AUTH or SELECT is final (ET_E_IO). */
static et_status connect_once(redis_store *r, char *err)
{
    struct timeval tv = {r->timeout_ms / 1000, (r->timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(r->host, r->port, tv);
    if (!c)
        return et_fail(err, ET_E_NOMEM, "redis %s: out of memory connecting", r->where);
    r->c = c;
    /* The connect timeout also bounds every command (read and write). */
    if (c->err || redisSetTimeout(c, tv) != REDIS_OK) {
        et_status st = conn_failed(r, errno, err);
        return st == ET_E_NOMEM ? st : et_fail(err, ET_E_UNAVAILABLE, "%s", r->why);
    }
    size_t n = 0;
    et_status st = ET_OK;
    if (r->password && (st = cmd(r, err, "AUTH %s", r->password)) == ET_OK)
        n++;
    if (st == ET_OK && r->db && (st = cmd(r, err, "SELECT %d", r->db)) == ET_OK)
        n++;
    if (st == ET_OK)
        st = read_acks(r, n, r->password ? "AUTH/SELECT" : "SELECT", err);
    if (st != ET_OK && !r->lost)
        drop(r);
    return st;
}

static long backoff_ms(int attempt)
{
    long ms = (long)RS_BACKOFF_FIRST_MS << (attempt > 8 ? 8 : attempt - 1);
    return ms > RS_BACKOFF_MAX_MS ? RS_BACKOFF_MAX_MS : ms;
}

/* Connects, spending the call's attempts (*used of r->attempts). */
static et_status reconnect(redis_store *r, int *used, char *err)
{
    while (*used < r->attempts) {
        if (*used > 0)
            sleep_us(backoff_ms(*used) * 1000);
        ++*used;
        r->lost = 0;
        et_status st = connect_once(r, err);
        if (st == ET_OK)
            return ET_OK;
        if (st != ET_E_UNAVAILABLE)
            return st;
    }
    return et_fail(err, ET_E_UNAVAILABLE, "redis %s: %s (after %d attempt%s)", r->where, r->why,
                   *used, *used == 1 ? "" : "s");
}

/* An operation runs over the connection; rerun > 0 when an earlier run of
 * the same call lost its connection (maybe after its writes were sent). */
typedef et_status (*redis_op)(redis_store *r, void *ctx, int rerun, char *err);

static et_status run(redis_store *r, redis_op op, void *ctx, char *err)
{
    int used = 0;
    for (int rerun = 0;; rerun++) {
        if (!r->c) {
            et_status st = reconnect(r, &used, err);
            if (st != ET_OK)
                return st;
        }
        r->lost = 0;
        et_status st = op(r, ctx, rerun, err);
        if (!r->lost)
            return st;
        /* the connection is gone: reconnect (within the call's attempts), run again */
    }
}

/* ---- replies of a transaction ---------------------------------------------- */

/* After MULTI, the queued commands and EXEC were appended: reads the n
 * replies before EXEC's, then EXEC's (*exec: an array, or nil when a WATCHed
 * key changed). A refused queued command makes Redis refuse EXEC too
 * (EXECABORT): nothing is applied, and the first refusal is reported. */
static et_status read_exec(redis_store *r, size_t n, const char *what, redisReply **exec,
                           char *err)
{
    *exec = NULL;
    et_status st = read_acks(r, n, what, err);
    if (r->lost)
        return st;
    redisReply *rep;
    et_status st2 = get_reply(r, &rep, err);
    if (st2 != ET_OK)
        return st2;
    if (st == ET_OK && rep->type != REDIS_REPLY_ARRAY && rep->type != REDIS_REPLY_NIL)
        st = reply_failed(r, rep, what, err);
    /* Commands that fail while EXEC runs (WRONGTYPE on a key someone else
     * wrote) are not rolled back by Redis; at least say so. */
    for (size_t i = 0; st == ET_OK && rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++)
        if (rep->element[i]->type == REDIS_REPLY_ERROR)
            st = reply_failed(r, rep->element[i], what, err);
    if (st != ET_OK) {
        freeReplyObject(rep);
        return st;
    }
    *exec = rep;
    return ET_OK;
}

/* Appends the commands of a put (document, id index, collection name);
 * *ncmds counts them. */
static et_status append_put(redis_store *r, const char *coll, const char *id, const char *json,
                            size_t len, size_t *ncmds, char *err)
{
    char key[RS_KEY_MAX], idx[RS_KEY_MAX];
    doc_key(key, coll, id);
    idx_key(idx, coll);
    et_status st = cmd(r, err, "SET %s %b", key, json, len);
    if (st == ET_OK)
        st = cmd(r, err, "ZADD %s 0 %s", idx, id);
    if (st == ET_OK)
        st = cmd(r, err, "SADD " RS_COLLECTIONS " %s", coll);
    *ncmds += 3;
    return st;
}

static et_status append_del(redis_store *r, const char *coll, const char *id, size_t *ncmds,
                            char *err)
{
    char key[RS_KEY_MAX], idx[RS_KEY_MAX];
    doc_key(key, coll, id);
    idx_key(idx, coll);
    et_status st = cmd(r, err, "DEL %s", key);
    if (st == ET_OK)
        st = cmd(r, err, "ZREM %s %s", idx, id);
    *ncmds += 2;
    return st;
}

/* ---- operations -------------------------------------------------------------- */

typedef struct doc_ctx {
    const char *coll, *id;
    const char *json; /* put */
    size_t len;
    char **out; /* get */
    size_t *out_len;
} doc_ctx;

static et_status get_op(redis_store *r, void *ctx, int rerun, char *err)
{
    doc_ctx *d = ctx;
    char key[RS_KEY_MAX];
    redisReply *rep;
    (void)rerun;
    doc_key(key, d->coll, d->id);
    et_status st = cmd(r, err, "GET %s", key);
    if (st == ET_OK)
        st = get_reply(r, &rep, err);
    if (st != ET_OK)
        return st;
    if (rep->type == REDIS_REPLY_NIL)
        st = et_fail(err, ET_E_NOT_FOUND, "no document '%s' in '%s'", d->id, d->coll);
    else if (rep->type != REDIS_REPLY_STRING)
        st = reply_failed(r, rep, key, err);
    else if (!(*d->out = malloc(rep->len + 1)))
        st = et_fail(err, ET_E_NOMEM, "out of memory reading %zu bytes", rep->len);
    if (st == ET_OK) {
        memcpy(*d->out, rep->str, rep->len);
        (*d->out)[rep->len] = '\0';
        if (d->out_len)
            *d->out_len = rep->len;
    }
    freeReplyObject(rep);
    return st;
}

static et_status put_op(redis_store *r, void *ctx, int rerun, char *err)
{
    doc_ctx *d = ctx;
    size_t n = 0;
    redisReply *exec;
    (void)rerun; /* a put is idempotent: running it again is harmless */
    et_status st = cmd(r, err, "MULTI");
    if (st == ET_OK)
        st = append_put(r, d->coll, d->id, d->json, d->len, &n, err);
    if (st == ET_OK)
        st = cmd(r, err, "EXEC");
    if (st == ET_OK)
        st = read_exec(r, 1 + n, "put", &exec, err);
    if (st != ET_OK)
        return st;
    freeReplyObject(exec);
    return ET_OK;
}

static et_status del_op(redis_store *r, void *ctx, int rerun, char *err)
{
    doc_ctx *d = ctx;
    size_t n = 0;
    redisReply *exec;
    et_status st = cmd(r, err, "MULTI");
    if (st == ET_OK)
        st = append_del(r, d->coll, d->id, &n, err);
    if (st == ET_OK)
        st = cmd(r, err, "EXEC");
    if (st == ET_OK)
        st = read_exec(r, 1 + n, "del", &exec, err);
    if (st != ET_OK)
        return st;
    int deleted = exec->type == REDIS_REPLY_ARRAY && exec->elements > 0 &&
                  exec->element[0]->type == REDIS_REPLY_INTEGER && exec->element[0]->integer > 0;
    freeReplyObject(exec);
    /* After a lost connection the first run may have deleted it already and
     * lost only the reply: the document is gone either way. */
    if (!deleted && !rerun)
        return et_fail(err, ET_E_NOT_FOUND, "no document '%s' in '%s'", d->id, d->coll);
    return ET_OK;
}

typedef struct iter_ctx {
    const char *coll, *from;
    size_t limit;
    et_store_visit_fn fn;
    void *user;
    size_t done;   /* documents visited */
    int stopped;   /* fn asked to stop */
    int resume;    /* start after `last` (a rerun must not visit twice) */
    int back;      /* the last first: from below `from` (NULL: the end) down */
    char last[ET_STORE_MAX_ID + 2]; /* "(" + the last id visited */
    char *keys;    /* RS_PAGE keys of RS_KEY_MAX bytes */
} iter_ctx;

/* MGETs the documents of one page of ids and visits them in order. */
static et_status visit_page(redis_store *r, iter_ctx *it, const redisReply *ids, char *err)
{
    const char *argv[1 + RS_PAGE];
    size_t lens[1 + RS_PAGE];
    argv[0] = "MGET";
    lens[0] = 4;
    for (size_t i = 0; i < ids->elements; i++) {
        if (ids->element[i]->type != REDIS_REPLY_STRING || ids->element[i]->len > ET_STORE_MAX_ID)
            return et_fail(err, ET_E_IO, "redis %s: " RS_IDX_PREFIX "%s holds a bad id",
                           r->where, it->coll);
        argv[1 + i] = it->keys + i * RS_KEY_MAX;
        lens[1 + i] = doc_key(it->keys + i * RS_KEY_MAX, it->coll, ids->element[i]->str);
    }
    redisReply *docs;
    et_status st = cmd_argv(r, 1 + (int)ids->elements, argv, lens, err);
    if (st == ET_OK)
        st = get_reply(r, &docs, err);
    if (st != ET_OK)
        return st;
    if (docs->type != REDIS_REPLY_ARRAY || docs->elements != ids->elements) {
        st = reply_failed(r, docs, "MGET", err);
        freeReplyObject(docs);
        return st;
    }
    for (size_t i = 0; i < docs->elements && !it->stopped; i++) {
        const redisReply *id = ids->element[i], *doc = docs->element[i];
        snprintf(it->last, sizeof it->last, "(%s", id->str);
        it->resume = 1;
        /* nil: deleted between ZRANGEBYLEX and MGET; it no longer exists */
        if (doc->type != REDIS_REPLY_STRING)
            continue;
        it->done++;
        it->stopped = it->fn(it->user, id->str, doc->str, doc->len) != 0 ||
                      (it->limit && it->done >= it->limit);
        r->lost = 0; /* fn may have used the store: our own commands decide */
    }
    freeReplyObject(docs);
    return ET_OK;
}

static et_status iterate_op(redis_store *r, void *ctx, int rerun, char *err)
{
    iter_ctx *it = ctx;
    char idx[RS_KEY_MAX], start[ET_STORE_MAX_ID + 2];
    (void)rerun; /* it->last says where to resume */
    idx_key(idx, it->coll);
    while (!it->stopped) {
        if (it->resume)
            snprintf(start, sizeof start, "%s", it->last);
        else if (it->from)
            snprintf(start, sizeof start, "%c%s", it->back ? '(' : '[', it->from);
        else
            snprintf(start, sizeof start, "%s", it->back ? "+" : "-");
        size_t want = RS_PAGE;
        if (it->limit && it->limit - it->done < want)
            want = it->limit - it->done;
        redisReply *ids;
        et_status st = it->back ? cmd(r, err, "ZREVRANGEBYLEX %s %s - LIMIT 0 %d", idx, start,
                                      (int)want)
                                : cmd(r, err, "ZRANGEBYLEX %s %s + LIMIT 0 %d", idx, start,
                                      (int)want);
        if (st == ET_OK)
            st = get_reply(r, &ids, err);
        if (st != ET_OK)
            return st;
        if (ids->type != REDIS_REPLY_ARRAY)
            st = reply_failed(r, ids, idx, err);
        else if (ids->elements > 0)
            st = visit_page(r, it, ids, err);
        int last_page = ids->type != REDIS_REPLY_ARRAY || ids->elements < want;
        freeReplyObject(ids);
        if (st != ET_OK || last_page)
            return st;
    }
    return ET_OK;
}

typedef struct count_ctx {
    const char *coll;
    size_t *n;
} count_ctx;

static et_status count_op(redis_store *r, void *ctx, int rerun, char *err)
{
    count_ctx *cc = ctx;
    char idx[RS_KEY_MAX];
    redisReply *rep;
    (void)rerun;
    idx_key(idx, cc->coll);
    et_status st = cmd(r, err, "ZCARD %s", idx);
    if (st == ET_OK)
        st = get_reply(r, &rep, err);
    if (st != ET_OK)
        return st;
    if (rep->type == REDIS_REPLY_INTEGER && rep->integer >= 0)
        *cc->n = (size_t)rep->integer;
    else
        st = reply_failed(r, rep, idx, err);
    freeReplyObject(rep);
    return st;
}

typedef struct names_ctx {
    char ***names;
    size_t *n;
} names_ctx;

/* Keeps the members of the collections set whose index exists (EXISTS for
 * each, pipelined). */
static et_status keep_live_names(redis_store *r, const redisReply *set, names_ctx *nc,
                                 char *err)
{
    char idx[RS_KEY_MAX];
    size_t cap = 0;
    et_status st = ET_OK;
    for (size_t i = 0; i < set->elements && st == ET_OK; i++) {
        const redisReply *m = set->element[i];
        if (m->type != REDIS_REPLY_STRING || m->len > ET_STORE_MAX_COLLECTION) {
            st = et_fail(err, ET_E_IO, "redis %s: " RS_COLLECTIONS " holds a bad name",
                         r->where);
            break;
        }
        idx_key(idx, m->str);
        st = cmd(r, err, "EXISTS %s", idx);
    }
    for (size_t i = 0; i < set->elements && st == ET_OK; i++) {
        redisReply *rep;
        st = get_reply(r, &rep, err);
        if (st != ET_OK)
            break;
        if (rep->type != REDIS_REPLY_INTEGER)
            st = reply_failed(r, rep, "EXISTS", err);
        else if (rep->integer > 0)
            st = et__store_names_add(nc->names, nc->n, &cap, set->element[i]->str,
                                     set->element[i]->len, err);
        freeReplyObject(rep);
    }
    if (st != ET_OK && !r->lost)
        drop(r); /* replies may be left unread */
    return st;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static et_status collections_op(redis_store *r, void *ctx, int rerun, char *err)
{
    names_ctx *nc = ctx;
    redisReply *set;
    (void)rerun;
    et_status st = cmd(r, err, "SMEMBERS " RS_COLLECTIONS);
    if (st == ET_OK)
        st = get_reply(r, &set, err);
    if (st != ET_OK)
        return st;
    if (set->type != REDIS_REPLY_ARRAY)
        st = reply_failed(r, set, RS_COLLECTIONS, err);
    else
        st = keep_live_names(r, set, nc, err);
    freeReplyObject(set);
    if (st != ET_OK) {
        et_store_free_names(*nc->names, *nc->n);
        *nc->names = NULL;
        *nc->n = 0;
        return st;
    }
    if (*nc->n > 1)
        qsort(*nc->names, *nc->n, sizeof **nc->names, cmp_names);
    return ET_OK;
}

typedef struct batch_ctx {
    const et_store_op *ops;
    size_t n;
} batch_ctx;

/*
 * One transaction for the whole batch. Big batches are sent in chunks,
 * reading each chunk's QUEUED replies before the next, so neither side holds
 * the whole pipeline in one buffer; Redis applies nothing before EXEC and
 * discards the transaction if the connection drops first.
 */
/* Scratch for one run of same-kind operations on one collection: the
 * argument vectors of MSET/ZADD (puts) or DEL/ZREM (deletes). */
typedef struct run_args {
    const char **a1, **a2;
    size_t *l1, *l2;
    char *keys; /* RS_RUN_MAX keys of RS_KEY_MAX bytes */
} run_args;

enum { RS_RUN_MAX = 512 }; /* operations per multi-key command */

static void run_args_free(run_args *ra)
{
    free(ra->a1), free(ra->a2), free(ra->l1), free(ra->l2), free(ra->keys);
}

static int run_args_alloc(run_args *ra)
{
    size_t n = 2 * RS_RUN_MAX + 3;
    ra->a1 = malloc(n * sizeof *ra->a1);
    ra->a2 = malloc(n * sizeof *ra->a2);
    ra->l1 = malloc(n * sizeof *ra->l1);
    ra->l2 = malloc(n * sizeof *ra->l2);
    ra->keys = malloc((size_t)RS_RUN_MAX * RS_KEY_MAX);
    return ra->a1 && ra->a2 && ra->l1 && ra->l2 && ra->keys;
}

/* How many operations from ops[0] share kind and collection (at most
 * RS_RUN_MAX, and about RS_CHUNK_BYTES of documents). */
static size_t run_length(const et_store_op *ops, size_t n)
{
    size_t k = 1, bytes = ops[0].len;
    while (k < n && k < RS_RUN_MAX && ops[k].kind == ops[0].kind &&
           strcmp(ops[k].collection, ops[0].collection) == 0 && bytes < RS_CHUNK_BYTES)
        bytes += ops[k++].len;
    return k;
}

/* Appends one run as two multi-key commands: MSET + ZADD for puts, DEL +
 * ZREM for deletes. Keeps the order of the batch: runs are consecutive. */
static et_status append_run(redis_store *r, run_args *ra, const et_store_op *ops, size_t k,
                            char *err)
{
    char idx[RS_KEY_MAX];
    size_t idx_len = idx_key(idx, ops[0].collection), n1 = 0, n2 = 0;
    int put = ops[0].kind == ET_STORE_OP_PUT;
    ra->a1[n1] = put ? "MSET" : "DEL", ra->l1[n1] = strlen(ra->a1[n1]), n1++;
    ra->a2[n2] = put ? "ZADD" : "ZREM", ra->l2[n2] = 4, n2++;
    ra->a2[n2] = idx, ra->l2[n2++] = idx_len;
    for (size_t i = 0; i < k; i++) {
        char *key = ra->keys + i * RS_KEY_MAX;
        ra->a1[n1] = key, ra->l1[n1++] = doc_key(key, ops[i].collection, ops[i].id);
        if (put)
            ra->a1[n1] = ops[i].json, ra->l1[n1++] = ops[i].len;
        if (put)
            ra->a2[n2] = "0", ra->l2[n2++] = 1;
        ra->a2[n2] = ops[i].id, ra->l2[n2++] = strlen(ops[i].id);
    }
    et_status st = cmd_argv(r, (int)n1, ra->a1, ra->l1, err);
    return st == ET_OK ? cmd_argv(r, (int)n2, ra->a2, ra->l2, err) : st;
}

/*
 * One transaction for the whole batch. Consecutive operations of one kind
 * on one collection go as one MSET + ZADD (or DEL + ZREM), so the server does
 * a few commands per thousand documents, not three per document. Big batches
 * are written out in chunks of about RS_CHUNK_BYTES as they are built, so the
 * client never holds the whole batch in its output buffer; the few QUEUED
 * replies are read at the end. Redis applies nothing before EXEC and
 * discards the transaction if the connection drops first.
 */
static et_status batch_op(redis_store *r, void *ctx, int rerun, char *err)
{
    batch_ctx *b = ctx;
    size_t pending = 1, bytes = 0; /* replies to read: MULTI's so far */
    const char *sadded = NULL;     /* collection last recorded */
    (void)rerun;                   /* MSET and DEL are idempotent */
    run_args ra = {0};
    if (!run_args_alloc(&ra)) {
        run_args_free(&ra);
        return et_fail(err, ET_E_NOMEM, "out of memory for a batch");
    }
    et_status st = cmd(r, err, "MULTI");
    for (size_t i = 0; i < b->n && st == ET_OK;) {
        const et_store_op *op = &b->ops[i];
        size_t k = run_length(op, b->n - i);
        st = append_run(r, &ra, op, k, err);
        pending += 2;
        if (st == ET_OK && op->kind == ET_STORE_OP_PUT &&
            (!sadded || strcmp(sadded, op->collection) != 0)) {
            st = cmd(r, err, "SADD " RS_COLLECTIONS " %s", op->collection);
            sadded = op->collection;
            pending++;
        }
        for (size_t j = 0; j < k; j++)
            bytes += op[j].len;
        i += k;
        if (st == ET_OK && bytes >= RS_CHUNK_BYTES) {
            st = flush_out(r, err);
            bytes = 0;
        }
    }
    run_args_free(&ra);
    redisReply *exec;
    if (st == ET_OK)
        st = cmd(r, err, "EXEC");
    if (st == ET_OK)
        st = read_exec(r, pending, "batch", &exec, err);
    if (st != ET_OK) {
        if (!r->lost)
            drop(r); /* a transaction may be open: closing discards it */
        return st;
    }
    freeReplyObject(exec);
    return ET_OK;
}

typedef struct update_ctx {
    const char *coll, *id;
    et_store_update_fn fn;
    void *user;
    char seq[24]; /* this call's number, the value of r->txkey */
} update_ctx;

/* Ends a WATCH without writing. */
static et_status unwatch(redis_store *r, char *err)
{
    et_status st = cmd(r, err, "UNWATCH");
    return st == ET_OK ? read_acks(r, 1, "UNWATCH", err) : st;
}

/* WATCH key; GET key (and the marker, on a rerun). */
static et_status watch_and_read(redis_store *r, update_ctx *u, const char *key, int rerun,
                                redisReply **old, int *applied, char *err)
{
    redisReply *tok = NULL;
    *old = NULL;
    *applied = 0;
    et_status st = cmd(r, err, "WATCH %s", key);
    if (st == ET_OK)
        st = cmd(r, err, "GET %s", key);
    if (st == ET_OK && rerun)
        st = cmd(r, err, "GET %s", r->txkey);
    if (st == ET_OK)
        st = read_acks(r, 1, "WATCH", err);
    if (st == ET_OK)
        st = get_reply(r, old, err);
    if (st == ET_OK && rerun)
        st = get_reply(r, &tok, err);
    if (st == ET_OK && (*old)->type != REDIS_REPLY_STRING && (*old)->type != REDIS_REPLY_NIL)
        st = reply_failed(r, *old, key, err);
    if (st == ET_OK && tok)
        *applied = tok->type == REDIS_REPLY_STRING && tok->len == strlen(u->seq) &&
                   memcmp(tok->str, u->seq, tok->len) == 0;
    freeReplyObject(tok);
    if (st != ET_OK) {
        freeReplyObject(*old);
        *old = NULL;
        if (!r->lost)
            drop(r); /* a WATCH may be left, and replies unread */
    }
    return st;
}

/* MULTI; the write (or delete); the marker; EXEC. *won = 0 when a watched
 * key changed (nothing applied). */
static et_status write_watched(redis_store *r, update_ctx *u, const char *doc, size_t len,
                               int *won, char *err)
{
    size_t n = 0;
    redisReply *exec;
    et_status st = cmd(r, err, "MULTI");
    if (st == ET_OK)
        st = doc ? append_put(r, u->coll, u->id, doc, len, &n, err)
                 : append_del(r, u->coll, u->id, &n, err);
    if (st == ET_OK)
        st = cmd(r, err, "SET %s %s PX %d", r->txkey, u->seq, (int)RS_TX_TTL_MS);
    if (st == ET_OK)
        st = cmd(r, err, "EXEC");
    if (st == ET_OK)
        st = read_exec(r, 2 + n, "update", &exec, err);
    if (st != ET_OK) {
        if (!r->lost)
            drop(r);
        return st;
    }
    *won = exec->type == REDIS_REPLY_ARRAY;
    freeReplyObject(exec);
    return ET_OK;
}

/*
 * One optimistic round. The transaction also sets r->txkey to this call's
 * number: if the connection drops after EXEC was sent, the rerun reads the
 * marker under its WATCH and, when the lost transaction did commit, stops
 * instead of applying fn twice. (If it commits later still, it was WATCHing
 * the document too, so at most one of the two commits.)
 */
static et_status update_try(redis_store *r, update_ctx *u, int rerun, int *done, char *err)
{
    char key[RS_KEY_MAX];
    redisReply *old;
    int applied;
    *done = 0;
    doc_key(key, u->coll, u->id);
    et_status st = watch_and_read(r, u, key, rerun, &old, &applied, err);
    if (st != ET_OK)
        return st;
    char *doc = NULL;
    size_t len = 0;
    int present = old->type == REDIS_REPLY_STRING;
    if (!applied) {
        st = u->fn(u->user, present ? old->str : NULL, present ? old->len : 0, &doc, &len, err);
        r->lost = 0; /* fn may have used the store: our own commands decide */
    }
    freeReplyObject(old);
    if (applied || st != ET_OK || (!doc && !present)) {
        /* already done, fn refused, or nothing to delete: end the WATCH
         * (keeping fn's message if it refused) */
        char why[ET_ERR_MAX];
        et_status un = unwatch(r, st != ET_OK ? why : err);
        *done = 1;
        return st != ET_OK ? st : un;
    }
    st = write_watched(r, u, doc, len, done, err);
    free(doc);
    return st;
}

static et_status update_op(redis_store *r, void *ctx, int rerun, char *err)
{
    update_ctx *u = ctx;
    for (int try = 0; try < RS_UPDATE_TRIES; try++) {
        if (try > 0) {
            /* random, growing pause so that the writers stop colliding */
            int shift = try > RS_UPDATE_BACKOFF_SHIFT_MAX ? RS_UPDATE_BACKOFF_SHIFT_MAX : try;
            sleep_us((long)(next_random(r) % ((uint64_t)RS_UPDATE_BACKOFF_US << shift)));
        }
        int done;
        et_status st = update_try(r, u, rerun, &done, err);
        if (st != ET_OK || done)
            return st;
    }
    return et_fail(err, ET_E_CONFLICT, "update of '%s' in '%s' lost %d tries to other writers",
                   u->id, u->coll, RS_UPDATE_TRIES);
}

typedef struct version_ctx {
    int *get;
    int set;
} version_ctx;

static et_status version_op(redis_store *r, void *ctx, int rerun, char *err)
{
    version_ctx *v = ctx;
    redisReply *rep;
    (void)rerun;
    et_status st = v->get ? cmd(r, err, "GET " RS_SCHEMA)
                          : cmd(r, err, "SET " RS_SCHEMA " %d", v->set);
    if (st == ET_OK)
        st = get_reply(r, &rep, err);
    if (st != ET_OK)
        return st;
    if (rep->type == REDIS_REPLY_ERROR || (!v->get && rep->type != REDIS_REPLY_STATUS)) {
        st = reply_failed(r, rep, RS_SCHEMA, err);
    } else if (v->get && rep->type == REDIS_REPLY_NIL) {
        *v->get = 0;
    } else if (v->get) {
        char *end;
        errno = 0;
        long n = rep->type == REDIS_REPLY_STRING ? strtol(rep->str, &end, 10) : -1;
        if (rep->type != REDIS_REPLY_STRING || errno || end == rep->str || *end || n < 0 ||
            n > INT_MAX)
            st = et_fail(err, ET_E_IO, "redis %s: " RS_SCHEMA " does not hold a version number",
                         r->where);
        else
            *v->get = (int)n;
    }
    freeReplyObject(rep);
    return st;
}

/* ---- the table ------------------------------------------------------------- */

static void redis_close(void *impl)
{
    redis_store *r = impl;
    if (!r)
        return;
    drop(r);
    free(r->host);
    free(r->password);
    free(r->where);
    free(r);
}

/* A random marker key per handle, and the back-off's seed. */
static void seed(redis_store *r)
{
    unsigned char bytes[RS_TX_RANDOM_BYTES + sizeof r->rng];
    if (getrandom(bytes, sizeof bytes, 0) != (ssize_t)sizeof bytes) {
        /* no entropy source: time, pid and an address still differ between handles */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^
                     ((uint64_t)getpid() << 40) ^ (uint64_t)(uintptr_t)r;
        for (size_t i = 0; i < sizeof bytes; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            bytes[i] = (unsigned char)(x >> 56);
        }
    }
    int n = snprintf(r->txkey, sizeof r->txkey, "%s", RS_TX_PREFIX);
    for (size_t i = 0; i < RS_TX_RANDOM_BYTES; i++)
        n += snprintf(r->txkey + n, sizeof r->txkey - (size_t)n, "%02x", bytes[i]);
    memcpy(&r->rng, bytes + RS_TX_RANDOM_BYTES, sizeof r->rng);
    r->rng |= 1; /* xorshift must not start at 0 */
}

static et_status redis_open(const char *uri, const et_store_opts *opts, void **impl, char *err)
{
    *impl = NULL;
    redis_store *r = calloc(1, sizeof *r);
    if (!r)
        return et_fail(err, ET_E_NOMEM, "out of memory opening redis");
    et_status st = parse_uri(r, uri, err);
    if (st != ET_OK) {
        redis_close(r);
        return st;
    }
    r->timeout_ms = opts && opts->timeout_ms > 0 ? opts->timeout_ms : RS_DEFAULT_TIMEOUT_MS;
    r->attempts = opts && opts->retries > 1 ? opts->retries : 1;
    seed(r);
    int used = 0;
    st = reconnect(r, &used, err);
    if (st != ET_OK) {
        redis_close(r);
        return st;
    }
    *impl = r;
    return ET_OK;
}

static et_status redis_get(void *impl, const char *coll, const char *id, char **json, size_t *len,
                           char *err)
{
    *json = NULL;
    if (len)
        *len = 0;
    doc_ctx d = {.coll = coll, .id = id, .out = json, .out_len = len};
    return run(impl, get_op, &d, err);
}

static et_status redis_put(void *impl, const char *coll, const char *id, const char *json,
                           size_t len, char *err)
{
    doc_ctx d = {.coll = coll, .id = id, .json = json, .len = len};
    return run(impl, put_op, &d, err);
}

static et_status redis_del(void *impl, const char *coll, const char *id, char *err)
{
    doc_ctx d = {.coll = coll, .id = id};
    return run(impl, del_op, &d, err);
}

static et_status redis_iterate(void *impl, const char *coll, const char *from, size_t limit,
                               et_store_visit_fn fn, void *user, char *err)
{
    iter_ctx it = {.coll = coll, .from = from, .limit = limit, .fn = fn, .user = user};
    it.keys = malloc((size_t)RS_PAGE * RS_KEY_MAX);
    if (!it.keys)
        return et_fail(err, ET_E_NOMEM, "out of memory iterating '%s'", coll);
    et_status st = run(impl, iterate_op, &it, err);
    free(it.keys);
    return st;
}

static et_status redis_iterate_back(void *impl, const char *coll, const char *before,
                                    size_t limit, et_store_visit_fn fn, void *user, char *err)
{
    iter_ctx it = {.coll = coll, .from = before, .limit = limit, .fn = fn, .user = user,
                   .back = 1};
    it.keys = malloc((size_t)RS_PAGE * RS_KEY_MAX);
    if (!it.keys)
        return et_fail(err, ET_E_NOMEM, "out of memory iterating '%s'", coll);
    et_status st = run(impl, iterate_op, &it, err);
    free(it.keys);
    return st;
}

static et_status redis_count(void *impl, const char *coll, size_t *n, char *err)
{
    *n = 0;
    count_ctx cc = {coll, n};
    return run(impl, count_op, &cc, err);
}

static et_status redis_collections(void *impl, char ***names, size_t *n, char *err)
{
    *names = NULL;
    *n = 0;
    names_ctx nc = {names, n};
    return run(impl, collections_op, &nc, err);
}

static et_status redis_batch(void *impl, const et_store_op *ops, size_t n, char *err)
{
    if (n == 0)
        return ET_OK;
    batch_ctx b = {ops, n};
    return run(impl, batch_op, &b, err);
}

static et_status redis_update(void *impl, const char *coll, const char *id,
                              et_store_update_fn fn, void *user, char *err)
{
    redis_store *r = impl;
    update_ctx u = {.coll = coll, .id = id, .fn = fn, .user = user};
    snprintf(u.seq, sizeof u.seq, "%llu", ++r->txseq);
    return run(r, update_op, &u, err);
}

static et_status redis_get_version(void *impl, int *version, char *err)
{
    *version = 0;
    version_ctx v = {.get = version};
    return run(impl, version_op, &v, err);
}

static et_status redis_set_version(void *impl, int version, char *err)
{
    version_ctx v = {.set = version};
    return run(impl, version_op, &v, err);
}

const et__store_ops et__store_redis = {
    .name = "redis",
    .open = redis_open,
    .close = redis_close,
    .get = redis_get,
    .put = redis_put,
    .del = redis_del,
    .iterate = redis_iterate,
    .iterate_back = redis_iterate_back,
    .count = redis_count,
    .collections = redis_collections,
    .batch = redis_batch,
    .update = redis_update,
    .get_version = redis_get_version,
    .set_version = redis_set_version,
};
