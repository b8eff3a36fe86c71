/* emotune-1, the opt-in expression model (issue 13), and face-api mode, the
 * default: the
 * shipped weights file and its checksum, the parser refusing broken files,
 * both modes on face-api's demo pictures (face-api mode is face-api's reading
 * bit for bit), accuracy on a fixed subset of ../shared/data/faces, and the
 * switch on the command line and in the API. Real pictures, real server. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "image/image.h"
#include "nn/nn.h"
#include "server/server.h"
#include "vision/vision.h"
#include "http_support.h"
#include "support.h"

/* The weights file this build embedded (Makefile EXPR_HEAD). */
#ifndef ET_TEST_EXPR_HEAD
#define ET_TEST_EXPR_HEAD ET_VISION_HEAD_FILE
#endif

#define MAX_FACES 32

typedef struct fixture {
    et_vision_models *models;
    et_vision_ctx *ctx;
    char *text; /* the weights file */
    size_t len;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    char err[ET_ERR_MAX];
    et_nn_set_blas_threads(1);
    if (ts_vision_open(&f->models, &f->ctx) != 0)
        return -1;
    if (et_read_file(ET_TEST_EXPR_HEAD, ET_VISION_HEAD_MAX_BYTES, (uint8_t **)&f->text, &f->len,
                     err) != ET_OK) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    ts_vision_close(f->models, f->ctx);
    free(f->text);
    free(f);
    return 0;
}

/* ---- the weights file ---------------------------------------------------- */

static void shipped_weights_match_their_checksum_and_are_the_ones_built_in(void **state)
{
    fixture *f = *state;
    char cmd[1200], *out;
    snprintf(cmd, sizeof cmd, "sha256sum --quiet --strict -c %s.sha256 2>&1", ET_TEST_EXPR_HEAD);
    if (ts_run(cmd, &out) != 0)
        fail_msg("%s does not match its checksum: %s", ET_TEST_EXPR_HEAD, out);
    free(out);
    size_t len;
    const char *built_in = et_vision_head_builtin(&len);
    assert_int_equal(len, f->len);
    assert_memory_equal(built_in, f->text, len);
    et_vision_head *h;
    char err[ET_ERR_MAX];
    if (et_vision_head_parse(f->text, f->len, &h, err) != ET_OK)
        fail_msg("%s", err);
    et_vision_head_free(h);
}

static void a_changed_byte_fails_the_checksum(void **state)
{
    fixture *f = *state;
    char *dir = ts_tempdir(), path[600], cmd[1500], *out;
    /* the first digit of the first mean, one more (mod 10) */
    char *copy = malloc(f->len);
    memcpy(copy, f->text, f->len);
    char *mean = strstr(copy, "\"mean\"");
    assert_non_null(mean);
    char *digit = mean + strcspn(mean, "0123456789");
    *digit = (char)('0' + (*digit - '0' + 1) % 10);
    snprintf(path, sizeof path, "%s/w.json", dir);
    ts_write_file(path, copy, f->len);
    /* the shipped checksum, with the copy's name */
    snprintf(cmd, sizeof cmd, "cut -d' ' -f1 %s.sha256 | sed 's|$|  %s|' > %s.sha256",
             ET_TEST_EXPR_HEAD, path, path);
    ts_sh("%s", cmd);
    snprintf(cmd, sizeof cmd, "sha256sum --quiet --strict -c %s.sha256 2>&1", path);
    assert_int_not_equal(ts_run(cmd, &out), 0);
    free(out);
    ts_sh("cp %s %s", ET_TEST_EXPR_HEAD, path); /* and the file itself passes */
    assert_int_equal(ts_run(cmd, &out), 0);
    free(out);
    free(copy);
    ts_rmtree(dir);
    free(dir);
}

/* The shipped file with one change, parsed: must be refused with ET_E_MODEL
 * and a message holding `why`. */
static void expect_refused(const char *text, size_t len, const char *why)
{
    et_vision_head *h = (et_vision_head *)1;
    char err[ET_ERR_MAX] = "";
    et_status s = et_vision_head_parse(text, len, &h, err);
    if (s != ET_E_MODEL || h != NULL || !strstr(err, why))
        fail_msg("expected a refusal naming '%s', got %d '%s'", why, (int)s, err);
}

