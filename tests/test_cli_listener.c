/* `emotune recommend`, `feedback`, `history` and `profile` end to end: the
 * built binary on a real LMDB store, a library imported from a catalogue of
 * links with mood labels, and real face pictures (the face-api demo). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

typedef ts_cli_library fixture;

/* 12 links: 4 happy, 4 sad, 4 calm, each mood by two artists. */
static int setup(void **state)
{
    char line[256], *text = calloc(1, 4096);
    strcat(text, "url,title,artist,mood\n");
    const char *moods[] = {"happy", "sad", "calm"};
    for (int i = 0; i < 12; i++) {
        snprintf(line, sizeof line, "https://example.org/%s%d,%s song %d,%s artist %d,%s\n",
                 moods[i / 4], i, moods[i / 4], i, moods[i / 4], i % 2, moods[i / 4]);
        strcat(text, line);
    }
    fixture *f = ts_cli_library_new(text);
    free(text);
    *state = f;
    return f ? 0 : -1;
}

static int teardown(void **state)
{
    ts_cli_library_free(*state);
    return 0;
}

/* Runs `emotune ARGS --store STORE` (stderr to stdout); the exit status. */
static int emotune(const fixture *f, char **out, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int emotune(const fixture *f, char **out, const char *fmt, ...)
{
    char args[2048], cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s %s --store %s 2>&1", ts_bin(), args, f->store);
    return ts_run(cmd, out);
}

static json_t *emotune_json(const fixture *f, const char *args)
{
    char *out;
    int st = emotune(f, &out, "%s --json", args);
    if (st != 0)
        fail_msg("emotune %s: exit %d: %s", args, st, out);
    json_error_t e;
    json_t *doc = json_loads(out, 0, &e);
    if (!doc)
        fail_msg("emotune %s: not JSON: %s", args, out);
    free(out);
    return doc;
}

static size_t history_size(const fixture *f, const char *key, const char *listener)
{
    char args[128];
    snprintf(args, sizeof args, "history --listener %s", listener);
    json_t *h = emotune_json(f, args);
    size_t n = json_array_size(json_object_get(h, key));
    json_decref(h);
    return n;
}

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    assert_non_null(s);
    return s;
}

static void a_stated_mood_gives_a_queue_of_that_mood_and_is_remembered(void **state)
{
    fixture *f = *state;
    json_t *q = emotune_json(f, "recommend --mood sad --count 3 --seed 7 --peek");
    assert_string_equal(str(json_object_get(q, "mood"), "name"), "sad");
    assert_string_equal(str(json_object_get(q, "mood"), "source"), "stated");
    assert_string_equal(str(q, "policy"), "match");
    assert_int_equal(json_integer_value(json_object_get(q, "seed")), 7);
    json_t *queue = json_object_get(q, "queue");
    assert_int_equal(json_array_size(queue), 3);
    const char *prev_artist = "";
    for (size_t i = 0; i < 3; i++) {
        json_t *t = json_array_get(queue, i);
        /* the catalogue labelled these sad (their point is the table's sad) */
        assert_non_null(strstr(str(t, "title"), "sad song"));
        assert_non_null(strstr(str(t, "reason"), "sad"));
        assert_string_equal(str(t, "kind"), "link");
        assert_string_not_equal(str(t, "artist"), prev_artist); /* never twice in a row */
        prev_artist = str(t, "artist");
    }
    /* the same seed gives the same queue (--peek recorded nothing) */
    json_t *again = emotune_json(f, "recommend --mood sad --count 3 --seed 7 --peek");
    assert_true(json_equal(json_object_get(q, "queue"), json_object_get(again, "queue")));
    json_decref(again);
    json_decref(q);
    assert_int_equal(history_size(f, "moods", "default"), 2);
    /* without a mood: the newest in the history, not added again */
    q = emotune_json(f, "recommend --count 2");
    assert_string_equal(str(json_object_get(q, "mood"), "name"), "sad");
    json_decref(q);
    assert_int_equal(history_size(f, "moods", "default"), 2);
    /* a point: the nearest named mood */
    q = emotune_json(f, "recommend --valence 0.7 --arousal 0.45 --count 1");
    assert_string_equal(str(json_object_get(q, "mood"), "name"), "happy");
    json_decref(q);
}

