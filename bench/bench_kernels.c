/* Times the hand-vectorised kernels (direct 3x3 convolution, depthwise 3x3
 * convolution) of every instruction set this CPU runs, on the layer shapes
 * of emotune's two networks, interleaved (generic, avx2, avx512, generic, ...)
 * so that a busy machine slows them alike; each figure is the median of R
 * rounds. One JSON line per kernel and shape, with each set's speed-up
 * against generic measured in the same run.
 *
 * usage: bench_kernels [--repeat R] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "nn/nn.h"

typedef struct shape {
    const char *what;
    int depthwise; /* 0: full conv3x3 cin -> cout; 1: depthwise over cin */
    int n, stride, cin, cout;
} shape;

/* TinyFaceDetector at 416 (conv0 valid, then separable layers at 208..13)
 * and FaceExpressionNet (dense0 conv at 112, depthwise at 56..7). */
static const shape shapes[] = {
    {"detector conv0 416x416 3->16", 0, 416, 1, 3, 16},
    {"detector depthwise 208x208x16", 1, 208, 1, 16, 16},
    {"detector depthwise 104x104x32", 1, 104, 1, 32, 32},
    {"detector depthwise 52x52x64", 1, 52, 1, 64, 64},
    {"detector depthwise 26x26x128", 1, 26, 1, 128, 128},
    {"detector depthwise 13x13x256", 1, 13, 1, 256, 256},
    {"expression conv0 112x112 3->32 s2", 0, 112, 2, 3, 32},
    {"expression depthwise 56x56x32", 1, 56, 1, 32, 32},
    {"expression depthwise 28x28x64", 1, 28, 1, 64, 64},
    {"expression depthwise 14x14x128", 1, 14, 1, 128, 128},
    {"expression depthwise 7x7x256", 1, 7, 1, 256, 256},
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void fill(float *x, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        x[i] = (float)((seed >> 9) & 0xffff) / 65536.0f - 0.5f;
    }
}

/* One run of the shape's kernel with k; returns milliseconds. */
static double run_once(const et_nn_kernels *k, const shape *s, const float *in,
                       const float *filter, const float *bias, float *out)
{
    et_nn_pad pad = s->depthwise ? et_nn_same_padding(s->n, 3, s->stride) : (et_nn_pad){0, 0};
    if (!s->depthwise && s->stride == 2)
        pad = et_nn_same_padding(s->n, 3, 2);
    et_nn_conv_geom g = et_nn_geom(s->n, s->n, s->stride, pad, pad);
    double t0 = et_now();
    if (s->depthwise)
        k->depthwise3x3(in, &g, s->cin, filter, out);
    else
        k->conv3x3(in, &g, s->cin, filter, bias, s->cout, out);
    return (et_now() - t0) * 1e3;
}

static int bench_shape(const shape *s, int repeat)
{
    size_t n_in = (size_t)s->n * s->n * s->cin, n_out = (size_t)s->n * s->n * s->cout;
    size_t n_f = (size_t)9 * s->cin * (s->depthwise ? 1 : s->cout);
    float *in = malloc(n_in * sizeof *in), *filter = malloc(n_f * sizeof *filter),
          *bias = malloc((size_t)s->cout * sizeof *bias), *out = malloc(n_out * sizeof *out);
    double *ms[ET_NN_ISA_COUNT] = {0};
    int ok = in && filter && bias && out;
    for (int isa = 0; ok && isa < ET_NN_ISA_COUNT; isa++)
        ok = (ms[isa] = calloc((size_t)repeat, sizeof(double))) != NULL;
    if (!ok) {
        fprintf(stderr, "bench_kernels: out of memory\n");
        goto done;
    }
    fill(in, n_in, 1);
    fill(filter, n_f, 2);
    fill(bias, (size_t)s->cout, 3);
    for (int r = -1; r < repeat; r++) /* round -1 warms up */
        for (int isa = 0; isa < ET_NN_ISA_COUNT; isa++) {
            const et_nn_kernels *k = et_nn_kernels_for((et_nn_isa)isa);
            if (!k)
                continue;
            double t = run_once(k, s, in, filter, bias, out);
            if (r >= 0)
                ms[isa][r] = t;
        }
    printf("{\"kernel\":\"%s\"", s->what);
    double base = 0;
    for (int isa = 0; isa < ET_NN_ISA_COUNT; isa++) {
        if (!et_nn_kernels_for((et_nn_isa)isa))
            continue;
        qsort(ms[isa], (size_t)repeat, sizeof(double), cmp_double);
        double med = ms[isa][repeat / 2];
        if (isa == ET_NN_ISA_GENERIC)
            base = med;
        printf(",\"%s_ms\":%.4f,\"%s_speedup\":%.2f", et_nn_isa_name((et_nn_isa)isa), med,
               et_nn_isa_name((et_nn_isa)isa), base / med);
    }
    printf("}\n");
done:
    for (int isa = 0; isa < ET_NN_ISA_COUNT; isa++)
        free(ms[isa]);
    free(in);
    free(filter);
    free(bias);
    free(out);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    int repeat = 50;
    if (argc == 3 && !strcmp(argv[1], "--repeat"))
        repeat = atoi(argv[2]);
    if (repeat < 1 || (argc != 1 && argc != 3)) {
        fprintf(stderr, "usage: bench_kernels [--repeat R]\n");
        return 2;
    }
    int failed = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        failed |= bench_shape(&shapes[i], repeat);
    return failed;
}
