/* The tracks of the HTTP API (issue 11) against the real server on a
 * loopback port, with a real LMDB store and a real library: audio files in
 * several formats made by the ffmpeg command (one with a cover picture),
 * scanned, and a catalogue of links imported. The list and its paging, the
 * mood filter, one track, its cover, its audio with Range and conditional
 * requests, and the refusals: bad ids, links, symbolic links out of the
 * music folder and files replaced by one after the scan. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "library/library.h"
#include "mood/mood.h"
#include "server/server.h"
#include "server/server_internal.h"
#include "store/store.h"
#include "http_support.h"
#include "support.h"

/* The audio files of the library: name, ffmpeg encoding, expected type. */
static const struct song {
    const char *file, *encode, *type;
} songs[] = {
    {"alpha.mp3", "-c:a libmp3lame", "audio/mpeg"}, /* with the cover, added below */
    {"beta.flac", "-c:a flac", "audio/flac"},
    {"gamma.ogg", "-c:a libvorbis", "audio/ogg"},
    {"delta.wav", "-c:a pcm_s16le", "audio/wav"},
    {"epsilon.m4a", "-c:a aac", "audio/mp4"},
    {"zeta.opus", "-c:a libopus", "audio/ogg"},
    {"eta.aiff", "-c:a pcm_s16be", "audio/aiff"},
};
#define N_SONGS (sizeof songs / sizeof *songs)
#define N_LINKS 12

typedef struct fixture {
    char *dir;
    char music[600], store[700], cover[700];
    et_server *server;
    int port;
    et_store *st;
    char ids[N_SONGS][ET_STORE_MAX_ID + 1];
    char link_out[ET_STORE_MAX_ID + 1];  /* music/out.flac -> outside/secret.flac */
    char replaced[2][ET_STORE_MAX_ID + 1]; /* replaced by links after the scan */
    char fifo[ET_STORE_MAX_ID + 1];      /* replaced by a FIFO after the scan */
    char alias[ET_STORE_MAX_ID + 1];     /* music/alias.ogg -> music/gamma.ogg */
    char gone[ET_STORE_MAX_ID + 1];      /* marked missing */
    char deep[ET_STORE_MAX_ID + 1];      /* music/sub/deep.wav */
    char link[ET_STORE_MAX_ID + 1];      /* a catalogue's link */
    char passwd_line[256];               /* /etc/passwd's first line */
} fixture;

static void make_song(const char *dir, const char *file, const char *encode, double hz)
{
    ts_sh("ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i "
          "'sine=frequency=%g:duration=2:sample_rate=44100' %s '%s/%s'",
          hz, encode, dir, file);
}

/* What id_of looks for: the track whose path ends in /name, or (name NULL)
 * the first link. */
typedef struct find {
    const char *name;
    char *id;
} find;

static int find_one(void *user, const char *id, const char *json, size_t len)
{
    find *fd = user;
    json_t *doc = json_loadb(json, len, 0, NULL);
    const char *path = json_string_value(json_object_get(doc, "path"));
    size_t n = path ? strlen(path) : 0, k = fd->name ? strlen(fd->name) : 0;
    bool found = fd->name ? n > k && path[n - k - 1] == '/' && !strcmp(path + n - k, fd->name)
                          : json_is_string(json_object_get(doc, "url"));
    if (found)
        snprintf(fd->id, ET_STORE_MAX_ID + 1, "%s", id);
    json_decref(doc);
    return found;
}

static void id_of(fixture *f, const char *name, char *id)
{
    find fd = {name, id};
    char err[ET_ERR_MAX];
    *id = '\0';
    assert_int_equal(et_store_iterate(f->st, ET_LIBRARY_TRACKS, NULL, 0, find_one, &fd, err),
                     ET_OK);
    if (!*id)
        fail_msg("no track for %s", name ? name : "a link");
}

static void scan(fixture *f)
{
    const char *dirs[] = {f->music};
    et_scan_summary sum;
    char err[ET_ERR_MAX];
    assert_int_equal(et_library_scan(f->st, dirs, 1, NULL, &sum, err), ET_OK);
    et_scan_summary_free(&sum);
}

static void import_links(fixture *f)
{
    char csv[800], err[ET_ERR_MAX];
    snprintf(csv, sizeof csv, "%s/links.csv", f->dir);
    FILE *fp = fopen(csv, "w");
    assert_non_null(fp);
    fprintf(fp, "url,title,artist,mood\n");
    const char *moods[] = {"happy", "sad", "calm", "energetic"};
    for (int i = 0; i < N_LINKS; i++)
        fprintf(fp, "https://example.org/song%d,Link %d,Band %d,%s\n", i, i, i % 3, moods[i % 4]);
    fclose(fp);
    et_import_report rep;
    assert_int_equal(et_library_import(f->st, csv, NULL, &rep, err), ET_OK);
    assert_int_equal(rep.added, N_LINKS);
    et_import_report_free(&rep);
}

/* The music folder: the songs (alpha with a cover), a link out of it, a
 * link inside it, and files that change after the scan. */
