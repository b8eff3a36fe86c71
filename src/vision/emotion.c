/* Human's emotion net (@vladmandic/human 3.3.6 models/emotion.json, a tfjs
 * graph model of oarriaga's mini-Xception; issue 19), run with src/nn as
 * tfjs runs the graph: its nodes, in order, are
 *   _FusedConv2D 3x3/2 'valid' 1->32 + bias, relu           (conv2d_1)
 *   _FusedConv2D 3x3/1 'valid' 32->64 + bias, relu          (conv2d_2)
 *   two blocks, each: DepthwiseConv2dNative 3x3 'same', _FusedConv2D 1x1 +
 *     bias, relu; DepthwiseConv2dNative 3x3 'same', _FusedConv2D 1x1 + bias;
 *     MaxPool 3x3/2 'same'; AddV2 with a _FusedConv2D 1x1/2 + bias of the
 *     block's input (the second block's separable path reads relu(input))
 *   _FusedConv2D 3x3/1 'same' 256->7 + bias                 (conv2d_5)
 *   Mean over the 8x8 grid, Softmax.
 * The input is built as Human's src/gear/emotion.ts predict builds it, from
 * the face tensor of src/face/facemeshutil.ts cutAndResize (vision.h says
 * how); arithmetic in float in tfjs's order, so the input matches tfjs's. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vision/vision_internal.h"

#define PREFIX "StatefulPartitionedCall/model_1/"
#define SIDE ET_EMOTION_INPUT
#define CONV1_OUT 32
#define CONV2_OUT 64
/* Activation sides: conv1 (64 -> 31), conv2 (31 -> 29), blocks 29 -> 15 -> 8. */
#define SIDE1 31
#define SIDE2 29
/* The largest activation: block 1's separable path, 29x29x128. */
#define BIG ((size_t)SIDE2 * SIDE2 * 128)
/* The shortcut's output, at most 15x15x128 (block 1) or 8x8x256. */
#define RES ((size_t)15 * 15 * 128)
/* conv5's 7 output channels padded to 16 (zero filters), so that it runs
 * the vectorised path of the 3x3 kernel instead of its scalar one; each
 * channel's sum is formed in the same order either way. */
#define CONV5_OUT 16
#define CONV5_FILTER ((size_t)9 * ET_EMOTION_FEATURES * CONV5_OUT)
/* conv2 (3x3 'valid', 32 -> 64) as one matrix product: its input unfolded,
 * a row of 9 x 32 taps per output pixel, times its filter (HWIO, so already
 * [9 x 32][64]): a third of the net's work, at sgemm's speed. */
#define COL ((size_t)SIDE2 * SIDE2 * 9 * CONV1_OUT)
#define EMO_FLOATS (3 * BIG + RES + CONV5_FILTER + CONV5_OUT + COL)

/* Human's classes: angry, disgust, fear, happy, sad, surprise, neutral
 * (src/gear/emotion.ts, annotations of a greyscale model). Index in Human's
 * output of each et_expression. */
static const int human_index[ET_EXPR_COUNT] = {
    [ET_EXPR_NEUTRAL] = 6, [ET_EXPR_HAPPY] = 3,     [ET_EXPR_SAD] = 4,
    [ET_EXPR_ANGRY] = 0,   [ET_EXPR_FEARFUL] = 2,   [ET_EXPR_DISGUSTED] = 1,
    [ET_EXPR_SURPRISED] = 5,
};

/* Greyscale coefficients, Human src/tfjs/constants.ts rgb. */
static const float grey_rgb[3] = {0.2989f, 0.5870f, 0.1140f};

/* ---- loading ------------------------------------------------------------ */

static et_status take(const et_nn_weights *w, const char *name, int ndim, const int *shape,
                      const float **data, char *err)
{
    const et_nn_tensor *t;
    char why[ET_ERR_MAX];
    if (et_nn_weights_expect(w, name, ndim, shape, &t, why) != ET_OK)
        return et_fail(err, ET_E_MODEL, "%s: %s", ET_VISION_EMOTION_MODEL, why);
    *data = t->data;
    return ET_OK;
}

/* A fused convolution's kernel and bias: PREFIX<layer>/<kind>_weights and
 * _bn_offset (the batch norm folded into a bias by the converter). */
