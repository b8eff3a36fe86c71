/* Catalogues of links (CSV, JSON, M3U) imported into a real LMDB store (the
 * named-mood table itself is tested in test_mood.c). Each bad line must be
 * reported at its own line number and only the good entries stored, with the
 * fields the header promises. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "library/library.h"
#include "library/library_internal.h"
#include "mood/mood.h"
#include "support.h"

typedef struct fixture {
    char *dir;
    et_store *s;
    char path[600];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = ts_tempdir();
    char uri[700], err[ET_ERR_MAX];
    snprintf(uri, sizeof uri, "lmdb:%s/store", f->dir);
    if (et_store_open(uri, NULL, &f->s, err) != ET_OK) {
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

/* ---- helpers ---- */

static const char *write_cat(fixture *f, const char *name, const char *text)
{
    snprintf(f->path, sizeof f->path, "%s/%s", f->dir, name);
    ts_write_file(f->path, text, strlen(text));
    return f->path;
}

static et_import_report import_ok(fixture *f, const char *path, const char *mood)
{
    et_import_report r;
    char err[ET_ERR_MAX] = "";
    et_status st = et_library_import(f->s, path, mood, &r, err);
    if (st != ET_OK)
        fail_msg("import %s: %s", path, err);
    return r;
}

static size_t track_count(fixture *f)
{
    size_t n = 99999;
    assert_int_equal(et_store_count(f->s, ET_LIBRARY_TRACKS, &n, NULL), ET_OK);
    return n;
}

/* The stored document of a link, by its URL as stored (normalised). */
static json_t *link_doc(fixture *f, const char *url)
{
    char id[19], *text = NULL;
    et__catalog_link_id(url, strlen(url), id);
    if (et_store_get(f->s, ET_LIBRARY_TRACKS, id, &text, NULL, NULL) != ET_OK)
        fail_msg("no track for %s", url);
    json_t *doc = json_loads(text, 0, NULL);
    free(text);
    assert_non_null(doc);
    return doc;
}

static void assert_link(fixture *f, const char *url, const char *title, const char *artist,
                        const char *mood, const char *source)
{
    double v, a;
    assert_true(et_mood_named_point(mood, &v, &a));
    json_t *d = link_doc(f, url);
    assert_string_equal(json_string_value(json_object_get(d, "kind")), "link");
    assert_string_equal(json_string_value(json_object_get(d, "url")), url);
    assert_string_equal(json_string_value(json_object_get(d, "title")), title);
    assert_string_equal(json_string_value(json_object_get(d, "artist")), artist);
    assert_true(json_is_null(json_object_get(d, "mood")));
    assert_string_equal(json_string_value(json_object_get(d, "catalog_mood")), mood);
    assert_true(json_real_value(json_object_get(d, "valence")) == v);
    assert_true(json_real_value(json_object_get(d, "arousal")) == a);
    assert_string_equal(json_string_value(json_object_get(d, "source")), source);
    assert_true(json_is_false(json_object_get(d, "missing")));
    assert_int_equal(json_object_size(d), 10);
    json_decref(d);
}

/* The report lists an issue at `line` whose message contains `part`. */
static void assert_issue(const et_import_report *r, size_t line, const char *part)
{
    for (size_t i = 0; i < r->n_issues; i++)
        if (r->issues[i].line == line && strstr(r->issues[i].message, part))
            return;
    for (size_t i = 0; i < r->n_issues; i++)
        fprintf(stderr, "  issue line %zu: %s\n", r->issues[i].line, r->issues[i].message);
    fail_msg("no issue at line %zu mentioning '%s'", line, part);
}

static char *export_store(fixture *f)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    assert_non_null(m);
    assert_int_equal(et_store_export(f->s, m, NULL, NULL), ET_OK);
    fclose(m);
    return buf;
}

/* ---- CSV ---- */

static void csv_good_file_stores_each_link_with_its_fields(void **state)
{
    fixture *f = *state;
    const char *p = write_cat(f, "good.csv",
                              "https://music.example/a.mp3,Alpha,Ann,happy\r\n"
                              "http://music.example/b.ogg,  Beta  , Bob ,Calm\r\n"
                              "https://music.example/c,Gamma,,neutral\r\n");
    et_import_report r = import_ok(f, p, NULL);
    assert_int_equal(r.added, 3);
    assert_int_equal(r.unchanged, 0);
    assert_int_equal(r.skipped, 0);
    assert_int_equal(r.n_issues, 0);
    assert_int_equal(track_count(f), 3);
    assert_link(f, "https://music.example/a.mp3", "Alpha", "Ann", "happy", "good.csv");
    assert_link(f, "http://music.example/b.ogg", "Beta", "Bob", "calm", "good.csv");
    assert_link(f, "https://music.example/c", "Gamma", "", "neutral", "good.csv");
    et_import_report_free(&r);
}

