/* A load generator for `emotune serve`: N client threads, each with its own
 * connection on loopback (kept alive, as a browser does, or a new one per
 * request with --close), send one request after another for a bounded time
 * and time each from the first byte written to the last byte of the reply
 * read. After a warm-up (not counted: the server's workers make their
 * vision contexts, listeners their trackers), it reports one JSON line:
 * requests per second, latency percentiles, and the replies by status.
 *
 * The request is generic: a method, a path, header lines and a body file.
 * In the path, {i} becomes the client's number (so that each client is its
 * own listener: /api/v1/listeners/load{i}/frames) and {t} the seconds since
 * the start (a capture time that goes forward: ?t={t}).
 *
 * usage: server_load --port P [--connections N] [--seconds S] [--warmup S]
 *                    [--method M] [--header 'Name: value']... [--body FILE]
 *                    [--close] [--label TEXT] PATH */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"

#define MAX_CONNECTIONS 1024
#define MAX_HEADERS 16
#define READ_BUF (64 * 1024) /* a reply's head must fit; bodies are read through it */
#define MAX_STATUS 600

typedef struct load {
    int port, connections;
    double seconds, warmup;
    const char *method, *path, *label;
    const char *headers[MAX_HEADERS];
    int n_headers;
    const char *body_file;
    char *body;
    size_t body_len;
    bool close_each;
    double t0; /* et_now() at the start */
} load;

/* One client's connection, its read buffer and what it measured. */
typedef struct client {
    const load *l;
    int index;
    int fd;
    char buf[READ_BUF];
    size_t have;
    double *ms; /* latencies of the requests counted */
    size_t n, cap;
    unsigned long status[MAX_STATUS]; /* replies by status; [0]: no reply */
    double last_end;                  /* when its last counted request ended */
    char first_error[160];
} client;

static void note_error(client *c, const char *what)
{
    if (!c->first_error[0])
        snprintf(c->first_error, sizeof c->first_error, "%s", what);
}

static bool connect_to(client *c)
{
    c->have = 0;
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0)
        return false;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->l->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) == 0)
        return true;
    close(c->fd);
    c->fd = -1;
    return false;
}

static void disconnect(client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->have = 0;
}

static bool send_all(int fd, const char *p, size_t len)
{
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n <= 0 && errno != EINTR)
            return false;
        if (n > 0)
            p += n, len -= (size_t)n;
    }
    return true;
}

/* Reads more bytes into the buffer; false at the end of the stream, on an
 * error, or when the buffer is full. */
static bool fill(client *c)
{
    if (c->have == sizeof c->buf)
        return false;
    ssize_t n;
    do
        n = recv(c->fd, c->buf + c->have, sizeof c->buf - c->have, 0);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return false;
    c->have += (size_t)n;
    return true;
}

/* The first occurrence of the nul-terminated needle in [p, p + len), or NULL
 * (memmem is a GNU extension). */
static char *find(const char *p, size_t len, const char *needle)
{
    size_t nl = strlen(needle);
    for (size_t i = 0; i + nl <= len; i++)
        if (memcmp(p + i, needle, nl) == 0)
            return (char *)p + i;
    return NULL;
}

static void consume(client *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->have - n);
    c->have -= n;
}

/* Reads and drops n bytes of body. */
static bool skip(client *c, unsigned long long n)
{
    while (n) {
        if (!c->have && !fill(c))
            return false;
        size_t k = n < c->have ? (size_t)n : c->have;
        consume(c, k);
        n -= k;
    }
    return true;
}

/* The offset just past the next CRLF in the buffer, reading as needed; 0
 * when the stream ends first. */
static size_t line_end(client *c)
{
    for (;;) {
        char *p = find(c->buf, c->have, "\r\n");
        if (p)
            return (size_t)(p - c->buf) + 2;
        if (!fill(c))
            return 0;
    }
}

