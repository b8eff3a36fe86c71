/* `emotune detect` end to end: the built binary (EMOTUNE_TEST_BIN) run on
 * real images -- the face-api demo JPEGs, the same picture as PNG and WebP,
 * a JPEG stored sideways with an EXIF orientation tag, a picture with no
 * face, and files it cannot read. */
#include <jansson.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <turbojpeg.h>
#include <unistd.h>
#include <webp/encode.h>

#include "image/image.h"
#include "library/library.h"
#include "mood/mood.h"
#include "support.h"

static char *demo(int i)
{
    char *p = malloc(512);
    snprintf(p, 512, "%s/sample%d.jpg", ts_demo_dir(), i);
    return p;
}

static json_t *detect_json(const char *args, int *status)
{
    char cmd[8400], *out;
    snprintf(cmd, sizeof cmd, "%s detect --json %s", ts_bin(), args);
    *status = ts_run(cmd, &out);
    json_t *l = ts_json_lines(out);
    free(out);
    return l;
}

static void demo_images_give_faces_in_order_with_all_fields(void **state)
{
    (void)state;
    char args[4096] = "";
    for (int i = 1; i <= 6; i++) {
        char *p = demo(i);
        strcat(args, p);
        strcat(args, " ");
        free(p);
    }
    int st;
    json_t *l = detect_json(args, &st);
    assert_int_equal(st, 0);
    assert_int_equal(json_array_size(l), 6);
    /* Faces per demo image as face-api itself finds them (TinyFaceDetector
     * 416, score 0.5): 3, 1, 3, 3, 5, 5 -- see build/parity/detect.jsonl. */
    static const size_t want[6] = {3, 1, 3, 3, 5, 5};
    for (size_t i = 0; i < 6; i++) {
        json_t *img = json_array_get(l, i);
        char *p = demo((int)i + 1);
        assert_string_equal(json_string_value(json_object_get(img, "image")), p);
        free(p);
        /* the default detection; these faces are all found by its first
         * pass, face-api's */
        assert_string_equal(json_string_value(json_object_get(img, "detection")), "two-pass");
        json_t *faces = json_object_get(img, "faces");
        assert_int_equal(json_array_size(faces), want[i]);
        double prev_area = INFINITY;
        size_t k;
        json_t *f;
        json_array_foreach(faces, k, f) {
            json_t *box = json_object_get(f, "box");
            double area = json_number_value(json_object_get(box, "width")) *
                          json_number_value(json_object_get(box, "height"));
            assert_true(area <= prev_area); /* largest first */
            prev_area = area;
            assert_string_equal(json_string_value(json_object_get(f, "detection")), "face-api");
            json_t *e = json_object_get(f, "expressions");
            assert_int_equal(json_object_size(e), 7);
            double sum = 0, top = -1;
            const char *key, *top_name = NULL;
            json_t *v;
            json_object_foreach(e, key, v) {
                sum += json_number_value(v);
                if (json_number_value(v) > top) {
                    top = json_number_value(v);
                    top_name = key;
                }
            }
            assert_float_equal(sum, 1.0, 1e-4);
            assert_string_equal(json_string_value(json_object_get(f, "expression")), top_name);
            assert_int_equal(json_is_true(json_object_get(f, "smiling")),
                             strcmp(top_name, "happy") == 0);
            double score = json_number_value(json_object_get(f, "score"));
            assert_true(score > 0.5 && score < 1);
            /* the face's mood: a point in range and one of the seven names;
             * a face that is one expression for sure (> 0.95) sits on that
             * expression's named mood */
            json_t *mood = json_object_get(f, "mood");
            double mv = json_number_value(json_object_get(mood, "valence"));
            double ma = json_number_value(json_object_get(mood, "arousal"));
            double mc = json_number_value(json_object_get(mood, "confidence"));
            assert_true(mv >= -1 && mv <= 1 && ma >= -1 && ma <= 1 && mc >= 0 && mc <= 1);
            const char *name = json_string_value(json_object_get(mood, "name"));
            assert_non_null(name);
            assert_true(et_mood_named_point(name, NULL, NULL));
            if (top > 0.95) {
                const char *want_mood = !strcmp(top_name, "neutral")   ? "calm"
                                        : !strcmp(top_name, "fearful") ? "tense"
                                                                       : top_name;
                assert_string_equal(name, want_mood);
            }
        }
    }
    json_decref(l);
}

