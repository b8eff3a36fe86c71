/*
 * store: emotune's state as JSON documents, by collection and id, in LMDB
 * (embedded, the default) or Redis (several servers sharing one state). The
 * code above never asks which backend it has.
 *
 * Names: a collection is 1..ET_STORE_MAX_COLLECTION characters of [a-z0-9_],
 * starting with a letter. An id is 1..ET_STORE_MAX_ID bytes of
 * [A-Za-z0-9._~:@+=/-], without "..". An id of the form "LISTENER/REST"
 * belongs to listener LISTENER: on Redis its key carries LISTENER as a hash
 * tag ({LISTENER}) so that one listener's documents share a slot. Note that
 * each write also touches the collection's id index, so a sharded Redis
 * Cluster is not supported yet: use one Redis server (or a replicated
 * primary) for several emotune servers.
 * Documents: any JSON text that parses (checked on every write), at most
 * opts.max_doc_bytes (default 1 MB). A refused write changes nothing.
 *
 * Every function returns ET_OK or an error with a message in err:
 * ET_E_INVALID (bad name, id, URI or JSON), ET_E_TOO_LARGE, ET_E_NOT_FOUND,
 * ET_E_IO (an LMDB error, or a Redis server refusal: OOM, WRONGPASS, ...),
 * ET_E_UNAVAILABLE (Redis unreachable, or still loading its data, after
 * retries, in bounded time),
 * ET_E_VERSION (store written by a newer emotune),
 * ET_E_CONFLICT (an update lost every retry), ET_E_NOMEM.
 *
 * Threads: an et_store handle is not thread-safe: use it from one thread at
 * a time (a Redis handle is one hiredis connection, which is not). Open one
 * handle per thread instead; any number of handles, in any number of threads
 * and processes, may be open on one store at once, and every write through
 * one is seen by the reads through the others once it has returned.
 * et_store_open and et_store_close themselves may be called from any thread.
 * On LMDB a handle is cheap: all the handles of a process on one directory
 * (by any path that names it) share one LMDB environment, opened by the first
 * and closed by the last, because LMDB forbids opening one twice in a process.
 * On Redis each handle is its own connection to the server.
 * A store handle must not be used in a child after fork(): open a new one.
 */
#ifndef ET_STORE_H
#define ET_STORE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/core.h"

#define ET_STORE_MAX_COLLECTION 64
#define ET_STORE_MAX_ID 256
#define ET_STORE_DEFAULT_MAX_DOC ((size_t)1 << 20)
#define ET_STORE_SCHEMA_VERSION 1
#define ET_STORE_DEFAULT_LMDB_MAP ((size_t)64 << 20)

typedef struct et_store et_store;

/* The operations counted in et_store_stats. */
typedef enum et_store_stat_op {
    ET_STORE_STAT_GET,
    ET_STORE_STAT_PUT,
    ET_STORE_STAT_DEL,
    ET_STORE_STAT_ITERATE,
    ET_STORE_STAT_COUNT,
    ET_STORE_STAT_BATCH,
    ET_STORE_STAT_UPDATE,
    ET_STORE_STAT__COUNT
} et_store_stat_op;

/* "get", "put", ... (the operation's function name without et_store_). */
const char *et_store_stat_name(et_store_stat_op op);

/*
 * Counters of the calls made through the handles opened with it, and of
 * those the store failed: ET_E_IO, ET_E_UNAVAILABLE, ET_E_CONFLICT,
 * ET_E_NOMEM, ET_E_VERSION (not ET_E_NOT_FOUND, nor an argument refused).
 * Atomic: any number of handles in any threads may share one. The caller
 * owns it, zeroes it first, and keeps it until its handles are closed.
 */
typedef struct et_store_stats {
    atomic_ulong calls[ET_STORE_STAT__COUNT];
    atomic_ulong errors[ET_STORE_STAT__COUNT];
    atomic_ulong docs_read; /* documents got (et_store_get) and visited (iterations) */
} et_store_stats;

