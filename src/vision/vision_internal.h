/* Private to src/vision: the two graphs' parameters and their forward passes. */
#ifndef ET_VISION_INTERNAL_H
#define ET_VISION_INTERNAL_H

#include "nn/nn.h"
#include "vision/vision.h"

/* A separable convolution: depthwise 3x3 [3,3,cin,1], pointwise [1,1,cin,cout], bias[cout]. */
typedef struct et__sep_conv {
    const float *depthwise, *pointwise, *bias;
    int cin, cout;
} et__sep_conv;

/* TinyFaceDetector (face-api tinyFaceDetector/TinyFaceDetector.ts): conv0 is a
 * full 3x3 conv 3->16, conv1..conv5 separable up to 512 channels, conv8 a 1x1
 * conv to 5 anchors x (x, y, w, h, score). */
#define ET__DET_SEP_LAYERS 5
#define ET__DET_ANCHORS 5
#define ET__DET_BOX_ENC 5
#define ET__DET_CONV0_OUT 16
typedef struct et__detector {
    et_nn_weights *w;
    const float *conv0_filters, *conv0_bias;
    et__sep_conv sep[ET__DET_SEP_LAYERS];
    const float *conv8_filters, *conv8_bias;
    int head_cin;
} et__detector;

/* FaceExpressionNet (face-api faceFeatureExtractor/FaceFeatureExtractor.ts and
 * denseBlock.ts): four dense blocks of four convolutions, the first of each
 * with stride 2; dense0's first is a full 3x3 conv; then a 256x7 classifier. */
#define ET__EXPR_BLOCKS 4
#define ET__EXPR_FEATURES ET_VISION_EXPR_FEATURES
typedef struct et__dense_block {
    const float *conv0_filters, *conv0_bias; /* dense0 only: full conv 3->32 */
    et__sep_conv sep[4];                     /* sep[0] unused in dense0 */
    int cin, cout;
} et__dense_block;

typedef struct et__expression_net {
    et_nn_weights *w;
    et__dense_block block[ET__EXPR_BLOCKS];
    const float *fc_weights, *fc_bias;
} et__expression_net;

/* emotune-1's head (head.c), as its weights file gives it. */
struct et_vision_head {
    double mean[ET_VISION_HEAD_INPUTS], scale[ET_VISION_HEAD_INPUTS];
    double weights[ET_EXPR_COUNT][ET_VISION_HEAD_INPUTS], bias[ET_EXPR_COUNT];
    double temperature;
};

/* Human's emotion net (emotion.c; issue 19): mini-Xception on 64x64 grey.
 * conv1 3x3/2 valid 1->32, conv2 3x3 valid 32->64, then two residual
 * blocks (two separable convs, a 3x3/2 max pool, plus a 1x1/2 conv of the
 * block input), conv5 3x3 same 256->7, mean, softmax. */
#define ET__EMO_BLOCKS 2
typedef struct et__emotion_block {
    et__sep_conv sep[2];
    const float *res_weights, *res_bias; /* the 1x1 stride-2 shortcut */
    int cin, cout;
} et__emotion_block;

typedef struct et__emotion_net {
    et_nn_weights *w;
    const float *conv1_filters, *conv1_bias, *conv2_filters, *conv2_bias;
    et__emotion_block block[ET__EMO_BLOCKS];
    const float *conv5_filters, *conv5_bias;
} et__emotion_net;

struct et_vision_models {
    et__detector det;
    et__expression_net expr;
    et_vision_head head; /* the built-in models/emotune-expressions-1.json */
    et__emotion_net emo; /* emo.w NULL when emotion.json is absent */
};

/* The weights file compiled in (head_json.c, from build/gen/expr_head_json.inc). */
extern const char et__expr_head_json[];
extern const size_t et__expr_head_json_len;

/* et_vision_head_parse into h. */
et_status et__head_parse(const char *json, size_t len, et_vision_head *h, char *err);

/* On ctx->expr_input (normalised): the features of it and face-api's
 * probabilities from them, then the same of it mirrored left-right in place
 * (so it is left mirrored). */
void et__expression_views(et_vision_ctx *ctx, float features[2][ET__EXPR_FEATURES],
                          float probs[2][ET_EXPR_COUNT]);

