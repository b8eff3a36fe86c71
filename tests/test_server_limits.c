/* The server's limits, its stop and its metrics (issue 11): connections
 * past one client's limit refused at accept, the bound on connections, slow
 * clients dropped (idle, and past the headers' deadline), /metrics read line by line as Prometheus text and its
 * counts checked against the requests made, and `emotune serve` stopped by
 * SIGTERM while a request is in flight. Real HTTP on loopback sockets, a
 * real LMDB store, the real binary. No verdict depends on the clock: the
 * tests wait for events (a reply, a closed socket, a line of output, a
 * gauge); a generous receive timeout only turns a hang into a failure. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/core.h"
#include "nn/nn.h"
#include "server/server.h"
#include "http_support.h"
#include "support.h"

/* A wait longer than this (seconds) fails the test instead of hanging it. */
#define GUARD_S 120

typedef struct fixture {
    char *dir;
    char store[600];
    pid_t serving; /* an `emotune serve` still running (0: none), killed at teardown */
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = ts_tempdir();
    snprintf(f->store, sizeof f->store, "lmdb:%s/store", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->serving > 0) { /* a test failed with it running */
        kill(f->serving, SIGKILL);
        waitpid(f->serving, NULL, 0);
    }
    ts_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* A server on a free loopback port; 0 leaves an option at its default. */
static et_server *start(fixture *f, unsigned max_connections, unsigned max_per_client,
                        unsigned timeout_s)
{
    et_server_opts o = et_server_default_opts();
    o.listen = "127.0.0.1:0";
    o.store_uri = f->store;
    o.models_dir = ts_models_dir();
    if (max_connections)
        o.max_connections = max_connections;
    if (max_per_client)
        o.max_per_client = max_per_client;
    if (timeout_s)
        o.timeout_s = timeout_s;
    char err[ET_ERR_MAX];
    et_server *s = NULL;
    if (et_server_start(&o, &s, err) != ET_OK)
        fail_msg("the server does not start: %s", err);
    return s;
}

/* ---- a client that keeps its connection ------------------------------- */

/* A connection to port from the loopback address `from` ("127.0.0.2" is
 * another client than "127.0.0.1"); its reads give up after GUARD_S. */
static int connect_from(int port, const char *from)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval guard = {.tv_sec = GUARD_S};
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &guard, sizeof guard), 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    assert_int_equal(inet_pton(AF_INET, from, &a.sin_addr), 1);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0)
        fail_msg("cannot bind a client socket to %s: %s", from, strerror(errno));
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
        fail_msg("cannot connect to port %d: %s", port, strerror(errno));
    return fd;
}

static void send_text(int fd, const char *text, size_t len)
{
    for (size_t off = 0; off < len;) {
        ssize_t n = write(fd, text + off, len - off);
        if (n <= 0)
            fail_msg("cannot send the request: %s", strerror(errno));
        off += (size_t)n;
    }
}

/* Reads one whole reply (headers, then Content-Length bytes of body) from a
 * connection that may stay open; fails when it closes first. */
static ts_reply read_reply(int fd)
{
    size_t cap = 1 << 16, got = 0, need = 0;
    char *buf = malloc(cap + 1);
    char *end = NULL;
    ts_reply r = {0};
    assert_non_null(buf);
    while (!end || got < need) {
        if (got == cap) {
            buf = realloc(buf, (cap *= 2) + 1);
            assert_non_null(buf);
        }
        ssize_t n = read(fd, buf + got, cap - got);
        if (n <= 0)
            fail_msg("no whole reply (%s): %.200s", n ? strerror(errno) : "closed", buf);
        got += (size_t)n;
        buf[got] = '\0';
        if (!end && (end = strstr(buf, "\r\n\r\n"))) {
            r.head = strndup(buf, (size_t)(end - buf));
            const char *cl = ts_header(&r, "Content-Length");
            if (!cl)
                fail_msg("a reply without Content-Length: %.200s", buf);
            need = (size_t)(end + 4 - buf) + strtoul(cl, NULL, 10);
        }
    }
    if (sscanf(buf, "HTTP/1.%*d %d", &r.status) != 1)
        fail_msg("not an HTTP reply: %.200s", buf);
    r.body_len = need - (size_t)(end + 4 - buf);
    r.body = strndup(end + 4, r.body_len);
    free(buf);
    return r;
}