/* The ids of a queue, joined by spaces (caller frees). */
static char *queue_ids(json_t *q)
{
    char *out = calloc(1, 4096);
    assert_non_null(out);
    json_t *queue = json_object_get(q, "queue");
    for (size_t i = 0; i < json_array_size(queue); i++) {
        strncat(out, str(json_array_get(queue, i), "id"), 4096 - strlen(out) - 2);
        strcat(out, " ");
    }
    return out;
}

/* Two recommends one after the other (two processes on one store, as two
 * servers would be) do not hand out the same songs: each records its queue
 * and the next goes on from it. The library has 12 tracks (window 11). */
static void consecutive_recommends_do_not_repeat_songs(void **state)
{
    fixture *f = *state;
    json_t *q1 = emotune_json(f, "recommend --mood sad --count 4 --seed 1");
    json_t *q2 = emotune_json(f, "recommend --mood sad --count 4 --seed 1");
    char *ids1 = queue_ids(q1), *ids2 = queue_ids(q2);
    json_t *queue = json_object_get(q2, "queue");
    for (size_t i = 0; i < json_array_size(queue); i++) {
        char needle[200];
        snprintf(needle, sizeof needle, "%s ", str(json_array_get(queue, i), "id"));
        if (strstr(ids1, needle))
            fail_msg("the second queue (%s) repeats %s from the first (%s)", ids2, needle, ids1);
    }
    /* --peek looks without recording: twice the same queue with one seed */
    json_t *p1 = emotune_json(f, "recommend --mood sad --count 4 --seed 2 --peek");
    json_t *p2 = emotune_json(f, "recommend --mood sad --count 4 --seed 2 --peek");
    assert_true(json_equal(json_object_get(p1, "queue"), json_object_get(p2, "queue")));
    free(ids1);
    free(ids2);
    json_decref(q1);
    json_decref(q2);
    json_decref(p1);
    json_decref(p2);
}

static void feedback_is_kept_with_the_mood_and_steers_the_queue(void **state)
{
    fixture *f = *state;
    json_t *q = emotune_json(f, "recommend --mood happy --count 1 --seed 3");
    char id[128];
    snprintf(id, sizeof id, "%s", str(json_array_get(json_object_get(q, "queue"), 0), "id"));
    json_decref(q);
    char args[300];
    snprintf(args, sizeof args, "feedback %s like", id);
    json_t *fb = emotune_json(f, args);
    assert_string_equal(str(fb, "kind"), "like");
    assert_string_equal(str(fb, "mood"), "happy"); /* the newest mood */
    json_decref(fb);
    snprintf(args, sizeof args, "feedback %s skip --at 12 --mood calm", id);
    fb = emotune_json(f, args);
    assert_string_equal(str(fb, "mood"), "calm");
    assert_true(json_number_value(json_object_get(fb, "at")) == 12);
    json_decref(fb);
    json_t *h = emotune_json(f, "history");
    json_t *list = json_object_get(h, "feedback");
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(str(json_array_get(list, 0), "track"), id);
    assert_string_equal(str(json_array_get(list, 1), "kind"), "skip");
    json_decref(h);
    /* the song just heard waits: it is not first in the next queue (4 happy
     * songs, window 11) */
    q = emotune_json(f, "recommend --mood happy --count 3 --seed 3");
    json_t *queue = json_object_get(q, "queue");
    for (size_t i = 0; i < 3; i++)
        assert_string_not_equal(str(json_array_get(queue, i), "id"), id);
    json_decref(q);
    /* the table says it too */
    char *out;
    assert_int_equal(emotune(f, &out, "history"), 0);
    assert_non_null(strstr(out, "like"));
    assert_non_null(strstr(out, id));
    free(out);
}

