/* The HTTP server (issue 11, first part) against real HTTP on a loopback
 * port: a real LMDB store in a temporary directory, the real models, the
 * face-api demo pictures; requests written byte by byte on a socket, so
 * malformed and oversized ones can be sent as an attacker would. */
#include <arpa/inet.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/core.h"
#include "listener/listener.h"
#include "mood/mood.h"
#include "nn/nn.h"
#include "server/server.h"
#include "http_support.h"
#include "support.h"

static et_server *start(ts_server_fixture *f, const char *listen, const char *token, size_t max_body,
                        et_status *st, char *err)
{
    et_server_opts o = et_server_default_opts();
    o.listen = listen;
    o.store_uri = f->store;
    o.models_dir = ts_models_dir();
    o.token = token;
    if (max_body)
        o.max_body = max_body;
    et_server *s = NULL;
    *st = et_server_start(&o, &s, err);
    return s;
}

/* Whether two JSON documents are the same but for numbers, which may differ
 * by rel (relative): the command prints 9 significant digits, the API 15. */
static bool json_close(json_t *a, json_t *b, double rel)
{
    if (json_is_number(a) && json_is_number(b)) {
        double x = json_number_value(a), y = json_number_value(b);
        return fabs(x - y) <= rel * (fabs(x) + fabs(y)) + 1e-12;
    }
    if (json_typeof(a) != json_typeof(b))
        return false;
    if (json_is_object(a)) {
        const char *k;
        json_t *v;
        if (json_object_size(a) != json_object_size(b))
            return false;
        json_object_foreach(a, k, v) if (!json_close(v, json_object_get(b, k), rel)) return false;
        return true;
    }
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b))
            return false;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!json_close(json_array_get(a, i), json_array_get(b, i), rel))
                return false;
        return true;
    }
    return json_equal(a, b);
}

/* The API's detect gives what `emotune detect --json` gives for the same
 * picture (whose parity with face-api test_parity proves). */
static void detect_gives_what_the_command_gives(void **state)
{
    ts_server_fixture *f = *state;
    for (int i = 1; i <= 6; i++) {
        size_t len;
        char *jpeg = ts_read_demo(i, &len);
        ts_reply r = ts_http(f->port, "POST", "/api/v1/detect", "Content-Type: image/jpeg\r\n",
                             jpeg, len);
        ts_check_reply(&r, 200);
        assert_string_equal(ts_header(&r, "Content-Type"), "application/json");
        char cmd[1024], *out;
        snprintf(cmd, sizeof cmd, "%s detect --json --models %s %s/sample%d.jpg", ts_bin(),
                 ts_models_dir(), ts_demo_dir(), i);
        assert_int_equal(ts_run(cmd, &out), 0);
        json_t *cli = json_loads(out, 0, NULL), *api = json_loads(r.body, 0, NULL);
        assert_non_null(cli);
        assert_non_null(api);
        json_object_del(cli, "image");
        if (!json_close(cli, api, 1e-8))
            fail_msg("sample%d: the API answers %.200s, the command %.200s", i, r.body, out);
        json_decref(cli);
        json_decref(api);
        free(out);
        free(jpeg);
        ts_reply_free(&r);
    }
}