typedef struct et_store_opts {
    size_t max_doc_bytes; /* larger documents: ET_E_TOO_LARGE */
    int timeout_ms;       /* Redis: connect and command timeout */
    int retries;          /* Redis: connection attempts per call before ET_E_UNAVAILABLE;
                           * worst case about timeout * (1 + retries) plus back-off
                           * (50 ms doubling), 4.2 s with the defaults */
    size_t lmdb_map_bytes; /* LMDB: the map a new store starts with, rounded up to
                            * whole MiB (0: ET_STORE_DEFAULT_LMDB_MAP); it doubles
                            * whenever it is full. Only the first open of a
                            * directory in a process uses it (later ones share
                            * that environment), and a store keeps a bigger map it
                            * already has. */
    et_store_stats *stats; /* NULL: not counted */
} et_store_opts;

et_store_opts et_store_default_opts(void);

/*
 * The default URI: "lmdb:" + $XDG_DATA_HOME/emotune, else
 * ~/.local/share/emotune. Writes into buf (len bytes) and returns it.
 */
const char *et_store_default_uri(char *buf, size_t len);

/*
 * Opens a store by URI: "lmdb:DIR" (the directory is created if missing) or
 * "redis://[:PASSWORD@]HOST:PORT[/DB]". Records the schema version in a new
 * store, migrates an older one, refuses a newer one (ET_E_VERSION).
 * opts may be NULL for defaults. *out is closed with et_store_close.
 */
et_status et_store_open(const char *uri, const et_store_opts *opts, et_store **out, char *err);
void et_store_close(et_store *s);

/* "lmdb" or "redis". */
const char *et_store_backend(const et_store *s);

/* Checks a collection name, an id, a document (ET_E_INVALID/ET_E_TOO_LARGE),
 * exactly as the writes do. */
et_status et_store_check_collection(const char *collection, char *err);
et_status et_store_check_id(const char *id, char *err);
et_status et_store_check_doc(const et_store *s, const char *json, size_t len, char *err);

/* Stores a document (replacing any). */
et_status et_store_put(et_store *s, const char *collection, const char *id, const char *json,
                       size_t len, char *err);

/* Reads a document into a new NUL-terminated buffer (caller frees); *len
 * may be NULL. ET_E_NOT_FOUND when absent. */
et_status et_store_get(et_store *s, const char *collection, const char *id, char **json,
                       size_t *len, char *err);

/* Deletes a document; ET_E_NOT_FOUND when absent (and nothing changes). */
et_status et_store_del(et_store *s, const char *collection, const char *id, char *err);

/* Called for each document in id order (bytewise); return non-zero to stop.
 * The strings are valid during the call only. The function may read the
 * store (through another handle) but must not write to it: on LMDB the
 * iteration holds a read transaction, and a write that had to grow the map
 * would wait for that transaction to end, for ever. */
typedef int (*et_store_visit_fn)(void *user, const char *id, const char *json, size_t len);

/* Visits the documents of a collection whose id is >= from (NULL: from the
 * first), in id order, at most limit of them (0: all). To page, start the
 * next page from the last id seen and skip that first document. LMDB visits
 * a snapshot; Redis reads in pages, so a document deleted meanwhile is
 * skipped. */
et_status et_store_iterate(et_store *s, const char *collection, const char *from, size_t limit,
                           et_store_visit_fn fn, void *user, char *err);

/* The same, backwards: the documents whose id is < before (NULL: all),
 * the last id first, at most limit (0: all). To page, start the next page
 * from the last id seen (it is not visited again). A reverse walk costs
 * what it visits, not the collection's size, on both backends. */
et_status et_store_iterate_back(et_store *s, const char *collection, const char *before,
                                size_t limit, et_store_visit_fn fn, void *user, char *err);

