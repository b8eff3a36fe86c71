/* server: the daemon, its routes, its requests (body, dispatch, the job
 * pool's hand-over) and their limits, start and stop. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server/server_internal.h"

const unsigned et__counted_status[ET__STATUS_SLOTS] = {200, 202, 206, 304, 400, 401, 403, 404,
                                                       405, 409, 413, 415, 416, 429, 500, 503};

const double et__latency_bounds[ET__LATENCY_BUCKETS - 1] = {
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 5, 10};

const char *const et__limit_names[ET__LIMIT__COUNT] = {"connections_per_client",
                                                      "frames_per_listener"};

/* What a client over its connection limit is told to wait (seconds). */
#define RETRY_AFTER_S 1


et_server_opts et_server_default_opts(void)
{
    return (et_server_opts){.listen = ET_SERVER_DEFAULT_LISTEN, .threads = 2,
                            .max_body = ET_SERVER_DEFAULT_MAX_BODY, .max_connections = 64,
                            .max_per_client = 16, .timeout_s = 30,
                            .header_timeout_s = ET_SERVER_DEFAULT_HEADER_TIMEOUT_S,
                            .max_listeners = ET_SERVER_DEFAULT_MAX_LISTENERS,
                            .listener_idle_s = ET_SERVER_DEFAULT_LISTENER_IDLE_S, .grace_s = 10,
                            .history_every_s = 60,
                            .frames_per_s = ET_SERVER_DEFAULT_FRAMES_PER_S,
                            .expressions = et_vision_default_opts().model,
                            .detection = et_vision_default_opts().detection};
}

/* ---- workers ------------------------------------------------------------ */

static void worker_free(void *p)
{
    et__worker *w = p;
    if (!w)
        return;
    et_vision_ctx_free(w->vision);
    et_store_close(w->store);
    free(w);
}

et__worker *et__worker_get(et_server *s, char *err)
{
    et__worker *w = pthread_getspecific(s->worker_key);
    if (w)
        return w;
    w = calloc(1, sizeof *w);
    if (!w) {
        et_fail(err, ET_E_NOMEM, "out of memory");
        return NULL;
    }
    if (et_vision_ctx_new(s->models, &w->vision, err) != ET_OK ||
        pthread_setspecific(s->worker_key, w) != 0) {
        worker_free(w);
        return NULL;
    }
    return w;
}

et_store *et__worker_store(et_server *s, et__worker *w, char *err)
{
    if (!w->store && et_store_open(s->store_uri, &s->store_opts, &w->store, err) != ET_OK)
        w->store = NULL;
    return w->store;
}

/* ---- routes ------------------------------------------------------------- */

