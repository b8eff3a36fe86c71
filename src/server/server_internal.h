/* Private to src/server: the server's state, a request, and the routes. */
#ifndef ET_SERVER_INTERNAL_H
#define ET_SERVER_INTERNAL_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

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
#define ET__STATUS_SLOTS 16
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
    double last_frame_at;   /* server time of the last frame folded in here */
    /* The frame rate limit: a token bucket on the server's clock (s->clock),
     * full at first; its own lock, so a frame refused never waits for one
     * being folded in. */
    pthread_mutex_t bucket_lock;
    double tokens, tokens_at; /* frames allowed now, as of tokens_at */
    bool bucket_primed;
    /* Under the table's lock: the requests holding it, whether it has left
     * the table (freed when the last lets go), and when a frame last came
     * (on the rate limit's clock). */
    unsigned refs;
    bool gone;
    double used_at;
    struct et__listener *next_free; /* while it is being freed */
} et__listener;

/* The listeners whose feedback the next cache keeps (next_cache.c). */
#define ET__MAX_LISTENERS 4096

/* The upper bounds (seconds) of the request duration histogram's buckets,
 * fine from 5 ms to 2 s where frames fall; the last slot is +Inf. */
#define ET__LATENCY_BUCKETS 17
extern const double et__latency_bounds[ET__LATENCY_BUCKETS - 1];

/* The limits whose 429s are counted, and their names in the metrics. */
typedef enum et__limit {
    ET__LIMIT_CONNECTIONS,
    ET__LIMIT_FRAMES,
    ET__LIMIT__COUNT
} et__limit;
extern const char *const et__limit_names[ET__LIMIT__COUNT];

/* One open connection (MHD's socket context): its client's address, whether
 * it came past its client's limit, and when its current request began.
 * Every record is on the server's list (under clients_lock), so that the
 * sweep (connections.c) can cut a connection whose request's headers are
 * late: since_ns is when it opened or its last request ended, in_request
 * whether a request's headers have come (then it is not cut). */