static void make_library(fixture *f)
{
    snprintf(f->music, sizeof f->music, "%s/music", f->dir);
    ts_sh("mkdir -p '%s' '%s/outside'", f->music, f->dir);
    snprintf(f->cover, sizeof f->cover, "%s/cover.png", f->dir);
    ts_sh("ffmpeg -nostdin -loglevel error -y -f lavfi -i testsrc=s=40x30 -frames:v 1 '%s'",
          f->cover);
    for (size_t i = 1; i < N_SONGS; i++)
        make_song(f->music, songs[i].file, songs[i].encode, 200.0 + 50.0 * (double)i);
    ts_sh("ffmpeg -nostdin -loglevel error -y -f lavfi -i sine=f=440:d=2 -i '%s' -map 0:a -map 1:v "
          "-c:a libmp3lame -c:v copy -disposition:v attached_pic '%s/alpha.mp3'",
          f->cover, f->music);
    make_song(f->dir, "outside/secret.flac", "-c:a flac", 900);
    /* music/sub/deep.wav, and outside2/deep.wav: where a link put in place
     * of sub would lead */
    ts_sh("mkdir -p '%s/sub' '%s/outside2'", f->music, f->dir);
    make_song(f->music, "sub/deep.wav", "-c:a pcm_s16le", 1500);
    make_song(f->dir, "outside2/deep.wav", "-c:a pcm_s16le", 1700);
    const char *later[] = {"victim1.wav", "victim2.wav", "fifo.wav", "gone.wav"};
    for (size_t i = 0; i < 4; i++)
        make_song(f->music, later[i], "-c:a pcm_s16le", 1000.0 + 100.0 * (double)i);
    ts_sh("ln -s '%s/outside/secret.flac' '%s/out.flac' && ln -s gamma.ogg '%s/alias.ogg'", f->dir,
          f->music, f->music);
    scan(f);
    import_links(f);
    for (size_t i = 0; i < N_SONGS; i++)
        id_of(f, songs[i].file, f->ids[i]);
    id_of(f, "out.flac", f->link_out);
    id_of(f, "victim1.wav", f->replaced[0]);
    id_of(f, "victim2.wav", f->replaced[1]);
    id_of(f, "fifo.wav", f->fifo);
    id_of(f, "alias.ogg", f->alias);
    id_of(f, "gone.wav", f->gone);
    id_of(f, "deep.wav", f->deep);
    id_of(f, NULL, f->link);
    /* gone.wav goes and a rescan marks it missing; then, with no scan after,
     * two files become links out of the folder and one a FIFO */
    ts_sh("rm '%s/gone.wav'", f->music);
    scan(f);
    ts_sh("cd '%s' && rm victim1.wav victim2.wav fifo.wav && ln -s /etc/passwd victim1.wav && "
          "ln -s '%s/outside/secret.flac' victim2.wav && mkfifo fifo.wav", f->music, f->dir);
}