/* Every route, also checked against the OpenAPI document at start. */
const et__route_def et__routes[] = {
    {"/healthz", "GET", et__healthz, ET__BODY_ANY},
    {"/metrics", "GET", et__metrics, ET__BODY_ANY},
    {"/api/v1/openapi.json", "GET", et__openapi, ET__BODY_ANY},
    {"/api/v1/detect", "POST", et__detect, ET__BODY_IMAGE},
    {"/api/v1/listeners/{name}/frames", "POST", et__frames, ET__BODY_IMAGE},
    {"/api/v1/listeners/{name}/mood", "GET", et__mood, ET__BODY_ANY},
    {"/api/v1/listeners/{name}/mood", "PUT", et__mood_put, ET__BODY_JSON},
    {"/api/v1/listeners/{name}/mood", "DELETE", et__mood_delete, ET__BODY_ANY},
    {"/api/v1/listeners/{name}/next", "GET", et__next, ET__BODY_ANY},
    {"/api/v1/listeners/{name}/feedback", "POST", et__feedback, ET__BODY_JSON},
    {"/api/v1/listeners/{name}/profile", "GET", et__profile_get, ET__BODY_ANY},
    {"/api/v1/listeners/{name}/profile", "PUT", et__profile_put, ET__BODY_JSON},
    {"/api/v1/listeners/{name}/history", "GET", et__history, ET__BODY_ANY},
    {"/api/v1/listeners/{name}/calibration", "POST", et__calibration_post, ET__BODY_IMAGE},
    {"/api/v1/listeners/{name}/calibration", "GET", et__calibration_get, ET__BODY_ANY},
    {"/api/v1/listeners/{name}/calibration", "DELETE", et__calibration_delete, ET__BODY_ANY},
    {"/api/v1/library/scan", "GET", et__scan_get, ET__BODY_ANY},
    {"/api/v1/library/scan", "POST", et__scan_post, ET__BODY_ANY},
    {"/api/v1/library/import", "POST", et__import, ET__BODY_ANY},
    {"/api/v1/tracks", "GET", et__tracks, ET__BODY_ANY},
    {"/api/v1/tracks/{id}", "GET", et__track, ET__BODY_ANY},
    {"/api/v1/tracks/{id}/cover", "GET", et__track_cover, ET__BODY_ANY},
    {"/api/v1/tracks/{id}/audio", "GET", et__track_audio, ET__BODY_ANY},
    {"/api/v1/moods", "GET", et__moods, ET__BODY_ANY},
    {"/api/v1/listeners/{name}/feedback", "GET", et__feedback_list, ET__BODY_ANY},
    /* the web page, last: "/{file}" would match any other one-segment path */
    {"/", "GET", et__static_page, ET__BODY_ANY},
    {"/{file}", "GET", et__static_file, ET__BODY_ANY},
};
const size_t et__route_count = sizeof et__routes / sizeof *et__routes;
_Static_assert(sizeof et__routes / sizeof *et__routes <= ET__MAX_ROUTES,
               "raise ET__MAX_ROUTES: the metrics count each route");

/* Equal in time that depends on the lengths only, not on where they differ. */
static bool same_secret(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = la != lb;
    for (size_t i = 0; i < la; i++)
        diff |= (unsigned char)a[i] ^ (unsigned char)b[i % (lb ? lb : 1)];
    return diff == 0;
}

/* Whether a path ends with `tail`. */
static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);
    return n >= t && strcmp(s + n - t, tail) == 0;
}

/* The token from "Authorization: Bearer TOKEN"; or, for reading a track's
 * audio or cover only, from the query's access_token (RFC 6750 2.3): the
 * page's <audio> and <img> elements cannot send a header, and those replies
 * reveal no listener's data. Referrer-Policy: no-referrer keeps the URL
 * from leaking onwards; emotune logs no URL. */
static bool authorised(et_server *s, struct MHD_Connection *c, const char *url,
                       const char *method)
{
    if (!s->token)
        return true;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (h)
        return strncmp(h, "Bearer ", 7) == 0 && same_secret(h + 7, s->token);
    bool media = (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) &&
                 strncmp(url, "/api/v1/tracks/", 15) == 0 &&
                 (ends_with(url, "/audio") || ends_with(url, "/cover"));
    const char *q = media ? MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
                                                        "access_token")
                          : NULL;
    return q && same_secret(q, s->token);
}

/* Where a request may come from. Without a token the server listens on
 * loopback only, and it answers only requests that name it so (Host:
 * localhost, 127.x.y.z or [::1] with its port: a page on another name
 * that a DNS rebinding pointed here is refused); with one, any Host (the
 * LAN names it is reached by). Either way a request a browser sends from
 * another page's origin (Origin set and not the Host itself) is refused: the
 * page's own requests pass, and so do curl's, which carry no Origin. A
 * request without a Host (HTTP/1.0) carries no Origin a browser set. False
 * with the 403 in *fail. */
static bool same_origin(et_server *s, struct MHD_Connection *c, et__reply *fail)
{
    const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    const char *origin = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    char shown[80];
    if (!s->token && host && !et__host_is_loopback(host, s->port)) {
        *fail = et__error(403, ET_E_INVALID,
                          "Host %s is not this server: without a token it answers "
                          "localhost:%d, 127.0.0.1:%d and [::1]:%d only",
                          et__shown(host, shown, sizeof shown), s->port, s->port, s->port);
        return false;
    }
    if (origin && !et__origin_matches(origin, host)) {
        *fail = et__error(403, ET_E_INVALID,
                          "requests from the page at %s are refused: only this server's own "
                          "page may call it from a browser",
                          et__shown(origin, shown, sizeof shown));
        return false;
    }
    return true;
}