static void link_id_is_fnv1a_of_the_url_with_scheme_and_host_lower_cased(void **state)
{
    fixture *f = *state;
    const char *p = write_cat(f, "case.csv", "HTTPS://Example.COM/Song.mp3,S,A,sad\n");
    et_import_report r = import_ok(f, p, NULL);
    assert_int_equal(r.added, 1);
    /* FNV-1a 64 of "https://example.com/Song.mp3", worked out separately
     * (Python); the path keeps its case */
    char *text = NULL;
    assert_int_equal(et_store_get(f->s, ET_LIBRARY_TRACKS, "u-7b8ff9d57d69ec9d", &text, NULL, NULL),
                     ET_OK);
    json_t *d = json_loads(text, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(d, "url")), "https://example.com/Song.mp3");
    json_decref(d);
    free(text);
    /* the published FNV-1a 64 test vectors */
    char id[19];
    et__catalog_link_id("", 0, id);
    assert_string_equal(id, "u-cbf29ce484222325");
    et__catalog_link_id("a", 1, id);
    assert_string_equal(id, "u-af63dc4c8601ec8c");
    et_import_report_free(&r);
}

static void csv_bad_lines_are_reported_at_their_line_and_skipped(void **state)
{
    fixture *f = *state;
    const char *p = write_cat(f, "bad.csv",
                              "https://ok.example/a.mp3,A,X,happy\n"        /* 1 */
                              "javascript:alert(1),T,A,happy\n"             /* 2 */
                              "file:///etc/passwd,T,A,calm\n"               /* 3 */
                              "ftp://host.example/x.mp3,T,A,calm\n"         /* 4 */
                              ",No URL,A,sad\n"                             /* 5 */
                              "https://ok.example/b.mp3,B,Y,elated\n"       /* 6 */
                              "https://ok.example/c.mp3,\"Ti\"tle,A,happy\n" /* 7 */
                              "music/song.mp3,T,A,happy\n"                  /* 8 */
                              "\n"                                          /* 9 */
                              "https://ok.example/d.mp3,D,Z,sad\n"          /* 10 */
                              "https://ok.example/e.mp3,\"never closed,A,happy\n" /* 11 */
                              "https://ok.example/f.mp3,F,W,calm\n"         /* 12 */
                              "https://ok.example/g.mp3,G,V\n");            /* 13 */
    et_import_report r = import_ok(f, p, NULL);
    assert_int_equal(r.added, 3);
    assert_int_equal(r.skipped, 9);
    assert_int_equal(r.n_issues, 9);
    assert_issue(&r, 2, "scheme not allowed");
    assert_issue(&r, 2, "javascript:");
    assert_issue(&r, 3, "scheme not allowed");
    assert_issue(&r, 4, "scheme not allowed");
    assert_issue(&r, 5, "no URL");
    assert_issue(&r, 6, "unknown mood 'elated'");
    assert_issue(&r, 7, "broken quoting");
    assert_issue(&r, 8, "no scheme");
    assert_issue(&r, 11, "broken quoting");
    assert_issue(&r, 13, "no mood");
    assert_int_equal(track_count(f), 3);
    assert_link(f, "https://ok.example/a.mp3", "A", "X", "happy", "bad.csv");
    assert_link(f, "https://ok.example/d.mp3", "D", "Z", "sad", "bad.csv");
    assert_link(f, "https://ok.example/f.mp3", "F", "W", "calm", "bad.csv");
    et_import_report_free(&r);
}

static void csv_header_names_the_columns_in_any_order(void **state)
{
    fixture *f = *state;
    const char *p = write_cat(f, "header.csv",
                              "Mood, Year ,ARTIST,url,Title\n"
                              "sad,1999,Nina,https://h.example/1,Lilac Wine\n"
                              "energetic,2001,,https://h.example/2,Go\n");
    et_import_report r = import_ok(f, p, NULL);
    assert_int_equal(r.added, 2);
    assert_int_equal(r.skipped, 0);
    assert_link(f, "https://h.example/1", "Lilac Wine", "Nina", "sad", "header.csv");
    assert_link(f, "https://h.example/2", "Go", "", "energetic", "header.csv");
    et_import_report_free(&r);
}

