/* The calibration routes of the HTTP server and `emotune calibrate` (issue
 * 19): a listener's labelled pictures become examples (features only), the
 * listener's frames are read through them for either reader while detect
 * stays face-api's, bad input gets a 400 and changes nothing, concurrent
 * posts lose nothing, the token guards the routes, and two servers on one
 * real redis-server share one calibration. Real HTTP on loopback ports, a
 * real LMDB store in a temporary directory, the real models and face-api's
 * demo pictures. */
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "listener/listener.h"
#include "server/server.h"
#include "http_support.h"
#include "support.h"

static et_server *start_on(const char *store, const char *token)
{
    et_server_opts o = et_server_default_opts();
    o.listen = "127.0.0.1:0";
    o.store_uri = store;
    o.models_dir = ts_models_dir();
    o.frames_per_s = 0;
    o.token = token;
    et_server *s = NULL;
    char err[ET_ERR_MAX];
    if (et_server_start(&o, &s, err) != ET_OK)
        fail_msg("server on %s: %s", store, err);
    return s;
}

static int setup(void **state)
{
    et_server_opts o = et_server_default_opts();
    o.frames_per_s = 0;
    return ts_server_setup_with(state, &o);
}

/* ---- requests ---- */

/* A request on a listener's path (what: "calibration?expression=sad", ...)
 * with a body; the reply's JSON (caller frees) and status. */
static json_t *send_to(int port, const char *method, const char *name, const char *what,
                       const char *headers, const void *body, size_t len, int *status)
{
    char path[400];
    snprintf(path, sizeof path, "/api/v1/listeners/%s/%s", name, what);
    ts_reply r = ts_http(port, method, path, headers, body, len);
    ts_check_reply(&r, r.status);
    *status = r.status;
    json_t *doc = r.body ? json_loads(r.body, 0, NULL) : NULL;
    ts_reply_free(&r);
    return doc;
}

static json_t *post_calibration(int port, const char *name, const char *expression,
                                const void *body, size_t len, int *status)
{
    char what[200];
    snprintf(what, sizeof what, "calibration?expression=%s", expression);
    return send_to(port, "POST", name, what, "", body, len, status);
}

static json_t *get_ok(int port, const char *name, const char *what)
{
    int status;
    json_t *doc = send_to(port, "GET", name, what, "", NULL, 0, &status);
    if (status != 200)
        fail_msg("GET %s: %d", what, status);
    return doc;
}

static json_int_t count_of(json_t *cal, const char *expression)
{
    json_t *v = json_object_get(json_object_get(cal, "counts"), expression);
    if (!json_is_integer(v))
        fail_msg("no count of %s", expression);
    return json_integer_value(v);
}

/* The largest face of a frame reply (or detect's): its probability of
 * `expression`, and whether it says it was calibrated. */
static double face_prob(json_t *doc, const char *expression, bool *calibrated)
{
    json_t *face = json_array_get(json_object_get(doc, "faces"), 0);
    if (!face)
        fail_msg("no face in the reply");
    json_t *c = json_object_get(face, "calibrated");
    if (calibrated) {
        if (!json_is_boolean(c))
            fail_msg("the face does not say whether it was calibrated");
        *calibrated = json_is_true(c);
    }
    return json_number_value(json_object_get(json_object_get(face, "expressions"), expression));
}

/* A frame of sample2 read by `reader`: its face's sad probability. */
static double frame_sad(int port, const char *name, const char *reader, const char *jpeg,
                        size_t len, bool *calibrated)
{
    char what[100];
    snprintf(what, sizeof what, "frames?expressions=%s", reader);
    int status;
    json_t *doc = send_to(port, "POST", name, what, "", jpeg, len, &status);
    if (status != 200)
        fail_msg("frame: %d", status);
    double p = face_prob(doc, "sad", calibrated);
    json_decref(doc);
    return p;
}

static char *detect_body(int port, const char *jpeg, size_t len)
{
    ts_reply r = ts_http(port, "POST", "/api/v1/detect", "", jpeg, len);
    ts_check_reply(&r, 200);
    char *body = strdup(r.body);
    ts_reply_free(&r);
    return body;
}

static char *export_store(const char *uri)
{
    et_store *s;
    char err[ET_ERR_MAX], *buf = NULL;
    size_t len = 0;
    if (et_store_open(uri, NULL, &s, err) != ET_OK)
        fail_msg("open %s: %s", uri, err);
    FILE *fp = open_memstream(&buf, &len);
    assert_int_equal(et_store_export(s, fp, NULL, err), ET_OK);
    fclose(fp);
    et_store_close(s);
    return buf;
}

/* ---- the tests ---- */

