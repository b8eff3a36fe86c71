/* emotune serve on Redis (issue 11): a listener's session on a real
 * redis-server; two `emotune serve` processes (the binary under test) that
 * share one listener through it; and Redis stopped while requests come:
 * 503s with a JSON error, then full service again without restarting the
 * server, and nothing lost that was acknowledged. Real parts only: the
 * redis-server of tests/support.h (append-only file, fsync always), the
 * face-api demo pictures (sample2 is a sad face, sample1 a happy one), a
 * catalogue of links imported into the same store. Every wait is on an
 * event (a reply, a server's line of output, a PING answered), never on
 * the clock. */
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/core.h"
#include "library/library.h"
#include "listener/listener.h"
#include "mood/mood.h"
#include "nn/nn.h"
#include "server/server.h"
#include "store/store.h"
#include "http_support.h"
#include "support.h"

/* The catalogue: four links for each of these moods, by two artists each. */
static const char *const catalogue_moods[] = {"happy", "sad", "calm"};
#define N_TRACKS 12
/* The recommender's no-repeat window for a library of N_TRACKS (recommend.h:
 * min(ET_REC_WINDOW, n - 1)). */
#define WINDOW (N_TRACKS - 1)
/* The song length assumed for a link (listener.h), for a skip's fraction. */
#define LINK_SECONDS 240.0

/* One `emotune serve` process. */
typedef struct serve {
    pid_t pid; /* 0: not running */
    int port;
    FILE *out; /* its stdout, open while it runs */
} serve;

typedef struct world {
    ts_redis redis;
    char uri[128]; /* the store: Redis's database 0 */
    char *dir;     /* the catalogue's file */
    serve servers[2];
    et_server *inproc; /* a server in this process, when a test has one */
} world;

/* ---- the world: one redis-server for the group ---------------------------- */

static int group_setup(void **state)
{
    world *w = calloc(1, sizeof *w);
    if (!w || ts_redis_start(&w->redis) != 0) {
        if (w)
            ts_redis_cleanup(&w->redis);
        free(w);
        return -1;
    }
    snprintf(w->uri, sizeof w->uri, "redis://127.0.0.1:%d/0", w->redis.port);
    w->dir = ts_tempdir();
    *state = w;
    return 0;
}

static int group_teardown(void **state)
{
    world *w = *state;
    if (!w)
        return 0;
    ts_redis_cleanup(&w->redis);
    ts_rmtree(w->dir);
    free(w->dir);
    free(w);
    return 0;
}

static et_store *open_store(const world *w)
{
    et_store *st;
    char err[ET_ERR_MAX];
    if (et_store_open(w->uri, NULL, &st, err) != ET_OK)
        fail_msg("open %s: %s", w->uri, err);
    return st;
}

/* Writes the catalogue and imports it into the store, as `emotune import`
 * does. */
static void import_catalogue(const world *w)
{
    char path[600], err[ET_ERR_MAX];
    snprintf(path, sizeof path, "%s/links.csv", w->dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "url,title,artist,mood\n");
    for (int i = 0; i < N_TRACKS; i++) {
        const char *m = catalogue_moods[i / 4];
        fprintf(f, "https://example.org/%s%d,%s song %d,%s artist %d,%s\n", m, i, m, i, m,
                i % 2, m);
    }
    assert_int_equal(fclose(f), 0);
    et_store *st = open_store(w);
    et_import_report rep;
    if (et_library_import(st, path, NULL, &rep, err) != ET_OK)
        fail_msg("import: %s", err);
    assert_int_equal(rep.added, N_TRACKS);
    et_import_report_free(&rep);
    et_store_close(st);
}

/* Each test: an empty Redis (its redis-server running) and the catalogue. */
static int fresh(void **state)
{
    world *w = *state;
    if (!w->redis.pid && ts_redis_start(&w->redis) != 0)
        return -1;
    ts_redis_command(w->redis.port, "FLUSHALL");
    import_catalogue(w);
    return 0;
}

/* Stops what a failed test left running. */
static int stop_servers(void **state)
{
    world *w = *state;
    for (size_t i = 0; i < sizeof w->servers / sizeof *w->servers; i++)
        if (w->servers[i].pid) {
            kill(w->servers[i].pid, SIGKILL);
            waitpid(w->servers[i].pid, NULL, 0);
            fclose(w->servers[i].out);
            w->servers[i] = (serve){0};
        }
    et_server_stop(w->inproc);
    w->inproc = NULL;
    return 0;
}