static void csv_quoted_fields_keep_commas_quotes_and_count_lines(void **state)
{
    fixture *f = *state;
    const char *p = write_cat(f, "quoted.csv",
                              "url,title,artist,mood\n"
                              "https://q.example/1, \"Hello, \"\"World\"\"\" ,\"Smith, John\",calm\n"
                              "https://q.example/2,\"Two\nLines\",\"\",happy\n"
                              "file:///x,T,A,happy\n");
    et_import_report r = import_ok(f, p, NULL);
    assert_int_equal(r.added, 2);
    assert_link(f, "https://q.example/1", "Hello, \"World\"", "Smith, John", "calm", "quoted.csv");
    assert_link(f, "https://q.example/2", "Two Lines", "", "happy", "quoted.csv");
    assert_int_equal(r.n_issues, 1);
    assert_issue(&r, 5, "scheme not allowed"); /* the quoted line break counts */
    et_import_report_free(&r);
}

/* ---- JSON ---- */

static void json_good_file_stores_each_link(void **state)
{
    fixture *f = *state;
    const char *p = write_cat(f, "good.json",
                              "  [\n"
                              "  {\"url\": \"https://j.example/1\", \"title\": \"One\", "
                              "\"artist\": \"Uno\", \"mood\": \"surprised\", \"extra\": 1},\n"
                              "  {\"url\": \"https://j.example/2\", \"title\": null, \"mood\": \"angry\"}\n"
                              "]\n");
    et_import_report r = import_ok(f, p, NULL);
    assert_int_equal(r.added, 2);
    assert_int_equal(r.skipped, 0);
    assert_link(f, "https://j.example/1", "One", "Uno", "surprised", "good.json");
    assert_link(f, "https://j.example/2", "2", "", "angry", "good.json");
    et_import_report_free(&r);
}

static void json_bad_elements_are_reported_with_index_and_line(void **state)
{
    fixture *f = *state;
    const char *p = write_cat(f, "bad.json",
                              "[\n"
                              "{\"url\": \"https://j.example/ok1\", \"mood\": \"happy\"},\n" /* 2 [0] */
                              "42,\n"                                                        /* 3 [1] */
                              "{\"url\": \"javascript:void(0)\", \"mood\": \"happy\"},\n"    /* 4 [2] */
                              "{\"title\": \"no url\", \"mood\": \"sad\"},\n"                /* 5 [3] */
                              "{\"url\": \"https://j.example/t\", \"title\": 7,\n"           /* 6 [4] */
                              "  \"mood\": \"sad\"},\n"
                              "{\"url\": \"https://j.example/m\", \"mood\": \"grumpy\"},\n"  /* 8 [5] */
                              "[\"https://j.example/array\"],\n"                             /* 9 [6] */
                              "{\"url\": \"https://j.example/ok2\", \"mood\": \"tense\", "   /* 10 [7] */
                              "\"title\": \"T\\u0000x\"}\n"
                              "]");
    et_import_report r = import_ok(f, p, NULL);
    assert_int_equal(r.added, 2);
    assert_int_equal(r.skipped, 6);
    assert_issue(&r, 3, "element [1]: not an object");
    assert_issue(&r, 4, "element [2]: scheme not allowed");
    assert_issue(&r, 5, "element [3]: no URL");
    assert_issue(&r, 6, "element [4]: \"title\" is not a string");
    assert_issue(&r, 8, "element [5]: unknown mood 'grumpy'");
    assert_issue(&r, 9, "element [6]: not an object");
    assert_link(f, "https://j.example/ok1", "ok1", "", "happy", "bad.json");
    assert_link(f, "https://j.example/ok2", "T x", "", "tense", "bad.json");
    et_import_report_free(&r);
}

static void json_that_is_not_an_array_or_does_not_parse_is_refused(void **state)
{
    fixture *f = *state;
    const char *bad[] = {"{\"url\": \"https://j.example/1\", \"mood\": \"happy\"}",
                         "[{\"url\": \"https://j.example/1\", \"mood\": \"happy\"},",
                         "[1] [2]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        et_import_report r = {.added = 7};
        char err[ET_ERR_MAX] = "";
        assert_int_equal(et_library_import(f->s, write_cat(f, "x.json", bad[i]), NULL, &r, err),
                         ET_E_INVALID);
        assert_non_null(strstr(err, "x.json"));
        assert_int_equal(r.added + r.n_issues, 0);
        assert_null(r.issues);
    }
    assert_int_equal(track_count(f), 0);
}

