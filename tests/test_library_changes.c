/* What tells a cache that the library or a listener's feedback changed: the
 * store's stamps, the library's stamp bumped by imports, tags and scans
 * (real audio made by the ffmpeg command), the feedback's stamp; a scan's
 * progress; a catalogue imported from memory; an import that rewrites a
 * stored link keeping a tag set meanwhile (the lost update of issue 11);
 * a session made from a loaded library equal to one opened from the store.
 * A real LMDB store in a temporary directory. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "library/library.h"
#include "library/library_internal.h"
#include "listener/listener.h"
#include "mood/mood.h"
#include "support.h"

typedef struct fixture {
    char *dir;
    char uri[600];
    et_store *s;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = ts_tempdir();
    snprintf(f->uri, sizeof f->uri, "lmdb:%s/store", f->dir);
    char err[ET_ERR_MAX];
    if (et_store_open(f->uri, NULL, &f->s, err) != ET_OK) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    et_store_close(f->s);
    ts_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static uint64_t library_stamp(et_store *s)
{
    uint64_t n = 12345;
    char err[ET_ERR_MAX];
    if (et_library_stamp(s, &n, err) != ET_OK)
        fail_msg("library stamp: %s", err);
    return n;
}

static et_import_report import_text(et_store *s, const char *text, et_catalog_format format)
{
    et_import_report r;
    char err[ET_ERR_MAX] = "";
    if (et_library_import_data(s, text, strlen(text), format, "test", NULL, &r, err) != ET_OK)
        fail_msg("import: %s", err);
    return r;
}

/* The JSON document of a track (caller frees). */
static json_t *track(et_store *s, const char *id)
{
    char *text = NULL;
    if (et_store_get(s, ET_LIBRARY_TRACKS, id, &text, NULL, NULL) != ET_OK)
        fail_msg("no track %s", id);
    json_t *doc = json_loads(text, 0, NULL);
    free(text);
    return doc;
}

static void link_id(const char *url, char id[19]) { et__catalog_link_id(url, strlen(url), id); }

/* An absent stamp reads 0; each bump adds one, from two handles (as two
 * servers) alike; deleted and bumped again, it does not start where it
 * was. */
static void a_stamp_counts_every_bump_from_every_handle(void **state)
{
    fixture *f = *state;
    et_store *other;
    char err[ET_ERR_MAX];
    assert_int_equal(et_store_open(f->uri, NULL, &other, err), ET_OK);
    uint64_t v = 99, first, now;
    assert_int_equal(et_store_stamp_read(f->s, "stamps", "x", &v, err), ET_OK);
    assert_int_equal(v, 0);
    assert_int_equal(et_store_stamp_bump(f->s, "stamps", "x", &first, err), ET_OK);
    assert_true(first > 0);
    assert_true(first < (UINT64_C(1) << 48));
    for (int i = 0; i < 10; i++)
        assert_int_equal(et_store_stamp_bump(i % 2 ? other : f->s, "stamps", "x", NULL, err),
                         ET_OK);
    assert_int_equal(et_store_stamp_read(other, "stamps", "x", &now, err), ET_OK);
    assert_int_equal(now, first + 10);
    assert_int_equal(et_store_del(f->s, "stamps", "x", err), ET_OK);
    assert_int_equal(et_store_stamp_read(f->s, "stamps", "x", &v, err), ET_OK);
    assert_int_equal(v, 0);
    assert_int_equal(et_store_stamp_bump(f->s, "stamps", "x", &v, err), ET_OK);
    assert_true(v != first + 11);
    et_store_close(other);
}

/* An import that writes moves the library's stamp; one that changes
 * nothing, or is refused, does not; a tag does. */
