/*
 * server: emotune's HTTP API over the engine, on libmicrohttpd with a pool
 * of worker threads. JSON in and out (report.h's forms), versioned under
 * /api/v1/ and described by the OpenAPI document at /api/v1/openapi.json.
 *
 * What is here (issue 11, first part): the daemon, its limits and its
 * errors, /healthz, /metrics, the OpenAPI document, POST /api/v1/detect,
 * and a listener's camera: POST /api/v1/listeners/{name}/frames (faces and
 * the smoothed mood), GET /api/v1/listeners/{name}/mood, .../next (the
 * next songs, recorded as queued), POST .../feedback, GET/PUT .../profile
 * and GET .../history; the library: the --music folders scanned in the
 * background (at start and on POST /api/v1/library/scan, progress at GET)
 * and catalogues imported (POST /api/v1/library/import). .../next keeps
 * the library and each listener's feedback in memory, reloaded when their
 * stamps (library.h, listener.h) move, whoever changed them. The tracks:
 * GET /api/v1/tracks (paged, by mood), .../tracks/{id}, .../cover and
 * .../audio (Range, conditional requests; by id only, and only files under
 * the folders the library scanned). For the web page: GET /api/v1/moods
 * (the named moods), GET .../feedback (newest first), and the page itself
 * at / and /FILE, files directly in web_dir only (static.c), without a
 * token.
 *
 * Safety: binds 127.0.0.1:8080 by default; any address outside 127.0.0.0/8
 * needs a token, then required on every /api/ request (and /metrics unless
 * metrics_public) as "Authorization: Bearer TOKEN" and compared in constant
 * time. Without a token only requests whose Host names the loopback
 * (localhost, 127.x.y.z, [::1], with the server's port or none) are
 * answered (403 otherwise: a DNS-rebinding page is refused); with or
 * without one, a request carrying an Origin that is not its own Host's
 * (another page's, from a browser) is refused (403), and a JSON body must
 * be application/json, a picture image/... or untyped (415). Without a
 * token the scan's progress shows the music folders by their last name
 * only. Bodies over max_body are
 * refused with 413 from their Content-Length before any byte is read (and
 * when a chunked body passes it). Every response carries the security
 * headers (Content-Security-Policy, X-Content-Type-Options: nosniff,
 * Referrer-Policy: no-referrer); every error is JSON
 * {"error": {"code", "message"}} with the status that fits. Pictures are
 * decoded in memory and never written anywhere.
 *
 * Limits: at most max_connections at once (more wait to be accepted); a
 * client address with max_per_client open has one more refused as it is
 * accepted (two accepted at the same instant by two of MHD's threads: the
 * later one's requests get 429, code "too_many_requests"); a request's
 * headers must all come within header_timeout_s of its connection's start
 * or its previous reply, else the connection is closed (a sweep thread
 * shuts such sockets down, as libmicrohttpd's own timeout restarts on
 * every byte); a connection idle or sending too slowly for timeout_s is
 * closed. A listener's live state exists once a frame of theirs decoded;
 * at most max_listeners are kept, the idle (listener_idle_s) and then the
 * least recently seen giving way to a new one. /metrics (Prometheus text) gives the requests by route and
 * status, their duration histograms by route (buckets from 5 ms to 10 s),
 * the requests in flight, the connections, the 429s by limit, and the
 * store calls and failures by operation; counted with atomics, no lock.
 * Stopping cancels a running scan and waits for it (it stops after the
 * files in hand).
 * A listener's mood may also be stated by hand (PUT and DELETE .../mood): it
 * is kept in the store, so every server on it sees it, and holds until
 * cleared or for the time given. A listener posting frames faster than
 * frames_per_s gets 429 with Retry-After, the frame dropped undecoded.
 *
 * Threads: libmicrohttpd's threads read and write the connections; the
 * handlers run on `threads` worker threads, taking the requests of every
 * connection from one queue in the order they came (a connection is
 * suspended meanwhile), so the clients share the cores alike. The models
 * are loaded once and shared; each worker thread gets its own vision
 * context and store handle on first use (store.h: one handle per thread),
 * so detection holds no lock another request waits on.
 * Everything lives in the et_server: two servers may run in one process.
 * The server's threads inherit the caller's signal mask: a program that
 * waits for a signal blocks it before et_server_start, so it reaches the
 * thread that waits for it.
 * Like every emotune program, call et_nn_set_blas_threads(1) once first:
 * parallelism comes from the workers, one inference each.
 */
#ifndef ET_SERVER_H
#define ET_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "core/core.h"
#include "vision/vision.h"

