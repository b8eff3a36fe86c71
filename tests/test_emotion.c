/* Human's emotion net (@vladmandic/human 3.3.6 models/emotion.json) run by
 * emotune's engine, against tfjs: build/parity/emotion.jsonl, written in this
 * run by scripts/make-reference-emotion.sh (scripts/reference-emotion.js on
 * tfjs-wasm, on the pixels emotune's decoder produced). Each face is checked
 * three ways: emotune's 64x64 input against the one tfjs builds with Human's
 * preprocessing ops; emotune's net on tfjs's input against tfjs's output (the
 * net alone); and the whole reading, emotune's input through emotune's net.
 *
 * Tolerances. Probabilities: 1e-5 (absolute), which the issue asks for: both
 * sides compute in float32 but sum the convolutions in different orders
 * (XNNPACK against src/nn, with and without fused multiply-adds), a few units
 * in the last place per layer, which ten layers and a softmax keep far below
 * 1e-5 (test output prints the largest difference seen). Features (values up
 * to about 10): 1e-4. The input: 1e-6, a few float32 units of values in
 * [-1, 1]; both sides do the same float32 operations in the same order, so
 * it is normally exact. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/image.h"
#include "nn/nn.h"
#include "support.h"
#include "vision/vision.h"

#define REFERENCE "build/parity/emotion.jsonl"
#define PROB_TOL 1e-5
#define FEATURE_TOL 1e-4
#define INPUT_TOL 1e-6
#define INPUT_FLOATS (ET_EMOTION_INPUT * ET_EMOTION_INPUT)
#define MAX_FACES 64

static const char *labels[ET_EXPR_COUNT] = {"neutral", "happy",   "sad",      "angry",
                                            "fearful", "disgusted", "surprised"};

typedef struct fixture {
    et_vision_models *models;
    et_vision_ctx *ctx;
    json_t *ref; /* array of the reference's lines */
} fixture;

static json_t *read_reference(void)
{
    FILE *f = fopen(REFERENCE, "r");
    if (!f) {
        fprintf(stderr, "setup: %s is missing: run scripts/make-reference-emotion.sh\n",
                REFERENCE);
        return NULL;
    }
    json_t *all = json_array();
    char *line = NULL;
    size_t cap = 0;
    int ok = 1;
    while (ok && getline(&line, &cap, f) > 0) {
        json_error_t e;
        json_t *doc = json_loads(line, 0, &e);
        ok = doc != NULL;
        if (doc)
            json_array_append_new(all, doc);
    }
    free(line);
    fclose(f);
    if (!ok || json_array_size(all) == 0) {
        fprintf(stderr, "setup: %s is empty or not JSON lines\n", REFERENCE);
        json_decref(all);
        return NULL;
    }
    return all;
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    if (!fx || ts_vision_open(&fx->models, &fx->ctx) != 0) {
        free(fx);
        return -1;
    }
    if (!et_vision_models_have_emotion(fx->models)) {
        fprintf(stderr, "setup: %s has no %s (the build copies it there)\n", ts_models_dir(),
                ET_VISION_EMOTION_MODEL);
    } else if ((fx->ref = read_reference())) {
        *state = fx;
        return 0;
    }
    ts_vision_close(fx->models, fx->ctx);
    free(fx);
    return -1;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    json_decref(fx->ref);
    ts_vision_close(fx->models, fx->ctx);
    free(fx);
    return 0;
}

/* ---- the reference's fields ------------------------------------------------ */

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The "input" field: hex of INPUT_FLOATS little-endian float32. */
static void ref_input(json_t *line, float *out)
{
    const char *hex = json_string_value(json_object_get(line, "input"));
    assert_non_null(hex);
    assert_int_equal(strlen(hex), (size_t)INPUT_FLOATS * 8);
    for (int i = 0; i < INPUT_FLOATS; i++) {
        unsigned char b[4];
        for (int k = 0; k < 4; k++) {
            int hi = hexval(hex[8 * i + 2 * k]), lo = hexval(hex[8 * i + 2 * k + 1]);
            assert_true(hi >= 0 && lo >= 0);
            b[k] = (unsigned char)(hi << 4 | lo);
        }
        uint32_t bits = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                        (uint32_t)b[3] << 24;
        memcpy(&out[i], &bits, sizeof bits);
    }
}