static void imports_and_tags_bump_the_library_stamp(void **state)
{
    fixture *f = *state;
    const char *csv = "url,title,artist,mood\n"
                      "https://example.org/a,A,X,happy\nhttps://example.org/b,B,Y,sad\n";
    uint64_t s0 = library_stamp(f->s);
    assert_int_equal(s0, 0);
    et_import_report r = import_text(f->s, csv, ET_CATALOG_AUTO);
    assert_int_equal(r.added, 2);
    assert_int_equal(r.updated, 0);
    et_import_report_free(&r);
    uint64_t s1 = library_stamp(f->s);
    assert_true(s1 != s0);
    r = import_text(f->s, csv, ET_CATALOG_AUTO);
    assert_int_equal(r.added, 0);
    assert_int_equal(r.unchanged, 2);
    et_import_report_free(&r);
    assert_int_equal(library_stamp(f->s), s1);
    char err[ET_ERR_MAX];
    const char bad[] = "[{\"url\": \"https://example.org/c\"";
    assert_int_equal(et_library_import_data(f->s, bad, strlen(bad), ET_CATALOG_AUTO, NULL, NULL,
                                            &r, err),
                     ET_E_INVALID);
    assert_int_equal(library_stamp(f->s), s1);
    char id[19];
    link_id("https://example.org/a", id);
    assert_int_equal(et_library_tag(f->s, id, "calm", err), ET_OK);
    assert_int_equal(library_stamp(f->s), s1 + 1);
    /* a link whose title changed is rewritten: updated, and the stamp moves */
    r = import_text(f->s, "url,title,artist,mood\nhttps://example.org/a,A2,X,happy\n",
                    ET_CATALOG_AUTO);
    assert_int_equal(r.added, 1);
    assert_int_equal(r.updated, 1);
    et_import_report_free(&r);
    assert_int_equal(library_stamp(f->s), s1 + 2);
    json_t *doc = track(f->s, id);
    assert_string_equal(json_string_value(json_object_get(doc, "title")), "A2");
    assert_string_equal(json_string_value(json_object_get(doc, "mood")), "calm");
    json_decref(doc);
}

/* A catalogue in memory is read as a file would be, or as the format
 * stated; a body that is not a catalogue is refused and writes nothing. */
static void a_catalogue_in_memory_imports_as_a_file_does(void **state)
{
    fixture *f = *state;
    const char *json = "[{\"url\":\"https://example.org/j\",\"title\":\"J\",\"mood\":\"sad\"},"
                       "{\"url\":\"ftp://example.org/k\",\"mood\":\"sad\"}]";
    et_import_report r = import_text(f->s, json, ET_CATALOG_AUTO);
    assert_int_equal(r.added, 1);
    assert_int_equal(r.skipped, 1);
    assert_int_equal(r.n_issues, 1);
    assert_non_null(strstr(r.issues[0].message, "scheme"));
    et_import_report_free(&r);
    char id[19];
    link_id("https://example.org/j", id);
    json_t *doc = track(f->s, id);
    assert_string_equal(json_string_value(json_object_get(doc, "source")), "test");
    assert_string_equal(json_string_value(json_object_get(doc, "catalog_mood")), "sad");
    json_decref(doc);
    /* a bare URL line reads as M3U by content; stated as CSV, it is a CSV
     * record without a mood, reported */
    const char *m3u = "#EXTMOOD:calm\nhttps://example.org/m\n";
    r = import_text(f->s, m3u, ET_CATALOG_AUTO);
    assert_int_equal(r.added, 1);
    et_import_report_free(&r);
    r = import_text(f->s, "https://example.org/n\n", ET_CATALOG_CSV);
    assert_int_equal(r.added, 0);
    assert_int_equal(r.skipped, 1);
    et_import_report_free(&r);
    size_t n;
    assert_int_equal(et_store_count(f->s, ET_LIBRARY_TRACKS, &n, NULL), ET_OK);
    assert_int_equal(n, 2);
    char err[ET_ERR_MAX];
    const char nul[] = "url,title\nhttps://example.org/z,\0Z\n";
    assert_int_equal(et_library_import_data(f->s, nul, sizeof nul - 1, ET_CATALOG_AUTO, NULL,
                                            NULL, &r, err),
                     ET_E_INVALID);
    assert_int_equal(et_library_import_data(f->s, m3u, strlen(m3u), ET_CATALOG_JSON, NULL, NULL,
                                            &r, err),
                     ET_E_INVALID);
    assert_int_equal(et_library_import_data(f->s, m3u, strlen(m3u), ET_CATALOG_AUTO, NULL,
                                            "elated", &r, err),
                     ET_E_INVALID);
    assert_int_equal(et_store_count(f->s, ET_LIBRARY_TRACKS, &n, NULL), ET_OK);
    assert_int_equal(n, 2);
    et_catalog_format fmt;
    assert_int_equal(et_catalog_format_parse("m3u8", &fmt, NULL), ET_OK);
    assert_int_equal(fmt, ET_CATALOG_M3U);
    assert_int_equal(et_catalog_format_parse("xml", &fmt, err), ET_E_INVALID);
}

