/* Private to src/server: the server's state, a request, and the routes. */
#ifndef ET_SERVER_INTERNAL_H
#define ET_SERVER_INTERNAL_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "server/server.h"
#include "image/image.h"
#include "store/store.h"
#include "listener/listener.h"
#include "mood/mood.h"
#include "vision/vision.h"

/* The routes (server.c's table), at most this many; the metrics count
 * each route's replies, and those of no route in the last slot. */
#define ET__MAX_ROUTES 48
#define ET__ROUTE_OTHER ET__MAX_ROUTES

/* The statuses counted per route (others count as 500). */
#define ET__STATUS_SLOTS 13
extern const unsigned et__counted_status[ET__STATUS_SLOTS];

/* One listener's live mood: the tracker of their camera's frames, and when
 * it last went into the history. Locked while a frame is folded in. */
typedef struct et__listener {
    char name[ET_LISTENER_MAX_NAME + 1];
    pthread_mutex_t lock;
    et_listener_profile profile; /* as read when the listener was first seen */
    et_mood_tracker *tracker;
    char recorded_name[16]; /* the name last written to the history ("" none) */
    double recorded_at;     /* server time of that write */
} et__listener;

/* The listeners seen, at most ET__MAX_LISTENERS (then 503). */
#define ET__MAX_LISTENERS 4096

/* The upper bounds (seconds) of the request duration histogram's buckets,
 * fine from 5 ms to 2 s where frames fall; the last slot is +Inf. */
#define ET__LATENCY_BUCKETS 17
extern const double et__latency_bounds[ET__LATENCY_BUCKETS - 1];

/* The limits whose 429s are counted, and their names in the metrics. */
typedef enum et__limit { ET__LIMIT_CONNECTIONS, ET__LIMIT__COUNT } et__limit;
extern const char *const et__limit_names[ET__LIMIT__COUNT];

/* One open connection (MHD's socket context): its client's address, whether
 * it came past its client's limit, and when its current request began. */
typedef struct et__conn {
    unsigned char addr[16]; /* IPv4 or IPv6, addr_len bytes */
    unsigned char addr_len;
    bool counted;        /* in its client's count */
    bool over;           /* past max_per_client: its requests get 429 */
    uint64_t started_ns; /* CLOCK_MONOTONIC at its request's first call */
} et__conn;

/* A client address and its connections open. */
typedef struct et__client {
    unsigned char addr[16];
    unsigned char addr_len;
    unsigned open;
} et__client;
/* The music library's scans and the recommender's cache (library.c,
 * next_cache.c). */
typedef struct et__library et__library;
typedef struct et__next_cache et__next_cache;
/* The web page's folder (static.c). */
typedef struct et__web et__web;

struct et_server {
    struct MHD_Daemon *daemon;
    et_vision_models *models;
    pthread_key_t worker_key; /* each worker thread's et__worker */
    char *store_uri, *token;
    size_t max_body;
    int port;
    atomic_ulong requests[ET__MAX_ROUTES + 1][ET__STATUS_SLOTS];
    atomic_ulong faces_seen, bodies_refused;
    double history_every_s; /* a steady mood is recorded at most this often */
    pthread_mutex_t listeners_lock;
    et__listener **listeners;
    size_t n_listeners;
    /* Connections: each client's count, under a lock taken when one opens
     * or closes (never per request). */
    unsigned max_per_client;
    pthread_mutex_t clients_lock;
    et__client *clients;
    size_t n_clients, cap_clients;
    /* Stopping: in flight reaching 0 is signalled once stopping is set. */
    double grace_s;
    atomic_bool stopping;
    int listen_fd; /* quiesced, closed after the daemon stops (-1 before) */
    pthread_mutex_t idle_lock;
    pthread_cond_t idle; /* on CLOCK_MONOTONIC */
    /* Metrics (atomics: no lock on the request path). */
    atomic_ulong latency[ET__MAX_ROUTES + 1][ET__LATENCY_BUCKETS]; /* per bucket */
    atomic_ulong latency_ns[ET__MAX_ROUTES + 1];                    /* sum */
    atomic_long in_flight, connections_open;
    atomic_ulong connections_total, limited[ET__LIMIT__COUNT];
    et_store_opts store_opts; /* the workers' handles, counted in store_stats */
    et_store_stats store_stats;
    et__library *library;        /* the --music folders and their scans */
    et__next_cache *next_cache;  /* what .../next keeps between requests */
    atomic_ulong next_library_loads, next_feedback_loads; /* its loads, counted */
    et__web *web;                /* the page's folder (NULL: none) */
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
    bool refused; /* its 413 is queued */
} et__request;

