/* Private to src/server: the server's state, a request, and the routes. */
#ifndef ET_SERVER_INTERNAL_H
#define ET_SERVER_INTERNAL_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "server/server.h"
#include "store/store.h"
#include "vision/vision.h"

/* The routes, for dispatch and for the metrics. */
typedef enum et__route {
    ET__ROUTE_HEALTHZ,
    ET__ROUTE_METRICS,
    ET__ROUTE_OPENAPI,
    ET__ROUTE_DETECT,
    ET__ROUTE_OTHER, /* no route: 401, 404, 405 */
    ET__ROUTE_COUNT
} et__route;

/* The statuses counted per route (others count as 500). */
#define ET__STATUS_SLOTS 11
extern const unsigned et__counted_status[ET__STATUS_SLOTS];

struct et_server {
    struct MHD_Daemon *daemon;
    et_vision_models *models;
    pthread_key_t worker_key; /* each worker thread's et__worker */
    char *store_uri, *token;
    size_t max_body;
    int port;
    atomic_ulong requests[ET__ROUTE_COUNT][ET__STATUS_SLOTS];
    atomic_ulong faces_seen, bodies_refused;
};

/* What one worker thread owns: made on its first request, freed when the
 * thread ends (the key's destructor). */
typedef struct et__worker {
    et_vision_ctx *vision;
    et_store *store; /* NULL until a request needs it, and after it failed */
} et__worker;

/* One request in flight: its body so far. */
typedef struct et__request {
    char *body;
    size_t len, cap;
    bool too_large;
} et__request;

/* What a handler answers: a status and a JSON document (owned), or raw
 * bytes (owned, malloc'd) of a content type. */
typedef struct et__reply {
    unsigned status;
    json_t *json;
    char *raw;
    size_t raw_len;
    const char *content_type;
} et__reply;

/* An error reply {"error": {"code", "message"}}. */
et__reply et__error(unsigned status, et_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* This thread's worker (made on first use); NULL when out of memory. */
et__worker *et__worker_get(et_server *s, char *err);

/* The store handle of this thread's worker, opened on first use; NULL with
 * err set when the store cannot be reached. */
et_store *et__worker_store(et_server *s, et__worker *w, char *err);

/* The handlers (routes.c). */
et__reply et__healthz(et_server *s);
et__reply et__metrics(et_server *s);
et__reply et__openapi(void);
et__reply et__detect(et_server *s, const et__request *r);

/* The OpenAPI document (openapi.c). */
extern const char et__openapi_json[];

#endif
