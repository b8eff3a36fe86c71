/*
 * Private to src/nn: the body of the hand-vectorised kernels (direct 3x3
 * convolution, depthwise 3x3 convolution), written once and compiled once per
 * instruction set by kernels_generic.c, kernels_avx2.c and kernels_avx512.c,
 * each with its own compiler flags (the way FFmpeg and OpenBLAS build one
 * object per CPU and pick at run time).
 *
 * Before including, a file defines:
 *   ET__KV          floats per accumulator vector (channels computed at once)
 *   ET__KTABLE      name of the et_nn_kernels table to define
 *   ET__KISA        its et_nn_isa value
 *
 * Summation order: every output channel sums bias, then taps in (ky, kx, ci)
 * order, whatever the vector width; so two builds with the same contraction
 * setting (-ffp-contract) give bit-identical results, and builds that fuse
 * multiply-adds (the AVX2 and AVX-512 ones) differ from the generic one only
 * by the rounding of the fused products.
 */
#include <string.h>

#include "nn/nn_internal.h"

/* ET__KV floats: the accumulator of ET__KV output channels, kept in registers
 * (a GCC/Clang vector extension; plain loops over a local array were compiled
 * to scalars). Only ever a local: a function taking or returning one would
 * change the ABI between CPUs. */
typedef float kvec __attribute__((vector_size(ET__KV * sizeof(float))));
#define KVEC_LOAD(dst, p) memcpy(&(dst), (p), sizeof(kvec))
#define KVEC_STORE(p, src) memcpy((p), &(src), sizeof(kvec))

/* Output channels [co0, co0+KV) of one pixel of the full 3x3 convolution. */
static inline void conv3x3_pixel_vec(const float *in, const et_nn_conv_geom *g, int cin,
                                     const float *filter, const float *bias, int cout, int co0,
                                     int oy, int ox, float *o)
{
    kvec acc = {0};
    if (bias)
        KVEC_LOAD(acc, bias + co0);
    for (int ky = 0; ky < 3; ky++) {
        int iy = oy * g->stride + ky - g->py.before;
        if (iy < 0 || iy >= g->h)
            continue;
        for (int kx = 0; kx < 3; kx++) {
            int ix = ox * g->stride + kx - g->px.before;
            if (ix < 0 || ix >= g->w)
                continue;
            const float *x = in + ((size_t)iy * g->w + ix) * cin;
            const float *f = filter + (size_t)(ky * 3 + kx) * cin * cout + co0;
            for (int ci = 0; ci < cin; ci++, f += cout) {
                kvec fv;
                KVEC_LOAD(fv, f);
                acc += x[ci] * fv;
            }
        }
    }
    KVEC_STORE(o + co0, acc);
}

/* Any channel count: accumulates in the output itself. */
static void conv3x3_pixel_any(const float *in, const et_nn_conv_geom *g, int cin,
                              const float *filter, const float *bias, int cout, int oy, int ox,
                              float *o)
{
    for (int co = 0; co < cout; co++)
        o[co] = bias ? bias[co] : 0.0f;
    for (int ky = 0; ky < 3; ky++) {
        int iy = oy * g->stride + ky - g->py.before;
        for (int kx = 0; kx < 3; kx++) {
            int ix = ox * g->stride + kx - g->px.before;
            if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
                continue;
            const float *x = in + ((size_t)iy * g->w + ix) * cin;
            const float *f = filter + (size_t)(ky * 3 + kx) * cin * cout;
            for (int ci = 0; ci < cin; ci++, f += cout)
                for (int co = 0; co < cout; co++)
                    o[co] += x[ci] * f[co];
        }
    }
}

/* Four horizontally adjacent output pixels (ox .. ox+3), channels [co0,
 * co0+KV), whose windows all lie inside the image horizontally. Four
 * independent accumulators hide the latency of the additions, while each
 * pixel still sums its terms in the same order as conv3x3_pixel_vec. */