/* A body of the type its route takes; false with the 415 in *fail. */
static bool body_type(const et__route_def *route, struct MHD_Connection *c,
                      const et__request *r, et__reply *fail)
{
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    char shown[80];
    if (!r->len || route->body == ET__BODY_ANY)
        return true;
    if (route->body == ET__BODY_JSON && !et__media_type_is(ct, "application/json")) {
        *fail = et__error(415, ET_E_UNSUPPORTED,
                          "the body is JSON: send it as Content-Type: application/json (not %s)",
                          ct ? et__shown(ct, shown, sizeof shown) : "untyped");
        return false;
    }
    if (route->body == ET__BODY_IMAGE && ct && !et__media_type_is(ct, "image/")) {
        *fail = et__error(415, ET_E_UNSUPPORTED,
                          "the body is a picture: send it as Content-Type: image/jpeg, "
                          "image/png or image/webp (not %s)",
                          et__shown(ct, shown, sizeof shown));
        return false;
    }
    return true;
}

bool et__server_path_matches(const char *pattern, const char *url, char *param)
{
    while (*pattern && *url) {
        if (*pattern == '{') {
            const char *close = strchr(pattern, '}');
            size_t n = strcspn(url, "/");
            if (!close || n == 0 || n > ET__MAX_PARAM)
                return false;
            memcpy(param, url, n);
            param[n] = '\0';
            pattern = close + 1;
            url += n;
        } else if (*pattern++ != *url++) {
            return false;
        }
    }
    return !*pattern && !*url;
}

/* Hands a routed request to the job pool, its connection suspended until
 * the job is done (then its next call sends the reply); while the pool
 * stops, answers 503 the same way. */
static enum MHD_Result run_later(et_server *s, struct MHD_Connection *c, et__request *r,
                                 size_t route)
{
    r->conn = c;
    r->route = route;
    /* suspended first: the job may resume it before et__jobs_push returns */
    MHD_suspend_connection(c);
    if (!et__jobs_push(s, r)) {
        r->reply = et__error(503, ET_E_UNAVAILABLE, "the server is stopping");
        atomic_store(&r->done, true);
        MHD_resume_connection(c);
    }
    return MHD_YES;
}

static enum MHD_Result dispatch(et_server *s, struct MHD_Connection *c, const char *url,
                                const char *method, et__request *r)
{
    et__reply fail;
    if (!same_origin(s, c, &fail))
        return et__send_reply(s, c, ET__ROUTE_OTHER, fail, NULL);
    bool tokened = strncmp(url, "/api/", 5) == 0 ||
                   (!s->metrics_public && strcmp(url, "/metrics") == 0);
    if (tokened && !authorised(s, c, url, method))
        return et__send_reply(s, c, ET__ROUTE_OTHER,
                              et__error(401, ET_E_INVALID, "this server wants its token: "
                                                          "Authorization: Bearer TOKEN"),
                              NULL);
    char allow[64] = "";
    for (size_t i = 0; i < et__route_count; i++) {
        const et__route_def *route = &et__routes[i];
        if (!et__server_path_matches(route->path, url, r->param))
            continue;
        if (strcmp(method, route->method) == 0 ||
            (strcmp(method, "HEAD") == 0 && strcmp(route->method, "GET") == 0)) {
            if (!body_type(route, c, r, &fail))
                return et__send_reply(s, c, i, fail, NULL);
            return run_later(s, c, r, i);
        }
        if (!strstr(allow, route->method)) /* "/healthz" and "/{file}" both GET */
            snprintf(allow + strlen(allow), sizeof allow - strlen(allow), "%s%s",
                     *allow ? ", " : "", route->method);
    }
    if (*allow)
        return et__send_reply(
            s, c, ET__ROUTE_OTHER,
            et__error(405, ET_E_INVALID, "%.16s is not allowed here (allowed: %s)", method, allow),
            allow);
    return et__send_reply(s, c, ET__ROUTE_OTHER,
                          et__error(404, ET_E_NOT_FOUND, "no such resource"), NULL);
}