/* Three pictures of a face said to be sad: counted; then the listener's
 * frames of that face read more sad by either reader, saying calibrated;
 * detect (no listener) gives face-api's reading unchanged; forgetting
 * brings the reading back exactly. */
static void calibrating_moves_the_listeners_reading_towards_what_they_said(void **state)
{
    ts_server_fixture *f = *state;
    size_t len;
    char *jpeg = ts_read_demo(2, &len);
    bool cal;
    double before[2], after[2];
    const char *readers[2] = {"face-api", "emotune-1"};
    for (int r = 0; r < 2; r++) {
        before[r] = frame_sad(f->port, "ann", readers[r], jpeg, len, &cal);
        assert_false(cal);
    }
    char *detect_before = detect_body(f->port, jpeg, len);
    for (int i = 1; i <= 3; i++) {
        int status;
        json_t *doc = post_calibration(f->port, "ann", "sad", jpeg, len, &status);
        assert_int_equal(status, 200);
        assert_int_equal(count_of(doc, "sad"), i);
        assert_int_equal(count_of(doc, "happy"), 0);
        assert_true(json_is_true(json_object_get(doc, "in_use")));
        assert_true(json_number_value(json_object_get(json_object_get(doc, "box"), "width")) >
                    10);
        json_decref(doc);
    }
    json_t *got = get_ok(f->port, "ann", "calibration");
    assert_int_equal(count_of(got, "sad"), 3);
    assert_int_equal(json_integer_value(json_object_get(got, "total")), 3);
    assert_int_equal(json_integer_value(json_object_get(got, "max_per_expression")), 20);
    assert_true(json_is_true(json_object_get(got, "in_use")));
    json_decref(got);
    for (int r = 0; r < 2; r++) {
        after[r] = frame_sad(f->port, "ann", readers[r], jpeg, len, &cal);
        assert_true(cal);
        print_message("  %s: sad %.4f uncalibrated, %.4f after 3 sad examples\n", readers[r],
                      before[r], after[r]);
        assert_true(after[r] > before[r] + 0.01);
    }
    /* another listener, and detect, are not calibrated */
    assert_float_equal(frame_sad(f->port, "bob", "face-api", jpeg, len, &cal), before[0], 1e-12);
    assert_false(cal);
    char *detect_after = detect_body(f->port, jpeg, len);
    assert_string_equal(detect_before, detect_after);
    /* forgetting sad: the reading as it was */
    int status;
    json_t *doc = send_to(f->port, "DELETE", "ann", "calibration?expression=sad", "", NULL, 0,
                          &status);
    assert_int_equal(status, 200);
    assert_int_equal(json_integer_value(json_object_get(doc, "removed")), 3);
    assert_false(json_is_true(json_object_get(doc, "in_use")));
    json_decref(doc);
    assert_float_equal(frame_sad(f->port, "ann", "face-api", jpeg, len, &cal), before[0], 1e-12);
    assert_false(cal);
    free(detect_before);
    free(detect_after);
    free(jpeg);
}

static void expect_400(json_t *doc, int status, const char *says)
{
    if (status != 400)
        fail_msg("status %d, expected 400 (%s)", status, says);
    const char *msg =
        json_string_value(json_object_get(json_object_get(doc, "error"), "message"));
    if (!msg || !strstr(msg, says))
        fail_msg("message '%s' does not say '%s'", msg ? msg : "(none)", says);
    json_decref(doc);
}

/* Unknown or missing expression, a picture without a face, a truncated
 * one, no body, a bad name, the bound: each a 400 that says why, and the
 * store is byte for byte as it was. Not a picture at all: 415. */
