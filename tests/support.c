#include "support.h"
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <sys/wait.h>

#include "core/core.h"
#include "store/store.h"
#include "vision/vision.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *ts_faces_dir(void)
{
    const char *env = getenv("EMOTUNE_FACES_DIR");
    if (env && *env)
        return is_dir(env) ? env : NULL;
    return is_dir("../shared/data/faces/images") ? "../shared/data/faces" : NULL;
}

const char *ts_models_dir(void)
{
    const char *env = getenv("EMOTUNE_TEST_MODELS");
    return env && *env ? env : "build/models";
}

const char *ts_demo_dir(void) { return "node_modules/@vladmandic/face-api/demo"; }

char *ts_tempdir(void)
{
    const char *base = getenv("TMPDIR");
    char *p = malloc(512);
    assert_non_null(p);
    snprintf(p, 512, "%s/emotune-test-XXXXXX", base && *base ? base : "/tmp");
    assert_non_null(mkdtemp(p));
    return p;
}

char *ts_read_demo(int i, size_t *len)
{
    char path[512], err[ET_ERR_MAX];
    snprintf(path, sizeof path, "%s/sample%d.jpg", ts_demo_dir(), i);
    uint8_t *data;
    if (et_read_file(path, 1 << 26, &data, len, err) != ET_OK)
        fail_msg("%s", err);
    return (char *)data;
}

void ts_rmtree(const char *dir)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", dir);
}

unsigned ts_seed(const char *what, unsigned fixed)
{
    const char *env = getenv("EMOTUNE_TEST_SEED");
    unsigned seed = fixed;
    if (env && *env) {
        char *end;
        errno = 0;
        unsigned long v = strtoul(env, &end, 10);
        if (errno || *end || v > UINT_MAX || env[0] == '-')
            fail_msg("EMOTUNE_TEST_SEED='%s' is not a number of 0..%u", env, UINT_MAX);
        seed = (unsigned)v;
    }
    fprintf(stderr, "%s: seed %u%s\n", what, seed,
            env && *env ? " (from EMOTUNE_TEST_SEED)" : "; set EMOTUNE_TEST_SEED for another");
    return seed;
}

void ts_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "core/core.h"
#include <time.h>

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* One PING over a fresh connection: 1 when the answer is +PONG. */
static int redis_pings(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    char buf[64] = "";
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
             write(fd, "PING\r\n", 6) == 6 && read(fd, buf, sizeof buf - 1) > 0 &&
             strncmp(buf, "+PONG", 5) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

int ts_redis_start(ts_redis *r)
{
    if (!r->dir)
        r->dir = ts_tempdir();
    if (!r->port)
        r->port = free_port();
    char port[16], log[600];
    snprintf(port, sizeof port, "%d", r->port);
    snprintf(log, sizeof log, "%s/redis.log", r->dir);
    pid_t pid = fork();
    if (pid == 0) {
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--dir",
               r->dir, "--appendonly", "yes", "--appendfsync", "always", "--save", "",
               "--logfile", log, "--daemonize", "no", (char *)NULL);
        _exit(127);
    }
    if (pid < 0)
        return -1;
    r->pid = pid;
    /* It answers within milliseconds, or exits (no binary, port taken); the
     * bound only turns a server that hangs into a failure instead of a
     * test run that never ends, so it is minutes, not a speed check. */
    for (int i = 0; i < 2400; i++) { /* 50 ms apart: 2 minutes */
        if (redis_pings(r->port))
            return 0;
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            fprintf(stderr, "redis-server exited at start (is it installed? see %s)\n", log);
            r->pid = 0;
            return -1;
        }
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "redis-server on port %d did not answer PING in 2 minutes (hung?)\n",
            r->port);
    return -1;
}

void ts_redis_stop(ts_redis *r, int sig)
{
    if (!r->pid)
        return;
    kill(r->pid, sig);
    waitpid(r->pid, NULL, 0);
    r->pid = 0;
}

void ts_redis_cleanup(ts_redis *r)
{
    ts_redis_stop(r, SIGTERM);
    if (r->dir) {
        ts_rmtree(r->dir);
        free(r->dir);
        r->dir = NULL;
    }
}

const char *ts_bin(void)
{
    const char *b = getenv("EMOTUNE_TEST_BIN");
    return b && *b ? b : "build/emotune";
}

void ts_sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof cmd)
        fail_msg("command too long: %.200s...", cmd);
    if (system(cmd) != 0)
        fail_msg("command failed: %s", cmd);
}