static void json_syntax_error_names_its_line_and_writes_nothing(void **state)
{
    fixture *f = *state;
    const char *p = write_cat(f, "syntax.json",
                              "[\n"
                              "{\"url\": \"https://j.example/1\", \"mood\": \"sad\"},\n"
                              "{\"url\": oops}\n"
                              "]\n");
    char err[ET_ERR_MAX] = "";
    assert_int_equal(et_library_import(f->s, p, NULL, NULL, err), ET_E_INVALID);
    if (!strstr(err, "line 3"))
        fail_msg("%s", err);
    p = write_cat(f, "trailing.json", "[{\"url\": \"https://j.example/1\", \"mood\": \"sad\"}]\n x");
    assert_int_equal(et_library_import(f->s, p, NULL, NULL, err), ET_E_INVALID);
    if (!strstr(err, "line 2: text after the array"))
        fail_msg("%s", err);
    p = write_cat(f, "open.json", "[{\"url\": \"https://j.example/1\", \"mood\": \"sad\"}\n");
    assert_int_equal(et_library_import(f->s, p, NULL, NULL, err), ET_E_INVALID);
    if (!strstr(err, "never closed"))
        fail_msg("%s", err);
    assert_int_equal(track_count(f), 0);
}

/* ---- M3U ---- */

static void m3u_good_file_takes_titles_from_extinf(void **state)
{
    fixture *f = *state;
    const char *p = write_cat(f, "good.m3u8",
                              "#EXTM3U\n"
                              "#EXTMOOD:relaxed\n"
                              "#EXTINF:215,Nick Drake - Pink Moon\n"
                              "https://m.example/pink-moon.mp3\n"
                              "\n"
                              "# a comment\n"
                              "#EXTINF:-1 tvg-name=\"A, B\",Radio - Live - Now\n"
                              "  https://radio.example:8000/live  \n"
                              "#EXTINF:10,Just a title\n"
                              "https://m.example/t.mp3\n"
                              "https://m.example/dir/My%20Song.ogg?x=1\n");
    et_import_report r = import_ok(f, p, NULL);
    assert_int_equal(r.added, 4);
    assert_int_equal(r.skipped, 0);
    assert_link(f, "https://m.example/pink-moon.mp3", "Pink Moon", "Nick Drake", "relaxed",
                "good.m3u8");
    assert_link(f, "https://radio.example:8000/live", "Live - Now", "Radio", "relaxed", "good.m3u8");
    assert_link(f, "https://m.example/t.mp3", "Just a title", "", "relaxed", "good.m3u8");
    assert_link(f, "https://m.example/dir/My%20Song.ogg?x=1", "My Song.ogg", "", "relaxed",
                "good.m3u8");
    et_import_report_free(&r);
}

static void m3u_extmood_lines_switch_the_mood_of_what_follows(void **state)
{
    fixture *f = *state;
    const char *p = write_cat(f, "moods.m3u",
                              "#EXTM3U\n"
                              "#EXTMOOD:happy\n"
                              "https://m.example/1\n"
                              "https://m.example/2\n"
                              "#MOOD: Sad \n"
                              "https://m.example/3\n"
                              "#extmood:excited\n"
                              "https://m.example/4\n");
    et_import_report r = import_ok(f, p, NULL);
    assert_int_equal(r.added, 4);
    assert_link(f, "https://m.example/1", "1", "", "happy", "moods.m3u");
    assert_link(f, "https://m.example/2", "2", "", "happy", "moods.m3u");
    assert_link(f, "https://m.example/3", "3", "", "sad", "moods.m3u");
    assert_link(f, "https://m.example/4", "4", "", "excited", "moods.m3u");
    et_import_report_free(&r);
}