static et_status take_fused(const et_nn_weights *w, const char *layer, const char *kind, int k,
                            int cin, int cout, const float **filters, const float **bias,
                            char *err)
{
    char name[160];
    snprintf(name, sizeof name, PREFIX "%s/%s_weights", layer, kind);
    et_status s = take(w, name, 4, (int[]){k, k, cin, cout}, filters, err);
    if (s != ET_OK)
        return s;
    snprintf(name, sizeof name, PREFIX "%s/%s_bn_offset", layer, kind);
    return take(w, name, 1, (int[]){cout}, bias, err);
}

/* Block b (0, 1): separable layers 2b+1 and 2b+2 (depthwise filters named
 * by the converter unknown_9, _15, _26, _32), shortcut conv2d_(3+b). */
static et_status take_block(const et_nn_weights *w, int b, et__emotion_block *blk, char *err)
{
    static const char *depthwise[ET__EMO_BLOCKS][2] = {{"unknown_9", "unknown_15"},
                                                       {"unknown_26", "unknown_32"}};
    blk->cin = b == 0 ? CONV2_OUT : 128;
    blk->cout = b == 0 ? 128 : 256;
    et_status s;
    for (int i = 0; i < 2; i++) {
        et__sep_conv *c = &blk->sep[i];
        c->cin = i == 0 ? blk->cin : blk->cout;
        c->cout = blk->cout;
        char layer[32];
        snprintf(layer, sizeof layer, "separable_conv2d_%d", 2 * b + i + 1);
        if ((s = take(w, depthwise[b][i], 4, (int[]){3, 3, c->cin, 1}, &c->depthwise, err)) !=
                ET_OK ||
            (s = take_fused(w, layer, "separable_conv2d", 1, c->cin, c->cout, &c->pointwise,
                            &c->bias, err)) != ET_OK)
            return s;
    }
    char layer[32];
    snprintf(layer, sizeof layer, "conv2d_%d", 3 + b);
    return take_fused(w, layer, "Conv2D", 1, blk->cin, blk->cout, &blk->res_weights,
                      &blk->res_bias, err);
}

static et_status take_all(et__emotion_net *e, char *err)
{
    const et_nn_weights *w = e->w;
    et_status s;
    if ((s = take_fused(w, "conv2d_1", "Conv2D", 3, 1, CONV1_OUT, &e->conv1_filters,
                        &e->conv1_bias, err)) != ET_OK ||
        (s = take_fused(w, "conv2d_2", "Conv2D", 3, CONV1_OUT, CONV2_OUT, &e->conv2_filters,
                        &e->conv2_bias, err)) != ET_OK)
        return s;
    for (int b = 0; b < ET__EMO_BLOCKS; b++)
        if ((s = take_block(w, b, &e->block[b], err)) != ET_OK)
            return s;
    if ((s = take(w, "unknown_43", 4, (int[]){3, 3, ET_EMOTION_FEATURES, ET_EXPR_COUNT},
                  &e->conv5_filters, err)) != ET_OK)
        return s;
    return take(w, "unknown_44", 1, (int[]){ET_EXPR_COUNT}, &e->conv5_bias, err);
}

/* The graph's nodes other than constants, in the file's order, with the
 * padding and stride of each convolution and pool (the attributes' base64,
 * as the file stores them: "VkFMSUQ=" is VALID, "U0FNRQ==" SAME): the graph
 * this file runs, so that another graph whose weights happen to have the
 * same names and shapes is refused rather than run wrongly. */
#define VALID "VkFMSUQ="
#define SAME "U0FNRQ=="
static const struct graph_node {
    const char *op, *padding;
    int stride;
} graph[] = {
    {"Placeholder", NULL, 0},
    {"_FusedConv2D", VALID, 2},          {"_FusedConv2D", VALID, 1},
    {"DepthwiseConv2dNative", SAME, 1},  {"_FusedConv2D", SAME, 2},
    {"_FusedConv2D", VALID, 1},          {"DepthwiseConv2dNative", SAME, 1},
    {"_FusedConv2D", VALID, 1},          {"MaxPool", SAME, 2},
    {"AddV2", NULL, 0},                  {"Relu", NULL, 0},
    {"_FusedConv2D", SAME, 2},           {"DepthwiseConv2dNative", SAME, 1},
    {"_FusedConv2D", VALID, 1},          {"DepthwiseConv2dNative", SAME, 1},
    {"_FusedConv2D", VALID, 1},          {"MaxPool", SAME, 2},
    {"AddV2", NULL, 0},                  {"_FusedConv2D", SAME, 1},
    {"Mean", NULL, 0},                   {"Softmax", NULL, 0},
    {"Identity", NULL, 0},
};
#define GRAPH_NODES (sizeof graph / sizeof *graph)

