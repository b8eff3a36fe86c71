/* Tensor operations and the weight loader, on small cases worked out by hand. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn.h"
#include "support.h"

/* The kernel tables under test: the one EMOTUNE_CPU forces (the test fails
 * when this CPU cannot run it), else every table this CPU runs. */
static int kernels_under_test(const et_nn_kernels *ks[ET_NN_ISA_COUNT])
{
    const char *forced = getenv(ET_NN_CPU_ENV);
    if (forced && *forced && strcmp(forced, "auto") != 0) {
        char err[ET_ERR_MAX];
        if (et_nn_kernels_choose(forced, &ks[0], err) != ET_OK)
            fail_msg("%s=%s: %s", ET_NN_CPU_ENV, forced, err);
        return 1;
    }
    int n = 0;
    for (int isa = 0; isa < ET_NN_ISA_COUNT; isa++)
        if ((ks[n] = et_nn_kernels_for((et_nn_isa)isa)) != NULL)
            n++;
    return n;
}

/* Runs one case with every kernel table under test, saying which. */
static void for_each_kernels(void (*run)(const et_nn_kernels *k))
{
    const et_nn_kernels *ks[ET_NN_ISA_COUNT];
    int n = kernels_under_test(ks);
    for (int i = 0; i < n; i++) {
        print_message("  kernels: %s\n", et_nn_isa_name(ks[i]->isa));
        run(ks[i]);
    }
}