/* A GET on a connection that stays open, and its reply. */
static ts_reply get_on(int fd, const char *path)
{
    char req[512];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", path);
    send_text(fd, req, (size_t)n);
    return read_reply(fd);
}

/* Whether the server closes the connection (end of stream, or a reset)
 * before the guard runs out; what it sends meanwhile is read and dropped. */
static bool closed_by_server(int fd)
{
    char buf[4096];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n == 0)
            return true;
        if (n < 0)
            return errno == ECONNRESET;
    }
}

/* ---- the Prometheus text format ------------------------------------- */

typedef struct sample {
    char name[128];
    char labels[512]; /* as written between the braces ("" for none) */
    double value;
} sample;

typedef struct scrape {
    sample *s;
    size_t n;
    size_t histograms; /* series checked */
} scrape;

static bool name_ok(const char *p, size_t n)
{
    if (n == 0 || !(isalpha((unsigned char)p[0]) || p[0] == '_' || p[0] == ':'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)p[i]) || p[i] == '_' || p[i] == ':'))
            return false;
    return true;
}

/* Checks `name="value",...}` from p (just after '{'); returns the position
 * after '}', or NULL when malformed. */
static const char *labels_end(const char *p)
{
    if (*p == '}')
        return p + 1;
    for (;;) {
        size_t n = strcspn(p, "=");
        if (!name_ok(p, n) || p[n] != '=' || p[n + 1] != '"')
            return NULL;
        for (p += n + 2; *p != '"'; p++) {
            if (!*p || *p == '\n')
                return NULL;
            if (*p == '\\' && !strchr("\\\"n", *++p))
                return NULL;
        }
        p++;
        if (*p == '}')
            return p + 1;
        if (*p++ != ',')
            return NULL;
    }
}

/* A sample value: a float, +Inf, -Inf or NaN, and nothing after it. */
static bool value_ok(const char *p, double *v)
{
    char *end;
    if (!strcmp(p, "+Inf") || !strcmp(p, "-Inf") || !strcmp(p, "NaN")) {
        *v = !strcmp(p, "NaN") ? NAN : p[0] == '-' ? -INFINITY : INFINITY;
        return true;
    }
    *v = strtod(p, &end);
    return end != p && *end == '\0' && !isspace((unsigned char)p[0]);
}

/* The family a sample belongs to: its name, or, for a histogram's series,
 * the name without _bucket, _sum or _count. The TYPE given to it, or NULL. */
static const char *family_type(json_t *types, const char *name)
{
    const char *t = json_string_value(json_object_get(types, name));
    if (t)
        return t;
    static const char *const parts[] = {"_bucket", "_sum", "_count"};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(name), k = strlen(parts[i]);
        if (n > k && !strcmp(name + n - k, parts[i])) {
            char family[128];
            snprintf(family, sizeof family, "%.*s", (int)(n - k), name);
            t = json_string_value(json_object_get(types, family));
            if (t && !strcmp(t, "histogram"))
                return t;
        }
    }
    return NULL;
}

/* Parses the exposition text; fails the test on any line that is not a
 * comment (# HELP, # TYPE) nor a sample `name{labels} value` of a family
 * whose TYPE came first. */