static void expect_doc_refused(json_t *doc, const char *why)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    assert_non_null(text);
    expect_refused(text, strlen(text), why);
    free(text);
    json_decref(doc);
}

/* The shipped document, to change. */
static json_t *shipped(const fixture *f)
{
    json_t *doc = json_loadb(f->text, f->len, 0, NULL);
    assert_non_null(doc);
    return doc;
}

static json_t *array_of(size_t n, double v)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_real(v));
    return a;
}

static void broken_weights_files_are_refused(void **state)
{
    fixture *f = *state;
    json_t *doc;
    expect_refused(f->text, f->len / 2, "line");          /* truncated */
    expect_refused("", 0, "line");                        /* empty */
    expect_refused("[1, 2]", 6, "not a JSON object");
    doc = shipped(f);
    json_object_set_new(doc, "version", json_integer(2));
    expect_doc_refused(doc, "\"version\"");
    doc = shipped(f);
    json_object_set_new(doc, "format", json_string("tfjs"));
    expect_doc_refused(doc, "\"format\"");
    doc = shipped(f);
    json_object_set_new(doc, "model", json_string("emotune-2"));
    expect_doc_refused(doc, "\"model\"");
    doc = shipped(f);
    json_object_set_new(doc, "features", json_string("face-api-expression-net-256"));
    expect_doc_refused(doc, "\"features\"");
    doc = shipped(f);
    json_t *classes = json_object_get(doc, "classes"); /* neutral and happy swapped */
    json_array_set_new(classes, 0, json_string("happy"));
    json_array_set_new(classes, 1, json_string("neutral"));
    expect_doc_refused(doc, "\"classes\"");
    doc = shipped(f);
    json_array_set_new(json_object_get(doc, "mean"), 3, json_string("NaN"));
    expect_doc_refused(doc, "mean[3]");
    doc = shipped(f);
    json_array_set_new(json_object_get(doc, "bias"), 6, json_string("Infinity"));
    expect_doc_refused(doc, "bias[6]");
    doc = shipped(f);
    json_array_set_new(json_object_get(doc, "scale"), 0, json_real(0));
    expect_doc_refused(doc, "scale[0]");
    doc = shipped(f);
    json_array_set_new(json_object_get(doc, "scale"), 9, json_real(-1));
    expect_doc_refused(doc, "scale[9]");
    doc = shipped(f);
    json_object_set_new(doc, "temperature", json_real(0));
    expect_doc_refused(doc, "temperature");
    doc = shipped(f);
    json_object_set_new(doc, "temperature", json_string("1"));
    expect_doc_refused(doc, "temperature");
    doc = shipped(f);
    json_array_remove(json_array_get(json_object_get(doc, "weights"), 2), 255);
    expect_doc_refused(doc, "\"weights[2]\" must be an array of 263"); /* 256 + 7 inputs */
    doc = shipped(f);
    json_array_remove(json_object_get(doc, "weights"), 6);
    expect_doc_refused(doc, "\"weights\"");
    doc = shipped(f);
    json_object_set_new(doc, "mean", array_of(100000, 0.5)); /* huge, under the byte limit */
    expect_doc_refused(doc, "\"mean\" must be an array of 263");
    doc = shipped(f);
    json_object_set_new(doc, "bias", array_of(ET_VISION_HEAD_MAX_BYTES / 4, 0.5));
    expect_doc_refused(doc, "bytes");
    doc = shipped(f);
    json_object_del(doc, "training");
    expect_doc_refused(doc, "\"training\"");
    doc = shipped(f);
    json_object_set_new(doc, "temprature", json_real(1));
    expect_doc_refused(doc, "unknown key");
    /* a number too large for a double, as text (JSON has no NaN or inf) */
    char *text = malloc(f->len + 8);
    memcpy(text, f->text, f->len);
    char *t = strstr(text, "\"temperature\"");
    assert_non_null(t);
    char *num = t + strcspn(t, "0123456789");
    size_t tail = f->len - (size_t)(num - text) - strspn(num, "0123456789.eE+-");
    memmove(num + 5, num + strspn(num, "0123456789.eE+-"), tail);
    memcpy(num, "1e999", 5);
    expect_refused(text, (size_t)(num - text) + 5 + tail, "line");
    free(text);
}

