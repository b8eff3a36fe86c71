/* server: the handlers of the routes. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "report/report.h"
#include "server/server_internal.h"


et__reply et__healthz(et_server *s, const et__call *c)
{
    (void)c;
    char err[ET_ERR_MAX];
    et__worker *w = et__worker_get(s, err);
    et_store *st = w ? et__worker_store(s, w, err) : NULL;
    size_t tracks = 0;
    et_status rc = st ? et_store_count(st, "tracks", &tracks, err) : ET_E_UNAVAILABLE;
    if (rc != ET_OK) {
        if (w && st) { /* reconnect on the next request */
            et_store_close(w->store);
            w->store = NULL;
        }
        return et__error(503, ET_E_UNAVAILABLE, "the store cannot be reached: %s", err);
    }
    return (et__reply){.status = 200,
                       .json = json_pack("{s:s,s:s,s:b,s:I}", "status", "ok", "store",
                                         et_store_backend(st), "models", 1, "tracks",
                                         (json_int_t)tracks)};
}

/* Appends printf output to a growing buffer; false when out of memory. */
static bool append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static bool append(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(*buf ? *buf + *len : NULL, *buf ? *cap - *len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return false;
        if (*buf && (size_t)n < *cap - *len) {
            *len += (size_t)n;
            return true;
        }
        size_t cap2 = (*cap ? *cap * 2 : 4096) + (size_t)n;
        char *grown = realloc(*buf, cap2);
        if (!grown)
            return false;
        *buf = grown;
        *cap = cap2;
    }
}

/* The request duration histograms of the routes that have answered. */
static bool append_latency(et_server *s, char **buf, size_t *len, size_t *cap)
{
    bool ok = append(buf, len, cap,
                     "# HELP emotune_http_request_duration_seconds Time from a request's "
                     "headers to its reply queued, by route.\n"
                     "# TYPE emotune_http_request_duration_seconds histogram\n");
    for (size_t r = 0; ok && r <= et__route_count; r++) {
        size_t slot = r == et__route_count ? ET__ROUTE_OTHER : r;
        const char *method = slot == ET__ROUTE_OTHER ? "" : et__routes[r].method;
        const char *route = slot == ET__ROUTE_OTHER ? "other" : et__routes[r].path;
        /* The count is the buckets' sum as read, so +Inf always equals it. */
        unsigned long seen = 0;
        for (int b = 0; b < ET__LATENCY_BUCKETS; b++)
            seen += atomic_load(&s->latency[slot][b]);
        if (!seen)
            continue;
        unsigned long below = 0;
        for (int b = 0; ok && b < ET__LATENCY_BUCKETS; b++) {
            char le[32] = "+Inf";
            if (b < ET__LATENCY_BUCKETS - 1) {
                snprintf(le, sizeof le, "%g", et__latency_bounds[b]);
                below += atomic_load(&s->latency[slot][b]);
            } else {
                below = seen;
            }
            ok = append(buf, len, cap,
                        "emotune_http_request_duration_seconds_bucket{method=\"%s\","
                        "route=\"%s\",le=\"%s\"} %lu\n",
                        method, route, le, below < seen ? below : seen);
        }
        if (ok)
            ok = append(buf, len, cap,
                        "emotune_http_request_duration_seconds_sum{method=\"%s\",route=\"%s\"}"
                        " %.9f\n"
                        "emotune_http_request_duration_seconds_count{method=\"%s\","
                        "route=\"%s\"} %lu\n",
                        method, route, (double)atomic_load(&s->latency_ns[slot]) / 1e9, method,
                        route, seen);
    }
    return ok;
}