static scrape parse_metrics(const char *text)
{
    scrape m = {0};
    size_t cap = 0;
    json_t *types = json_object();
    char *copy = strdup(text), *save = NULL;
    assert_true(*text && text[strlen(text) - 1] == '\n');
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#') {
            char kind[8], name[128], type[32];
            if (sscanf(line, "# %7s %127s %31s", kind, name, type) < 2 ||
                !name_ok(name, strlen(name)))
                fail_msg("a malformed comment: %s", line);
            if (!strcmp(kind, "TYPE")) {
                if (!strstr(" counter gauge histogram summary untyped ", type))
                    fail_msg("an unknown type: %s", line);
                json_object_set_new(types, name, json_string(type));
            } else if (strcmp(kind, "HELP") != 0) {
                fail_msg("a comment neither HELP nor TYPE: %s", line);
            }
            continue;
        }
        if (m.n == cap) {
            m.s = realloc(m.s, (cap = cap ? cap * 2 : 64) * sizeof *m.s);
            assert_non_null(m.s);
        }
        sample *s = &m.s[m.n++];
        size_t n = strcspn(line, "{ ");
        const char *rest = line + n;
        if (!name_ok(line, n) || n >= sizeof s->name)
            fail_msg("a sample with a bad name: %s", line);
        snprintf(s->name, sizeof s->name, "%.*s", (int)n, line);
        s->labels[0] = '\0';
        if (*rest == '{') {
            const char *close = labels_end(rest + 1);
            if (!close)
                fail_msg("malformed labels: %s", line);
            snprintf(s->labels, sizeof s->labels, "%.*s", (int)(close - rest - 2), rest + 1);
            rest = close;
        }
        if (*rest != ' ' || !value_ok(rest + 1, &s->value))
            fail_msg("a sample without a valid value: %s", line);
        if (!family_type(types, s->name))
            fail_msg("a sample of a family without TYPE: %s", line);
    }
    free(copy);
    json_decref(types);
    return m;
}

/* The value of the sample name{labels}; NAN when there is none. */
static double value_of(const scrape *m, const char *name, const char *labels)
{
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->s[i].name, name) && !strcmp(m->s[i].labels, labels))
            return m->s[i].value;
    return NAN;
}

/* Every histogram series: its buckets in rising `le` order, counts never
 * falling, the last le="+Inf" and equal to its _count; a _sum beside. The
 * labels of a bucket are the series' labels, then le. Returns how many. */
static size_t check_histograms(const scrape *m)
{
    size_t series = 0;
    for (size_t i = 0; i < m->n; i++) {
        size_t n = strlen(m->s[i].name);
        if (n < 6 || strcmp(m->s[i].name + n - 6, "_count") != 0)
            continue;
        char family[128], bucket[140], sum[140];
        snprintf(family, sizeof family, "%.*s", (int)(n - 6), m->s[i].name);
        snprintf(bucket, sizeof bucket, "%s_bucket", family);
        snprintf(sum, sizeof sum, "%s_sum", family);
        const char *labels = m->s[i].labels;
        double prev_le = -INFINITY, prev = 0;
        size_t buckets = 0;
        for (size_t j = 0; j < m->n; j++) {
            const sample *b = &m->s[j];
            size_t ll = strlen(labels);
            if (strcmp(b->name, bucket) != 0 || strncmp(b->labels, labels, ll) != 0 ||
                strncmp(b->labels + ll, ll ? ",le=\"" : "le=\"", ll ? 5 : 4) != 0)
                continue;
            double le;
            char text[32];
            snprintf(text, sizeof text, "%s", b->labels + ll + (ll ? 5 : 4));
            text[strcspn(text, "\"")] = '\0';
            if (!value_ok(text, &le) || le <= prev_le || b->value < prev)
                fail_msg("%s{%s}: buckets out of order or falling", bucket, b->labels);
            prev_le = le;
            prev = b->value;
            buckets++;
        }
        if (buckets < 2 || !isinf(prev_le) || prev != m->s[i].value)
            fail_msg("%s{%s}: %zu buckets, the last (%g) not +Inf or not the count %g", family,
                     labels, buckets, prev_le, m->s[i].value);
        if (isnan(value_of(m, sum, labels)))
            fail_msg("%s{%s}: no _sum", family, labels);
        series++;
    }
    return series;
}

/* GET /metrics from the client address `from`, checked line by line (and
 * its histograms). */