static int setup(void **state)
{
    if (system("ffmpeg -version > /dev/null 2>&1") != 0) {
        fprintf(stderr, "test_server_tracks: the ffmpeg command is needed to make the test "
                        "audio (make deps installs it)\n");
        return -1;
    }
    fixture *f = calloc(1, sizeof *f);
    f->dir = ts_tempdir();
    snprintf(f->store, sizeof f->store, "lmdb:%s/store", f->dir);
    char err[ET_ERR_MAX];
    if (et_store_open(f->store, NULL, &f->st, err) != ET_OK) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    *state = f;
    make_library(f);
    FILE *pw = fopen("/etc/passwd", "r");
    if (pw && fgets(f->passwd_line, sizeof f->passwd_line, pw))
        f->passwd_line[strcspn(f->passwd_line, "\n")] = '\0';
    if (pw)
        fclose(pw);
    et_server_opts o = et_server_default_opts();
    o.listen = "127.0.0.1:0";
    o.store_uri = f->store;
    o.models_dir = ts_models_dir();
    if (et_server_start(&o, &f->server, err) != ET_OK) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    f->port = et_server_port(f->server);
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    et_server_stop(f->server);
    et_store_close(f->st);
    ts_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* ---- helpers ----------------------------------------------------------- */

static ts_reply get(const fixture *f, const char *path, const char *headers)
{
    return ts_http(f->port, "GET", path, headers, NULL, 0);
}

/* GET path, checked for status, as JSON (caller frees). */
static json_t *get_json(const fixture *f, const char *path, int want)
{
    ts_reply r = get(f, path, "");
    ts_check_reply(&r, want);
    json_t *doc = json_loads(r.body, 0, NULL);
    if (!doc)
        fail_msg("%s: not JSON: %.200s", path, r.body);
    assert_null(strstr(r.body, f->music)); /* never a file's path */
    assert_null(strstr(r.body, "\"path\""));
    ts_reply_free(&r);
    return doc;
}

/* The whole file at music/name (caller frees). */
static uint8_t *file_bytes(const fixture *f, const char *name, size_t *len)
{
    char path[900], err[ET_ERR_MAX];
    uint8_t *data;
    snprintf(path, sizeof path, "%s/%s", f->music, name);
    assert_int_equal(et_read_file(path, 1 << 26, &data, len, err), ET_OK);
    return data;
}

static const char *error_message(const ts_reply *r, char *buf, size_t len)
{
    json_t *doc = json_loads(r->body, 0, NULL);
    snprintf(buf, len, "%s",
             json_string_value(json_object_get(json_object_get(doc, "error"), "message")));
    json_decref(doc);
    return buf;
}

/* The ids the list must give: every stored track not marked missing. */
typedef struct expected {
    char **ids;
    size_t n;
} expected;

static int expect_one(void *user, const char *id, const char *json, size_t len)
{
    expected *e = user;
    json_t *doc = json_loadb(json, len, 0, NULL);
    if (!json_is_true(json_object_get(doc, "missing"))) {
        e->ids = realloc(e->ids, (e->n + 1) * sizeof *e->ids);
        e->ids[e->n++] = strdup(id);
    }
    json_decref(doc);
    return 0;
}

/* Every page from the first with ?limit=limit&EXTRA; the tracks in order
 * (caller frees). Each page holds at most limit tracks; pages past the
 * first start after the previous page's next. */
static json_t *all_pages(const fixture *f, int limit, const char *extra, size_t *pages)
{
    json_t *all = json_array();
    char next[ET_STORE_MAX_ID + 1] = "";
    *pages = 0;
    do {
        char path[600];
        snprintf(path, sizeof path, "/api/v1/tracks?limit=%d%s%s%s", limit, extra,
                 *next ? "&after=" : "", next);
        json_t *page = get_json(f, path, 200);
        json_t *tracks = json_object_get(page, "tracks");
        assert_true(json_array_size(tracks) <= (size_t)limit);
        json_array_extend(all, tracks);
        json_t *nx = json_object_get(page, "next");
        assert_true(json_is_null(nx) || json_is_string(nx));
        snprintf(next, sizeof next, "%s", json_is_string(nx) ? json_string_value(nx) : "");
        if (*next) /* a full page, ending at next */
            assert_string_equal(next, json_string_value(json_object_get(
                                          json_array_get(tracks, (size_t)limit - 1), "id")));
        json_decref(page);
        ++*pages;
        assert_true(*pages < 1000);
    } while (*next);
    return all;
}

static const json_t *by_id(const json_t *tracks, const char *id)
{
    for (size_t i = 0; i < json_array_size(tracks); i++)
        if (!strcmp(json_string_value(json_object_get(json_array_get(tracks, i), "id")), id))
            return json_array_get(tracks, i);
    return NULL;
}

/* ---- the list and one track -------------------------------------------- */

/* Paged by any limit, the list gives every track not marked missing exactly
 * once, in id order, files and links; never a path. */
static void pages_give_every_track_exactly_once(void **state)
{
    fixture *f = *state;
    expected e = {0};
    char err[ET_ERR_MAX];
    assert_int_equal(et_store_iterate(f->st, ET_LIBRARY_TRACKS, NULL, 0, expect_one, &e, err),
                     ET_OK);
    assert_int_equal(e.n, N_SONGS + 6 + N_LINKS); /* + out, alias, victims, fifo, deep */
    const int limits[] = {1, 2, 3, 7, 50, 500};
    for (size_t k = 0; k < sizeof limits / sizeof *limits; k++) {
        size_t pages;
        json_t *all = all_pages(f, limits[k], "", &pages);
        assert_int_equal(json_array_size(all), e.n);
        for (size_t i = 0; i < e.n; i++) /* the same ids, in order: each once */
            assert_string_equal(json_string_value(json_object_get(json_array_get(all, i), "id")),
                                e.ids[i]);
        /* no empty last page: a full page says whether one more track follows */
        assert_int_equal(pages, (e.n + (size_t)limits[k] - 1) / (size_t)limits[k]);
        assert_null(by_id(all, f->gone));
        json_decref(all);
    }
    for (size_t i = 0; i < e.n; i++)
        free(e.ids[i]);
    free(e.ids);
    json_t *dflt = get_json(f, "/api/v1/tracks", 200);
    assert_int_equal(json_array_size(json_object_get(dflt, "tracks")), e.n); /* under 50 */
    assert_true(json_is_null(json_object_get(dflt, "next")));
    json_decref(dflt);
    const char *bad[] = {"?limit=0", "?limit=501", "?limit=2.5", "?limit=x", "?after=..",
                         "?after=a%20b", "?mood=grumpy", "?mood="};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char path[100];
        snprintf(path, sizeof path, "/api/v1/tracks%s", bad[i]);
        json_decref(get_json(f, path, 400));
    }
}

/* A file track: its tags, codec, cover, and its mood as the store says
 * (no path); a link: its url; one track's form is the list's. */
static void one_track_has_the_lists_form(void **state)
{
    fixture *f = *state;
    size_t pages;
    json_t *all = all_pages(f, 500, "", &pages);
    char path[400];
    snprintf(path, sizeof path, "/api/v1/tracks/%s", f->ids[0]);
    json_t *alpha = get_json(f, path, 200);
    assert_true(json_equal(alpha, by_id(all, f->ids[0])));
    assert_string_equal(json_string_value(json_object_get(alpha, "kind")), "file");
    assert_string_equal(json_string_value(json_object_get(alpha, "title")), "alpha");
    assert_string_equal(json_string_value(json_object_get(alpha, "codec")), "mp3");
    assert_true(json_is_true(json_object_get(alpha, "cover")));
    assert_null(json_object_get(alpha, "url"));
    double d = json_number_value(json_object_get(alpha, "duration"));
    assert_true(d > 1.9 && d < 2.2);
    json_t *mood = json_object_get(alpha, "mood");
    assert_string_equal(json_string_value(json_object_get(mood, "source")), "estimate");
    assert_false(json_is_true(json_object_get(mood, "tagged")));
    json_decref(alpha);
    for (size_t i = 1; i < N_SONGS; i++) {
        snprintf(path, sizeof path, "/api/v1/tracks/%s", f->ids[i]);
        json_t *t = get_json(f, path, 200);
        assert_false(json_is_true(json_object_get(t, "cover")));
        json_decref(t);
    }
    /* a link of the catalogue */
    const json_t *link = NULL;
    for (size_t i = 0; i < json_array_size(all) && !link; i++)
        if (!strcmp(json_string_value(json_object_get(json_array_get(all, i), "kind")), "link"))
            link = json_array_get(all, i);
    assert_non_null(link);
    assert_non_null(strstr(json_string_value(json_object_get(link, "url")),
                           "https://example.org/song"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(link, "mood"),
                                                          "source")),
                        "catalogue");
    assert_true(json_is_null(json_object_get(link, "duration")));
    json_decref(all);
    /* missing, absent, not an id */
    snprintf(path, sizeof path, "/api/v1/tracks/%s", f->gone);
    json_decref(get_json(f, path, 404));
    json_decref(get_json(f, "/api/v1/tracks/f-0000000000000000", 404));
    json_decref(get_json(f, "/api/v1/tracks/a%20b", 400));
}

