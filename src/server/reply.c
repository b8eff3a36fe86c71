/* server: replies: their headers (security, limits, the handler's own),
 * their bodies (JSON, bytes or a file), and their counting in the metrics. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/server_internal.h"

/* The Content-Security-Policy, which the page satisfies: its own scripts,
 * styles, pictures, media and API only; no inline script. */
#define CSP                                                                            \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " \
    "media-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; " \
    "form-action 'self'"

et__reply et__error(unsigned status, et_status code, const char *fmt, ...)
{
    char msg[ET_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *doc = json_pack("{s:{s:s,s:s}}", "error", "code", et_status_code(code), "message",
                            msg);
    if (!doc) /* a message quoting bytes that are not UTF-8 */
        doc = json_pack("{s:{s:s,s:s}}", "error", "code", et_status_code(code), "message",
                        et__shown(msg, msg, sizeof msg));
    return (et__reply){.status = status, .json = doc};
}

bool et__reply_header(et__reply *rep, const char *name, const char *fmt, ...)
{
    char value[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    size_t had = rep->headers ? strlen(rep->headers) : 0;
    size_t add = strlen(name) + strlen(value) + 4;
    char *grown = realloc(rep->headers, had + add + 1);
    if (!grown)
        return false;
    snprintf(grown + had, add + 1, "%s: %s\r\n", name, value);
    rep->headers = grown;
    return true;
}

/* Counts a reply by route and status, and its time since the request's
 * first call in the route's histogram. */
static void count(et_server *s, struct MHD_Connection *c, size_t route, unsigned status)
{
    int slot = ET__STATUS_SLOTS - 2; /* 500 */
    for (int i = 0; i < ET__STATUS_SLOTS; i++)
        if (et__counted_status[i] == status)
            slot = i;
    atomic_fetch_add(&s->requests[route][slot], 1);
    const et__conn *k = et__conn_of(c);
    if (!k || !k->started_ns)
        return;
    uint64_t ns = et__now_ns() - k->started_ns;
    int b = 0;
    while (b < ET__LATENCY_BUCKETS - 1 && (double)ns > et__latency_bounds[b] * 1e9)
        b++;
    atomic_fetch_add(&s->latency[route][b], 1);
    atomic_fetch_add(&s->latency_ns[route], ns);
}

/* A 429's Retry-After; Connection: close on a connection over its client's
 * limit, and while stopping (so clients go elsewhere). */
static void add_limit_headers(et_server *s, struct MHD_Connection *c, struct MHD_Response *r,
                              unsigned retry_after_s)
{
    if (retry_after_s) {
        char v[16];
        snprintf(v, sizeof v, "%u", retry_after_s);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, v);
    }
    const et__conn *k = et__conn_of(c);
    if ((k && k->over) || atomic_load(&s->stopping))
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
}

static void add_security_headers(struct MHD_Response *r)
{
    MHD_add_response_header(r, "Content-Security-Policy", CSP);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    if (!MHD_get_response_header(r, "Cache-Control"))
        MHD_add_response_header(r, "Cache-Control", "no-store");
}

/* Adds the reply's own header lines ("Name: value\r\n" each), consuming them. */
static void add_reply_headers(struct MHD_Response *r, char *lines)
{
    for (char *line = lines, *end; line && (end = strstr(line, "\r\n")); line = end + 2) {
        *end = '\0';
        char *colon = strstr(line, ": ");
        if (colon) {
            *colon = '\0';
            MHD_add_response_header(r, line, colon + 2);
        }
    }
    free(lines);
}

void et__reply_discard(et__reply *rep)
{
    json_decref(rep->json);
    free(rep->raw);
    free(rep->headers);
    if (rep->file)
        close(rep->fd);
    *rep = (et__reply){.status = 0};
}

/* A reply's body from its file (taking the fd). */
static struct MHD_Response *file_response(const et__reply *rep)
{
    struct MHD_Response *r =
        MHD_create_response_from_fd_at_offset64(rep->file_len, rep->fd, rep->file_offset);
    if (!r)
        close(rep->fd);
    return r;
}

/* Queues the response r of rep with its headers (type: its Content-Type,
 * NULL for none), and counts it. */
static enum MHD_Result queue(et_server *s, struct MHD_Connection *c, size_t route,
                             et__reply *rep, struct MHD_Response *r, const char *type,
                             const char *allow)
{
    if (type)
        MHD_add_response_header(r, "Content-Type", type);
    add_reply_headers(r, rep->headers);
    add_security_headers(r);
    if (allow)
        MHD_add_response_header(r, "Allow", allow);
    if (rep->status == 401)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
    add_limit_headers(s, c, r, rep->retry_after_s);
    enum MHD_Result ok = MHD_queue_response(c, rep->status, r);
    MHD_destroy_response(r);
    count(s, c, route, rep->status);
    return ok;
}

/* Sends a reply (taking its contents); `allow` names the methods of a 405. */
enum MHD_Result et__send_reply(et_server *s, struct MHD_Connection *c, size_t route,
                               et__reply rep, const char *allow)
{
    if (rep.file) {
        struct MHD_Response *r = file_response(&rep);
        if (r)
            return queue(s, c, route, &rep, r, rep.content_type, allow);
        free(rep.headers);
        return MHD_NO;
    }
    char *body = rep.raw;
    size_t len = rep.raw_len;
    const char *type = rep.content_type;
    if (rep.json) {
        /* 15 significant digits: Unix times keep their milliseconds (9, as
         * the command line prints, would round them to ten seconds). */
        body = json_dumps(rep.json, JSON_COMPACT | JSON_REAL_PRECISION(15));
        len = body ? strlen(body) : 0;
        type = "application/json";
        json_decref(rep.json);
    }
    if (!body && rep.status != 304) { /* out of memory while forming the reply */
        rep.status = 500;
        body = strdup("{\"error\":{\"code\":\"out_of_memory\",\"message\":\"out of memory\"}}");
        len = body ? strlen(body) : 0;
        type = "application/json";
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, body ? body : (char *)"", body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(body);
        free(rep.headers);
        return MHD_NO;
    }
    return queue(s, c, route, &rep, r, type, allow);
}