static scrape get_metrics(int port, const char *from)
{
    int fd = connect_from(port, from);
    ts_reply r = get_on(fd, "/metrics");
    close(fd);
    ts_check_reply(&r, 200);
    assert_non_null(strstr(ts_header(&r, "Content-Type"), "text/plain; version=0.0.4"));
    scrape m = parse_metrics(r.body);
    ts_reply_free(&r);
    m.histograms = check_histograms(&m);
    return m;
}

static double gauge(int port, const char *from, const char *name)
{
    scrape m = get_metrics(port, from);
    double v = value_of(&m, name, "");
    free(m.s);
    return v;
}

/* Scrapes until the gauge `name` reads want (each scrape is an event: no
 * clock is read); fails after many scrapes rather than hanging. */
static void wait_gauge(int port, const char *from, const char *name, double want)
{
    for (int i = 0; gauge(port, from, name) != want; i++) {
        if (i == 100000)
            fail_msg("%s never reached %g", name, want);
        usleep(1000); /* not a deadline: only spares the CPU between scrapes */
    }
}

/* ---- metrics ------------------------------------------------------------- */

#define HEALTHZ "method=\"GET\",route=\"/healthz\""
#define FRAMES "method=\"POST\",route=\"/api/v1/listeners/{name}/frames\""
#define OTHER "method=\"\",route=\"other\""

/* After 3 health checks, 2 frames and a 404, /metrics is valid Prometheus
 * text whose histograms and counters hold exactly those requests (the
 * scrape does not count itself; the next one does). */
static void metrics_count_the_requests_made(void **state)
{
    fixture *f = *state;
    et_server *s = start(f, 0, 0, 0);
    int port = et_server_port(s);
    for (int i = 0; i < 3; i++) {
        ts_reply r = ts_http(port, "GET", "/healthz", "", NULL, 0);
        ts_check_reply(&r, 200);
        ts_reply_free(&r);
    }
    size_t len;
    char *jpeg = ts_read_demo(2, &len);
    for (int i = 1; i <= 2; i++) {
        char path[100];
        snprintf(path, sizeof path, "/api/v1/listeners/ada/frames?t=%d", 100 + i);
        ts_reply r = ts_http(port, "POST", path, "Content-Type: image/jpeg\r\n", jpeg, len);
        ts_check_reply(&r, 200);
        ts_reply_free(&r);
    }
    free(jpeg);
    ts_reply r = ts_http(port, "GET", "/no/such/thing", "", NULL, 0);
    ts_check_reply(&r, 404);
    ts_reply_free(&r);

    scrape m = get_metrics(port, "127.0.0.1");
    const char *d = "emotune_http_request_duration_seconds";
    char name[128];
    snprintf(name, sizeof name, "%s_count", d);
    assert_true(value_of(&m, name, HEALTHZ) == 3);
    assert_true(value_of(&m, name, FRAMES) == 2);
    assert_true(value_of(&m, name, OTHER) == 1);
    assert_int_equal(m.histograms, 3);
    assert_true(isnan(value_of(&m, name, "method=\"GET\",route=\"/metrics\"")));
    snprintf(name, sizeof name, "%s_bucket", d);
    assert_true(value_of(&m, name, FRAMES ",le=\"+Inf\"") == 2);
    assert_false(isnan(value_of(&m, name, FRAMES ",le=\"0.005\""))); /* fine from 5 ms */
    assert_false(isnan(value_of(&m, name, FRAMES ",le=\"2\"")));     /* to 2 s */
    snprintf(name, sizeof name, "%s_sum", d);
    assert_true(value_of(&m, name, FRAMES) > 0); /* decoding a picture takes time */
    const char *total = "emotune_http_requests_total";
    assert_true(value_of(&m, total, HEALTHZ ",status=\"200\"") == 3);
    assert_true(value_of(&m, total, FRAMES ",status=\"200\"") == 2);
    assert_true(value_of(&m, total, OTHER ",status=\"404\"") == 1);
    assert_true(value_of(&m, "emotune_http_requests_in_flight", "") == 1); /* the scrape */
    assert_true(value_of(&m, "emotune_http_connections_total", "") == 7);
    double open = value_of(&m, "emotune_http_connections_open", "");
    assert_true(open >= 1 && open <= 7);
    assert_true(value_of(&m, "emotune_http_limited_total",
                         "reason=\"connections_per_client\"") == 0);
    /* each health check counts the tracks once; the frames read and write */
    assert_true(value_of(&m, "emotune_store_operations_total", "op=\"count\"") >= 3);
    double ops = 0;
    for (size_t i = 0; i < m.n; i++) {
        if (!strcmp(m.s[i].name, "emotune_store_errors_total"))
            assert_true(m.s[i].value == 0);
        if (!strcmp(m.s[i].name, "emotune_store_operations_total"))
            ops += m.s[i].value;
    }
    assert_true(ops > 3);
    free(m.s);

    m = get_metrics(port, "127.0.0.1");
    snprintf(name, sizeof name, "%s_count", d);
    assert_true(value_of(&m, name, "method=\"GET\",route=\"/metrics\"") == 1);
    assert_true(value_of(&m, name, HEALTHZ) == 3);
    free(m.s);
    et_server_stop(s);
}

