/* Private to src/store: the backend table. A backend is one file that fills an
 * et__store_ops; store.c validates every argument before calling it, so a
 * backend receives only well-formed names, ids and documents. */
#ifndef ET_STORE_INTERNAL_H
#define ET_STORE_INTERNAL_H

#include "store/store.h"

typedef struct et__store_ops {
    const char *name;
    /* Opens `location` (the URI without its scheme for lmdb, the whole URI
     * for redis); *impl is the backend's own state. */
    et_status (*open)(const char *uri, const et_store_opts *opts, void **impl, char *err);
    void (*close)(void *impl);
    et_status (*get)(void *impl, const char *coll, const char *id, char **json, size_t *len,
                     char *err);
    et_status (*put)(void *impl, const char *coll, const char *id, const char *json, size_t len,
                     char *err);
    et_status (*del)(void *impl, const char *coll, const char *id, char *err);
    et_status (*iterate)(void *impl, const char *coll, const char *from, size_t limit,
                         et_store_visit_fn fn, void *user, char *err);
    /* Ids < before (NULL: all), the last first (et_store_iterate_back). */
    et_status (*iterate_back)(void *impl, const char *coll, const char *before, size_t limit,
                              et_store_visit_fn fn, void *user, char *err);
    et_status (*count)(void *impl, const char *coll, size_t *n, char *err);
    et_status (*collections)(void *impl, char ***names, size_t *n, char *err);
    et_status (*batch)(void *impl, const et_store_op *ops, size_t n, char *err);
    /* fn's output has been validated by the wrapper passed as fn. */
    et_status (*update)(void *impl, const char *coll, const char *id, et_store_update_fn fn,
                        void *user, char *err);
    /* Reads and writes the schema version (0 when none is recorded). */
    et_status (*get_version)(void *impl, int *version, char *err);
    et_status (*set_version)(void *impl, int version, char *err);
} et__store_ops;

extern const et__store_ops et__store_lmdb;
extern const et__store_ops et__store_redis;

/* Collection names in a backend-agnostic list (helpers for backends). */
et_status et__store_names_add(char ***names, size_t *n, size_t *cap, const char *name,
                              size_t len, char *err);

#endif
