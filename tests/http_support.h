/* An HTTP/1.1 client for the server tests: requests written byte by byte on
 * a loopback socket, so malformed and oversized ones can be sent as an
 * attacker would, and the whole reply read until the server closes. */
#ifndef ET_TEST_HTTP_SUPPORT_H
#define ET_TEST_HTTP_SUPPORT_H

#include <stddef.h>

struct json_t;

typedef struct ts_reply {
    int status;
    char *head; /* the status line and headers */
    char *body;
    size_t body_len;
} ts_reply;

void ts_reply_free(ts_reply *r);

/* Sends len bytes of req as they are, shuts the socket's write side (so
 * not one more byte can follow: the server must answer what it has), and
 * reads the reply until the server closes; fails the test when what comes
 * back is not HTTP. */
ts_reply ts_http_raw(int port, const char *req, size_t len);

/* A request with a body (may be NULL) and extra header lines ("" for none;
 * each ending in \r\n); Connection: close and Content-Length are added.
 * The write side stays open, as a browser's does (libmicrohttpd closes a
 * half-closed connection whose reply is not ready yet). */
ts_reply ts_http(int port, const char *method, const char *path, const char *headers,
                 const void *body, size_t body_len);

/* The same with its own Host header's value (ts_http's is "localhost"). */
ts_reply ts_http_host(int port, const char *host, const char *method, const char *path,
                      const char *headers, const void *body, size_t body_len);

/* The reply's header `name` (case-insensitive), or NULL; a static copy,
 * valid until the next call. */
const char *ts_header(const ts_reply *r, const char *name);

/* Fails the test unless the reply has want_status and the security headers
 * (CSP without unsafe-inline, nosniff, no-referrer, no CORS), and, for an
 * error, a JSON body {"error": {"code", "message"}}. */
void ts_check_reply(const ts_reply *r, int want_status);

/* A request with a JSON body (NULL: none); the reply's JSON (caller frees;
 * NULL when the body is not JSON) and its status in *status. */
struct json_t *ts_call_json(int port, const char *method, const char *path, const char *body,
                            int *status);

/* The server of a group of tests: a temporary directory holding an LMDB
 * store, and a server on it on a free loopback port with the test models. */
struct et_server;
struct et_server_opts;
typedef struct ts_server_fixture {
    char *dir;        /* the temporary directory */
    char store[600];  /* its store's URI, "lmdb:DIR/store" */
    struct et_server *server;
    int port;
} ts_server_fixture;

/* cmocka group setup (state: a new ts_server_fixture) with the server's
 * default options; -1 after saying why on stderr, with nothing left. */
int ts_server_setup(void **state);
/* The same with the options o (listen, store_uri and models_dir are set
 * here). */
int ts_server_setup_with(void **state, const struct et_server_opts *o);
/* Stops the server and removes the directory. */
int ts_server_teardown(void **state);

/* A PNG of a smooth blue sky: a picture without a face (caller frees; *len
 * its size). */
char *ts_sky_png(size_t *len);

#endif