static void m3u_bad_lines_are_reported_at_their_line_and_skipped(void **state)
{
    fixture *f = *state;
    const char *p = write_cat(f, "bad.m3u",
                              "#EXTM3U\n"                          /* 1 */
                              "#EXTINF:1,No - Mood\n"              /* 2 */
                              "https://m.example/nomood\n"         /* 3 */
                              "#EXTMOOD:calm\n"                    /* 4 */
                              "javascript:alert(document.cookie)\n" /* 5 */
                              "file:///home/me/song.mp3\n"         /* 6 */
                              "ftp://m.example/x.mp3\n"            /* 7 */
                              "data:audio/mp3;base64,AAAA\n"       /* 8 */
                              "songs/local.mp3\n"                  /* 9 */
                              "https://m.example/good\n"           /* 10 */
                              "https://user:pw@m.example/x\n"      /* 11 */
                              "http:///nohost\n"                   /* 12 */
                              "HTTPS://M.example/good\n"           /* 13 */
                              "#EXTMOOD:blue\n"                    /* 14 */
                              "https://m.example/blue\n");         /* 15 */
    et_import_report r = import_ok(f, p, NULL);
    assert_int_equal(r.added, 1);
    assert_int_equal(r.skipped, 10);
    assert_issue(&r, 3, "no mood");
    assert_issue(&r, 5, "scheme not allowed");
    assert_issue(&r, 6, "scheme not allowed");
    assert_issue(&r, 7, "scheme not allowed");
    assert_issue(&r, 8, "scheme not allowed");
    assert_issue(&r, 9, "no scheme");
    assert_issue(&r, 11, "user name or password");
    assert_issue(&r, 12, "no host");
    assert_issue(&r, 13, "same link as line 10");
    assert_issue(&r, 15, "unknown mood 'blue' (set on line 14)");
    assert_int_equal(track_count(f), 1);
    assert_link(f, "https://m.example/good", "good", "", "calm", "bad.m3u");
    et_import_report_free(&r);
}

static void bare_url_list_is_read_as_m3u_with_the_mood_argument(void **state)
{
    (void)state;
    const char *text = "https://b.example/1\nhttps://b.example/2\n";
    et__catalog c;
    assert_int_equal(et__catalog_parse(text, strlen(text), "calm", &c, NULL), ET_OK);
    assert_int_equal(c.format, ET__CATALOG_M3U);
    assert_int_equal(c.n_entries, 2);
    assert_string_equal(c.entries[1].url, "https://b.example/2");
    assert_int_equal(c.entries[1].line, 2);
    et__catalog_free(&c);
    /* without a mood each is reported */
    assert_int_equal(et__catalog_parse(text, strlen(text), NULL, &c, NULL), ET_OK);
    assert_int_equal(c.n_entries, 0);
    assert_int_equal(c.skipped, 2);
    et__catalog_free(&c);
}

/* ---- the mood argument ---- */

static void mood_argument_fills_missing_moods_and_replaces_the_files(void **state)
{
    fixture *f = *state;
    const char *p = write_cat(f, "nomood.m3u", "#EXTM3U\nhttps://a.example/1\n"
                                               "#EXTMOOD:happy\nhttps://a.example/2\n");
    et_import_report r = import_ok(f, p, "Calm");
    assert_int_equal(r.added, 2);
    assert_link(f, "https://a.example/1", "1", "", "calm", "nomood.m3u");
    assert_link(f, "https://a.example/2", "2", "", "calm", "nomood.m3u");
    et_import_report_free(&r);

    p = write_cat(f, "labels.csv", "https://a.example/3,T,A,happy\nhttps://a.example/4,T,A,elated\n"
                                   "https://a.example/5,T,A\n");
    r = import_ok(f, p, " fearful ");
    assert_int_equal(r.added, 3);
    assert_int_equal(r.skipped, 0);
    assert_link(f, "https://a.example/3", "T", "A", "fearful", "labels.csv");
    assert_link(f, "https://a.example/5", "T", "A", "fearful", "labels.csv");
    et_import_report_free(&r);
}

static void unknown_mood_argument_is_invalid_before_the_file_is_read(void **state)
{
    fixture *f = *state;
    const char *p = write_cat(f, "ok.csv", "https://a.example/1,T,A,happy\n");
    et_import_report r;
    char err[ET_ERR_MAX] = "";
    assert_int_equal(et_library_import(f->s, p, "elated", &r, err), ET_E_INVALID);
    assert_non_null(strstr(err, "elated"));
    assert_int_equal(r.added + r.skipped + r.n_issues, 0);
    /* a missing file would be ET_E_IO: the mood is checked first */
    assert_int_equal(et_library_import(f->s, "/nonexistent/x.csv", "", &r, err), ET_E_INVALID);
    assert_int_equal(et_library_import(f->s, "/nonexistent/x.csv", NULL, &r, err), ET_E_IO);
    assert_int_equal(track_count(f), 0);
}

/* ---- limits ---- */

static void file_over_64_mb_is_refused_before_reading(void **state)
{
    fixture *f = *state;
    const char *p = write_cat(f, "huge.csv", "https://a.example/1,T,A,happy\n");
    assert_int_equal(truncate(p, (off_t)65 << 20), 0); /* sparse: cheap */
    et_import_report r;
    char err[ET_ERR_MAX] = "";
    assert_int_equal(et_library_import(f->s, p, NULL, &r, err), ET_E_TOO_LARGE);
    assert_non_null(strstr(err, "huge.csv"));
    assert_int_equal(track_count(f), 0);
}