/* ---- connection limits -------------------------------------------------- */

/* The server closes fd without a byte of reply (before the guard runs out). */
static bool closed_unanswered(int fd)
{
    char c;
    ssize_t n = read(fd, &c, 1);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

/* One client holding max_per_client connections: its next connection is
 * refused as it is accepted (closed unanswered, before it may hold one of
 * the server's slots for its headers), and counted. Another client is served
 * meanwhile; once one connection closes, the first client may open another. */
static void one_client_past_its_connection_limit_is_refused(void **state)
{
    fixture *f = *state;
    enum { PER_CLIENT = 3 };
    et_server *s = start(f, 0, PER_CLIENT, 0);
    int port = et_server_port(s);
    int held[PER_CLIENT];
    for (int i = 0; i < PER_CLIENT; i++) { /* each answered before the next opens */
        held[i] = connect_from(port, "127.0.0.1");
        ts_reply r = get_on(held[i], "/healthz");
        ts_check_reply(&r, 200);
        ts_reply_free(&r);
    }
    int extra = connect_from(port, "127.0.0.1");
    /* its request (the socket may be closed already: no error then) gets
     * no byte of reply, not even a 429 */
    const char req[] = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
    (void)!send(extra, req, sizeof req - 1, MSG_NOSIGNAL);
    if (!closed_unanswered(extra))
        fail_msg("a connection past the client's limit was answered, not refused");
    close(extra);
    ts_reply r;

    int other = connect_from(port, "127.0.0.2"); /* another client */
    r = get_on(other, "/healthz");
    ts_check_reply(&r, 200);
    ts_reply_free(&r);
    close(other);
    for (int i = 0; i < PER_CLIENT; i++) { /* the held ones still work */
        r = get_on(held[i], "/healthz");
        ts_check_reply(&r, 200);
        ts_reply_free(&r);
    }
    scrape m = get_metrics(port, "127.0.0.2");
    assert_true(value_of(&m, "emotune_http_limited_total",
                         "reason=\"connections_per_client\"") == 1);
    assert_true(isnan(value_of(&m, "emotune_http_requests_total", OTHER ",status=\"429\"")));
    free(m.s);
    /* one closes; once the server has seen it (PER_CLIENT - 1 held, and the
     * scrape's own connection), the client may open another */
    close(held[0]);
    wait_gauge(port, "127.0.0.2", "emotune_http_connections_open", PER_CLIENT);
    held[0] = connect_from(port, "127.0.0.1");
    r = get_on(held[0], "/healthz");
    ts_check_reply(&r, 200);
    ts_reply_free(&r);
    for (int i = 0; i < PER_CLIENT; i++)
        close(held[i]);
    et_server_stop(s);
}

/* With max_connections held open, one more connection is not served (the
 * server holds exactly that many) until one of them closes; then it is. */
static void connections_beyond_the_bound_wait_their_turn(void **state)
{
    fixture *f = *state;
    enum { MAX = 4 };
    et_server *s = start(f, MAX, 100, 0);
    int port = et_server_port(s);
    int held[MAX];
    for (int i = 0; i < MAX; i++) {
        held[i] = connect_from(port, "127.0.0.1");
        ts_reply r = get_on(held[i], "/healthz");
        ts_check_reply(&r, 200);
        ts_reply_free(&r);
    }
    int waiting = connect_from(port, "127.0.0.1"); /* the kernel takes it; the server not */
    const char req[] = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    send_text(waiting, req, sizeof req - 1);
    ts_reply r = get_on(held[0], "/metrics"); /* on a connection it has */
    ts_check_reply(&r, 200);
    scrape m = parse_metrics(r.body);
    assert_true(value_of(&m, "emotune_http_connections_open", "") == MAX);
    assert_true(value_of(&m, "emotune_http_connections_total", "") == MAX);
    free(m.s);
    ts_reply_free(&r);
    struct pollfd p = {.fd = waiting, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 0), 0); /* no reply yet */
    close(held[1]);
    r = read_reply(waiting);
    ts_check_reply(&r, 200);
    ts_reply_free(&r);
    close(waiting);
    for (int i = 0; i < MAX; i++)
        if (i != 1)
            close(held[i]);
    et_server_stop(s);
}

