/* Who the server answers (issue 23): without a token only requests that
 * name this machine (Host: localhost, 127.x.y.z, [::1]) and carry no other
 * page's Origin; JSON bodies typed application/json and pictures typed as
 * pictures (415 otherwise); with a token any Host (the LAN's names) but
 * still no other page's Origin, and /metrics behind the token unless made
 * public; the scan's progress without the server's paths when there is no
 * token; and a flood of frames under new names that do not decode leaves no
 * listener behind, while old listeners give way to new ones. Real HTTP on
 * loopback, a real LMDB store. */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "nn/nn.h"
#include "server/server.h"
#include "http_support.h"
#include "support.h"

#define TOKEN "a-token-of-twenty-chars"

typedef struct fixture {
    char *dir;
    char store[600], music[600];
    et_server *s;
    int port;
    double now; /* the server's clock, moved by hand */
} fixture;

static double manual_clock(void *ctx) { return ((fixture *)ctx)->now; }

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = ts_tempdir();
    snprintf(f->store, sizeof f->store, "lmdb:%s/store", f->dir);
    snprintf(f->music, sizeof f->music, "%s/music", f->dir);
    ts_sh("mkdir -p '%s'", f->music);
    f->now = 1000;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    et_server_stop(f->s);
    ts_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static void start(fixture *f, const char *token, bool metrics_public, unsigned max_listeners)
{
    et_server_opts o = et_server_default_opts();
    o.listen = "127.0.0.1:0";
    o.store_uri = f->store;
    o.models_dir = ts_models_dir();
    o.token = token;
    o.metrics_public = metrics_public;
    o.frames_per_s = 0;
    o.clock = manual_clock;
    o.clock_ctx = f;
    const char *dirs[] = {f->music};
    o.music_dirs = dirs;
    o.n_music_dirs = 1;
    if (max_listeners)
        o.max_listeners = max_listeners;
    o.listener_idle_s = 60;
    char err[ET_ERR_MAX];
    if (et_server_start(&o, &f->s, err) != ET_OK)
        fail_msg("the server does not start: %s", err);
    f->port = et_server_port(f->s);
}

/* A request with its own Host (NULL: localhost:PORT) and header lines. */
static ts_reply call(fixture *f, const char *method, const char *path, const char *host,
                     const char *headers, const void *body, size_t len)
{
    char own[128];
    if (!host) {
        snprintf(own, sizeof own, "localhost:%d", f->port);
        host = own;
    }
    return ts_http_host(f->port, host, method, path, headers, body, len);
}

/* The feedback posted: on the one track, imported by start(). */
static char FEEDBACK[200];

/* A catalogue of one link, imported; FEEDBACK names it. */
static void import_one(fixture *f, const char *auth)
{
    const char csv[] = "url,title,artist,mood\nhttps://example.org/a,Alpha,One,happy\n";
    ts_reply r = call(f, "POST", "/api/v1/library/import", NULL, auth, csv, sizeof csv - 1);
    ts_check_reply(&r, 200);
    ts_reply_free(&r);
    r = call(f, "GET", "/api/v1/tracks", NULL, auth, "", 0);
    ts_check_reply(&r, 200);
    json_t *doc = json_loads(r.body, 0, NULL);
    const char *id = json_string_value(
        json_object_get(json_array_get(json_object_get(doc, "tracks"), 0), "id"));
    assert_non_null(id);
    snprintf(FEEDBACK, sizeof FEEDBACK, "{\"track\": \"%s\", \"kind\": \"like\", "
                                        "\"mood\": \"calm\"}", id);
    json_decref(doc);
    ts_reply_free(&r);
}

/* The number of feedback entries of listener ann (read the proper way). */
static size_t feedback_count(fixture *f, const char *auth)
{
    ts_reply r = call(f, "GET", "/api/v1/listeners/ann/feedback?limit=100", NULL, auth, "", 0);
    ts_check_reply(&r, 200);
    json_t *doc = json_loads(r.body, 0, NULL);
    assert_non_null(doc);
    size_t n = json_array_size(json_object_get(doc, "feedback"));
    json_decref(doc);
    ts_reply_free(&r);
    return n;
}