/* A test whose body takes the kernel table `k`, run with each under test. */
#define KERNEL_TEST(name)                                                      \
    static void name##_with(const et_nn_kernels *k);                            \
    static void name(void **state)                                              \
    {                                                                           \
        (void)state;                                                            \
        for_each_kernels(name##_with);                                          \
    }                                                                           \
    static void name##_with(const et_nn_kernels *k)

static void same_padding_matches_tensorflow(void **state)
{
    (void)state;
    /* TF: out = ceil(in/stride); total = max((out-1)*stride + k - in, 0). */
    et_nn_pad p = et_nn_same_padding(112, 3, 2); /* out 56: 55*2+3-112 = 1 */
    assert_int_equal(p.before, 0);
    assert_int_equal(p.after, 1);
    p = et_nn_same_padding(13, 2, 1); /* out 13: 12+2-13 = 1 */
    assert_int_equal(p.before, 0);
    assert_int_equal(p.after, 1);
    p = et_nn_same_padding(416, 2, 2); /* out 208: 207*2+2-416 = 0 */
    assert_int_equal(p.before + p.after, 0);
    p = et_nn_same_padding(7, 3, 1); /* total 2, split 1/1 */
    assert_int_equal(p.before, 1);
    assert_int_equal(p.after, 1);
    assert_int_equal(et_nn_out_size(112, 3, 2, et_nn_same_padding(112, 3, 2)), 56);
}

KERNEL_TEST(conv3x3_sums_neighbourhoods_with_zero_padding)
{
    /* 3x3 single-channel image 1..9, all-ones filter, pad 1: each output is the
     * sum of the 3x3 neighbourhood, e.g. centre = 45, corner (0,0) = 1+2+4+5. */
    float in[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, filter[9], out[9];
    for (int i = 0; i < 9; i++)
        filter[i] = 1.0f;
    float bias = 0.5f;
    et_nn_pad one = {1, 1};
    et_nn_conv_geom g = et_nn_geom(3, 3, 1, one, one);
    k->conv3x3(in, &g, 1, filter, &bias, 1, out);
    const float want[9] = {12, 21, 16, 27, 45, 33, 24, 39, 28};
    for (int i = 0; i < 9; i++)
        assert_float_equal(out[i], want[i] + 0.5f, 1e-5);
}

KERNEL_TEST(conv3x3_orders_filter_as_hwio)
{
    /* 1x1 image with 2 channels (a=2, b=3), pad 1, 2 outputs. Only the centre
     * tap (ky=kx=1) sees the pixel: out[o] = a*F[1][1][0][o] + b*F[1][1][1][o].
     * HWIO index of (1,1,i,o) = ((1*3+1)*2 + i)*2 + o = 16 + 2i + o. */
    float in[2] = {2, 3}, filter[36] = {0}, out[2];
    filter[16] = 1;  /* i0 -> o0 */
    filter[17] = 10; /* i0 -> o1 */
    filter[18] = 100;  /* i1 -> o0 */
    filter[19] = 1000; /* i1 -> o1 */
    filter[0] = 7;     /* a corner tap: reads padding only */
    et_nn_pad one = {1, 1};
    et_nn_conv_geom g = et_nn_geom(1, 1, 1, one, one);
    k->conv3x3(in, &g, 2, filter, NULL, 2, out);
    assert_float_equal(out[0], 2 * 1 + 3 * 100, 1e-4);
    assert_float_equal(out[1], 2 * 10 + 3 * 1000, 1e-3);
}

KERNEL_TEST(conv3x3_stride2_same_pads_after)
{
    /* 4x4 image of ones, stride 2, 'same' padding (0 before, 1 after):
     * output (0,0) covers rows/cols 0..2 -> 9 ones; (1,1) covers 2..4 where 4
     * is padding -> 4 ones; (0,1) -> 6; (1,0) -> 6. */
    float in[16], filter[9], out[4];
    for (int i = 0; i < 16; i++)
        in[i] = 1;
    for (int i = 0; i < 9; i++)
        filter[i] = 1;
    et_nn_pad p = et_nn_same_padding(4, 3, 2);
    et_nn_conv_geom g = et_nn_geom(4, 4, 2, p, p);
    assert_int_equal(g.oh, 2);
    k->conv3x3(in, &g, 1, filter, NULL, 1, out);
    assert_float_equal(out[0], 9, 1e-6);
    assert_float_equal(out[1], 6, 1e-6);
    assert_float_equal(out[2], 6, 1e-6);
    assert_float_equal(out[3], 4, 1e-6);
}

/* The vectorised paths (16 channels at a time, 4 pixels at a time inside the
 * image) must give what the plain path gives one output channel at a time. */
KERNEL_TEST(conv3x3_wide_paths_equal_one_channel_at_a_time)
{
    enum { H = 9, W = 11, CIN = 3, COUT = 32 };
    float in[H * W * CIN], filter[9 * CIN * COUT], bias[COUT];
    float one_filter[9 * CIN], wide[H * W * COUT], narrow[H * W];
    for (int i = 0; i < H * W * CIN; i++)
        in[i] = (float)((i * 37) % 23) / 7.0f - 1.5f;
    for (int i = 0; i < 9 * CIN * COUT; i++)
        filter[i] = (float)((i * 11) % 17) / 9.0f - 0.9f;
    for (int i = 0; i < COUT; i++)
        bias[i] = (float)i / 10.0f;
    for (int stride = 1; stride <= 2; stride++) {
        et_nn_pad py = et_nn_same_padding(H, 3, stride), px = et_nn_same_padding(W, 3, stride);
        et_nn_conv_geom g = et_nn_geom(H, W, stride, py, px);
        k->conv3x3(in, &g, CIN, filter, bias, COUT, wide);
        for (int co = 0; co < COUT; co++) {
            for (int t = 0; t < 9 * CIN; t++)
                one_filter[t] = filter[t * COUT + co];
            k->conv3x3(in, &g, CIN, one_filter, &bias[co], 1, narrow);
            for (int p = 0; p < g.oh * g.ow; p++)
                assert_float_equal(wide[p * COUT + co], narrow[p], 1e-5);
        }
    }
}

KERNEL_TEST(depthwise_keeps_channels_apart)
{
    /* 2x2 image, 2 channels: channel 0 = 1,2,3,4; channel 1 = 10,20,30,40.
     * Filter for channel 0: only the centre tap = 1 (identity); channel 1:
     * only tap (ky=1,kx=2) = 1, i.e. out(y,x) = in(y,x+1), 0 past the edge. */
    float in[8] = {1, 10, 2, 20, 3, 30, 4, 40}, filter[18] = {0}, out[8];
    filter[(1 * 3 + 1) * 2 + 0] = 1;
    filter[(1 * 3 + 2) * 2 + 1] = 1;
    et_nn_pad one = {1, 1};
    et_nn_conv_geom g = et_nn_geom(2, 2, 1, one, one);
    k->depthwise3x3(in, &g, 2, filter, out);
    const float want[8] = {1, 20, 2, 0, 3, 40, 4, 0};
    for (int i = 0; i < 8; i++)
        assert_float_equal(out[i], want[i], 1e-6);
}

KERNEL_TEST(depthwise_vector_width_does_not_matter)
{
    /* 37 channels (not a multiple of any vector width): each channel c scaled
     * by its centre tap (c+1); result = in * (c+1). */
    enum { C = 37 };
    float in[3 * 3 * C], filter[9 * C] = {0}, out[3 * 3 * C];
    for (int i = 0; i < 9 * C; i++)
        in[i] = (float)(i % 11) - 5;
    for (int c = 0; c < C; c++)
        filter[4 * C + c] = (float)(c + 1);
    et_nn_pad one = {1, 1};
    et_nn_conv_geom g = et_nn_geom(3, 3, 1, one, one);
    k->depthwise3x3(in, &g, C, filter, out);
    for (int i = 0; i < 9 * C; i++)
        assert_float_equal(out[i], in[i] * (float)(i % C + 1), 1e-5);
}

/* ---- the kernel tables against each other ---------------------------- */

/* Deterministic values in [-1, 1) (a fixed linear congruential sequence:
 * the same numbers on every machine). */
static void fill_pseudo_random(float *x, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)(seed >> 8) / 8388608.0f - 1.0f;
    }
}