/* Appends a piece of body; false (and drops the body) past the limit. */
static bool take_body(et_server *s, et__request *r, const char *data, size_t n)
{
    if (r->too_large || n > s->max_body - r->len) {
        r->too_large = true;
        free(r->body);
        r->body = NULL;
        r->len = r->cap = 0;
        return false;
    }
    if (r->len + n > r->cap) {
        size_t cap = r->cap ? r->cap : 64 * 1024;
        while (cap < r->len + n)
            cap *= 2;
        if (cap > s->max_body)
            cap = s->max_body;
        char *grown = realloc(r->body, cap);
        if (!grown) {
            r->too_large = true;
            return false;
        }
        r->body = grown;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    return true;
}

/* The 413 of a body over the limit, answered (and counted) once whether it
 * was seen from Content-Length or while reading. */
static enum MHD_Result refuse_body(et_server *s, struct MHD_Connection *c, et__request *r)
{
    if (r->refused)
        return MHD_YES;
    r->refused = true;
    atomic_fetch_add(&s->bodies_refused, 1);
    return et__send_reply(
        s, c, ET__ROUTE_OTHER,
        et__error(413, ET_E_TOO_LARGE, "the body is over the limit of %zu bytes", s->max_body),
        NULL);
}

/* The 429 of a connection past its client's limit. */
static enum MHD_Result refuse_connection(et_server *s, struct MHD_Connection *c)
{
    atomic_fetch_add(&s->limited[ET__LIMIT_CONNECTIONS], 1);
    et__reply rep = et__error(429, ET_E_BUSY, "this client has %u connections open already: "
                                              "reuse them, or close one first",
                              s->max_per_client);
    rep.retry_after_s = RETRY_AFTER_S;
    return et__send_reply(s, c, ET__ROUTE_OTHER, rep, NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **state)
{
    (void)version;
    et_server *s = cls;
    et__request *r = *state;
    if (r && atomic_exchange(&r->done, false)) /* its job is done: the reply */
        return et__send_reply(s, c, r->route, r->reply, NULL);
    if (!r) {
        /* First call: headers only. A declared length over the limit is
         * refused now, before any byte of the body is read. */
        if (!(r = calloc(1, sizeof *r)))
            return MHD_NO;
        *state = r;
        et__begin b = et__request_begins(s, c);
        if (b == ET__BEGIN_LATE)
            return MHD_NO; /* its headers came too late: closed */
        if (b == ET__BEGIN_OVER)
            return refuse_connection(s, c);
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl) {
            char *end;
            unsigned long long n = strtoull(cl, &end, 10);
            if (*end || n > s->max_body) {
                r->too_large = true;
                return refuse_body(s, c, r);
            }
        }
        return MHD_YES;
    }
    if (*upload_size) {
        take_body(s, r, upload_data, *upload_size); /* past the limit: 413 at the end */
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->too_large)
        return refuse_body(s, c, r);
    return dispatch(s, c, url, method, r);
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

size_t et__server_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls, (void)c;
    char *out = s;
    for (const char *in = s; *in;) {
        int hi = in[0] == '%' ? hex_digit(in[1]) : -1, lo = hi >= 0 ? hex_digit(in[2]) : -1;
        if (lo >= 0 && (hi || lo)) {
            *out++ = (char)(hi * 16 + lo);
            in += 3;
        } else {
            *out++ = *in++;
        }
    }
    *out = '\0';
    return (size_t)(out - s);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **state,
                         enum MHD_RequestTerminationCode code)
{
    (void)code;
    et__request_completed(c);
    et__request *r = *state;
    if (r) {
        if (atomic_load(&r->done)) /* answered, but the connection ended first */
            et__reply_discard(&r->reply);
        free(r->body);
        free(r);
        et__request_ends(cls);
    }
    *state = NULL;
}

/* ---- start and stop ----------------------------------------------------- */

/* Parses "A.B.C.D:PORT" into addr; ET_E_INVALID otherwise. */
static et_status parse_listen(const char *listen, struct sockaddr_in *addr, char *err)
{
    char host[64];
    const char *colon = strrchr(listen, ':');
    size_t hl = colon ? (size_t)(colon - listen) : 0;
    char *end;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || hl == 0 || hl >= sizeof host || *end || colon[1] == '\0' || port < 0 ||
        port > 65535)
        return et_fail(err, ET_E_INVALID, "listen address '%.64s': expected IPV4:PORT, e.g. %s",
                       listen, ET_SERVER_DEFAULT_LISTEN);
    memcpy(host, listen, hl);
    host[hl] = '\0';
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &addr->sin_addr) != 1)
        return et_fail(err, ET_E_INVALID, "listen address '%.64s': '%s' is not an IPv4 address",
                       listen, host);
    return ET_OK;
}

