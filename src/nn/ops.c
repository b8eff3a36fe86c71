/* Tensor operations, NHWC with batch 1. Semantics follow TensorFlow (and so
 * tfjs): 'same' padding splits the total with the smaller half first; padded
 * cells are zeros for convolutions and never win a max pool. */
#include "nn/nn.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

et_nn_pad et_nn_same_padding(int in, int k, int stride)
{
    int out = (in + stride - 1) / stride;
    int total = (out - 1) * stride + k - in;
    if (total < 0)
        total = 0;
    return (et_nn_pad){total / 2, total - total / 2};
}

int et_nn_out_size(int in, int k, int stride, et_nn_pad pad)
{
    return (in + pad.before + pad.after - k) / stride + 1;
}

et_nn_conv_geom et_nn_geom(int h, int w, int stride, et_nn_pad py, et_nn_pad px)
{
    return (et_nn_conv_geom){
        .h = h, .w = w, .stride = stride, .py = py, .px = px,
        .oh = et_nn_out_size(h, 3, stride, py),
        .ow = et_nn_out_size(w, 3, stride, px),
    };
}

/* Pointers to the 9 input pixels of a 3x3 window (ky, kx order), with rows
 * and columns outside the image pointing at `zeros` (the zero padding). */
static void window(const float *in, const et_nn_conv_geom *g, int c, int oy, int ox,
                   const float *zeros, const float *taps[9])
{
    for (int ky = 0; ky < 3; ky++) {
        int iy = oy * g->stride + ky - g->py.before;
        for (int kx = 0; kx < 3; kx++) {
            int ix = ox * g->stride + kx - g->px.before;
            int inside = iy >= 0 && iy < g->h && ix >= 0 && ix < g->w;
            taps[ky * 3 + kx] = inside ? in + ((size_t)iy * g->w + ix) * c : zeros;
        }
    }
}

/* Zeros for padded taps: the widest activation of emotune's networks has 512
 * channels; wider tensors take the slower bounded path below. */
#define ZEROS_MAX 1024
static const float zeros[ZEROS_MAX];

/* 16 floats, one AVX-512 register (two AVX ones): the accumulator of 16
 * output channels of the direct convolution, kept in registers rather than
 * memory (a GCC/Clang vector extension; plain loops over a local array were
 * compiled to scalars). */
typedef float v16f __attribute__((vector_size(64)));
#define V16 16

/* A macro, not a function: returning a 64-byte vector from a function
 * changes the ABI between CPUs with and without AVX-512. */
#define V16_LOAD(dst, p) memcpy(&(dst), (p), sizeof(v16f))

/* Output channels [co0, co0+16) of one pixel of the full 3x3 convolution. */
static inline void conv3x3_pixel16(const float *in, const et_nn_conv_geom *g, int cin,
                                   const float *filter, const float *bias, int cout, int co0,
                                   int oy, int ox, float *o)
{
    v16f acc = {0};
    if (bias)
        V16_LOAD(acc, bias + co0);
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
            for (int ci = 0; ci < cin; ci++, f += cout)
            {
                v16f fv;
                V16_LOAD(fv, f);
                acc += x[ci] * fv;
            }
        }
    }
    memcpy(o + co0, &acc, sizeof acc);
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
 * co0+16), whose windows all lie inside the image horizontally. Four
 * independent accumulators hide the latency of the additions, while each
 * pixel still sums its terms in the same order as conv3x3_pixel16. */
static inline void conv3x3_quad16(const float *in, const et_nn_conv_geom *g, int cin,
                                  const float *filter, const float *bias, int cout, int co0,
                                  int oy, int ox, float *out)
{
    v16f b = {0};
    if (bias)
        V16_LOAD(b, bias + co0);
    v16f a0 = b, a1 = b, a2 = b, a3 = b;
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
                v16f fv;
                V16_LOAD(fv, f);
                a0 += x0[ci] * fv;
                a1 += x1[ci] * fv;
                a2 += x2[ci] * fv;
                a3 += x3[ci] * fv;
            }
        }
    }
    float *o = out + ((size_t)oy * g->ow + ox) * cout + co0;
    memcpy(o, &a0, sizeof a0);
    memcpy(o + cout, &a1, sizeof a1);
    memcpy(o + 2 * (size_t)cout, &a2, sizeof a2);
    memcpy(o + 3 * (size_t)cout, &a3, sizeof a3);
}

/* Whether output columns ox .. ox+3 read only columns inside the image. */
static int quad_inside(const et_nn_conv_geom *g, int ox)
{
    return ox + 3 < g->ow && ox * g->stride - g->px.before >= 0 &&
           (ox + 3) * g->stride + 2 - g->px.before < g->w;
}