/* Requests in flight, connections, 429s by limit, store calls and errors. */
static bool append_load(et_server *s, char **buf, size_t *len, size_t *cap)
{
    bool ok = append(buf, len, cap,
                     "# HELP emotune_http_requests_in_flight Requests begun and not yet done.\n"
                     "# TYPE emotune_http_requests_in_flight gauge\n"
                     "emotune_http_requests_in_flight %ld\n"
                     "# HELP emotune_http_connections_open Connections open.\n"
                     "# TYPE emotune_http_connections_open gauge\n"
                     "emotune_http_connections_open %ld\n"
                     "# HELP emotune_http_connections_total Connections accepted.\n"
                     "# TYPE emotune_http_connections_total counter\n"
                     "emotune_http_connections_total %lu\n"
                     "# HELP emotune_http_headers_late_total Connections closed because a "
                     "request's headers had not all come in time.\n"
                     "# TYPE emotune_http_headers_late_total counter\n"
                     "emotune_http_headers_late_total %lu\n"
                     "# HELP emotune_listeners_live Listeners whose live mood this server "
                     "keeps in memory.\n"
                     "# TYPE emotune_listeners_live gauge\n"
                     "emotune_listeners_live %zu\n"
                     "# HELP emotune_http_limited_total Requests answered 429 (or connections "
                     "refused), by the limit reached.\n"
                     "# TYPE emotune_http_limited_total counter\n",
                     atomic_load(&s->in_flight), atomic_load(&s->connections_open),
                     atomic_load(&s->connections_total), atomic_load(&s->headers_late),
                     et__listeners_count(s));
    for (int i = 0; ok && i < ET__LIMIT__COUNT; i++)
        ok = append(buf, len, cap, "emotune_http_limited_total{reason=\"%s\"} %lu\n",
                    et__limit_names[i], atomic_load(&s->limited[i]));
    const char *what[2] = {"operations", "errors"};
    const char *help[2] = {"Store calls made by the server", "Store calls the store failed"};
    for (int k = 0; ok && k < 2; k++) {
        ok = append(buf, len, cap,
                    "# HELP emotune_store_%s_total %s, by operation.\n"
                    "# TYPE emotune_store_%s_total counter\n",
                    what[k], help[k], what[k]);
        for (int op = 0; ok && op < ET_STORE_STAT__COUNT; op++)
            ok = append(buf, len, cap, "emotune_store_%s_total{op=\"%s\"} %lu\n", what[k],
                        et_store_stat_name((et_store_stat_op)op),
                        atomic_load(k ? &s->store_stats.errors[op] : &s->store_stats.calls[op]));
    }
    return ok;
}

et__reply et__metrics(et_server *s, const et__call *c)
{
    (void)c;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    bool ok = append(&buf, &len, &cap,
                     "# HELP emotune_http_requests_total Requests answered, by route and status.\n"
                     "# TYPE emotune_http_requests_total counter\n");
    for (size_t r = 0; ok && r <= et__route_count; r++) {
        bool other = r == et__route_count; /* no route: 401, 404, 405, 413 */
        for (int k = 0; ok && k < ET__STATUS_SLOTS; k++) {
            unsigned long n = atomic_load(&s->requests[other ? ET__ROUTE_OTHER : r][k]);
            if (n)
                ok = append(&buf, &len, &cap,
                            "emotune_http_requests_total{method=\"%s\",route=\"%s\","
                            "status=\"%u\"} %lu\n",
                            other ? "" : et__routes[r].method,
                            other ? "other" : et__routes[r].path, et__counted_status[k], n);
        }
    }
    if (ok)
        ok = append(&buf, &len, &cap,
                    "# HELP emotune_faces_seen_total Faces found in posted pictures.\n"
                    "# TYPE emotune_faces_seen_total counter\n"
                    "emotune_faces_seen_total %lu\n"
                    "# HELP emotune_bodies_refused_total Request bodies over the limit.\n"
                    "# TYPE emotune_bodies_refused_total counter\n"
                    "emotune_bodies_refused_total %lu\n"
                    "# HELP emotune_frames_dropped_total Frames over a listener's rate limit "
                    "(429).\n"
                    "# TYPE emotune_frames_dropped_total counter\n"
                    "emotune_frames_dropped_total %lu\n",
                    atomic_load(&s->faces_seen), atomic_load(&s->bodies_refused),
                    atomic_load(&s->frames_dropped));
    ok = ok && append_latency(s, &buf, &len, &cap) && append_load(s, &buf, &len, &cap);
    char *library = ok ? et__library_metrics(s) : NULL;
    ok = library && append(&buf, &len, &cap, "%s", library);
    free(library);
    if (!ok) {
        free(buf);
        return et__error(500, ET_E_NOMEM, "out of memory");
    }
    return (et__reply){.status = 200, .raw = buf, .raw_len = len,
                       .content_type = "text/plain; version=0.0.4; charset=utf-8"};
}