static void line_over_64_kb_is_skipped_and_reported(void **state)
{
    (void)state;
    size_t big = (64 << 10) + 10;
    char *text = malloc(big + 200);
    for (int csv = 0; csv < 2; csv++) {
        char *o = text;
        o += sprintf(o, csv ? "https://l.example/1,T,A,happy\nhttps://l.example/2,"
                            : "#EXTMOOD:happy\nhttps://l.example/1\nhttps://l.example/2/");
        memset(o, 'x', big);
        o += big;
        sprintf(o, csv ? ",A,happy\nhttps://l.example/3,T,A,happy\n" : "\nhttps://l.example/3\n");
        et__catalog c;
        assert_int_equal(et__catalog_parse(text, strlen(text), NULL, &c, NULL), ET_OK);
        assert_int_equal(c.format, csv ? ET__CATALOG_CSV : ET__CATALOG_M3U);
        assert_int_equal(c.n_entries, 2);
        assert_int_equal(c.n_issues, 1);
        assert_int_equal(c.issues[0].line, csv ? 2 : 3);
        assert_non_null(strstr(c.issues[0].message, "longer than 65536 bytes"));
        assert_int_equal(c.entries[1].line, csv ? 3 : 4);
        et__catalog_free(&c);
    }
    free(text);
}