typedef struct kernel_shape {
    int depthwise, h, w, stride, cin, cout;
} kernel_shape;

/* The networks' layer shapes, shrunk, with odd sizes and stride 2, channel
 * counts that are and are not multiples of the vector widths, and one
 * wider than the depthwise zero row (the bounded path). */
static const kernel_shape agreement_shapes[] = {
    {0, 37, 41, 1, 3, 16}, {0, 29, 29, 2, 3, 32}, {0, 13, 11, 1, 5, 24}, {0, 9, 9, 2, 3, 7},
    {1, 31, 31, 1, 16, 16}, {1, 17, 19, 2, 64, 64}, {1, 9, 9, 1, 512, 512},
    {1, 7, 5, 1, 37, 37},  {1, 5, 5, 2, 1030, 1030},
};

/* Runs one shape with k into out (sized for it). */
static void run_shape(const et_nn_kernels *k, const kernel_shape *sh, const float *in,
                      const float *filter, const float *bias, float *out, int *n_out)
{
    et_nn_pad py = et_nn_same_padding(sh->h, 3, sh->stride);
    et_nn_pad px = et_nn_same_padding(sh->w, 3, sh->stride);
    et_nn_conv_geom g = et_nn_geom(sh->h, sh->w, sh->stride, py, px);
    if (sh->depthwise)
        k->depthwise3x3(in, &g, sh->cin, filter, out);
    else
        k->conv3x3(in, &g, sh->cin, filter, bias, sh->cout, out);
    *n_out = g.oh * g.ow * sh->cout;
}

/* The largest |a - b| / (1 + |b|) over n values. */
static double max_rel_diff(const float *a, const float *b, int n)
{
    double worst = 0;
    for (int i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]) / (1.0 + fabs((double)b[i]));
        worst = d > worst ? d : worst;
    }
    return worst;
}

/* Compares every available table with the generic one on each shape;
 * bitwise says whether fused tables must also agree exactly with `exact`. */