/* A client that sends half a request header, or headers and half a body,
 * and then nothing, is dropped after the timeout (1 s here: the test waits
 * for the close, however long it takes); the server serves others
 * meanwhile and counts the cut request as done. */
static void a_slow_client_is_dropped(void **state)
{
    fixture *f = *state;
    et_server *s = start(f, 0, 0, 1);
    int port = et_server_port(s);
    const char *halves[] = {
        "GET /healthz HTTP/1.1\r\nHost: loc",
        "POST /api/v1/detect HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n"
        "0123456789",
    };
    for (size_t i = 0; i < 2; i++) {
        int fd = connect_from(port, "127.0.0.1");
        send_text(fd, halves[i], strlen(halves[i]));
        ts_reply r = ts_http(port, "GET", "/healthz", "", NULL, 0);
        ts_check_reply(&r, 200);
        ts_reply_free(&r);
        if (!closed_by_server(fd))
            fail_msg("a client sending %s... and then nothing was not dropped in %d s",
                     i ? "half a body" : "half a header", GUARD_S);
        close(fd);
    }
    wait_gauge(port, "127.0.0.1", "emotune_http_requests_in_flight", 1); /* the scrape */
    et_server_stop(s);
}

/* Slow clients from four addresses hold every connection slot, each
 * having sent part of its headers (and, without the deadline, able to keep
 * the idle timeout from running by trickling a byte now and then; here the
 * idle timeout is an hour, so only the deadline can free a slot). A normal
 * client from 127.0.0.1, waiting in the backlog meanwhile, is answered while
 * the slow clients still hold their sockets open: the server has closed
 * them once their headers' deadline (1 s) passed. */