/* Whether node n is what graph[i] says. */
static int node_is(json_t *n, const struct graph_node *want)
{
    const char *op = json_string_value(json_object_get(n, "op"));
    if (!op || strcmp(op, want->op) != 0)
        return 0;
    if (!want->padding)
        return 1;
    json_t *attr = json_object_get(n, "attr");
    const char *pad = json_string_value(json_object_get(json_object_get(attr, "padding"), "s"));
    json_t *strides = json_object_get(json_object_get(json_object_get(attr, "strides"), "list"), "i");
    const char *sy = json_string_value(json_array_get(strides, 1)),
               *sx = json_string_value(json_array_get(strides, 2));
    char want_stride[4];
    snprintf(want_stride, sizeof want_stride, "%d", want->stride);
    return pad && strcmp(pad, want->padding) == 0 && sy && sx && strcmp(sy, want_stride) == 0 &&
           strcmp(sx, want_stride) == 0;
}

static et_status check_graph(const char *path, char *err)
{
    uint8_t *text;
    size_t len;
    char why[ET_ERR_MAX];
    if (et_read_file(path, (size_t)16 << 20, &text, &len, why) != ET_OK)
        return et_fail(err, ET_E_MODEL, "model file %s", why);
    json_t *root = json_loadb((const char *)text, len, 0, NULL);
    free(text);
    json_t *nodes = json_object_get(json_object_get(root, "modelTopology"), "node");
    size_t i, k = 0;
    json_t *n;
    int ok = json_is_array(nodes);
    json_array_foreach(nodes, i, n) {
        const char *op = json_string_value(json_object_get(n, "op"));
        if (!ok || (op && strcmp(op, "Const") == 0))
            continue;
        ok = k < GRAPH_NODES && node_is(n, &graph[k]);
        k++;
    }
    json_decref(root);
    if (!ok || k != GRAPH_NODES)
        return et_fail(err, ET_E_MODEL,
                       "%s: not the graph of Human's emotion net (node %zu of %zu differs: an "
                       "op, its padding or its stride)",
                       path, k, GRAPH_NODES);
    return ET_OK;
}

et_status et__emotion_load(const char *dir, et__emotion_net *e, char *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, ET_VISION_EMOTION_MODEL);
    struct stat st;
    memset(e, 0, sizeof *e);
    if (stat(path, &st) != 0)
        return ET_OK;
    et_status s = check_graph(path, err);
    if (s == ET_OK)
        s = et_nn_weights_load_graph(path, &e->w, err);
    if (s == ET_OK)
        s = take_all(e, err);
    if (s != ET_OK) {
        et_nn_weights_free(e->w);
        memset(e, 0, sizeof *e);
    }
    return s;
}

bool et_vision_models_have_emotion(const et_vision_models *m) { return m && m->emo.w; }

/* ---- the input, as Human builds it -------------------------------------- */

/* JavaScript's Math.round: halves round up. */
static double js_round(double v) { return floor(v + 0.5); }

/* One axis of tf.image.cropAndResize for a box [lo, hi] (relative to the
 * picture's n pixels) and crop size ET_EMOTION_CROP: the source coordinate
 * of crop sample i, in float as tfjs computes it. */
static float crop_coord(float lo, float hi, int n, int i)
{
    float scale = (hi - lo) * (float)(n - 1) / (float)(ET_EMOTION_CROP - 1);
    return lo * (float)(n - 1) + (float)i * scale;
}

/* Bilinear sample of channel c at (sy, sx), both within the picture. */
static float bilinear(const et_image *img, float sy, float sx, int c)
{
    int top = (int)floorf(sy), bottom = (int)ceilf(sy), left = (int)floorf(sx),
        right = (int)ceilf(sx);
    float ly = sy - (float)top, lx = sx - (float)left;
    const uint8_t *p = img->rgb;
    size_t w = (size_t)img->width;
    float tl = p[((size_t)top * w + left) * 3 + c], tr = p[((size_t)top * w + right) * 3 + c];
    float bl = p[((size_t)bottom * w + left) * 3 + c],
          br = p[((size_t)bottom * w + right) * 3 + c];
    float t = tl + (tr - tl) * lx, b = bl + (br - bl) * lx;
    return t + (b - t) * ly;
}