#define ET_SERVER_DEFAULT_LISTEN "127.0.0.1:8080"
#define ET_SERVER_DEFAULT_MAX_BODY ((size_t)10 << 20)
#define ET_SERVER_DEFAULT_FRAMES_PER_S 15.0
#define ET_SERVER_DEFAULT_HEADER_TIMEOUT_S 5
#define ET_SERVER_DEFAULT_MAX_LISTENERS 4096
#define ET_SERVER_DEFAULT_LISTENER_IDLE_S 600.0
#define ET_SERVER_MAX_FRAMES_PER_S 1000.0

typedef struct et_server_opts {
    const char *listen;       /* "IPV4:PORT" (port 0: any free one); default above */
    const char *store_uri;    /* the store (store.h URIs); required */
    const char *models_dir;   /* the face models; required */
    const char *token;        /* NULL or "": none (loopback addresses only) */
    int threads;              /* worker threads, 1 to 64 (default 2) */
    size_t max_body;          /* bytes (default 10 MB) */
    unsigned max_connections; /* at once (default 64); more wait to be accepted */
    unsigned max_per_client;  /* connections at once from one client address
                               * (default 16); the requests of one more get
                               * 429 with Retry-After, then it is closed */
    unsigned timeout_s;       /* an idle connection, or one sending too slowly,
                               * is closed after (default 30 s, at least 1) */
    unsigned header_timeout_s; /* a request's headers must all have come this
                                * long after its connection opened or its
                                * previous request ended, however slowly they
                                * trickle, else the connection is closed
                                * (default 5 s, 1 to 3600; at most timeout_s
                                * counts) */
    bool metrics_public;      /* /metrics without the token when one is set
                               * (default false: it wants the token too) */
    unsigned max_listeners;   /* listeners' live state kept in memory (default
                               * 4096); past it the least recently seen goes */
    double listener_idle_s;   /* a listener's live state is dropped once no
                               * frame came for this long (default 600 s) */
    double grace_s;           /* at stop, requests in flight may finish for this
                               * long, then are cut (default 10 s) */
    double history_every_s;   /* a listener's steady camera mood goes into the
                               * history at most this often; a new name at
                               * once (default 60 s) */
    const char *const *music_dirs; /* folders scanned in the background when the
                                    * server starts and on POST
                                    * /api/v1/library/scan (must exist) */
    size_t n_music_dirs;
    int scan_jobs;            /* a scan's analysis threads, 1 to 64 (0: 1, so
                               * the requests keep the other cores) */
    double frames_per_s;      /* frames one listener may post per second, in
                               * bursts of up to max(1, frames_per_s); more
                               * get 429 undecoded (default 15; 0: no limit) */
    /* The clock of that limit: seconds on a clock that never goes back
     * (NULL: CLOCK_MONOTONIC). Tests give a clock they move by hand. */
    double (*clock)(void *clock_ctx);
    void *clock_ctx;
    et_expr_model expressions; /* the model that reads expressions when a request
                                * does not say (?expressions=); default
                                * ET_EXPR_MODEL_DEFAULT */
    et_detection detection;    /* how faces are found when a request names
                                * neither ?expressions= nor ?detection=;
                                * default two-pass (et_vision_default_opts) */
    const char *web_dir;      /* the web page's folder (index.html and its files,
                               * served at / and /FILE without a token; only
                               * files directly in it, no symbolic link); must
                               * hold index.html. NULL: / says there is none */
} et_server_opts;

/* The defaults above (store_uri and models_dir NULL). */
et_server_opts et_server_default_opts(void);

typedef struct et_server et_server;

/*
 * Loads the models, checks the store opens, and starts answering. Errors:
 * ET_E_INVALID (a bad address or option, a public address without a token),
 * ET_E_MODEL, ET_E_UNAVAILABLE or ET_E_IO (the store), ET_E_IO (the address
 * cannot be bound: in use, not ours). *out is freed by et_server_stop.
 */
et_status et_server_start(const et_server_opts *o, et_server **out, char *err);

/* The port it listens on (the one chosen when asked for port 0). */
int et_server_port(const et_server *s);

/* Stops accepting: from its return, new connections are refused (the
 * connections open go on, and may send more requests). Returns at once;
 * calling it again does nothing. */
void et_server_quiesce(et_server *s);

/* Quiesces (above), lets the requests in flight finish for up to grace_s,
 * then closes every connection (cutting those still in flight), closes the
 * store handles and frees everything. Returns the number of requests that
 * were cut (0: all finished). */
unsigned et_server_stop(et_server *s);

#endif