/* mood=NAME lists the tracks whose mood is NAME or, for a word near a face's
 * mood, falls in that mood: the listener's tag first (neutral is calm,
 * energetic falls with surprised), else a link's label, else the nearest
 * named mood to the estimate (the point of moods.c's table). */
static void the_mood_filter_follows_tags_labels_and_estimates(void **state)
{
    fixture *f = *state;
    char err[ET_ERR_MAX];
    assert_int_equal(et_library_tag(f->st, f->ids[1], "happy", err), ET_OK);
    assert_int_equal(et_library_tag(f->st, f->ids[2], "energetic", err), ET_OK);
    assert_int_equal(et_library_tag(f->st, f->ids[3], "Neutral", err), ET_OK);
    size_t pages;
    json_t *all = all_pages(f, 500, "", &pages);
    const json_t *beta = by_id(all, f->ids[1]), *gamma = by_id(all, f->ids[2]),
                 *delta = by_id(all, f->ids[3]);
    assert_string_equal(json_string_value(json_object_get(json_object_get(beta, "mood"), "name")),
                        "happy");
    assert_true(json_is_true(json_object_get(json_object_get(beta, "mood"), "tagged")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(gamma, "mood"), "name")),
                        "energetic");
    assert_string_equal(json_string_value(json_object_get(json_object_get(delta, "mood"), "name")),
                        "calm");
    /* each mood's list: exactly the tracks whose point is nearest that
     * mood's (the table of moods.c), in pages of 2 as in one page */
    const char *moods[] = {"happy", "calm", "sad", "angry", "tense", "disgusted", "surprised",
                           "energetic", "Neutral", "fearful"};
    size_t listed = 0;
    for (size_t m = 0; m < sizeof moods / sizeof *moods; m++) {
        double v, a;
        assert_true(et_mood_named_point(moods[m], &v, &a));
        const char *want = et_mood_nearest_named(v, a);
        char extra[64];
        snprintf(extra, sizeof extra, "&mood=%s", moods[m]);
        json_t *got = all_pages(f, 2, extra, &pages);
        size_t n = 0;
        for (size_t i = 0; i < json_array_size(all); i++) {
            const json_t *t = json_array_get(all, i), *mood = json_object_get(t, "mood");
            const char *id = json_string_value(json_object_get(t, "id"));
            bool in = json_is_object(mood) &&
                      !strcmp(et_mood_nearest_named(
                                  json_number_value(json_object_get(mood, "valence")),
                                  json_number_value(json_object_get(mood, "arousal"))),
                              want);
            if (in != (by_id(got, id) != NULL))
                fail_msg("mood=%s: track %s %s", moods[m], id, in ? "left out" : "listed");
            n += in;
        }
        assert_int_equal(json_array_size(got), n);
        if (m < 7)
            listed += n;
        json_decref(got);
    }
    assert_int_equal(listed, json_array_size(all)); /* every track has a mood here */
    json_t *happy = all_pages(f, 500, "&mood=happy", &pages);
    assert_non_null(by_id(happy, f->ids[1]));
    json_decref(happy);
    json_t *surprised = all_pages(f, 500, "&mood=surprised", &pages);
    assert_non_null(by_id(surprised, f->ids[2]));
    json_decref(surprised);
    json_t *calm = all_pages(f, 500, "&mood=calm", &pages);
    assert_non_null(by_id(calm, f->ids[3]));
    json_decref(calm);
    json_decref(all);
}

/* ---- cover and audio ---------------------------------------------------- */

static void the_cover_is_the_embedded_picture(void **state)
{
    fixture *f = *state;
    char path[400], err[ET_ERR_MAX];
    uint8_t *png;
    size_t png_len;
    assert_int_equal(et_read_file(f->cover, 1 << 20, &png, &png_len, err), ET_OK);
    snprintf(path, sizeof path, "/api/v1/tracks/%s/cover", f->ids[0]);
    ts_reply r = get(f, path, "");
    ts_check_reply(&r, 200);
    assert_string_equal(ts_header(&r, "Content-Type"), "image/png");
    assert_int_equal(r.body_len, png_len);
    assert_memory_equal(r.body, png, png_len);
    char etag[128];
    snprintf(etag, sizeof etag, "If-None-Match: %s\r\n", ts_header(&r, "ETag"));
    ts_reply_free(&r);
    free(png);
    r = get(f, path, etag);
    ts_check_reply(&r, 304);
    assert_int_equal(r.body_len, 0);
    ts_reply_free(&r);
    /* no picture; a link; no such track */
    const char *none[] = {f->ids[1], f->ids[5], f->link, "f-0000000000000000"};
    for (size_t i = 0; i < sizeof none / sizeof *none; i++) {
        snprintf(path, sizeof path, "/api/v1/tracks/%s/cover", none[i]);
        json_decref(get_json(f, path, 404));
    }
}