static bool is_loopback(const struct sockaddr_in *a)
{
    return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
}

/* Every route must be in the OpenAPI document with its method. */
static et_status check_openapi(char *err)
{
    json_error_t jerr;
    json_t *doc = json_loads(et__openapi_json, 0, &jerr);
    if (!doc)
        return et_fail(err, ET_E_INVALID, "the OpenAPI document does not parse: %s (line %d)",
                       jerr.text, jerr.line);
    et_status st = ET_OK;
    for (size_t i = 0; i < et__route_count && st == ET_OK; i++) {
        const et__route_def *route = &et__routes[i];
        char method[8];
        size_t k = 0;
        for (; route->method[k] && k < sizeof method - 1; k++)
            method[k] = (char)(route->method[k] | 0x20); /* lower case */
        method[k] = '\0';
        json_t *op = json_object_get(json_object_get(json_object_get(doc, "paths"),
                                                     route->path), method);
        if (!json_is_object(op))
            st = et_fail(err, ET_E_INVALID, "route %s %s is missing from the OpenAPI document",
                         route->method, route->path);
    }
    json_decref(doc);
    return st;
}

static et_status check_opts(const et_server_opts *o, struct sockaddr_in *addr, char *err)
{
    if (!o->store_uri || !o->models_dir)
        return et_fail(err, ET_E_INVALID, "the server needs a store and a models folder");
    if (o->threads < 1 || o->threads > 64)
        return et_fail(err, ET_E_INVALID, "threads %d: expected 1 to 64", o->threads);
    if (!(o->history_every_s > 0 && o->history_every_s <= 86400))
        return et_fail(err, ET_E_INVALID, "history interval %g s: expected (0, 86400]",
                       o->history_every_s);
    if (!(o->frames_per_s >= 0 && o->frames_per_s <= ET_SERVER_MAX_FRAMES_PER_S))
        return et_fail(err, ET_E_INVALID, "frame rate limit %g a second: expected 0 (none) to %g",
                       o->frames_per_s, ET_SERVER_MAX_FRAMES_PER_S);
    if ((unsigned)o->expressions >= ET_EXPR_MODEL_COUNT)
        return et_fail(err, ET_E_INVALID, "unknown expression model %d", (int)o->expressions);
    if ((unsigned)o->detection >= ET_DETECTION_COUNT)
        return et_fail(err, ET_E_INVALID, "unknown detection %d", (int)o->detection);
    if (o->max_body < 1024)
        return et_fail(err, ET_E_INVALID, "a body limit of %zu bytes is too small", o->max_body);
    if (o->max_connections < 1 || o->max_per_client < 1 || o->timeout_s < 1)
        return et_fail(err, ET_E_INVALID, "connections %u, per client %u, timeout %u s: "
                                          "each must be 1 or more",
                       o->max_connections, o->max_per_client, o->timeout_s);
    if (o->header_timeout_s < 1 || o->header_timeout_s > 3600)
        return et_fail(err, ET_E_INVALID, "headers' deadline %u s: expected 1 to 3600",
                       o->header_timeout_s);
    if (o->max_listeners < 1 || !(o->listener_idle_s > 0 && o->listener_idle_s <= 30 * 86400.0))
        return et_fail(err, ET_E_INVALID, "listeners kept %u, idle %g s: expected 1 or more, "
                                          "and (0, 30 days]",
                       o->max_listeners, o->listener_idle_s);
    if (!(o->grace_s >= 0 && o->grace_s <= 3600))
        return et_fail(err, ET_E_INVALID, "grace period %g s: expected [0, 3600]", o->grace_s);
    et_status st = parse_listen(o->listen ? o->listen : ET_SERVER_DEFAULT_LISTEN, addr, err);
    if (st == ET_OK && !is_loopback(addr) && !(o->token && *o->token))
        st = et_fail(err, ET_E_INVALID,
                     "listening on %s, outside this machine, needs a token (--token or "
                     "EMOTUNE_TOKEN)", o->listen);
    if (st == ET_OK && o->token && strlen(o->token) < 16)
        st = et_fail(err, ET_E_INVALID, "the token is too short: use 16 characters or more");
    return st == ET_OK ? check_openapi(err) : st;
}