/* ---- emotune serve processes ---------------------------------------------- */

/* Starts `emotune serve` (the binary under test) on a free loopback port
 * and the world's store; its port comes from the line it prints once it
 * listens. */
static void serve_start(const world *w, serve *s)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execl(ts_bin(), ts_bin(), "serve", "--listen", "127.0.0.1:0", "--store", w->uri,
              "--models", ts_models_dir(), "--threads", "2", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    *s = (serve){.pid = pid, .out = fdopen(fds[0], "r")};
    assert_non_null(s->out);
    static const char said[] = "listening on http://127.0.0.1:";
    char line[512];
    while (fgets(line, sizeof line, s->out)) {
        const char *at = strstr(line, said);
        if (at && sscanf(at + strlen(said), "%d", &s->port) == 1 && s->port > 0)
            return;
    }
    int status;
    waitpid(pid, &status, 0);
    fclose(s->out);
    *s = (serve){0};
    fail_msg("%s serve ended (wait status %d) before saying where it listens", ts_bin(),
             status);
}

/* Stops a server with sig; its wait status. */
static int serve_stop(serve *s, int sig)
{
    int status = 0;
    kill(s->pid, sig);
    waitpid(s->pid, &status, 0);
    fclose(s->out);
    *s = (serve){0};
    return status;
}

/* SIGTERM: it finishes its requests and exits 0 (the ASan build also finds
 * no leak then). */