typedef struct import_job {
    const char *uri;
    const char *text;
    et_status st;
    et_import_report rep;
    atomic_bool over;
} import_job;

static void *import_thread(void *arg)
{
    import_job *j = arg;
    et_store *s;
    char err[ET_ERR_MAX];
    j->st = et_store_open(j->uri, NULL, &s, err);
    if (j->st == ET_OK) {
        j->st = et_library_import_data(s, j->text, strlen(j->text), ET_CATALOG_AUTO, "again",
                                       NULL, &j->rep, err);
        et_store_close(s);
    }
    if (j->st != ET_OK)
        fprintf(stderr, "import: %s\n", err);
    atomic_store(&j->over, true);
    return NULL;
}

/* The lost update of issue 11: an import that rewrites a stored link (its
 * title changed) while the listener tags it keeps both the tag and the new
 * title. The import waits on a FIFO right before its write
 * (EMOTUNE_TEST_IMPORT_WRITE_FIFO, library.h); the tag is set then. The
 * order is certain: a FIFO opens for writing only once its reader has it
 * open. */
static void a_tag_set_while_an_import_rewrites_a_link_is_kept(void **state)
{
    fixture *f = *state;
    et_import_report r = import_text(f->s, "https://example.org/t,Old title,X,happy\n",
                                     ET_CATALOG_CSV);
    assert_int_equal(r.added, 1);
    et_import_report_free(&r);
    char fifo[700], id[19], err[ET_ERR_MAX];
    snprintf(fifo, sizeof fifo, "%s/before-write", f->dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    setenv("EMOTUNE_TEST_IMPORT_WRITE_FIFO", fifo, 1);
    import_job j = {.uri = f->uri, .text = "https://example.org/t,New title,X,happy\n"};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, import_thread, &j), 0);
    int fd;
    while ((fd = open(fifo, O_WRONLY | O_NONBLOCK)) < 0) {
        if (atomic_load(&j.over))
            fail_msg("the import ended without waiting before its write");
        nanosleep(&(struct timespec){0, 5 * 1000 * 1000}, NULL); /* a poll, not a verdict */
    }
    link_id("https://example.org/t", id);
    assert_int_equal(et_library_tag(f->s, id, "sad", err), ET_OK);
    close(fd);
    pthread_join(t, NULL);
    unsetenv("EMOTUNE_TEST_IMPORT_WRITE_FIFO");
    unlink(fifo);
    assert_int_equal(j.st, ET_OK);
    assert_int_equal(j.rep.updated, 1);
    et_import_report_free(&j.rep);
    json_t *doc = track(f->s, id);
    assert_string_equal(json_string_value(json_object_get(doc, "title")), "New title");
    assert_string_equal(json_string_value(json_object_get(doc, "mood")), "sad");
    assert_string_equal(json_string_value(json_object_get(doc, "source")), "again");
    double v, a;
    assert_true(et_mood_named_point("sad", &v, &a)); /* the tag decides the point */
    assert_float_equal(json_number_value(json_object_get(doc, "valence")), v, 1e-6);
    json_decref(doc);
}