static void compare_tables(const et_nn_kernels *k, const et_nn_kernels *ref, double tol)
{
    for (size_t i = 0; i < sizeof agreement_shapes / sizeof *agreement_shapes; i++) {
        const kernel_shape *sh = &agreement_shapes[i];
        size_t n_in = (size_t)sh->h * sh->w * sh->cin;
        size_t n_f = (size_t)9 * sh->cin * (sh->depthwise ? 1 : sh->cout);
        size_t n_o = (size_t)sh->h * sh->w * sh->cout;
        float *in = malloc(n_in * sizeof *in), *filter = malloc(n_f * sizeof *filter);
        float *bias = malloc((size_t)sh->cout * sizeof *bias);
        float *a = malloc(n_o * sizeof *a), *b = malloc(n_o * sizeof *b);
        assert_non_null(in && filter && bias && a && b);
        fill_pseudo_random(in, n_in, 1u + (uint32_t)i);
        fill_pseudo_random(filter, n_f, 101u + (uint32_t)i);
        fill_pseudo_random(bias, (size_t)sh->cout, 202u + (uint32_t)i);
        int na, nb;
        run_shape(k, sh, in, filter, bias, a, &na);
        run_shape(ref, sh, in, filter, bias, b, &nb);
        assert_int_equal(na, nb);
        double d = max_rel_diff(a, b, na);
        if (tol == 0 ? memcmp(a, b, (size_t)na * sizeof *a) != 0 : d > tol)
            fail_msg("%s against %s, %s %dx%d stride %d %d->%d channels: differ by %g "
                     "(allowed %g)", et_nn_isa_name(k->isa), et_nn_isa_name(ref->isa),
                     sh->depthwise ? "depthwise" : "conv3x3", sh->h, sh->w, sh->stride,
                     sh->cin, sh->cout, d, tol);
        free(in);
        free(filter);
        free(bias);
        free(a);
        free(b);
    }
}

/* nn.h promises: generic differs from the fused tables by rounding only
 * (bounded at 1e-5 relative); the tables match bit for bit with themselves
 * run again (determinism). */
KERNEL_TEST(every_kernel_table_agrees_with_generic)
{
    const et_nn_kernels *generic = et_nn_kernels_for(ET_NN_ISA_GENERIC);
    assert_non_null(generic);
    compare_tables(k, generic, 1e-5);
    compare_tables(k, k, 0);
}

/* avx2 and avx512 sum in the same order with the same fused operations, so
 * nn.h promises they agree exactly; needs a CPU with both. */
static void fused_tables_agree_bit_for_bit(void **state)
{
    (void)state;
    const et_nn_kernels *avx2 = et_nn_kernels_for(ET_NN_ISA_AVX2);
    const et_nn_kernels *avx512 = et_nn_kernels_for(ET_NN_ISA_AVX512);
    if (!avx2 || !avx512) {
        print_message("  this CPU lacks %s: avx2 against avx512 not compared\n",
                      avx2 ? "avx512" : "avx2");
        skip();
    }
    compare_tables(avx512, avx2, 0);
}

/* Whether /proc/cpuinfo's first "flags" line lists every flag in `want`
 * (space separated); -1 when there is no such file (not Linux x86). */
static int cpuinfo_has(const char *want)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return -1;
    char line[8192];
    int found = -1;
    while (found < 0 && fgets(line, sizeof line, f))
        if (!strncmp(line, "flags", 5)) {
            found = 1;
            char copy[256];
            snprintf(copy, sizeof copy, "%s", want);
            for (char *w = strtok(copy, " "); w; w = strtok(NULL, " ")) {
                char pat[64];
                snprintf(pat, sizeof pat, " %s", w);
                char *hit = strstr(line, pat);
                if (!hit || (hit[strlen(pat)] != ' ' && hit[strlen(pat)] != '\n'))
                    found = 0;
            }
        }
    fclose(f);
    return found;
}

/* What the CPU has, as the kernel reports it in /proc/cpuinfo (a source
 * independent of the detection code), decides which tables are offered; a
 * table the CPU lacks is refused with a message, never handed out. */
