/* The server's library (issue 11): --music folders scanned in the
 * background when the server starts and on request, followed through the
 * scan's progress route; catalogues imported from a request body; and the
 * recommender .../next keeps in memory, refreshed when the library or the
 * listener's feedback changes, also through another server on the store.
 * Real servers on loopback ports, a real LMDB store in a temporary
 * directory, real audio made by the ffmpeg command.
 *
 * Every scan of this program waits after its walk on a FIFO
 * (EMOTUNE_TEST_SCAN_FIFO, library.h, set in main before any thread): the
 * test opens it for writing, which succeeds only once the scan waits there,
 * so the scan is held at a known point (running, its files counted) as long
 * as the test keeps it open. No verdict depends on time: the progress route
 * is polled, with an iteration cap only. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "library/library.h"
#include "library/library_internal.h"
#include "listener/listener.h"
#include "mood/mood.h"
#include "nn/nn.h"
#include "server/server.h"
#include "http_support.h"
#include "support.h"

static char *scan_fifo; /* EMOTUNE_TEST_SCAN_FIFO: every scan waits on it */

typedef struct fixture {
    char *dir;
    char store[600];
    char music[600];
    et_server *a, *b;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = ts_tempdir();
    snprintf(f->store, sizeof f->store, "lmdb:%s/store", f->dir);
    snprintf(f->music, sizeof f->music, "%s/music", f->dir);
    mkdir(f->music, 0755);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    et_server_stop(f->a);
    et_server_stop(f->b);
    ts_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* A server on the fixture's store, scanning `music` when not NULL. */
static et_server *start(fixture *f, const char *music)
{
    et_server_opts o = et_server_default_opts();
    o.listen = "127.0.0.1:0";
    o.store_uri = f->store;
    o.models_dir = ts_models_dir();
    const char *dirs[] = {music};
    o.music_dirs = dirs;
    o.n_music_dirs = music ? 1 : 0;
    et_server *s = NULL;
    char err[ET_ERR_MAX];
    if (et_server_start(&o, &s, err) != ET_OK)
        fail_msg("the server does not start: %s", err);
    return s;
}

/* A song-length tone (recommended songs last 30 s or more), tagged. */
static void make_song(const char *dir, const char *name, int hz)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i "
             "'sine=frequency=%d:duration=31:sample_rate=8000' -ac 1 -metadata title='%s' "
             "-metadata artist='Artist %s' '%s/%s.flac'",
             hz, name, name, dir, name);
    if (system(cmd) != 0)
        fail_msg("command failed: %s", cmd);
}

static json_t *scan_progress(int port)
{
    int status;
    json_t *doc = ts_call_json(port, "GET", "/api/v1/library/scan", NULL, &status);
    assert_int_equal(status, 200);
    assert_non_null(doc);
    return doc;
}

static const char *state_of(const json_t *doc)
{
    return json_string_value(json_object_get(doc, "state"));
}

static json_int_t field(const json_t *doc, const char *key)
{
    return json_integer_value(json_object_get(doc, key));
}

/* Waits until the running scan waits on the FIFO after its walk; returns
 * the FIFO's write end: closing it lets the scan go on. Fails when the
 * scan ends without getting there. */
static int hold_scan(int port)
{
    int fd;
    while ((fd = open(scan_fifo, O_WRONLY | O_NONBLOCK)) < 0) {
        if (errno != ENXIO)
            fail_msg("%s: %s", scan_fifo, strerror(errno));
        json_t *p = scan_progress(port);
        bool over = !strcmp(state_of(p), "done") || !strcmp(state_of(p), "failed");
        json_decref(p);
        if (over)
            fail_msg("the scan ended without waiting after its walk");
        nanosleep(&(struct timespec){0, 5 * 1000 * 1000}, NULL); /* a poll, not a verdict */
    }
    return fd;
}