static void bad_calibrations_get_400_and_change_nothing(void **state)
{
    ts_server_fixture *f = *state;
    size_t len, sky_len;
    char *jpeg = ts_read_demo(2, &len), *sky = ts_sky_png(&sky_len);
    int status;
    json_decref(post_calibration(f->port, "ann", "happy", jpeg, len, &status));
    assert_int_equal(status, 200);
    /* the bound: happy filled up to it by the listener's own API */
    et_store *s;
    char err[ET_ERR_MAX];
    assert_int_equal(et_store_open(f->store, NULL, &s, err), ET_OK);
    et_listener_calib_example *ex;
    size_t n;
    assert_int_equal(et_listener_calib_examples(s, "ann", &ex, &n, err), ET_OK);
    assert_int_equal(n, 1);
    for (int i = 1; i < ET_LISTENER_CALIB_MAX_PER_EXPR; i++)
        assert_int_equal(et_listener_calib_add(s, "ann", &ex[0], NULL, err), ET_OK);
    free(ex);
    et_store_close(s);
    char *before = export_store(f->store);
    json_t *bad;

    bad = post_calibration(f->port, "ann", "smile", jpeg, len, &status);
    expect_400(bad, status, "unknown expression 'smile'");
    bad = send_to(f->port, "POST", "ann", "calibration", "", jpeg, len, &status);
    expect_400(bad, status, "say which expression");
    bad = post_calibration(f->port, "ann", "sad", sky, sky_len, &status);
    expect_400(bad, status, "no face found");
    bad = post_calibration(f->port, "ann", "sad", jpeg, len / 3, &status);
    expect_400(bad, status, "nothing stored");
    bad = post_calibration(f->port, "ann", "sad", NULL, 0, &status);
    expect_400(bad, status, "post a picture");
    bad = post_calibration(f->port, "bad%20name", "sad", jpeg, len, &status);
    expect_400(bad, status, "listener name");
    bad = post_calibration(f->port, "ann", "happy", jpeg, len, &status);
    expect_400(bad, status, "already has 20 examples of happy");
    bad = send_to(f->port, "DELETE", "ann", "calibration?expression=joy", "", NULL, 0, &status);
    expect_400(bad, status, "unknown expression");
    json_t *doc = post_calibration(f->port, "ann", "sad", "not a picture", 13, &status);
    assert_int_equal(status, 415);
    json_decref(doc);
    char *after = export_store(f->store);
    assert_string_equal(before, after);
    json_t *got = get_ok(f->port, "ann", "calibration");
    assert_int_equal(count_of(got, "happy"), 20);
    assert_int_equal(json_integer_value(json_object_get(got, "total")), 20);
    json_decref(got);
    /* forgetting all of them makes room again */
    doc = send_to(f->port, "DELETE", "ann", "calibration", "", NULL, 0, &status);
    assert_int_equal(status, 200);
    assert_int_equal(json_integer_value(json_object_get(doc, "removed")), 20);
    json_decref(doc);
    json_decref(post_calibration(f->port, "ann", "happy", jpeg, len, &status));
    assert_int_equal(status, 200);
    free(before);
    free(after);
    free(jpeg);
    free(sky);
}

typedef struct poster {
    int port;
    const char *jpeg;
    size_t len;
    int ok;
} poster;

enum { POSTERS = 4, POSTS_EACH = 3 };

static void *post_some(void *arg)
{
    poster *p = arg;
    for (int i = 0; i < POSTS_EACH; i++) {
        char path[200];
        snprintf(path, sizeof path, "/api/v1/listeners/ann/calibration?expression=%s",
                 i % 2 ? "surprised" : "neutral");
        ts_reply r = ts_http(p->port, "POST", path, "", p->jpeg, p->len);
        p->ok += r.status == 200;
        ts_reply_free(&r);
    }
    return NULL;
}

/* Four clients post at once: every example is kept. */
static void concurrent_posts_lose_nothing(void **state)
{
    ts_server_fixture *f = *state;
    size_t len;
    char *jpeg = ts_read_demo(2, &len);
    pthread_t t[POSTERS];
    poster p[POSTERS];
    for (int i = 0; i < POSTERS; i++) {
        p[i] = (poster){f->port, jpeg, len, 0};
        assert_int_equal(pthread_create(&t[i], NULL, post_some, &p[i]), 0);
    }
    int ok = 0;
    for (int i = 0; i < POSTERS; i++) {
        pthread_join(t[i], NULL);
        ok += p[i].ok;
    }
    assert_int_equal(ok, POSTERS * POSTS_EACH);
    json_t *got = get_ok(f->port, "ann", "calibration");
    assert_int_equal(count_of(got, "neutral"), POSTERS * 2);
    assert_int_equal(count_of(got, "surprised"), POSTERS * 1);
    assert_int_equal(json_integer_value(json_object_get(got, "total")), POSTERS * POSTS_EACH);
    json_decref(got);
    free(jpeg);
}

static void the_token_guards_the_calibration(void **state)
{
    ts_server_fixture *f = *state;
    const char *token = "0123456789abcdef-secret";
    et_server *s = start_on(f->store, token);
    int port = et_server_port(s), status;
    size_t len;
    char *jpeg = ts_read_demo(2, &len);
    json_decref(post_calibration(port, "ann", "sad", jpeg, len, &status));
    assert_int_equal(status, 401);
    json_decref(send_to(port, "GET", "ann", "calibration", "", NULL, 0, &status));
    assert_int_equal(status, 401);
    json_decref(send_to(port, "DELETE", "ann", "calibration", "", NULL, 0, &status));
    assert_int_equal(status, 401);
    json_t *doc = send_to(port, "POST", "ann", "calibration?expression=sad",
                          "Authorization: Bearer 0123456789abcdef-secret\r\n", jpeg, len,
                          &status);
    assert_int_equal(status, 200);
    json_decref(doc);
    et_server_stop(s);
    free(jpeg);
}