static et_image_rect ref_region(json_t *line)
{
    json_t *r = json_object_get(line, "region");
    return (et_image_rect){
        (int)json_integer_value(json_object_get(r, "x")),
        (int)json_integer_value(json_object_get(r, "y")),
        (int)json_integer_value(json_object_get(r, "width")),
        (int)json_integer_value(json_object_get(r, "height")),
    };
}

static double ref_prob(json_t *line, int e)
{
    return json_number_value(json_object_get(json_object_get(line, "expressions"), labels[e]));
}

static int is_demo(json_t *line)
{
    return strstr(json_string_value(json_object_get(line, "image")), "/demo/sample") != NULL;
}

/* Largest |probability - reference| of one face; prints the face when it is
 * over the tolerance. */
static double prob_diff(json_t *line, const float probs[ET_EXPR_COUNT], const char *what)
{
    double worst = 0;
    for (int e = 0; e < ET_EXPR_COUNT; e++)
        worst = fmax(worst, fabs(probs[e] - ref_prob(line, e)));
    if (worst > PROB_TOL)
        fprintf(stderr, "%s face %lld (%s): probabilities differ by %.3g\n",
                json_string_value(json_object_get(line, "image")),
                (long long)json_integer_value(json_object_get(line, "face")), what, worst);
    return worst;
}

/* The picture a line names, decoded by emotune (the reference's pixels). */
static void load_image(json_t *line, et_image *img)
{
    char err[ET_ERR_MAX];
    const char *path = json_string_value(json_object_get(line, "image"));
    if (et_image_load(path, NULL, img, err) != ET_OK)
        fail_msg("%s: %s", path, err);
}

/* ---- the checks ---------------------------------------------------------- */

/* Runs check on every reference line that `want` selects (demo faces or
 * labelled ones), each picture decoded once; returns how many. */
typedef void (*face_check)(fixture *fx, const et_image *img, json_t *line, double *worst);
static size_t each_face(fixture *fx, int demo, face_check check, double *worst)
{
    et_image img = {0};
    const char *loaded = NULL;
    size_t n = 0, i;
    json_t *line;
    json_array_foreach(fx->ref, i, line) {
        if (is_demo(line) != demo)
            continue;
        const char *path = json_string_value(json_object_get(line, "image"));
        if (!loaded || strcmp(loaded, path) != 0) {
            et_image_free(&img);
            load_image(line, &img);
            loaded = path;
        }
        check(fx, &img, line, worst);
        n++;
    }
    et_image_free(&img);
    return n;
}

static void check_input(fixture *fx, const et_image *img, json_t *line, double *worst)
{
    (void)fx;
    float ours[INPUT_FLOATS], ref[INPUT_FLOATS];
    char err[ET_ERR_MAX];
    ref_input(line, ref);
    assert_int_equal(et_vision_emotion_input(img, ref_region(line), ours, err), ET_OK);
    double w = 0;
    for (int i = 0; i < INPUT_FLOATS; i++)
        w = fmax(w, fabs(ours[i] - ref[i]));
    if (w > INPUT_TOL)
        fprintf(stderr, "%s: input differs by %.3g\n",
                json_string_value(json_object_get(line, "image")), w);
    assert_true(w <= INPUT_TOL);
    *worst = fmax(*worst, w);
}

/* The net alone, on tfjs's own input, with every kernel table this CPU runs. */
static void check_net(fixture *fx, const et_image *img, json_t *line, double *worst)
{
    (void)img;
    float in[INPUT_FLOATS], probs[ET_EXPR_COUNT], features[ET_EMOTION_FEATURES];
    char err[ET_ERR_MAX];
    ref_input(line, in);
    const et_nn_kernels *was = et_vision_ctx_kernels(fx->ctx);
    json_t *rf = json_object_get(line, "features");
    assert_int_equal(json_array_size(rf), ET_EMOTION_FEATURES);
    for (int isa = 0; isa < ET_NN_ISA_COUNT; isa++) {
        if (!et_nn_isa_available((et_nn_isa)isa))
            continue;
        et_vision_ctx_use_kernels(fx->ctx, et_nn_kernels_for((et_nn_isa)isa));
        assert_int_equal(et_vision_emotion_run(fx->ctx, in, probs, features, err), ET_OK);
        double w = prob_diff(line, probs, et_nn_isa_name((et_nn_isa)isa));
        assert_true(w <= PROB_TOL);
        *worst = fmax(*worst, w);
        for (int k = 0; k < ET_EMOTION_FEATURES; k++)
            assert_true(fabs(features[k] - json_number_value(json_array_get(rf, k))) <=
                        FEATURE_TOL);
    }
    et_vision_ctx_use_kernels(fx->ctx, was);
}

