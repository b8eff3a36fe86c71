/*
 * vision: faces and their expressions in a picture, computed as face-api
 * 1.7.15 computes them -- TinyFaceDetector finds the faces, FaceExpressionNet
 * reads seven expression probabilities from each face crop.
 *
 * Two objects: et_vision_models holds the weights (load once, read-only,
 * shared by any number of threads); et_vision_ctx holds one inference's
 * buffers (one per thread; it allocates on first use of an input size and then
 * runs frame after frame without touching the heap).
 */
#ifndef ET_VISION_H
#define ET_VISION_H

#include <stdbool.h>
#include <stddef.h>

#include "core/core.h"
#include "image/image.h"
#include "nn/nn.h"

#define ET_DETECT_DEFAULT_INPUT_SIZE 416
#define ET_DETECT_MIN_INPUT_SIZE 128
#define ET_DETECT_MAX_INPUT_SIZE 608
#define ET_DETECT_DEFAULT_MIN_SCORE 0.5
#define ET_FACE_EXPR_INPUT 112

/* The seven classes, in the network's output order. */
typedef enum et_expression {
    ET_EXPR_NEUTRAL = 0,
    ET_EXPR_HAPPY,
    ET_EXPR_SAD,
    ET_EXPR_ANGRY,
    ET_EXPR_FEARFUL,
    ET_EXPR_DISGUSTED,
    ET_EXPR_SURPRISED,
    ET_EXPR_COUNT
} et_expression;

/* "neutral", "happy", ... ; NULL for a value out of range. */
const char *et_vision_expression_name(et_expression e);

/* The model files emotune needs, relative to a models folder. */
#define ET_VISION_DETECTOR_MANIFEST "tiny_face_detector_model-weights_manifest.json"
#define ET_VISION_EXPRESSION_MANIFEST "face_expression_model-weights_manifest.json"

typedef struct et_vision_models et_vision_models;

/*
 * Loads both networks from `dir` (the two manifests above and their .bin
 * files) and checks every tensor the graphs need is there with the right
 * shape. Errors are ET_E_MODEL with the file and tensor named. Also loads
 * Human's emotion net when its emotion.json is in `dir` (end of this header).
 */
et_status et_vision_models_load(const char *dir, et_vision_models **out, char *err);
void et_vision_models_free(et_vision_models *m);

typedef struct et_vision_ctx et_vision_ctx;

/*
 * A context bound to models (which must outlive it). It runs the convolution
 * kernels that the environment variable EMOTUNE_CPU (ET_NN_CPU_ENV) names,
 * by default the fastest this CPU has (see nn.h). Errors: ET_E_NOMEM;
 * ET_E_INVALID or ET_E_UNSUPPORTED when EMOTUNE_CPU names unknown kernels or
 * kernels this CPU cannot run.
 */
et_status et_vision_ctx_new(const et_vision_models *m, et_vision_ctx **out, char *err);
void et_vision_ctx_free(et_vision_ctx *ctx);

/* Switches a context to other kernels (from et_nn_kernels_for or
 * et_nn_kernels_choose, so available on this CPU); and tells which it runs. */
void et_vision_ctx_use_kernels(et_vision_ctx *ctx, const et_nn_kernels *k);
const et_nn_kernels *et_vision_ctx_kernels(const et_vision_ctx *ctx);

/*
 * Which reading of the expressions (issue 13; README "Expression models").
 * FACEAPI (zero) is face-api 1.7.15's, exactly: the parity tests run it.
 * EMOTUNE, "emotune-1", is opt-in: a calibrated head fitted on
 * ../shared/data/faces, better by cross-validation there, but not yet on
 * real colour photographs (it reads some broad smiles of face-api's demo
 * pictures as disgusted: the labelled set's classes come from different
 * sources), so it is not the default reader.
 */
typedef enum et_expr_model {
    ET_EXPR_MODEL_FACEAPI = 0,
    ET_EXPR_MODEL_EMOTUNE,
    ET_EXPR_MODEL_COUNT
} et_expr_model;

/* The reader emotune uses when none is named (et_vision_default_opts, the
 * server's default): the one place to change it. */