static void bad_input_is_refused_and_changes_nothing(void **state)
{
    fixture *f = *state;
    char *out;
    assert_int_equal(emotune(f, &out, "recommend --mood happy --count 1"), 0);
    free(out);
    size_t moods = history_size(f, "moods", "default");
    size_t fbs = history_size(f, "feedback", "default");
    const struct {
        const char *args;
        int status;
        const char *says;
    } cases[] = {
        {"recommend --mood glad", 2, "unknown mood 'glad'"},
        {"recommend --mood happy --policy up", 2, "unknown policy"},
        {"recommend --valence 2 --arousal 0", 2, "from -1 to 1"},
        {"recommend --valence 0.5", 2, "go together"},
        {"recommend --mood sad --valence 0 --arousal 0", 2, "not both"},
        {"recommend --mood sad --count 0", 2, "--count"},
        {"recommend --mood sad --seed -4", 2, "--seed"},
        {"recommend --mood sad --listener ../etc", 2, "listener name"},
        {"feedback no-such-track like", 1, "no track no-such-track"},
        {"feedback u-x love", 2, "unknown feedback 'love'"},
        {"feedback ../x like", 1, "not a track id"},
        {"feedback u-x like --at -3", 2, "--at"},
        {"profile --policy up", 2, "unknown policy"},
        {"profile --tau 0", 2, "smoothing"},
        {"profile --history-max 1.5", 2, "whole number"},
        {"profile --feedback-max 0", 2, "--feedback-max wants a whole number"},
        {"profile --feedback-days 0", 2, "feedback retention"},
        {"profile --tau 2 --feedback-days 40000", 2, "feedback retention"},
        {"profile --listener a..b", 2, "'..'"},
        {"history extra", 2, "no operand"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int st = emotune(f, &out, "%s", cases[i].args);
        if (st != cases[i].status || !strstr(out, cases[i].says))
            fail_msg("'%s': exit %d, said: %s", cases[i].args, st, out);
        free(out);
    }
    assert_int_equal(history_size(f, "moods", "default"), moods);
    assert_int_equal(history_size(f, "feedback", "default"), fbs);
    json_t *p = emotune_json(f, "profile");
    assert_string_equal(str(p, "policy"), "match");
    assert_false(json_is_true(json_object_get(p, "stored")));
    json_decref(p);
}

static void profiles_are_per_listener_and_set_the_policy(void **state)
{
    fixture *f = *state;
    json_t *p = emotune_json(f, "profile --listener ann --policy calm --history-max 3");
    assert_string_equal(str(p, "policy"), "calm");
    assert_int_equal(json_integer_value(json_object_get(p, "history_max")), 3);
    json_decref(p);
    /* a change sets only what it names: the policy and history limit stay */
    p = emotune_json(f, "profile --listener ann --feedback-max 40 --feedback-days 7");
    assert_string_equal(str(p, "policy"), "calm");
    assert_int_equal(json_integer_value(json_object_get(p, "history_max")), 3);
    assert_int_equal(json_integer_value(json_object_get(p, "feedback_max")), 40);
    assert_true(json_number_value(json_object_get(p, "feedback_days")) == 7);
    json_decref(p);
    json_t *q = emotune_json(f, "recommend --listener ann --mood happy --count 4 --seed 1");
    assert_string_equal(str(q, "policy"), "calm");
    /* calm: the target's arousal falls song after song */
    json_t *queue = json_object_get(q, "queue");
    double prev = 2;
    for (size_t i = 0; i < 4; i++) {
        double a = json_number_value(json_object_get(json_array_get(queue, i), "target_arousal"));
        assert_true(a < prev);
        prev = a;
    }
    json_decref(q);
    /* ann's history keeps 3; the default listener's is untouched */
    for (int i = 0; i < 4; i++) {
        char *out;
        assert_int_equal(emotune(f, &out, "recommend --listener ann --mood sad --count 1"), 0);
        free(out);
    }
    assert_int_equal(history_size(f, "moods", "ann"), 3);
    assert_int_equal(history_size(f, "moods", "default"), 0);
    /* $EMOTUNE_LISTENER names the listener too */
    char cmd[2048], *out;
    snprintf(cmd, sizeof cmd, "EMOTUNE_LISTENER=ann %s profile --json --store %s", ts_bin(),
             f->store);
    assert_int_equal(ts_run(cmd, &out), 0);
    assert_non_null(strstr(out, "\"policy\":\"calm\""));
    free(out);
    json_t *names = emotune_json(f, "profile --list");
    assert_int_equal(json_array_size(names), 1);
    assert_string_equal(json_string_value(json_array_get(names, 0)), "ann");
    json_decref(names);
}

static void the_mood_can_come_from_a_face(void **state)
{
    fixture *f = *state;
    /* sample2.jpg: one face, sad (0.86 by emotune detect and by face-api);
     * sample1.jpg: the largest face is happy (0.99) */
    const struct {
        int sample;
        const char *mood;
    } cases[] = {{2, "sad"}, {1, "happy"}};
    for (size_t i = 0; i < 2; i++) {
        char args[1024];
        snprintf(args, sizeof args, "recommend --count 2 --models %s --image %s/sample%d.jpg",
                 ts_models_dir(), ts_demo_dir(), cases[i].sample);
        json_t *q = emotune_json(f, args);
        json_t *m = json_object_get(q, "mood");
        assert_string_equal(str(m, "source"), "face");
        assert_string_equal(str(m, "name"), cases[i].mood);
        double c = json_number_value(json_object_get(m, "confidence"));
        assert_true(c > 0.3 && c <= 1);
        assert_int_equal(json_array_size(json_object_get(q, "queue")), 2);
        json_decref(q);
    }
    json_t *h = emotune_json(f, "history");
    json_t *moods = json_object_get(h, "moods");
    assert_int_equal(json_array_size(moods), 2);
    assert_string_equal(str(json_array_get(moods, 0), "source"), "face");
    json_t *smiling = json_object_get(json_array_get(moods, 1), "smiling");
    assert_true(json_number_value(smiling) == 1.0); /* the happy face smiles */
    json_decref(h);
    /* no face, or a file that is no picture: exit 1, nothing recorded */
    char png[700], *out;
    snprintf(png, sizeof png, "%s/notes.png", f->dir);
    ts_write_file(png, "just text", 9);
    assert_int_equal(emotune(f, &out, "recommend --models %s --image %s", ts_models_dir(), png),
                     1);
    assert_non_null(strstr(out, "notes.png"));
    free(out);
    assert_int_equal(history_size(f, "moods", "default"), 2);
    assert_int_equal(emotune(f, &out, "recommend --image"), 2);
    free(out);
}

static void an_empty_library_says_what_to_do_and_records_nothing(void **state)
{
    (void)state;
    fixture empty = {ts_tempdir(), ""};
    snprintf(empty.store, sizeof empty.store, "lmdb:%s/db", empty.dir);
    char *out;
    assert_int_equal(emotune(&empty, &out, "recommend --mood calm"), 1);
    assert_non_null(strstr(out, "emotune scan"));
    free(out);
    assert_int_equal(history_size(&empty, "moods", "default"), 0);
    assert_int_equal(emotune(&empty, &out, "recommend"), 2);
    assert_non_null(strstr(out, "no mood known"));
    free(out);
    ts_rmtree(empty.dir);
    free(empty.dir);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(a_stated_mood_gives_a_queue_of_that_mood_and_is_remembered),
        T(consecutive_recommends_do_not_repeat_songs),
        T(feedback_is_kept_with_the_mood_and_steers_the_queue),
        T(bad_input_is_refused_and_changes_nothing),
        T(profiles_are_per_listener_and_set_the_policy),
        T(the_mood_can_come_from_a_face),
        cmocka_unit_test(an_empty_library_says_what_to_do_and_records_nothing),
    };
    return cmocka_run_group_tests_name("listener commands", tests, NULL, NULL);
}