static bool skip_chunked(client *c)
{
    for (;;) {
        size_t end = line_end(c);
        if (!end)
            return false;
        unsigned long long size = strtoull(c->buf, NULL, 16);
        consume(c, end);
        if (size == 0)
            break;
        if (!skip(c, size + 2)) /* the data and its CRLF */
            return false;
    }
    for (size_t end; (end = line_end(c)) != 0;) { /* trailers, then an empty line */
        consume(c, end);
        if (end == 2)
            return true;
    }
    return false;
}

/* The value of header `name` in the head [buf, buf + len), or NULL. */
static const char *header(const char *buf, size_t len, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = find(buf, len, "\r\n"); p && p + 2 < buf + len;
         p = find(p + 2, (size_t)(buf + len - (p + 2)), "\r\n"))
        if (strncasecmp(p + 2, name, nl) == 0 && p[2 + nl] == ':')
            return p + 3 + nl;
    return NULL;
}

/* Reads one reply (its body dropped); its status, 0 when none came. *keep
 * is false when the connection cannot carry another request. */
static int read_reply(client *c, bool head_only, bool *keep)
{
    char *end;
    while (!(end = find(c->buf, c->have, "\r\n\r\n")))
        if (!fill(c))
            return note_error(c, c->have ? "reply head cut or too long" : "no reply"), 0;
    size_t head = (size_t)(end - c->buf) + 4;
    int status = 0;
    if (sscanf(c->buf, "HTTP/1.%*d %d", &status) != 1 || status <= 0 || status >= MAX_STATUS)
        return note_error(c, "not an HTTP reply"), 0;
    const char *cl = header(c->buf, head, "Content-Length");
    const char *te = header(c->buf, head, "Transfer-Encoding");
    const char *conn = header(c->buf, head, "Connection");
    bool chunked = te && strncasecmp(te + strspn(te, " "), "chunked", 7) == 0;
    unsigned long long len = cl ? strtoull(cl, NULL, 10) : 0;
    *keep = !(conn && strncasecmp(conn + strspn(conn, " "), "close", 5) == 0);
    consume(c, head);
    bool ok = true;
    if (head_only || status == 204 || status == 304 || (status >= 100 && status < 200))
        ok = true;
    else if (chunked)
        ok = skip_chunked(c);
    else if (cl)
        ok = skip(c, len);
    else { /* the body runs to the end of the stream */
        do
            consume(c, c->have);
        while (fill(c));
        *keep = false;
    }
    if (!ok)
        return note_error(c, "reply body cut"), 0;
    return status;
}