#define ET_EXPR_MODEL_DEFAULT ET_EXPR_MODEL_FACEAPI

/* "face-api", "emotune-1" (as the JSON's "model" and --expressions say it);
 * NULL for a value out of range. */
const char *et_vision_expr_model_name(et_expr_model m);

/* The model named `name` (also "emotune", the current emotune model);
 * ET_E_INVALID naming the choices otherwise. */
et_status et_vision_expr_model_parse(const char *name, et_expr_model *out, char *err);

/*
 * How faces are found (issue 19), apart from who reads them. FACEAPI (zero)
 * is face-api's TinyFaceDetector pass exactly, as the parity tests need.
 * TWO_PASS, emotune's default, is that pass and, only when it finds no face,
 * a second pass for faces that fill the picture (et_vision_detect): 96% of
 * the labelled faces used whole are found against face-api's 6%, with no
 * false face on 287 pictures with none (README "Faces that fill the picture").
 */
typedef enum et_detection {
    ET_DETECTION_FACEAPI = 0,
    ET_DETECTION_TWO_PASS,
    ET_DETECTION_COUNT
} et_detection;

/* "face-api", "two-pass" (as --detection and the JSON say it); NULL out of
 * range. */
const char *et_vision_detection_name(et_detection d);

/* The detection named `name`; ET_E_INVALID naming the choices otherwise. */
et_status et_vision_detection_parse(const char *name, et_detection *out, char *err);

typedef struct et_detect_opts {
    et_expr_model model;    /* who reads the expressions */
    et_detection detection; /* how the faces are found */
    int input_size;   /* multiple of 32 in [128, 608] */
    double min_score; /* a face's score must be above this, in (0, 1) */
    bool face_crop;   /* the whole image is one face: skip the detector */
} et_detect_opts;

/* emotune's default: the default reader (ET_EXPR_MODEL_DEFAULT), two-pass
 * detection, input size 416, minimum score 0.5. (Options zeroed but for the
 * input size and score are face-api's detection and reading exactly.) */
et_detect_opts et_vision_default_opts(void);

/* A reader named by the user (--expressions, ?expressions=): o->model = m,
 * and the detection that goes with it: face-api's own for face-api, so that
 * naming face-api gives face-api's answer exactly; two-pass for the others.
 * A detection named as well (--detection) is set after this. */
void et_vision_opts_name_reader(et_detect_opts *o, et_expr_model m);

/* ET_E_INVALID with a message when an option is out of range. */
et_status et_vision_check_opts(const et_detect_opts *o, char *err);

/* A box in pixels of the image (x, y is the top-left corner). */
typedef struct et_box {
    double x, y, width, height;
} et_box;

/* Which pass found a face. */
typedef enum et_face_pass {
    ET_FACE_PASS_FIRST = 0, /* face-api's detector as face-api runs it */
    ET_FACE_PASS_SECOND,    /* two-pass detection's second pass */
    ET_FACE_PASS_CROP,      /* none: face_crop, the whole image */
    ET_FACE_PASS_COUNT
} et_face_pass;

/* "face-api", "second-pass", "face-crop" (a face's "detection" in the JSON);
 * NULL out of range. */
const char *et_vision_face_pass_name(et_face_pass p);

typedef struct et_face {
    et_box box;
    double score;         /* detector score; 1 and has_score=false with face_crop */
    bool has_score;
    float expressions[ET_EXPR_COUNT]; /* probabilities, sum 1 */
    et_expression top;    /* the most probable expression */
    bool smiling;         /* top == ET_EXPR_HAPPY */
    et_expr_model model;  /* which model read the expressions */
    et_face_pass pass;    /* which pass found the face */
} et_face;