static void kernels_follow_the_cpu_and_refuse_what_it_lacks(void **state)
{
    (void)state;
    const char *flags[ET_NN_ISA_COUNT] = {NULL, "avx2 fma", "avx512f avx2 fma"};
    assert_true(et_nn_isa_available(ET_NN_ISA_GENERIC));
    for (int isa = 1; isa < ET_NN_ISA_COUNT; isa++) {
        int has = strcmp(et_nn_build_arch(), "x86_64") ? 0 : cpuinfo_has(flags[isa]);
        if (has < 0) {
            print_message("  no /proc/cpuinfo: %s not cross-checked\n",
                          et_nn_isa_name((et_nn_isa)isa));
            continue;
        }
        assert_int_equal(et_nn_isa_available((et_nn_isa)isa), has);
        const et_nn_kernels *k = NULL;
        char err[ET_ERR_MAX] = "";
        et_status st = et_nn_kernels_choose(et_nn_isa_name((et_nn_isa)isa), &k, err);
        if (has) {
            assert_int_equal(st, ET_OK);
            assert_int_equal(k->isa, isa);
        } else {
            assert_int_equal(st, ET_E_UNSUPPORTED);
            assert_non_null(strstr(err, "cannot run"));
        }
    }
    const et_nn_kernels *k;
    char err[ET_ERR_MAX];
    assert_int_equal(et_nn_kernels_choose("sse9", &k, err), ET_E_INVALID);
    assert_int_equal(et_nn_kernels_choose("auto", &k, err), ET_OK);
    assert_int_equal(k->isa, et_nn_isa_best());
    assert_int_equal(et_nn_kernels_choose(NULL, &k, err), ET_OK);
    assert_int_equal(k->isa, et_nn_isa_best());
    /* The best is the widest available. */
    for (int isa = et_nn_isa_best() + 1; isa < ET_NN_ISA_COUNT; isa++)
        assert_false(et_nn_isa_available((et_nn_isa)isa));
}

static void pointwise_is_a_matrix_product_plus_bias(void **state)
{
    (void)state;
    /* Two pixels [1,2] and [3,4] times W = [[1,2,3],[4,5,6]] plus [1,1,1]:
     * [9,12,15]+1 and [19,26,33]+1. */
    float in[4] = {1, 2, 3, 4}, w[6] = {1, 2, 3, 4, 5, 6}, b[3] = {1, 1, 1}, out[6];
    et_nn_pointwise(in, 2, 2, w, b, 3, out);
    const float want[6] = {10, 13, 16, 20, 27, 34};
    for (int i = 0; i < 6; i++)
        assert_float_equal(out[i], want[i], 1e-5);
    et_nn_pointwise(in, 2, 2, w, NULL, 3, out);
    assert_float_equal(out[0], 9, 1e-5);
}

static void maxpool_stride1_same_ignores_padding(void **state)
{
    (void)state;
    /* 2x2, one channel, all negative: padding must not win with a 0. */
    float in[4] = {-4, -3, -2, -1}, out[4];
    et_nn_maxpool2x2(in, 2, 2, 1, 1, out);
    /* (0,0): max(-4,-3,-2,-1) = -1; (0,1): max(-3,-1) = -1; (1,0): max(-2,-1);
     * (1,1): -1 alone. */
    for (int i = 0; i < 4; i++)
        assert_float_equal(out[i], -1, 0);
    float in2[16] = {1, 5, 2, 0, 3, 4, 8, 1, 0, 0, 1, 1, 9, 0, 1, 7}, out2[4];
    et_nn_maxpool2x2(in2, 4, 4, 1, 2, out2);
    assert_float_equal(out2[0], 5, 0);
    assert_float_equal(out2[1], 8, 0);
    assert_float_equal(out2[2], 9, 0);
    assert_float_equal(out2[3], 7, 0);
}

static void activations_and_softmax(void **state)
{
    (void)state;
    float x[4] = {-10, -0.5f, 0, 5};
    et_nn_leaky(x, 4);
    assert_float_equal(x[0], -1, 1e-6);
    assert_float_equal(x[1], -0.05, 1e-7);
    assert_float_equal(x[2], 0, 0);
    assert_float_equal(x[3], 5, 1e-6);
    float r[3] = {-1, 0, 2};
    et_nn_relu(r, 3);
    assert_float_equal(r[0], 0, 0);
    assert_float_equal(r[2], 2, 0);
    /* softmax(0, ln 2, ln 3) = (1, 2, 3) / 6; shifted by 10. */
    float s[3] = {10, 10 + logf(2), 10 + logf(3)};
    et_nn_softmax(s, 3);
    assert_float_equal(s[0], 1.0 / 6, 1e-6);
    assert_float_equal(s[1], 2.0 / 6, 1e-6);
    assert_float_equal(s[2], 3.0 / 6, 1e-6);
    float avg_in[8] = {1, 10, 2, 20, 3, 30, 6, 40}, avg[2];
    et_nn_global_avgpool(avg_in, 2, 2, 2, avg);
    assert_float_equal(avg[0], 3, 1e-6);
    assert_float_equal(avg[1], 25, 1e-6);
    float d_in[2] = {1, 2}, d_w[4] = {1, 2, 3, 4}, d_b[2] = {0.5f, -0.5f}, d_out[2];
    et_nn_dense(d_in, 2, d_w, d_b, 2, d_out);
    assert_float_equal(d_out[0], 7.5, 1e-6);
    assert_float_equal(d_out[1], 9.5, 1e-6);
}