/* What a client may get wrong gets its status and a JSON error. */
static void bad_requests_get_their_status_and_a_json_error(void **state)
{
    ts_server_fixture *f = *state;
    ts_reply r = ts_http(f->port, "GET", "/api/v1/nothing", "", NULL, 0);
    ts_check_reply(&r, 404);
    ts_reply_free(&r);
    r = ts_http(f->port, "DELETE", "/api/v1/detect", "", NULL, 0);
    ts_check_reply(&r, 405);
    assert_string_equal(ts_header(&r, "Allow"), "POST");
    ts_reply_free(&r);
    r = ts_http(f->port, "POST", "/healthz", "", "x", 1);
    ts_check_reply(&r, 405);
    assert_string_equal(ts_header(&r, "Allow"), "GET");
    ts_reply_free(&r);
    r = ts_http(f->port, "POST", "/api/v1/detect", "", NULL, 0); /* no picture */
    ts_check_reply(&r, 400);
    ts_reply_free(&r);
    const char text[] = "root:x:0:0:root:/root:/bin/bash\nthis is text, not a picture\n";
    r = ts_http(f->port, "POST", "/api/v1/detect", "Content-Type: image/jpeg\r\n", text,
             sizeof text - 1);
    ts_check_reply(&r, 415);
    ts_reply_free(&r);
    size_t len;
    char *jpeg = ts_read_demo(2, &len);
    r = ts_http(f->port, "POST", "/api/v1/detect", "", jpeg, len / 3); /* truncated */
    ts_check_reply(&r, 400);
    assert_non_null(strstr(r.body, "corrupt"));
    ts_reply_free(&r);
    free(jpeg);
    /* paths that try to leave: nothing but 404, never a file's content */
    const char *paths[] = {"/../../etc/passwd", "/api/v1/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
                           "/api/v1/..%2f..%2fetc/passwd", "/api/v1/detect%00.jpg",
                           "/%2e%2e/README.md", "/api/v1/openapi.json/../../../etc/passwd"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        r = ts_http(f->port, "GET", paths[i], "", NULL, 0);
        if (r.status != 404 && r.status != 400)
            fail_msg("%s: status %d", paths[i], r.status);
        ts_check_reply(&r, r.status);
        assert_null(strstr(r.body, "root:x:0:0"));
        assert_null(strstr(r.body, "# emotune"));
        ts_reply_free(&r);
    }
}

/* A 2 GB Content-Length is refused from the header: the reply comes though
 * not one byte of the body is sent (the socket's write side is shut). */
static void a_body_over_the_limit_is_refused_before_it_is_read(void **state)
{
    ts_server_fixture *f = *state;
    const char req[] = "POST /api/v1/detect HTTP/1.1\r\nHost: localhost\r\n"
                       "Content-Length: 2147483648\r\n\r\n";
    ts_reply r = ts_http_raw(f->port, req, sizeof req - 1);
    ts_check_reply(&r, 413);
    ts_reply_free(&r);
    /* chunked, so no length is declared: refused when it passes the limit */
    et_status st;
    char err[ET_ERR_MAX];
    et_server *small = start(f, "127.0.0.1:0", NULL, 4096, &st, err);
    assert_int_equal(st, ET_OK);
    size_t n = 20000;
    char *chunked = malloc(n + 256);
    int h = snprintf(chunked, 256, "POST /api/v1/detect HTTP/1.1\r\nHost: localhost\r\n"
                                   "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                                   "%zx\r\n", n);
    memset(chunked + h, 'a', n);
    memcpy(chunked + h + n, "\r\n0\r\n\r\n", 7);
    r = ts_http_raw(et_server_port(small), chunked, (size_t)h + n + 7);
    ts_check_reply(&r, 413);
    ts_reply_free(&r);
    free(chunked);
    /* the metrics count the refusals */
    r = ts_http(et_server_port(small), "GET", "/metrics", "", NULL, 0);
    ts_check_reply(&r, 200);
    assert_non_null(strstr(r.body, "emotune_bodies_refused_total 1"));
    ts_reply_free(&r);
    et_server_stop(small);
}

/* /healthz, /metrics and the OpenAPI document; every path of the document
 * is answered (not 404) with its method. */
static void health_metrics_and_every_documented_path_answer(void **state)
{
    ts_server_fixture *f = *state;
    ts_reply r = ts_http(f->port, "GET", "/healthz", "", NULL, 0);
    ts_check_reply(&r, 200);
    json_t *doc = json_loads(r.body, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(doc, "status")), "ok");
    assert_string_equal(json_string_value(json_object_get(doc, "store")), "lmdb");
    json_decref(doc);
    ts_reply_free(&r);
    r = ts_http(f->port, "GET", "/api/v1/openapi.json", "", NULL, 0);
    ts_check_reply(&r, 200);
    json_t *api = json_loads(r.body, 0, NULL);
    ts_reply_free(&r);
    assert_non_null(api);
    assert_string_equal(json_string_value(json_object_get(api, "openapi")), "3.0.3");
    const char *path;
    json_t *ops;
    size_t checked = 0, jpeg_len;
    char *jpeg = ts_read_demo(1, &jpeg_len);
    json_object_foreach(json_object_get(api, "paths"), path, ops) {
        const char *method;
        json_t *op;
        json_object_foreach(ops, method, op) {
            char upper[8] = "";
            for (size_t i = 0; method[i] && i < 7; i++)
                upper[i] = (char)(method[i] & ~0x20);
            bool post = !strcmp(upper, "POST");
            r = ts_http(f->port, upper, path, "", post ? jpeg : NULL, post ? jpeg_len : 0);
            if (r.status == 404 || r.status == 405)
                fail_msg("%s %s, in the OpenAPI document, answers %d", upper, path, r.status);
            ts_reply_free(&r);
            checked++;
        }
    }
    free(jpeg);
    json_decref(api);
    assert_true(checked >= 11);
    r = ts_http(f->port, "GET", "/metrics", "", NULL, 0);
    ts_check_reply(&r, 200);
    assert_non_null(strstr(ts_header(&r, "Content-Type"), "text/plain"));
    assert_non_null(
        strstr(r.body, "emotune_http_requests_total{method=\"GET\",route=\"/healthz\","
                       "status=\"200\"}"));
    const char *seen = strstr(r.body, "\nemotune_faces_seen_total ");
    assert_non_null(seen);
    assert_true(atol(seen + strlen("\nemotune_faces_seen_total ")) >= 3); /* sample1: 3 */
    ts_reply_free(&r);
}

