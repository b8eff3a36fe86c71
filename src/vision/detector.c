/* TinyFaceDetector forward pass (face-api tinyYolov2/TinyYolov2Base.ts,
 * runMobilenet with isFirstLayerConv2d): conv0, a 3x3 conv with 'valid'
 * padding (common/convLayer.ts, so 416 becomes 414) + leaky, then five
 * separable 3x3 convs + leaky with 2x2 'same' max pools between them (the
 * last pool has stride 1), then a 1x1 conv to the box encodings. The separable
 * convs' explicit tf.pad(1) + 'valid' is a symmetric padding of 1. */
#include <stdlib.h>

#include "vision/vision_internal.h"

static void free_det_buffers(et__det_buffers *b)
{
    free(b->input);
    free(b->a);
    free(b->b);
    *b = (et__det_buffers){0};
}

et_status et__detector_prepare(et_vision_ctx *ctx, int size, char *err)
{
    et__det_buffers *b = &ctx->det;
    if (b->size == size)
        return ET_OK;
    free_det_buffers(b);
    size_t px = (size_t)size * size;
    /* The largest activation is conv0's output: size*size*16; every later
     * layer has a quarter of the pixels and at most twice the channels. */
    b->input = malloc(px * 3 * sizeof(float));
    b->a = malloc(px * ET__DET_CONV0_OUT * sizeof(float));
    b->b = malloc(px * ET__DET_CONV0_OUT * sizeof(float));
    size_t cells = (size_t)(size / 32) * (size / 32) * ET__DET_ANCHORS;
    if (cells > ctx->cand_cap) {
        free(ctx->cand);
        free(ctx->order);
        ctx->cand = malloc(cells * sizeof *ctx->cand);
        ctx->order = malloc(cells * sizeof *ctx->order);
        ctx->cand_cap = ctx->cand && ctx->order ? cells : 0;
    }
    if (!b->input || !b->a || !b->b || !ctx->cand_cap) {
        free_det_buffers(b);
        return et_fail(err, ET_E_NOMEM, "out of memory for the detector at input size %d", size);
    }
    b->size = size;
    return ET_OK;
}

void et__detector_release(et_vision_ctx *ctx) { free_det_buffers(&ctx->det); }

/* Separable 3x3 (pad 1) + bias + leaky: in -> out, using tmp for the
 * depthwise result. */
static void sep_leaky(const et_nn_kernels *k, const et__sep_conv *c, const float *in, int n,
                      float *tmp, float *out)
{
    et_nn_pad one = {1, 1};
    et_nn_conv_geom g = et_nn_geom(n, n, 1, one, one);
    k->depthwise3x3(in, &g, c->cin, c->depthwise, tmp);
    et_nn_pointwise(tmp, n * n, c->cin, c->pointwise, c->bias, c->cout, out);
    et_nn_leaky(out, (size_t)n * n * c->cout);
}

const float *et__detector_forward(et_vision_ctx *ctx, int *cells)
{
    const et__detector *d = &ctx->m->det;
    et__det_buffers *b = &ctx->det;
    et_nn_pad none = {0, 0};
    et_nn_conv_geom g0 = et_nn_geom(b->size, b->size, 1, none, none);
    int n = g0.oh;
    ctx->k->conv3x3(b->input, &g0, 3, d->conv0_filters, d->conv0_bias, ET__DET_CONV0_OUT, b->a);
    et_nn_leaky(b->a, (size_t)n * n * ET__DET_CONV0_OUT);
    et_nn_maxpool2x2(b->a, n, n, ET__DET_CONV0_OUT, 2, b->b);
    n = (n + 1) / 2; /* 'same' pooling: ceil(n / 2) */
    /* From here the current activation lives in b->b. Buffer a (size^2*16
     * floats) holds the depthwise result in its first half (at most
     * size^2*4 floats) and the pointwise result in its second half (at most
     * size^2*8), and the pool writes back into b->b. */
    float *tmp = b->a, *out = b->a + (size_t)b->size * b->size * 8;
    for (int i = 0; i < ET__DET_SEP_LAYERS; i++) {
        const et__sep_conv *c = &d->sep[i];
        sep_leaky(ctx->k, c, b->b, n, tmp, out);
        int last = i == ET__DET_SEP_LAYERS - 1;
        et_nn_maxpool2x2(out, n, n, c->cout, last ? 1 : 2, b->b);
        if (!last)
            n = (n + 1) / 2;
    }
    et_nn_pointwise(b->b, n * n, d->head_cin, d->conv8_filters, d->conv8_bias,
                    ET__DET_ANCHORS * ET__DET_BOX_ENC, b->a);
    *cells = n;
    return b->a;
}