et_status et_vision_emotion_input(const et_image *img, et_image_rect region,
                                  float input[ET_EMOTION_INPUT * ET_EMOTION_INPUT], char *err)
{
    if (region.width < 1 || region.height < 1 || region.x < 0 || region.y < 0 ||
        region.x > img->width - region.width || region.y > img->height - region.height)
        return et_fail(err, ET_E_INVALID,
                       "emotion: region %dx%d at (%d, %d) is not inside the %dx%d picture",
                       region.width, region.height, region.x, region.y, img->width,
                       img->height);
    /* squarifyBox of the region's box (startPoint, endPoint). */
    double cx = region.x + region.width / 2.0, cy = region.y + region.height / 2.0;
    double half = (region.width > region.height ? region.width : region.height) / 2.0;
    double x0 = js_round(cx - half), y0 = js_round(cy - half), x1 = js_round(cx + half),
           y1 = js_round(cy + half);
    /* cutAndResize's box, relative, as float32 boxes tensor. */
    float by0 = (float)(y0 / img->height), bx0 = (float)(x0 / img->width),
          by1 = (float)(y1 / img->height), bx1 = (float)(x1 / img->width);
    const int step = ET_EMOTION_CROP / ET_EMOTION_INPUT; /* resizeBilinear 192 -> 64 */
    for (int i = 0; i < SIDE; i++) {
        float sy = crop_coord(by0, by1, img->height, i * step);
        int row_in = sy >= 0.0f && sy <= (float)(img->height - 1);
        for (int j = 0; j < SIDE; j++) {
            float sx = crop_coord(bx0, bx1, img->width, j * step);
            float grey = 0.0f;
            if (row_in && sx >= 0.0f && sx <= (float)(img->width - 1)) {
                float v[3];
                for (int c = 0; c < 3; c++)
                    v[c] = bilinear(img, sy, sx, c) / 255.0f;
                grey = v[0] * grey_rgb[0] + v[1] * grey_rgb[1] + v[2] * grey_rgb[2];
            }
            input[i * SIDE + j] = (grey - 0.5f) * 2.0f;
        }
    }
    return ET_OK;
}

/* ---- the forward pass --------------------------------------------------- */

static et_status prepare(et_vision_ctx *ctx, char *err)
{
    if (!et_vision_models_have_emotion(ctx->m))
        return et_fail(err, ET_E_MODEL,
                       "Human's emotion net is not loaded (%s and emotion.bin are not in the "
                       "models folder)",
                       ET_VISION_EMOTION_MODEL);
    if (ctx->emo_buf)
        return ET_OK;
    if (!(ctx->emo_buf = malloc(EMO_FLOATS * sizeof(float))))
        return et_fail(err, ET_E_NOMEM, "out of memory for the emotion network");
    const et__emotion_net *e = &ctx->m->emo;
    float *f = ctx->emo_buf + 3 * BIG + RES, *bias = f + CONV5_FILTER;
    for (size_t row = 0; row < (size_t)9 * ET_EMOTION_FEATURES; row++)
        for (int co = 0; co < CONV5_OUT; co++)
            f[row * CONV5_OUT + co] =
                co < ET_EXPR_COUNT ? e->conv5_filters[row * ET_EXPR_COUNT + co] : 0.0f;
    for (int co = 0; co < CONV5_OUT; co++)
        bias[co] = co < ET_EXPR_COUNT ? e->conv5_bias[co] : 0.0f;
    return ET_OK;
}

void et__emotion_release(et_vision_ctx *ctx)
{
    free(ctx->emo_buf);
    ctx->emo_buf = NULL;
}

/* Every other pixel of x (n x n x c), from the first: the input a 1x1
 * stride-2 'same' convolution reads (its padding is 0 for odd n). */
static int subsample2(const float *x, int n, int c, float *out)
{
    int m = (n + 1) / 2;
    for (int y = 0; y < m; y++)
        for (int xx = 0; xx < m; xx++)
            memcpy(out + ((size_t)y * m + xx) * c, x + ((size_t)2 * y * n + 2 * xx) * c,
                   (size_t)c * sizeof *out);
    return m;
}

/* The 3x3 'valid' stride-1 windows of x (n x n x c), one row of 9c floats
 * per output pixel in (ky, kx, ci) order. */
static void unfold3x3(const float *x, int n, int c, float *col)
{
    int m = n - 2;
    for (int oy = 0; oy < m; oy++)
        for (int ox = 0; ox < m; ox++)
            for (int ky = 0; ky < 3; ky++) {
                float *dst = col + (((size_t)oy * m + ox) * 9 + (size_t)ky * 3) * c;
                memcpy(dst, x + ((size_t)(oy + ky) * n + ox) * c, (size_t)3 * c * sizeof *dst);
            }
}

