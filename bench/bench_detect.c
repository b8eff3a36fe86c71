/* Times emotune's vision on one core, per image: decode + detect + expressions
 * (what `emotune detect` does per image) in face-api mode (--expressions
 * face-api: face-api's detection and reading), the same in the emotune-1
 * mode (the expression net twice per face, the face and its mirror, and the
 * head), the same with emotune's defaults (et_vision_default_opts: the
 * default reader, two-pass detection; "ms_default"), decode alone, the detector alone and the expression
 * net alone on one 112x112 face in each mode, each the median of R runs after
 * one warm-up; the modes alternate within each run, so both see the same
 * machine. Also measures this core's practical single-precision
 * peak (a large cblas_sgemm) and counts the networks' FLOPs, to report the
 * share of peak each network reaches. One JSON line per measurement.
 *
 * usage: bench_detect [--repeat R] [--models DIR] IMAGE... */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "nn/nn.h"
#include "vision/vision.h"

#define MAX_FACES 64

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

/* Multiply-adds x 2 of the detector at input size s (face-api TinyFaceDetector:
 * conv0 3x3 valid 3->16, five separable 3x3 with 'same' pools, 1x1 to 25). */
static double detector_flops(int s)
{
    double n = s - 2, f = n * n * 27 * 16 * 2;
    int cin = 16;
    n = (double)(((int)n + 1) / 2); /* 'same' 2x2 pool, stride 2 */
    for (int i = 0; i < 5; i++, cin *= 2) {
        f += n * n * cin * 9 * 2 + n * n * cin * (2.0 * cin) * 2;
        if (i < 4)
            n = (double)(((int)n + 1) / 2);
    }
    return f + n * n * cin * 25 * 2;
}

/* FaceExpressionNet: four dense blocks (first conv stride 2), then 256x7. */
static double expression_flops(void)
{
    static const int ch[5] = {3, 32, 64, 128, 256};
    double f = 0, n = 112;
    for (int b = 0; b < 4; b++) {
        n /= 2;
        int cin = ch[b], cout = ch[b + 1];
        f += b == 0 ? n * n * 27 * cout * 2 : n * n * cin * 9 * 2 + n * n * cin * cout * 2.0;
        f += 3 * (n * n * cout * 9 * 2 + n * n * (double)cout * cout * 2);
    }
    return f + 256 * 7 * 2;
}

/* The ms of decode + detect + expressions of one image in one mode. */
static double time_detect(et_vision_ctx *ctx, const char *path, const et_detect_opts *o,
                          et_face *faces, size_t *n, char *err)
{
    double t0 = et_now();
    et_image img = {0};
    et_status s = et_image_load(path, NULL, &img, err);
    if (s == ET_OK)
        s = et_vision_detect(ctx, &img, o, faces, MAX_FACES, n, err);
    et_image_free(&img);
    return s == ET_OK ? (et_now() - t0) * 1e3 : -1;
}

/* The ms of reading one face (a face crop) in the mode o gives. */
static double time_face(et_vision_ctx *ctx, const et_image *face, et_detect_opts o, char *err)
{
    et_face f;
    size_t n;
    o.face_crop = true;
    double t0 = et_now();
    et_vision_detect(ctx, face, &o, &f, 1, &n, err);
    return (et_now() - t0) * 1e3;
}

static double sgemm_gflops(void)
{
    enum { N = 1024 };
    float *a = malloc(sizeof(float) * N * N), *b = malloc(sizeof(float) * N * N),
          *c = malloc(sizeof(float) * N * N);
    for (int i = 0; i < N * N; i++)
        a[i] = b[i] = (float)(i % 7) * 0.1f;
    double best = 1e9;
    for (int r = 0; r < 5; r++) {
        double t = et_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1, a, N, b, N, 0, c, N);
        t = et_now() - t;
        best = t < best ? t : best;
    }
    free(a);
    free(b);
    free(c);
    return 2.0 * N * N * N / best / 1e9;
}