/* ---- both modes on the demo pictures -------------------------------------- */

static et_image load_demo(int i)
{
    char path[600], err[ET_ERR_MAX];
    snprintf(path, sizeof path, "%s/sample%d.jpg", ts_demo_dir(), i);
    et_image img = {0};
    if (et_image_load(path, NULL, &img, err) != ET_OK)
        fail_msg("%s", err);
    return img;
}

static size_t detect(fixture *f, const et_image *img, et_expr_model m, bool crop, et_face *faces)
{
    et_detect_opts o = et_vision_default_opts();
    o.model = m;
    o.face_crop = crop;
    size_t n;
    char err[ET_ERR_MAX];
    if (et_vision_detect(f->ctx, img, &o, faces, MAX_FACES, &n, err) != ET_OK)
        fail_msg("%s", err);
    return n < MAX_FACES ? n : MAX_FACES;
}

/* face-api mode: face-api's probabilities exactly (et_vision_read_expressions,
 * whose parity with face-api test_parity proves). */
static void check_face_api_face(fixture *f, const et_image *img, const et_face *face)
{
    float want[ET_EXPR_COUNT];
    char err[ET_ERR_MAX];
    et_image_rect r = et_vision_face_region(face->box, img->width, img->height);
    assert_int_equal(et_vision_read_expressions(f->ctx, img, r, want, err), ET_OK);
    assert_memory_equal(face->expressions, want, sizeof want);
    assert_int_equal(face->model, ET_EXPR_MODEL_FACEAPI);
}

/* emotune-1 mode: probabilities summing to 1, the top one, and exactly the head
 * on the mean of the two views bench/expr_features.c writes for training. */
static void check_emotune_face(fixture *f, const et_vision_head *h, const et_image *img,
                               const et_face *face)
{
    assert_int_equal(face->model, ET_EXPR_MODEL_EMOTUNE);
    double sum = 0;
    int top = 0;
    for (int e = 0; e < ET_EXPR_COUNT; e++) {
        assert_true(face->expressions[e] >= 0 && face->expressions[e] <= 1);
        sum += face->expressions[e];
        top = face->expressions[e] > face->expressions[top] ? e : top;
    }
    assert_float_equal(sum, 1.0, 1e-5);
    assert_int_equal(face->top, top);
    assert_int_equal(face->smiling, top == ET_EXPR_HAPPY);
    float views[2][ET_VISION_EXPR_FEATURES], probs[2][ET_EXPR_COUNT], x[ET_VISION_HEAD_INPUTS];
    float want[ET_EXPR_COUNT];
    char err[ET_ERR_MAX];
    et_image_rect r = et_vision_face_region(face->box, img->width, img->height);
    assert_int_equal(et_vision_expression_views(f->ctx, img, r, views, probs, err), ET_OK);
    et_vision_head_inputs(views, probs, x); /* the inputs, as tools/expr_head.py says */
    for (int i = 0; i < ET_VISION_EXPR_FEATURES; i++)
        assert_true(x[i] == (views[0][i] + views[1][i]) / 2);
    for (int c = 0; c < ET_EXPR_COUNT; c++)
        assert_float_equal(x[ET_VISION_EXPR_FEATURES + c],
                           (log(fmax(probs[0][c], 1e-7)) + log(fmax(probs[1][c], 1e-7))) / 2,
                           1e-5);
    et_vision_head_read(h, x, want);
    assert_memory_equal(face->expressions, want, sizeof want);
}

