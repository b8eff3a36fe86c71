/* The HTTP client of the server tests (http_support.h). */
#include <arpa/inet.h>
#include <jansson.h>
#include <png.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/core.h"
#include "server/server.h"
#include "http_support.h"
#include "support.h"

void ts_reply_free(ts_reply *r)
{
    free(r->head);
    free(r->body);
}

/* Sends req and reads the reply until the server closes; half_close shuts
 * the socket's write side once req is sent. */
static ts_reply exchange(int port, const char *req, size_t len, bool half_close)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    for (size_t off = 0; off < len;) {
        ssize_t n = write(fd, req + off, len - off);
        if (n <= 0)
            break; /* the server may answer and close before reading it all */
        off += (size_t)n;
    }
    if (half_close)
        shutdown(fd, SHUT_WR);
    size_t cap = 1 << 16, got = 0;
    char *buf = malloc(cap + 1);
    assert_non_null(buf);
    for (ssize_t n; (n = read(fd, buf + got, cap - got)) > 0;) {
        got += (size_t)n;
        if (got == cap) {
            buf = realloc(buf, (cap *= 2) + 1);
            assert_non_null(buf);
        }
    }
    close(fd);
    buf[got] = '\0';
    ts_reply r = {0};
    char *end = strstr(buf, "\r\n\r\n");
    if (!end || sscanf(buf, "HTTP/1.%*d %d", &r.status) != 1)
        fail_msg("not an HTTP reply: %.200s", buf);
    r.head = strndup(buf, (size_t)(end - buf));
    r.body_len = got - (size_t)(end + 4 - buf);
    r.body = malloc(r.body_len + 1);
    memcpy(r.body, end + 4, r.body_len);
    r.body[r.body_len] = '\0';
    free(buf);
    return r;
}

ts_reply ts_http_raw(int port, const char *req, size_t len)
{
    return exchange(port, req, len, true);
}

/* A request with a body (may be NULL) and extra header lines ("" for none). */
ts_reply ts_http(int port, const char *method, const char *path, const char *headers,
                  const void *body, size_t body_len)
{
    return ts_http_host(port, "localhost", method, path, headers, body, body_len);
}

ts_reply ts_http_host(int port, const char *host, const char *method, const char *path,
                      const char *headers, const void *body, size_t body_len)
{
    char head[2048];
    int n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n%s"
                     "Content-Length: %zu\r\n\r\n",
                     method, path, host, headers, body_len);
    char *req = malloc((size_t)n + body_len);
    memcpy(req, head, (size_t)n);
    if (body && body_len)
        memcpy(req + n, body, body_len);
    ts_reply r = exchange(port, req, (size_t)n + body_len, false);
    free(req);
    return r;
}

/* The reply's header `name` (case-insensitive), or NULL; a static copy. */
const char *ts_header(const ts_reply *r, const char *name)
{
    static char value[512];
    size_t nl = strlen(name);
    for (const char *p = strstr(r->head, "\r\n"); p; p = strstr(p + 2, "\r\n"))
        if (strncasecmp(p + 2, name, nl) == 0 && p[2 + nl] == ':') {
            const char *v = p + 3 + nl;
            while (*v == ' ')
                v++;
            size_t len = strcspn(v, "\r");
            snprintf(value, sizeof value, "%.*s", (int)len, v);
            return value;
        }
    return NULL;
}

/* Every ts_reply: the security headers; an error: JSON with a code. */
void ts_check_reply(const ts_reply *r, int want_status)
{
    if (r->status != want_status)
        fail_msg("status %d, expected %d: %.300s", r->status, want_status, r->body);
    assert_non_null(ts_header(r, "Content-Security-Policy"));
    assert_false(strstr(ts_header(r, "Content-Security-Policy"), "unsafe-inline"));
    assert_string_equal(ts_header(r, "X-Content-Type-Options"), "nosniff");
    assert_string_equal(ts_header(r, "Referrer-Policy"), "no-referrer");
    assert_null(ts_header(r, "Access-Control-Allow-Origin"));
    if (want_status >= 400) {
        json_t *doc = json_loads(r->body, 0, NULL);
        if (!json_is_string(json_object_get(json_object_get(doc, "error"), "code")) ||
            !json_is_string(json_object_get(json_object_get(doc, "error"), "message")))
            fail_msg("status %d without a JSON error: %.300s", r->status, r->body);
        json_decref(doc);
    }
}

/* A request with a JSON body; its status and ts_reply JSON (caller frees). */
json_t *ts_call_json(int port, const char *method, const char *path, const char *body,
                         int *status)
{
    ts_reply r = ts_http(port, method, path, body ? "Content-Type: application/json\r\n" : "", body,
                   body ? strlen(body) : 0);
    ts_check_reply(&r, r.status);
    *status = r.status;
    json_t *doc = json_loads(r.body, 0, NULL);
    ts_reply_free(&r);
    return doc;
}


int ts_server_setup_with(void **state, const et_server_opts *o)
{
    ts_server_fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    f->dir = ts_tempdir();
    snprintf(f->store, sizeof f->store, "lmdb:%s/store", f->dir);
    et_server_opts so = *o;
    so.listen = "127.0.0.1:0";
    so.store_uri = f->store;
    so.models_dir = ts_models_dir();
    char err[ET_ERR_MAX];
    if (et_server_start(&so, &f->server, err) != ET_OK) {
        fprintf(stderr, "setup: %s\n", err);
        ts_rmtree(f->dir);
        free(f->dir);
        free(f);
        return -1;
    }
    f->port = et_server_port(f->server);
    *state = f;
    return 0;
}

int ts_server_setup(void **state)
{
    et_server_opts o = et_server_default_opts();
    return ts_server_setup_with(state, &o);
}

int ts_server_teardown(void **state)
{
    ts_server_fixture *f = *state;
    if (!f) /* the group setup failed: nothing to undo */
        return 0;
    et_server_stop(f->server);
    ts_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

char *ts_sky_png(size_t *len)
{
    enum { W = 160, H = 120 };
    uint8_t *rgb = malloc(W * H * 3);
    assert_non_null(rgb);
    for (int i = 0; i < W * H; i++) {
        rgb[i * 3] = 90;
        rgb[i * 3 + 1] = (uint8_t)(120 + (i / W) / 2);
        rgb[i * 3 + 2] = 230;
    }
    png_image pi = {.version = PNG_IMAGE_VERSION, .width = W, .height = H,
                    .format = PNG_FORMAT_RGB};
    png_alloc_size_t size = 0;
    assert_true(png_image_write_to_memory(&pi, NULL, &size, 0, rgb, W * 3, NULL));
    char *png = malloc(size);
    assert_non_null(png);
    assert_true(png_image_write_to_memory(&pi, png, &size, 0, rgb, W * 3, NULL));
    free(rgb);
    *len = size;
    return png;
}