/* Opens the store once, to fail at start rather than on every request. */
static et_status check_store(const char *uri, char *err)
{
    et_store *st;
    et_status rc = et_store_open(uri, NULL, &st, err);
    et_store_close(rc == ET_OK ? st : NULL);
    return rc;
}

static void server_free(et_server *s)
{
    if (!s)
        return;
    et__library_close(s);
    et__static_close(s);
    et__listeners_free(s);
    pthread_mutex_destroy(&s->listeners_lock);
    pthread_mutex_destroy(&s->clients_lock);
    pthread_mutex_destroy(&s->sweep_lock);
    pthread_cond_destroy(&s->sweep_wake);
    pthread_mutex_destroy(&s->idle_lock);
    pthread_cond_destroy(&s->idle);
    free(s->clients);
    et_vision_models_free(s->models);
    free(s->store_uri);
    free(s->token);
    free(s);
}

/* The limits and stopping state of a new server. */
static void init_limits(et_server *s, const et_server_opts *o)
{
    s->max_per_client = o->max_per_client;
    s->grace_s = o->grace_s;
    s->listen_fd = -1;
    unsigned deadline = o->header_timeout_s < o->timeout_s ? o->header_timeout_s : o->timeout_s;
    s->header_timeout_ns = (uint64_t)deadline * 1000000000u;
    s->metrics_public = o->metrics_public;
    s->max_listeners = o->max_listeners;
    s->listener_idle_s = o->listener_idle_s;
    pthread_mutex_init(&s->clients_lock, NULL);
    pthread_mutex_init(&s->sweep_lock, NULL);
    pthread_mutex_init(&s->idle_lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&s->idle, &attr);
    pthread_cond_init(&s->sweep_wake, &attr);
    pthread_condattr_destroy(&attr);
    s->store_opts = et_store_default_opts();
    s->store_opts.stats = &s->store_stats;
}

