/* Parity with the reference: face-api 1.7.15 on tfjs-wasm, run by
 * scripts/make-reference.sh on the very pixels src/image decoded (so decoder
 * differences do not count). Same number of faces, boxes within 0.5 px,
 * scores and each expression probability within 0.001.
 *
 * EMOTUNE_TEST_PARITY_IMAGES=N compares only the first N pictures of each
 * reference (the detector's starts with the six demo pictures): run-tests.sh
 * sets it when it runs this program on emulated CPUs, where every picture
 * costs seconds. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "nn/nn.h"
#include "support.h"
#include "vision/vision.h"

#define BOX_TOL 0.5
#define PROB_TOL 0.001
#define MAX_FACES 64

typedef struct parity {
    et_vision_models *models;
    et_vision_ctx *ctx;
} parity;

static int setup(void **state)
{
    parity *p = calloc(1, sizeof *p);
    if (!p || ts_vision_open(&p->models, &p->ctx) != 0) {
        free(p);
        return -1;
    }
    *state = p;
    return 0;
}

static int teardown(void **state)
{
    parity *p = *state;
    ts_vision_close(p->models, p->ctx);
    free(p);
    return 0;
}

static double box_field(json_t *face, const char *k)
{
    return json_real_value(json_object_get(json_object_get(face, "box"), k)) +
           (double)json_integer_value(json_object_get(json_object_get(face, "box"), k));
}

static double iou(const et_box *a, double bx, double by, double bw, double bh)
{
    double w = fmin(a->x + a->width, bx + bw) - fmax(a->x, bx);
    double h = fmin(a->y + a->height, by + bh) - fmax(a->y, by);
    if (w <= 0 || h <= 0)
        return 0;
    return w * h / (a->width * a->height + bw * bh - w * h);
}

/* Compares one reference line with our result; returns the number of
 * mismatches and prints each. */
static int compare_image(json_t *ref, const et_face *faces, size_t n, int check_score)
{
    const char *path = json_string_value(json_object_get(ref, "image"));
    json_t *rfaces = json_object_get(ref, "faces");
    int bad = 0;
    if (json_array_size(rfaces) != n) {
        fprintf(stderr, "%s: %zu faces, reference %zu\n", path, n, json_array_size(rfaces));
        return 1;
    }
    size_t i;
    json_t *rf;
    json_array_foreach(rfaces, i, rf) {
        double x = box_field(rf, "x"), y = box_field(rf, "y"), w = box_field(rf, "width"),
               h = box_field(rf, "height");
        size_t best = 0;
        for (size_t j = 1; j < n; j++)
            if (iou(&faces[j].box, x, y, w, h) > iou(&faces[best].box, x, y, w, h))
                best = j;
        const et_face *f = &faces[best];
        double db = fmax(fmax(fabs(f->box.x - x), fabs(f->box.y - y)),
                         fmax(fabs(f->box.width - w), fabs(f->box.height - h)));
        if (db > BOX_TOL) {
            fprintf(stderr, "%s: face %zu box off by %.3f px\n", path, i, db);
            bad++;
        }
        if (check_score &&
            fabs(f->score - json_real_value(json_object_get(rf, "score"))) > PROB_TOL) {
            fprintf(stderr, "%s: face %zu score %.5f, reference %.5f\n", path, i, f->score,
                    json_real_value(json_object_get(rf, "score")));
            bad++;
        }
        json_t *re = json_object_get(rf, "expressions");
        for (int e = 0; e < ET_EXPR_COUNT; e++) {
            json_t *v = json_object_get(re, et_vision_expression_name(e));
            double want = json_is_integer(v) ? (double)json_integer_value(v) : json_real_value(v);
            if (fabs(f->expressions[e] - want) > PROB_TOL) {
                fprintf(stderr, "%s: face %zu %s %.5f, reference %.5f\n", path, i,
                        et_vision_expression_name(e), f->expressions[e], want);
                bad++;
            }
        }
    }
    return bad;
}

/* The references' line limit (see the top of this file); 0: all. */
static size_t parity_limit(void)
{
    const char *v = getenv("EMOTUNE_TEST_PARITY_IMAGES");
    if (!v || !*v)
        return 0;
    char *end;
    unsigned long n = strtoul(v, &end, 10);
    if (*end || n < 6)
        fail_msg("EMOTUNE_TEST_PARITY_IMAGES=%s: expected a number of at least 6", v);
    return n;
}

/* Runs every line of a reference file (up to `limit`, 0 for all); returns
 * the number of images. */
static size_t run_reference(parity *p, const char *file, bool face_crop, size_t limit,
                            int *images_bad, size_t *faces_seen)
{
    FILE *f = fopen(file, "r");
    if (!f)
        fail_msg("%s is missing: scripts/make-reference.sh did not run, or failed, in this "
                 "run (it removes the previous run's outputs first)", file);
    char line[1 << 16];
    size_t images = 0;
    et_detect_opts opts = et_vision_default_opts();
    /* face-api named, as --expressions face-api: its detection and reading,
     * face-api's answer exactly, as the reference */
    et_vision_opts_name_reader(&opts, ET_EXPR_MODEL_FACEAPI);
    opts.face_crop = face_crop;
    while ((!limit || images < limit) && fgets(line, sizeof line, f)) {
        json_error_t jerr;
        json_t *ref = json_loads(line, 0, &jerr);
        assert_non_null(ref);
        const char *path = json_string_value(json_object_get(ref, "image"));
        et_image img = {0};
        et_face faces[MAX_FACES];
        size_t n;
        char err[ET_ERR_MAX];
        assert_int_equal(et_image_load(path, NULL, &img, err), ET_OK);
        assert_int_equal(json_integer_value(json_object_get(ref, "width")), img.width);
        assert_int_equal(json_integer_value(json_object_get(ref, "height")), img.height);
        assert_int_equal(et_vision_detect(p->ctx, &img, &opts, faces, MAX_FACES, &n, err), ET_OK);
        *images_bad += compare_image(ref, faces, n, !face_crop) > 0;
        *faces_seen += n;
        images++;
        et_image_free(&img);
        json_decref(ref);
    }
    fclose(f);
    return images;
}

static void detect_agrees_with_face_api(void **state)
{
    int bad = 0;
    size_t faces = 0;
    size_t images = run_reference(*state, "build/parity/detect.jsonl", false, parity_limit(), &bad,
                                  &faces);
    const parity *p = *state;
    fprintf(stderr, "detect parity (%s kernels): %zu images, %zu faces, %d images differ\n",
            et_nn_isa_name(et_vision_ctx_kernels(p->ctx)->isa), images, faces, bad);
    assert_true(images >= 6);
    assert_true(faces >= 20); /* the six demo images alone show 20 faces */
    assert_int_equal(bad, 0);
}

static void expressions_of_face_crops_agree_with_face_api(void **state)
{
    if (!ts_faces_dir())
        TS_SKIP("../shared/data/faces is absent: face-crop parity needs it");
    int bad = 0;
    size_t faces = 0;
    size_t limit = parity_limit();
    size_t images =
        run_reference(*state, "build/parity/facecrop.jsonl", true, limit, &bad, &faces);
    fprintf(stderr, "face-crop parity: %zu faces, %d differ\n", images, bad);
    assert_true(images >= (limit && limit < 100 ? limit : 100));
    assert_int_equal(bad, 0);
}

int main(void)
{
    et_nn_set_blas_threads(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(detect_agrees_with_face_api),
        cmocka_unit_test(expressions_of_face_crops_agree_with_face_api),
    };
    return cmocka_run_group_tests_name("parity", tests, setup, teardown);
}
