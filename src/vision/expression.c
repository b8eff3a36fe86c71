/* FaceExpressionNet forward pass (face-api faceFeatureExtractor/
 * FaceFeatureExtractor.ts, denseBlock.ts denseBlock4, faceProcessor/
 * FaceProcessor.ts): four dense blocks, a 7x7 average pool, a 256x7 fully
 * connected layer and a softmax. Each convolution uses 'same' padding; the
 * first of a block has stride 2. The sums are formed in face-api's order,
 * out1 + (out2 + (out3 + out4)), so rounding matches the reference. */
#include <stdlib.h>

#include "vision/vision_internal.h"

enum { OUT1, OUT2, OUT3, OUT4, TMP, SUM, RES };

/* Largest activation: dense0's output, 56x56x32. */
#define EXPR_BUF_FLOATS ((size_t)56 * 56 * 32)

et_status et__expression_prepare(et_vision_ctx *ctx, char *err)
{
    if (ctx->expr_input)
        return ET_OK;
    ctx->expr_input = malloc((size_t)ET_FACE_EXPR_INPUT * ET_FACE_EXPR_INPUT * 3 * sizeof(float));
    int ok = ctx->expr_input != NULL;
    for (int i = 0; i < ET__EXPR_BUFFERS; i++) {
        ctx->expr_buf[i] = malloc(EXPR_BUF_FLOATS * sizeof(float));
        ok = ok && ctx->expr_buf[i];
    }
    if (!ok)
        return et_fail(err, ET_E_NOMEM, "out of memory for the expression network");
    return ET_OK;
}

/* Separable conv with 'same' padding and bias, no activation
 * (face-api common/depthwiseSeparableConv.ts). */
static void sep_same(const et_nn_kernels *k, const et__sep_conv *c, const float *in, int n, int stride, float *tmp,
                     float *out, int *on)
{
    et_nn_pad p = et_nn_same_padding(n, 3, stride);
    et_nn_conv_geom g = et_nn_geom(n, n, stride, p, p);
    k->depthwise3x3(in, &g, c->cin, c->depthwise, tmp);
    et_nn_pointwise(tmp, g.oh * g.ow, c->cin, c->pointwise, c->bias, c->cout, out);
    *on = g.oh;
}

/* dst = relu(a + (b + (c + d))) over len values, with c, d optional. */
static void relu_sum(float *dst, const float *a, const float *b, const float *c, const float *d,
                     size_t len)
{
    for (size_t i = 0; i < len; i++) {
        float inner = d ? c[i] + d[i] : c ? c[i] : 0.0f;
        float v = c ? a[i] + (b[i] + inner) : a[i] + b[i];
        dst[i] = v > 0.0f ? v : 0.0f;
    }
}

/* One denseBlock4 on x (n x n x cin); writes the block output to buf[RES]
 * and returns its side. */
static int dense_block(et_vision_ctx *ctx, const et__dense_block *blk, int first, const float *x,
                       int n)
{
    float **buf = ctx->expr_buf;
    int on;
    if (first) {
        et_nn_pad p = et_nn_same_padding(n, 3, 2);
        et_nn_conv_geom g = et_nn_geom(n, n, 2, p, p);
        ctx->k->conv3x3(x, &g, blk->cin, blk->conv0_filters, blk->conv0_bias, blk->cout, buf[OUT1]);
        on = g.oh;
    } else {
        sep_same(ctx->k, &blk->sep[0], x, n, 2, buf[TMP], buf[OUT1], &on);
    }
    size_t len = (size_t)on * on * blk->cout;
    et_nn_relu(buf[OUT1], len);
    sep_same(ctx->k, &blk->sep[1], buf[OUT1], on, 1, buf[TMP], buf[OUT2], &on);
    relu_sum(buf[SUM], buf[OUT1], buf[OUT2], NULL, NULL, len);
    sep_same(ctx->k, &blk->sep[2], buf[SUM], on, 1, buf[TMP], buf[OUT3], &on);
    relu_sum(buf[SUM], buf[OUT1], buf[OUT2], buf[OUT3], NULL, len);
    sep_same(ctx->k, &blk->sep[3], buf[SUM], on, 1, buf[TMP], buf[OUT4], &on);
    relu_sum(buf[RES], buf[OUT1], buf[OUT2], buf[OUT3], buf[OUT4], len);
    return on;
}

void et__expression_features(et_vision_ctx *ctx, float features[ET__EXPR_FEATURES])
{
    const et__expression_net *e = &ctx->m->expr;
    int n = ET_FACE_EXPR_INPUT;
    const float *x = ctx->expr_input;
    for (int b = 0; b < ET__EXPR_BLOCKS; b++) {
        /* A block reads its input only in its first convolution and writes
         * RES only at its end, so RES can feed the next block directly. */
        n = dense_block(ctx, &e->block[b], b == 0, x, n);
        x = ctx->expr_buf[RES];
    }
    et_nn_global_avgpool(x, n, n, ET__EXPR_FEATURES, features);
}

void et__expression_head(const et_vision_ctx *ctx, const float features[ET__EXPR_FEATURES],
                         float probs[ET_EXPR_COUNT])
{
    const et__expression_net *e = &ctx->m->expr;
    et_nn_dense(features, ET__EXPR_FEATURES, e->fc_weights, e->fc_bias, ET_EXPR_COUNT, probs);
    et_nn_softmax(probs, ET_EXPR_COUNT);
}

void et__expression_forward(et_vision_ctx *ctx, float probs[ET_EXPR_COUNT])
{
    float features[ET__EXPR_FEATURES];
    et__expression_features(ctx, features);
    et__expression_head(ctx, features, probs);
}