/* Depthwise 3x3 'same' then pointwise with bias: tmp, then out. */
static void sep_same(const et_nn_kernels *k, const et__sep_conv *c, const float *in, int n,
                     float *tmp, float *out)
{
    et_nn_pad p = et_nn_same_padding(n, 3, 1);
    et_nn_conv_geom g = et_nn_geom(n, n, 1, p, p);
    k->depthwise3x3(in, &g, c->cin, c->depthwise, tmp);
    et_nn_pointwise(tmp, n * n, c->cin, c->pointwise, c->bias, c->cout, out);
}

/* One residual block on x (n x n x cin), with scratch s1, s2 (BIG floats
 * each, not x) and res (RES floats). Writes the block output to s1 and
 * returns its side; x is not needed after the first two steps. */
static int block(const et_vision_ctx *ctx, const et__emotion_block *b, const float *x, int n,
                 float *s1, float *s2, float *res)
{
    int m = subsample2(x, n, b->cin, s1);
    et_nn_pointwise(s1, m * m, b->cin, b->res_weights, b->res_bias, b->cout, res);
    size_t in_len = (size_t)n * n * b->cin, len = (size_t)n * n * b->cout;
    memcpy(s2, x, in_len * sizeof *s2);
    et_nn_relu(s2, in_len); /* a no-op on block 1's input, conv2's relu */
    sep_same(ctx->k, &b->sep[0], s2, n, s1, s2);
    et_nn_relu(s2, len);
    sep_same(ctx->k, &b->sep[1], s2, n, s1, s2);
    et_nn_maxpool3x3(s2, n, n, b->cout, 2, s1);
    size_t out_len = (size_t)m * m * b->cout;
    for (size_t i = 0; i < out_len; i++)
        s1[i] += res[i];
    return m;
}

et_status et_vision_emotion_run(et_vision_ctx *ctx,
                                const float input[ET_EMOTION_INPUT * ET_EMOTION_INPUT],
                                float probs[ET_EXPR_COUNT], float *features, char *err)
{
    et_status s = prepare(ctx, err);
    if (s != ET_OK)
        return s;
    const et__emotion_net *e = &ctx->m->emo;
    float *a = ctx->emo_buf, *b = a + BIG, *c = b + BIG, *res = c + BIG;
    float *col = res + RES + CONV5_FILTER + CONV5_OUT;
    et_nn_pad none = {0, 0};
    et_nn_conv_geom g1 = et_nn_geom(SIDE, SIDE, 2, none, none);
    ctx->k->conv3x3(input, &g1, 1, e->conv1_filters, e->conv1_bias, CONV1_OUT, a);
    et_nn_relu(a, (size_t)SIDE1 * SIDE1 * CONV1_OUT);
    unfold3x3(a, SIDE1, CONV1_OUT, col);
    et_nn_pointwise(col, SIDE2 * SIDE2, 9 * CONV1_OUT, e->conv2_filters, e->conv2_bias,
                    CONV2_OUT, b);
    et_nn_relu(b, (size_t)SIDE2 * SIDE2 * CONV2_OUT);
    int n = block(ctx, &e->block[0], b, SIDE2, a, c, res); /* output in a */
    n = block(ctx, &e->block[1], a, n, b, c, res);         /* output in b */
    if (features)
        et_nn_global_avgpool(b, n, n, ET_EMOTION_FEATURES, features);
    et_nn_pad p = et_nn_same_padding(n, 3, 1);
    et_nn_conv_geom g5 = et_nn_geom(n, n, 1, p, p);
    const float *f5 = res + RES;
    ctx->k->conv3x3(b, &g5, ET_EMOTION_FEATURES, f5, f5 + CONV5_FILTER, CONV5_OUT, c);
    float logits[CONV5_OUT];
    et_nn_global_avgpool(c, n, n, CONV5_OUT, logits);
    et_nn_softmax(logits, ET_EXPR_COUNT);
    for (int i = 0; i < ET_EXPR_COUNT; i++)
        probs[i] = logits[human_index[i]];
    return ET_OK;
}

et_status et_vision_emotion_read(et_vision_ctx *ctx, const et_image *img, et_image_rect region,
                                 float probs[ET_EXPR_COUNT], float *features, char *err)
{
    float input[ET_EMOTION_INPUT * ET_EMOTION_INPUT];
    et_status s = prepare(ctx, err);
    if (s == ET_OK)
        s = et_vision_emotion_input(img, region, input, err);
    if (s == ET_OK)
        s = et_vision_emotion_run(ctx, input, probs, features, err);
    return s;
}