et__reply et__openapi(et_server *s, const et__call *c)
{
    (void)s, (void)c;
    char *doc = strdup(et__openapi_json);
    if (!doc)
        return et__error(500, ET_E_NOMEM, "out of memory");
    return (et__reply){.status = 200, .raw = doc, .raw_len = strlen(doc),
                       .content_type = "application/json"};
}

unsigned et__image_status(et_status st)
{
    switch (st) {
    case ET_E_UNSUPPORTED: return 415;
    case ET_E_TOO_LARGE: return 413;
    case ET_E_CORRUPT: case ET_E_INVALID: return 400;
    case ET_E_NOMEM: return 503;
    default: return 500;
    }
}

et__reply et__detect(et_server *s, const et__call *c)
{
    et_image img = {0};
    et_face faces[ET__MAX_FACES];
    size_t n = 0;
    et__reply fail;
    et_detect_opts o;
    if (!et__detect_opts(s, c, &o, &fail) || !et__see(s, c->req, &o, &img, faces, &n, &fail))
        return fail;
    et__reply rep = {.status = 200, .json = et_report_faces(NULL, &img, &o, faces, n)};
    et_image_free(&img);
    return rep;
}

bool et__detect_opts(const et_server *s, const et__call *c, et_detect_opts *o, et__reply *fail)
{
    char err[ET_ERR_MAX];
    *o = et_vision_default_opts();
    o->model = s->expressions;
    o->detection = s->detection;
    const char *v = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "expressions");
    et_expr_model m;
    if (v && et_vision_expr_model_parse(v, &m, err) != ET_OK) {
        *fail = et__error(400, ET_E_INVALID, "expressions: %s", err);
        return false;
    }
    if (v)
        et_vision_opts_name_reader(o, m);
    v = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "detection");
    if (v && et_vision_detection_parse(v, &o->detection, err) != ET_OK) {
        *fail = et__error(400, ET_E_INVALID, "detection: %s", err);
        return false;
    }
    return true;
}

bool et__see(et_server *s, const et__request *r, const et_detect_opts *o, et_image *img,
             et_face *faces, size_t *n, et__reply *fail)
{
    char err[ET_ERR_MAX];
    if (!r->len) {
        *fail = et__error(400, ET_E_INVALID, "post a picture (JPEG, PNG or WebP) as the body");
        return false;
    }
    et__worker *w = et__worker_get(s, err);
    if (!w) {
        *fail = et__error(503, ET_E_NOMEM, "%s", err);
        return false;
    }
    et_status st = et_image_decode((const uint8_t *)r->body, r->len, NULL, img, err);
    if (st != ET_OK) {
        *fail = et__error(et__image_status(st), st, "%s", err);
        return false;
    }
    size_t found = 0;
    st = et_vision_detect(w->vision, img, o, faces, ET__MAX_FACES, &found, err);
    if (st != ET_OK) {
        et_image_free(img);
        *fail = et__error(st == ET_E_NOMEM ? 503 : 500, st, "%s", err);
        return false;
    }
    *n = found < ET__MAX_FACES ? found : ET__MAX_FACES;
    atomic_fetch_add(&s->faces_seen, *n);
    return true;
}