/* `emotune calibrate`: one example per picture, a clear error (and nothing
 * stored) for a picture without a face or one that is not there; `emotune
 * profile` shows the counts and forgets them. */
static void the_command_line_calibrates_and_forgets(void **state)
{
    ts_server_fixture *f = *state;
    char cmd[3000], sky_path[700], *out = NULL;
    size_t sky_len;
    char *sky = ts_sky_png(&sky_len);
    snprintf(sky_path, sizeof sky_path, "%s/sky.png", f->dir);
    ts_write_file(sky_path, sky, sky_len);
    free(sky);
    char store[700];
    snprintf(store, sizeof store, "lmdb:%s/cli", f->dir);
    snprintf(cmd, sizeof cmd,
             "%s calibrate --store %s --models %s --listener cy --expression angry "
             "%s/sample2.jpg %s %s/none.jpg %s/sample2.jpg 2>%s/err.txt",
             ts_bin(), store, ts_models_dir(), ts_demo_dir(), sky_path, f->dir, ts_demo_dir(),
             f->dir);
    assert_int_equal(ts_run(cmd, &out), 1); /* some picture failed */
    assert_non_null(strstr(out, "angry now has 1 of 20"));
    assert_non_null(strstr(out, "angry now has 2 of 20"));
    free(out);
    snprintf(cmd, sizeof cmd, "cat %s/err.txt", f->dir);
    assert_int_equal(ts_run(cmd, &out), 0);
    assert_non_null(strstr(out, "sky.png: no face found (nothing stored)"));
    assert_non_null(strstr(out, "none.jpg"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s profile --json --store %s --listener cy", ts_bin(), store);
    assert_int_equal(ts_run(cmd, &out), 0);
    json_t *doc = json_loads(out, 0, NULL);
    free(out);
    assert_non_null(doc);
    json_t *cal = json_object_get(doc, "calibration");
    assert_int_equal(count_of(cal, "angry"), 2);
    assert_int_equal(json_integer_value(json_object_get(cal, "total")), 2);
    json_decref(doc);
    snprintf(cmd, sizeof cmd, "%s calibrate --store %s --listener cy --expression glee %s/x.jpg",
             ts_bin(), store, f->dir);
    assert_int_equal(ts_run(cmd, &out), 2);
    free(out);
    snprintf(cmd, sizeof cmd,
             "%s profile --store %s --listener cy --forget-calibration=angry 2>&1", ts_bin(),
             store);
    assert_int_equal(ts_run(cmd, &out), 0);
    assert_non_null(strstr(out, "forgot 2 calibration examples of angry"));
    assert_non_null(strstr(out, "calibration   none"));
    free(out);
}

/* Two servers on one real redis-server: what the listener teaches one, the
 * other reads through. */
static void two_servers_on_redis_share_the_calibration(void **state)
{
    (void)state;
    ts_redis redis = {0};
    if (ts_redis_start(&redis) != 0) {
        ts_redis_cleanup(&redis);
        fail_msg("redis-server did not start");
    }
    char uri[100];
    snprintf(uri, sizeof uri, "redis://127.0.0.1:%d/0", redis.port);
    et_server *a = start_on(uri, NULL), *b = start_on(uri, NULL);
    int pa = et_server_port(a), pb = et_server_port(b), status;
    size_t len;
    char *jpeg = ts_read_demo(2, &len);
    bool cal;
    double before = frame_sad(pb, "dee", "face-api", jpeg, len, &cal);
    assert_false(cal);
    for (int i = 0; i < 2; i++) {
        json_decref(post_calibration(pa, "dee", "sad", jpeg, len, &status));
        assert_int_equal(status, 200);
    }
    json_t *got = get_ok(pb, "dee", "calibration");
    assert_int_equal(count_of(got, "sad"), 2);
    json_decref(got);
    double after = frame_sad(pb, "dee", "face-api", jpeg, len, &cal);
    assert_true(cal);
    assert_true(after > before);
    json_decref(send_to(pb, "DELETE", "dee", "calibration", "", NULL, 0, &status));
    assert_int_equal(status, 200);
    got = get_ok(pa, "dee", "calibration");
    assert_int_equal(json_integer_value(json_object_get(got, "total")), 0);
    json_decref(got);
    et_server_stop(a);
    et_server_stop(b);
    ts_redis_cleanup(&redis);
    free(jpeg);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, ts_server_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(calibrating_moves_the_listeners_reading_towards_what_they_said),
        T(bad_calibrations_get_400_and_change_nothing),
        T(concurrent_posts_lose_nothing),
        T(the_token_guards_the_calibration),
        T(the_command_line_calibrates_and_forgets),
        cmocka_unit_test(two_servers_on_redis_share_the_calibration),
    };
    return cmocka_run_group_tests_name("calibration server", tests, NULL, NULL);
}