/* A path parameter ({name}, {id}) is one segment of at most this many bytes. */
#define ET__MAX_PARAM ET_STORE_MAX_ID

/* What a handler gets: the connection (for its query and headers), the
 * body, and the path's parameter when the route has one ({name}: a
 * listener's, {id}: a track's; unchecked: the handler checks it). */
typedef struct et__call {
    struct MHD_Connection *conn;
    const et__request *req;
    const char *name;
} et__call;

/* What a handler answers: a status and a JSON document (owned), or raw
 * bytes (owned, malloc'd) of a content type. */
typedef struct et__reply {
    unsigned status;
    json_t *json;
    char *raw;
    size_t raw_len;
    const char *content_type;
    unsigned retry_after_s; /* a 429's Retry-After (0: none) */
} et__reply;

/* An error reply {"error": {"code", "message"}}. */
et__reply et__error(unsigned status, et_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* This thread's worker (made on first use); NULL when out of memory. */
et__worker *et__worker_get(et_server *s, char *err);

/* The store handle of this thread's worker, opened on first use; NULL with
 * err set when the store cannot be reached. */
et_store *et__worker_store(et_server *s, et__worker *w, char *err);

/* Faces reported per picture, at most. */
#define ET__MAX_FACES 64

/* Decodes the request's picture and finds its faces (up to ET__MAX_FACES,
 * count in *n) with this thread's vision context; false with the error
 * reply in *fail. On success the caller frees img. */
bool et__see(et_server *s, const et__request *r, et_image *img, et_face *faces, size_t *n,
             et__reply *fail);

/* The handlers (routes.c, listeners.c). */
et__reply et__healthz(et_server *s, const et__call *c);
et__reply et__metrics(et_server *s, const et__call *c);
et__reply et__openapi(et_server *s, const et__call *c);
et__reply et__detect(et_server *s, const et__call *c);
et__reply et__frames(et_server *s, const et__call *c);
et__reply et__mood(et_server *s, const et__call *c);
et__reply et__next(et_server *s, const et__call *c);
et__reply et__feedback(et_server *s, const et__call *c);
et__reply et__profile_get(et_server *s, const et__call *c);
et__reply et__profile_put(et_server *s, const et__call *c);
et__reply et__history(et_server *s, const et__call *c);
et__reply et__scan_get(et_server *s, const et__call *c);
et__reply et__scan_post(et_server *s, const et__call *c);
et__reply et__import(et_server *s, const et__call *c);
et__reply et__moods(et_server *s, const et__call *c);         /* page_api.c */
et__reply et__feedback_list(et_server *s, const et__call *c); /* page_api.c */
et__reply et__static_page(et_server *s, const et__call *c); /* "/" */
et__reply et__static_file(et_server *s, const et__call *c); /* "/{file}" */

/* The web page's folder (static.c): et__static_open opens o->web_dir when
 * given (ET_E_INVALID: not a folder holding index.html); et__static_close
 * closes it (NULL-safe, also after a failed open). */
et_status et__static_open(et_server *s, const et_server_opts *o, char *err);
void et__static_close(et_server *s);

/* The library (library.c): the scans of the --music folders and catalogue
 * imports. et__library_open takes the options (the folders must exist;
 * ET_E_INVALID) and makes the next cache too; et__library_begin starts the
 * first scan once the server answers; et__library_stop cancels a running
 * scan and waits for it (bounded: it stops after the files in hand) and
 * refuses new ones; et__library_close stops and frees both (NULL-safe,
 * also after a failed open). */
et_status et__library_open(et_server *s, const et_server_opts *o, char *err);
void et__library_begin(et_server *s);
void et__library_stop(et_server *s);
void et__library_close(et_server *s);

typedef enum et__scan_state {
    ET__SCAN_IDLE,    /* none since the server started */
    ET__SCAN_RUNNING,
    ET__SCAN_DONE,
    ET__SCAN_FAILED,  /* an error (the store, a folder gone) or cancelled */
} et__scan_state;

/* The running or last scan, as GET /api/v1/library/scan and /metrics show
 * it. Times are Unix seconds (0: not yet). */
typedef struct et__scan_view {
    et__scan_state state;
    size_t files, done;               /* found by the walk, dealt with */
    size_t added, updated, unchanged, missing, failed; /* updated: moved too */
    double started, finished;
    unsigned long runs, runs_failed;  /* scans since the server started */
    char error[ET_ERR_MAX];           /* why the last one failed ("" when not) */
} et__scan_view;

void et__scan_snapshot(et_server *s, et__scan_view *out);
/* The library's lines of /metrics (scan progress), malloc'd; NULL when
 * out of memory. */
char *et__library_metrics(et_server *s);

/* The listener's recommender for .../next over the cached library and
 * feedback (next_cache.c; refreshed when their stamps moved), as
 * et_listener_session_open gives it: the same inputs give the same picks. */
et_status et__next_session(et_server *s, et_store *st, const char *name, uint64_t seed,
                           et_listener_session **out, char *err);
et_status et__next_cache_open(et_server *s, char *err);
void et__next_cache_close(et_server *s);

/* A saved profile reaches the listener's live state: its retention at once,
 * its smoothing from the next frame (the tracker starts over). */
void et__listener_profile_changed(et_server *s, const et_listener_profile *p);

/* Shared by the listener routes (listeners.c). The Unix time now. */
double et__wall_time(void);
/* The path's listener name, checked; false with a 400 in *fail. */
bool et__check_name(const char *name, et__reply *fail);
/* This thread's store handle; NULL with a 503 in *fail. */
et_store *et__store(et_server *s, et__reply *fail);
/* The listener's current mood: the camera's on this server when it has a
 * known name (*live), else the history's newest. False when none is known
 * (fail->status 0: the caller says what to do) or on a store error (*fail
 * a 503). */
bool et__current_mood(et_server *s, et_store *st, const char *name, et_listener_mood *out,
                      bool *live, et__reply *fail);

/* The listener `name`'s live state, made on first use (its tracker takes the
 * profile's tau_s and hold_s), else with the stored profile when it changed
 * (through another server too); NULL with an error reply in *fail. */
et__listener *et__listener_get(et_server *s, et_store *st, const char *name, et__reply *fail);
void et__listeners_free(et_server *s);

/* The request parsing of server.c, for its fuzzer. Decodes %HH in place
 * (MHD's unescape callback), except %00, which stays as it is: a NUL would
 * cut the path short and make "/x%00.jpg" look like "/x"; returns the new
 * length. */
size_t et__server_unescape(void *cls, struct MHD_Connection *c, char *s);

/* Whether url matches a route's path, where a parameter ("{name}", "{id}")
 * takes one whole non-empty segment, copied into param (size
 * ET__MAX_PARAM + 1; a longer one does not match). */
bool et__server_path_matches(const char *pattern, const char *url, char *param);

/* The routes (server.c): a path (its parameter, if any, as above), its
 * method and handler. et__route_count is the table's length. */
typedef struct et__route_def {
    const char *path;
    const char *method;
    et__reply (*handler)(et_server *s, const et__call *c);
} et__route_def;
extern const et__route_def et__routes[];
extern const size_t et__route_count;

/* The OpenAPI document (openapi.c). */
extern const char et__openapi_json[];

#endif