/* With a token, every /api/ request needs it; /healthz and /metrics stay
 * open. A public address without a token, or a short token, is refused. */
static void a_token_guards_the_api(void **state)
{
    ts_server_fixture *f = *state;
    const char *token = "0123456789abcdef-secret";
    et_status st;
    char err[ET_ERR_MAX];
    et_server *s = start(f, "127.0.0.1:0", token, 0, &st, err);
    assert_int_equal(st, ET_OK);
    int port = et_server_port(s);
    ts_reply r = ts_http(port, "GET", "/api/v1/openapi.json", "", NULL, 0);
    ts_check_reply(&r, 401);
    assert_string_equal(ts_header(&r, "WWW-Authenticate"), "Bearer");
    ts_reply_free(&r);
    const char *wrong[] = {"Authorization: Bearer 0123456789abcdef-secreT\r\n",
                           "Authorization: Bearer 0123456789abcdef-secret2\r\n",
                           "Authorization: Bearer \r\n",
                           "Authorization: Basic 0123456789abcdef-secret\r\n"};
    for (size_t i = 0; i < sizeof wrong / sizeof *wrong; i++) {
        r = ts_http(port, "GET", "/api/v1/openapi.json", wrong[i], NULL, 0);
        ts_check_reply(&r, 401);
        ts_reply_free(&r);
    }
    r = ts_http(port, "GET", "/api/v1/openapi.json",
             "Authorization: Bearer 0123456789abcdef-secret\r\n", NULL, 0);
    ts_check_reply(&r, 200);
    ts_reply_free(&r);
    r = ts_http(port, "GET", "/healthz", "", NULL, 0);
    ts_check_reply(&r, 200);
    ts_reply_free(&r);
    /* the token in the query: for a track's audio and cover only (an <audio>
     * element cannot send a header); the track does not exist: 404 past the
     * token, 401 before it */
    const struct {
        const char *method, *path;
        int status;
    } query[] = {
        {"GET", "/api/v1/tracks/none/audio?access_token=0123456789abcdef-secret", 404},
        {"HEAD", "/api/v1/tracks/none/audio?access_token=0123456789abcdef-secret", 404},
        {"GET", "/api/v1/tracks/none/cover?access_token=0123456789abcdef-secret", 404},
        {"GET", "/api/v1/tracks/none/audio?access_token=0123456789abcdef-secreT", 401},
        {"GET", "/api/v1/tracks/none/audio", 401},
        {"GET", "/api/v1/tracks/none?access_token=0123456789abcdef-secret", 401},
        {"GET", "/api/v1/openapi.json?access_token=0123456789abcdef-secret", 401},
        {"GET", "/api/v1/listeners/x/mood?access_token=0123456789abcdef-secret", 401},
        {"POST", "/api/v1/tracks/none/audio?access_token=0123456789abcdef-secret", 401},
    };
    for (size_t i = 0; i < sizeof query / sizeof *query; i++) {
        r = ts_http(port, query[i].method, query[i].path, "", NULL, 0);
        if (r.status != query[i].status)
            fail_msg("%s %s: %d, expected %d", query[i].method, query[i].path, r.status,
                     query[i].status);
        if (strcmp(query[i].method, "HEAD") != 0)
            ts_check_reply(&r, query[i].status);
        ts_reply_free(&r);
    }
    et_server_stop(s);
    assert_null(start(f, "0.0.0.0:0", NULL, 0, &st, err));
    assert_int_equal(st, ET_E_INVALID);
    assert_non_null(strstr(err, "needs a token"));
    assert_null(start(f, "127.0.0.1:0", "short", 0, &st, err));
    assert_int_equal(st, ET_E_INVALID);
    assert_null(start(f, "localhost:80:1", NULL, 0, &st, err));
    assert_int_equal(st, ET_E_INVALID);
}