/* Each format's whole file, byte for byte, with its container's type. */
static void audio_is_the_whole_file_with_its_type(void **state)
{
    fixture *f = *state;
    for (size_t i = 0; i < N_SONGS; i++) {
        char path[400];
        size_t len;
        uint8_t *want = file_bytes(f, songs[i].file, &len);
        snprintf(path, sizeof path, "/api/v1/tracks/%s/audio", f->ids[i]);
        ts_reply r = get(f, path, "");
        ts_check_reply(&r, 200);
        if (strcmp(ts_header(&r, "Content-Type"), songs[i].type) != 0)
            fail_msg("%s: Content-Type %s, expected %s", songs[i].file,
                     ts_header(&r, "Content-Type"), songs[i].type);
        assert_string_equal(ts_header(&r, "Accept-Ranges"), "bytes");
        assert_int_equal(atol(ts_header(&r, "Content-Length")), (long)len);
        assert_non_null(ts_header(&r, "ETag"));
        assert_non_null(ts_header(&r, "Last-Modified"));
        assert_int_equal(r.body_len, len);
        assert_memory_equal(r.body, want, len);
        ts_reply_free(&r);
        /* HEAD: the same headers, no body */
        r = ts_http(f->port, "HEAD", path, "", NULL, 0);
        ts_check_reply(&r, 200);
        assert_int_equal(atol(ts_header(&r, "Content-Length")), (long)len);
        assert_string_equal(ts_header(&r, "Content-Type"), songs[i].type);
        assert_int_equal(r.body_len, 0);
        ts_reply_free(&r);
        free(want);
    }
    /* a symbolic link inside the folder is served: its target is the library's */
    char path[400];
    size_t len;
    uint8_t *want = file_bytes(f, "gamma.ogg", &len);
    snprintf(path, sizeof path, "/api/v1/tracks/%s/audio", f->alias);
    ts_reply r = get(f, path, "");
    ts_check_reply(&r, 200);
    assert_int_equal(r.body_len, len);
    assert_memory_equal(r.body, want, len);
    ts_reply_free(&r);
    free(want);
}

typedef struct range_case {
    const char *range;
    int status;
    long first, last; /* of the body; relative to the end when negative */
} range_case;

/* Range edge cases on alpha.mp3 (S bytes), as RFC 9110 section 14 says. */
static void ranges_are_served_as_rfc_9110_says(void **state)
{
    fixture *f = *state;
    size_t size;
    uint8_t *file = file_bytes(f, songs[0].file, &size);
    long S = (long)size;
    char s_1[64], s_0[64], big[64];
    snprintf(s_1, sizeof s_1, "bytes=%ld-", S - 1);
    snprintf(s_0, sizeof s_0, "bytes=%ld-", S);
    snprintf(big, sizeof big, "bytes=%ld-%ld", S - 3, S + 1000);
    const range_case cases[] = {
        {"bytes=0-0", 206, 0, 0},
        {"bytes=-1", 206, S - 1, S - 1},
        {"bytes=10-", 206, 10, S - 1},
        {"bytes=10-19", 206, 10, 19},
        {s_1, 206, S - 1, S - 1},
        {big, 206, S - 3, S - 1},
        {"bytes=-99999999", 206, 0, S - 1},
        {"Bytes=2-3", 206, 2, 3},
        {"bytes=0-99999999999999999999999", 206, 0, S - 1},
        {"bytes=5-2", 200, 0, S - 1},     /* malformed: ignored */
        {"bytes=abc", 200, 0, S - 1},
        {"bytes=", 200, 0, S - 1},
        {"items=0-1", 200, 0, S - 1},
        {"bytes=0-1,3-4", 200, 0, S - 1}, /* several: the whole file */
        {s_0, 416, 0, 0},
        {"bytes=99999999999999999999-", 416, 0, 0},
        {"bytes=-0", 416, 0, 0},
    };
    char path[400];
    snprintf(path, sizeof path, "/api/v1/tracks/%s/audio", f->ids[0]);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const range_case *c = &cases[i];
        char hdr[128], want_range[128];
        snprintf(hdr, sizeof hdr, "Range: %s\r\n", c->range);
        ts_reply r = get(f, path, hdr);
        if (r.status != c->status)
            fail_msg("Range: %s: status %d, expected %d", c->range, r.status, c->status);
        ts_check_reply(&r, c->status);
        const char *cr = ts_header(&r, "Content-Range");
        if (c->status == 416) {
            snprintf(want_range, sizeof want_range, "bytes */%ld", S);
            assert_non_null(cr);
            assert_string_equal(cr, want_range);
        } else {
            long n = c->last - c->first + 1;
            if (c->status == 206) {
                snprintf(want_range, sizeof want_range, "bytes %ld-%ld/%ld", c->first, c->last, S);
                assert_non_null(cr);
                assert_string_equal(cr, want_range);
            } else {
                assert_null(cr);
            }
            if ((long)r.body_len != n)
                fail_msg("Range: %s: %zu bytes, expected %ld", c->range, r.body_len, n);
            assert_memory_equal(r.body, file + c->first, (size_t)n);
        }
        ts_reply_free(&r);
    }
    /* HEAD with a range: its headers, no body */
    ts_reply r = ts_http(f->port, "HEAD", path, "Range: bytes=10-19\r\n", NULL, 0);
    ts_check_reply(&r, 206);
    assert_string_equal(ts_header(&r, "Content-Length"), "10");
    assert_int_equal(r.body_len, 0);
    ts_reply_free(&r);
    free(file);
}