/* Polls the progress route until scan number `run` is over; its progress
 * (caller frees). An iteration cap, no clock. */
static json_t *scan_over(int port, json_int_t run)
{
    for (int i = 0; i < 200000; i++) {
        json_t *p = scan_progress(port);
        if (field(p, "scans") == run &&
            (!strcmp(state_of(p), "done") || !strcmp(state_of(p), "failed")))
            return p;
        json_decref(p);
        nanosleep(&(struct timespec){0, 5 * 1000 * 1000}, NULL);
    }
    fail_msg("scan %lld never ended", (long long)run);
    return NULL;
}

/* Gives the listener a mood through the history, as a past session would. */
static void remember_mood(fixture *f, const char *name, const char *mood)
{
    et_store *st;
    char err[ET_ERR_MAX];
    assert_int_equal(et_store_open(f->store, NULL, &st, err), ET_OK);
    et_listener_profile p;
    assert_int_equal(et_listener_profile_default(name, &p, err), ET_OK);
    et_listener_mood m = {.time = (double)time(NULL), .confidence = 0.9, .smiling = -1};
    assert_true(et_mood_named_point(mood, &m.valence, &m.arousal));
    snprintf(m.mood, sizeof m.mood, "%s", mood);
    snprintf(m.source, sizeof m.source, "stated");
    assert_int_equal(et_listener_mood_add(st, &p, &m, NULL, err), ET_OK);
    et_store_close(st);
}

/* GET .../next for `name` with a query; the reply (caller frees). */
static json_t *next(int port, const char *name, const char *query)
{
    char path[300];
    snprintf(path, sizeof path, "/api/v1/listeners/%s/next%s", name, query);
    int status;
    json_t *doc = ts_call_json(port, "GET", path, NULL, &status);
    if (status != 200)
        fail_msg("GET %s: %d", path, status);
    return doc;
}

/* Whether a queue holds a track titled `title`. */
static bool queue_has_title(const json_t *reply, const char *title)
{
    json_t *q = json_object_get(reply, "queue");
    for (size_t i = 0; i < json_array_size(q); i++)
        if (!strcmp(json_string_value(json_object_get(json_array_get(q, i), "title")), title))
            return true;
    return false;
}

/* A counter of /metrics (fails when absent). */
static long metric(int port, const char *name)
{
    ts_reply r = ts_http(port, "GET", "/metrics", "", NULL, 0);
    ts_check_reply(&r, 200);
    char key[128];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *at = strstr(r.body, key);
    if (!at)
        fail_msg("/metrics has no %s", name);
    long v = atol(at + strlen(key));
    ts_reply_free(&r);
    return v;
}

/* The server answers while its first scan runs (held after its walk, its
 * files counted), refuses a second scan meanwhile (409), and once the scan
 * is done the songs are recommended; a file added later is found by a scan
 * asked for through the API, and recommended without a restart. */