/* The path with {i} and {t} replaced. */
static void expand_path(const client *c, double now, char *out, size_t size)
{
    const char *p = c->l->path;
    size_t o = 0;
    while (*p && o + 32 < size) {
        if (strncmp(p, "{i}", 3) == 0) {
            o += (size_t)snprintf(out + o, size - o, "%d", c->index);
            p += 3;
        } else if (strncmp(p, "{t}", 3) == 0) {
            o += (size_t)snprintf(out + o, size - o, "%.3f", now - c->l->t0);
            p += 3;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
}

static size_t format_request(const client *c, double now, char *out, size_t size)
{
    const load *l = c->l;
    char path[2048];
    expand_path(c, now, path, sizeof path);
    int n = snprintf(out, size, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s", l->method, path,
                     l->port, l->close_each ? "Connection: close\r\n" : "");
    for (int i = 0; i < l->n_headers && n > 0 && (size_t)n < size; i++)
        n += snprintf(out + n, size - (size_t)n, "%s\r\n", l->headers[i]);
    if (n > 0 && (size_t)n < size && l->body)
        n += snprintf(out + n, size - (size_t)n, "Content-Length: %zu\r\n", l->body_len);
    if (n > 0 && (size_t)n < size)
        n += snprintf(out + n, size - (size_t)n, "\r\n");
    return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

static void record(client *c, double start, double end, int status)
{
    const load *l = c->l;
    c->status[status]++;
    if (start < l->t0 + l->warmup) /* begun in the warm-up: not counted */
        return;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 4096;
        double *grown = realloc(c->ms, cap * sizeof *grown);
        if (!grown)
            return;
        c->ms = grown;
        c->cap = cap;
    }
    c->ms[c->n++] = (end - start) * 1e3;
    c->last_end = end;
}

/* One request, on the kept connection or a new one; its status, 0 when no
 * reply came, -1 when the server cannot be reached at all. */
static int one_request(client *c, const char *head, size_t head_len)
{
    const load *l = c->l;
    if (c->fd < 0 && !connect_to(c))
        return note_error(c, "cannot connect"), -1;
    bool keep = false;
    int status = 0;
    if (!send_all(c->fd, head, head_len) || (l->body && !send_all(c->fd, l->body, l->body_len)))
        note_error(c, "cannot send");
    else
        status = read_reply(c, strcmp(l->method, "HEAD") == 0, &keep);
    if (!status || !keep || l->close_each)
        disconnect(c);
    return status;
}

static void *run_client(void *arg)
{
    client *c = arg;
    const load *l = c->l;
    double stop = l->t0 + l->warmup + l->seconds;
    char head[8192];
    for (double now = et_now(); now < stop; now = et_now()) {
        size_t head_len = format_request(c, now, head, sizeof head);
        if (!head_len) {
            note_error(c, "request head too long");
            break;
        }
        int status = one_request(c, head, head_len);
        /* counted by status from the start, so that no error of the warm-up
         * goes unseen; timed after it */
        record(c, now, et_now(), status < 0 ? 0 : status);
        if (status < 0)
            break; /* the server is gone */
    }
    disconnect(c);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The p-th quantile (nearest rank) of the sorted v[n]. */
static double quantile(const double *v, size_t n, double p)
{
    if (!n)
        return 0;
    size_t k = (size_t)ceil(p * (double)n);
    return v[k ? k - 1 : 0];
}

static void json_string(const char *s)
{
    putchar('"');
    for (; *s; s++)
        if (*s == '"' || *s == '\\')
            printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            printf("\\u%04x", *s);
        else
            putchar(*s);
    putchar('"');
}

static void report(const load *l, client *cs)
{
    size_t total = 0;
    double last = l->t0 + l->warmup;
    unsigned long status[MAX_STATUS] = {0};
    for (int i = 0; i < l->connections; i++) {
        total += cs[i].n;
        last = cs[i].last_end > last ? cs[i].last_end : last;
        for (int s = 0; s < MAX_STATUS; s++)
            status[s] += cs[i].status[s];
    }
    double *all = malloc((total ? total : 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < l->connections; i++)
        for (size_t j = 0; j < cs[i].n; j++)
            all[k++] = cs[i].ms[j];
    qsort(all, total, sizeof *all, cmp_double);
    double elapsed = last - (l->t0 + l->warmup);
    unsigned long errors = 0;
    printf("{\"label\": ");
    json_string(l->label ? l->label : "");
    printf(", \"method\": ");
    json_string(l->method);
    printf(", \"path\": ");
    json_string(l->path);
    printf(", \"connections\": %d, \"keep_alive\": %s, \"body_bytes\": %zu, "
           "\"warmup_s\": %.1f, \"seconds\": %.3f, \"requests\": %zu, \"rps\": %.2f, "
           "\"p50_ms\": %.2f, \"p90_ms\": %.2f, \"p99_ms\": %.2f, \"max_ms\": %.2f, "
           "\"statuses\": {",
           l->connections, l->close_each ? "false" : "true", l->body_len, l->warmup, elapsed,
           total, elapsed > 0 ? (double)total / elapsed : 0, quantile(all, total, 0.5),
           quantile(all, total, 0.9), quantile(all, total, 0.99),
           total ? all[total - 1] : 0.0);
    const char *sep = "";
    for (int s = 0; s < MAX_STATUS; s++)
        if (status[s]) {
            char key[8] = "none";
            if (s)
                snprintf(key, sizeof key, "%d", s);
            printf("%s\"%s\": %lu", sep, key, status[s]);
            sep = ", ";
            if (s == 0 || s >= 400)
                errors += status[s];
        }
    /* per client: a worker with more of the kept-alive connections than the
     * other shows as clients served less often */
    printf("}, \"requests_per_client\": [");
    for (int i = 0; i < l->connections; i++)
        printf("%s%zu", i ? ", " : "", cs[i].n);
    printf("], \"errors\": %lu, \"first_error\": ", errors);
    const char *first = "";
    for (int i = 0; i < l->connections && !*first; i++)
        first = cs[i].first_error;
    json_string(first);
    printf("}\n");
    free(all);
}

static const char usage[] =
    "usage: server_load --port P [--connections N] [--seconds S] [--warmup S]\n"
    "                   [--method M] [--header 'Name: value']... [--body FILE]\n"
    "                   [--close] [--label TEXT] PATH\n"
    "PATH may hold {i} (the client's number) and {t} (seconds since the start).\n";

static int parse_args(int argc, char **argv, load *l)
{
    static const struct option opts[] = {
        {"port", required_argument, NULL, 'p'},    {"connections", required_argument, NULL, 'c'},
        {"seconds", required_argument, NULL, 's'}, {"warmup", required_argument, NULL, 'w'},
        {"method", required_argument, NULL, 'm'},  {"header", required_argument, NULL, 'H'},
        {"body", required_argument, NULL, 'b'},    {"close", no_argument, NULL, 'C'},
        {"label", required_argument, NULL, 'L'},   {NULL, 0, NULL, 0}};
    *l = (load){.connections = 8, .seconds = 20, .warmup = 2, .method = "GET"};
    for (int o; (o = getopt_long(argc, argv, "", opts, NULL)) != -1;) {
        switch (o) {
        case 'p': l->port = atoi(optarg); break;
        case 'c': l->connections = atoi(optarg); break;
        case 's': l->seconds = atof(optarg); break;
        case 'w': l->warmup = atof(optarg); break;
        case 'm': l->method = optarg; break;
        case 'H':
            if (l->n_headers == MAX_HEADERS)
                return fprintf(stderr, "server_load: at most %d headers\n", MAX_HEADERS), 2;
            l->headers[l->n_headers++] = optarg;
            break;
        case 'b': l->body_file = optarg; break;
        case 'C': l->close_each = true; break;
        case 'L': l->label = optarg; break;
        default: return fputs(usage, stderr), 2;
        }
    }
    if (optind != argc - 1 || l->port <= 0 || l->port > 65535 || l->connections < 1 ||
        l->connections > MAX_CONNECTIONS || !(l->seconds > 0) || !(l->warmup >= 0))
        return fputs(usage, stderr), 2;
    l->path = argv[optind];
    return 0;
}

int main(int argc, char **argv)
{
    load l;
    int rc = parse_args(argc, argv, &l);
    if (rc)
        return rc;
    char err[ET_ERR_MAX];
    if (l.body_file && et_read_file(l.body_file, (size_t)1 << 30, (uint8_t **)&l.body,
                                    &l.body_len, err) != ET_OK) {
        fprintf(stderr, "server_load: %s\n", err);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    client *cs = calloc((size_t)l.connections, sizeof *cs);
    pthread_t *t = calloc((size_t)l.connections, sizeof *t);
    if (!cs || !t)
        return fputs("server_load: out of memory\n", stderr), 1;
    l.t0 = et_now();
    int started = 0;
    for (; started < l.connections; started++) {
        cs[started] = (client){.l = &l, .index = started, .fd = -1};
        if (pthread_create(&t[started], NULL, run_client, &cs[started]) != 0)
            break;
    }
    for (int i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    l.connections = started;
    report(&l, cs);
    for (int i = 0; i < started; i++)
        free(cs[i].ms);
    free(cs);
    free(t);
    free(l.body);
    return 0;
}