static void expect(fixture *f, const char *method, const char *path, const char *host,
                   const char *headers, const char *body, int want)
{
    ts_reply r = call(f, method, path, host, headers, body, body ? strlen(body) : 0);
    if (r.status != want)
        fail_msg("%s %s (Host %s, %s): %d, expected %d: %.300s", method, path,
                 host ? host : "localhost:PORT", headers, r.status, want, r.body);
    ts_check_reply(&r, want);
    ts_reply_free(&r);
}

/* ---- Host and Origin without a token ------------------------------------ */

static void without_a_token_only_this_machine_is_answered(void **state)
{
    fixture *f = *state;
    start(f, NULL, false, 0);
    import_one(f, "");
    char host[64];
    const char *good[] = {"localhost:%d", "LOCALHOST:%d", "127.0.0.1:%d", "127.1.2.3:%d",
                          "[::1]:%d", "localhost"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        snprintf(host, sizeof host, good[i], f->port);
        expect(f, "GET", "/healthz", host, "", NULL, 200);
    }
    const char *bad[] = {"evil.example:%d", "localhost:%d1", "127.0.0.1.evil.example:%d",
                         "128.0.0.1:%d", "127.0.0.256:%d", "localhost.evil:%d", "[::2]:%d",
                         "10.0.0.1:%d", "127.0.0.1:", "0177.0.0.1:%d", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(host, sizeof host, bad[i], f->port);
        expect(f, "GET", "/healthz", host, "", NULL, 403);
        expect(f, "GET", "/api/v1/listeners/ann/feedback", host, "", NULL, 403);
        expect(f, "GET", "/", host, "", NULL, 403);
    }
    /* a DNS-rebinding page's write: refused, and nothing stored */
    snprintf(host, sizeof host, "evil.example:%d", f->port);
    expect(f, "POST", "/api/v1/listeners/ann/feedback", host,
           "Origin: http://evil.example\r\nContent-Type: application/json\r\n", FEEDBACK, 403);
    assert_int_equal(feedback_count(f, ""), 0);
    /* another page's write to the right Host: refused too */
    expect(f, "POST", "/api/v1/listeners/ann/feedback", NULL,
           "Origin: http://evil.example\r\nContent-Type: application/json\r\n", FEEDBACK, 403);
    expect(f, "POST", "/api/v1/listeners/ann/feedback", NULL,
           "Origin: null\r\nContent-Type: application/json\r\n", FEEDBACK, 403);
    char origin[128];
    snprintf(origin, sizeof origin, "Origin: http://localhost:%d1\r\n"
                                    "Content-Type: application/json\r\n", f->port);
    expect(f, "POST", "/api/v1/listeners/ann/feedback", NULL, origin, FEEDBACK, 403);
    assert_int_equal(feedback_count(f, ""), 0);
    /* the page's own origin passes, and so does curl (no Origin) */
    snprintf(origin, sizeof origin, "Origin: http://localhost:%d\r\n"
                                    "Content-Type: application/json\r\n", f->port);
    expect(f, "POST", "/api/v1/listeners/ann/feedback", NULL, origin, FEEDBACK, 200);
    expect(f, "POST", "/api/v1/listeners/ann/feedback", NULL,
           "Content-Type: application/json\r\n", FEEDBACK, 200);
    assert_int_equal(feedback_count(f, ""), 2);
}

/* ---- the bodies' types --------------------------------------------------- */