et_status et_server_start(const et_server_opts *o, et_server **out, char *err)
{
    *out = NULL;
    struct sockaddr_in addr;
    et_status st = check_opts(o, &addr, err);
    if (st != ET_OK)
        return st;
    et_server *s = calloc(1, sizeof *s);
    if (!s)
        return et_fail(err, ET_E_NOMEM, "out of memory");
    s->store_uri = strdup(o->store_uri);
    s->token = o->token && *o->token ? strdup(o->token) : NULL;
    s->max_body = o->max_body;
    s->history_every_s = o->history_every_s;
    s->frames_per_s = o->frames_per_s;
    s->expressions = o->expressions;
    s->detection = o->detection;
    s->clock = o->clock;
    s->clock_ctx = o->clock_ctx;
    pthread_mutex_init(&s->listeners_lock, NULL);
    init_limits(s, o);
    if (!s->store_uri || (o->token && *o->token && !s->token))
        st = et_fail(err, ET_E_NOMEM, "out of memory");
    if (st == ET_OK)
        st = et_vision_models_load(o->models_dir, &s->models, err);
    if (st == ET_OK)
        st = check_store(s->store_uri, err);
    if (st == ET_OK)
        st = et__static_open(s, o, err);
    if (st == ET_OK)
        st = et__library_open(s, o, err);
    bool key = false;
    if (st == ET_OK && !(key = pthread_key_create(&s->worker_key, worker_free) == 0))
        st = et_fail(err, ET_E_NOMEM, "no thread key left");
    if (st == ET_OK)
        st = et__jobs_start(s, o->threads, err);
    if (st != ET_OK) {
        if (key)
            pthread_key_delete(s->worker_key);
        server_free(s);
        return st;
    }
    /* ITC: MHD_quiesce_daemon needs it. */
    s->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
            MHD_ALLOW_SUSPEND_RESUME, 0, et__accept_policy, s, on_request, s,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)o->threads, MHD_OPTION_CONNECTION_LIMIT, o->max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, o->timeout_s, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
        s, MHD_OPTION_UNESCAPE_CALLBACK, et__server_unescape, NULL,
        MHD_OPTION_NOTIFY_CONNECTION, et__on_connection, s, MHD_OPTION_END);
    if (!s->daemon) {
        et__jobs_stop(s); /* before the key: its threads free their workers */
        pthread_key_delete(s->worker_key);
        server_free(s);
        return et_fail(err, ET_E_IO, "cannot listen on %s (in use, or not this machine's)",
                       o->listen ? o->listen : ET_SERVER_DEFAULT_LISTEN);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : ntohs(addr.sin_port);
    if (et__sweep_start(s, err) != ET_OK) {
        et__library_stop(s);
        et__jobs_stop(s);
        MHD_stop_daemon(s->daemon);
        pthread_key_delete(s->worker_key);
        server_free(s);
        return ET_E_NOMEM;
    }
    et__library_begin(s); /* the first scan, while the server answers */
    *out = s;
    return ET_OK;
}

int et_server_port(const et_server *s) { return s->port; }

void et_server_quiesce(et_server *s)
{
    if (!s || atomic_exchange(&s->stopping, true))
        return;
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    if (fd == MHD_INVALID_SOCKET)
        return;
    /* The socket must stay open until the daemon stops (its threads may
     * still hold it); shut down, it stops listening, so that a new
     * connection is refused at once instead of waiting in the backlog. */
    shutdown(fd, SHUT_RDWR);
    s->listen_fd = fd;
}

/* Waits until no request is in flight or the grace period is over; the
 * number of requests still in flight. */
static unsigned wait_idle(et_server *s)
{
    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    double whole = (double)(time_t)s->grace_s;
    end.tv_sec += (time_t)whole;
    end.tv_nsec += (long)((s->grace_s - whole) * 1e9);
    if (end.tv_nsec >= 1000000000L)
        end.tv_sec++, end.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&s->idle_lock);
    while (atomic_load(&s->in_flight) > 0 &&
           pthread_cond_timedwait(&s->idle, &s->idle_lock, &end) != ETIMEDOUT) {
    }
    long left = atomic_load(&s->in_flight);
    pthread_mutex_unlock(&s->idle_lock);
    return left > 0 ? (unsigned)left : 0;
}

unsigned et_server_stop(et_server *s)
{
    if (!s)
        return 0;
    et_server_quiesce(s);
    unsigned cut = wait_idle(s);
    et__library_stop(s); /* a scan is cancelled, not waited for to its end */
    /* Runs the jobs still queued (a request past the grace period too: a
     * handler cannot be cut) and resumes their connections, as
     * MHD_stop_daemon wants none suspended; the threads' key destructors
     * free their workers (and close their store handles). */
    et__jobs_stop(s);
    et__sweep_stop(s);
    MHD_stop_daemon(s->daemon); /* closes every connection */
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    pthread_key_delete(s->worker_key);
    server_free(s);
    return cut;
}