typedef struct et__conn {
    unsigned char addr[16]; /* IPv4 or IPv6, addr_len bytes */
    unsigned char addr_len;
    bool counted;        /* in its client's count */
    bool over;           /* past max_per_client: its requests get 429 */
    uint64_t started_ns; /* CLOCK_MONOTONIC at its request's first call */
    int fd;              /* its socket (-1: unknown, never cut) */
    atomic_uint_least64_t since_ns;
    atomic_bool in_request;
    bool cut;            /* shut down by the sweep (once) */
    struct et__conn *prev, *next;
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

typedef struct et__request et__request; /* below */

/* The job pool: `threads` threads that run the handlers, in the order the
 * requests came, while libmicrohttpd's own threads only read and write
 * connections. A connection is suspended while its request waits and runs,
 * so a kept-alive client never waits behind another client's detection on
 * the thread that happens to hold its connection (jobs.c). */
typedef struct et__jobs {
    pthread_mutex_t lock;
    pthread_cond_t ready;
    et__request *head, *tail;
    bool stopping;
    pthread_t *threads;
    int n_threads;
} et__jobs;

struct et_server {
    struct MHD_Daemon *daemon;
    et_vision_models *models;
    pthread_key_t worker_key; /* each job thread's et__worker */
    et__jobs jobs;
    char *store_uri, *token;
    bool metrics_public; /* /metrics without the token */
    size_t max_body;
    int port;
    atomic_ulong requests[ET__MAX_ROUTES + 1][ET__STATUS_SLOTS];
    atomic_ulong faces_seen, bodies_refused;
    atomic_ulong frames_dropped; /* over a listener's rate limit (429) */
    double frames_per_s;         /* 0: no limit */
    double (*clock)(void *clock_ctx); /* of the rate limit */
    void *clock_ctx;
    double history_every_s; /* a steady mood is recorded at most this often */
    et_expr_model expressions; /* when a request does not say */
    et_detection detection;    /* ... */
    /* The listeners whose frames decoded lately: at most max_listeners (the
     * least recently seen leaves for a new one), none idle for idle_s. */
    pthread_mutex_t listeners_lock;
    et__listener **listeners;
    size_t n_listeners, max_listeners;
    double listener_idle_s;
    /* Connections: each client's count, under a lock taken when one opens
     * or closes (never per request). */
    unsigned max_per_client;
    pthread_mutex_t clients_lock;
    et__client *clients;
    size_t n_clients, cap_clients;
    et__conn *conns; /* every open connection's record (the sweep's list) */
    /* The sweep: a thread that shuts down connections whose request's
     * headers have not all come header_timeout_s after the connection
     * opened or its last request ended, however slowly they trickle. */
    uint64_t header_timeout_ns;
    pthread_t sweeper;
    bool sweeping;
    bool sweep_stop;                /* under sweep_lock */
    pthread_mutex_t sweep_lock;
    pthread_cond_t sweep_wake;      /* on CLOCK_MONOTONIC */
    atomic_ulong headers_late;      /* connections cut by it */
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
 * bytes (owned, malloc'd; a 304 has none) of a content type (NULL: no
 * Content-Type), or (file) file_len bytes of the open file fd
 * from file_offset, sent from the file without reading it into memory (the
 * fd is taken: closed once sent, or when the reply cannot be made). */
typedef struct et__reply {
    unsigned status;
    json_t *json;
    char *raw;
    size_t raw_len;
    const char *content_type;
    unsigned retry_after_s; /* a 429's Retry-After (0: none) */
    bool file;
    int fd;
    uint64_t file_offset, file_len;
    char *headers; /* more header lines, "Name: value\r\n" each (owned), or
                    * NULL; a Cache-Control here replaces the default no-store */
} et__reply;

/* One request in flight: its body so far; once routed, what the job pool
 * needs to answer it (its connection suspended meanwhile). */
struct et__request {
    char *body;
    size_t len, cap;
    bool too_large;
    bool refused; /* its 413 is queued */
    /* routed: */
    struct MHD_Connection *conn;
    size_t route;                     /* index in et__routes */
    char param[ET__MAX_PARAM + 1];    /* the path's {name} or {id} */
    et__reply reply;                  /* the handler's, once done (owned) */
    atomic_bool done;                 /* reply is set */
    struct et__request *next_job;     /* the job queue's link */
};

/* Frees what an unsent reply holds (its JSON, bytes, headers, file). */
void et__reply_discard(et__reply *rep);

/* Appends the header line "name: value" to rep->headers; false when out
 * of memory (the reply is then left as it was). */
bool et__reply_header(et__reply *rep, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* An error reply {"error": {"code", "message"}}. */
et__reply et__error(unsigned status, et_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The job pool (jobs.c). et__jobs_start starts n threads; et__jobs_push
 * queues a routed request (false once the pool is stopping: answer it at
 * once); each job runs its route's handler, keeps the reply in r->reply and
 * resumes the connection, whose next call sends it. et__jobs_stop runs what
 * is queued, then joins the threads (every suspended connection is resumed
 * by then, as MHD_stop_daemon needs). */
et_status et__jobs_start(et_server *s, int n, char *err);
bool et__jobs_push(et_server *s, et__request *r);
void et__jobs_stop(et_server *s);

/* Connections (connections.c). The monotonic clock in nanoseconds; a
 * connection's record (NULL when it could not be made); MHD's connection
 * callback, counting each client's connections; a request's first call (in
 * flight and timed from now; false when its connection is over its client's
 * limit) and its end (the last one wakes a stop that waits). */
uint64_t et__now_ns(void);
et__conn *et__conn_of(struct MHD_Connection *c);
void et__on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                       enum MHD_ConnectionNotificationCode code);
typedef enum et__begin {
    ET__BEGIN_OK,
    ET__BEGIN_OVER, /* past its client's limit: 429 */
    ET__BEGIN_LATE, /* its headers came after the deadline: closed */
} et__begin;
et__begin et__request_begins(et_server *s, struct MHD_Connection *c);
void et__request_ends(et_server *s);
/* A request is done with its connection (MHD's completed callback): the
 * next one's headers are due from now. */
void et__request_completed(struct MHD_Connection *c);
/* MHD's accept policy: a client address with max_per_client connections
 * open has one more refused as it is accepted (counted as a 429 would be). */
enum MHD_Result et__accept_policy(void *cls, const struct sockaddr *addr, socklen_t len);
/* The sweep's thread (above); et__sweep_stop joins it (NULL-safe state). */
et_status et__sweep_start(et_server *s, char *err);
void et__sweep_stop(et_server *s);

/* Sends a reply, taking its contents, and counts it (reply.c); `allow`
 * names the methods of a 405. From MHD's request callback only. */
enum MHD_Result et__send_reply(et_server *s, struct MHD_Connection *c, size_t route,
                               et__reply rep, const char *allow);

/* This thread's worker (made on first use); NULL when out of memory. */
et__worker *et__worker_get(et_server *s, char *err);

/* The store handle of this thread's worker, opened on first use; NULL with
 * err set when the store cannot be reached. */
et_store *et__worker_store(et_server *s, et__worker *w, char *err);

/* Faces reported per picture, at most. */
#define ET__MAX_FACES 64

/* How the request's picture is seen: the reader ?expressions= names
 * (emotune, emotune-1 or face-api) with its detection (face-api's own for
 * face-api: its answer exactly), then the detection ?detection= names
 * (face-api or two-pass); else the server's reader and detection. False with
 * a 400 in *fail. */
bool et__detect_opts(const et_server *s, const et__call *c, et_detect_opts *o, et__reply *fail);

/* Decodes the request's picture and finds its faces (up to ET__MAX_FACES,
 * count in *n) with this thread's vision context, as o says; false with the
 * error reply in *fail. On success the caller frees img. */
bool et__see(et_server *s, const et__request *r, const et_detect_opts *o, et_image *img,
             et_face *faces, size_t *n, et__reply *fail);

/* The HTTP status of a picture that cannot be read (et_image_decode's
 * error): 415, 413, 400, 503 or 500 (routes.c). */
unsigned et__image_status(et_status st);

/* The handlers (routes.c, listeners.c, tracks.c, track_file.c). */
et__reply et__healthz(et_server *s, const et__call *c);
et__reply et__metrics(et_server *s, const et__call *c);
et__reply et__openapi(et_server *s, const et__call *c);
et__reply et__detect(et_server *s, const et__call *c);
et__reply et__frames(et_server *s, const et__call *c);
et__reply et__mood(et_server *s, const et__call *c);
et__reply et__mood_put(et_server *s, const et__call *c);
et__reply et__mood_delete(et_server *s, const et__call *c);
et__reply et__next(et_server *s, const et__call *c);
et__reply et__feedback(et_server *s, const et__call *c);
et__reply et__profile_get(et_server *s, const et__call *c);
et__reply et__profile_put(et_server *s, const et__call *c);
et__reply et__history(et_server *s, const et__call *c);
et__reply et__scan_get(et_server *s, const et__call *c);
et__reply et__scan_post(et_server *s, const et__call *c);
et__reply et__import(et_server *s, const et__call *c);
et__reply et__tracks(et_server *s, const et__call *c);
et__reply et__track(et_server *s, const et__call *c);
et__reply et__track_cover(et_server *s, const et__call *c);
et__reply et__track_audio(et_server *s, const et__call *c);
et__reply et__moods(et_server *s, const et__call *c);         /* page_api.c */
et__reply et__feedback_list(et_server *s, const et__call *c); /* page_api.c */
/* A listener's calibration (calibration.c): POST adds a picture's face as
 * an example of ?expression=, GET counts them, DELETE forgets all of them
 * or those of ?expression=. */
et__reply et__calibration_post(et_server *s, const et__call *c);
et__reply et__calibration_get(et_server *s, const et__call *c);
et__reply et__calibration_delete(et_server *s, const et__call *c);
/* The listener's calibration applied to the faces of one of their frames
 * (calibration.c): the faces' readings adjusted in place, and in the
 * report doc's "faces" each gets "calibrated": true or false. *cal gets
 * what was applied (not in use when the store could not say: logged). */
void et__calibrate_faces(et_store *st, const char *name, et_face *faces, size_t n,
                         et_listener_calibration *cal);
void et__calibrated_json(json_t *faces, const et_face *f, size_t n,
                         const et_listener_calibration *cal);
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
/* The listener's current mood: the stated one while it holds (source
 * "manual"), else the camera's on this server when it has a known name
 * (*live), else the history's newest. False when none is known
 * (fail->status 0: the caller says what to do) or on a store error (*fail
 * a 503). */
bool et__current_mood(et_server *s, et_store *st, const char *name, et_listener_mood *out,
                      bool *live, et__reply *fail);

/* The listener's stated mood holding now, into *o (*held false when none);
 * false with a 503 in *fail when the store cannot be read (mood_override.c). */
bool et__override_get(et_store *st, const char *name, et_listener_override *o, bool *held,
                      et__reply *fail);
/* A stated mood as the current mood (source "manual", confidence 1). */
void et__override_mood(const et_listener_override *o, et_listener_mood *out);
/* Its JSON, as GET .../mood gives it: the current mood's fields and "until"
 * (null: until cleared). */
json_t *et__override_json(const et_listener_override *o);

/* The listener `name`'s live state, made on first use (its tracker takes the
 * profile's tau_s and hold_s), else with the stored profile when it changed
 * (through another server too); NULL with an error reply in *fail. Held
 * until et__listener_put. Only a frame that decoded makes one. */
et__listener *et__listener_get(et_server *s, et_store *st, const char *name, et__reply *fail);
void et__listener_put(et_server *s, et__listener *l);
/* The live listeners in the table now (for /metrics). */
size_t et__listeners_count(et_server *s);
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

/* The parsing of the listener routes' bodies and queries, pure functions
 * for their fuzzers (fuzz/fuzz_server_json.c, fuzz_server_query.c). Each
 * refuses what it cannot take, with the reason in err (ET_ERR_MAX bytes);
 * then *out is not to be used. The bodies' give ET_E_CORRUPT for text that
 * is not JSON (or has a key twice), ET_E_INVALID for JSON that is not what
 * the route takes; the queries' return false. */

/* POST .../feedback: {"track", "kind", "at"?, "mood"?} (feedback.c). */
typedef struct et__feedback_body {
    char track[ET_STORE_MAX_ID + 1]; /* a valid store id */
    et_rec_feedback_kind kind;
    double at_s;                     /* seconds into the song, >= 0; -1: not given */
    char mood[ET_LISTENER_MAX_MOOD]; /* the table's word; "": not given */
} et__feedback_body;
et_status et__parse_feedback(const char *body, size_t len, et__feedback_body *out, char *err);

/* PUT .../profile: the settings given (policy, tau_s, hold_s, history_days,
 * history_max, feedback_days, feedback_max) into *ch, only those (set's
 * bits); unknown keys and values out of their field's range are refused
 * (ET_E_INVALID, err names the field) (profile.c). */
et_status et__parse_profile(const char *body, size_t len, et_listener_profile_change *ch,
                            char *err);

/* PUT .../mood: {"mood": NAME} or {"valence": V, "arousal": A}, and
 * "for_s" (absent or null: until cleared); nothing else (mood_override.c). */
typedef struct et__mood_body {
    char mood[ET_LISTENER_MAX_MOOD]; /* the table's word: given, or the point's nearest */
    double valence, arousal;         /* in [-1, 1]: the named mood's point, or given */
    double for_s;                    /* (0, ET_LISTENER_OVERRIDE_MAX_S]; 0: until cleared */
} et__mood_body;
et_status et__parse_mood_body(const char *body, size_t len, et__mood_body *out, char *err);

/* v as it may be quoted in an error message (which goes into JSON, so must
 * be valid UTF-8): at most size - 1 bytes of it, every byte that is not
 * printable ASCII as '?'. Returns buf. */
const char *et__shown(const char *v, char *buf, size_t size);

/* A request body that must be a JSON object (no key twice), or NULL with
 * *rc and err set as the parsers above say; `want` says what the route
 * takes. The caller frees the object. */
json_t *et__json_body(const char *body, size_t len, const char *want, et_status *rc,
                      char *err);

/* Whether every key of the object doc is one of known[0..n) (a misspelt key
 * is refused, not ignored); false with the first other named in err. */
bool et__json_known_keys(json_t *doc, const char *const *known, size_t n, char *err);

/* A query parameter `key`'s value v as a number in [lo, hi], whole when
 * integral; v NULL (absent): def (parse.c). */
bool et__query_number(const char *key, const char *v, double lo, double hi, bool integral,
                      double def, double *out, char *err);
/* ?t=: a capture time in seconds, finite and >= 0; *given false (and *t
 * untouched) when v is NULL. */
bool et__query_time(const char *v, double *t, bool *given, char *err);
/* ?before=: a Unix time > 0 (or inf); v NULL: INFINITY, no bound. */
bool et__query_before(const char *v, double *before, char *err);

/* The headers' checks (parse.c; pure, fuzzed by fuzz_server_path.c).
 * et__host_port splits a Host header's value into its name's length (an
 * IPv6 address with its brackets) and port (80 when none); false when it
 * is malformed. et__host_is_loopback: whether Host names this machine's
 * loopback (localhost, 127.x.y.z, [::1]) with the server's port, or none
 * (a rebinding page's requests carry its own name; tools send no port).
 * et__origin_matches: whether an Origin header is http:// or https:// and
 * the Host itself (the page's own origin), ignoring case.
 * et__media_type_is: whether a Content-Type is `type` ("application/json";
 * parameters after ';' ignored, case-insensitive), or, for a type ending in
 * '/' ("image/"), any one subtype of it. */
bool et__host_port(const char *host, size_t *name_len, long *port);
bool et__host_is_loopback(const char *host, int port);
bool et__origin_matches(const char *origin, const char *host);
bool et__media_type_is(const char *content_type, const char *type);

/* The routes (server.c): a path (its parameter, if any, as above), its
 * method and handler. et__route_count is the table's length. */
typedef enum et__body {
    ET__BODY_ANY,   /* none, or any type (a catalogue's text) */
    ET__BODY_JSON,  /* a body must be application/json (else 415) */
    ET__BODY_IMAGE, /* a body must be image/... or untyped (else 415) */
} et__body;
typedef struct et__route_def {
    const char *path;
    const char *method;
    et__reply (*handler)(et_server *s, const et__call *c);
    et__body body;
} et__route_def;
extern const et__route_def et__routes[];
extern const size_t et__route_count;

/* ---- the tracks (tracks.c, track_file.c, range.c) ---- */

/* The stored document of the track the path's {id} names (owned); NULL
 * with the error reply in *fail: 400 for an id that is not a store id, 404
 * when there is no such track or its file is marked missing, 503 when the
 * store cannot be read. */
json_t *et__track_doc(et_server *s, const et__call *c, et__reply *fail);

/* What a Range header asks of a file of `size` bytes (RFC 9110, 14.2). */
typedef enum et__range_kind {
    ET__RANGE_WHOLE,         /* none, not bytes, or malformed: the whole file (200) */
    ET__RANGE_ONE,           /* one satisfiable range: *first..*last (206) */
    ET__RANGE_SEVERAL,       /* several ranges, one at least satisfiable: emotune
                              * answers with the whole file (200), as RFC 9110
                              * allows, rather than multipart */
    ET__RANGE_UNSATISFIABLE, /* none satisfiable (416) */
} et__range_kind;

/* Parses a Range header (NULL: none) against a file of `size` bytes. For
 * ET__RANGE_ONE, first <= last < size. "bytes=a-b" (b past the end means
 * the end), "bytes=a-", "bytes=-n" (the last n bytes; all when n >= size);
 * the unit is case-insensitive; blanks around commas are allowed and empty
 * list elements ignored. Malformed (b < a, no digits, junk, an empty set):
 * WHOLE, as RFC 9110 says a server may ignore such a header; so is any
 * Range on an empty file. A start at or past the end, and "-0", are
 * unsatisfiable. Pure; first and last are written for ET__RANGE_ONE only. */
et__range_kind et__range_parse(const char *header, uint64_t size, uint64_t *first,
                               uint64_t *last);

/* An HTTP-date (IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", or the
 * obsolete RFC 850 and asctime forms) as Unix seconds; false when the text
 * is none of them. Pure. */
bool et__http_date_parse(const char *text, int64_t *out);

/* Unix seconds as an IMF-fixdate into buf (at least 30 bytes). */
void et__http_date_format(int64_t t, char *buf, size_t len);

/* The OpenAPI document (openapi.c). */
extern const char et__openapi_json[];

#endif