static void slow_clients_from_many_addresses_do_not_hold_every_slot(void **state)
{
    fixture *f = *state;
    enum { SLOTS = 8, PER_CLIENT = 2 };
    et_server_opts o = et_server_default_opts();
    o.listen = "127.0.0.1:0";
    o.store_uri = f->store;
    o.models_dir = ts_models_dir();
    o.threads = 1;
    o.max_connections = SLOTS;
    o.max_per_client = PER_CLIENT;
    o.timeout_s = 3600;
    o.header_timeout_s = 1;
    char err[ET_ERR_MAX];
    et_server *s = NULL;
    if (et_server_start(&o, &s, err) != ET_OK)
        fail_msg("the server does not start: %s", err);
    int port = et_server_port(s);
    int slow[SLOTS];
    for (int i = 0; i < SLOTS; i++) {
        char from[32];
        snprintf(from, sizeof from, "127.0.0.%d", 2 + i / PER_CLIENT);
        slow[i] = connect_from(port, from);
        const char part[] = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: a";
        send_text(slow[i], part, sizeof part - 1);
    }
    /* the normal client: accepted once a slot frees; answered */
    int fd = connect_from(port, "127.0.0.1");
    const char req[] = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    send_text(fd, req, sizeof req - 1);
    ts_reply r = read_reply(fd);
    ts_check_reply(&r, 200);
    ts_reply_free(&r);
    close(fd);
    /* the slow ones, still open on their side, were closed by the server */
    for (int i = 0; i < SLOTS; i++) {
        if (!closed_by_server(slow[i]))
            fail_msg("slow client %d was not closed", i);
        close(slow[i]);
    }
    scrape m = get_metrics(port, "127.0.0.1");
    assert_true(value_of(&m, "emotune_http_headers_late_total", "") >= 1);
    free(m.s);
    et_server_stop(s);
}

/* ---- emotune serve stops gracefully ----------------------------------- */

/* `emotune serve` running, its stdout and stderr on one pipe. */
typedef struct serving {
    pid_t pid;
    int out;
    int port;
    char text[8192]; /* all it printed so far */
    size_t len;
} serving;

/* Reads the child's output until a line starting with `prefix` (NULL: until
 * the end); false when the output ends (or the guard runs out) first. */
static bool read_until(serving *c, const char *prefix)
{
    for (;;) {
        if (prefix) {
            for (const char *line = c->text; line && *line;) {
                const char *nl = strchr(line, '\n');
                if (nl && !strncmp(line, prefix, strlen(prefix)))
                    return true;
                line = nl ? nl + 1 : NULL;
            }
        }
        struct pollfd p = {.fd = c->out, .events = POLLIN};
        if (poll(&p, 1, GUARD_S * 1000) != 1)
            return false;
        ssize_t n = read(c->out, c->text + c->len, sizeof c->text - 1 - c->len);
        if (n <= 0)
            return !prefix;
        c->len += (size_t)n;
        c->text[c->len] = '\0';
    }
}

/* Starts `emotune serve` on a free loopback port with the extra options,
 * and reads its port from the line it prints. */
static void serve_start(fixture *f, const char *extra, serving *c)
{
    memset(c, 0, sizeof *c);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "exec %s serve --listen 127.0.0.1:0 --store %s --models %s %s",
             ts_bin(), f->store, ts_models_dir(), extra);
    int p[2];
    assert_int_equal(pipe(p), 0);
    c->pid = fork();
    assert_true(c->pid >= 0);
    if (c->pid == 0) {
        dup2(p[1], 1);
        dup2(p[1], 2);
        close(p[0]);
        close(p[1]);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    c->out = p[0];
    f->serving = c->pid;
    const char *prefix = "emotune: listening on http://127.0.0.1:";
    if (!read_until(c, prefix))
        fail_msg("emotune serve did not start: %s", c->text);
    c->port = atoi(strstr(c->text, prefix) + strlen(prefix));
    assert_true(c->port > 0);
}

/* Reads the rest of its output, and its exit status (-1: killed). */
static int serve_wait(fixture *f, serving *c)
{
    if (!read_until(c, NULL))
        fail_msg("emotune serve did not exit: %s", c->text);
    close(c->out);
    int st;
    assert_int_equal(waitpid(c->pid, &st, 0), c->pid);
    f->serving = 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Sends a request's headers and the first half of its body: in flight until
 * the rest comes. Returns the connection once the server counts it. */
static int start_request(int port, const char *method, const char *path, const char *body)
{
    int fd = connect_from(port, "127.0.0.1");
    char head[512];
    size_t half = strlen(body) / 2;
    int n = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n%.*s",
                     method, path, strlen(body), (int)half, body);
    send_text(fd, head, (size_t)n);
    /* in flight: this one and the scrape's own */
    wait_gauge(port, "127.0.0.1", "emotune_http_requests_in_flight", 2);
    return fd;
}