static void music_folders_are_scanned_in_the_background_and_on_request(void **state)
{
    fixture *f = *state;
    make_song(f->music, "Alpha", 220);
    make_song(f->music, "Beta", 330);
    make_song(f->music, "Gamma", 440);
    f->a = start(f, f->music);
    int port = et_server_port(f->a);
    int fd = hold_scan(port);
    json_t *p = scan_progress(port);
    assert_string_equal(state_of(p), "running");
    assert_int_equal(field(p, "files"), 3);
    assert_int_equal(field(p, "done"), 0);
    assert_int_equal(field(p, "scans"), 1);
    /* without a token, the folder by its last name only (issue 23) */
    assert_string_equal(json_string_value(json_array_get(json_object_get(p, "folders"), 0)),
                        "music");
    json_decref(p);
    ts_reply r = ts_http(port, "GET", "/healthz", "", NULL, 0); /* it answers meanwhile */
    ts_check_reply(&r, 200);
    ts_reply_free(&r);
    r = ts_http(port, "POST", "/api/v1/library/scan", "", NULL, 0);
    ts_check_reply(&r, 409);
    assert_non_null(strstr(r.body, "\"conflict\""));
    ts_reply_free(&r);
    assert_int_equal(metric(port, "emotune_scan_running"), 1);
    close(fd);
    p = scan_over(port, 1);
    assert_string_equal(state_of(p), "done");
    assert_int_equal(field(p, "added"), 3);
    assert_int_equal(field(p, "done"), 3);
    assert_int_equal(field(p, "failed"), 0);
    assert_true(json_is_null(json_object_get(p, "error")));
    assert_true(json_number_value(json_object_get(p, "finished")) >=
                json_number_value(json_object_get(p, "started")));
    json_decref(p);
    assert_int_equal(metric(port, "emotune_scan_running"), 0);
    assert_int_equal(metric(port, "emotune_scan_files_done"), 3);
    assert_int_equal(metric(port, "emotune_scans_total"), 1);

    remember_mood(f, "x", "calm");
    json_t *q = next(port, "x", "?count=3&peek=1");
    assert_int_equal(field(q, "library"), 3);
    assert_true(queue_has_title(q, "Alpha") && queue_has_title(q, "Beta") &&
                queue_has_title(q, "Gamma"));
    assert_string_equal(json_string_value(json_object_get(json_array_get(
                            json_object_get(q, "queue"), 0), "kind")),
                        "file");
    json_decref(q);

    make_song(f->music, "Delta", 550);
    r = ts_http(port, "POST", "/api/v1/library/scan", "", NULL, 0);
    ts_check_reply(&r, 202);
    json_t *started = json_loads(r.body, 0, NULL);
    assert_string_equal(state_of(started), "running");
    assert_int_equal(field(started, "scans"), 2);
    json_decref(started);
    ts_reply_free(&r);
    close(hold_scan(port));
    p = scan_over(port, 2);
    assert_string_equal(state_of(p), "done");
    assert_int_equal(field(p, "added"), 1);
    assert_int_equal(field(p, "unchanged"), 3);
    json_decref(p);
    q = next(port, "x", "?count=4&peek=1"); /* four songs, none twice: all of them */
    assert_int_equal(field(q, "library"), 4);
    assert_true(queue_has_title(q, "Delta"));
    json_decref(q);
}

/* Without music folders there is nothing to scan: 400, and the progress
 * says no scan ran. */
static void a_server_without_music_folders_refuses_a_scan(void **state)
{
    fixture *f = *state;
    f->a = start(f, NULL);
    int port = et_server_port(f->a);
    ts_reply r = ts_http(port, "POST", "/api/v1/library/scan", "", NULL, 0);
    ts_check_reply(&r, 400);
    assert_non_null(strstr(r.body, "--music"));
    ts_reply_free(&r);
    json_t *p = scan_progress(port);
    assert_string_equal(state_of(p), "idle");
    assert_int_equal(field(p, "scans"), 0);
    json_decref(p);
    /* a folder that does not exist is refused at start */
    et_server_opts o = et_server_default_opts();
    o.listen = "127.0.0.1:0";
    o.store_uri = f->store;
    o.models_dir = ts_models_dir();
    const char *dirs[] = {"/nonexistent/music"};
    o.music_dirs = dirs;
    o.n_music_dirs = 1;
    et_server *s = NULL;
    char err[ET_ERR_MAX];
    assert_int_equal(et_server_start(&o, &s, err), ET_E_INVALID);
    assert_null(s);
    assert_non_null(strstr(err, "/nonexistent/music"));
}

static ts_reply post_import(int port, const char *query, const char *body, size_t len)
{
    char path[200];
    snprintf(path, sizeof path, "/api/v1/library/import%s", query);
    return ts_http(port, "POST", path, "Content-Type: text/plain\r\n", body, len);
}