typedef struct client {
    int port;
    char *first; /* the first reply's body */
    int failures;
} client;

static void *post_pictures(void *arg)
{
    client *c = arg;
    size_t len;
    char path[512], err[ET_ERR_MAX];
    snprintf(path, sizeof path, "%s/sample5.jpg", ts_demo_dir());
    uint8_t *jpeg;
    if (et_read_file(path, 1 << 26, &jpeg, &len, err) != ET_OK)
        return c->failures = 1, NULL;
    for (int i = 0; i < 3; i++) {
        ts_reply r = ts_http(c->port, "POST", "/api/v1/detect", "", jpeg, len);
        if (r.status != 200 || (c->first && strcmp(c->first, r.body) != 0))
            c->failures++;
        if (!c->first)
            c->first = strdup(r.body);
        ts_reply_free(&r);
    }
    free(jpeg);
    return NULL;
}

/* Four clients at once on two workers: every answer is the same (each
 * worker thread has its own vision context). A second server in the same
 * process on the same LMDB store answers too (one environment, shared). */
static void clients_at_once_and_two_servers_in_one_process(void **state)
{
    ts_server_fixture *f = *state;
    client c[4] = {{0}};
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        c[i].port = f->port;
        assert_int_equal(pthread_create(&t[i], NULL, post_pictures, &c[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(c[i].failures, 0);
        assert_non_null(c[i].first);
        assert_string_equal(c[i].first, c[0].first);
    }
    for (int i = 0; i < 4; i++)
        free(c[i].first);
    et_status st;
    char err[ET_ERR_MAX];
    et_server *second = start(f, "127.0.0.1:0", NULL, 0, &st, err);
    assert_int_equal(st, ET_OK);
    assert_int_not_equal(et_server_port(second), f->port);
    ts_reply r = ts_http(et_server_port(second), "GET", "/healthz", "", NULL, 0);
    ts_check_reply(&r, 200);
    ts_reply_free(&r);
    et_server_stop(second);
    r = ts_http(f->port, "GET", "/healthz", "", NULL, 0); /* the first is unharmed */
    ts_check_reply(&r, 200);
    ts_reply_free(&r);
}

/* GET a listener's mood; its JSON (caller frees) and status. */
static json_t *get_mood(int port, const char *name, int *status)
{
    char path[200];
    snprintf(path, sizeof path, "/api/v1/listeners/%s/mood", name);
    return ts_call_json(port, "GET", path, NULL, status);
}

/* A listener's camera: frames of a sad face (face-api reads sample2 as sad,
 * 86%) become a mood whose confidence builds up frame after frame and whose
 * name, once sure, is sad; it goes into the history once (not at every
 * frame, nor while unknown); a server started afresh on the same store
 * finds it there. Another listener has no mood. */
static void camera_frames_become_the_listeners_mood(void **state)
{
    ts_server_fixture *f = *state;
    size_t len;
    char *jpeg = ts_read_demo(2, &len);
    double prev_conf = -1;
    int recorded = 0;
    const char *name = "";
    for (int i = 1; i <= 8; i++) {
        char path[200];
        snprintf(path, sizeof path, "/api/v1/listeners/cam.ann/frames?t=%d", 100 + i);
        ts_reply r = ts_http(f->port, "POST", path, "Content-Type: image/jpeg\r\n", jpeg, len);
        ts_check_reply(&r, 200);
        json_t *doc = json_loads(r.body, 0, NULL);
        json_t *mood = json_object_get(doc, "mood");
        assert_int_equal(json_array_size(json_object_get(doc, "faces")), 1);
        double conf = json_number_value(json_object_get(mood, "confidence"));
        assert_true(conf > prev_conf);
        prev_conf = conf;
        assert_true(json_is_true(json_object_get(mood, "has_face")));
        name = json_string_value(json_object_get(mood, "name"));
        assert_true(!strcmp(name, "unknown") || !strcmp(name, "sad"));
        recorded += json_is_true(json_object_get(doc, "recorded"));
        if (json_is_true(json_object_get(doc, "recorded")))
            assert_string_equal(name, "sad");
        json_decref(doc);
        ts_reply_free(&r);
    }
    free(jpeg);
    assert_int_equal(recorded, 1);
    int status;
    json_t *m = get_mood(f->port, "cam.ann", &status);
    assert_int_equal(status, 200);
    assert_string_equal(json_string_value(json_object_get(m, "name")), "sad");
    assert_string_equal(json_string_value(json_object_get(m, "source")), "face");
    json_decref(m);
    m = get_mood(f->port, "cam.bob", &status);
    assert_int_equal(status, 404);
    json_decref(m);
    /* the history holds it, once */
    et_store *st;
    char err[ET_ERR_MAX];
    assert_int_equal(et_store_open(f->store, NULL, &st, err), ET_OK);
    et_listener_mood *all;
    size_t n;
    assert_int_equal(et_listener_moods(st, "cam.ann", &all, &n, err), ET_OK);
    assert_int_equal(n, 1);
    assert_string_equal(all[0].mood, "sad");
    free(all);
    et_store_close(st);
    /* a server started afresh on the store knows it */
    et_status rc;
    et_server *again = start(f, "127.0.0.1:0", NULL, 0, &rc, err);
    assert_int_equal(rc, ET_OK);
    m = get_mood(et_server_port(again), "cam.ann", &status);
    assert_int_equal(status, 200);
    assert_string_equal(json_string_value(json_object_get(m, "name")), "sad");
    json_decref(m);
    et_server_stop(again);
}

/* Bad listener names and capture times: 400 with a JSON error, nothing
 * recorded. */
static void bad_listener_requests_are_refused(void **state)
{
    ts_server_fixture *f = *state;
    size_t len;
    char *jpeg = ts_read_demo(2, &len);
    const char *bad[] = {"/api/v1/listeners/.hidden/frames", "/api/v1/listeners/a%20b/frames",
                         "/api/v1/listeners/ok/frames?t=-1", "/api/v1/listeners/ok/frames?t=abc",
                         "/api/v1/listeners/ok/frames?t=nan"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ts_reply r = ts_http(f->port, "POST", bad[i], "", jpeg, len);
        if (r.status != 400)
            fail_msg("%s: status %d, expected 400", bad[i], r.status);
        ts_check_reply(&r, 400);
        ts_reply_free(&r);
    }
    free(jpeg);
    int status;
    json_t *m = get_mood(f->port, "ok", &status);
    assert_int_equal(status, 404);
    json_decref(m);
}

/* GET .../next; the reply's JSON (caller frees), its status in *status. */
static json_t *get_next(int port, const char *name, const char *query, int *status)
{
    char path[300];
    snprintf(path, sizeof path, "/api/v1/listeners/%s/next%s", name, query);
    return ts_call_json(port, "GET", path, NULL, status);
}

/* Posts eight frames of the sad face of sample2 for `name`. */
static void look_sad(int port, const char *name)
{
    size_t len;
    char *jpeg = ts_read_demo(2, &len);
    for (int i = 1; i <= 8; i++) {
        char path[200];
        snprintf(path, sizeof path, "/api/v1/listeners/%s/frames?t=%d", name, i);
        ts_reply r = ts_http(port, "POST", path, "", jpeg, len);
        ts_check_reply(&r, 200);
        ts_reply_free(&r);
    }
    free(jpeg);
}

/* The next songs follow the camera's mood: a sad face gets the songs the
 * catalogue labels sad, each with its reason; two requests in a row (as
 * from two servers: each records what it handed out) do not repeat a song;
 * peek=1 with one seed gives one queue twice; bad parameters are 400 and a
 * listener without a mood 404. */
static void next_songs_follow_the_mood_and_do_not_repeat(void **state)
{
    ts_server_fixture *f = *state;
    char csv[600], cmd[1400], *out;
    snprintf(csv, sizeof csv, "%s/links.csv", f->dir);
    FILE *fp = fopen(csv, "w");
    assert_non_null(fp);
    fprintf(fp, "url,title,artist,mood\n");
    const char *moods[] = {"happy", "sad", "calm"};
    for (int i = 0; i < 12; i++)
        fprintf(fp, "https://example.org/%s%d,%s song %d,%s artist %d,%s\n", moods[i / 4], i,
                moods[i / 4], i, moods[i / 4], i % 2, moods[i / 4]);
    fclose(fp);
    snprintf(cmd, sizeof cmd, "%s import --store %s %s", ts_bin(), f->store, csv);
    assert_int_equal(ts_run(cmd, &out), 0);
    free(out);
    int status;
    json_t *none = get_next(f->port, "nobody", "", &status);
    assert_int_equal(status, 404);
    json_decref(none);
    look_sad(f->port, "nx");
    json_t *q1 = get_next(f->port, "nx", "?count=3&seed=7", &status);
    assert_int_equal(status, 200);
    assert_string_equal(json_string_value(json_object_get(json_object_get(q1, "mood"), "name")),
                        "sad");
    json_t *queue = json_object_get(q1, "queue");
    assert_int_equal(json_array_size(queue), 3);
    for (size_t i = 0; i < 3; i++) {
        json_t *t = json_array_get(queue, i);
        assert_non_null(strstr(json_string_value(json_object_get(t, "title")), "sad song"));
        assert_non_null(strstr(json_string_value(json_object_get(t, "reason")), "sad"));
        assert_string_equal(json_string_value(json_object_get(t, "kind")), "link");
    }
    json_t *q2 = get_next(f->port, "nx", "?count=3&seed=7", &status);
    assert_int_equal(status, 200);
    json_t *queue2 = json_object_get(q2, "queue");
    for (size_t i = 0; i < json_array_size(queue2); i++)
        for (size_t j = 0; j < 3; j++)
            assert_string_not_equal(
                json_string_value(json_object_get(json_array_get(queue2, i), "id")),
                json_string_value(json_object_get(json_array_get(queue, j), "id")));
    json_decref(q1);
    json_decref(q2);
    json_t *p1 = get_next(f->port, "nx", "?count=4&seed=5&peek=1", &status);
    json_t *p2 = get_next(f->port, "nx", "?count=4&seed=5&peek=1", &status);
    assert_true(json_equal(json_object_get(p1, "queue"), json_object_get(p2, "queue")));
    json_decref(p1);
    json_decref(p2);
    const char *bad[] = {"?count=0", "?count=101", "?count=2.5", "?policy=loud", "?peek=2",
                         "?seed=-1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *b = get_next(f->port, "nx", bad[i], &status);
        if (status != 400)
            fail_msg("next%s: status %d, expected 400", bad[i], status);
        json_decref(b);
    }
}

/* POST .../feedback with a JSON body; the reply's status, body JSON in *doc
 * (caller frees; NULL not wanted). */
static int post_feedback(int port, const char *name, const char *body, json_t **doc)
{
    char path[200];
    snprintf(path, sizeof path, "/api/v1/listeners/%s/feedback", name);
    ts_reply r =
        ts_http(port, "POST", path, "Content-Type: application/json\r\n", body, strlen(body));
    ts_check_reply(&r, r.status);
    int status = r.status;
    if (doc)
        *doc = json_loads(r.body, 0, NULL);
    ts_reply_free(&r);
    return status;
}

/* Feedback in the current mood (the camera's) or one stated, kept in the
 * store; every malformed body is 400 and records nothing; an unknown track
 * 404. */
static void feedback_is_kept_and_bad_bodies_are_refused(void **state)
{
    ts_server_fixture *f = *state;
    look_sad(f->port, "fb");
    int status;
    json_t *q = get_next(f->port, "fb", "?count=1&peek=1", &status);
    assert_int_equal(status, 200);
    char track[200], body[400];
    snprintf(track, sizeof track, "%s",
             json_string_value(json_object_get(json_array_get(json_object_get(q, "queue"), 0),
                                               "id")));
    json_decref(q);
    json_t *doc;
    snprintf(body, sizeof body, "{\"track\":\"%s\",\"kind\":\"like\"}", track);
    assert_int_equal(post_feedback(f->port, "fb", body, &doc), 200);
    assert_string_equal(json_string_value(json_object_get(doc, "mood")), "sad");
    assert_string_equal(json_string_value(json_object_get(doc, "kind")), "like");
    json_decref(doc);
    snprintf(body, sizeof body,
             "{\"track\":\"%s\",\"kind\":\"skip\",\"at\":12,\"mood\":\"Neutral\"}",
             track);
    assert_int_equal(post_feedback(f->port, "fb", body, &doc), 200);
    assert_string_equal(json_string_value(json_object_get(doc, "mood")), "calm");
    json_decref(doc);
    /* malformed: nothing more is recorded */
    char deep[5000] = "";
    for (int i = 0; i < 2400; i++)
        strcat(deep, "[");
    const char *bad[] = {"", "{", "[1,2]", "\"like\"", "{\"track\":\"x\"}",
                         "{\"kind\":\"like\"}", "{\"track\":\"../etc/passwd\",\"kind\":\"like\"}",
                         "{\"track\":\"a\",\"kind\":\"love\"}",
                         "{\"track\":\"a\",\"kind\":\"skip\",\"at\":-3}",
                         "{\"track\":\"a\",\"kind\":\"skip\",\"at\":\"soon\"}",
                         "{\"track\":\"a\",\"kind\":\"like\",\"mood\":\"glad\"}",
                         "{\"track\":\"a\",\"kind\":\"like\",\"track\":\"b\"}", deep};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int st = post_feedback(f->port, "fb", bad[i], NULL);
        if (st != 400)
            fail_msg("body %.60s: status %d, expected 400", bad[i], st);
    }
    assert_int_equal(post_feedback(f->port, "fb", "{\"track\":\"no-such\",\"kind\":\"like\"}",
                                   NULL),
                     404);
    assert_int_equal(post_feedback(f->port, "nomood", "{\"track\":\"a\",\"kind\":\"like\"}",
                                   NULL),
                     400);
    et_store *st;
    char err[ET_ERR_MAX];
    assert_int_equal(et_store_open(f->store, NULL, &st, err), ET_OK);
    et_listener_feedback *all;
    size_t n;
    assert_int_equal(et_listener_feedbacks(st, "fb", &all, &n, err), ET_OK);
    assert_int_equal(n, 2);
    assert_string_equal(all[0].track, track);
    assert_true(all[1].kind == ET_REC_SKIP && all[1].at_s == 12);
    free(all);
    et_store_close(st);
}


/* The profile: defaults, then settings changed and kept (the others too),
 * bad ones refused with the profile unchanged; the history newest first, a
 * page at a time. */
static void profile_and_history_over_http(void **state)
{
    ts_server_fixture *f = *state;
    int st;
    json_t *p = ts_call_json(f->port, "GET", "/api/v1/listeners/pro/profile", NULL, &st);
    assert_int_equal(st, 200);
    assert_string_equal(json_string_value(json_object_get(p, "policy")), "match");
    assert_false(json_is_true(json_object_get(p, "stored")));
    json_decref(p);
    p = ts_call_json(f->port, "PUT", "/api/v1/listeners/pro/profile",
                  "{\"policy\":\"calm\",\"history_max\":3}", &st);
    assert_int_equal(st, 200);
    json_decref(p);
    const char *bad[] = {"{\"policy\":\"loud\"}", "{\"tau_s\":-1}", "{\"tau_s\":\"slow\"}",
                         "{\"history_max\":2.5}", "{\"colour\":\"blue\"}", "[]", "{"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *b = ts_call_json(f->port, "PUT", "/api/v1/listeners/pro/profile", bad[i], &st);
        if (st != 400)
            fail_msg("PUT profile %s: status %d, expected 400", bad[i], st);
        json_decref(b);
    }
    p = ts_call_json(f->port, "GET", "/api/v1/listeners/pro/profile", NULL, &st);
    assert_string_equal(json_string_value(json_object_get(p, "policy")), "calm");
    assert_int_equal(json_integer_value(json_object_get(p, "history_max")), 3);
    assert_true(json_number_value(json_object_get(p, "tau_s")) == 3.0); /* kept */
    assert_true(json_is_true(json_object_get(p, "stored")));
    json_decref(p);
    ts_reply r = ts_http(f->port, "DELETE", "/api/v1/listeners/pro/profile", "", NULL, 0);
    ts_check_reply(&r, 405);
    assert_string_equal(ts_header(&r, "Allow"), "GET, PUT");
    ts_reply_free(&r);
    /* five moods written; the profile keeps three; pages of two */
    et_store *s;
    char err[ET_ERR_MAX];
    assert_int_equal(et_store_open(f->store, NULL, &s, err), ET_OK);
    et_listener_profile prof;
    assert_int_equal(et_listener_profile_load(s, "pro", &prof, err), ET_OK);
    const char *names[] = {"happy", "calm", "sad", "angry", "tense"};
    for (int i = 0; i < 5; i++) {
        et_listener_mood m = {.time = 1.79e9 + i, .confidence = 0.8, .smiling = -1};
        assert_true(et_mood_named_point(names[i], &m.valence, &m.arousal));
        snprintf(m.mood, sizeof m.mood, "%s", names[i]);
        snprintf(m.source, sizeof m.source, "stated");
        assert_int_equal(et_listener_mood_add(s, &prof, &m, NULL, err), ET_OK);
    }
    et_store_close(s);
    json_t *h = ts_call_json(f->port, "GET", "/api/v1/listeners/pro/history?limit=2", NULL, &st);
    assert_int_equal(st, 200);
    json_t *moods = json_object_get(h, "moods");
    assert_int_equal(json_array_size(moods), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(moods, 0), "mood")),
                        "tense");
    assert_string_equal(json_string_value(json_object_get(json_array_get(moods, 1), "mood")),
                        "angry");
    char path[200];
    assert_true(json_is_number(json_object_get(h, "next_before")));
    snprintf(path, sizeof path, "/api/v1/listeners/pro/history?limit=2&before=%.3f",
             json_number_value(json_object_get(h, "next_before")));
    json_decref(h);
    h = ts_call_json(f->port, "GET", path, NULL, &st);
    moods = json_object_get(h, "moods");
    assert_int_equal(json_array_size(moods), 1); /* three kept: sad is the last */
    assert_string_equal(json_string_value(json_object_get(json_array_get(moods, 0), "mood")),
                        "sad");
    assert_true(json_is_null(json_object_get(h, "next_before")));
    json_decref(h);
    const char *badq[] = {"?limit=0", "?limit=1001", "?limit=x", "?before=-5", "?before=soon"};
    for (size_t i = 0; i < sizeof badq / sizeof *badq; i++) {
        snprintf(path, sizeof path, "/api/v1/listeners/pro/history%s", badq[i]);
        json_t *b = ts_call_json(f->port, "GET", path, NULL, &st);
        if (st != 400)
            fail_msg("history%s: status %d, expected 400", badq[i], st);
        json_decref(b);
    }
}

int main(void)
{
    /* As emotune's main does: one inference per thread (and the same sums
     * as the command's, which test_parity holds to face-api). */
    et_nn_set_blas_threads(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(detect_gives_what_the_command_gives),
        cmocka_unit_test(bad_requests_get_their_status_and_a_json_error),
        cmocka_unit_test(a_body_over_the_limit_is_refused_before_it_is_read),
        cmocka_unit_test(health_metrics_and_every_documented_path_answer),
        cmocka_unit_test(a_token_guards_the_api),
        cmocka_unit_test(clients_at_once_and_two_servers_in_one_process),
        cmocka_unit_test(camera_frames_become_the_listeners_mood),
        cmocka_unit_test(bad_listener_requests_are_refused),
        cmocka_unit_test(next_songs_follow_the_mood_and_do_not_repeat),
        cmocka_unit_test(feedback_is_kept_and_bad_bodies_are_refused),
        cmocka_unit_test(profile_and_history_over_http),
    };
    return cmocka_run_group_tests_name("server", tests, ts_server_setup, ts_server_teardown);
}
