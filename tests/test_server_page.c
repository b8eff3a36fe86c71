/* What the web page reads besides the other routes, over real HTTP on a
 * loopback port with a real LMDB store: GET /api/v1/moods (the named moods
 * the page marks on its plane) and GET /api/v1/listeners/{name}/feedback
 * (newest first), with their bad requests. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "server/server.h"
#include "http_support.h"
#include "support.h"

/* The named moods are the README's table (emotune's placements after
 * Russell's circumplex), in its order. */
static void the_named_moods_are_the_documented_table(void **state)
{
    ts_server_fixture *f = *state;
    static const struct {
        const char *name;
        double v, a;
    } want[] = {{"happy", 0.8, 0.5},      {"calm", 0.3, -0.6},      {"sad", -0.7, -0.4},
                {"angry", -0.6, 0.7},     {"tense", -0.5, 0.6},     {"disgusted", -0.7, 0.2},
                {"surprised", 0.3, 0.8},  {"energetic", 0.4, 0.8},  {"excited", 0.6, 0.7}};
    int status;
    json_t *doc = ts_call_json(f->port, "GET", "/api/v1/moods", NULL, &status);
    assert_int_equal(status, 200);
    json_t *moods = json_object_get(doc, "moods");
    assert_int_equal(json_array_size(moods), sizeof want / sizeof *want);
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        json_t *m = json_array_get(moods, i);
        assert_string_equal(json_string_value(json_object_get(m, "name")), want[i].name);
        assert_true(fabs(json_number_value(json_object_get(m, "valence")) - want[i].v) < 1e-9);
        assert_true(fabs(json_number_value(json_object_get(m, "arousal")) - want[i].a) < 1e-9);
    }
    json_decref(doc);
    ts_reply r = ts_http(f->port, "POST", "/api/v1/moods", "", "{}", 2);
    ts_check_reply(&r, 405);
    ts_reply_free(&r);
}

/* The id of the library's track titled title (emotune tracks --json on
 * the server's store, from another process as LMDB allows). */
static char *track_id(ts_server_fixture *f, const char *title)
{
    char cmd[1000], *out;
    snprintf(cmd, sizeof cmd, "%s tracks --json --store %s", ts_bin(), f->store);
    assert_int_equal(ts_run(cmd, &out), 0);
    json_t *lines = ts_json_lines(out);
    free(out);
    char *id = NULL;
    json_t *t;
    size_t i;
    json_array_foreach(lines, i, t) {
        if (!strcmp(json_string_value(json_object_get(t, "title")), title))
            id = strdup(json_string_value(json_object_get(t, "id")));
    }
    json_decref(lines);
    if (!id)
        fail_msg("no track titled %s", title);
    return id;
}

/* POSTs a feedback {track, kind, at?, mood: happy} for the listener. */
static void post_feedback(int port, const char *listener, const char *track, const char *kind,
                          double at)
{
    char path[128], body[300];
    snprintf(path, sizeof path, "/api/v1/listeners/%s/feedback", listener);
    if (at >= 0)
        snprintf(body, sizeof body, "{\"track\":\"%s\",\"kind\":\"%s\",\"at\":%g,"
                                    "\"mood\":\"happy\"}", track, kind, at);
    else
        snprintf(body, sizeof body, "{\"track\":\"%s\",\"kind\":\"%s\",\"mood\":\"happy\"}",
                 track, kind);
    int status;
    json_decref(ts_call_json(port, "POST", path, body, &status));
    if (status != 200)
        fail_msg("feedback %s: status %d", body, status);
}

static json_t *feedback_list(int port, const char *listener, const char *query, int *status)
{
    char path[200];
    snprintf(path, sizeof path, "/api/v1/listeners/%s/feedback%s", listener, query);
    return ts_call_json(port, "GET", path, NULL, status);
}

/* Feedback given through the API comes back newest first, the listener's
 * own only, limit at a time with the total; bad limits and names 400. */
static void a_listeners_feedback_is_listed_newest_first(void **state)
{
    ts_server_fixture *f = *state;
    const char csv[] = "url,title,artist,mood\n"
                       "https://example.org/a,Alpha,One,happy\n"
                       "https://example.org/b,Beta,Two,happy\n";
    ts_reply r = ts_http(f->port, "POST", "/api/v1/library/import", "Content-Type: text/csv\r\n",
                         csv, sizeof csv - 1);
    ts_check_reply(&r, 200);
    ts_reply_free(&r);
    int status;
    json_t *doc = feedback_list(f->port, "ann", "", &status);
    assert_int_equal(status, 200); /* none yet */
    assert_int_equal(json_array_size(json_object_get(doc, "feedback")), 0);
    assert_int_equal(json_integer_value(json_object_get(doc, "total")), 0);
    json_decref(doc);
    char *alpha = track_id(f, "Alpha"), *beta = track_id(f, "Beta");
    post_feedback(f->port, "ann", alpha, "like", -1);
    post_feedback(f->port, "ann", alpha, "skip", 30);
    post_feedback(f->port, "ann", beta, "complete", -1);
    post_feedback(f->port, "bob", beta, "like", -1); /* another listener's */
    doc = feedback_list(f->port, "ann", "", &status);
    assert_int_equal(status, 200);
    json_t *list = json_object_get(doc, "feedback");
    assert_int_equal(json_array_size(list), 3);
    assert_int_equal(json_integer_value(json_object_get(doc, "total")), 3);
    const char *kinds[] = {"complete", "skip", "like"}, *tracks[] = {beta, alpha, alpha};
    for (size_t i = 0; i < 3; i++) {
        json_t *e = json_array_get(list, i);
        assert_string_equal(json_string_value(json_object_get(e, "kind")), kinds[i]);
        assert_string_equal(json_string_value(json_object_get(e, "track")), tracks[i]);
        assert_string_equal(json_string_value(json_object_get(e, "listener")), "ann");
        assert_string_equal(json_string_value(json_object_get(e, "mood")), "happy");
    }
    assert_true(json_number_value(json_object_get(json_array_get(list, 1), "at")) == 30);
    json_decref(doc);
    doc = feedback_list(f->port, "ann", "?limit=1", &status);
    assert_int_equal(status, 200);
    assert_int_equal(json_array_size(json_object_get(doc, "feedback")), 1);
    assert_int_equal(json_integer_value(json_object_get(doc, "total")), 3);
    json_decref(doc);
    const char *bad[] = {"?limit=0", "?limit=1001", "?limit=2.5", "?limit=x", "?limit="};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_decref(feedback_list(f->port, "ann", bad[i], &status));
        if (status != 400)
            fail_msg("feedback%s: status %d, expected 400", bad[i], status);
    }
    json_decref(feedback_list(f->port, ".hidden", "", &status));
    assert_int_equal(status, 400);
    free(alpha);
    free(beta);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_named_moods_are_the_documented_table),
        cmocka_unit_test(a_listeners_feedback_is_listed_newest_first),
    };
    return cmocka_run_group_tests_name("server_page", tests, ts_server_setup, ts_server_teardown);
}