/* Decodes a demo image with our decoder, for re-encoding in other formats. */
static et_image load_demo(int i)
{
    char *p = demo(i);
    et_image img = {0};
    char err[ET_ERR_MAX];
    assert_int_equal(et_image_load(p, NULL, &img, err), ET_OK);
    free(p);
    return img;
}

static void write_png(const et_image *img, const char *path)
{
    png_image pi = {.version = PNG_IMAGE_VERSION, .width = (png_uint_32)img->width,
                    .height = (png_uint_32)img->height, .format = PNG_FORMAT_RGB};
    assert_true(png_image_write_to_file(&pi, path, 0, img->rgb, img->width * 3, NULL));
}

static void write_webp(const et_image *img, const char *path)
{
    uint8_t *out;
    size_t n = WebPEncodeLosslessRGB(img->rgb, img->width, img->height, img->width * 3, &out);
    assert_true(n > 0);
    ts_write_file(path, out, n);
    WebPFree(out);
}

/* Box lists of two JSON lines agree within tol pixels, face for face. */
static void assert_same_faces(json_t *a, json_t *b, double tol)
{
    json_t *fa = json_object_get(a, "faces"), *fb = json_object_get(b, "faces");
    assert_int_equal(json_array_size(fa), json_array_size(fb));
    for (size_t i = 0; i < json_array_size(fa); i++) {
        json_t *ba = json_object_get(json_array_get(fa, i), "box");
        json_t *bb = json_object_get(json_array_get(fb, i), "box");
        static const char *k[] = {"x", "y", "width", "height"};
        for (int j = 0; j < 4; j++)
            assert_float_equal(json_number_value(json_object_get(ba, k[j])),
                               json_number_value(json_object_get(bb, k[j])), tol);
    }
}

static void png_and_webp_of_a_demo_image_give_its_faces(void **state)
{
    (void)state;
    char *dir = ts_tempdir(), png[1024], webp[1024], args[4096];
    et_image img = load_demo(1);
    snprintf(png, sizeof png, "%s/sample1.png", dir);
    snprintf(webp, sizeof webp, "%s/sample1.webp.jpg", dir); /* name lies: content decides */
    write_png(&img, png);
    write_webp(&img, webp);
    et_image_free(&img);
    char *jpg = demo(1);
    snprintf(args, sizeof args, "%s %s %s", jpg, png, webp);
    free(jpg);
    int st;
    json_t *l = detect_json(args, &st);
    assert_int_equal(st, 0);
    assert_int_equal(json_array_size(l), 3);
    /* Lossless formats of the same decoded pixels: identical results. */
    assert_same_faces(json_array_get(l, 0), json_array_get(l, 1), 1e-9);
    assert_same_faces(json_array_get(l, 0), json_array_get(l, 2), 1e-9);
    json_decref(l);
    ts_rmtree(dir);
    free(dir);
}

/* A JPEG APP1 Exif segment holding only Orientation = o (TIFF, little-endian). */
static size_t exif_segment(uint8_t *seg, int o)
{
    static const uint8_t tmpl[] = {
        0xFF, 0xE1, 0x00, 0x22, 'E', 'x', 'i', 'f', 0, 0,     /* APP1, length 34 */
        'I', 'I', 0x2A, 0x00, 0x08, 0x00, 0x00, 0x00,         /* TIFF header, IFD at 8 */
        0x01, 0x00,                                           /* one entry */
        0x12, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00,       /* 0x0112 SHORT x1 */
        0x00, 0x00, 0x00, 0x00,                               /* value, set below */
        0x00, 0x00, 0x00, 0x00,                               /* no next IFD */
    };
    memcpy(seg, tmpl, sizeof tmpl);
    seg[28] = (uint8_t)o; /* 10 bytes APP1 header + 8 TIFF + 2 count + 8 of the entry */
    return sizeof tmpl;
}

