/* Tensor operations, NHWC with batch 1. Semantics follow TensorFlow (and so
 * tfjs): 'same' padding splits the total with the smaller half first; padded
 * cells are zeros for convolutions and never win a max pool. The two 3x3
 * convolutions live in kernels_impl.h, built once per instruction set. */
#include "nn/nn_internal.h"

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

/* The row of zeros that padded taps read (static storage: zero-initialised,
 * never written). */
static const float zeros[ET__NN_ZEROS_MAX];

void et__nn_window(const float *in, const et_nn_conv_geom *g, int c, int oy, int ox,
                   const float *taps[9])
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

void et__nn_depthwise3x3_bounded(const float *in, const et_nn_conv_geom *g, int c,
                                 const float *filter, float *out)
{
    for (int oy = 0; oy < g->oh; oy++) {
        for (int ox = 0; ox < g->ow; ox++) {
            float *o = out + ((size_t)oy * g->ow + ox) * c;
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

void et_nn_maxpool3x3(const float *in, int h, int w, int c, int stride, float *out)
{
    et_nn_pad py = et_nn_same_padding(h, 3, stride), px = et_nn_same_padding(w, 3, stride);
    int oh = et_nn_out_size(h, 3, stride, py), ow = et_nn_out_size(w, 3, stride, px);
    for (int oy = 0; oy < oh; oy++) {
        int y0 = oy * stride - py.before, y1 = y0 + 3;
        y0 = y0 < 0 ? 0 : y0;
        y1 = y1 > h ? h : y1;
        for (int ox = 0; ox < ow; ox++) {
            int x0 = ox * stride - px.before, x1 = x0 + 3;
            x0 = x0 < 0 ? 0 : x0;
            x1 = x1 > w ? w : x1;
            float *o = out + ((size_t)oy * ow + ox) * c;
            memcpy(o, in + ((size_t)y0 * w + x0) * c, (size_t)c * sizeof *o);
            for (int iy = y0; iy < y1; iy++)
                for (int ix = x0; ix < x1; ix++) {
                    const float *p = in + ((size_t)iy * w + ix) * c;
                    for (int ch = 0; ch < c; ch++)
                        o[ch] = p[ch] > o[ch] ? p[ch] : o[ch];
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

const char *et_nn_blas_corename(void)
{
    const char *name = openblas_get_corename();
    return name && *name ? name : "unknown";
}