/*
 * Finds the faces in img and reads each one's expressions. Writes up to `cap`
 * faces to faces[] sorted by box area, largest first, and the number found
 * to *n (which may exceed cap: then the cap best-scoring faces are written).
 * A box lying wholly outside the picture is dropped.
 * With face-api detection (opts->detection == ET_DETECTION_FACEAPI) and the
 * face-api reader, the faces are face-api's exactly. With two-pass detection
 * (the default, whichever the reader), when that pass finds no face, a second
 * pass looks again with the picture shrunk into the middle of a square
 * canvas filled around it with the detector's mean colour, so that a face
 * filling the picture (a tight face crop) gets the size the detector knows;
 * its boxes are mapped back to the picture's pixels and clipped to it. It
 * costs about one more detector pass, and only on pictures where the first
 * finds nothing (bench/find_rate.c measures it). Each face's pass says which
 * found it.
 * Errors: ET_E_INVALID (options), ET_E_NOMEM (first use of an input size).
 */
et_status et_vision_detect(et_vision_ctx *ctx, const et_image *img, const et_detect_opts *opts,
                           et_face *faces, size_t cap, size_t *n, char *err);

/* The detector alone: boxes and scores in face-api's order (non-maximum
 * suppression order, best score first), up to cap, count in *n. */
et_status et_vision_find_faces(et_vision_ctx *ctx, const et_image *img, int input_size,
                               double min_score, et_face *faces, size_t cap, size_t *n,
                               char *err);

/* The expression net alone on one region of img (padded to a square, centred,
 * and resized to 112x112 as face-api does). */
et_status et_vision_read_expressions(et_vision_ctx *ctx, const et_image *img,
                                     et_image_rect region, float probs[ET_EXPR_COUNT],
                                     char *err);

/* The expression net's inner features: the 256 channels of its last block,
 * averaged over the 7x7 grid, which its fully connected layer reads. Also
 * writes the seven probabilities, equal to et_vision_read_expressions's.
 * For measuring and fitting other heads (bench/expr_features.c). */
#define ET_VISION_EXPR_FEATURES 256

/*
 * emotune-1's expression head (README "Expression models"; issue 13): its
 * inputs x are the expression net's 256 inner features and face-api's 7
 * log-probabilities (floored at ET_VISION_HEAD_LOG_FLOOR), each averaged over
 * the face and the same input mirrored left-right; u = (x - mean) / scale;
 * z = W u + bias; probabilities softmax(z / temperature), classes in
 * et_expression's order.
 * Its weights file, ET_VISION_HEAD_FILE (written by tools/train_expr.py), is
 * compiled into emotune; et_vision_models_load parses that copy.
 */
#define ET_VISION_HEAD_FILE "models/emotune-expressions-1.json"
#define ET_VISION_HEAD_MAX_BYTES (1 << 20)
#define ET_VISION_HEAD_INPUTS (ET_VISION_EXPR_FEATURES + ET_EXPR_COUNT)
#define ET_VISION_HEAD_LOG_FLOOR 1e-7
typedef struct et_vision_head et_vision_head;

/* Parses and checks a weights file's text (len bytes, no NUL needed): its
 * format, version, model, classes and their order, features, every array's
 * length, every number finite and within bounds, scale and temperature > 0.
 * ET_E_MODEL naming what is wrong; ET_E_NOMEM. Free with et_vision_head_free. */
et_status et_vision_head_parse(const char *json, size_t len, et_vision_head **out, char *err);
void et_vision_head_free(et_vision_head *h);

/* The head's inputs from both views (et_vision_expression_views). */
void et_vision_head_inputs(const float features[2][ET_VISION_EXPR_FEATURES],
                           const float probs[2][ET_EXPR_COUNT], float x[ET_VISION_HEAD_INPUTS]);

/* The head on inputs x: seven probabilities, sum 1. */
void et_vision_head_read(const et_vision_head *h, const float x[ET_VISION_HEAD_INPUTS],
                         float probs[ET_EXPR_COUNT]);

/* The weights file emotune was built with (its text, *len bytes). */
const char *et_vision_head_builtin(size_t *len);

/* Both views emotune-1 reads: the expression net's features (and
 * face-api's probabilities from them) of the region as
 * et_vision_read_expressions reads it, [0], and of that same input tensor
 * mirrored left-right, [1]. bench/expr_features.c writes them for training. */
et_status et_vision_expression_views(et_vision_ctx *ctx, const et_image *img,
                                     et_image_rect region,
                                     float features[2][ET_VISION_EXPR_FEATURES],
                                     float probs[2][ET_EXPR_COUNT], char *err);