static void sideways_jpeg_with_exif_orientation_is_turned_upright(void **state)
{
    (void)state;
    /* Store demo 1 rotated 90 degrees counter-clockwise and tag it with
     * Orientation 6 ("rotate 90 CW to display"), as a phone held sideways
     * does. emotune must turn it upright and find the same faces. */
    et_image img = load_demo(1);
    int w = img.width, h = img.height;
    uint8_t *rot = malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) /* CCW: (x, y) -> (y, w-1-x) in an h-wide image */
            memcpy(rot + ((size_t)(w - 1 - x) * h + y) * 3, img.rgb + ((size_t)y * w + x) * 3, 3);
    tjhandle tj = tjInitCompress();
    unsigned char *jpeg = NULL;
    unsigned long jlen = 0;
    assert_int_equal(tjCompress2(tj, rot, h, 0, w, TJPF_RGB, &jpeg, &jlen, TJSAMP_444, 98, 0), 0);
    uint8_t seg[64];
    size_t slen = exif_segment(seg, 6);
    uint8_t *tagged = malloc(jlen + slen);
    memcpy(tagged, jpeg, 2); /* SOI */
    memcpy(tagged + 2, seg, slen);
    memcpy(tagged + 2 + slen, jpeg + 2, jlen - 2);
    char *dir = ts_tempdir(), path[1024], args[2048];
    snprintf(path, sizeof path, "%s/phone.jpg", dir);
    ts_write_file(path, tagged, jlen + slen);
    char *jpg = demo(1);
    snprintf(args, sizeof args, "%s %s", jpg, path);
    free(jpg);
    int st;
    json_t *l = detect_json(args, &st);
    assert_int_equal(st, 0);
    json_t *up = json_array_get(l, 1);
    assert_int_equal(json_integer_value(json_object_get(up, "width")), w);
    assert_int_equal(json_integer_value(json_object_get(up, "height")), h);
    /* Re-encoding at quality 98 moves boxes by a few pixels at most. */
    assert_same_faces(json_array_get(l, 0), up, 6.0);
    json_decref(l);
    tjFree(jpeg);
    tjDestroy(tj);
    free(tagged);
    free(rot);
    et_image_free(&img);
    ts_rmtree(dir);
    free(dir);
}

static void no_face_is_an_empty_list_and_bad_files_are_reported_per_line(void **state)
{
    (void)state;
    char *dir = ts_tempdir(), sky[1024], text[1024], args[4096];
    /* A smooth blue gradient: no face. */
    et_image img = {.width = 320, .height = 240};
    img.rgb = malloc(320 * 240 * 3);
    for (int i = 0; i < 320 * 240; i++) {
        img.rgb[i * 3] = 90;
        img.rgb[i * 3 + 1] = (uint8_t)(120 + (i / 320) / 4);
        img.rgb[i * 3 + 2] = 230;
    }
    snprintf(sky, sizeof sky, "%s/sky.png", dir);
    write_png(&img, sky);
    free(img.rgb);
    snprintf(text, sizeof text, "%s/notes.jpg", dir);
    ts_write_file(text, "just some text\n", 15);
    char *jpg = demo(2);
    snprintf(args, sizeof args, "%s %s %s/missing.png %s", sky, text, dir, jpg);
    free(jpg);
    int st;
    json_t *l = detect_json(args, &st);
    assert_int_equal(st, 1); /* some image could not be read */
    assert_int_equal(json_array_size(l), 4);
    assert_int_equal(json_array_size(json_object_get(json_array_get(l, 0), "faces")), 0);
    assert_non_null(json_object_get(json_array_get(l, 0), "faces"));
    json_t *e1 = json_object_get(json_array_get(l, 1), "error");
    assert_string_equal(json_string_value(json_object_get(e1, "code")), "unsupported_format");
    assert_non_null(strstr(json_string_value(json_object_get(e1, "message")), "notes.jpg"));
    json_t *e2 = json_object_get(json_array_get(l, 2), "error");
    assert_string_equal(json_string_value(json_object_get(e2, "code")), "io_error");
    /* the image after the bad ones is still processed */
    assert_int_equal(json_array_size(json_object_get(json_array_get(l, 3), "faces")), 1);
    json_decref(l);
    ts_rmtree(dir);
    free(dir);
}

static void face_crop_gives_one_face_covering_the_image(void **state)
{
    (void)state;
    char *jpg = demo(3);
    int st;
    char args[1024];
    snprintf(args, sizeof args, "--face-crop %s", jpg);
    json_t *l = detect_json(args, &st);
    free(jpg);
    assert_int_equal(st, 0);
    json_t *faces = json_object_get(json_array_get(l, 0), "faces");
    assert_int_equal(json_array_size(faces), 1);
    json_t *box = json_object_get(json_array_get(faces, 0), "box");
    assert_float_equal(json_number_value(json_object_get(box, "width")), 1920, 0);
    assert_true(json_is_null(json_object_get(json_array_get(faces, 0), "score")));
    json_decref(l);
}

