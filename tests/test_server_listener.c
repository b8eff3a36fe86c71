/* The listener routes of the HTTP server (issue 11): a mood stated by hand
 * (PUT and DELETE .../mood), kept in the store and so seen by every server
 * on it; the frame rate limit (429), on a clock the test moves by hand; and
 * serve's --max-fps and --history-every. Real HTTP on loopback ports, a real
 * LMDB store in a temporary directory (and a real redis-server for two
 * servers on one Redis), the real models and the face-api demo pictures. */
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "listener/listener.h"
#include "mood/mood.h"
#include "nn/nn.h"
#include "server/server.h"
#include "http_support.h"
#include "support.h"

/* A server on `store` with the given frame limit and clock (NULL: the
 * monotonic one); NULL with *st and err set when it does not start. */
static et_server *start_on(const char *store, double fps, double (*clock)(void *), void *ctx,
                           et_status *st, char *err)
{
    et_server_opts o = et_server_default_opts();
    o.listen = "127.0.0.1:0";
    o.store_uri = store;
    o.models_dir = ts_models_dir();
    o.frames_per_s = fps;
    o.clock = clock;
    o.clock_ctx = ctx;
    et_server *s = NULL;
    *st = et_server_start(&o, &s, err);
    return s;
}

static et_server *start_or_fail(const char *store, double fps, double (*clock)(void *),
                                void *ctx)
{
    et_status st;
    char err[ET_ERR_MAX];
    et_server *s = start_on(store, fps, clock, ctx, &st, err);
    if (st != ET_OK)
        fail_msg("server on %s: %s", store, err);
    return s;
}

/* A catalogue of twelve links, four each labelled happy, sad and calm. */
static int import_catalogue(const ts_server_fixture *f)
{
    char csv[600], cmd[1400], *out;
    snprintf(csv, sizeof csv, "%s/links.csv", f->dir);
    FILE *fp = fopen(csv, "w");
    if (!fp)
        return -1;
    fprintf(fp, "url,title,artist,mood\n");
    const char *moods[] = {"happy", "sad", "calm"};
    for (int i = 0; i < 12; i++)
        fprintf(fp, "https://example.org/%s%d,%s song %d,%s artist %d,%s\n", moods[i / 4], i,
                moods[i / 4], i, moods[i / 4], i % 2, moods[i / 4]);
    fclose(fp);
    snprintf(cmd, sizeof cmd, "%s import --store %s %s", ts_bin(), f->store, csv);
    int rc = ts_run(cmd, &out);
    free(out);
    return rc;
}

/* The group's server: no frame limit (the limit has its own test), the
 * monotonic clock, and the catalogue imported. */
static int setup(void **state)
{
    et_server_opts o = et_server_default_opts();
    o.frames_per_s = 0;
    o.clock = NULL;
    o.clock_ctx = NULL;
    if (ts_server_setup_with(state, &o) != 0)
        return -1;
    if (import_catalogue(*state) != 0) {
        fprintf(stderr, "setup: emotune import failed\n");
        return -1;
    }
    return 0;
}

/* ---- requests ---------------------------------------------------------- */

static json_t *call(int port, const char *method, const char *name, const char *what,
                    const char *body, int *status)
{
    char path[300];
    snprintf(path, sizeof path, "/api/v1/listeners/%s/%s", name, what);
    return ts_call_json(port, method, path, body, status);
}

static json_t *put_mood(int port, const char *name, const char *body, int *status)
{
    return call(port, "PUT", name, "mood", body, status);
}

/* GET .../mood, which must answer 200; its JSON (caller frees). */
static json_t *mood_of(int port, const char *name)
{
    int status;
    json_t *m = call(port, "GET", name, "mood", NULL, &status);
    if (status != 200)
        fail_msg("GET %s's mood: status %d", name, status);
    return m;
}

static const char *str(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? v : "(none)";
}

static double num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v))
        fail_msg("\"%s\" is not a number", key);
    return json_number_value(v);
}

/* Whether GET .../mood gives the stated mood `want` (NULL: no stated mood). */
static void assert_stated(int port, const char *name, const char *want)
{
    json_t *m = mood_of(port, name);
    bool manual = strcmp(str(m, "source"), "manual") == 0;
    if (want && (!manual || strcmp(str(m, "name"), want) != 0))
        fail_msg("%s's mood is %s from %s, expected %s stated by hand", name, str(m, "name"),
                 str(m, "source"), want);
    if (!want && manual)
        fail_msg("%s's mood is still the stated %s", name, str(m, "name"));
    json_decref(m);
}