/* Number of documents in a collection. */
et_status et_store_count(et_store *s, const char *collection, size_t *n, char *err);

/* Names of the collections that hold documents, sorted; free with
 * et_store_free_names. */
et_status et_store_collections(et_store *s, char ***names, size_t *n, char *err);
void et_store_free_names(char **names, size_t n);

typedef enum et_store_op_kind { ET_STORE_OP_PUT, ET_STORE_OP_DEL } et_store_op_kind;

typedef struct et_store_op {
    et_store_op_kind kind;
    const char *collection;
    const char *id;
    const char *json; /* PUT only */
    size_t len;
} et_store_op;

/* Applies all operations or none. Every operation is validated before
 * anything is written. A DEL of an absent document is not an error here. */
et_status et_store_batch(et_store *s, const et_store_op *ops, size_t n, char *err);

/*
 * Read-modify-write of one document, atomic against other writers (other
 * processes and servers included): fn receives the current document (NULL,
 * 0 when absent) and sets *out to a new malloc'd document (which the store
 * frees) or NULL to delete it. fn may be called more than once (Redis retries
 * on conflict, LMDB when its map grows); it returns ET_OK or an error that
 * aborts the update. fn must not use the same store handle, nor write to
 * the store through another (the update holds the store's write lock on LMDB:
 * a second writer in the same thread would wait for ever).
 */
typedef et_status (*et_store_update_fn)(void *user, const char *old, size_t old_len, char **out,
                                        size_t *out_len, char *err);
et_status et_store_update(et_store *s, const char *collection, const char *id,
                          et_store_update_fn fn, void *user, char *err);

/* The schema version recorded in the store. */
et_status et_store_schema_version(et_store *s, int *version, char *err);


/* ---- whole-store tools (store_tools.c) -------------------------------- */

/*
 * Writes every document as one JSON line, collections and ids in order:
 * {"collection": C, "id": I, "doc": DOC}. DOC is the stored text when it is
 * on one line, else its compact re-serialisation. *count gets the number of
 * lines (may be NULL).
 */
et_status et_store_export(et_store *s, FILE *out, size_t *count, char *err);

/*
 * Reads lines written by et_store_export and stores them in batches of
 * `batch` documents (0: 1000). Lines in export's own layout give back the
 * exact document text; other valid lines store the compact form of "doc". A malformed line stops the import with its
 * line number; the batches before it stay written. *count (may be NULL)
 * gets the number of documents stored.
 */
et_status et_store_import(et_store *s, FILE *in, size_t batch, size_t *count, char *err);

/* Copies every document of src into dst (same collections and ids) in
 * batches; *count (may be NULL) gets the number copied. */
et_status et_store_copy(et_store *src, et_store *dst, size_t *count, char *err);

/* ---- stamps: change counters (store_stamp.c) --------------------------- */

/*
 * A stamp is a number kept in a document ({"stamp": N}) that the writers of
 * some state bump after each change to it, so that a reader that built a
 * cache after reading N knows the cache is current for as long as the stamp
 * still reads N: the change is written first and the stamp bumped after, so
 * a cache that missed a change always finds a new stamp, in this process or
 * in any other sharing the store. The library's and each listener's feedback
 * have one (library.h, listener.h).
 * et_store_stamp_read costs one store read: an absent (or unreadable) stamp
 * reads 0. et_store_stamp_bump is one atomic update (et_store_update), so
 * concurrent bumps are all counted; *stamp (may be NULL) gets the new value.
 * A new stamp starts at a random number below 2^48 (exact in any JSON
 * reader), so a stamp deleted and made again does not come back to a value
 * a cache may still hold.
 */
et_status et_store_stamp_read(et_store *s, const char *collection, const char *id,
                              uint64_t *stamp, char *err);
et_status et_store_stamp_bump(et_store *s, const char *collection, const char *id,
                              uint64_t *stamp, char *err);

#endif