int ts_run(const char *cmd, char **out)
{
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t got;
    while ((got = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += got;
        if (cap - len < 1024) {
            buf = realloc(buf, cap *= 2);
            assert_non_null(buf);
        }
    }
    buf[len] = '\0';
    int st = pclose(p);
    *out = buf;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

ts_cli_library *ts_cli_library_new(const char *csv)
{
    ts_cli_library *l = calloc(1, sizeof *l);
    assert_non_null(l);
    l->dir = ts_tempdir();
    snprintf(l->store, sizeof l->store, "lmdb:%s/db", l->dir);
    char path[700], cmd[2048], *out;
    snprintf(path, sizeof path, "%s/links.csv", l->dir);
    ts_write_file(path, csv, strlen(csv));
    snprintf(cmd, sizeof cmd, "%s import --store %s %s 2>&1", ts_bin(), l->store, path);
    int st = ts_run(cmd, &out);
    if (st != 0) {
        fprintf(stderr, "emotune import: exit %d: %s\n", st, out);
        ts_cli_library_free(l);
        l = NULL;
    }
    free(out);
    return l;
}

void ts_cli_library_free(ts_cli_library *l)
{
    if (!l)
        return;
    ts_rmtree(l->dir);
    free(l->dir);
    free(l);
}

json_t *ts_json_lines(const char *out)
{
    json_t *arr = json_array();
    const char *s = out;
    while (*s) {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        json_error_t e;
        json_t *v = json_loadb(s, n, 0, &e);
        if (!v)
            fail_msg("not a JSON line: %.*s", (int)n, s);
        json_array_append_new(arr, v);
        s += n + (nl ? 1 : 0);
    }
    return arr;
}

int ts_backend_lmdb_setup(void **state)
{
    ts_backend *b = calloc(1, sizeof *b);
    if (!b)
        return -1;
    b->name = "lmdb";
    b->dir = ts_tempdir();
    *state = b;
    return 0;
}

int ts_backend_redis_setup(void **state)
{
    ts_backend *b = calloc(1, sizeof *b);
    if (!b)
        return -1;
    b->name = "redis";
    if (ts_redis_start(&b->redis) != 0) {
        ts_redis_cleanup(&b->redis); /* its temporary directory */
        free(b);
        return -1;
    }
    *state = b;
    return 0;
}

int ts_backend_teardown(void **state)
{
    ts_backend *b = *state;
    if (!b) /* the group setup failed: nothing to undo */
        return 0;
    ts_redis_cleanup(&b->redis);
    if (b->dir) {
        ts_rmtree(b->dir);
        free(b->dir);
    }
    free(b);
    return 0;
}

void ts_redis_command(int port, const char *cmd)
{
    redisContext *c = redisConnect("127.0.0.1", port);
    assert_true(c && !c->err);
    redisReply *r = redisCommand(c, cmd);
    assert_non_null(r);
    freeReplyObject(r);
    redisFree(c);
}

void ts_backend_fresh(ts_backend *b)
{
    if (b->dir) {
        snprintf(b->uri, sizeof b->uri, "lmdb:%s/t%d", b->dir, b->serial++);
    } else {
        snprintf(b->uri, sizeof b->uri, "redis://127.0.0.1:%d/0", b->redis.port);
        ts_redis_command(b->redis.port, "FLUSHALL");
    }
}

int ts_store_open_fresh(void **state)
{
    ts_backend *b = *state;
    ts_store_fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->b = b;
    ts_backend_fresh(b);
    char err[ET_ERR_MAX];
    if (et_store_open(b->uri, NULL, &f->s, err) != ET_OK)
        fail_msg("open %s: %s", b->uri, err);
    *state = f;
    return 0;
}

int ts_store_close(void **state)
{
    ts_store_fixture *f = *state;
    et_store_close(f->s);
    *state = f->b;
    free(f);
    return 0;
}

char *ts_store_export(et_store *s)
{
    char *buf = NULL, err[ET_ERR_MAX];
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(et_store_export(s, f, NULL, err), ET_OK);
    fclose(f);
    return buf;
}

int ts_vision_open(et_vision_models **models, et_vision_ctx **ctx)
{
    char err[ET_ERR_MAX];
    *models = NULL;
    *ctx = NULL;
    if (et_vision_models_load(ts_models_dir(), models, err) != ET_OK ||
        et_vision_ctx_new(*models, ctx, err) != ET_OK) {
        fprintf(stderr, "setup: %s\n", err);
        et_vision_models_free(*models);
        *models = NULL;
        return -1;
    }
    return 0;
}

void ts_vision_close(et_vision_models *models, et_vision_ctx *ctx)
{
    et_vision_ctx_free(ctx);
    et_vision_models_free(models);
}