static void bodies_must_be_of_their_routes_type(void **state)
{
    fixture *f = *state;
    start(f, NULL, false, 0);
    import_one(f, "");
    const char *not_json[] = {"", "Content-Type: text/plain\r\n",
                              "Content-Type: application/x-www-form-urlencoded\r\n",
                              "Content-Type: multipart/form-data; boundary=x\r\n",
                              "Content-Type: application/jsonp\r\n"};
    for (size_t i = 0; i < sizeof not_json / sizeof *not_json; i++) {
        expect(f, "POST", "/api/v1/listeners/ann/feedback", NULL, not_json[i], FEEDBACK, 415);
        expect(f, "PUT", "/api/v1/listeners/ann/profile", NULL, not_json[i],
               "{\"tau_s\": 3}", 415);
        expect(f, "PUT", "/api/v1/listeners/ann/mood", NULL, not_json[i],
               "{\"mood\": \"calm\"}", 415);
    }
    assert_int_equal(feedback_count(f, ""), 0);
    expect(f, "POST", "/api/v1/listeners/ann/feedback", NULL,
           "Content-Type: Application/JSON; charset=utf-8\r\n", FEEDBACK, 200);
    assert_int_equal(feedback_count(f, ""), 1);
    /* pictures: an image type, or none (curl -T, tools); never a form's */
    size_t len;
    char *jpeg = ts_read_demo(1, &len);
    const char *not_image[] = {"Content-Type: text/plain\r\n",
                               "Content-Type: application/x-www-form-urlencoded\r\n",
                               "Content-Type: multipart/form-data; boundary=x\r\n",
                               "Content-Type: application/json\r\n", "Content-Type: image\r\n"};
    for (size_t i = 0; i < sizeof not_image / sizeof *not_image; i++) {
        ts_reply r = call(f, "POST", "/api/v1/detect", NULL, not_image[i], jpeg, len);
        ts_check_reply(&r, 415);
        ts_reply_free(&r);
        r = call(f, "POST", "/api/v1/listeners/ann/frames", NULL, not_image[i], jpeg, len);
        ts_check_reply(&r, 415);
        ts_reply_free(&r);
    }
    const char *image[] = {"Content-Type: image/jpeg\r\n", "", "Content-Type: IMAGE/JPEG\r\n"};
    for (size_t i = 0; i < sizeof image / sizeof *image; i++) {
        ts_reply r = call(f, "POST", "/api/v1/detect", NULL, image[i], jpeg, len);
        ts_check_reply(&r, 200);
        ts_reply_free(&r);
    }
    free(jpeg);
}

/* ---- with a token ------------------------------------------------------- */

static void with_a_token_any_host_but_no_other_pages_origin(void **state)
{
    fixture *f = *state;
    start(f, TOKEN, false, 0);
    const char *auth = "Authorization: Bearer " TOKEN "\r\n";
    import_one(f, auth);
    char host[64], lines[512];
    snprintf(host, sizeof host, "music-box.lan:%d", f->port); /* the LAN's name of it */
    expect(f, "GET", "/api/v1/listeners/ann/feedback", host, auth, NULL, 200);
    snprintf(lines, sizeof lines, "%sOrigin: http://music-box.lan:%d\r\n"
                                  "Content-Type: application/json\r\n", auth, f->port);
    expect(f, "POST", "/api/v1/listeners/ann/feedback", host, lines, FEEDBACK, 200);
    snprintf(lines, sizeof lines, "%sOrigin: http://evil.example\r\n"
                                  "Content-Type: application/json\r\n", auth);
    expect(f, "POST", "/api/v1/listeners/ann/feedback", host, lines, FEEDBACK, 403);
    expect(f, "GET", "/api/v1/listeners/ann/feedback", host, "", NULL, 401);
    assert_int_equal(feedback_count(f, auth), 1);
    /* /metrics wants the token */
    expect(f, "GET", "/metrics", NULL, "", NULL, 401);
    expect(f, "GET", "/metrics", NULL, auth, NULL, 200);
    expect(f, "GET", "/healthz", NULL, "", NULL, 200);
}

static void metrics_may_be_made_public(void **state)
{
    fixture *f = *state;
    start(f, TOKEN, true, 0);
    expect(f, "GET", "/metrics", NULL, "", NULL, 200);
    expect(f, "GET", "/api/v1/library/scan", NULL, "", NULL, 401);
}

/* ---- the scan's paths ---------------------------------------------------- */

static json_t *scan_progress(fixture *f, const char *auth)
{
    ts_reply r = call(f, "GET", "/api/v1/library/scan", NULL, auth, "", 0);
    ts_check_reply(&r, 200);
    json_t *doc = json_loads(r.body, 0, NULL);
    assert_non_null(doc);
    if (!*auth && strstr(r.body, f->dir))
        fail_msg("the scan's progress shows the server's path %s: %s", f->dir, r.body);
    ts_reply_free(&r);
    return doc;
}

