/* Times what a listener's calibration (issue 19) costs a frame, against the
 * face-api reading of one face (the expression net on one detected face,
 * et_vision_read_expressions) in the same run, on one core:
 *  - apply: the calibrated reading of one face (et_listener_calib_apply_face,
 *    softmax(log p + b) and its top), the per-face cost;
 *  - lookup: reading the listener's fit from a real LMDB store
 *    (et_listener_calib_get: one small document), once per frame;
 *  - refit: a change with a full calibration (20 examples of each of the
 *    seven expressions, 140), both readers fitted: once per example posted.
 * Each the median of R runs (apply: of batches of 10,000) after a warm-up.
 * One JSON line per measurement, with its ratio to the face reading.
 *
 * usage: bench_calibration [--repeat R] [--models DIR] IMAGE */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "image/image.h"
#include "listener/listener.h"
#include "vision/vision.h"

#define APPLY_BATCH 10000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

static void line(const char *what, double seconds, double face_s, const char *note)
{
    printf("{\"bench\":\"calibration\",\"what\":\"%s\",\"seconds\":%.9g,"
           "\"ratio_to_face_reading\":%.6g,\"note\":\"%s\"}\n",
           what, seconds, seconds / face_s, note);
}

/* A temporary LMDB store with `name`'s calibration full: 20 examples of
 * each expression, made from the face's own features. */
static et_status full_store(const char *dir, const char *name,
                            const et_listener_calib_example *ex, et_store **out, double *refit,
                            char *err)
{
    char uri[600];
    snprintf(uri, sizeof uri, "lmdb:%s", dir);
    et_status st = et_store_open(uri, NULL, out, err);
    for (int e = 0; st == ET_OK && e < ET_EXPR_COUNT; e++)
        for (int i = 0; st == ET_OK && i < ET_LISTENER_CALIB_MAX_PER_EXPR; i++) {
            et_listener_calib_example one = *ex;
            one.expression = (et_expression)e;
            one.x[0] += 0.01f * (float)i; /* not all alike */
            if (e == ET_EXPR_COUNT - 1 && i == ET_LISTENER_CALIB_MAX_PER_EXPR - 1) {
                double t0 = now_s(); /* the 140th: a change at the largest size */
                st = et_listener_calib_add(*out, name, &one, NULL, err);
                *refit = now_s() - t0;
            } else {
                st = et_listener_calib_add(*out, name, &one, NULL, err);
            }
        }
    return st;
}

int main(int argc, char **argv)
{
    int repeat = 15;
    const char *models_dir = "build/models", *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
            repeat = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--models") && i + 1 < argc)
            models_dir = argv[++i];
        else
            path = argv[i];
    }
    if (!path || repeat < 1 || repeat > 1000) {
        fprintf(stderr, "usage: bench_calibration [--repeat R] [--models DIR] IMAGE\n");
        return 2;
    }
    char err[ET_ERR_MAX];
    et_vision_models *models = NULL;
    et_vision_ctx *ctx = NULL;
    et_image img = {0};
    et_image_limits limits = et_image_default_limits();
    if (et_vision_models_load(models_dir, &models, err) != ET_OK ||
        et_vision_ctx_new(models, &ctx, err) != ET_OK ||
        et_image_load(path, &limits, &img, err) != ET_OK) {
        fprintf(stderr, "bench_calibration: %s\n", err);
        return 1;
    }
    et_listener_calib_example ex = {.expression = ET_EXPR_SAD, .time = 1764800000};
    et_box box;
    bool found = false;
    if (et_vision_calibration_example(ctx, &img, ex.x, ex.faceapi, &box, &found, err) != ET_OK ||
        !found) {
        fprintf(stderr, "bench_calibration: %s: %s\n", path, found ? err : "no face");
        return 1;
    }
    et_image_rect region = et_vision_face_region(box, img.width, img.height);
    char dir[] = "/tmp/emotune-bench-calibration-XXXXXX";
    et_store *s = NULL;
    double refit = 0;
    if (!mkdtemp(dir) || full_store(dir, "bench", &ex, &s, &refit, err) != ET_OK) {
        fprintf(stderr, "bench_calibration: store: %s\n", err);
        return 1;
    }
    et_listener_calibration cal;
    double *face_t = calloc((size_t)repeat, sizeof *face_t),
           *apply_t = calloc((size_t)repeat, sizeof *apply_t),
           *get_t = calloc((size_t)repeat, sizeof *get_t);
    int rc = face_t && apply_t && get_t ? 0 : 1;
    volatile float sink = 0;
    for (int r = -1; rc == 0 && r < repeat; r++) { /* r = -1: warm-up */
        float probs[ET_EXPR_COUNT];
        double t0 = now_s();
        if (et_vision_read_expressions(ctx, &img, region, probs, err) != ET_OK)
            rc = 1;
        double t1 = now_s();
        if (et_listener_calib_get(s, "bench", &cal, err) != ET_OK || !cal.in_use)
            rc = 1;
        double t2 = now_s();
        et_face f = {.model = ET_EXPR_MODEL_FACEAPI};
        for (int i = 0; i < APPLY_BATCH; i++) {
            memcpy(f.expressions, probs, sizeof probs);
            et_listener_calib_apply_face(&cal, &f);
            sink += f.expressions[ET_EXPR_SAD];
        }
        double t3 = now_s();
        if (r >= 0) {
            face_t[r] = t1 - t0;
            get_t[r] = t2 - t1;
            apply_t[r] = (t3 - t2) / APPLY_BATCH;
        }
    }
    if (rc == 0) {
        double face = median(face_t, repeat);
        line("face_reading", face, face, "face-api's expression net on one face");
        line("apply", median(apply_t, repeat), face, "calibrated reading of one face");
        line("lookup", median(get_t, repeat), face,
             "the listener's fit read from LMDB, once per frame");
        line("refit", refit, face, "adding the 140th example: both readers refitted, once");
    } else {
        fprintf(stderr, "bench_calibration: %s\n", err);
    }
    free(face_t);
    free(apply_t);
    free(get_t);
    et_store_close(s);
    char cmd[100];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_calibration: %s left behind\n", dir);
    et_image_free(&img);
    et_vision_ctx_free(ctx);
    et_vision_models_free(models);
    return rc;
}