/* Feedback moves the listener's feedback stamp, and only that listener's. */
static void feedback_bumps_its_listeners_stamp(void **state)
{
    fixture *f = *state;
    et_import_report r = import_text(f->s, "https://example.org/f,F,X,happy\n", ET_CATALOG_CSV);
    et_import_report_free(&r);
    char id[19], err[ET_ERR_MAX];
    link_id("https://example.org/f", id);
    uint64_t ann0, bob0, ann1, bob1;
    assert_int_equal(et_listener_feedback_stamp(f->s, "ann", &ann0, err), ET_OK);
    assert_int_equal(et_listener_feedback_stamp(f->s, "bob", &bob0, err), ET_OK);
    assert_int_equal(ann0, 0);
    et_listener_feedback fb = {.time = 1.7e9, .kind = ET_REC_LIKE, .at_s = -1, .valence = 0.5,
                               .arousal = 0.5, .mood = "happy"};
    snprintf(fb.track, sizeof fb.track, "%s", id);
    assert_int_equal(et_listener_feedback_add(f->s, "ann", &fb, err), ET_OK);
    assert_int_equal(et_listener_feedback_stamp(f->s, "ann", &ann1, err), ET_OK);
    assert_int_equal(et_listener_feedback_stamp(f->s, "bob", &bob1, err), ET_OK);
    assert_true(ann1 != ann0);
    assert_int_equal(bob1, bob0);
    snprintf(fb.track, sizeof fb.track, "u-0000000000000000");
    assert_int_equal(et_listener_feedback_add(f->s, "ann", &fb, err), ET_E_NOT_FOUND);
    assert_int_equal(et_listener_feedback_stamp(f->s, "ann", &ann0, err), ET_OK);
    assert_int_equal(ann0, ann1); /* refused: no change, no bump */
    assert_int_equal(et_listener_feedback_stamp(f->s, "no/good", &ann0, err), ET_E_INVALID);
}

/* A session built from a library loaded once, with the listener's feedback
 * and queue given, draws what a session opened from the store draws with
 * the same seed; the library outlives its loader's reference while a
 * session holds it. */
static void a_session_from_a_loaded_library_draws_as_one_from_the_store(void **state)
{
    fixture *f = *state;
    char csv[4096] = "url,title,artist,mood\n";
    const char *moods[] = {"happy", "sad", "calm", "angry"};
    for (int i = 0; i < 24; i++)
        snprintf(csv + strlen(csv), sizeof csv - strlen(csv),
                 "https://example.org/s%d,S%d,artist %d,%s\n", i, i, i % 5, moods[i % 4]);
    et_import_report r = import_text(f->s, csv, ET_CATALOG_CSV);
    et_import_report_free(&r);
    char id[19], err[ET_ERR_MAX];
    link_id("https://example.org/s1", id);
    et_listener_feedback fb = {.time = 1.7e9, .kind = ET_REC_SKIP, .at_s = 3, .valence = -0.6,
                               .arousal = -0.4, .mood = "sad"};
    snprintf(fb.track, sizeof fb.track, "%s", id);
    assert_int_equal(et_listener_feedback_add(f->s, "ses", &fb, err), ET_OK);
    const char *queued[] = {id};
    assert_int_equal(et_listener_queued_add(f->s, "ses", queued, 1, 1.7e9 + 1, err), ET_OK);

    et_listener_session *a, *b;
    assert_int_equal(et_listener_session_open(f->s, "ses", 42, &a, err), ET_OK);
    et_listener_library *lib;
    et_listener_feedback *fbs;
    et_listener_queued_track *q;
    size_t nf, nq;
    assert_int_equal(et_listener_library_load(f->s, &lib, err), ET_OK);
    assert_int_equal(lib->n, 24);
    assert_int_equal(et_listener_feedbacks(f->s, "ses", &fbs, &nf, err), ET_OK);
    assert_int_equal(et_listener_queued(f->s, "ses", &q, &nq, err), ET_OK);
    assert_int_equal(et_listener_session_new(lib, fbs, nf, q, nq, 42, &b, err), ET_OK);
    et_listener_library_release(lib); /* the session keeps it */
    free(fbs);
    free(q);
    assert_int_equal(a->feedback_used, 1);
    assert_int_equal(b->feedback_used, 1);
    for (int k = 0; k < 10; k++) {
        et_rec_pick pa, pb;
        assert_int_equal(et_rec_next(a->rec, ET_REC_MATCH, -0.5, -0.5, &pa, err), ET_OK);
        assert_int_equal(et_rec_next(b->rec, ET_REC_MATCH, -0.5, -0.5, &pb, err), ET_OK);
        assert_string_equal(pa.id, pb.id);
        assert_string_equal(b->tracks[pb.index].id, pb.id);
        assert_string_not_equal(pb.id, id); /* queued just now: in the no-repeat window */
    }
    et_listener_session_free(a);
    et_listener_session_free(b);
    /* an empty library: not found, saying so */
    et_listener_library empty = {.refs = 1};
    assert_int_equal(et_listener_session_new(&empty, NULL, 0, NULL, 0, 1, &b, err),
                     ET_E_NOT_FOUND);
    assert_non_null(strstr(err, "empty"));
}