/* The Range parser alone, on the cases of RFC 9110 14.1.2. */
static void the_range_parser_follows_the_grammar(void **state)
{
    (void)state;
    static const struct {
        const char *h;
        uint64_t size;
        et__range_kind kind;
        uint64_t first, last;
    } cases[] = {
        {NULL, 10, ET__RANGE_WHOLE, 0, 0},
        {"bytes=0-0", 10, ET__RANGE_ONE, 0, 0},
        {"bytes=-3", 10, ET__RANGE_ONE, 7, 9},
        {"bytes=-30", 10, ET__RANGE_ONE, 0, 9},
        {"bytes=9-", 10, ET__RANGE_ONE, 9, 9},
        {"bytes=3-100", 10, ET__RANGE_ONE, 3, 9},
        {"BYTES=1-2", 10, ET__RANGE_ONE, 1, 2},
        {"bytes=1-2 ,, ", 10, ET__RANGE_ONE, 1, 2},
        {"bytes=, 1-2", 10, ET__RANGE_ONE, 1, 2},
        {"bytes=1-2,4-5", 10, ET__RANGE_SEVERAL, 0, 0},
        {"bytes=10-,2-3", 10, ET__RANGE_SEVERAL, 0, 0},
        {"bytes=10-", 10, ET__RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=10-,20-30", 10, ET__RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=-0", 10, ET__RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=18446744073709551616-", 10, ET__RANGE_UNSATISFIABLE, 0, 0},
        {"bytes=0-18446744073709551616", 10, ET__RANGE_ONE, 0, 9},
        {"bytes=5-2", 10, ET__RANGE_WHOLE, 0, 0},
        {"bytes=1-2,5-2", 10, ET__RANGE_WHOLE, 0, 0},
        {"bytes=-", 10, ET__RANGE_WHOLE, 0, 0},
        {"bytes=", 10, ET__RANGE_WHOLE, 0, 0},
        {"bytes=1-2x", 10, ET__RANGE_WHOLE, 0, 0},
        {"bytes=1--2", 10, ET__RANGE_WHOLE, 0, 0},
        {"bytes=+1-2", 10, ET__RANGE_WHOLE, 0, 0},
        {"bytes 1-2", 10, ET__RANGE_WHOLE, 0, 0},
        {"bytes=0-0", 0, ET__RANGE_WHOLE, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        uint64_t first = 77, last = 77;
        et__range_kind k = et__range_parse(cases[i].h, cases[i].size, &first, &last);
        if (k != cases[i].kind)
            fail_msg("%s (size %d): kind %d, expected %d", cases[i].h ? cases[i].h : "NULL",
                     (int)cases[i].size, (int)k, (int)cases[i].kind);
        if (k == ET__RANGE_ONE && (first != cases[i].first || last != cases[i].last))
            fail_msg("%s: %d-%d, expected %d-%d", cases[i].h, (int)first, (int)last,
                     (int)cases[i].first, (int)cases[i].last);
    }
    /* RFC 9110 5.6.7's example date, in its three forms */
    const char *dates[] = {"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT",
                           "Sun Nov  6 08:49:37 1994"};
    for (size_t i = 0; i < 3; i++) {
        int64_t t = 0;
        assert_true(et__http_date_parse(dates[i], &t));
        assert_int_equal(t, 784111777);
    }
    int64_t t;
    assert_false(et__http_date_parse("yesterday", &t));
    assert_false(et__http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT junk", &t));
    char buf[40];
    et__http_date_format(784111777, buf, sizeof buf);
    assert_string_equal(buf, "Sun, 06 Nov 1994 08:49:37 GMT");
}

/* ETag and Last-Modified with If-None-Match, If-Modified-Since (each HTTP
 * date form) and If-Range; a changed file gets a new tag. */
static void conditional_requests_answer_304_or_the_file(void **state)
{
    fixture *f = *state;
    /* delta.wav last modified at Unix time 1000000000: 2001-09-09 01:46:40 UTC */
    char file[900], path[400], hdr[300], etag[128];
    snprintf(file, sizeof file, "%s/delta.wav", f->music);
    struct timespec times[2] = {{1000000000, 0}, {1000000000, 0}};
    assert_int_equal(utimensat(AT_FDCWD, file, times, 0), 0);
    snprintf(path, sizeof path, "/api/v1/tracks/%s/audio", f->ids[3]);
    ts_reply r = get(f, path, "");
    ts_check_reply(&r, 200);
    assert_string_equal(ts_header(&r, "Last-Modified"), "Sun, 09 Sep 2001 01:46:40 GMT");
    assert_string_equal(ts_header(&r, "Cache-Control"), "private, no-cache");
    snprintf(etag, sizeof etag, "%s", ts_header(&r, "ETag"));
    assert_true(etag[0] == '"' && etag[strlen(etag) - 1] == '"'); /* strong */
    size_t len = r.body_len;
    ts_reply_free(&r);
    const struct {
        const char *header;
        int status;
    } cases[] = {
        {"If-None-Match: %s", 304},
        {"If-None-Match: \"other\", %s", 304},
        {"If-None-Match: W/%s", 304},
        {"If-None-Match: *", 304},
        {"If-None-Match: \"other\"", 200},
        {"If-None-Match: \"other\"\r\nIf-Modified-Since: Sun, 09 Sep 2001 01:46:40 GMT", 200},
        {"If-Modified-Since: Sun, 09 Sep 2001 01:46:40 GMT", 304},
        {"If-Modified-Since: Sunday, 09-Sep-01 01:46:40 GMT", 304},
        {"If-Modified-Since: Sun Sep  9 01:46:40 2001", 304},
        {"If-Modified-Since: Mon, 10 Sep 2001 00:00:00 GMT", 304},
        {"If-Modified-Since: Sun, 09 Sep 2001 01:46:39 GMT", 200},
        {"If-Modified-Since: not a date", 200},
        {"Range: bytes=0-0\r\nIf-Range: %s", 206},
        {"Range: bytes=0-0\r\nIf-Range: \"stale\"", 200},
        {"Range: bytes=0-0\r\nIf-Range: W/%s", 200}, /* If-Range wants a strong tag */
        {"Range: bytes=0-0\r\nIf-Range: Sun, 09 Sep 2001 01:46:40 GMT", 206},
        {"Range: bytes=0-0\r\nIf-Range: Sun, 09 Sep 2001 01:46:41 GMT", 200},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char line[256];
        snprintf(line, sizeof line, cases[i].header, etag);
        snprintf(hdr, sizeof hdr, "%s\r\n", line);
        r = get(f, path, hdr);
        if (r.status != cases[i].status)
            fail_msg("%s: status %d, expected %d", line, r.status, cases[i].status);
        ts_check_reply(&r, cases[i].status);
        assert_int_equal(r.body_len, cases[i].status == 304 ? 0
                                     : cases[i].status == 206 ? 1 : len);
        if (cases[i].status == 304)
            assert_string_equal(ts_header(&r, "ETag"), etag);
        ts_reply_free(&r);
    }
    /* the file changes: a new tag, and the old one no longer matches */
    struct timespec later[2] = {{1000000001, 0}, {1000000001, 0}};
    assert_int_equal(utimensat(AT_FDCWD, file, later, 0), 0);
    snprintf(hdr, sizeof hdr, "If-None-Match: %s\r\n", etag);
    r = get(f, path, hdr);
    ts_check_reply(&r, 200);
    assert_string_not_equal(ts_header(&r, "ETag"), etag);
    ts_reply_free(&r);
    /* the metrics count the 206 and 304 answers of the audio route */
    r = get(f, "/metrics", "");
    ts_check_reply(&r, 200);
    assert_non_null(strstr(r.body, "route=\"/api/v1/tracks/{id}/audio\",status=\"206\"}"));
    assert_non_null(strstr(r.body, "route=\"/api/v1/tracks/{id}/audio\",status=\"304\"}"));
    assert_non_null(strstr(r.body, "route=\"/api/v1/tracks/{id}/audio\",status=\"416\"}"));
    ts_reply_free(&r);
}

/* ---- refusals ------------------------------------------------------------ */

/* The message of GET path, which must be a 404. */
static void expect_404(const fixture *f, const char *path, const char *says)
{
    char msg[ET_ERR_MAX];
    ts_reply r = get(f, path, "Range: bytes=0-\r\n");
    ts_check_reply(&r, 404);
    if (!strstr(error_message(&r, msg, sizeof msg), says))
        fail_msg("%s: \"%s\" does not say \"%s\"", path, msg, says);
    assert_null(strstr(r.body, f->music));
    assert_null(strstr(r.body, f->dir));
    if (*f->passwd_line)
        assert_null(strstr(r.body, f->passwd_line));
    ts_reply_free(&r);
}

/* A track whose file is a symbolic link out of the music folder, or was
 * replaced by one (or by a FIFO) after the scan, is not served; nor is a
 * link of a catalogue; nor anything while no scan has recorded its folders. */
static void files_outside_the_scanned_folders_are_refused(void **state)
{
    fixture *f = *state;
    char path[400], err[ET_ERR_MAX];
    /* the scan recorded the folder, as its real path */
    char **roots, real[PATH_MAX];
    size_t n;
    assert_non_null(realpath(f->music, real));
    assert_int_equal(et_library_roots(f->st, &roots, &n, err), ET_OK);
    assert_int_equal(n, 1);
    assert_string_equal(roots[0], real);
    et_store_free_names(roots, n);
    const char *out[] = {f->link_out, f->replaced[0], f->replaced[1]};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "/api/v1/tracks/%s/audio", out[i]);
        expect_404(f, path, "outside the scanned folders");
        snprintf(path, sizeof path, "/api/v1/tracks/%s/cover", out[i]);
        expect_404(f, path, "outside the scanned folders");
    }
    snprintf(path, sizeof path, "/api/v1/tracks/%s/audio", f->fifo);
    expect_404(f, path, "not a regular file");
    snprintf(path, sizeof path, "/api/v1/tracks/%s/audio", f->link);
    expect_404(f, path, "is a link");
    snprintf(path, sizeof path, "/api/v1/tracks/%s/audio", f->gone);
    expect_404(f, path, "missing");
    /* the store without its record of the folders: nothing is served */
    char *saved;
    size_t saved_len;
    assert_int_equal(et_store_get(f->st, ET_LIBRARY_STATE, "roots", &saved, &saved_len, err),
                     ET_OK);
    assert_int_equal(et_store_del(f->st, ET_LIBRARY_STATE, "roots", err), ET_OK);
    snprintf(path, sizeof path, "/api/v1/tracks/%s/audio", f->ids[1]);
    expect_404(f, path, "no scan recorded its folders");
    assert_int_equal(et_store_put(f->st, ET_LIBRARY_STATE, "roots", saved, saved_len, err),
                     ET_OK);
    free(saved);
    ts_reply r = get(f, path, "");
    ts_check_reply(&r, 200);
    ts_reply_free(&r);
}

typedef struct fetch {
    const fixture *f;
    char path[400];
    ts_reply r;
} fetch;

static void *fetch_thread(void *arg)
{
    fetch *q = arg;
    q->r = get(q->f, q->path, "");
    return NULL;
}

/* A folder on the way to a track's file swapped for a symbolic link out of
 * the music folder after the server has checked the path, before it opens
 * the file (the hook stops it there: the test's open of the FIFO returns
 * once the server is at the hook, and it goes on when the test closes it):
 * the file is refused, not followed to the other folder's file. */
static void swap_while_opening(fixture *f);

static void a_folder_swapped_for_a_link_after_the_check_is_refused(void **state)
{
    fixture *f = *state;
    swap_while_opening(f);                     /* openat2 */
    setenv("EMOTUNE_TEST_NO_OPENAT2", "1", 1); /* its fallback, one name at a time */
    swap_while_opening(f);
    unsetenv("EMOTUNE_TEST_NO_OPENAT2");
}

static void swap_while_opening(fixture *f)
{
    char fifo[800], path[400];
    snprintf(path, sizeof path, "/api/v1/tracks/%s/audio", f->deep);
    ts_reply r = get(f, path, "");
    ts_check_reply(&r, 200); /* served while sub is a folder */
    ts_reply_free(&r);
    snprintf(fifo, sizeof fifo, "%s/open.fifo", f->dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    setenv("EMOTUNE_TEST_TRACK_OPEN_FIFO", fifo, 1);
    fetch q = {.f = f};
    snprintf(q.path, sizeof q.path, "%s", path);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, fetch_thread, &q), 0);
    int w = open(fifo, O_WRONLY); /* returns once the server is at the hook */
    assert_true(w >= 0);
    ts_sh("cd '%s' && mv sub sub.real && ln -s '%s/outside2' sub", f->music, f->dir);
    close(w);
    pthread_join(th, NULL);
    unsetenv("EMOTUNE_TEST_TRACK_OPEN_FIFO");
    ts_sh("cd '%s' && rm sub && mv sub.real sub && rm '%s'", f->music, fifo);
    size_t outside_len;
    char outside[900], err[ET_ERR_MAX];
    uint8_t *data;
    snprintf(outside, sizeof outside, "%s/outside2/deep.wav", f->dir);
    assert_int_equal(et_read_file(outside, 1 << 26, &data, &outside_len, err), ET_OK);
    if (q.r.status == 200 && q.r.body_len == outside_len &&
        memcmp(q.r.body, data, outside_len) == 0)
        fail_msg("the file beyond the swapped folder's link was served");
    free(data);
    ts_check_reply(&q.r, 404);
    assert_non_null(strstr(q.r.body, "symbolic link"));
    ts_reply_free(&q.r);
}