/* SIGTERM while a request is in flight: new connections are refused at
 * once, the request finishes (200, its change kept), the process exits 0
 * saying so, and the LMDB store it leaves is consistent and holds the
 * change. */
static void serve_finishes_requests_in_flight_on_sigterm(void **state)
{
    fixture *f = *state;
    serving c;
    serve_start(f, "--grace 600", &c);
    const char *body = "{\"policy\": \"lift\", \"tau_s\": 7.5}";
    int fd = start_request(c.port, "PUT", "/api/v1/listeners/ada/profile", body);
    assert_int_equal(kill(c.pid, SIGTERM), 0);
    if (!read_until(&c, "emotune serve: stopping"))
        fail_msg("no word of stopping: %s", c.text);
    int late = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(late, (struct sockaddr *)&a, sizeof a), -1);
    assert_int_equal(errno, ECONNREFUSED);
    close(late);
    size_t half = strlen(body) / 2;
    send_text(fd, body + half, strlen(body) - half);
    ts_reply r = read_reply(fd);
    ts_check_reply(&r, 200);
    assert_string_equal(ts_header(&r, "Connection"), "close");
    json_t *doc = json_loads(r.body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(doc, "policy")), "lift");
    json_decref(doc);
    ts_reply_free(&r);
    close(fd);
    if (serve_wait(f, &c) != 0)
        fail_msg("emotune serve did not exit 0: %s", c.text);
    assert_non_null(strstr(c.text, "emotune serve: stopped cleanly"));

    char cmd[2048], *out;
    snprintf(cmd, sizeof cmd, "%s store check --store %s 2>&1", ts_bin(), f->store);
    if (ts_run(cmd, &out) != 0)
        fail_msg("the store left is not consistent: %s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "%s profile --json --listener ada --store %s", ts_bin(), f->store);
    assert_int_equal(ts_run(cmd, &out), 0);
    doc = json_loads(out, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(doc, "policy")), "lift");
    assert_true(json_number_value(json_object_get(doc, "tau_s")) == 7.5);
    json_decref(doc);
    free(out);
}

/* With no grace at all, a request still in flight (its body never comes) is
 * cut: its connection closed, the process exits 0 and says so. */
static void serve_cuts_requests_still_in_flight_after_the_grace(void **state)
{
    fixture *f = *state;
    serving c;
    serve_start(f, "--grace 0", &c);
    int fd = start_request(c.port, "PUT", "/api/v1/listeners/bob/profile",
                           "{\"policy\": \"calm\"}");
    assert_int_equal(kill(c.pid, SIGTERM), 0);
    if (serve_wait(f, &c) != 0)
        fail_msg("emotune serve did not exit 0: %s", c.text);
    assert_non_null(strstr(c.text, "cut at the end of the grace period"));
    assert_true(closed_by_server(fd));
    close(fd);
    char cmd[2048], *out;
    snprintf(cmd, sizeof cmd, "%s profile --json --listener bob --store %s", ts_bin(), f->store);
    assert_int_equal(ts_run(cmd, &out), 0);
    json_t *doc = json_loads(out, 0, NULL);
    assert_string_not_equal(json_string_value(json_object_get(doc, "policy")), "calm");
    json_decref(doc);
    free(out);
}

/* Each test has its own store (and server). */
#define TEST(t) cmocka_unit_test_setup_teardown(t, setup, teardown)

int main(void)
{
    et_nn_set_blas_threads(1);
    const struct CMUnitTest tests[] = {
        TEST(metrics_count_the_requests_made),
        TEST(one_client_past_its_connection_limit_is_refused),
        TEST(slow_clients_from_many_addresses_do_not_hold_every_slot),
        TEST(connections_beyond_the_bound_wait_their_turn),
        TEST(a_slow_client_is_dropped),
        TEST(serve_finishes_requests_in_flight_on_sigterm),
        TEST(serve_cuts_requests_still_in_flight_after_the_grace),
    };
    return cmocka_run_group_tests_name("server_limits", tests, NULL, NULL);
}