/* The pixel region face-api crops for a detected box: the box clipped to the
 * image and floored (face-api Box.clipAtImageBorders). width or height may be
 * 0 when the box lies outside the image. */
et_image_rect et_vision_face_region(et_box box, int img_width, int img_height);

/* ---- Human's emotion net (issue 19) ----------------------------------------
 * The emotion net of @vladmandic/human 3.3.6 (models/emotion.json and .bin:
 * oarriaga's mini-Xception, a tfjs graph model), run by src/nn exactly as
 * tfjs runs it. It reads a 64x64 greyscale face; its seven classes are
 * returned in et_expression's order (Human's own order is angry, disgust,
 * fear, happy, sad, surprise, neutral).
 *
 * Its input, as Human 3.3.6 builds it (src/face/facemeshutil.ts cutAndResize,
 * src/gear/emotion.ts predict): the face box squared about its centre (side
 * the longer one, corners rounded as Math.round: squarifyBox), cut out and
 * resized to 192x192 by tf.image.cropAndResize (bilinear; samples outside
 * the picture are 0) and divided by 255, resized to 64x64 by
 * tf.image.resizeBilinear (which, 192 being 3 x 64, takes every third
 * sample), made grey as 0.2989 R + 0.5870 G + 0.1140 B, then (grey - 0.5) * 2.
 * Human's box comes from its own face detector; emotune gives it the region
 * it reads (et_vision_face_region of a detected box, or a whole face crop).
 */
#define ET_VISION_EMOTION_MODEL "emotion.json" /* in the models folder, with emotion.bin */
#define ET_EMOTION_INPUT 64                     /* the net's input side */
#define ET_EMOTION_CROP 192                     /* Human's face tensor side (facemesh input) */
/* Features: the 256 channels of the net's last block (the residual sum
 * after its second max pool, 8x8x256) averaged over the 8x8 grid: what its
 * classifier convolution reads. */
#define ET_EMOTION_FEATURES 256

/* Whether et_vision_models_load found and loaded the emotion net (it is
 * optional: absent files leave it out; present but broken ones fail the
 * load). */
bool et_vision_models_have_emotion(const et_vision_models *m);

/* The net's input for region of img, as above: ET_EMOTION_INPUT squared
 * floats, row by row. ET_E_INVALID for an empty region or one not inside
 * the picture. Reentrant; touches no context. */
et_status et_vision_emotion_input(const et_image *img, et_image_rect region,
                                  float input[ET_EMOTION_INPUT * ET_EMOTION_INPUT], char *err);

/* The net on an input (from et_vision_emotion_input, or any 64x64 tensor):
 * seven probabilities in et_expression's order (sum 1) and, when features is
 * not NULL, its ET_EMOTION_FEATURES features. ET_E_MODEL when the models
 * have no emotion net; ET_E_NOMEM on the context's first use of it. */
et_status et_vision_emotion_run(et_vision_ctx *ctx,
                                const float input[ET_EMOTION_INPUT * ET_EMOTION_INPUT],
                                float probs[ET_EXPR_COUNT], float *features, char *err);

/* Both: the emotion net's reading of region of img. */
et_status et_vision_emotion_read(et_vision_ctx *ctx, const et_image *img, et_image_rect region,
                                 float probs[ET_EXPR_COUNT], float *features, char *err);

/*
 * A listener's calibration example from a picture (calibration_views.c): the
 * largest face (found as et_vision_detect finds it in emotune-1 mode, with
 * its second pass for a face filling the picture), its emotune-1 head inputs
 * x (et_vision_head_inputs of et_vision_expression_views's two views) and
 * face-api's seven probabilities of the unmirrored view, and its box.
 * *found false (x and faceapi untouched) when there is no face. Errors:
 * those of et_vision_detect.
 */
et_status et_vision_calibration_example(et_vision_ctx *ctx, const et_image *img,
                                        float x[ET_VISION_HEAD_INPUTS],
                                        float faceapi[ET_EXPR_COUNT], et_box *box, bool *found,
                                        char *err);

#endif