/* The number of tracks (the health route counts them). */
static json_int_t tracks(int port)
{
    int status;
    json_t *h = ts_call_json(port, "GET", "/healthz", NULL, &status);
    assert_int_equal(status, 200);
    json_int_t n = field(h, "tracks");
    json_decref(h);
    return n;
}

static uint64_t library_stamp(fixture *f)
{
    et_store *st;
    char err[ET_ERR_MAX];
    uint64_t v;
    assert_int_equal(et_store_open(f->store, NULL, &st, err), ET_OK);
    assert_int_equal(et_library_stamp(st, &v, err), ET_OK);
    et_store_close(st);
    return v;
}

/* A catalogue posted as the body is imported as `emotune import` imports a
 * file: good lines stored, bad ones listed with their line; again, nothing
 * changes. A body that gives no link (malformed JSON, broken CSV, binary
 * data), or bad parameters, is a 400 with a JSON error, and changes
 * nothing. */
static void catalogues_are_imported_from_the_body(void **state)
{
    fixture *f = *state;
    f->a = start(f, NULL);
    int port = et_server_port(f->a);
    const char good[] = "url,title,artist,mood\n"
                        "https://example.org/g1,G1,Ga,happy\n"
                        "ftp://example.org/g2,G2,Gb,sad\n"
                        "https://example.org/g3,G3,Gc,sad\n";
    ts_reply r = post_import(port, "", good, sizeof good - 1);
    ts_check_reply(&r, 200);
    json_t *rep = json_loads(r.body, 0, NULL);
    ts_reply_free(&r);
    assert_string_equal(json_string_value(json_object_get(rep, "format")), "csv");
    assert_int_equal(field(rep, "added"), 2);
    assert_int_equal(field(rep, "skipped"), 1);
    json_t *issue = json_array_get(json_object_get(rep, "issues"), 0);
    assert_int_equal(field(issue, "line"), 3);
    assert_non_null(strstr(json_string_value(json_object_get(issue, "message")), "scheme"));
    json_decref(rep);
    assert_int_equal(tracks(port), 2);
    r = post_import(port, "", good, sizeof good - 1);
    ts_check_reply(&r, 200);
    rep = json_loads(r.body, 0, NULL);
    assert_int_equal(field(rep, "added"), 0);
    assert_int_equal(field(rep, "unchanged"), 2);
    json_decref(rep);
    ts_reply_free(&r);
    const char m3u[] = "#EXTM3U\n#EXTMOOD:calm\n#EXTINF:200,Mx - Song M\nhttps://example.org/m\n";
    r = post_import(port, "?format=m3u8", m3u, sizeof m3u - 1);
    ts_check_reply(&r, 200);
    ts_reply_free(&r);
    assert_int_equal(tracks(port), 3);

    uint64_t stamp = library_stamp(f);
    const char nul[] = "url,title\nhttps://example.org/n,\0N\n";
    struct { const char *query, *body; size_t len; const char *says; } bad[] = {
        {"", "[{\"url\": \"https://example.org/j\"", 0, "not valid JSON"},
        {"", "{\"url\": \"https://example.org/j\"}", 0, "array"},
        {"", "url,title,artist,mood\njavascript:alert(1),x,y,sad\n\"unclosed,a,b,sad\n", 0,
         "no link could be imported"},
        {"", nul, sizeof nul - 1, "NUL"},
        {"?format=json", "https://example.org/q,Q,Qa,sad\n", 0, "array of objects"},
        {"?format=xml", "https://example.org/q,Q,Qa,sad\n", 0, "format"},
        {"?mood=elated", "https://example.org/q,Q,Qa,sad\n", 0, "elated"},
        {"", "[]", 0, "no link"},
        {"", "", 0, "post a catalogue"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        size_t len = bad[i].len ? bad[i].len : strlen(bad[i].body);
        r = post_import(port, bad[i].query, bad[i].body, len);
        if (r.status != 400 || !strstr(r.body, bad[i].says))
            fail_msg("bad catalogue %zu: %d %s", i, r.status, r.body);
        ts_check_reply(&r, 400);
        ts_reply_free(&r);
    }
    r = post_import(port, "", bad[2].body, strlen(bad[2].body));
    json_t *doc = json_loads(r.body, 0, NULL);
    json_t *issues = json_object_get(json_object_get(doc, "error"), "issues");
    assert_int_equal(json_array_size(issues), 2);
    assert_int_equal(field(json_array_get(issues, 0), "line"), 2);
    assert_int_equal(field(json_array_get(issues, 1), "line"), 3);
    json_decref(doc);
    ts_reply_free(&r);
    assert_int_equal(tracks(port), 3);
    assert_int_equal(library_stamp(f), stamp);
}

/* Posts a feedback body to a server; its status. */
static int feedback(int port, const char *name, const char *body)
{
    char path[200];
    snprintf(path, sizeof path, "/api/v1/listeners/%s/feedback", name);
    ts_reply r = ts_http(port, "POST", path, "Content-Type: application/json\r\n", body,
                         strlen(body));
    int status = r.status;
    ts_reply_free(&r);
    return status;
}

/* Two servers on one store: A keeps its listener's recommender inputs in
 * memory (a second request loads nothing), yet sees at its next request
 * what came through B or from a command: a catalogue imported (the library
 * grows), a track tagged (its point moves), feedback given (the skipped
 * track leaves A's next picks, as the same seed would otherwise give it
 * again). */
static void a_cached_recommender_sees_changes_made_through_another_server(void **state)
{
    fixture *f = *state;
    f->a = start(f, NULL);
    f->b = start(f, NULL);
    int a = et_server_port(f->a), b = et_server_port(f->b);
    char csv[4096] = "url,title,artist,mood\n";
    const char *moods[] = {"sad", "sad", "happy", "calm"};
    for (int i = 0; i < 16; i++)
        snprintf(csv + strlen(csv), sizeof csv - strlen(csv),
                 "https://example.org/c%d,C%d,Artist %d,%s\n", i, i, i, moods[i % 4]);
    ts_reply r = post_import(a, "", csv, strlen(csv));
    ts_check_reply(&r, 200);
    ts_reply_free(&r);
    remember_mood(f, "cx", "sad");

    json_t *q1 = next(a, "cx", "?count=3&peek=1&seed=11");
    assert_int_equal(field(q1, "library"), 16);
    long lib_loads = metric(a, "emotune_next_library_loads_total");
    long fb_loads = metric(a, "emotune_next_feedback_loads_total");
    json_t *again = next(a, "cx", "?count=3&peek=1&seed=11"); /* warm: nothing loaded */
    assert_true(json_equal(json_object_get(q1, "queue"), json_object_get(again, "queue")));
    json_decref(again);
    assert_int_equal(metric(a, "emotune_next_library_loads_total"), lib_loads);
    assert_int_equal(metric(a, "emotune_next_feedback_loads_total"), fb_loads);

    /* a catalogue through B */
    const char more[] = "https://example.org/n1,N1,New 1,sad\n"
                        "https://example.org/n2,N2,New 2,sad\n";
    r = post_import(b, "", more, sizeof more - 1);
    ts_check_reply(&r, 200);
    ts_reply_free(&r);
    json_t *q = next(a, "cx", "?count=18&peek=1&seed=11"); /* 18 songs, none twice: all */
    assert_int_equal(field(q, "library"), 18);
    assert_true(queue_has_title(q, "N1") && queue_has_title(q, "N2"));
    json_decref(q);
    assert_int_equal(metric(a, "emotune_next_library_loads_total"), lib_loads + 1);

    /* a tag from a command (its own store handle): C2, happy, becomes sad */
    et_store *st;
    char err[ET_ERR_MAX], id[19];
    et__catalog_link_id("https://example.org/c2", strlen("https://example.org/c2"), id);
    assert_int_equal(et_store_open(f->store, NULL, &st, err), ET_OK);
    assert_int_equal(et_library_tag(st, id, "sad", err), ET_OK);
    et_store_close(st);
    double sv, sa;
    assert_true(et_mood_named_point("sad", &sv, &sa));
    q = next(a, "cx", "?count=18&peek=1&seed=11");
    json_t *list = json_object_get(q, "queue");
    bool seen = false;
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *t = json_array_get(list, i);
        if (strcmp(json_string_value(json_object_get(t, "id")), id) != 0)
            continue;
        seen = true;
        assert_float_equal(json_number_value(json_object_get(t, "valence")), sv, 1e-6);
        assert_float_equal(json_number_value(json_object_get(t, "arousal")), sa, 1e-6);
    }
    assert_true(seen);
    json_decref(q);

    /* feedback through B: a skip of A's first pick, which A then leaves out */
    json_decref(q1);
    q1 = next(a, "cx", "?count=3&peek=1&seed=11");
    const char *first =
        json_string_value(json_object_get(json_array_get(json_object_get(q1, "queue"), 0), "id"));
    char body[300];
    snprintf(body, sizeof body, "{\"track\":\"%s\",\"kind\":\"skip\",\"at\":0,\"mood\":\"sad\"}",
             first);
    fb_loads = metric(a, "emotune_next_feedback_loads_total");
    lib_loads = metric(a, "emotune_next_library_loads_total");
    assert_int_equal(feedback(b, "cx", body), 200);
    json_t *q2 = next(a, "cx", "?count=3&peek=1&seed=11");
    json_t *queue2 = json_object_get(q2, "queue");
    for (size_t i = 0; i < json_array_size(queue2); i++)
        assert_string_not_equal(json_string_value(json_object_get(json_array_get(queue2, i),
                                                                   "id")),
                                first);
    assert_int_equal(metric(a, "emotune_next_feedback_loads_total"), fb_loads + 1);
    assert_int_equal(metric(a, "emotune_next_library_loads_total"), lib_loads);
    json_decref(q1);
    json_decref(q2);
    /* another listener's feedback is not this one's */
    remember_mood(f, "other", "sad");
    json_t *o = next(a, "other", "?count=3&peek=1&seed=11");
    json_decref(o);
    fb_loads = metric(a, "emotune_next_feedback_loads_total");
    assert_int_equal(feedback(b, "cx", body), 200);
    o = next(a, "other", "?count=3&peek=1&seed=11");
    json_decref(o);
    assert_int_equal(metric(a, "emotune_next_feedback_loads_total"), fb_loads);
}

int main(void)
{
    if (system("ffmpeg -version > /dev/null 2>&1") != 0) {
        fprintf(stderr, "test_server_library: the ffmpeg command is needed to make the test "
                        "audio (make deps installs it)\n");
        return 1;
    }
    char *dir = ts_tempdir();
    scan_fifo = malloc(strlen(dir) + 16);
    sprintf(scan_fifo, "%s/walked", dir);
    if (mkfifo(scan_fifo, 0600) != 0) {
        perror(scan_fifo);
        return 1;
    }
    setenv("EMOTUNE_TEST_SCAN_FIFO", scan_fifo, 1); /* before any thread */
    et_nn_set_blas_threads(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            music_folders_are_scanned_in_the_background_and_on_request, setup, teardown),
        cmocka_unit_test_setup_teardown(a_server_without_music_folders_refuses_a_scan, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(catalogues_are_imported_from_the_body, setup, teardown),
        cmocka_unit_test_setup_teardown(
            a_cached_recommender_sees_changes_made_through_another_server, setup, teardown),
    };
    int rc = cmocka_run_group_tests_name("server_library", tests, NULL, NULL);
    ts_rmtree(dir);
    free(dir);
    free(scan_fifo);
    return rc;
}