/* ---- weights ---- */

static const char manifest_ok[] =
    "[{\"paths\":[\"x.bin\"],\"weights\":["
    "{\"name\":\"a\",\"shape\":[2],\"dtype\":\"float32\","
    "\"quantization\":{\"dtype\":\"uint8\",\"scale\":0.5,\"min\":-1}},"
    "{\"name\":\"b\",\"shape\":[1,1],\"dtype\":\"float32\"}]}]";

static void weights_dequantise_uint8_and_read_float32(void **state)
{
    (void)state;
    uint8_t bin[6] = {0, 255};
    float f = 3.25f;
    memcpy(bin + 2, &f, 4);
    et_nn_weights *w;
    char err[ET_ERR_MAX];
    assert_int_equal(et_nn_weights_parse("t", manifest_ok, strlen(manifest_ok), bin, 6, &w, err),
                     ET_OK);
    assert_int_equal(et_nn_weights_count(w), 2);
    const et_nn_tensor *a;
    assert_int_equal(et_nn_weights_expect(w, "a", 1, (int[]){2}, &a, err), ET_OK);
    assert_float_equal(a->data[0], -1.0, 0);        /* 0 * 0.5 - 1 */
    assert_float_equal(a->data[1], 126.5, 0);       /* 255 * 0.5 - 1 */
    const et_nn_tensor *b;
    assert_int_equal(et_nn_weights_expect(w, "b", 2, (int[]){1, 1}, &b, err), ET_OK);
    assert_float_equal(b->data[0], 3.25, 0);
    assert_int_equal(et_nn_weights_expect(w, "b", 1, (int[]){1}, &b, err), ET_E_MODEL);
    assert_non_null(strstr(err, "shape [1,1], expected [1]"));
    assert_int_equal(et_nn_weights_expect(w, "zz", 1, (int[]){1}, &b, err), ET_E_MODEL);
    assert_non_null(strstr(err, "zz is missing"));
    et_nn_weights_free(w);
}

static void weights_refuse_sizes_that_do_not_add_up(void **state)
{
    (void)state;
    uint8_t bin[8] = {0};
    et_nn_weights *w = (void *)1;
    char err[ET_ERR_MAX];
    /* one byte short: tensor b would read past the end */
    assert_int_equal(et_nn_weights_parse("t", manifest_ok, strlen(manifest_ok), bin, 5, &w, err),
                     ET_E_MODEL);
    assert_null(w);
    assert_non_null(strstr(err, "tensor b needs 4 bytes"));
    /* two bytes too many */
    assert_int_equal(et_nn_weights_parse("t", manifest_ok, strlen(manifest_ok), bin, 8, &w, err),
                     ET_E_MODEL);
    assert_non_null(strstr(err, "the tensors take 6 bytes but the weight data has 8"));
}

static void weights_refuse_bad_manifests(void **state)
{
    (void)state;
    static const char *bad[] = {
        "", "{}", "[{\"weights\":3}]", "[{\"paths\":[],\"weights\":[{\"name\":\"a\"}]}]",
        "[{\"paths\":[],\"weights\":[{\"name\":\"a\",\"shape\":[0],\"dtype\":\"float32\"}]}]",
        "[{\"paths\":[],\"weights\":[{\"name\":\"a\",\"shape\":[-3],\"dtype\":\"float32\"}]}]",
        "[{\"paths\":[],\"weights\":[{\"name\":\"a\",\"shape\":[1],\"dtype\":\"int32\"}]}]",
        "[{\"paths\":[],\"weights\":[{\"name\":\"a\",\"shape\":[1048576,1048576],\"dtype\":\"float32\"}]}]",
        "[{\"paths\":[],\"weights\":[{\"name\":\"a\",\"shape\":[1],\"dtype\":\"float32\","
        "\"quantization\":{\"dtype\":\"uint4\",\"scale\":1,\"min\":0}}]}]",
        "[{\"paths\":[],\"weights\":[{\"name\":\"a\",\"shape\":[1,1,1,1,1],\"dtype\":\"float32\"}]}]",
    };
    uint8_t bin[4] = {0};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        et_nn_weights *w = (void *)1;
        char err[ET_ERR_MAX] = "";
        assert_int_equal(et_nn_weights_parse("m", bad[i], strlen(bad[i]), bin, 4, &w, err),
                         ET_E_MODEL);
        assert_null(w);
        assert_true(strlen(err) > 3);
    }
}