static void both_modes_read_every_demo_face(void **state)
{
    fixture *f = *state;
    et_vision_head *h;
    char err[ET_ERR_MAX];
    assert_int_equal(et_vision_head_parse(f->text, f->len, &h, err), ET_OK);
    size_t differ = 0, total = 0;
    for (int i = 1; i <= 6; i++) {
        et_image img = load_demo(i);
        et_face api[MAX_FACES], own[MAX_FACES];
        for (int crop = 0; crop <= 1; crop++) {
            size_t n = detect(f, &img, ET_EXPR_MODEL_FACEAPI, crop, api);
            assert_int_equal(detect(f, &img, ET_EXPR_MODEL_EMOTUNE, crop, own), n);
            assert_true(n >= 1);
            for (size_t k = 0; k < n; k++) {
                assert_memory_equal(&api[k].box, &own[k].box, sizeof api[k].box);
                check_face_api_face(f, &img, &api[k]);
                check_emotune_face(f, h, &img, &own[k]);
                differ += memcmp(api[k].expressions, own[k].expressions,
                                 sizeof own[k].expressions) != 0;
                total++;
            }
        }
        et_image_free(&img);
    }
    assert_int_equal(differ, total); /* the head is on: no face reads as face-api's */
    et_vision_head_free(h);
}

/* Faces of the demo pictures whose expression is plain to see (looked at by
 * eye; face-api agrees, above 0.85): each a point inside its box. The others
 * (downcast eyes, half smiles, open mouths mid-word) are left out. The
 * default mode must keep them: this is what stops a model that reads broad
 * smiles as something else from becoming the default. emotune-1 fails it
 * today (sample1's right face reads as sad), so it is not the default. */
static const struct {
    int sample;
    double x, y;
    et_expression want;
} obvious[] = {
    {1, 1575, 355, ET_EXPR_HAPPY}, /* right: laughing, mouth open, teeth */
    {3, 1165, 390, ET_EXPR_HAPPY}, /* middle: broad smile, teeth */
    {3, 1590, 475, ET_EXPR_HAPPY}, /* right: broad smile, teeth */
    {6, 765, 515, ET_EXPR_HAPPY},  /* second from the left: broad smile, teeth */
    {6, 1580, 460, ET_EXPR_HAPPY}, /* right: smile, teeth */
};

static void the_default_mode_keeps_the_obvious_demo_labels(void **state)
{
    fixture *f = *state;
    for (size_t k = 0; k < sizeof obvious / sizeof *obvious; k++) {
        et_image img = load_demo(obvious[k].sample);
        et_face faces[MAX_FACES];
        size_t n = detect(f, &img, et_vision_default_opts().model, false, faces), j = 0;
        while (j < n && !(obvious[k].x >= faces[j].box.x &&
                          obvious[k].x <= faces[j].box.x + faces[j].box.width &&
                          obvious[k].y >= faces[j].box.y &&
                          obvious[k].y <= faces[j].box.y + faces[j].box.height))
            j++;
        et_image_free(&img);
        if (j == n)
            fail_msg("sample%d: no face at %g,%g", obvious[k].sample, obvious[k].x, obvious[k].y);
        if (faces[j].top != obvious[k].want)
            fail_msg("sample%d face at %.0f,%.0f: %s (%.2f), not %s", obvious[k].sample,
                     faces[j].box.x, faces[j].box.y, et_vision_expression_name(faces[j].top),
                     faces[j].expressions[faces[j].top],
                     et_vision_expression_name(obvious[k].want));
    }
}

/* ---- accuracy on a fixed subset of the labelled faces ---------------------- */

#define SUBSET_PER_CLASS 20

/* Reads one face of the subset in both modes; counts who is right. */
static void read_labelled(fixture *f, const char *dir, const char *file, et_expression want,
                          int right[2])
{
    char path[1200], err[ET_ERR_MAX];
    snprintf(path, sizeof path, "%s/images/%s", dir, file);
    et_image img = {0};
    if (et_image_load(path, NULL, &img, err) != ET_OK)
        fail_msg("%s", err);
    for (int m = 0; m < ET_EXPR_MODEL_COUNT; m++) {
        et_face face;
        detect(f, &img, (et_expr_model)m, true, &face);
        right[m] += face.top == want;
    }
    et_image_free(&img);
}

