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

/* Output rows unfolded per band: keeps the scratch near 1 MB whatever the
 * image size, so the 416x416 first layer does not need an 18 MB buffer. */
static int band_rows(const et_nn_conv_geom *g, int cin)
{
    size_t per_row = (size_t)g->ow * 9 * (size_t)cin;
    size_t rows = ((size_t)1 << 18) / (per_row ? per_row : 1);
    if (rows < 1)
        rows = 1;
    if (rows > (size_t)g->oh)
        rows = (size_t)g->oh;
    return (int)rows;
}

size_t et_nn_conv3x3_scratch(const et_nn_conv_geom *g, int cin)
{
    return (size_t)band_rows(g, cin) * (size_t)g->ow * 9 * (size_t)cin;
}

/* Writes the 3x3 neighbourhoods of output rows [oy0, oy1) as rows of 9*cin
 * values ordered (ky, kx, ci), the order of the HWIO filter. */
static void unfold_rows(const float *in, const et_nn_conv_geom *g, int cin, int oy0, int oy1,
                        float *cols)
{
    size_t k = 9 * (size_t)cin;
    for (int oy = oy0; oy < oy1; oy++) {
        for (int ox = 0; ox < g->ow; ox++) {
            float *row = cols + ((size_t)(oy - oy0) * g->ow + ox) * k;
            for (int ky = 0; ky < 3; ky++) {
                int iy = oy * g->stride + ky - g->py.before;
                for (int kx = 0; kx < 3; kx++) {
                    int ix = ox * g->stride + kx - g->px.before;
                    float *dst = row + (size_t)(ky * 3 + kx) * cin;
                    if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
                        memset(dst, 0, (size_t)cin * sizeof *dst);
                    else
                        memcpy(dst, in + ((size_t)iy * g->w + ix) * cin, (size_t)cin * sizeof *dst);
                }
            }
        }
    }
}

void et_nn_conv3x3(const float *in, const et_nn_conv_geom *g, int cin, const float *filter,
                   const float *bias, int cout, float *scratch, float *out)
{
    int band = band_rows(g, cin);
    for (int oy0 = 0; oy0 < g->oh; oy0 += band) {
        int oy1 = oy0 + band < g->oh ? oy0 + band : g->oh;
        unfold_rows(in, g, cin, oy0, oy1, scratch);
        int m = (oy1 - oy0) * g->ow;
        et_nn_pointwise(scratch, m, 9 * cin, filter, bias, cout,
                        out + (size_t)oy0 * g->ow * cout);
    }
}

/* out[ch] += in[ch] * f[ch] over c channels: the inner loop of the depthwise
 * convolution, written so the compiler vectorises it. */
static inline void mul_add(float *restrict out, const float *restrict in,
                           const float *restrict f, int c)
{
    for (int ch = 0; ch < c; ch++)
        out[ch] += in[ch] * f[ch];
}

void et_nn_depthwise3x3(const float *in, const et_nn_conv_geom *g, int c, const float *filter,
                        float *out)
{
    for (int oy = 0; oy < g->oh; oy++) {
        for (int ox = 0; ox < g->ow; ox++) {
            float *o = out + ((size_t)oy * g->ow + ox) * c;
            memset(o, 0, (size_t)c * sizeof *o);
            for (int ky = 0; ky < 3; ky++) {
                int iy = oy * g->stride + ky - g->py.before;
                if (iy < 0 || iy >= g->h)
                    continue;
                for (int kx = 0; kx < 3; kx++) {
                    int ix = ox * g->stride + kx - g->px.before;
                    if (ix < 0 || ix >= g->w)
                        continue;
                    mul_add(o, in + ((size_t)iy * g->w + ix) * c, filter + (ky * 3 + kx) * c, c);
                }
            }
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