void et_nn_conv3x3(const float *in, const et_nn_conv_geom *g, int cin, const float *filter,
                   const float *bias, int cout, float *out)
{
    /* Direct: with 3 input channels an unfolded matrix product would spend
     * more time copying than multiplying. Channels go 16 at a time when the
     * count allows (the networks' 16 and 32), pixels 4 at a time inside. */
    for (int oy = 0; oy < g->oh; oy++) {
        for (int ox = 0; ox < g->ow;) {
            float *o = out + ((size_t)oy * g->ow + ox) * cout;
            if (cout % V16 != 0) {
                conv3x3_pixel_any(in, g, cin, filter, bias, cout, oy, ox, o);
                ox++;
            } else if (quad_inside(g, ox)) {
                for (int co0 = 0; co0 < cout; co0 += V16)
                    conv3x3_quad16(in, g, cin, filter, bias, cout, co0, oy, ox, out);
                ox += 4;
            } else {
                for (int co0 = 0; co0 < cout; co0 += V16)
                    conv3x3_pixel16(in, g, cin, filter, bias, cout, co0, oy, ox, o);
                ox++;
            }
        }
    }
}

/* out[ch] = sum over the 9 taps of tap[ch] * f[ch], one pass over c: the
 * inner loop of the depthwise convolution, written so the compiler
 * vectorises it. */
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

/* The same for channel counts wider than the zero row. */
static void depthwise_pixel_bounded(float *o, const float *in, const et_nn_conv_geom *g, int c,
                                    int oy, int ox, const float *filter)
{
    memset(o, 0, (size_t)c * sizeof *o);
    for (int ky = 0; ky < 3; ky++) {
        int iy = oy * g->stride + ky - g->py.before;
        for (int kx = 0; kx < 3; kx++) {
            int ix = ox * g->stride + kx - g->px.before;
            if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
                continue;
            const float *x = in + ((size_t)iy * g->w + ix) * c;
            const float *f = filter + (ky * 3 + kx) * c;
            for (int ch = 0; ch < c; ch++)
                o[ch] += x[ch] * f[ch];
        }
    }
}

void et_nn_depthwise3x3(const float *in, const et_nn_conv_geom *g, int c, const float *filter,
                        float *out)
{
    for (int oy = 0; oy < g->oh; oy++) {
        for (int ox = 0; ox < g->ow; ox++) {
            float *o = out + ((size_t)oy * g->ow + ox) * c;
            if (c > ZEROS_MAX) {
                depthwise_pixel_bounded(o, in, g, c, oy, ox, filter);
                continue;
            }
            const float *taps[9];
            window(in, g, c, oy, ox, zeros, taps);
            depthwise_pixel(o, taps, filter, c);
        }
    }
}

void et_nn_pointwise(const float *in, int n, int cin, const float *weights, const float *bias,
                     int cout, float *out)
{
    float beta = 0.0f;
    if (bias) {
        for (int i = 0; i < n; i++)
            memcpy(out + (size_t)i * cout, bias, (size_t)cout * sizeof *out);
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, cout, cin, 1.0f, in, cin, weights,
                cout, beta, out, cout);
}

void et_nn_maxpool2x2(const float *in, int h, int w, int c, int stride, float *out)
{
    et_nn_pad py = et_nn_same_padding(h, 2, stride), px = et_nn_same_padding(w, 2, stride);
    int oh = et_nn_out_size(h, 2, stride, py), ow = et_nn_out_size(w, 2, stride, px);
    for (int oy = 0; oy < oh; oy++) {
        for (int ox = 0; ox < ow; ox++) {
            float *o = out + ((size_t)oy * ow + ox) * c;
            int first = 1;
            for (int ky = 0; ky < 2; ky++) {
                int iy = oy * stride + ky - py.before;
                for (int kx = 0; kx < 2; kx++) {
                    int ix = ox * stride + kx - px.before;
                    if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                        continue;
                    const float *p = in + ((size_t)iy * w + ix) * c;
                    if (first)
                        memcpy(o, p, (size_t)c * sizeof *o);
                    else
                        for (int ch = 0; ch < c; ch++)
                            o[ch] = p[ch] > o[ch] ? p[ch] : o[ch];
                    first = 0;
                }
            }
        }
    }
}

void et_nn_global_avgpool(const float *in, int h, int w, int c, float *out)
{
    memset(out, 0, (size_t)c * sizeof *out);
    size_t n = (size_t)h * w;
    for (size_t i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++)
            out[ch] += in[i * c + ch];
    for (int ch = 0; ch < c; ch++)
        out[ch] /= (float)n;
}

void et_nn_leaky(float *x, size_t n)
{
    /* face-api tinyYolov2/leaky.ts: relu(x - 0.1x) + 0.1x, with 0.1 as float32. */
    const float alpha = 0.10000000149011612f;
    for (size_t i = 0; i < n; i++) {
        float m = x[i] * alpha;
        float r = x[i] - m;
        x[i] = (r > 0.0f ? r : 0.0f) + m;
    }
}

void et_nn_relu(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void et_nn_dense(const float *in, int cin, const float *weights, const float *bias, int cout,
                 float *out)
{
    for (int o = 0; o < cout; o++)
        out[o] = 0.0f;
    for (int i = 0; i < cin; i++)
        for (int o = 0; o < cout; o++)
            out[o] += in[i] * weights[(size_t)i * cout + o];
    if (bias)
        for (int o = 0; o < cout; o++)
            out[o] += bias[o];
}

void et_nn_softmax(float *x, int n)
{
    float max = x[0];
    for (int i = 1; i < n; i++)
        max = x[i] > max ? x[i] : max;
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    for (int i = 0; i < n; i++)
        x[i] /= sum;
}

void et_nn_set_blas_threads(int n) { openblas_set_num_threads(n); }