typedef struct progress_log {
    size_t calls, finished, last_files, last_done;
    bool walked_before_done, monotonic;
    size_t final_added;
} progress_log;

static void on_progress(void *user, const et_scan_progress *p)
{
    progress_log *l = user;
    l->calls++;
    if (p->done > p->files || p->done < l->last_done || l->finished)
        l->monotonic = false;
    if (p->done > 0 && !p->walked)
        l->walked_before_done = false;
    l->last_files = p->files;
    l->last_done = p->done;
    if (p->finished) {
        l->finished++;
        l->final_added = p->sum->added;
    }
}

/* A scan reports its progress (the files found, then each one dealt with,
 * then the end) and moves the library's stamp once it has written; a
 * rescan that changes nothing leaves the stamp alone. */
static void a_scan_reports_progress_and_bumps_the_stamp(void **state)
{
    fixture *f = *state;
    char music[700], cmd[2048], err[ET_ERR_MAX];
    snprintf(music, sizeof music, "%s/music", f->dir);
    mkdir(music, 0755);
    for (int i = 0; i < 3; i++) {
        snprintf(cmd, sizeof cmd,
                 "ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i "
                 "'sine=frequency=%d:duration=2:sample_rate=22050' '%s/t%d.flac'",
                 300 + 100 * i, music, i);
        assert_int_equal(system(cmd), 0);
    }
    snprintf(cmd, sizeof cmd, "%s/notes.txt", music);
    ts_write_file(cmd, "not audio\n", 10);
    uint64_t s0 = library_stamp(f->s);
    progress_log log = {.walked_before_done = true, .monotonic = true};
    et_scan_opts o = {.jobs = 1, .on_progress = on_progress, .progress_user = &log};
    const char *dirs[] = {music};
    et_scan_summary sum;
    assert_int_equal(et_library_scan(f->s, dirs, 1, &o, &sum, err), ET_OK);
    assert_int_equal(sum.added, 3);
    et_scan_summary_free(&sum);
    assert_int_equal(log.finished, 1);
    assert_true(log.monotonic);
    assert_true(log.walked_before_done);
    assert_int_equal(log.last_files, 4); /* three songs and the notes */
    assert_int_equal(log.last_done, 4);
    assert_int_equal(log.final_added, 3);
    assert_true(log.calls >= 6); /* walked, each of 4 files, finished */
    uint64_t s1 = library_stamp(f->s);
    assert_true(s1 != s0);
    log = (progress_log){.walked_before_done = true, .monotonic = true};
    assert_int_equal(et_library_scan(f->s, dirs, 1, &o, &sum, err), ET_OK);
    assert_int_equal(sum.unchanged, 3);
    et_scan_summary_free(&sum);
    assert_int_equal(library_stamp(f->s), s1);
    assert_int_equal(log.last_done, 4);
}

int main(void)
{
    if (system("ffmpeg -version > /dev/null 2>&1") != 0) {
        fprintf(stderr, "test_library_changes: the ffmpeg command is needed to make the test "
                        "audio (make deps installs it)\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(a_stamp_counts_every_bump_from_every_handle, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(imports_and_tags_bump_the_library_stamp, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_catalogue_in_memory_imports_as_a_file_does, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_tag_set_while_an_import_rewrites_a_link_is_kept,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(feedback_bumps_its_listeners_stamp, setup, teardown),
        cmocka_unit_test_setup_teardown(
            a_session_from_a_loaded_library_draws_as_one_from_the_store, setup, teardown),
        cmocka_unit_test_setup_teardown(a_scan_reports_progress_and_bumps_the_stamp, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("library_changes", tests, NULL, NULL);
}