/* POST a frame for `name` at capture time t; the reply's JSON and status. */
static json_t *post_frame(int port, const char *name, double t, const char *body, size_t len,
                          int *status)
{
    char path[300];
    snprintf(path, sizeof path, "/api/v1/listeners/%s/frames?t=%g", name, t);
    ts_reply r = ts_http(port, "POST", path, "", body, len);
    ts_check_reply(&r, r.status);
    *status = r.status;
    json_t *doc = json_loads(r.body, 0, NULL);
    ts_reply_free(&r);
    return doc;
}

/* The newest entry of the listener's history, read from the store itself;
 * false when it is empty. */
static bool newest_in_history(const char *store, const char *name, et_listener_mood *out)
{
    et_store *st;
    char err[ET_ERR_MAX];
    if (et_store_open(store, NULL, &st, err) != ET_OK)
        fail_msg("open %s: %s", store, err);
    et_listener_mood *all = NULL;
    size_t n = 0;
    assert_int_equal(et_listener_moods(st, name, &all, &n, err), ET_OK);
    if (n)
        *out = all[n - 1];
    free(all);
    et_store_close(st);
    return n > 0;
}

/* ---- a mood stated by hand ---------------------------------------------- */

/* A named mood stated by hand (any case, an alias too) is the listener's
 * mood until cleared: GET .../mood gives it as manual, .../next picks its
 * songs, feedback takes it; it goes into the history as stated; DELETE
 * clears it (then the history's newest is the mood), and again clears
 * nothing. */
static void a_mood_stated_by_name_holds_until_cleared(void **state)
{
    ts_server_fixture *f = *state;
    int status;
    json_t *m = put_mood(f->port, "ann", "{\"mood\":\"Happy\"}", &status);
    assert_int_equal(status, 200);
    assert_string_equal(str(m, "name"), "happy");
    assert_string_equal(str(m, "source"), "manual");
    assert_true(json_is_null(json_object_get(m, "until")));
    double v, a;
    assert_true(et_mood_named_point("happy", &v, &a));
    assert_true(num(m, "valence") == v && num(m, "arousal") == a);
    assert_true(num(m, "confidence") == 1);
    json_decref(m);
    assert_stated(f->port, "ann", "happy");

    json_t *q = call(f->port, "GET", "ann", "next?count=3&seed=11&peek=1", NULL, &status);
    assert_int_equal(status, 200);
    json_t *qm = json_object_get(q, "mood");
    assert_string_equal(str(qm, "name"), "happy");
    assert_string_equal(str(qm, "source"), "manual");
    json_t *queue = json_object_get(q, "queue");
    assert_int_equal(json_array_size(queue), 3);
    char track[200];
    for (size_t i = 0; i < 3; i++)
        assert_non_null(strstr(str(json_array_get(queue, i), "title"), "happy song"));
    snprintf(track, sizeof track, "%s", str(json_array_get(queue, 0), "id"));
    json_decref(q);

    char body[300];
    snprintf(body, sizeof body, "{\"track\":\"%s\",\"kind\":\"like\"}", track);
    json_t *fb = call(f->port, "POST", "ann", "feedback", body, &status);
    assert_int_equal(status, 200);
    assert_string_equal(str(fb, "mood"), "happy");
    json_decref(fb);

    et_listener_mood h;
    assert_true(newest_in_history(f->store, "ann", &h));
    assert_string_equal(h.mood, "happy");
    assert_string_equal(h.source, "stated");
    assert_true(h.confidence == 1 && h.valence == v && h.arousal == a);

    json_t *d = call(f->port, "DELETE", "ann", "mood", NULL, &status);
    assert_int_equal(status, 200);
    assert_true(json_is_true(json_object_get(d, "cleared")));
    json_decref(d);
    m = mood_of(f->port, "ann"); /* no camera: the history's newest */
    assert_string_equal(str(m, "source"), "stated");
    assert_true(json_is_false(json_object_get(m, "live")));
    json_decref(m);
    d = call(f->port, "DELETE", "ann", "mood", NULL, &status);
    assert_int_equal(status, 200);
    assert_true(json_is_false(json_object_get(d, "cleared")));
    json_decref(d);
}