/* The whole reading: emotune's input through emotune's net. */
static void check_read(fixture *fx, const et_image *img, json_t *line, double *worst)
{
    float probs[ET_EXPR_COUNT];
    char err[ET_ERR_MAX];
    assert_int_equal(et_vision_emotion_read(fx->ctx, img, ref_region(line), probs, NULL, err),
                     ET_OK);
    double w = prob_diff(line, probs, "read");
    assert_true(w <= PROB_TOL);
    *worst = fmax(*worst, w);
    float sum = 0;
    for (int e = 0; e < ET_EXPR_COUNT; e++)
        sum += probs[e];
    assert_true(fabsf(sum - 1.0f) < 1e-5f);
}

static void run_all(fixture *fx, int demo, const char *what)
{
    double wi = 0, wn = 0, wr = 0;
    size_t n = each_face(fx, demo, check_input, &wi);
    each_face(fx, demo, check_net, &wn);
    each_face(fx, demo, check_read, &wr);
    fprintf(stderr, "%s: %zu faces; largest differences: input %.3g, net %.3g, read %.3g\n",
            what, n, wi, wn, wr);
    assert_true(n > 0);
}

static void demo_faces_read_as_tfjs_reads_them(void **state)
{
    fixture *fx = *state;
    run_all(fx, 1, "demo faces");
}

static void labelled_faces_read_as_tfjs_reads_them(void **state)
{
    fixture *fx = *state;
    if (!ts_faces_dir())
        TS_SKIP("../shared/data/faces is absent: the labelled faces are not compared");
    size_t i, n = 0;
    json_t *line;
    json_array_foreach(fx->ref, i, line) n += !is_demo(line);
    if (n == 0)
        fail_msg("../shared/data/faces is present but %s has none of its faces: "
                 "run scripts/make-reference-emotion.sh",
                 REFERENCE);
    run_all(fx, 0, "labelled faces");
}

/* The faces emotune finds in the demo pictures (face-api mode) are the
 * regions the reference read, one for one; 20 faces in the six pictures. */
static void emotune_finds_the_reference_faces(void **state)
{
    fixture *fx = *state;
    et_detect_opts opts = et_vision_default_opts();
    char err[ET_ERR_MAX];
    size_t total = 0;
    for (int s = 1; s <= 6; s++) {
        char path[256];
        snprintf(path, sizeof path, "%s/sample%d.jpg", ts_demo_dir(), s);
        et_image img = {0};
        assert_int_equal(et_image_load(path, NULL, &img, err), ET_OK);
        et_face faces[MAX_FACES];
        size_t n;
        assert_int_equal(et_vision_detect(fx->ctx, &img, &opts, faces, MAX_FACES, &n, err), ET_OK);
        size_t refs = 0, i;
        json_t *line;
        json_array_foreach(fx->ref, i, line) {
            if (strcmp(json_string_value(json_object_get(line, "image")), path) != 0)
                continue;
            refs++;
            et_image_rect want = ref_region(line);
            int found = 0;
            for (size_t f = 0; f < n && !found; f++) {
                et_image_rect r = et_vision_face_region(faces[f].box, img.width, img.height);
                found = r.x == want.x && r.y == want.y && r.width == want.width &&
                        r.height == want.height;
            }
            if (!found)
                fprintf(stderr, "%s: no face of emotune's at region %dx%d+%d+%d\n", path,
                        want.width, want.height, want.x, want.y);
            assert_true(found);
        }
        assert_int_equal(refs, n);
        total += n;
        et_image_free(&img);
    }
    assert_int_equal(total, 20);
}

/* ---- errors and the optional model --------------------------------------- */