static et_expression expression_named(const char *name)
{
    for (int e = 0; e < ET_EXPR_COUNT; e++)
        if (strcmp(name, et_vision_expression_name((et_expression)e)) == 0)
            return (et_expression)e;
    fail_msg("unknown label %s", name);
    return ET_EXPR_COUNT;
}

/* The first 20 faces of each class in labels.csv's order (fearful has 16:
 * all), read whole (--face-crop) in both modes. The shipped model was fitted
 * on all the labelled faces, these among them, so this is no measure of its
 * accuracy (tools/expr_cv.py's cross-validation is): it fails when the head
 * is broken, missing, or face-api's. Measured 2026-11-30 (the head fitted by
 * tools/train_expr.py, seed 13, on build/bench/expr_features's TSV): emotune-1
 * 0.757 (103 of 136), face-api 0.588 (80); the floor lies between, 13 faces
 * from emotune-1's and 10 from face-api's. */
#define DEFAULT_ACCURACY_FLOOR 0.66

static void emotune_1_beats_face_api_on_a_fixed_subset(void **state)
{
    fixture *f = *state;
    const char *dir = ts_faces_dir();
    if (!dir)
        TS_SKIP("../shared/data/faces is missing: accuracy on the labelled faces not checked");
    char path[1200], line[1024];
    snprintf(path, sizeof path, "%s/labels.csv", dir);
    FILE *csv = fopen(path, "r");
    assert_non_null(csv);
    int taken[ET_EXPR_COUNT] = {0}, right[ET_EXPR_MODEL_COUNT] = {0}, n = 0;
    assert_non_null(fgets(line, sizeof line, csv)); /* header */
    while (fgets(line, sizeof line, csv)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *comma = strchr(line, ',');
        assert_non_null(comma);
        *comma = '\0';
        et_expression e = expression_named(comma + 1);
        if (taken[e] == SUBSET_PER_CLASS)
            continue;
        taken[e]++;
        n++;
        read_labelled(f, dir, line, e, right);
    }
    fclose(csv);
    assert_int_equal(n, 6 * SUBSET_PER_CLASS + 16);
    double own = (double)right[ET_EXPR_MODEL_EMOTUNE] / n;
    double api = (double)right[ET_EXPR_MODEL_FACEAPI] / n;
    fprintf(stderr, "subset of %d labelled faces: emotune-1 %.3f, face-api %.3f\n", n, own, api);
    assert_true(api < DEFAULT_ACCURACY_FLOOR); /* the floor is one face-api does not reach */
    if (own < DEFAULT_ACCURACY_FLOOR)
        fail_msg("emotune-1's accuracy %.3f is under %.2f", own, DEFAULT_ACCURACY_FLOOR);
}

/* ---- the command line ---------------------------------------------------- */

/* The "model" of the first face `emotune detect --json ARGS sample2.jpg` gives. */
static char *cli_model(const char *args)
{
    char cmd[1200], *out;
    snprintf(cmd, sizeof cmd, "%s detect --json --models %s %s %s/sample2.jpg", ts_bin(),
             ts_models_dir(), args, ts_demo_dir());
    assert_int_equal(ts_run(cmd, &out), 0);
    json_t *doc = json_loads(out, 0, NULL);
    assert_non_null(doc);
    json_t *faces = json_object_get(doc, "faces");
    assert_int_equal(json_array_size(faces), 1);
    char *m = strdup(json_string_value(json_object_get(json_array_get(faces, 0), "model")));
    json_decref(doc);
    free(out);
    return m;
}