/* A point stated by hand keeps its coordinates and is named after the
 * nearest of the seven moods a face shows (mood.h's table: sad is at
 * (-0.7, -0.4), surprised at (0.3, 0.8)); for_s sets its end. */
static void a_mood_stated_by_point_is_named_after_the_nearest(void **state)
{
    ts_server_fixture *f = *state;
    int status;
    json_t *m = put_mood(f->port, "bea", "{\"valence\":-0.65,\"arousal\":-0.35}", &status);
    assert_int_equal(status, 200);
    assert_string_equal(str(m, "name"), "sad");
    assert_true(num(m, "valence") == -0.65 && num(m, "arousal") == -0.35);
    json_decref(m);
    m = put_mood(f->port, "bea", "{\"valence\":0.25,\"arousal\":0.9,\"for_s\":600}", &status);
    assert_int_equal(status, 200);
    assert_string_equal(str(m, "name"), "surprised");
    assert_true(fabs(num(m, "until") - num(m, "time") - 600) < 1e-3);
    json_decref(m);
    m = mood_of(f->port, "bea");
    assert_string_equal(str(m, "name"), "surprised");
    assert_string_equal(str(m, "source"), "manual");
    assert_true(fabs(num(m, "until") - num(m, "time") - 600) < 1e-3);
    json_decref(m);
    json_t *q = call(f->port, "GET", "bea", "next?count=1&peek=1", NULL, &status);
    assert_int_equal(status, 200);
    assert_true(num(json_object_get(q, "mood"), "valence") == 0.25);
    json_decref(q);
}

/* The end of a stated mood: the listener module's own clock is the caller's,
 * so the edge is exact (held just before `until`, not at it); over HTTP, a
 * stated mood whose end has passed is not the mood, one whose end is to
 * come is. */