/* ../, %2e%2e%2f, ..%2f and NUL bytes in the {id} of every track route:
 * 400 or 404 with a JSON error, and no reply holds /etc/passwd's first line
 * or a repository file. */
static void path_tricks_in_the_id_are_refused(void **state)
{
    fixture *f = *state;
    const char *ids[] = {"..", "../", "%2e%2e%2f", "..%2f", "%2e%2e", "%00", "a%00b",
                         "..%2f..%2f..%2f..%2fetc%2fpasswd", "%2e%2e%2f%2e%2e%2fREADME.md",
                         "..%2fREADME.md", "README.md%00", "%2fetc%2fpasswd", "~root",
                         "f-0%00..%2f..%2fetc%2fpasswd"};
    const char *routes[] = {"/api/v1/tracks/%s", "/api/v1/tracks/%s/cover",
                            "/api/v1/tracks/%s/audio", "/api/v1/tracks?after=%s",
                            "/api/v1/tracks?limit=1&after=%s"};
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++)
        for (size_t k = 0; k < sizeof routes / sizeof *routes; k++) {
            char path[300];
            snprintf(path, sizeof path, routes[k], ids[i]);
            ts_reply r = get(f, path, "");
            bool listing = k >= 3; /* after= need not name a track: 200 or 400 */
            if (r.status != 404 && r.status != 400 && !(listing && r.status == 200))
                fail_msg("%s: status %d", path, r.status);
            ts_check_reply(&r, r.status);
            if (*f->passwd_line)
                assert_null(strstr(r.body, f->passwd_line));
            assert_null(strstr(r.body, "# emotune"));
            assert_null(strstr(r.body, f->music));
            ts_reply_free(&r);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_range_parser_follows_the_grammar),
        cmocka_unit_test(pages_give_every_track_exactly_once),
        cmocka_unit_test(one_track_has_the_lists_form),
        cmocka_unit_test(the_mood_filter_follows_tags_labels_and_estimates),
        cmocka_unit_test(the_cover_is_the_embedded_picture),
        cmocka_unit_test(audio_is_the_whole_file_with_its_type),
        cmocka_unit_test(ranges_are_served_as_rfc_9110_says),
        cmocka_unit_test(conditional_requests_answer_304_or_the_file),
        cmocka_unit_test(files_outside_the_scanned_folders_are_refused),
        cmocka_unit_test(a_folder_swapped_for_a_link_after_the_check_is_refused),
        cmocka_unit_test(path_tricks_in_the_id_are_refused),
    };
    return cmocka_run_group_tests_name("server_tracks", tests, setup, teardown);
}