int main(int argc, char **argv)
{
    int repeat = 20, i = 1;
    const char *models = "build/models";
    for (; i < argc && argv[i][0] == '-'; i += 2) {
        if (i + 1 >= argc)
            break;
        if (!strcmp(argv[i], "--repeat"))
            repeat = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--models"))
            models = argv[i + 1];
    }
    if (repeat < 1 || i >= argc) {
        fprintf(stderr, "usage: bench_detect [--repeat R] [--models DIR] IMAGE...\n");
        return 2;
    }
    et_nn_set_blas_threads(1);
    char err[ET_ERR_MAX];
    et_vision_models *m;
    et_vision_ctx *ctx;
    if (et_vision_models_load(models, &m, err) || et_vision_ctx_new(m, &ctx, err)) {
        fprintf(stderr, "bench_detect: %s\n", err);
        return 3;
    }
    printf("{\"sgemm_gflops\": %.2f, \"detector_gflop\": %.4f, \"expression_gflop\": %.4f}\n",
           sgemm_gflops(), detector_flops(416) / 1e9, expression_flops() / 1e9);
    et_detect_opts opts = et_vision_default_opts(), dflt = opts, product = opts;
    et_vision_opts_name_reader(&opts, ET_EXPR_MODEL_FACEAPI); /* what the reference computes */
    et_vision_opts_name_reader(&dflt, ET_EXPR_MODEL_EMOTUNE); /* measured against it */
    et_image face = {.width = 112, .height = 112, .rgb = calloc(112 * 112, 3)};
    enum { ALL, ALL_DEFAULT, ALL_PRODUCT, DECODE, DETECTOR, EXPR, EXPR_DEFAULT, TIMES };
    double *t[TIMES];
    for (int k = 0; k < TIMES; k++)
        t[k] = malloc(sizeof(double) * repeat);
    for (; i < argc; i++) {
        et_face faces[MAX_FACES];
        size_t n, n_default, n_product;
        for (int r = -1; r < repeat; r++) { /* r = -1: warm-up */
            double ms[TIMES];
            ms[ALL] = time_detect(ctx, argv[i], &opts, faces, &n, err);
            ms[ALL_DEFAULT] = time_detect(ctx, argv[i], &dflt, faces, &n_default, err);
            ms[ALL_PRODUCT] = time_detect(ctx, argv[i], &product, faces, &n_product, err);
            if (ms[ALL] < 0 || ms[ALL_DEFAULT] < 0 || ms[ALL_PRODUCT] < 0) {
                fprintf(stderr, "bench_detect: %s\n", err);
                return 1;
            }
            double t0 = et_now();
            et_image img = {0};
            et_image_load(argv[i], NULL, &img, err);
            double t1 = et_now();
            et_vision_find_faces(ctx, &img, opts.input_size, opts.min_score, faces, MAX_FACES, &n,
                                 err);
            double t2 = et_now();
            et_image_free(&img);
            ms[DECODE] = (t1 - t0) * 1e3;
            ms[DETECTOR] = (t2 - t1) * 1e3;
            ms[EXPR] = time_face(ctx, &face, opts, err);
            ms[EXPR_DEFAULT] = time_face(ctx, &face, dflt, err);
            for (int k = 0; r >= 0 && k < TIMES; k++)
                t[k][r] = ms[k];
        }
        printf("{\"image\": \"%s\", \"faces\": %zu, \"ms\": %.3f, \"ms_emotune1\": %.3f, "
               "\"faces_emotune1\": %zu, \"ms_decode\": %.3f, \"ms_detector\": %.3f, "
               "\"ms_expression\": %.3f, \"ms_expression_emotune1\": %.3f, \"ms_default\": %.3f, "
               "\"faces_default\": %zu}\n",
               argv[i], n, median(t[ALL], repeat), median(t[ALL_DEFAULT], repeat), n_default,
               median(t[DECODE], repeat), median(t[DETECTOR], repeat), median(t[EXPR], repeat),
               median(t[EXPR_DEFAULT], repeat), median(t[ALL_PRODUCT], repeat), n_product);
        fflush(stdout);
    }
    free(face.rgb);
    for (int k = 0; k < TIMES; k++)
        free(t[k]);
    et_vision_ctx_free(ctx);
    et_vision_models_free(m);
    return 0;
}
