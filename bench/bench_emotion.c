/* The cost per face of Human's emotion net (src/vision/emotion.c; issue 19)
 * against face-api's expression net, in the same run on one core: the faces
 * emotune finds in each picture (face-api mode), each read R times after one
 * warm-up by both nets in turn (the same machine state for both): face-api's
 * (crop, 112x112 input, FaceExpressionNet) and Human's (its 64x64 grey
 * input, the net), and Human's input and net alone. Medians over every face
 * and run; one JSON line per picture, then one for all.
 *
 * usage: bench_emotion [--repeat R] [--models DIR] IMAGE... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "nn/nn.h"
#include "vision/vision.h"

#define MAX_FACES 64

enum { EXPR, EMO, EMO_INPUT, EMO_NET, TIMES };
static const char *names[TIMES] = {"ms_expression", "ms_emotion", "ms_emotion_input",
                                   "ms_emotion_net"};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return v[n / 2];
}

/* Multiply-adds x 2 of the emotion net (emotion.c's header). */
static double emotion_flops(void)
{
    double f = 31.0 * 31 * 9 * 32 * 2 + 29.0 * 29 * 9 * 32 * 64 * 2;
    static const int cin[2] = {64, 128}, cout[2] = {128, 256}, side[2] = {29, 15};
    for (int b = 0; b < 2; b++) {
        double n2 = (double)side[b] * side[b], m = (side[b] + 1) / 2;
        f += m * m * cin[b] * cout[b] * 2;                           /* shortcut */
        f += n2 * cin[b] * 9 * 2 + n2 * cin[b] * cout[b] * 2;        /* separable 1 */
        f += n2 * cout[b] * 9 * 2 + n2 * (double)cout[b] * cout[b] * 2; /* separable 2 */
    }
    return f + 8.0 * 8 * 9 * 256 * 7 * 2;
}

/* One run over the faces of img; adds each face's times to t[k][*count]. */
static int time_faces(et_vision_ctx *ctx, const et_image *img, const et_face *faces, size_t n,
                      double *t[TIMES], size_t *count, char *err)
{
    for (size_t f = 0; f < n; f++) {
        et_image_rect r = et_vision_face_region(faces[f].box, img->width, img->height);
        float probs[ET_EXPR_COUNT], input[ET_EMOTION_INPUT * ET_EMOTION_INPUT];
        double t0 = et_now();
        et_status s = et_vision_read_expressions(ctx, img, r, probs, err);
        double t1 = et_now();
        if (s == ET_OK)
            s = et_vision_emotion_read(ctx, img, r, probs, NULL, err);
        double t2 = et_now();
        if (s == ET_OK)
            s = et_vision_emotion_input(img, r, input, err);
        double t3 = et_now();
        if (s == ET_OK)
            s = et_vision_emotion_run(ctx, input, probs, NULL, err);
        double t4 = et_now();
        if (s != ET_OK)
            return -1;
        t[EXPR][*count] = (t1 - t0) * 1e3;
        t[EMO][*count] = (t2 - t1) * 1e3;
        t[EMO_INPUT][*count] = (t3 - t2) * 1e3;
        t[EMO_NET][*count] = (t4 - t3) * 1e3;
        ++*count;
    }
    return 0;
}

static void print_line(const char *image, size_t faces, double *t[TIMES], size_t count)
{
    printf("{\"image\": \"%s\", \"faces\": %zu", image, faces);
    double med[TIMES];
    for (int k = 0; k < TIMES; k++) {
        med[k] = median(t[k], count);
        printf(", \"%s\": %.4f", names[k], med[k]);
    }
    printf(", \"emotion_per_expression\": %.3f}\n", med[EMO] / med[EXPR]);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    int repeat = 20, i = 1;
    const char *models = "build/models";
    for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
        if (!strcmp(argv[i], "--repeat"))
            repeat = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--models"))
            models = argv[i + 1];
    }
    if (repeat < 1 || i >= argc) {
        fprintf(stderr, "usage: bench_emotion [--repeat R] [--models DIR] IMAGE...\n");
        return 2;
    }
    et_nn_set_blas_threads(1);
    char err[ET_ERR_MAX];
    et_vision_models *m;
    et_vision_ctx *ctx;
    if (et_vision_models_load(models, &m, err) || et_vision_ctx_new(m, &ctx, err)) {
        fprintf(stderr, "bench_emotion: %s\n", err);
        return 3;
    }
    if (!et_vision_models_have_emotion(m)) {
        fprintf(stderr, "bench_emotion: %s has no %s\n", models, ET_VISION_EMOTION_MODEL);
        return 3;
    }
    printf("{\"emotion_gflop\": %.4f, \"kernels\": \"%s\"}\n", emotion_flops() / 1e9,
           et_nn_isa_name(et_vision_ctx_kernels(ctx)->isa));
    size_t cap = (size_t)(argc - i) * MAX_FACES * (size_t)repeat, all_n = 0;
    double *all[TIMES], *one[TIMES];
    for (int k = 0; k < TIMES; k++) {
        all[k] = malloc(sizeof(double) * cap);
        one[k] = malloc(sizeof(double) * MAX_FACES * (size_t)repeat);
    }
    et_detect_opts opts = et_vision_default_opts();
    int rc = 0;
    size_t total_faces = 0;
    for (; i < argc && rc == 0; i++) {
        et_image img = {0};
        et_face faces[MAX_FACES];
        size_t n = 0, count = 0, warm = 0;
        double *scratch[TIMES];
        for (int k = 0; k < TIMES; k++)
            scratch[k] = one[k];
        if (et_image_load(argv[i], NULL, &img, err) != ET_OK ||
            et_vision_detect(ctx, &img, &opts, faces, MAX_FACES, &n, err) != ET_OK ||
            time_faces(ctx, &img, faces, n, scratch, &warm, err) != 0) { /* warm-up */
            fprintf(stderr, "bench_emotion: %s: %s\n", argv[i], err);
            rc = 1;
        }
        for (int r = 0; r < repeat && rc == 0 && n > 0; r++)
            if (time_faces(ctx, &img, faces, n, one, &count, err) != 0) {
                fprintf(stderr, "bench_emotion: %s: %s\n", argv[i], err);
                rc = 1;
            }
        et_image_free(&img);
        if (rc != 0 || n == 0)
            continue;
        for (int k = 0; k < TIMES; k++)
            memcpy(all[k] + all_n, one[k], count * sizeof(double));
        all_n += count;
        total_faces += n;
        print_line(argv[i], n, one, count);
    }
    if (rc == 0 && all_n > 0)
        print_line("all", total_faces, all, all_n);
    for (int k = 0; k < TIMES; k++) {
        free(all[k]);
        free(one[k]);
    }
    et_vision_ctx_free(ctx);
    et_vision_models_free(m);
    return rc;
}