static void the_command_line_chooses_the_model(void **state)
{
    (void)state;
    static const struct {
        const char *args, *want;
    } cases[] = {
        {"", "face-api"},
        {"--expressions emotune", "emotune-1"},
        {"--expressions emotune-1", "emotune-1"},
        {"--expressions face-api", "face-api"},
        {"--expressions=face-api --face-crop", "face-api"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *m = cli_model(cases[i].args);
        assert_string_equal(m, cases[i].want);
        free(m);
    }
    char cmd[1200], *out;
    snprintf(cmd, sizeof cmd, "%s detect --expressions nope %s/sample2.jpg 2>&1", ts_bin(),
             ts_demo_dir());
    assert_int_equal(ts_run(cmd, &out), 2); /* as every bad option (test_cli.c) */
    assert_non_null(strstr(out, "unknown expression model 'nope'"));
    assert_non_null(strstr(out, "face-api"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s detect --help", ts_bin());
    assert_int_equal(ts_run(cmd, &out), 0);
    assert_non_null(strstr(out, "--expressions"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s serve --expressions nope 2>&1", ts_bin());
    assert_int_equal(ts_run(cmd, &out), 2);
    assert_non_null(strstr(out, "unknown expression model 'nope'"));
    free(out);
}

/* ---- the API -------------------------------------------------------------- */

typedef struct api {
    char *dir;
    et_server *server;
    int port;
} api;

static void api_start(api *a, et_expr_model dflt)
{
    char store[600], err[ET_ERR_MAX];
    a->dir = ts_tempdir();
    snprintf(store, sizeof store, "lmdb:%s/store", a->dir);
    et_server_opts o = et_server_default_opts();
    o.listen = "127.0.0.1:0";
    o.store_uri = store;
    o.models_dir = ts_models_dir();
    o.frames_per_s = 0;
    o.expressions = dflt;
    if (et_server_start(&o, &a->server, err) != ET_OK)
        fail_msg("%s", err);
    a->port = et_server_port(a->server);
}

static void api_stop(api *a)
{
    et_server_stop(a->server);
    ts_rmtree(a->dir);
    free(a->dir);
}

/* POSTs demo picture 2 to path; the status, and the first face's model in
 * want (when 200). */
static void post_frame(const api *a, const char *path, int status, const char *want)
{
    size_t len;
    char *jpeg = ts_read_demo(2, &len);
    ts_reply r = ts_http(a->port, "POST", path, "Content-Type: image/jpeg\r\n", jpeg, len);
    ts_check_reply(&r, status);
    if (status == 200) {
        json_t *doc = json_loads(r.body, 0, NULL);
        assert_non_null(doc);
        json_t *face = json_array_get(json_object_get(doc, "faces"), 0);
        assert_non_null(face);
        assert_string_equal(json_string_value(json_object_get(face, "model")), want);
        json_decref(doc);
    } else {
        assert_non_null(strstr(r.body, "expressions"));
    }
    ts_reply_free(&r);
    free(jpeg);
}

static void the_api_chooses_the_model_per_request(void **state)
{
    (void)state;
    api a;
    api_start(&a, ET_EXPR_MODEL_FACEAPI); /* the default */
    static const char *const routes[] = {"/api/v1/detect", "/api/v1/listeners/ann/frames"};
    for (int i = 0; i < 2; i++) {
        char path[200];
        post_frame(&a, routes[i], 200, "face-api");
        snprintf(path, sizeof path, "%s?expressions=face-api", routes[i]);
        post_frame(&a, path, 200, "face-api");
        snprintf(path, sizeof path, "%s?expressions=emotune", routes[i]);
        post_frame(&a, path, 200, "emotune-1");
        snprintf(path, sizeof path, "%s?expressions=nope", routes[i]);
        post_frame(&a, path, 400, NULL);
    }
    api_stop(&a);
    api_start(&a, ET_EXPR_MODEL_EMOTUNE); /* emotune serve --expressions emotune-1 */
    post_frame(&a, "/api/v1/detect", 200, "emotune-1");
    post_frame(&a, "/api/v1/detect?expressions=face-api", 200, "face-api");
    api_stop(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shipped_weights_match_their_checksum_and_are_the_ones_built_in),
        cmocka_unit_test(a_changed_byte_fails_the_checksum),
        cmocka_unit_test(broken_weights_files_are_refused),
        cmocka_unit_test(both_modes_read_every_demo_face),
        cmocka_unit_test(the_default_mode_keeps_the_obvious_demo_labels),
        cmocka_unit_test(emotune_1_beats_face_api_on_a_fixed_subset),
        cmocka_unit_test(the_command_line_chooses_the_model),
        cmocka_unit_test(the_api_chooses_the_model_per_request),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