static void the_scan_shows_no_path_of_the_server_without_a_token(void **state)
{
    fixture *f = *state;
    ts_sh("printf 'not audio' > '%s/bad.mp3'", f->music);
    start(f, NULL, false, 0);
    json_t *p;
    do { /* the first scan runs in the background; wait for its end */
        p = scan_progress(f, "");
        const char *st = json_string_value(json_object_get(p, "state"));
        if (strcmp(st, "running") != 0)
            break;
        json_decref(p);
    } while (1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(p, "folders"), 0)),
                        "music");
    json_t *failures = json_object_get(p, "failures");
    assert_int_equal(json_array_size(failures), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(failures, 0), "path")),
                        "music/bad.mp3");
    json_decref(p);
    et_server_stop(f->s);
    f->s = NULL;
    start(f, TOKEN, false, 0); /* with a token: the paths as they are */
    p = scan_progress(f, "Authorization: Bearer " TOKEN "\r\n");
    assert_string_equal(json_string_value(json_array_get(json_object_get(p, "folders"), 0)),
                        f->music);
    json_decref(p);
}

/* ---- listeners ------------------------------------------------------------ */

static long listeners_live(fixture *f)
{
    ts_reply r = call(f, "GET", "/metrics", NULL, "", "", 0);
    ts_check_reply(&r, 200);
    const char *line = strstr(r.body, "\nemotune_listeners_live ");
    assert_non_null(line);
    long n = strtol(line + strlen("\nemotune_listeners_live "), NULL, 10);
    ts_reply_free(&r);
    return n;
}

static int post_frame(fixture *f, const char *name, const void *body, size_t len)
{
    char path[200];
    snprintf(path, sizeof path, "/api/v1/listeners/%s/frames", name);
    ts_reply r = call(f, "POST", path, NULL, "Content-Type: image/jpeg\r\n", body, len);
    int status = r.status;
    ts_check_reply(&r, status);
    ts_reply_free(&r);
    return status;
}

/* 5,000 frames under new names whose bodies do not decode: each 400, none
 * a listener; then a real frame for alice is taken. */
static void frames_that_do_not_decode_make_no_listener(void **state)
{
    fixture *f = *state;
    start(f, NULL, false, 0);
    for (int i = 0; i < 5000; i++) {
        char name[32];
        snprintf(name, sizeof name, "flood%d", i);
        int st = post_frame(f, name, i % 2 ? "junk" : "", i % 2 ? 4 : 0);
        if (st != 400 && st != 415) /* no picture; not one it can read */
            fail_msg("frame %d: %d, expected 400 or 415", i, st);
    }
    assert_int_equal(listeners_live(f), 0);
    size_t len;
    char *jpeg = ts_read_demo(1, &len);
    assert_int_equal(post_frame(f, "alice", jpeg, len), 200);
    assert_int_equal(listeners_live(f), 1);
    free(jpeg);
}

/* With room for 2: a third listener takes the least recently seen one's
 * place (never refused); and listeners idle for listener_idle_s leave. */
static void old_listeners_give_way_to_new_ones(void **state)
{
    fixture *f = *state;
    start(f, NULL, false, 2);
    size_t len;
    char *jpeg = ts_read_demo(1, &len);
    assert_int_equal(post_frame(f, "ann", jpeg, len), 200);
    f->now += 1;
    assert_int_equal(post_frame(f, "bob", jpeg, len), 200);
    f->now += 1;
    assert_int_equal(post_frame(f, "ann", jpeg, len), 200); /* ann seen again */
    f->now += 1;
    assert_int_equal(post_frame(f, "cy", jpeg, len), 200);  /* bob leaves */
    assert_int_equal(listeners_live(f), 2);
    /* bob's mood still comes from the history */
    ts_reply r = call(f, "GET", "/api/v1/listeners/bob/mood", NULL, "", "", 0);
    assert_true(r.status == 200 || r.status == 404);
    ts_reply_free(&r);
    f->now += 61; /* both idle past listener_idle_s */
    assert_int_equal(post_frame(f, "dee", jpeg, len), 200);
    assert_int_equal(listeners_live(f), 1);
    free(jpeg);
}

int main(void)
{
    et_nn_set_blas_threads(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(without_a_token_only_this_machine_is_answered, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(bodies_must_be_of_their_routes_type, setup, teardown),
        cmocka_unit_test_setup_teardown(with_a_token_any_host_but_no_other_pages_origin, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(metrics_may_be_made_public, setup, teardown),
        cmocka_unit_test_setup_teardown(the_scan_shows_no_path_of_the_server_without_a_token,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(frames_that_do_not_decode_make_no_listener, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(old_listeners_give_way_to_new_ones, setup, teardown),
    };
    return cmocka_run_group_tests_name("server_guard", tests, NULL, NULL);
}