static void usage_errors_and_missing_models_have_their_exit_codes(void **state)
{
    (void)state;
    char cmd[2048], *out;
    snprintf(cmd, sizeof cmd, "%s detect --help", ts_bin());
    assert_int_equal(ts_run(cmd, &out), 0);
    assert_non_null(strstr(out, "usage: emotune detect"));
    assert_non_null(strstr(out, "--face-crop"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s detect --input-size 100 x.jpg 2>&1", ts_bin());
    assert_int_equal(ts_run(cmd, &out), 2);
    assert_non_null(strstr(out, "multiple of 32"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s detect --min-score 1.5 x.jpg 2>&1", ts_bin());
    assert_int_equal(ts_run(cmd, &out), 2);
    free(out);
    snprintf(cmd, sizeof cmd, "%s detect 2>&1", ts_bin());
    assert_int_equal(ts_run(cmd, &out), 2);
    free(out);
    snprintf(cmd, sizeof cmd, "%s detect --models /nonexistent x.jpg 2>&1", ts_bin());
    assert_int_equal(ts_run(cmd, &out), 3);
    assert_non_null(strstr(out, "/nonexistent/tiny_face_detector_model-weights_manifest.json"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s frobnicate 2>&1", ts_bin());
    assert_int_equal(ts_run(cmd, &out), 2);
    free(out);
}

static void store_import_export_copy_and_check_from_the_command_line(void **state)
{
    (void)state;
    char *dir = ts_tempdir(), cmd[4096], *out;
    const char *lines = "{\"collection\":\"tracks\",\"id\":\"t1\",\"doc\":{\"title\":\"A\"}}\n"
                        "{\"collection\":\"feedback\",\"id\":\"alice/1\",\"doc\":[1,2.50]}\n";
    char path[600];
    snprintf(path, sizeof path, "%s/backup.jsonl", dir);
    ts_write_file(path, lines, strlen(lines));
    snprintf(cmd, sizeof cmd, "%s store --store lmdb:%s/a import %s 2>&1", ts_bin(), dir, path);
    assert_int_equal(ts_run(cmd, &out), 0);
    assert_non_null(strstr(out, "imported 2 documents"));
    free(out);
    /* EMOTUNE_STORE names the store too; copy to a second one and export it */
    snprintf(cmd, sizeof cmd, "%s store copy lmdb:%s/a lmdb:%s/b 2>/dev/null && "
             "EMOTUNE_STORE=lmdb:%s/b %s store export 2>/dev/null", ts_bin(), dir, dir, dir, ts_bin());
    assert_int_equal(ts_run(cmd, &out), 0);
    /* export orders collections and ids; the documents keep their exact text */
    assert_string_equal(out, "{\"collection\":\"feedback\",\"id\":\"alice/1\",\"doc\":[1,2.50]}\n"
                             "{\"collection\":\"tracks\",\"id\":\"t1\",\"doc\":{\"title\":\"A\"}}\n");
    free(out);
    snprintf(cmd, sizeof cmd, "%s store --store lmdb:%s/b check", ts_bin(), dir);
    assert_int_equal(ts_run(cmd, &out), 0);
    assert_non_null(strstr(out, "2 documents in 2 collections, 0 problems"));
    free(out);
    /* a bad line: exit 1, its line number, nothing after the last batch written */
    snprintf(cmd, sizeof cmd, "printf '{\"collection\":\"Bad\",\"id\":\"x\",\"doc\":1}\\n' | "
             "%s store --store lmdb:%s/b import 2>&1", ts_bin(), dir);
    assert_int_equal(ts_run(cmd, &out), 1);
    assert_non_null(strstr(out, "line 1"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s store --store nosuch:x check 2>&1", ts_bin());
    assert_int_equal(ts_run(cmd, &out), 3);
    free(out);
    snprintf(cmd, sizeof cmd, "%s store frob 2>&1", ts_bin());
    assert_int_equal(ts_run(cmd, &out), 2);
    free(out);
    ts_rmtree(dir);
    free(dir);
}

static void scan_tracks_tag_and_import_from_the_command_line(void **state)
{
    (void)state;
    char *dir = ts_tempdir(), cmd[4096], *out;
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s/music' && cd '%s/music' && "
             "ffmpeg -nostdin -loglevel error -f lavfi -i 'sine=frequency=440:duration=3' "
             "-metadata title=Bright a.flac && "
             "ffmpeg -nostdin -loglevel error -f lavfi -i 'sine=frequency=220:duration=2' b.wav && "
             "echo 'not music' > notes.mp3",
             dir, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s scan --json --store lmdb:%s/db %s/music", ts_bin(), dir, dir);
    assert_int_equal(ts_run(cmd, &out), 1); /* notes.mp3 could not be read */
    json_error_t e;
    json_t *sum = json_loads(out, 0, &e);
    free(out);
    assert_non_null(sum);
    assert_int_equal(json_integer_value(json_object_get(sum, "added")), 2);
    assert_int_equal(json_integer_value(json_object_get(sum, "failed")), 1);
    const char *failed = json_string_value(
        json_object_get(json_array_get(json_object_get(sum, "failures"), 0), "path"));
    assert_non_null(strstr(failed, "notes.mp3"));
    json_decref(sum);
    char other[4096];
    /* on a terminal (script(1) gives it one) a live progress line is drawn
     * on stderr, ending in a newline; in a pipe (above) there is none */
    snprintf(other, sizeof other,
             "script -qec \"%s scan --store lmdb:%s/db-tty %s/music\" /dev/null", ts_bin(),
             dir, dir);
    assert_int_equal(ts_run(other, &out), 1); /* -e: the scan's status (notes.mp3) */
    char *line = strstr(out, "\rscan: ");
    assert_non_null(line);
    assert_non_null(strstr(line, "/3 files, "));
    assert_non_null(strstr(line, " left"));
    assert_non_null(strstr(out, "3/3 files"));
    assert_non_null(strstr(out, "\r\n3 scanned")); /* the line is ended before the summary */
    free(out);
    snprintf(other, sizeof other, "%s scan --store lmdb:%s/db-pipe %s/music 2>&1", ts_bin(), dir,
             dir);
    assert_int_equal(ts_run(other, &out), 1);
    assert_null(strchr(out, '\r'));
    assert_non_null(strstr(out, "3 scanned"));
    free(out);
    /* rescan: nothing decoded */
    assert_int_equal(ts_run(cmd, &out), 1);
    sum = json_loads(out, 0, &e);
    free(out);
    assert_int_equal(json_integer_value(json_object_get(sum, "unchanged")), 2);
    assert_int_equal(json_integer_value(json_object_get(sum, "added")), 0);
    json_decref(sum);
    /* the tracks, then a mood of the listener's own */
    snprintf(cmd, sizeof cmd, "%s tracks --json --store lmdb:%s/db", ts_bin(), dir);
    assert_int_equal(ts_run(cmd, &out), 0);
    json_t *l = ts_json_lines(out);
    free(out);
    assert_int_equal(json_array_size(l), 2);
    char id[64] = "";
    for (size_t i = 0; i < 2; i++) {
        json_t *t = json_array_get(l, i);
        double v = json_number_value(json_object_get(t, "valence"));
        assert_true(v >= -1 && v <= 1);
        if (!strcmp(json_string_value(json_object_get(t, "title")), "Bright"))
            snprintf(id, sizeof id, "%s", json_string_value(json_object_get(t, "id")));
    }
    json_decref(l);
    assert_true(id[0]);
    snprintf(cmd, sizeof cmd, "%s tag --store lmdb:%s/db %s grumpy 2>&1", ts_bin(), dir, id);
    assert_int_equal(ts_run(cmd, &out), 2);
    free(out);
    snprintf(cmd, sizeof cmd, "%s tag --store lmdb:%s/db %s surprised", ts_bin(), dir, id);
    assert_int_equal(ts_run(cmd, &out), 0);
    free(out);
    snprintf(cmd, sizeof cmd, "%s tracks --json --mood surprised --store lmdb:%s/db", ts_bin(), dir);
    assert_int_equal(ts_run(cmd, &out), 0);
    l = ts_json_lines(out);
    free(out);
    assert_int_equal(json_array_size(l), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(l, 0), "id")), id);
    json_decref(l);
    /* a catalogue with one good and one bad line */
    char csv[700];
    snprintf(csv, sizeof csv, "%s/links.csv", dir);
    const char *text = "url,title,artist,mood\n"
                       "https://example.org/watch?v=1,Walking,Someone,happy\n"
                       "javascript:alert(1),Bad,Nobody,happy\n";
    ts_write_file(csv, text, strlen(text));
    snprintf(cmd, sizeof cmd, "%s import --store lmdb:%s/db %s", ts_bin(), dir, csv);
    assert_int_equal(ts_run(cmd, &out), 1);
    assert_non_null(strstr(out, "1 added"));
    assert_non_null(strstr(out, "line 3"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s import --store lmdb:%s/db %s", ts_bin(), dir, csv);
    assert_int_equal(ts_run(cmd, &out), 1);
    assert_non_null(strstr(out, "0 added, 1 unchanged"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s scan --store lmdb:%s/db %s/nope 2>&1", ts_bin(), dir, dir);
    assert_int_equal(ts_run(cmd, &out), 1);
    assert_non_null(strstr(out, "nope"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s scan --help", ts_bin());
    assert_int_equal(ts_run(cmd, &out), 0);
    assert_non_null(strstr(out, "--prune"));
    free(out);
    ts_rmtree(dir);
    free(dir);
}

/* Max RSS in KB of a scan of dir into a new store, from /usr/bin/time; the
 * scan's JSON summary in *summary. Under AddressSanitizer, freed memory
 * would be held in quarantine (up to 256 MB) and look like growth: the
 * quarantine is turned off for this measure. */
static long scan_rss(const char *dir, const char *store, json_t **summary)
{
    char cmd[4096], *out;
    snprintf(cmd, sizeof cmd,
             "ASAN_OPTIONS=\"$ASAN_OPTIONS:quarantine_size_mb=0\" "
             "/usr/bin/time -f 'rss_kb=%%M' -o '%s.rss' %s scan --json --store lmdb:%s %s",
             store, ts_bin(), store, dir);
    assert_int_equal(ts_run(cmd, &out), 0);
    json_error_t e;
    *summary = json_loads(out, 0, &e);
    free(out);
    assert_non_null(*summary);
    char rss_path[1100], buf[64] = "";
    snprintf(rss_path, sizeof rss_path, "%s.rss", store);
    FILE *f = fopen(rss_path, "r");
    assert_non_null(f);
    assert_non_null(fgets(buf, sizeof buf, f));
    fclose(f);
    long kb = 0;
    assert_int_equal(sscanf(buf, "rss_kb=%ld", &kb), 1);
    return kb;
}

/* A track of 10 hours (a beep a second, 8 kHz FLAC made by ffmpeg) is read
 * whole, in the memory a 1-minute one takes: decoding streams. */
static void a_ten_hour_track_scans_in_the_memory_of_a_one_minute_one(void **state)
{
    (void)state;
    char *dir = ts_tempdir(), cmd[4096];
    const struct {
        const char *name;
        int seconds;
    } tracks[] = {{"short", 60}, {"long", 36000}};
    for (int i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd,
                 "mkdir '%s/%s' && ffmpeg -nostdin -loglevel error -f lavfi "
                 "-i 'sine=frequency=440:beep_factor=4:sample_rate=8000' -t %d -ac 1 "
                 "-c:a flac -compression_level 0 '%s/%s/track.flac'",
                 dir, tracks[i].name, tracks[i].seconds, dir, tracks[i].name);
        assert_int_equal(system(cmd), 0);
    }
    char short_dir[700], long_dir[700], store[700];
    json_t *sum;
    snprintf(short_dir, sizeof short_dir, "%s/short", dir);
    snprintf(store, sizeof store, "%s/db-short", dir);
    long rss_short = scan_rss(short_dir, store, &sum);
    json_decref(sum);
    snprintf(long_dir, sizeof long_dir, "%s/long", dir);
    snprintf(store, sizeof store, "%s/db-long", dir);
    long rss_long = scan_rss(long_dir, store, &sum);
    assert_int_equal(json_integer_value(json_object_get(sum, "added")), 1);
    assert_true(fabs(json_number_value(json_object_get(sum, "audio_hours")) - 10.0) < 0.01);
    json_decref(sum);
    print_message("max RSS: 1 minute %ld KB, 10 hours %ld KB\n", rss_short, rss_long);
    assert_true(rss_long <= rss_short + 8 * 1024);
    snprintf(cmd, sizeof cmd, "%s tracks --json --store lmdb:%s", ts_bin(), store);
    char *out;
    assert_int_equal(ts_run(cmd, &out), 0);
    json_t *l = ts_json_lines(out);
    free(out);
    double duration = json_number_value(json_object_get(json_array_get(l, 0), "duration"));
    assert_true(fabs(duration - 36000) < 1);
    json_decref(l);
    ts_rmtree(dir);
    free(dir);
}

/* Files that vanish or turn into something else after the walk found them:
 * each is reported, the scan goes on. The order is certain, not timed: the
 * scan waits after its walk on a FIFO (EMOTUNE_TEST_SCAN_FIFO, library.h),
 * whose open for writing returns only then; the files are changed with the
 * FIFO open, and closing it lets the scan go on. */
static void files_that_vanish_or_change_during_a_scan_are_reported(void **state)
{
    (void)state;
    char *dir = ts_tempdir(), cmd[4096], marker[600], *out;
    snprintf(cmd, sizeof cmd,
             "cd '%s' && mkdir A B && mkfifo walked && for n in A/kept B/gone B/garbled; do "
             "ffmpeg -nostdin -loglevel error -f lavfi -i 'sine=frequency=300:sample_rate=8000' "
             "-t 5 -ac 1 $n.flac || exit 1; done",
             dir);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd,
             "D='%s'; EMOTUNE_TEST_SCAN_FIFO=\"$D/walked\" %s scan --jobs 1 --json "
             "--store \"lmdb:$D/db\" \"$D/A\" \"$D/B\" > \"$D/out.json\" & S=$!; "
             "{ rm \"$D/B/gone.flac\" && echo 'not audio any more' > \"$D/B/garbled.flac\" && "
             "touch \"$D/changed\"; } 3> \"$D/walked\" & W=$!; "
             "wait $S; kill $W 2> /dev/null; cat \"$D/out.json\"",
             dir, ts_bin());
    ts_run(cmd, &out);
    snprintf(marker, sizeof marker, "%s/changed", dir);
    if (access(marker, F_OK) != 0)
        fail_msg("the scan never waited on EMOTUNE_TEST_SCAN_FIFO after its walk: %s", out);
    json_error_t e;
    json_t *sum = json_loads(out, 0, &e);
    if (!sum)
        fail_msg("scan summary: %s", out);
    free(out);
    assert_int_equal(json_integer_value(json_object_get(sum, "scanned")), 3);
    assert_int_equal(json_integer_value(json_object_get(sum, "added")), 1);
    assert_int_equal(json_integer_value(json_object_get(sum, "failed")), 2);
    json_t *fails = json_object_get(sum, "failures");
    const char *want[][2] = {{"garbled.flac", "not audio"}, {"gone.flac", "No such file"}};
    for (size_t k = 0; k < 2; k++) {
        int found = 0;
        for (size_t i = 0; i < json_array_size(fails); i++) {
            json_t *f = json_array_get(fails, i);
            const char *path = json_string_value(json_object_get(f, "path"));
            const char *reason = json_string_value(json_object_get(f, "reason"));
            found |= path && reason && strstr(path, want[k][0]) && strstr(reason, want[k][1]);
        }
        if (!found)
            fail_msg("no failure for %s saying '%s'", want[k][0], want[k][1]);
    }
    json_decref(sum);
    ts_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(demo_images_give_faces_in_order_with_all_fields),
        cmocka_unit_test(png_and_webp_of_a_demo_image_give_its_faces),
        cmocka_unit_test(sideways_jpeg_with_exif_orientation_is_turned_upright),
        cmocka_unit_test(no_face_is_an_empty_list_and_bad_files_are_reported_per_line),
        cmocka_unit_test(face_crop_gives_one_face_covering_the_image),
        cmocka_unit_test(usage_errors_and_missing_models_have_their_exit_codes),
        cmocka_unit_test(store_import_export_copy_and_check_from_the_command_line),
        cmocka_unit_test(scan_tracks_tag_and_import_from_the_command_line),
        cmocka_unit_test(a_ten_hour_track_scans_in_the_memory_of_a_one_minute_one),
        cmocka_unit_test(files_that_vanish_or_change_during_a_scan_are_reported),
    };
    return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