static inline void conv3x3_quad_vec(const float *in, const et_nn_conv_geom *g, int cin,
                                    const float *filter, const float *bias, int cout, int co0,
                                    int oy, int ox, float *out)
{
    kvec b = {0};
    if (bias)
        KVEC_LOAD(b, bias + co0);
    kvec a0 = b, a1 = b, a2 = b, a3 = b;
    size_t step = (size_t)g->stride * cin;
    for (int ky = 0; ky < 3; ky++) {
        int iy = oy * g->stride + ky - g->py.before;
        if (iy < 0 || iy >= g->h)
            continue;
        for (int kx = 0; kx < 3; kx++) {
            int ix = ox * g->stride + kx - g->px.before;
            const float *x0 = in + ((size_t)iy * g->w + ix) * cin, *x1 = x0 + step,
                        *x2 = x1 + step, *x3 = x2 + step;
            const float *f = filter + (size_t)(ky * 3 + kx) * cin * cout + co0;
            for (int ci = 0; ci < cin; ci++, f += cout) {
                kvec fv;
                KVEC_LOAD(fv, f);
                a0 += x0[ci] * fv;
                a1 += x1[ci] * fv;
                a2 += x2[ci] * fv;
                a3 += x3[ci] * fv;
            }
        }
    }
    float *o = out + ((size_t)oy * g->ow + ox) * cout + co0;
    KVEC_STORE(o, a0);
    KVEC_STORE(o + cout, a1);
    KVEC_STORE(o + 2 * (size_t)cout, a2);
    KVEC_STORE(o + 3 * (size_t)cout, a3);
}

/* Whether output columns ox .. ox+3 read only columns inside the image. */
static int quad_inside(const et_nn_conv_geom *g, int ox)
{
    return ox + 3 < g->ow && ox * g->stride - g->px.before >= 0 &&
           (ox + 3) * g->stride + 2 - g->px.before < g->w;
}

static void conv3x3(const float *in, const et_nn_conv_geom *g, int cin, const float *filter,
                    const float *bias, int cout, float *out)
{
    /* Direct: with 3 input channels an unfolded matrix product would spend
     * more time copying than multiplying. Channels go KV at a time when the
     * count allows (the networks' 16 and 32), pixels 4 at a time inside. */
    for (int oy = 0; oy < g->oh; oy++) {
        for (int ox = 0; ox < g->ow;) {
            float *o = out + ((size_t)oy * g->ow + ox) * cout;
            if (cout % ET__KV != 0) {
                conv3x3_pixel_any(in, g, cin, filter, bias, cout, oy, ox, o);
                ox++;
            } else if (quad_inside(g, ox)) {
                for (int co0 = 0; co0 < cout; co0 += ET__KV)
                    conv3x3_quad_vec(in, g, cin, filter, bias, cout, co0, oy, ox, out);
                ox += 4;
            } else {
                for (int co0 = 0; co0 < cout; co0 += ET__KV)
                    conv3x3_pixel_vec(in, g, cin, filter, bias, cout, co0, oy, ox, o);
                ox++;
            }
        }
    }
}

/* out[ch] = sum over the 9 taps of tap[ch] * f[ch], one pass over c: the
 * inner loop of the depthwise convolution, written so the compiler
 * vectorises it for the instruction set of this file. */
static void depthwise_pixel(float *restrict o, const float *const taps[9],
                            const float *restrict f, int c)
{
    const float *t0 = taps[0], *t1 = taps[1], *t2 = taps[2], *t3 = taps[3], *t4 = taps[4],
                *t5 = taps[5], *t6 = taps[6], *t7 = taps[7], *t8 = taps[8];
    for (int ch = 0; ch < c; ch++)
        o[ch] = t0[ch] * f[ch] + t1[ch] * f[c + ch] + t2[ch] * f[2 * c + ch] +
                t3[ch] * f[3 * c + ch] + t4[ch] * f[4 * c + ch] + t5[ch] * f[5 * c + ch] +
                t6[ch] * f[6 * c + ch] + t7[ch] * f[7 * c + ch] + t8[ch] * f[8 * c + ch];
}

static void depthwise3x3(const float *in, const et_nn_conv_geom *g, int c, const float *filter,
                         float *out)
{
    /* Padded taps read a row of zeros; wider tensors than it take the
     * bounded path (emotune's networks stay far below). */
    if (c > ET__NN_ZEROS_MAX) {
        et__nn_depthwise3x3_bounded(in, g, c, filter, out);
        return;
    }
    for (int oy = 0; oy < g->oh; oy++) {
        for (int ox = 0; ox < g->ow; ox++) {
            const float *taps[9];
            et__nn_window(in, g, c, oy, ox, taps);
            depthwise_pixel(out + ((size_t)oy * g->ow + ox) * c, taps, filter, c);
        }
    }
}

const et_nn_kernels ET__KTABLE = {
    .isa = ET__KISA,
    .conv3x3 = conv3x3,
    .depthwise3x3 = depthwise3x3,
};