static void a_region_outside_the_picture_is_refused(void **state)
{
    fixture *fx = *state;
    uint8_t px[4 * 4 * 3] = {0};
    et_image img = {4, 4, px};
    float in[INPUT_FLOATS], probs[ET_EXPR_COUNT] = {0};
    char err[ET_ERR_MAX];
    static const et_image_rect bad[] = {
        {0, 0, 0, 4}, {0, 0, 4, 0}, {-1, 0, 4, 4}, {0, 1, 4, 4}, {3, 0, 2, 2}, {0, 0, 5, 1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(et_vision_emotion_input(&img, bad[i], in, err), ET_E_INVALID);
        assert_non_null(strstr(err, "not inside"));
        assert_int_equal(et_vision_emotion_read(fx->ctx, &img, bad[i], probs, NULL, err),
                         ET_E_INVALID);
        for (int e = 0; e < ET_EXPR_COUNT; e++)
            assert_true(probs[e] == 0.0f);
    }
    assert_int_equal(et_vision_emotion_input(&img, (et_image_rect){0, 0, 4, 4}, in, err), ET_OK);
}

/* A black picture: Human's input is all -1 (grey 0, minus 0.5, times 2). */
static void a_black_face_is_all_minus_one(void **state)
{
    (void)state;
    uint8_t px[10 * 6 * 3] = {0};
    et_image img = {10, 6, px};
    float in[INPUT_FLOATS];
    char err[ET_ERR_MAX];
    assert_int_equal(et_vision_emotion_input(&img, (et_image_rect){2, 1, 5, 4}, in, err), ET_OK);
    for (int i = 0; i < INPUT_FLOATS; i++)
        assert_true(in[i] == -1.0f);
}

/* Copies face-api's four model files from the test models into dir. */
static void copy_faceapi_models(const char *dir)
{
    ts_sh("cp %s/tiny_face_detector_model* %s/face_expression_model* %s/", ts_models_dir(),
          ts_models_dir(), dir);
}

static void models_load_without_the_emotion_net(void **state)
{
    (void)state;
    char *dir = ts_tempdir();
    copy_faceapi_models(dir);
    et_vision_models *m = NULL;
    et_vision_ctx *ctx = NULL;
    char err[ET_ERR_MAX];
    assert_int_equal(et_vision_models_load(dir, &m, err), ET_OK);
    assert_false(et_vision_models_have_emotion(m));
    assert_int_equal(et_vision_ctx_new(m, &ctx, err), ET_OK);
    float in[INPUT_FLOATS] = {0}, probs[ET_EXPR_COUNT];
    assert_int_equal(et_vision_emotion_run(ctx, in, probs, NULL, err), ET_E_MODEL);
    assert_non_null(strstr(err, "not loaded"));
    et_vision_ctx_free(ctx);
    et_vision_models_free(m);
    ts_rmtree(dir);
    free(dir);
}

/* A present but damaged emotion net fails the load, naming the file. */
static void a_damaged_emotion_net_fails_the_load(void **state)
{
    (void)state;
    static const struct {
        const char *make, *expect;
    } cases[] = {
        /* a shard shorter than the manifest says */
        {"head -c 1000 %s/emotion.bin > %s/emotion.bin && cp %s/emotion.json %s/", "bytes"},
        /* a weight of another shape (the same count of values) */
        {"cp %s/emotion.bin %s/ && sed 's/\"shape\":\\[3,3,256,7\\]/\"shape\":[3,3,7,256]/' "
         "%s/emotion.json > %s/emotion.json.tmp && mv %s/emotion.json.tmp %s/emotion.json",
         "unknown_43"},
        /* not a graph model */
        {"cp %s/emotion.bin %s/ && echo '[]' > %s/emotion.json", "not the graph"},
        /* a graph model without its weights manifest */
        {"cp %s/emotion.bin %s/ && sed 's/\"weightsManifest\"/\"weights\"/' %s/emotion.json > "
         "%s/emotion.json.tmp && mv %s/emotion.json.tmp %s/emotion.json",
         "weightsManifest"},
        /* another graph: a convolution's padding changed, the weights the same */
        {"cp %s/emotion.bin %s/ && sed 's/VkFMSUQ=/U0FNRQ==/' %s/emotion.json > "
         "%s/emotion.json.tmp && mv %s/emotion.json.tmp %s/emotion.json",
         "not the graph"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *dir = ts_tempdir();
        copy_faceapi_models(dir);
        const char *m = ts_models_dir();
        if (i == 1 || i >= 3)
            ts_sh(cases[i].make, m, dir, m, dir, dir, dir);
        else if (i == 0)
            ts_sh(cases[i].make, m, dir, m, dir);
        else
            ts_sh(cases[i].make, m, dir, dir);
        et_vision_models *models = NULL;
        char err[ET_ERR_MAX] = "";
        assert_int_equal(et_vision_models_load(dir, &models, err), ET_E_MODEL);
        assert_null(models);
        assert_non_null(strstr(err, "emotion.json"));
        if (cases[i].expect)
            assert_non_null(strstr(err, cases[i].expect));
        ts_rmtree(dir);
        free(dir);
    }
}

/* A graph model's weights: its manifest's int32 constants (a Mean's axes)
 * come as floats of the same values, next to its float32 tensors. */
static void graph_weights_take_int32_constants(void **state)
{
    (void)state;
    char *dir = ts_tempdir();
    char path[600];
    snprintf(path, sizeof path, "%s/model.json", dir);
    const char *json = "{\"format\":\"graph-model\",\"modelTopology\":{\"node\":[]},"
                       "\"weightsManifest\":[{\"paths\":[\"w.bin\"],\"weights\":["
                       "{\"name\":\"axes\",\"shape\":[2],\"dtype\":\"int32\"},"
                       "{\"name\":\"f\",\"shape\":[1],\"dtype\":\"float32\"}]}]}";
    ts_write_file(path, json, strlen(json));
    const int32_t axes[2] = {1, -3};
    const float f = 0.5f;
    unsigned char bin[12];
    memcpy(bin, axes, 8);
    memcpy(bin + 8, &f, 4);
    char bin_path[600];
    snprintf(bin_path, sizeof bin_path, "%s/w.bin", dir);
    ts_write_file(bin_path, bin, sizeof bin);
    et_nn_weights *w = NULL;
    char err[ET_ERR_MAX];
    assert_int_equal(et_nn_weights_load_graph(path, &w, err), ET_OK);
    assert_int_equal(et_nn_weights_count(w), 2);
    const et_nn_tensor *t = et_nn_weights_at(w, 0);
    assert_string_equal(t->name, "axes");
    assert_true(t->data[0] == 1.0f && t->data[1] == -3.0f);
    assert_true(et_nn_weights_at(w, 1)->data[0] == 0.5f);
    et_nn_weights_free(w);
    /* The same manifest alone, as a weights manifest, still refuses int32. */
    snprintf(path, sizeof path, "%s/manifest.json", dir);
    const char *manifest = "[{\"paths\":[\"w.bin\"],\"weights\":["
                           "{\"name\":\"axes\",\"shape\":[2],\"dtype\":\"int32\"},"
                           "{\"name\":\"f\",\"shape\":[1],\"dtype\":\"float32\"}]}]";
    ts_write_file(path, manifest, strlen(manifest));
    assert_int_equal(et_nn_weights_load(path, &w, err), ET_E_MODEL);
    assert_non_null(strstr(err, "int32"));
    ts_rmtree(dir);
    free(dir);
}

/* src/nn's 3x3 max pool, on numbers worked out by hand: a 3x3 picture,
 * stride 2, 'same' (pad 1 on each side: two outputs a side). */
static void maxpool3x3_same_stride2_by_hand(void **state)
{
    (void)state;
    const float in[9] = {1, -2, 3, -4, 5, -6, 7, -8, -9};
    float out[4];
    et_nn_maxpool3x3(in, 3, 3, 1, 2, out);
    /* windows rows/cols {-1,0,1} and {1,2,3}, clipped */
    assert_true(out[0] == 5 && out[1] == 5 && out[2] == 7 && out[3] == 5);
    /* all negative: padded cells (not zeros) never win */
    const float neg[4] = {-3, -1, -2, -4};
    float o1[1];
    et_nn_maxpool3x3(neg, 2, 2, 1, 2, o1);
    assert_true(o1[0] == -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(demo_faces_read_as_tfjs_reads_them),
        cmocka_unit_test(labelled_faces_read_as_tfjs_reads_them),
        cmocka_unit_test(emotune_finds_the_reference_faces),
        cmocka_unit_test(a_region_outside_the_picture_is_refused),
        cmocka_unit_test(a_black_face_is_all_minus_one),
        cmocka_unit_test(models_load_without_the_emotion_net),
        cmocka_unit_test(a_damaged_emotion_net_fails_the_load),
        cmocka_unit_test(graph_weights_take_int32_constants),
        cmocka_unit_test(maxpool3x3_same_stride2_by_hand),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
