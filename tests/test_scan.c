/* emotune's library scan on real audio files made by the ffmpeg command in
 * the test set-up, into a real LMDB store: what is found, what is skipped,
 * what a rescan does after nothing, a touch, a move, a deletion, a listener's
 * mood tag, changes made by others while the scan writes, broken files, odd
 * names, link loops, Ctrl-C and SIGKILL. */
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "library/library.h"
#include "mood/mood.h"
#include "support.h"

typedef struct fixture {
    char *dir;     /* the music folder */
    char *tmp;     /* holds dir and the store */
    char uri[600];
    et_store *s;
} fixture;

/* A tone of `secs` seconds at `hz` with tags, encoded by extension. */
static void make_tone(const char *path, double hz, double secs, const char *title)
{
    ts_sh("ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i "
          "'sine=frequency=%g:duration=%g:sample_rate=22050' -metadata title='%s' "
          "-metadata artist='Test Artist' -metadata genre=Ambient '%s'",
          hz, secs, title, path);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->tmp = ts_tempdir();
    f->dir = malloc(600);
    snprintf(f->dir, 600, "%s/music", f->tmp);
    mkdir(f->dir, 0755);
    snprintf(f->uri, sizeof f->uri, "lmdb:%s/store", f->tmp);
    char p[700];
    snprintf(p, sizeof p, "%s/one.flac", f->dir);
    make_tone(p, 440, 3, "One");
    snprintf(p, sizeof p, "%s/two.mp3", f->dir);
    make_tone(p, 330, 3, "Two");
    ts_sh("mkdir -p '%s/sub' && cp '%s/one.flac' '%s/sub/copy-of-one.flac'", f->dir, f->dir,
          f->dir);
    snprintf(p, sizeof p, "%s/sub/three.wav", f->dir);
    make_tone(p, 262, 2, "Three");
    /* things that are not music, silently skipped */
    snprintf(p, sizeof p, "%s/cover.jpg", f->dir);
    ts_write_file(p, "\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16);
    snprintf(p, sizeof p, "%s/list.m3u", f->dir);
    ts_write_file(p, "#EXTM3U\none.flac\n", 17);
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
    ts_rmtree(f->tmp);
    free(f->tmp);
    free(f->dir);
    free(f);
    return 0;
}

static et_scan_summary scan(fixture *f, int prune)
{
    et_scan_summary sum;
    char err[ET_ERR_MAX];
    et_scan_opts o = {.jobs = 2, .prune = prune};
    const char *dirs[] = {f->dir};
    et_status st = et_library_scan(f->s, dirs, 1, &o, &sum, err);
    if (st != ET_OK)
        fail_msg("scan: %s", err);
    return sum;
}

/* The document of the track at `path` (relative to the music folder), or
 * NULL; *id receives its id. */
typedef struct finder {
    char want[700];
    json_t *doc;
    char id[64];
} finder;

static int find_path(void *user, const char *id, const char *json, size_t len)
{
    finder *fd = user;
    json_t *d = json_loadb(json, len, 0, NULL);
    const char *p = json_string_value(json_object_get(d, "path"));
    if (p && !strcmp(p, fd->want)) {
        fd->doc = d;
        snprintf(fd->id, sizeof fd->id, "%s", id);
        return 1;
    }
    json_decref(d);
    return 0;
}

static json_t *track_at(fixture *f, const char *rel, char *id)
{
    finder fd = {0};
    char *real = realpath(f->dir, NULL);
    snprintf(fd.want, sizeof fd.want, "%s/%s", real, rel);
    free(real);
    char err[ET_ERR_MAX];
    assert_int_equal(et_store_iterate(f->s, ET_LIBRARY_TRACKS, NULL, 0, find_path, &fd, err),
                     ET_OK);
    if (id)
        strcpy(id, fd.id);
    return fd.doc;
}

static void first_scan_finds_music_by_content_and_skips_the_rest(void **state)
{
    fixture *f = *state;
    et_scan_summary sum = scan(f, 0);
    assert_int_equal(sum.scanned, 4);
    assert_int_equal(sum.added, 4);
    assert_int_equal(sum.failed, 0); /* cover.jpg and list.m3u are not complaints */
    assert_true(sum.audio_seconds > 10.5 && sum.audio_seconds < 11.5);
    json_t *one = track_at(f, "one.flac", NULL);
    assert_non_null(one);
    assert_string_equal(json_string_value(json_object_get(one, "title")), "One");
    assert_string_equal(json_string_value(json_object_get(one, "artist")), "Test Artist");
    assert_string_equal(json_string_value(json_object_get(one, "codec")), "flac");
    assert_float_equal(json_number_value(json_object_get(one, "duration")), 3.0, 0.1);
    double v = json_number_value(json_object_get(one, "valence"));
    double a = json_number_value(json_object_get(one, "arousal"));
    assert_true(v >= -1 && v <= 1 && a >= -1 && a <= 1);
    assert_non_null(json_object_get(json_object_get(one, "features"), "tempo"));
    json_decref(one);
    /* a byte-identical copy is a track of its own */
    char id1[64], id2[64];
    json_decref(track_at(f, "one.flac", id1));
    json_decref(track_at(f, "sub/copy-of-one.flac", id2));
    assert_string_not_equal(id1, id2);
    et_scan_summary_free(&sum);
}

static void rescan_of_an_unchanged_folder_decodes_nothing(void **state)
{
    fixture *f = *state;
    et_scan_summary sum = scan(f, 0);
    assert_int_equal(sum.unchanged, 4);
    assert_int_equal(sum.added + sum.updated + sum.moved, 0);
    assert_float_equal(sum.audio_seconds, 0, 0);
    et_scan_summary_free(&sum);
}

static void touching_one_file_rescans_just_it(void **state)
{
    fixture *f = *state;
    char p[700];
    snprintf(p, sizeof p, "%s/two.mp3", f->dir);
    struct timespec later[2] = {{.tv_sec = time(NULL) + 5}, {.tv_sec = time(NULL) + 5}};
    assert_int_equal(utimensat(AT_FDCWD, p, later, 0), 0);
    et_scan_summary sum = scan(f, 0);
    assert_int_equal(sum.updated, 1);
    assert_int_equal(sum.unchanged, 3);
    et_scan_summary_free(&sum);
}

static void the_listeners_mood_overrides_and_survives_rescans(void **state)
{
    fixture *f = *state;
    char id[64], err[ET_ERR_MAX];
    json_decref(track_at(f, "two.mp3", id));
    assert_int_equal(et_library_tag(f->s, id, "Sad", err), ET_OK);
    assert_int_equal(et_library_tag(f->s, id, "grumpy", err), ET_E_INVALID);
    assert_int_equal(et_library_tag(f->s, "f-nosuchtrack", "sad", err), ET_E_NOT_FOUND);
    char p[700];
    snprintf(p, sizeof p, "%s/two.mp3", f->dir);
    struct timespec later[2] = {{.tv_sec = time(NULL) + 10}, {.tv_sec = time(NULL) + 10}};
    assert_int_equal(utimensat(AT_FDCWD, p, later, 0), 0);
    et_scan_summary sum = scan(f, 0);
    assert_int_equal(sum.updated, 1);
    json_t *two = track_at(f, "two.mp3", NULL);
    assert_string_equal(json_string_value(json_object_get(two, "mood")), "sad");
    double v, a;
    assert_true(et_mood_named_point("sad", &v, &a));
    assert_float_equal(json_number_value(json_object_get(two, "valence")), v, 1e-6);
    assert_float_equal(json_number_value(json_object_get(two, "arousal")), a, 1e-6);
    assert_true(json_is_object(json_object_get(two, "estimate")));
    json_decref(two);
    et_scan_summary_free(&sum);
}

/* Fails the test when the scan in child process pid has ended, saying what
 * it ended without doing; else pauses 5 ms before the caller looks again
 * (a poll: the order the tests rely on never depends on it). */
static void scan_goes_on(pid_t pid, const char *without)
{
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid)
        fail_msg("the scan ended (status %d) %s", WIFEXITED(st) ? WEXITSTATUS(st) : -1, without);
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

/* Starts a scan of the music folder in a child process, with its own store
 * handle, that waits on a FIFO before each write of a track
 * (EMOTUNE_TEST_SCAN_WRITE_FIFO, library.h). Returns once the scan waits
 * before its first write, with *fd the FIFO's write end: closing it lets
 * the scan write. The order is certain, not timed: a writer's open of a FIFO
 * succeeds only once a reader has it open. */
static pid_t scan_waiting_before_write(fixture *f, char *fifo, size_t len, int *fd)
{
    snprintf(fifo, len, "%s/before-write", f->tmp);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    pid_t pid = fork();
    if (pid == 0) {
        et_store *s;
        et_scan_summary sum;
        char err[ET_ERR_MAX];
        const char *dirs[] = {f->dir};
        et_scan_opts one = {.jobs = 1};
        setenv("EMOTUNE_TEST_SCAN_WRITE_FIFO", fifo, 1);
        if (et_store_open(f->uri, NULL, &s, err) != ET_OK)
            _exit(2);
        _exit(et_library_scan(s, dirs, 1, &one, &sum, err) == ET_OK ? 0 : 3);
    }
    while ((*fd = open(fifo, O_WRONLY | O_NONBLOCK)) < 0)
        scan_goes_on(pid, "without waiting before a write");
    return pid;
}

/* Lets the scan write (its last write: it must not wait again) and checks
 * that it succeeded. */
static void scan_writes_and_ends(pid_t pid, int fd, const char *fifo)
{
    close(fd);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    unlink(fifo);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

/* The listener tags a track, as `emotune tag` does from another process,
 * while a scan has analysed its changed file and is about to write it. Both
 * the tag and the scan's new facts about the file must be kept. */
static void a_tag_set_while_a_scan_writes_keeps_the_tag_and_the_scans_fields(void **state)
{
    fixture *f = *state;
    char id[64], err[ET_ERR_MAX], p[700], fifo[700];
    json_t *before = track_at(f, "one.flac", id);
    assert_non_null(before);
    assert_true(json_is_null(json_object_get(before, "mood")));
    json_decref(before);
    snprintf(p, sizeof p, "%s/one.flac", f->dir);
    make_tone(p, 550, 5, "One, longer"); /* a changed file: new size, time, length, title */
    struct stat fst;
    assert_int_equal(stat(p, &fst), 0);
    int fd;
    pid_t pid = scan_waiting_before_write(f, fifo, sizeof fifo, &fd);
    assert_int_equal(et_library_tag(f->s, id, "happy", err), ET_OK);
    scan_writes_and_ends(pid, fd, fifo);
    json_t *after = track_at(f, "one.flac", NULL);
    assert_non_null(after);
    const char *mood = json_string_value(json_object_get(after, "mood"));
    if (!mood || strcmp(mood, "happy") != 0)
        fail_msg("the tag set while the scan wrote was lost: mood is %s", mood ? mood : "null");
    double v, a;
    assert_true(et_mood_named_point("happy", &v, &a));
    assert_float_equal(json_number_value(json_object_get(after, "valence")), v, 1e-6);
    assert_float_equal(json_number_value(json_object_get(after, "arousal")), a, 1e-6);
    assert_string_equal(json_string_value(json_object_get(after, "title")), "One, longer");
    assert_float_equal(json_number_value(json_object_get(after, "duration")), 5.0, 0.1);
    assert_int_equal(json_integer_value(json_object_get(after, "size")), fst.st_size);
    assert_int_equal(json_integer_value(json_object_get(after, "mtime")),
                     (long long)fst.st_mtim.tv_sec * 1000000000LL + fst.st_mtim.tv_nsec);
    assert_true(json_is_object(json_object_get(after, "estimate")));
    json_decref(after);
}

static void a_moved_file_keeps_its_id_and_tag(void **state)
{
    fixture *f = *state;
    char before[64], after[64];
    json_decref(track_at(f, "two.mp3", before));
    ts_sh("mkdir -p '%s/moved' && mv '%s/two.mp3' '%s/moved/two-renamed.mp3'", f->dir, f->dir,
          f->dir);
    et_scan_summary sum = scan(f, 0);
    assert_int_equal(sum.moved, 1);
    assert_int_equal(sum.added, 0);
    assert_int_equal(sum.missing, 0);
    json_t *two = track_at(f, "moved/two-renamed.mp3", after);
    assert_non_null(two);
    assert_string_equal(before, after);
    assert_string_equal(json_string_value(json_object_get(two, "mood")), "sad");
    json_decref(two);
    et_scan_summary_free(&sum);
}

static void a_vanished_file_is_marked_missing_then_pruned(void **state)
{
    fixture *f = *state;
    char id[64], err[ET_ERR_MAX];
    json_decref(track_at(f, "sub/three.wav", id));
    ts_sh("mv '%s/sub/three.wav' '%s/three.wav.away'", f->dir, f->tmp);
    et_scan_summary sum = scan(f, 0);
    assert_int_equal(sum.missing, 1);
    json_t *three = track_at(f, "sub/three.wav", NULL);
    assert_true(json_is_true(json_object_get(three, "missing")));
    json_decref(three);
    et_scan_summary_free(&sum);
    sum = scan(f, 1);
    assert_int_equal(sum.pruned, 1);
    char *doc;
    assert_int_equal(et_store_get(f->s, ET_LIBRARY_TRACKS, id, &doc, NULL, err), ET_E_NOT_FOUND);
    et_scan_summary_free(&sum);
    ts_sh("mv '%s/three.wav.away' '%s/sub/three.wav'", f->tmp, f->dir);
}

/* A track whose file vanished is deleted by someone else (another scan
 * pruning it) just before this scan marks it missing: it stays deleted,
 * not brought back as a document of its own. */
static void a_track_deleted_while_a_scan_marks_it_missing_stays_deleted(void **state)
{
    fixture *f = *state;
    char id[64], err[ET_ERR_MAX], p[700], fifo[700];
    snprintf(p, sizeof p, "%s/four.wav", f->dir);
    make_tone(p, 600, 1, "Four");
    et_scan_summary sum = scan(f, 0); /* adds four.wav (and three.wav, back again) */
    et_scan_summary_free(&sum);
    json_decref(track_at(f, "four.wav", id));
    assert_int_equal(unlink(p), 0);
    int fd;
    pid_t pid = scan_waiting_before_write(f, fifo, sizeof fifo, &fd); /* the only write */
    assert_int_equal(et_store_del(f->s, ET_LIBRARY_TRACKS, id, err), ET_OK);
    scan_writes_and_ends(pid, fd, fifo);
    char *doc = NULL;
    et_status st = et_store_get(f->s, ET_LIBRARY_TRACKS, id, &doc, NULL, err);
    if (st != ET_E_NOT_FOUND)
        fail_msg("the deleted track came back: %s", doc ? doc : err);
}

static void broken_files_odd_names_and_link_loops_do_not_stop_the_scan(void **state)
{
    fixture *f = *state;
    char p[700];
    snprintf(p, sizeof p, "%s/broken", f->dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/broken/empty.mp3", f->dir);
    ts_write_file(p, "", 0);
    snprintf(p, sizeof p, "%s/broken/notes.mp3", f->dir);
    ts_write_file(p, "this is not music\n", 18);
    ts_sh("head -c 3000 '%s/one.flac' > '%s/broken/cut.flac'", f->dir, f->dir);
    ts_sh("ln -s .. '%s/broken/loop'", f->dir);                 /* a link loop */
    ts_sh("ln -s '%s/nowhere' '%s/broken/dangling.mp3'", f->tmp, f->dir);
    snprintf(p, sizeof p, "%s/broken/caf\xe9.wav", f->dir); /* Latin-1 name */
    make_tone(p, 500, 1, "Cafe");
    et_scan_summary sum = scan(f, 0);
    /* empty.mp3 and notes.mp3 are reported; the cut FLAC may decode in part */
    assert_true(sum.failed >= 2);
    int saw_empty = 0, saw_notes = 0;
    for (size_t i = 0; i < sum.failed; i++) {
        saw_empty |= strstr(sum.failures[i].path, "empty.mp3") != NULL;
        saw_notes |= strstr(sum.failures[i].path, "notes.mp3") != NULL;
        assert_true(strlen(sum.failures[i].reason) > 0);
    }
    assert_true(saw_empty && saw_notes);
    assert_true(sum.added >= 1); /* the Latin-1 named file */
    et_scan_summary_free(&sum);
    /* and it is recognised as unchanged next time, odd name and all */
    sum = scan(f, 0);
    assert_int_equal(sum.added + sum.updated + sum.moved, 0);
    et_scan_summary_free(&sum);
    ts_sh("rm -rf '%s/broken'", f->dir);
}

static int count_present(void *user, const char *id, const char *json, size_t len)
{
    (void)id;
    json_t *d = json_loadb(json, len, 0, NULL);
    if (!json_is_true(json_object_get(d, "missing")))
        ++*(size_t *)user;
    json_decref(d);
    return 0;
}

/* How many of many/t00.wav .. t11.wav the store holds. */
static size_t many_written(fixture *f)
{
    size_t written = 0;
    for (int i = 0; i < 12; i++) {
        char rel[32];
        snprintf(rel, sizeof rel, "many/t%02d.wav", i);
        json_t *t = track_at(f, rel, NULL);
        written += t != NULL;
        json_decref(t);
    }
    return written;
}

static void an_interrupted_scan_keeps_its_work_and_the_next_one_finishes(void **state)
{
    fixture *f = *state;
    char p[700];
    snprintf(p, sizeof p, "%s/many", f->dir);
    mkdir(p, 0755);
    for (int i = 0; i < 12; i++) {
        snprintf(p, sizeof p, "%s/many/t%02d.wav", f->dir, i);
        make_tone(p, 200 + 30 * i, 20, "Many");
    }
    /* Ctrl-C: the flag is already set, so the scan stops at once */
    volatile sig_atomic_t stop = 1;
    et_scan_summary sum;
    char err[ET_ERR_MAX];
    const char *dirs[] = {f->dir};
    et_scan_opts o = {.jobs = 1, .cancel = &stop};
    assert_int_equal(et_library_scan(f->s, dirs, 1, &o, &sum, err), ET_OK);
    assert_true(sum.cancelled);
    assert_int_equal(sum.missing, 0); /* an incomplete walk marks nothing missing */
    et_scan_summary_free(&sum);
    /* SIGKILL half way through, in a child process */
    pid_t pid = fork();
    if (pid == 0) {
        et_store *s;
        if (et_store_open(f->uri, NULL, &s, err) != ET_OK)
            _exit(2);
        et_scan_opts one = {.jobs = 1};
        et_library_scan(s, dirs, 1, &one, &sum, err);
        _exit(0);
    }
    /* Kill it once some, not all, of the new tracks are written: stopped
     * (SIGSTOP) as soon as one is, counted while it cannot move, then
     * killed. No time limit: it either gets caught half way or the test
     * fails saying it could not. */
    size_t written = 0;
    for (;;) {
        written = many_written(f);
        if (written > 0) {
            kill(pid, SIGSTOP);
            written = many_written(f); /* a track in flight is not written yet */
            break;
        }
        scan_goes_on(pid, "before it wrote a track: not killed half way");
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fprintf(stderr, "scan killed with %zu of 12 new tracks written\n", written);
    if (written == 0 || written == 12)
        fail_msg("the scan was stopped with %zu of 12 tracks written: not half way", written);
    /* every stored track is a whole document; the next scan finishes */
    sum = scan(f, 0);
    assert_int_equal(sum.failed, 0);
    size_t present = 0;
    assert_int_equal(et_store_iterate(f->s, ET_LIBRARY_TRACKS, NULL, 0, count_present, &present,
                                      err),
                     ET_OK);
    assert_int_equal(present, 4 + 12); /* the removed broken/ folder's tracks are missing */
    for (int i = 0; i < 12; i++) {
        char rel[32];
        snprintf(rel, sizeof rel, "many/t%02d.wav", i);
        json_t *t = track_at(f, rel, NULL);
        assert_non_null(t);
        assert_true(json_is_object(json_object_get(t, "features")));
        json_decref(t);
    }
    et_scan_summary_free(&sum);
}

/* 20 seconds of a real track (Debian's asc-music, fetched by
 * scripts/fetch-test-music.sh): features in the ranges real music has. */
static void real_music_gets_plausible_features(void **state)
{
    fixture *f = *state;
    const char *src = "build/test-music/time_to_strike.mp3";
    if (access(src, R_OK) != 0)
        TS_SKIP("%s is absent (scripts/fetch-test-music.sh fetches it)", src);
    ts_sh("mkdir -p '%s/real' && ffmpeg -nostdin -loglevel error -y -ss 30 -t 20 -i '%s' -c copy "
          "'%s/real/strike.mp3'", f->dir, src, f->dir);
    et_scan_summary sum = scan(f, 0);
    assert_int_equal(sum.failed, 0);
    et_scan_summary_free(&sum);
    json_t *t = track_at(f, "real/strike.mp3", NULL);
    assert_non_null(t);
    json_t *ft = json_object_get(t, "features");
    double dur = json_number_value(json_object_get(t, "duration"));
    double lufs = json_number_value(json_object_get(ft, "loudness"));
    double tempo = json_number_value(json_object_get(ft, "tempo"));
    double centroid = json_number_value(json_object_get(ft, "centroid"));
    fprintf(stderr, "real music: %.1f s, %.1f LUFS, %.1f BPM, centroid %.0f Hz, %s %s, V %.2f A %.2f\n",
            dur, lufs, tempo, centroid, json_string_value(json_object_get(ft, "key")),
            json_string_value(json_object_get(ft, "mode")),
            json_number_value(json_object_get(t, "valence")),
            json_number_value(json_object_get(t, "arousal")));
    assert_float_equal(dur, 20, 0.5);
    assert_true(lufs > -35 && lufs < -3);   /* mastered music, not silence or clipping */
    assert_true(tempo >= 50 && tempo <= 220); /* a steady beat was found */
    assert_true(centroid > 200 && centroid < 6000);
    assert_non_null(json_string_value(json_object_get(ft, "key")));
    double v = json_number_value(json_object_get(t, "valence"));
    double a = json_number_value(json_object_get(t, "arousal"));
    assert_true(v >= -1 && v <= 1 && a >= -1 && a <= 1);
    json_decref(t);
    ts_sh("rm -rf '%s/real'", f->dir);
}

/* Each scan records its folders (et_library_roots), as real paths, each
 * once: by a symbolic link to it the same folder is not a second one. */
static void scans_record_their_folders_once_as_real_paths(void **state)
{
    fixture *f = *state;
    char err[ET_ERR_MAX], real[PATH_MAX], other[700], via[700];
    assert_non_null(realpath(f->dir, real));
    snprintf(other, sizeof other, "%s/other", f->tmp);
    snprintf(via, sizeof via, "%s/via", f->tmp);
    ts_sh("mkdir -p '%s' && ln -sfn '%s' '%s'", other, f->dir, via);
    const char *dirs[] = {via, other};
    et_scan_summary sum;
    assert_int_equal(et_library_scan(f->s, dirs, 2, NULL, &sum, err), ET_OK);
    et_scan_summary_free(&sum);
    char **roots;
    size_t n;
    assert_int_equal(et_library_roots(f->s, &roots, &n, err), ET_OK);
    assert_int_equal(n, 2);
    assert_string_equal(roots[0], real); /* scanned first, in setup's tests */
    assert_non_null(realpath(other, real));
    assert_string_equal(roots[1], real);
    assert_true(et_library_path_under(real, roots, n));
    strcat(real, "/x.mp3");
    assert_true(et_library_path_under(real, roots, n));
    real[strlen(real) - 7] = '\0'; /* ".../othe": a sibling, not below */
    assert_false(et_library_path_under(real, roots, n));
    char *const slash[] = {"/"};
    assert_true(et_library_path_under("/any/file", slash, 1));
    et_store_free_names(roots, n);
    ts_sh("rm -rf '%s' '%s'", other, via);
}

static void a_folder_that_does_not_exist_is_an_error(void **state)
{
    fixture *f = *state;
    et_scan_summary sum;
    char err[ET_ERR_MAX];
    const char *dirs[] = {"/nonexistent/music"};
    assert_int_equal(et_library_scan(f->s, dirs, 1, NULL, &sum, err), ET_E_IO);
    assert_non_null(strstr(err, "/nonexistent/music"));
    et_scan_summary_free(&sum);
}

int main(void)
{
    if (system("ffmpeg -version > /dev/null 2>&1") != 0) {
        fprintf(stderr, "test_scan: the ffmpeg command is needed to make the test audio "
                        "(make deps installs it)\n");
        return 1;
    }
    /* The tests build on each other, in this order, on one folder and store. */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(first_scan_finds_music_by_content_and_skips_the_rest),
        cmocka_unit_test(rescan_of_an_unchanged_folder_decodes_nothing),
        cmocka_unit_test(touching_one_file_rescans_just_it),
        cmocka_unit_test(the_listeners_mood_overrides_and_survives_rescans),
        cmocka_unit_test(a_tag_set_while_a_scan_writes_keeps_the_tag_and_the_scans_fields),
        cmocka_unit_test(a_moved_file_keeps_its_id_and_tag),
        cmocka_unit_test(a_vanished_file_is_marked_missing_then_pruned),
        cmocka_unit_test(a_track_deleted_while_a_scan_marks_it_missing_stays_deleted),
        cmocka_unit_test(broken_files_odd_names_and_link_loops_do_not_stop_the_scan),
        cmocka_unit_test(an_interrupted_scan_keeps_its_work_and_the_next_one_finishes),
        cmocka_unit_test(real_music_gets_plausible_features),
        cmocka_unit_test(scans_record_their_folders_once_as_real_paths),
        cmocka_unit_test(a_folder_that_does_not_exist_is_an_error),
    };
    return cmocka_run_group_tests_name("scan", tests, setup, teardown);
}