/* emotune-1's probabilities of ctx->expr_input (which is left mirrored). */
void et__expression_emotune(et_vision_ctx *ctx, float probs[ET_EXPR_COUNT]);

/* Buffers of the detector for one input size. */
typedef struct et__det_buffers {
    int size;
    float *input, *a, *b;
} et__det_buffers;

typedef struct et__candidate {
    double left, top, right, bottom; /* relative to the image, as face-api's BoundingBox */
    double score;
} et__candidate;

#define ET__EXPR_BUFFERS 7
struct et_vision_ctx {
    const et_vision_models *m;
    const et_nn_kernels *k; /* the convolution kernels this context runs */
    et__det_buffers det;
    et__candidate *cand;   /* cells*cells*anchors of the largest size used */
    size_t cand_cap;
    int *order;            /* scratch for non-maximum suppression */
    float *expr_input;     /* 112*112*3 */
    float *expr_buf[ET__EXPR_BUFFERS];
    et_image canvas;       /* the second pass's canvas (second_pass.c) */
    float *emo_buf;        /* the emotion net's activations (emotion.c), one block */
};

et_status et__detector_load(const char *dir, et__detector *d, char *err);
et_status et__expression_load(const char *dir, et__expression_net *e, char *err);

/* Allocates the detector buffers for `size` if they are not that size yet. */
et_status et__detector_prepare(et_vision_ctx *ctx, int size, char *err);

/* Frees the detector buffers. */
void et__detector_release(et_vision_ctx *ctx);

/* Runs the detector on ctx->det.input (normalised) and returns a pointer to
 * the head output, cells*cells*25 floats; *cells receives size/32. */
const float *et__detector_forward(et_vision_ctx *ctx, int *cells);

/* Allocates the expression buffers once. */
et_status et__expression_prepare(et_vision_ctx *ctx, char *err);

/* Runs the expression net on ctx->expr_input (normalised); writes softmax. */
void et__expression_forward(et_vision_ctx *ctx, float probs[ET_EXPR_COUNT]);

/* The two halves of et__expression_forward: the pooled 256 channels before
 * the fully connected layer, and that layer with its softmax. */
void et__expression_features(et_vision_ctx *ctx, float features[ET__EXPR_FEATURES]);
void et__expression_head(const et_vision_ctx *ctx, const float features[ET__EXPR_FEATURES],
                         float probs[ET_EXPR_COUNT]);

/* Two-pass detection's second pass (second_pass.c): the picture shrunk into
 * the middle of a square canvas, for faces too large for the detector. */
typedef enum et__fill {
    ET__FILL_MEAN, /* the canvas around the picture is the detector's mean colour */
    ET__FILL_EDGE, /* ... the picture's nearest edge pixel, extended */
} et__fill;

typedef struct et__canvas_pass {
    int input_size; /* the detector's input size, and the canvas's side */
    double shrink;  /* the picture's longer side is input_size / shrink, >= 1 */
    et__fill fill;
} et__canvas_pass;

/* The detector on img drawn on the canvas p describes: like
 * et_vision_find_faces, with boxes in img's pixels, clipped to it (a box
 * wholly outside is dropped). */
et_status et__find_faces_on_canvas(et_vision_ctx *ctx, const et_image *img,
                                   const et__canvas_pass *p, double min_score, et_face *faces,
                                   size_t cap, size_t *n, char *err);

/* The second pass: the canvases of second_pass.c tried in order until one
 * finds a face; *n is 0 when none does. */
et_status et__find_faces_again(et_vision_ctx *ctx, const et_image *img,
                               const et_detect_opts *opts, et_face *faces, size_t cap,
                               size_t *n, char *err);

/* The emotion net from dir/emotion.json (a tfjs graph model: its
 * weightsManifest and the .bin it names); e->w stays NULL, and nothing is
 * loaded, when that file does not exist. */
et_status et__emotion_load(const char *dir, et__emotion_net *e, char *err);

/* Frees the context's emotion buffers. */
void et__emotion_release(et_vision_ctx *ctx);

/* Loads one manifest from dir with a message naming the file. */
et_status et__load_weights(const char *dir, const char *manifest, et_nn_weights **w, char *err);

#endif