static void url_limits_and_host_rules(void **state)
{
    (void)state;
    static const struct { const char *url; const char *why; } cases[] = {
        {"http://[::1]:8080/x", NULL},
        {"HTTP://Host.Example:/x", NULL},
        {"https://h.example?q", NULL},
        {"https://h.example/caf\xc3\xa9", NULL},
        {"https://h.example:99999/", "bad port"},
        {"https://h.example:8o/", "bad port"},
        {"https://", "no host"},
        {"https:h.example/x", "no host"},
        {"https://[::1/x", "bad host"},
        {"https://h.example/a b", "space or control"},
        {"https://h.example/a\x01", "space or control"},
        {"https://h.example/\"x", "not allowed"},
        {"https://h.example\\@evil.example/", "not allowed"},
        {"https://h.example/\xff", "not valid UTF-8"},
        {"https://h{x}.example/", "not allowed in the host"},
        {"//h.example/x", "no scheme"},
        {"C:\\music\\a.mp3", "scheme not allowed"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[300];
        snprintf(text, sizeof text, "#EXTM3U\n%s\n", cases[i].url);
        et__catalog c;
        assert_int_equal(et__catalog_parse(text, strlen(text), "happy", &c, NULL), ET_OK);
        if (cases[i].why) {
            if (c.n_issues != 1 || !strstr(c.issues[0].message, cases[i].why))
                fail_msg("%s: want '%s', got %s", cases[i].url, cases[i].why,
                         c.n_issues ? c.issues[0].message : "no issue");
            assert_int_equal(c.n_entries, 0);
        } else if (c.n_entries != 1) {
            fail_msg("%s refused: %s", cases[i].url, c.n_issues ? c.issues[0].message : "?");
        }
        et__catalog_free(&c);
    }
    /* 2048 bytes is the longest URL */
    char text[2200] = "#EXTM3U\nhttps://h.example/";
    size_t n = strlen(text);
    memset(text + n, 'a', 2048 - (n - 8));
    strcpy(text + 8 + 2048, "\n");
    et__catalog c;
    assert_int_equal(et__catalog_parse(text, strlen(text), "happy", &c, NULL), ET_OK);
    assert_int_equal(c.n_entries, 1);
    et__catalog_free(&c);
    strcpy(text + 8 + 2048, "a\n");
    assert_int_equal(et__catalog_parse(text, strlen(text), "happy", &c, NULL), ET_OK);
    assert_int_equal(c.n_entries, 0);
    assert_non_null(strstr(c.issues[0].message, "longer than 2048"));
    et__catalog_free(&c);
}

static void titles_become_valid_utf8_within_512_bytes(void **state)
{
    (void)state;
    /* Windows-1252 bytes: e9 = é, 92 = right single quote; a tab is a space */
    char text[2000] = "https://t.example/1,Caf\xe9\t\x92s,\xc3\xa9t\xc3\xa9,happy\n"
                      "https://t.example/2,";
    size_t n = strlen(text);
    for (int i = 0; i < 300; i++) /* 600 bytes of é */
        text[n++] = '\xc3', text[n++] = '\xa9';
    strcpy(text + n, ",A,happy\n");
    et__catalog c;
    assert_int_equal(et__catalog_parse(text, strlen(text), NULL, &c, NULL), ET_OK);
    assert_int_equal(c.n_entries, 2);
    assert_string_equal(c.entries[0].title, "Caf\xc3\xa9 \xe2\x80\x99s");
    assert_string_equal(c.entries[0].artist, "\xc3\xa9t\xc3\xa9");
    assert_int_equal(strlen(c.entries[1].title), 512);
    json_t *j = json_string(c.entries[1].title); /* NULL if not valid UTF-8 */
    assert_non_null(j);
    json_decref(j);
    et__catalog_free(&c);
}

static void issue_list_is_capped_and_the_rest_counted(void **state)
{
    (void)state;
    size_t lines = ET__CATALOG_MAX_ISSUES + 500;
    char *text = malloc(lines * 32), *o = text;
    for (size_t i = 0; i < lines; i++)
        o += sprintf(o, "ftp://x.example/%zu,T,A,happy\n", i);
    et__catalog c;
    assert_int_equal(et__catalog_parse(text, (size_t)(o - text), NULL, &c, NULL), ET_OK);
    assert_int_equal(c.n_issues, ET__CATALOG_MAX_ISSUES);
    assert_int_equal(c.skipped, lines);
    assert_int_equal(c.issues[ET__CATALOG_MAX_ISSUES - 1].line, ET__CATALOG_MAX_ISSUES);
    et__catalog_free(&c);
    free(text);
}

static void binary_file_is_not_a_catalogue(void **state)
{
    fixture *f = *state;
    snprintf(f->path, sizeof f->path, "%s/bin.csv", f->dir);
    ts_write_file(f->path, "https://a.example/1,T,A,happy\n\0\1\2", 33);
    char err[ET_ERR_MAX] = "";
    assert_int_equal(et_library_import(f->s, f->path, NULL, NULL, err), ET_E_INVALID);
    assert_non_null(strstr(err, "NUL"));
    assert_int_equal(track_count(f), 0);
}

/* ---- importing again ---- */

static void importing_the_same_file_twice_changes_nothing(void **state)
{
    fixture *f = *state;
    const char *texts[][2] = {
        {"a.csv", "https://r.example/1,One,A,happy\nhttps://r.example/2,Two,B,sad\n"},
        {"b.json", "[{\"url\":\"https://r.example/3\",\"mood\":\"calm\"}]"},
        {"c.m3u", "#EXTM3U\n#EXTMOOD:angry\n#EXTINF:1,X - Y\nhttps://r.example/4\n"},
    };
    for (size_t i = 0; i < 3; i++) {
        char path[600];
        snprintf(path, sizeof path, "%s", write_cat(f, texts[i][0], texts[i][1]));
        et_import_report r = import_ok(f, path, NULL);
        assert_true(r.added > 0);
        size_t n = r.added;
        et_import_report_free(&r);
        char *before = export_store(f);
        r = import_ok(f, path, NULL);
        assert_int_equal(r.added, 0);
        assert_int_equal(r.unchanged, n);
        char *after = export_store(f);
        assert_string_equal(before, after);
        free(before);
        free(after);
        et_import_report_free(&r);
    }
    assert_int_equal(track_count(f), 4);
}

static void changed_entry_is_rewritten_and_counted_as_added(void **state)
{
    fixture *f = *state;
    write_cat(f, "list.csv", "https://c.example/1,Old,A,happy\nhttps://c.example/2,Same,B,sad\n");
    et_import_report r = import_ok(f, f->path, NULL);
    et_import_report_free(&r);
    write_cat(f, "list.csv", "https://c.example/1,New,A,calm\nhttps://c.example/2,Same,B,sad\n");
    r = import_ok(f, f->path, NULL);
    assert_int_equal(r.added, 1);
    assert_int_equal(r.unchanged, 1);
    assert_link(f, "https://c.example/1", "New", "A", "calm", "list.csv");
    et_import_report_free(&r);
}

/* What `emotune tag` does to a track: sets "mood" and the point that goes
 * with it (done by hand here to keep this test on catalog.c alone). */
static void tag_by_hand(fixture *f, const char *url, const char *mood)
{
    json_t *d = link_doc(f, url);
    double v, a;
    assert_true(et_mood_named_point(mood, &v, &a));
    json_object_set_new(d, "mood", json_string(mood));
    json_object_set_new(d, "valence", json_real(v));
    json_object_set_new(d, "arousal", json_real(a));
    json_object_set_new(d, "plays", json_integer(3));
    char *text = json_dumps(d, JSON_COMPACT), id[19];
    et__catalog_link_id(url, strlen(url), id);
    assert_int_equal(et_store_put(f->s, ET_LIBRARY_TRACKS, id, text, strlen(text), NULL), ET_OK);
    free(text);
    json_decref(d);
}

static void listener_mood_survives_reimport(void **state)
{
    fixture *f = *state;
    write_cat(f, "l.csv", "https://t.example/1,Title,A,happy\n");
    et_import_report r = import_ok(f, f->path, NULL);
    et_import_report_free(&r);
    tag_by_hand(f, "https://t.example/1", "sad");
    r = import_ok(f, f->path, NULL);
    assert_int_equal(r.unchanged, 1);
    et_import_report_free(&r);
    write_cat(f, "l.csv", "https://t.example/1,Renamed,A,happy\n");
    r = import_ok(f, f->path, NULL);
    assert_int_equal(r.added, 1);
    et_import_report_free(&r);
    json_t *d = link_doc(f, "https://t.example/1");
    assert_string_equal(json_string_value(json_object_get(d, "title")), "Renamed");
    assert_string_equal(json_string_value(json_object_get(d, "mood")), "sad");
    assert_string_equal(json_string_value(json_object_get(d, "catalog_mood")), "happy");
    assert_true(json_real_value(json_object_get(d, "valence")) == -0.7);
    assert_true(json_real_value(json_object_get(d, "arousal")) == -0.4);
    assert_int_equal(json_integer_value(json_object_get(d, "plays")), 3);
    json_decref(d);
}

static void more_than_one_batch_is_written(void **state)
{
    fixture *f = *state;
    size_t n = 2500;
    char *text = malloc(n * 48), *o = text;
    for (size_t i = 0; i < n; i++)
        o += sprintf(o, "https://n.example/%zu,T%zu,A,calm\n", i, i);
    snprintf(f->path, sizeof f->path, "%s/many.csv", f->dir);
    ts_write_file(f->path, text, (size_t)(o - text));
    free(text);
    et_import_report r = import_ok(f, f->path, NULL);
    assert_int_equal(r.added, n);
    assert_int_equal(track_count(f), n);
    et_import_report_free(&r);
    assert_link(f, "https://n.example/2499", "T2499", "A", "calm", "many.csv");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(csv_good_file_stores_each_link_with_its_fields, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            link_id_is_fnv1a_of_the_url_with_scheme_and_host_lower_cased, setup, teardown),
        cmocka_unit_test_setup_teardown(csv_bad_lines_are_reported_at_their_line_and_skipped,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(csv_header_names_the_columns_in_any_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(csv_quoted_fields_keep_commas_quotes_and_count_lines,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(json_good_file_stores_each_link, setup, teardown),
        cmocka_unit_test_setup_teardown(json_bad_elements_are_reported_with_index_and_line, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(json_that_is_not_an_array_or_does_not_parse_is_refused,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(json_syntax_error_names_its_line_and_writes_nothing,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(m3u_good_file_takes_titles_from_extinf, setup, teardown),
        cmocka_unit_test_setup_teardown(m3u_extmood_lines_switch_the_mood_of_what_follows, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(m3u_bad_lines_are_reported_at_their_line_and_skipped,
                                        setup, teardown),
        cmocka_unit_test(bare_url_list_is_read_as_m3u_with_the_mood_argument),
        cmocka_unit_test_setup_teardown(mood_argument_fills_missing_moods_and_replaces_the_files,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(unknown_mood_argument_is_invalid_before_the_file_is_read,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(file_over_64_mb_is_refused_before_reading, setup,
                                        teardown),
        cmocka_unit_test(line_over_64_kb_is_skipped_and_reported),
        cmocka_unit_test(url_limits_and_host_rules),
        cmocka_unit_test(titles_become_valid_utf8_within_512_bytes),
        cmocka_unit_test(issue_list_is_capped_and_the_rest_counted),
        cmocka_unit_test_setup_teardown(binary_file_is_not_a_catalogue, setup, teardown),
        cmocka_unit_test_setup_teardown(importing_the_same_file_twice_changes_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(changed_entry_is_rewritten_and_counted_as_added, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(listener_mood_survives_reimport, setup, teardown),
        cmocka_unit_test_setup_teardown(more_than_one_batch_is_written, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