static void a_stated_mood_ends_at_its_time(void **state)
{
    ts_server_fixture *f = *state;
    et_store *st;
    char err[ET_ERR_MAX];
    assert_int_equal(et_store_open(f->store, NULL, &st, err), ET_OK);
    et_listener_profile p;
    assert_int_equal(et_listener_profile_load(st, "cal", &p, err), ET_OK);
    et_listener_override o = {.mood = "calm", .time = 1.7e9, .until = 1.7e9 + 30};
    assert_true(et_mood_named_point("calm", &o.valence, &o.arousal));
    assert_int_equal(et_listener_override_set(st, &p, &o, err), ET_OK);
    et_listener_override got;
    bool found;
    assert_int_equal(et_listener_override_get(st, "cal", 1.7e9 + 29.5, &got, &found, err),
                     ET_OK);
    assert_true(found);
    assert_string_equal(got.mood, "calm");
    assert_true(got.until == o.until && got.time == o.time);
    assert_int_equal(et_listener_override_get(st, "cal", 1.7e9 + 30, &got, &found, err), ET_OK);
    assert_false(found);
    assert_stated(f->port, "cal", NULL); /* ended long ago */

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double now = (double)ts.tv_sec; /* what the server's clock reads, or earlier */
    o = (et_listener_override){.mood = "angry", .time = now - 10, .until = now + 3600};
    assert_true(et_mood_named_point("angry", &o.valence, &o.arousal));
    assert_int_equal(et_listener_override_set(st, &p, &o, err), ET_OK);
    assert_stated(f->port, "cal", "angry");
    o.until = now - 1; /* stated again, ended a second ago */
    assert_int_equal(et_listener_override_set(st, &p, &o, err), ET_OK);
    assert_stated(f->port, "cal", NULL);
    /* what the listener module refuses, it does not write */
    et_listener_override bad[] = {
        {.mood = "Happy", .valence = 0.8, .arousal = 0.5, .time = now},
        {.mood = "unknown", .time = now},
        {.mood = "happy", .valence = 1.5, .arousal = 0.5, .time = now},
        {.mood = "happy", .valence = 0.8, .arousal = 0.5, .time = now, .until = now},
        {.mood = "happy", .valence = 0.8, .arousal = 0.5, .time = NAN},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(et_listener_override_set(st, &p, &bad[i], err), ET_E_INVALID);
    et_listener_mood h;
    assert_true(newest_in_history(f->store, "cal", &h));
    assert_string_equal(h.mood, "angry");
    /* a document that is not a stated mood (written around emotune) holds
     * nothing */
    const char *odd[] = {"{\"mood\":\"glad\",\"valence\":0,\"arousal\":0,\"time\":1}",
                         "[\"happy\"]", "42"};
    for (size_t i = 0; i < sizeof odd / sizeof *odd; i++) {
        assert_int_equal(et_store_put(st, "profiles", "cal/override", odd[i], strlen(odd[i]),
                                      err),
                         ET_OK);
        assert_stated(f->port, "cal", NULL);
    }
    et_store_close(st);
}

/* Every body that is not a stated mood is 400 with a JSON error (not JSON:
 * corrupt_data; JSON of the wrong shape: invalid_argument), and nothing is
 * stored: no stated mood, no history. */
static void bad_mood_bodies_are_refused_and_store_nothing(void **state)
{
    ts_server_fixture *f = *state;
    static char deep[6000], nested[6000];
    for (int i = 0; i < 3000; i++)
        deep[i] = '[';
    snprintf(nested, sizeof nested, "{\"mood\":");
    for (int i = 0; i < 1000; i++)
        strcat(nested, "[");
    const struct {
        const char *body, *code;
    } bad[] = {
        {"", "invalid_argument"},
        {"{", "corrupt_data"},
        {"happy", "corrupt_data"},
        {deep, "corrupt_data"},
        {nested, "corrupt_data"},
        {"{\"mood\":\"happy\",\"mood\":\"sad\"}", "corrupt_data"},
        {"[]", "invalid_argument"},
        {"\"happy\"", "corrupt_data"}, /* jansson takes objects and arrays only */
        {"{}", "invalid_argument"},
        {"{\"mood\":\"glad\"}", "invalid_argument"},
        {"{\"mood\":\"unknown\"}", "invalid_argument"},
        {"{\"mood\":5}", "invalid_argument"},
        {"{\"mood\":null}", "invalid_argument"},
        {"{\"mood\":\"happy\",\"valence\":0.1,\"arousal\":0.1}", "invalid_argument"},
        {"{\"valence\":0.1}", "invalid_argument"},
        {"{\"arousal\":0.1}", "invalid_argument"},
        {"{\"valence\":1.5,\"arousal\":0}", "invalid_argument"},
        {"{\"valence\":0,\"arousal\":-1.0001}", "invalid_argument"},
        {"{\"valence\":\"0.5\",\"arousal\":0}", "invalid_argument"},
        {"{\"valence\":true,\"arousal\":0}", "invalid_argument"},
        {"{\"mood\":\"happy\",\"for_s\":0}", "invalid_argument"},
        {"{\"mood\":\"happy\",\"for_s\":-5}", "invalid_argument"},
        {"{\"mood\":\"happy\",\"for_s\":86401}", "invalid_argument"},
        {"{\"mood\":\"happy\",\"for_s\":\"soon\"}", "invalid_argument"},
        {"{\"mood\":\"happy\",\"colour\":\"blue\"}", "invalid_argument"},
        {"{\"Mood\":\"happy\"}", "invalid_argument"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int status;
        json_t *e = put_mood(f->port, "dee", bad[i].body, &status);
        const char *code = str(json_object_get(e, "error"), "code");
        if (status != 400 || strcmp(code, bad[i].code) != 0)
            fail_msg("body %.50s: %d %s, expected 400 %s", bad[i].body, status, code,
                     bad[i].code);
        json_decref(e);
    }
    int status;
    json_t *e = call(f->port, "PUT", ".dee", "mood", "{\"mood\":\"happy\"}", &status);
    assert_int_equal(status, 400);
    json_decref(e);
    e = call(f->port, "GET", "dee", "mood", NULL, &status);
    assert_int_equal(status, 404); /* no stated mood, no history */
    json_decref(e);
    et_listener_mood h;
    assert_false(newest_in_history(f->store, "dee", &h));
    /* the edges are taken */
    json_t *m = put_mood(f->port, "dee", "{\"valence\":-1,\"arousal\":1,\"for_s\":86400}",
                         &status);
    assert_int_equal(status, 200);
    json_decref(m);
}

/* Two servers on one store (one process, one LMDB environment): a mood
 * stated on one is the mood on the other, cleared on the other it is gone
 * from the first; a server started afresh finds it. */
static void a_stated_mood_is_seen_by_another_server_and_after_a_restart(void **state)
{
    ts_server_fixture *f = *state;
    et_server *b = start_or_fail(f->store, 0, NULL, NULL);
    int pb = et_server_port(b), status;
    json_t *m = put_mood(f->port, "eve", "{\"mood\":\"tense\"}", &status);
    assert_int_equal(status, 200);
    json_decref(m);
    assert_stated(pb, "eve", "tense");
    json_t *d = call(pb, "DELETE", "eve", "mood", NULL, &status);
    assert_int_equal(status, 200);
    json_decref(d);
    assert_stated(f->port, "eve", NULL);
    m = put_mood(pb, "eve", "{\"mood\":\"calm\"}", &status);
    assert_int_equal(status, 200);
    json_decref(m);
    et_server_stop(b);
    et_server *c = start_or_fail(f->store, 0, NULL, NULL);
    assert_stated(et_server_port(c), "eve", "calm");
    assert_stated(f->port, "eve", "calm");
    et_server_stop(c);
}

/* Posts eight frames of demo picture i for `name` at times t0+1..t0+8; the
 * camera's mood name the last reply gives, into want. */
static void look(int port, const char *name, int i, double t0, char *want, size_t size)
{
    size_t len;
    char *jpeg = ts_read_demo(i, &len);
    for (int k = 1; k <= 8; k++) {
        int status;
        json_t *doc = post_frame(port, name, t0 + k, jpeg, len, &status);
        assert_int_equal(status, 200);
        if (k == 8)
            snprintf(want, size, "%s", str(json_object_get(doc, "mood"), "name"));
        json_decref(doc);
    }
    free(jpeg);
}

/* A listener's frames go from server A to B and back: A's mood then is B's
 * (the history's newer entry, not A's old camera state), and when the
 * frames come back to A with A's old mood, the history's newest becomes it
 * again at once (not a minute later, as if B had never written). */
static void a_listener_moving_between_servers_is_followed(void **state)
{
    ts_server_fixture *f = *state;
    et_server *b = start_or_fail(f->store, 0, NULL, NULL);
    int pb = et_server_port(b);
    char on_a[32], on_b[32];
    look(f->port, "moe", 1, 0, on_a, sizeof on_a);  /* a happy face on A */
    look(pb, "moe", 2, 100, on_b, sizeof on_b);     /* a sad one on B */
    if (strcmp(on_a, on_b) == 0 || strcmp(on_a, "unknown") == 0 || strcmp(on_b, "unknown") == 0)
        fail_msg("the two faces should read as two known moods: %s, %s", on_a, on_b);
    json_t *m = mood_of(f->port, "moe");
    assert_string_equal(str(m, "name"), on_b);
    assert_false(json_is_true(json_object_get(m, "live")));
    json_decref(m);
    look(f->port, "moe", 1, 200, on_a, sizeof on_a); /* back to A, happy again */
    et_listener_mood newest;
    assert_true(newest_in_history(f->store, "moe", &newest));
    assert_string_equal(newest.mood, on_a);
    m = mood_of(pb, "moe");
    assert_string_equal(str(m, "name"), on_a);
    json_decref(m);
    et_server_stop(b);
}

/* The same with two servers on one real redis-server, as two emotune
 * processes on different machines would be. */
static void two_servers_on_one_redis_share_the_stated_mood(void **state)
{
    (void)state;
    ts_redis r = {0};
    if (ts_redis_start(&r) != 0)
        fail_msg("redis-server did not start");
    char uri[100];
    snprintf(uri, sizeof uri, "redis://127.0.0.1:%d/0", r.port);
    et_server *a = start_or_fail(uri, 0, NULL, NULL), *b = start_or_fail(uri, 0, NULL, NULL);
    int pa = et_server_port(a), pb = et_server_port(b), status;
    json_t *m = put_mood(pa, "fay", "{\"mood\":\"excited\",\"for_s\":3600}", &status);
    assert_int_equal(status, 200);
    json_decref(m);
    assert_stated(pb, "fay", "excited");
    json_t *q = call(pb, "GET", "fay", "next?count=1&peek=1", NULL, &status);
    assert_int_equal(status, 404); /* no library here: but the mood was known */
    assert_null(strstr(str(json_object_get(q, "error"), "message"), "no mood known"));
    json_decref(q);
    json_t *d = call(pb, "DELETE", "fay", "mood", NULL, &status);
    assert_int_equal(status, 200);
    json_decref(d);
    assert_stated(pa, "fay", NULL);
    et_server_stop(a);
    et_server_stop(b);
    ts_redis_cleanup(&r);
}

/* While a stated mood holds the camera goes on: each frame's reply gives
 * the faces and the camera's own smoothed mood (sample2 reads as sad) and
 * the stated mood; GET .../mood gives the stated one with what the camera
 * sees. Cleared, the camera's mood is the mood again; a camera that then
 * sees nobody gives "unknown", never a made-up mood. */
static void frames_go_on_while_a_stated_mood_holds(void **state)
{
    ts_server_fixture *f = *state;
    int status;
    json_t *m = put_mood(f->port, "gus", "{\"mood\":\"happy\"}", &status);
    assert_int_equal(status, 200);
    json_decref(m);
    size_t len;
    char *jpeg = ts_read_demo(2, &len);
    const char *camera = "";
    for (int i = 1; i <= 8; i++) {
        json_t *doc = post_frame(f->port, "gus", i, jpeg, len, &status);
        assert_int_equal(status, 200);
        assert_int_equal(json_array_size(json_object_get(doc, "faces")), 1);
        json_t *ov = json_object_get(doc, "override");
        assert_string_equal(str(ov, "name"), "happy");
        assert_string_equal(str(ov, "source"), "manual");
        camera = str(json_object_get(doc, "mood"), "name");
        assert_true(!strcmp(camera, "unknown") || !strcmp(camera, "sad"));
        if (i == 8)
            assert_string_equal(camera, "sad");
        json_decref(doc);
    }
    free(jpeg);
    m = mood_of(f->port, "gus");
    assert_string_equal(str(m, "name"), "happy");
    assert_string_equal(str(m, "source"), "manual");
    assert_string_equal(str(json_object_get(m, "camera"), "name"), "sad");
    json_decref(m);
    json_t *q = call(f->port, "GET", "gus", "next?count=2&peek=1", NULL, &status);
    assert_string_equal(str(json_object_get(q, "mood"), "name"), "happy");
    json_decref(q);

    json_t *d = call(f->port, "DELETE", "gus", "mood", NULL, &status);
    json_decref(d);
    m = mood_of(f->port, "gus");
    assert_string_equal(str(m, "name"), "sad");
    assert_string_equal(str(m, "source"), "face");
    assert_true(json_is_true(json_object_get(m, "live")));
    json_decref(m);
    /* nobody in front of the camera: the confidence falls to unknown */
    char *png = ts_sky_png(&len);
    bool unknown = false;
    for (int i = 9; i < 60 && !unknown; i++) {
        json_t *doc = post_frame(f->port, "gus", i, png, len, &status);
        assert_int_equal(status, 200);
        assert_int_equal(json_array_size(json_object_get(doc, "faces")), 0);
        assert_true(json_is_null(json_object_get(doc, "override")));
        unknown = !strcmp(str(json_object_get(doc, "mood"), "name"), "unknown");
        json_decref(doc);
    }
    free(png);
    assert_true(unknown);
    m = mood_of(f->port, "gus");
    assert_string_equal(str(m, "name"), "unknown");
    assert_true(json_is_false(json_object_get(m, "has_face")));
    json_decref(m);
}

/* ---- the frame rate limit --------------------------------------------- */

/* The test's clock: seconds, moved only by the test. */
static double hand_clock(void *ctx) { return atomic_load((_Atomic double *)ctx); }

/* POSTs a body that is not a picture as a frame of `name`: 415 when it was
 * let through (decoded, and refused as not a picture), 429 when the limit
 * dropped it before decoding. Returns the status; the 429's Retry-After
 * and error code must be there. */
static int post_text_frame(int port, const char *name)
{
    char path[200];
    snprintf(path, sizeof path, "/api/v1/listeners/%s/frames", name);
    const char text[] = "not a picture, just text\n";
    ts_reply r = ts_http(port, "POST", path, "", text, sizeof text - 1);
    ts_check_reply(&r, r.status);
    if (r.status == 429) {
        const char *retry = ts_header(&r, "Retry-After");
        if (!retry || atoi(retry) < 1)
            fail_msg("a 429 without a Retry-After of a second or more: %s", r.head);
        assert_non_null(strstr(r.body, "\"code\":\"rate_limited\""));
    } else if (r.status != 415) {
        fail_msg("frame: status %d, expected 415 or 429", r.status);
    }
    int status = r.status;
    ts_reply_free(&r);
    return status;
}

/* n frames in a row; how many were let through (the others were 429). */
static int let_through(int port, const char *name, int n)
{
    int passed = 0;
    for (int i = 0; i < n; i++)
        passed += post_text_frame(port, name) == 415;
    return passed;
}

static unsigned long frames_dropped(int port)
{
    ts_reply r = ts_http(port, "GET", "/metrics", "", NULL, 0);
    ts_check_reply(&r, 200);
    const char *line = strstr(r.body, "\nemotune_frames_dropped_total ");
    assert_non_null(line);
    unsigned long n = strtoul(line + strlen("\nemotune_frames_dropped_total "), NULL, 10);
    ts_reply_free(&r);
    return n;
}

/* With the clock stopped, a listener (one whose picture has decoded: a
 * name is not a listener before) gets exactly the burst (15 frames at the
 * default 15 a second, their first picture one of them) and then 429s, each
 * dropped before decoding (a text body would be 415 if it were decoded) and
 * counted; another listener has their own allowance. A second later there
 * are 15 more; a quarter of a second later 3 (15 / 4 = 3.75, whole frames
 * only). Without a limit nothing is refused. */
static void frames_over_the_rate_limit_get_429_undecoded(void **state)
{
    ts_server_fixture *f = *state;
    static _Atomic double now = 1000.0;
    et_server *s = start_or_fail(f->store, ET_SERVER_DEFAULT_FRAMES_PER_S, hand_clock, &now);
    int port = et_server_port(s);
    size_t len;
    char *jpeg = ts_read_demo(2, &len);
    int status;
    const char *names[] = {"hal", "ida"};
    for (int i = 0; i < 2; i++) {
        json_t *doc = post_frame(port, names[i], 1, jpeg, len, &status);
        assert_int_equal(status, 200);
        json_decref(doc);
    }
    assert_int_equal(let_through(port, "hal", 17), 14);
    assert_int_equal(frames_dropped(port), 3);
    assert_int_equal(let_through(port, "ida", 15), 14);
    assert_int_equal(frames_dropped(port), 4);
    atomic_store(&now, 1001.0);
    assert_int_equal(let_through(port, "hal", 17), 15);
    atomic_store(&now, 1001.25);
    assert_int_equal(let_through(port, "hal", 5), 3);
    assert_int_equal(frames_dropped(port), 8);
    /* a picture let through is a frame as any other */
    atomic_store(&now, 1002.25);
    json_t *doc = post_frame(port, "hal", 2, jpeg, len, &status);
    assert_int_equal(status, 200);
    json_decref(doc);
    free(jpeg);
    /* the metrics count the 429s of the route */
    ts_reply r = ts_http(port, "GET", "/metrics", "", NULL, 0);
    assert_non_null(strstr(r.body, "route=\"/api/v1/listeners/{name}/frames\",status=\"429\"} 8\n"));
    ts_reply_free(&r);
    et_server_stop(s);

    s = start_or_fail(f->store, 0, hand_clock, &now); /* no limit */
    assert_int_equal(let_through(et_server_port(s), "hal", 40), 40);
    assert_int_equal(frames_dropped(et_server_port(s)), 0);
    et_server_stop(s);
    /* a limit out of range is refused at start */
    et_status st;
    char err[ET_ERR_MAX];
    assert_null(start_on(f->store, -1, NULL, NULL, &st, err));
    assert_int_equal(st, ET_E_INVALID);
    assert_null(start_on(f->store, NAN, NULL, NULL, &st, err));
    assert_int_equal(st, ET_E_INVALID);
}

/* ---- error messages, query parameters ------------------------------------- */

/* A query parameter of bytes that are not UTF-8 is quoted in the error, so
 * the error must still be JSON: 400, never 500. */
static void bad_query_bytes_still_give_a_json_400(void **state)
{
    ts_server_fixture *f = *state;
    const char *bad[] = {"next?policy=%FF%FE", "next?count=%C3%28", "history?limit=%FF",
                         "history?before=%80"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int status;
        json_t *e = call(f->port, "GET", "ann", bad[i], NULL, &status);
        if (status != 400 || !json_is_object(json_object_get(e, "error")))
            fail_msg("%s: status %d, expected a JSON 400", bad[i], status);
        json_decref(e);
    }
    size_t len;
    char *jpeg = ts_read_demo(2, &len);
    ts_reply r = ts_http(f->port, "POST", "/api/v1/listeners/ann/frames?t=%FF", "", jpeg, len);
    ts_check_reply(&r, 400);
    ts_reply_free(&r);
    free(jpeg);
}

/* ---- emotune serve's options -------------------------------------------- */

/* Runs `emotune serve ARGS` until it has said how it is set (its stderr's
 * second line), stops it with SIGTERM; that line in `said` and the exit
 * status. Bad options end it at once (then said holds its message). */
static int serve(const char *args, char *said, size_t size)
{
    char cmd[2000];
    snprintf(cmd, sizeof cmd, "exec %s serve --models %s %s > /dev/null", ts_bin(),
             ts_models_dir(), args);
    int pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* only what is safe between fork and exec */
        dup2(pipefd[1], 2);
        close(pipefd[0]);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(pipefd[1]);
    FILE *err = fdopen(pipefd[0], "r");
    said[0] = '\0';
    char line[1000];
    if (fgets(line, sizeof line, err)) /* the settings, or what was wrong */
        snprintf(said, size, "%s", line);
    if (strstr(said, "workers"))
        kill(pid, SIGTERM);
    while (fgets(line, sizeof line, err))
        ;
    fclose(err);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* --max-fps and --history-every reach the server (it says how it is set,
 * then stops cleanly on SIGTERM); values out of range are usage errors. */
static void serve_takes_max_fps_and_history_every(void **state)
{
    ts_server_fixture *f = *state;
    char args[1000], said[1000];
    snprintf(args, sizeof args,
             "--listen 127.0.0.1:0 --store lmdb:%s/serve --max-fps 4 --history-every 2.5",
             f->dir);
    assert_int_equal(serve(args, said, sizeof said), 0);
    if (!strstr(said, "may post 4 frames a second") || !strstr(said, "every 2.5 s"))
        fail_msg("serve said: %s", said);
    snprintf(args, sizeof args, "--listen 127.0.0.1:0 --store lmdb:%s/serve --max-fps 0",
             f->dir);
    assert_int_equal(serve(args, said, sizeof said), 0);
    if (!strstr(said, "no limit on frames") || !strstr(said, "every 60 s"))
        fail_msg("serve said: %s", said);
    const char *bad[] = {"--max-fps -1", "--max-fps 1001", "--max-fps x", "--history-every 0",
                         "--history-every 86401", "--history-every soon", "--history-every"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = serve(bad[i], said, sizeof said);
        if (rc != 2 || !strstr(said, "emotune serve:"))
            fail_msg("serve %s: exit %d (%s), expected 2", bad[i], rc, said);
    }
}

int main(void)
{
    et_nn_set_blas_threads(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_mood_stated_by_name_holds_until_cleared),
        cmocka_unit_test(a_mood_stated_by_point_is_named_after_the_nearest),
        cmocka_unit_test(a_stated_mood_ends_at_its_time),
        cmocka_unit_test(bad_mood_bodies_are_refused_and_store_nothing),
        cmocka_unit_test(a_stated_mood_is_seen_by_another_server_and_after_a_restart),
        cmocka_unit_test(a_listener_moving_between_servers_is_followed),
        cmocka_unit_test(two_servers_on_one_redis_share_the_stated_mood),
        cmocka_unit_test(frames_go_on_while_a_stated_mood_holds),
        cmocka_unit_test(frames_over_the_rate_limit_get_429_undecoded),
        cmocka_unit_test(bad_query_bytes_still_give_a_json_400),
        cmocka_unit_test(serve_takes_max_fps_and_history_every),
    };
    return cmocka_run_group_tests_name("server_listener", tests, setup, ts_server_teardown);
}