static void copy_file(const char *from, const char *to, long truncate_at)
{
    uint8_t *d;
    size_t n;
    assert_int_equal(et_read_file(from, 1 << 26, &d, &n, NULL), ET_OK);
    ts_write_file(to, d, truncate_at >= 0 && (size_t)truncate_at < n ? (size_t)truncate_at : n);
    free(d);
}

static void model_loader_names_the_missing_or_corrupt_file(void **state)
{
    (void)state;
    const char *m = ts_models_dir();
    char src[1024], dst[1024];
    snprintf(src, sizeof src, "%s/tiny_face_detector_model-weights_manifest.json", m);
    FILE *probe = fopen(src, "rb");
    if (!probe)
        TS_SKIP("models not built in %s", m);
    fclose(probe);
    char *dir = ts_tempdir();
    char err[ET_ERR_MAX];
    et_nn_weights *w;
    snprintf(dst, sizeof dst, "%s/tiny_face_detector_model-weights_manifest.json", dir);
    copy_file(src, dst, -1);
    /* manifest present, .bin missing */
    assert_int_equal(et_nn_weights_load(dst, &w, err), ET_E_MODEL);
    assert_non_null(strstr(err, "tiny_face_detector_model.bin"));
    /* .bin truncated by 100 bytes */
    snprintf(src, sizeof src, "%s/tiny_face_detector_model.bin", m);
    char bin[1024];
    snprintf(bin, sizeof bin, "%s/tiny_face_detector_model.bin", dir);
    copy_file(src, bin, 193321 - 100);
    assert_int_equal(et_nn_weights_load(dst, &w, err), ET_E_MODEL);
    assert_non_null(strstr(err, "tiny_face_detector_model-weights_manifest.json"));
    /* the whole file loads: 19 tensors (face-api 1.7.15 manifest) */
    copy_file(src, bin, -1);
    assert_int_equal(et_nn_weights_load(dst, &w, err), ET_OK);
    assert_int_equal(et_nn_weights_count(w), 19);
    et_nn_weights_free(w);
    ts_rmtree(dir);
    free(dir);
}

int main(void)
{
    et_nn_set_blas_threads(1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_padding_matches_tensorflow),
        cmocka_unit_test(conv3x3_sums_neighbourhoods_with_zero_padding),
        cmocka_unit_test(conv3x3_orders_filter_as_hwio),
        cmocka_unit_test(conv3x3_stride2_same_pads_after),
        cmocka_unit_test(conv3x3_wide_paths_equal_one_channel_at_a_time),
        cmocka_unit_test(depthwise_keeps_channels_apart),
        cmocka_unit_test(depthwise_vector_width_does_not_matter),
        cmocka_unit_test(every_kernel_table_agrees_with_generic),
        cmocka_unit_test(fused_tables_agree_bit_for_bit),
        cmocka_unit_test(kernels_follow_the_cpu_and_refuse_what_it_lacks),
        cmocka_unit_test(pointwise_is_a_matrix_product_plus_bias),
        cmocka_unit_test(maxpool_stride1_same_ignores_padding),
        cmocka_unit_test(activations_and_softmax),
        cmocka_unit_test(weights_dequantise_uint8_and_read_float32),
        cmocka_unit_test(weights_refuse_sizes_that_do_not_add_up),
        cmocka_unit_test(weights_refuse_bad_manifests),
        cmocka_unit_test(model_loader_names_the_missing_or_corrupt_file),
    };
    return cmocka_run_group_tests_name("nn", tests, NULL, NULL);
}