static void serve_stop_cleanly(serve *s)
{
    int st = serve_stop(s, SIGTERM);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("emotune serve after SIGTERM: %s %d", WIFEXITED(st) ? "exit status" : "signal",
                 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

/* ---- requests ------------------------------------------------------------- */

static json_t *api(int port, const char *method, const char *body, int want, const char *fmt,
                   ...) __attribute__((format(printf, 5, 6)));

/* A request to the path (printf format) with a JSON body (NULL: none); fails
 * unless the status is `want`; the reply's JSON (caller frees). */
static json_t *api(int port, const char *method, const char *body, int want, const char *fmt,
                   ...)
{
    char path[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    int status;
    json_t *doc = ts_call_json(port, method, path, body, &status);
    if (status != want) {
        char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
        fail_msg("%s %s: status %d, expected %d: %.300s", method, path, status, want,
                 text ? text : "(not JSON)");
    }
    assert_non_null(doc);
    return doc;
}

/* A string member ("(none)" when absent, so comparisons fail cleanly). */
static const char *str(const json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? v : "(none)";
}

static const char *error_code(const json_t *doc)
{
    return str(json_object_get(doc, "error"), "code");
}

/* Posts frames of demo picture `sample` for `name`, a second apart from *t
 * on (moved on), until the camera's mood is named `want`, at most `most`
 * frames; the number of replies that say the mood went into the history. */
static int frames_until(int port, const char *name, int sample, double *t, const char *want,
                        int most)
{
    size_t len;
    char *jpeg = ts_read_demo(sample, &len), path[256];
    int recorded = 0;
    bool reached = false;
    for (int i = 0; i < most && !reached; i++) {
        *t += 1;
        snprintf(path, sizeof path, "/api/v1/listeners/%s/frames?t=%.0f", name, *t);
        ts_reply r = ts_http(port, "POST", path, "Content-Type: image/jpeg\r\n", jpeg, len);
        ts_check_reply(&r, 200);
        json_t *doc = json_loads(r.body, 0, NULL);
        assert_non_null(doc);
        recorded += json_is_true(json_object_get(doc, "recorded"));
        reached = !strcmp(str(json_object_get(doc, "mood"), "name"), want);
        json_decref(doc);
        ts_reply_free(&r);
    }
    free(jpeg);
    if (!reached)
        fail_msg("%s's mood is not %s after %d frames of sample%d", name, want, most, sample);
    return recorded;
}

/* The ids of a reply's queue appended to ids (each strdup'd), *n moved on. */
static void queue_ids(const json_t *next, char **ids, size_t *n, size_t cap)
{
    json_t *q = json_object_get(next, "queue");
    assert_true(json_array_size(q) > 0);
    for (size_t i = 0; i < json_array_size(q); i++) {
        assert_true(*n < cap);
        ids[(*n)++] = strdup(str(json_array_get(q, i), "id"));
    }
}

static void free_ids(char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
}

/* Fails when two of the ids are the same song. */
static void assert_all_different(char *const *ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (!strcmp(ids[i], ids[j]))
                fail_msg("song %s handed out twice (picks %zu and %zu of %zu)", ids[i], i, j,
                         n);
}

/* Every queued song is one of the catalogue's `mood` songs. */
static void assert_queue_of(const json_t *next, const char *mood)
{
    char want[64];
    snprintf(want, sizeof want, "%s song ", mood);
    json_t *q = json_object_get(next, "queue");
    for (size_t i = 0; i < json_array_size(q); i++) {
        const json_t *t = json_array_get(q, i);
        if (!strstr(str(t, "title"), want) || !strstr(str(t, "reason"), mood))
            fail_msg("a %s listener was given '%s' (%s)", mood, str(t, "title"), str(t, "reason"));
        assert_string_equal(str(t, "kind"), "link");
    }
}

/* ---- 1. one server: the session story on Redis ------------------------------ */

/* A listener's whole session through the API of a server on Redis: the
 * camera's frames become their mood (sad, then happy), the next songs
 * follow it, their feedback, history and profile are kept, and all of it
 * is in Redis for any other handle to read. */
static void a_listeners_session_runs_on_redis(void **state)
{
    world *w = *state;
    et_server_opts o = et_server_default_opts();
    o.listen = "127.0.0.1:0";
    o.store_uri = w->uri;
    o.models_dir = ts_models_dir();
    char err[ET_ERR_MAX];
    if (et_server_start(&o, &w->inproc, err) != ET_OK)
        fail_msg("start on %s: %s", w->uri, err);
    int port = et_server_port(w->inproc);
    json_t *h = api(port, "GET", NULL, 200, "/healthz");
    assert_string_equal(str(h, "store"), "redis");
    assert_int_equal(json_integer_value(json_object_get(h, "tracks")), N_TRACKS);
    json_decref(h);
    json_decref(api(port, "GET", NULL, 404, "/api/v1/listeners/ses/mood"));

    double t = 0;
    int recorded = frames_until(port, "ses", 2, &t, "sad", 20);
    assert_int_equal(recorded, 1); /* once, when it became sad */
    json_t *m = api(port, "GET", NULL, 200, "/api/v1/listeners/ses/mood");
    assert_string_equal(str(m, "name"), "sad");
    assert_true(json_is_true(json_object_get(m, "live")));
    json_decref(m);

    char *ids[8];
    size_t n_ids = 0;
    json_t *next = api(port, "GET", NULL, 200, "/api/v1/listeners/ses/next?count=3&seed=7");
    assert_string_equal(str(json_object_get(next, "mood"), "name"), "sad");
    assert_int_equal(json_integer_value(json_object_get(next, "library")), N_TRACKS);
    assert_int_equal(json_array_size(json_object_get(next, "queue")), 3);
    assert_queue_of(next, "sad");
    queue_ids(next, ids, &n_ids, 8);
    json_decref(next);

    char body[400];
    snprintf(body, sizeof body, "{\"track\":\"%s\",\"kind\":\"like\"}", ids[0]);
    json_t *fb = api(port, "POST", body, 200, "/api/v1/listeners/ses/feedback");
    assert_string_equal(str(fb, "mood"), "sad"); /* the camera's */
    assert_string_equal(str(fb, "track"), ids[0]);
    json_decref(fb);
    snprintf(body, sizeof body, "{\"track\":\"%s\",\"kind\":\"skip\",\"at\":60}", ids[1]);
    fb = api(port, "POST", body, 200, "/api/v1/listeners/ses/feedback");
    assert_true(json_number_value(json_object_get(fb, "fraction")) == 60 / LINK_SECONDS);
    json_decref(fb);

    recorded += frames_until(port, "ses", 1, &t, "happy", 40);
    next = api(port, "GET", NULL, 200, "/api/v1/listeners/ses/next?count=3&seed=8");
    assert_string_equal(str(json_object_get(next, "mood"), "name"), "happy");
    assert_queue_of(next, "happy");
    queue_ids(next, ids, &n_ids, 8);
    json_decref(next);
    assert_all_different(ids, n_ids);

    /* the history: what the frames said they recorded, newest first */
    json_t *hist = api(port, "GET", NULL, 200, "/api/v1/listeners/ses/history");
    json_t *moods = json_object_get(hist, "moods");
    assert_int_equal(json_array_size(moods), recorded);
    assert_true(recorded >= 2);
    assert_string_equal(str(json_array_get(moods, 0), "mood"), "happy");
    assert_string_equal(str(json_array_get(moods, (size_t)recorded - 1), "mood"), "sad");
    assert_string_equal(str(json_array_get(moods, 0), "source"), "face");
    json_decref(hist);

    json_t *p = api(port, "GET", NULL, 200, "/api/v1/listeners/ses/profile");
    assert_string_equal(str(p, "policy"), "match");
    assert_false(json_is_true(json_object_get(p, "stored")));
    json_decref(p);
    json_decref(api(port, "PUT", "{\"policy\":\"lift\",\"tau_s\":2}", 200,
                    "/api/v1/listeners/ses/profile"));
    p = api(port, "GET", NULL, 200, "/api/v1/listeners/ses/profile");
    assert_string_equal(str(p, "policy"), "lift");
    assert_true(json_number_value(json_object_get(p, "tau_s")) == 2);
    assert_true(json_is_true(json_object_get(p, "stored")));
    json_decref(p);

    /* all of it is in Redis, read through a handle of our own */
    et_store *st = open_store(w);
    et_listener_feedback *fbs;
    et_listener_queued_track *queued;
    et_listener_mood *hm;
    et_listener_profile prof;
    size_t n;
    assert_int_equal(et_listener_feedbacks(st, "ses", &fbs, &n, err), ET_OK);
    assert_int_equal(n, 2);
    assert_true(fbs[0].kind == ET_REC_LIKE && !strcmp(fbs[0].track, ids[0]));
    assert_true(fbs[1].kind == ET_REC_SKIP && fbs[1].at_s == 60 && !strcmp(fbs[1].track, ids[1]));
    free(fbs);
    assert_int_equal(et_listener_queued(st, "ses", &queued, &n, err), ET_OK);
    assert_int_equal(n, n_ids);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(queued[i].track, ids[i]);
    free(queued);
    assert_int_equal(et_listener_moods(st, "ses", &hm, &n, err), ET_OK);
    assert_int_equal(n, recorded);
    free(hm);
    assert_int_equal(et_listener_profile_load(st, "ses", &prof, err), ET_OK);
    assert_true(prof.stored && prof.policy == ET_REC_LIFT);
    et_store_close(st);
    free_ids(ids, n_ids);
    et_server_stop(w->inproc);
    w->inproc = NULL;
}

/* ---- 2. two servers, one Redis ------------------------------------------------ */

/* One client of the concurrent test: n feedback posts (marked by their
 * "at", base + i) and a next song every tenth, all through one server. */
typedef struct poster {
    int port;
    char *const *tracks;
    size_t n_tracks;
    int base, n;
    int feedback_ok, next_ok;
} poster;

static void *post_feedback(void *arg)
{
    poster *p = arg;
    char body[400];
    for (int i = 0; i < p->n; i++) {
        snprintf(body, sizeof body, "{\"track\":\"%s\",\"kind\":\"complete\",\"at\":%d}",
                 p->tracks[(size_t)i % p->n_tracks], p->base + i);
        ts_reply r = ts_http(p->port, "POST", "/api/v1/listeners/duo/feedback",
                             "Content-Type: application/json\r\n", body, strlen(body));
        p->feedback_ok += r.status == 200;
        ts_reply_free(&r);
        if (i % 10 == 9) {
            r = ts_http(p->port, "GET", "/api/v1/listeners/duo/next?count=1", "", NULL, 0);
            p->next_ok += r.status == 200;
            ts_reply_free(&r);
        }
    }
    return NULL;
}

/* Two `emotune serve` processes on one Redis share a listener: frames
 * posted to A make the mood B reads and recommends from; feedback given
 * on B changes A's next picks; songs handed out by either are not handed
 * out again by the other; feedback and next songs posted through both at
 * once are all kept; a server killed and started again picks up where the
 * listener was. */
static void two_servers_share_one_listener(void **state)
{
    world *w = *state;
    serve *a = &w->servers[0], *b = &w->servers[1];
    serve_start(w, a);
    serve_start(w, b);
    assert_int_not_equal(a->port, b->port);
    double t = 0;
    assert_int_equal(frames_until(a->port, "duo", 2, &t, "sad", 20), 1);

    /* B never saw a frame: the mood is the one A wrote to the history */
    json_t *m = api(b->port, "GET", NULL, 200, "/api/v1/listeners/duo/mood");
    assert_string_equal(str(m, "name"), "sad");
    assert_string_equal(str(m, "source"), "face");
    assert_false(json_is_true(json_object_get(m, "live")));
    json_decref(m);
    char *ids[2 * N_TRACKS];
    size_t n_ids = 0;
    json_t *next = api(b->port, "GET", NULL, 200, "/api/v1/listeners/duo/next?count=2&seed=7");
    assert_queue_of(next, "sad");
    queue_ids(next, ids, &n_ids, 2 * N_TRACKS);
    json_decref(next);

    /* feedback on B on the song A would pick next: A then picks another */
    const char *peek = "/api/v1/listeners/duo/next?count=1&seed=3&peek=1";
    next = api(a->port, "GET", NULL, 200, "%s", peek);
    queue_ids(next, ids, &n_ids, 2 * N_TRACKS);
    json_decref(next);
    char body[400];
    snprintf(body, sizeof body, "{\"track\":\"%s\",\"kind\":\"like\"}", ids[2]);
    json_t *fb = api(b->port, "POST", body, 200, "/api/v1/listeners/duo/feedback");
    assert_string_equal(str(fb, "mood"), "sad"); /* B's mood of the listener: the store's */
    json_decref(fb);
    next = api(a->port, "GET", NULL, 200, "%s", peek);
    assert_string_not_equal(str(json_array_get(json_object_get(next, "queue"), 0), "id"),
                            ids[2]);
    json_decref(next);

    /* next songs from A, B, A, B: every song handed out (or given feedback)
     * is new while the no-repeat window holds them all */
    for (int i = 0; n_ids + 2 <= WINDOW; i++) {
        next = api(i % 2 ? b->port : a->port, "GET", NULL, 200,
                   "/api/v1/listeners/duo/next?count=2");
        queue_ids(next, ids, &n_ids, 2 * N_TRACKS);
        json_decref(next);
    }
    assert_int_equal(n_ids, WINDOW);
    assert_all_different(ids, n_ids);

    /* both at once: 2 x 50 feedback posts and 2 x 5 next songs */
    poster p[2] = {{.port = a->port, .tracks = ids, .n_tracks = n_ids, .base = 1000, .n = 50},
                   {.port = b->port, .tracks = ids, .n_tracks = n_ids, .base = 2000, .n = 50}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, post_feedback, &p[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(p[i].feedback_ok, 50);
        assert_int_equal(p[i].next_ok, 5);
    }
    char err[ET_ERR_MAX];
    et_store *st = open_store(w);
    et_listener_feedback *fbs;
    et_listener_queued_track *queued;
    size_t n;
    assert_int_equal(et_listener_feedbacks(st, "duo", &fbs, &n, err), ET_OK);
    assert_int_equal(n, 1 + 100);
    int seen[2][50] = {{0}};
    for (size_t i = 0; i < n; i++) {
        int at = (int)fbs[i].at_s, k = at / 1000 - 1, j = at % 1000;
        if (fbs[i].kind == ET_REC_COMPLETE && k >= 0 && k < 2 && j < 50 && fbs[i].at_s == at)
            seen[k][j]++;
    }
    for (int k = 0; k < 2; k++)
        for (int j = 0; j < 50; j++)
            if (seen[k][j] != 1)
                fail_msg("feedback at %d through server %c is kept %d times", 1000 * (k + 1) + j,
                         "AB"[k], seen[k][j]);
    free(fbs);
    assert_int_equal(et_listener_queued(st, "duo", &queued, &n, err), ET_OK);
    assert_int_equal(n, (n_ids - 1) + 10); /* every song handed out but the peeked one */
    free(queued);
    et_store_close(st);

    /* A killed and started again: the listener's mood and history are there */
    json_t *before = api(b->port, "GET", NULL, 200, "/api/v1/listeners/duo/history");
    int killed = serve_stop(a, SIGKILL);
    assert_true(WIFSIGNALED(killed) && WTERMSIG(killed) == SIGKILL);
    serve_start(w, a);
    m = api(a->port, "GET", NULL, 200, "/api/v1/listeners/duo/mood");
    assert_string_equal(str(m, "name"), "sad");
    assert_false(json_is_true(json_object_get(m, "live")));
    json_decref(m);
    json_t *after = api(a->port, "GET", NULL, 200, "/api/v1/listeners/duo/history");
    assert_int_equal(json_array_size(json_object_get(after, "moods")), 1);
    assert_true(json_equal(before, after));
    json_decref(before);
    json_decref(after);
    next = api(a->port, "GET", NULL, 200, "/api/v1/listeners/duo/next?count=1");
    assert_string_equal(str(json_object_get(next, "mood"), "name"), "sad");
    json_decref(next);
    serve_stop_cleanly(a);
    serve_stop_cleanly(b);
    free_ids(ids, n_ids);
}

/* A profile saved through B reaches the camera on A, where the listener is
 * live: its smoothing from A's next frame (tau_s and hold_s so short that
 * the mood follows the face at once, where the defaults need five frames
 * or more to go from sad to happy), and its retention when A writes the
 * history (one mood kept). */
static void a_profile_saved_on_one_server_holds_on_the_other(void **state)
{
    world *w = *state;
    serve *a = &w->servers[0], *b = &w->servers[1];
    serve_start(w, a);
    serve_start(w, b);
    double t = 0;
    assert_int_equal(frames_until(a->port, "pro", 2, &t, "sad", 20), 1);
    json_decref(api(b->port, "PUT", "{\"tau_s\":0.05,\"hold_s\":0,\"history_max\":1}", 200,
                    "/api/v1/listeners/pro/profile"));
    assert_int_equal(frames_until(a->port, "pro", 1, &t, "happy", 3), 1);
    json_t *h = api(b->port, "GET", NULL, 200, "/api/v1/listeners/pro/history");
    json_t *moods = json_object_get(h, "moods");
    assert_int_equal(json_array_size(moods), 1);
    assert_string_equal(str(json_array_get(moods, 0), "mood"), "happy");
    json_decref(h);
    serve_stop_cleanly(a);
    serve_stop_cleanly(b);
}

/* ---- 3. Redis stopped and started while requests come --------------------- */

#define POUND_MAX 100000

/* A client that posts feedback (marked by "at": base + its number) until
 * told to stop, keeping every reply's status. */
typedef struct pounder {
    int port;
    const char *track;
    int base;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    bool stop;
    int started, done; /* requests sent, replies read */
    int wrong;         /* replies neither 200 nor 503 with code "unavailable" */
    char wrong_reply[300];
    int status[POUND_MAX];
} pounder;

static bool is_unavailable_error(const char *body)
{
    json_t *doc = json_loads(body, 0, NULL);
    bool is = !strcmp(error_code(doc), "unavailable");
    json_decref(doc);
    return is;
}

static void *pound(void *arg)
{
    pounder *p = arg;
    char body[400];
    for (;;) {
        pthread_mutex_lock(&p->lock);
        int k = p->started;
        bool go = !p->stop && k < POUND_MAX;
        p->started += go;
        pthread_mutex_unlock(&p->lock);
        if (!go)
            return NULL;
        snprintf(body, sizeof body, "{\"track\":\"%s\",\"kind\":\"skip\",\"at\":%d,\"mood\":"
                 "\"sad\"}", p->track, p->base + k);
        ts_reply r = ts_http(p->port, "POST", "/api/v1/listeners/out/feedback",
                             "Content-Type: application/json\r\n", body, strlen(body));
        bool fine = r.status == 200 || (r.status == 503 && is_unavailable_error(r.body));
        pthread_mutex_lock(&p->lock);
        p->status[k] = r.status;
        p->done++;
        if (!fine && !p->wrong++)
            snprintf(p->wrong_reply, sizeof p->wrong_reply, "%d %.250s", r.status, r.body);
        pthread_cond_broadcast(&p->changed);
        pthread_mutex_unlock(&p->lock);
        ts_reply_free(&r);
    }
}

/* Waits until the pounder has n replies; the number of requests it has
 * sent by then. */
static int wait_replies(pounder *p, int n)
{
    pthread_mutex_lock(&p->lock);
    while (p->done < n && p->started < POUND_MAX)
        pthread_cond_wait(&p->changed, &p->lock);
    int reached = p->done;
    pthread_mutex_unlock(&p->lock);
    if (reached < n)
        fail_msg("the client stopped at %d requests", POUND_MAX);
    return reached;
}

static int requests_sent(pounder *p)
{
    pthread_mutex_lock(&p->lock);
    int n = p->started;
    pthread_mutex_unlock(&p->lock);
    return n;
}

/* Fails unless the pounder's replies from..to-1 all had status want. */
static void assert_statuses(const pounder *p, int from, int to, int want, const char *when)
{
    for (int k = from; k < to; k++)
        if (p->status[k] != want)
            fail_msg("request %d, sent %s: status %d, expected %d", k, when, p->status[k], want);
}

/* Each route that needs the store answers 503 (code "unavailable") while
 * Redis is down, 200 once it is back. `round` names a listener this server
 * has not seen yet (its first frame needs the store for its profile). */
static void routes_answer(int port, bool redis_up, int round)
{
    size_t len;
    char *jpeg = ts_read_demo(2, &len);
    char newcomer[100];
    snprintf(newcomer, sizeof newcomer, "/api/v1/listeners/newcomer-%d/frames", round);
    const struct {
        const char *method, *path, *body;
    } routes[] = {
        {"GET", "/api/v1/listeners/out/history", NULL},
        {"GET", "/api/v1/listeners/out/profile", NULL},
        {"PUT", "/api/v1/listeners/out/profile", "{\"hold_s\":1}"}, /* refused: 503 */
        {"GET", "/api/v1/listeners/out/next?count=2", NULL},
        {"GET", "/api/v1/listeners/ghost/mood", NULL},
        {"POST", newcomer, NULL},
    };
    int want = redis_up ? 200 : 503;
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
        bool put = !strcmp(routes[i].method, "PUT"), picture = !strcmp(routes[i].method, "POST");
        if (put && redis_up)
            continue; /* the test checks later that the refused one changed nothing */
        ts_reply r = ts_http(port, routes[i].method, routes[i].path,
                             put ? "Content-Type: application/json\r\n" : "",
                             picture ? jpeg : routes[i].body,
                             picture ? len : routes[i].body ? strlen(routes[i].body) : 0);
        if (r.status != want)
            fail_msg("%s %s with Redis %s: status %d, expected %d: %.200s", routes[i].method,
                     routes[i].path, redis_up ? "back" : "down", r.status, want, r.body);
        ts_check_reply(&r, want);
        if (!redis_up && !is_unavailable_error(r.body))
            fail_msg("%s %s with Redis down: %.200s", routes[i].method, routes[i].path, r.body);
        ts_reply_free(&r);
    }
    /* /healthz says why; detection needs no store */
    json_t *h = api(port, "GET", NULL, redis_up ? 200 : 503, "/healthz");
    if (!redis_up) {
        assert_string_equal(error_code(h), "unavailable");
        assert_non_null(strstr(str(json_object_get(h, "error"), "message"), "store"));
    } else {
        assert_string_equal(str(h, "status"), "ok");
    }
    json_decref(h);
    ts_reply r = ts_http(port, "POST", "/api/v1/detect", "", jpeg, len);
    ts_check_reply(&r, 200);
    ts_reply_free(&r);
    free(jpeg);
}

/* One outage: Redis stopped with sig while a client posts feedback, then
 * started again. The replies are 200 before, 503 with a JSON error after
 * the stop, 200 for every request sent once Redis answers again, from the
 * same server process. Every acknowledged feedback is kept. */
static void outage(world *w, int port, const char *track, int sig, int base)
{
    pounder *p = calloc(1, sizeof *p);
    assert_non_null(p);
    *p = (pounder){.port = port, .track = track, .base = base};
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->changed, NULL);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, pound, p), 0);
    wait_replies(p, 5);
    assert_statuses(p, 0, 5, 200, "with Redis up");
    ts_redis_stop(&w->redis, sig);
    int down_from = requests_sent(p);
    routes_answer(port, false, base);
    /* the replies to requests sent after the stop, read before the start */
    int down_to = wait_replies(p, down_from + 3);
    assert_int_equal(ts_redis_start(&w->redis), 0); /* it answers PING */
    int up_from = requests_sent(p);
    wait_replies(p, up_from + 5);
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_mutex_unlock(&p->lock);
    pthread_join(th, NULL);
    if (p->wrong)
        fail_msg("%d replies neither 200 nor 503 'unavailable', the first: %s", p->wrong,
                 p->wrong_reply);
    assert_statuses(p, down_from, down_to, 503, "with Redis down");
    assert_statuses(p, up_from, p->done, 200, "once Redis was back");
    fprintf(stderr, "Redis stopped by signal %d: %d requests, %d of them while it was down\n",
            sig, p->done, down_to - down_from);
    routes_answer(port, true, base);

    /* every feedback acknowledged (200) is in the store */
    et_store *st = open_store(w);
    et_listener_feedback *fbs;
    size_t n;
    char err[ET_ERR_MAX];
    assert_int_equal(et_listener_feedbacks(st, "out", &fbs, &n, err), ET_OK);
    et_store_close(st);
    bool *kept = calloc((size_t)p->done, sizeof *kept);
    assert_non_null(kept);
    for (size_t i = 0; i < n; i++) {
        double k = fbs[i].at_s - base;
        if (k >= 0 && k < p->done && k == (int)k)
            kept[(int)k] = true;
    }
    for (int k = 0; k < p->done; k++)
        if (p->status[k] == 200 && !kept[k])
            fail_msg("feedback %d was acknowledged, then lost with Redis (signal %d)", k, sig);
    free(kept);
    free(fbs);
    pthread_cond_destroy(&p->changed);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

/* Redis killed (SIGKILL), then stopped cleanly (SIGTERM), each time while a
 * client posts feedback: the one server process answers 503 with a JSON
 * error on every route that needs the store and /healthz says why, and
 * once Redis is back it gives full service again by itself, with
 * everything it acknowledged (feedback, a profile) still there and the
 * change it refused not made; Redis killed and started again while no
 * request comes goes unnoticed. */
static void a_redis_outage_gives_503s_then_full_service(void **state)
{
    world *w = *state;
    serve *s = &w->servers[0];
    char err[ET_ERR_MAX];
    /* a mood in the store for "ghost", one for "out" from its camera */
    et_store *st = open_store(w);
    et_listener_profile ghost;
    assert_int_equal(et_listener_profile_default("ghost", &ghost, err), ET_OK);
    et_listener_mood gm = {.time = 1.79e9, .confidence = 0.9, .smiling = -1};
    assert_true(et_mood_named_point("sad", &gm.valence, &gm.arousal));
    snprintf(gm.mood, sizeof gm.mood, "sad");
    snprintf(gm.source, sizeof gm.source, "stated");
    assert_int_equal(et_listener_mood_add(st, &ghost, &gm, NULL, err), ET_OK);
    et_store_close(st);
    serve_start(w, s);
    double t = 0;
    frames_until(s->port, "out", 2, &t, "sad", 20);
    json_decref(api(s->port, "PUT", "{\"policy\":\"calm\"}", 200,
                    "/api/v1/listeners/out/profile"));
    json_t *next = api(s->port, "GET", NULL, 200, "/api/v1/listeners/out/next?count=1&peek=1");
    char track[ET_STORE_MAX_ID + 1];
    snprintf(track, sizeof track, "%s", str(json_array_get(json_object_get(next, "queue"), 0),
                                            "id"));
    json_decref(next);

    outage(w, s->port, track, SIGKILL, 10000);
    outage(w, s->port, track, SIGTERM, 20000);
    /* Redis killed and back between two requests: the workers' connections
     * are stale, yet the first requests on them are served */
    ts_redis_stop(&w->redis, SIGKILL);
    assert_int_equal(ts_redis_start(&w->redis), 0);
    routes_answer(s->port, true, 30000);

    json_t *p = api(s->port, "GET", NULL, 200, "/api/v1/listeners/out/profile");
    assert_string_equal(str(p, "policy"), "calm"); /* acknowledged: kept */
    assert_true(json_number_value(json_object_get(p, "hold_s")) != 1); /* refused: not made */
    json_decref(p);
    json_t *m = api(s->port, "GET", NULL, 200, "/api/v1/listeners/ghost/mood");
    assert_string_equal(str(m, "name"), "sad");
    json_decref(m);
    serve_stop_cleanly(s);
}

int main(void)
{
    et_nn_set_blas_threads(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_listeners_session_runs_on_redis, fresh, stop_servers),
        cmocka_unit_test_setup_teardown(two_servers_share_one_listener, fresh, stop_servers),
        cmocka_unit_test_setup_teardown(a_profile_saved_on_one_server_holds_on_the_other, fresh,
                                        stop_servers),
        cmocka_unit_test_setup_teardown(a_redis_outage_gives_503s_then_full_service, fresh,
                                        stop_servers),
    };
    return cmocka_run_group_tests_name("server on redis", tests, group_setup, group_teardown);
}
