/* From an image to faces with expressions, following face-api 1.7.15:
 * globalApi/DetectFacesTasks.ts (detectAllFaces with TinyFaceDetectorOptions),
 * tinyYolov2/TinyYolov2Base.ts (detect, extractBoxes), ops/nonMaxSuppression.ts,
 * dom/extractFaceTensors.ts and PredictFaceExpressionsTask. Box arithmetic is
 * done in double, as JavaScript does. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vision/vision_internal.h"

/* face-api tinyFaceDetector/const.ts */
static const double anchors[ET__DET_ANCHORS][2] = {
    {1.603231, 2.094468}, {6.041143, 7.080126}, {2.882459, 3.518061},
    {4.266906, 5.178857}, {9.041765, 10.66308},
};
#define DET_IOU_THRESHOLD 0.4
static const float det_mean_rgb[3] = {117.001f, 114.697f, 97.404f};
/* face-api faceFeatureExtractor/FaceFeatureExtractor.ts */
static const float expr_mean_rgb[3] = {122.782f, 117.001f, 104.298f};

static const char *expression_names[ET_EXPR_COUNT] = {
    "neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised",
};

const char *et_vision_expression_name(et_expression e)
{
    return (unsigned)e < ET_EXPR_COUNT ? expression_names[e] : NULL;
}

static const char *expr_model_names[ET_EXPR_MODEL_COUNT] = {"face-api", "emotune-1"};

const char *et_vision_expr_model_name(et_expr_model m)
{
    return (unsigned)m < ET_EXPR_MODEL_COUNT ? expr_model_names[m] : NULL;
}

et_status et_vision_expr_model_parse(const char *name, et_expr_model *out, char *err)
{
    if (strcmp(name, "emotune") == 0) {
        *out = ET_EXPR_MODEL_EMOTUNE;
        return ET_OK;
    }
    for (int m = 0; m < ET_EXPR_MODEL_COUNT; m++)
        if (strcmp(name, expr_model_names[m]) == 0) {
            *out = (et_expr_model)m;
            return ET_OK;
        }
    return et_fail(err, ET_E_INVALID, "unknown expression model '%.64s' (%s or %s)", name,
                   expr_model_names[0], expr_model_names[1]);
}

static const char *detection_names[ET_DETECTION_COUNT] = {"face-api", "two-pass"};

const char *et_vision_detection_name(et_detection d)
{
    return (unsigned)d < ET_DETECTION_COUNT ? detection_names[d] : NULL;
}

et_status et_vision_detection_parse(const char *name, et_detection *out, char *err)
{
    for (int d = 0; d < ET_DETECTION_COUNT; d++)
        if (strcmp(name, detection_names[d]) == 0) {
            *out = (et_detection)d;
            return ET_OK;
        }
    return et_fail(err, ET_E_INVALID, "unknown detection '%.64s' (%s or %s)", name,
                   detection_names[0], detection_names[1]);
}

static const char *face_pass_names[ET_FACE_PASS_COUNT] = {"face-api", "second-pass",
                                                          "face-crop"};

const char *et_vision_face_pass_name(et_face_pass p)
{
    return (unsigned)p < ET_FACE_PASS_COUNT ? face_pass_names[p] : NULL;
}

et_detect_opts et_vision_default_opts(void)
{
    return (et_detect_opts){
        .model = ET_EXPR_MODEL_DEFAULT,
        .detection = ET_DETECTION_TWO_PASS,
        .input_size = ET_DETECT_DEFAULT_INPUT_SIZE,
        .min_score = ET_DETECT_DEFAULT_MIN_SCORE,
        .face_crop = false,
    };
}

void et_vision_opts_name_reader(et_detect_opts *o, et_expr_model m)
{
    o->model = m;
    o->detection = m == ET_EXPR_MODEL_FACEAPI ? ET_DETECTION_FACEAPI : ET_DETECTION_TWO_PASS;
}

et_status et_vision_check_opts(const et_detect_opts *o, char *err)
{
    if (o->input_size < ET_DETECT_MIN_INPUT_SIZE || o->input_size > ET_DETECT_MAX_INPUT_SIZE ||
        o->input_size % 32 != 0)
        return et_fail(err, ET_E_INVALID, "input size %d must be a multiple of 32 from %d to %d",
                       o->input_size, ET_DETECT_MIN_INPUT_SIZE, ET_DETECT_MAX_INPUT_SIZE);
    if ((unsigned)o->model >= ET_EXPR_MODEL_COUNT)
        return et_fail(err, ET_E_INVALID, "unknown expression model %d", (int)o->model);
    if ((unsigned)o->detection >= ET_DETECTION_COUNT)
        return et_fail(err, ET_E_INVALID, "unknown detection %d", (int)o->detection);
    if (!(o->min_score > 0.0 && o->min_score < 1.0))
        return et_fail(err, ET_E_INVALID, "minimum score %g must be between 0 and 1 (exclusive)",
                       o->min_score);
    return ET_OK;
}

et_status et_vision_ctx_new(const et_vision_models *m, et_vision_ctx **out, char *err)
{
    *out = NULL;
    const et_nn_kernels *k;
    et_status st = et_nn_kernels_choose(getenv(ET_NN_CPU_ENV), &k, err);
    if (st != ET_OK)
        return st;
    *out = calloc(1, sizeof **out);
    if (!*out)
        return et_fail(err, ET_E_NOMEM, "out of memory for a vision context");
    (*out)->m = m;
    (*out)->k = k;
    return ET_OK;
}

void et_vision_ctx_use_kernels(et_vision_ctx *ctx, const et_nn_kernels *k) { ctx->k = k; }

const et_nn_kernels *et_vision_ctx_kernels(const et_vision_ctx *ctx) { return ctx->k; }

void et_vision_ctx_free(et_vision_ctx *ctx)
{
    if (!ctx)
        return;
    et__detector_release(ctx);
    free(ctx->cand);
    free(ctx->order);
    free(ctx->expr_input);
    for (int i = 0; i < ET__EXPR_BUFFERS; i++)
        free(ctx->expr_buf[i]);
    et_image_free(&ctx->canvas);
    et__emotion_release(ctx);
    free(ctx);
}

/* (x - mean) / 255 per channel, as face-api's normalize() then div(255). */
static void normalise(float *x, size_t pixels, const float mean[3])
{
    for (size_t i = 0; i < pixels; i++)
        for (int c = 0; c < 3; c++)
            x[i * 3 + c] = (x[i * 3 + c] - mean[c]) / 255.0f;
}

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

/* JavaScript's Math.round: halves round up. */
static double js_round(double x) { return floor(x + 0.5); }

/* extractBoxes: candidates above min_score in row, column, anchor order, as
 * boxes relative to the image (the correction factors undo the padding). */
static size_t decode_boxes(et_vision_ctx *ctx, const float *head, int cells, int size,
                           int img_w, int img_h, double min_score)
{
    double scale = (double)size / (img_w > img_h ? img_w : img_h);
    double rw = js_round(img_w * scale), rh = js_round(img_h * scale);
    double side = rw > rh ? rw : rh;
    double cx = side / rw, cy = side / rh;
    size_t n = 0;
    for (int row = 0; row < cells; row++) {
        for (int col = 0; col < cells; col++) {
            const float *cell = head + ((size_t)row * cells + col) * ET__DET_ANCHORS * ET__DET_BOX_ENC;
            for (int a = 0; a < ET__DET_ANCHORS; a++) {
                const float *e = cell + a * ET__DET_BOX_ENC;
                double score = sigmoid(e[4]);
                if (!(score > min_score))
                    continue;
                double ctx_x = ((col + sigmoid(e[0])) / cells) * cx;
                double ctx_y = ((row + sigmoid(e[1])) / cells) * cy;
                double w = ((exp(e[2]) * anchors[a][0]) / cells) * cx;
                double h = ((exp(e[3]) * anchors[a][1]) / cells) * cy;
                double x = ctx_x - w / 2, y = ctx_y - h / 2;
                ctx->cand[n++] = (et__candidate){x, y, x + w, y + h, score};
            }
        }
    }
    return n;
}

/* IoU of two candidates scaled by s (face-api rescales to the input size
 * before suppression; ops/iou.ts). */
static double iou(const et__candidate *a, const et__candidate *b, double s)
{
    double al = a->left * s, at = a->top * s, ar = al + (a->right - a->left) * s,
           ab = at + (a->bottom - a->top) * s;
    double bl = b->left * s, bt = b->top * s, br = bl + (b->right - b->left) * s,
           bb = bt + (b->bottom - b->top) * s;
    double w = fmax(0.0, fmin(ar, br) - fmax(al, bl));
    double h = fmax(0.0, fmin(ab, bb) - fmax(at, bt));
    double inter = w * h;
    double area_a = (ar - al) * (ab - at), area_b = (br - bl) * (bb - bt);
    return inter / (area_a + area_b - inter);
}

/* Stable ascending sort of indices by score (JavaScript's sort is stable). */
static void sort_by_score(const et__candidate *c, int *idx, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        int v = idx[i];
        size_t j = i;
        while (j > 0 && c[idx[j - 1]].score > c[v].score) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = v;
    }
}

/* ops/nonMaxSuppression.ts: repeatedly take the best remaining (the last of
 * the ascending order) and drop those overlapping it by more than the
 * threshold. Writes the kept indices, best first, to the front of idx. */
static size_t suppress(const et__candidate *c, int *idx, size_t n, double scale)
{
    for (size_t i = 0; i < n; i++)
        idx[i] = (int)i;
    sort_by_score(c, idx, n);
    size_t kept = 0, remaining = n;
    /* Remaining candidates live in idx[kept .. kept+remaining), ascending; a
     * pick is moved to idx[kept]. */
    while (remaining > 0) {
        int cur = idx[kept + remaining - 1];
        size_t w = kept;
        for (size_t r = kept; r < kept + remaining - 1; r++)
            if (iou(&c[cur], &c[idx[r]], scale) <= DET_IOU_THRESHOLD)
                idx[w++] = idx[r];
        /* Survivors keep their ascending order one place further on; the pick
         * goes in front of them. */
        memmove(&idx[kept + 1], &idx[kept], (w - kept) * sizeof *idx);
        idx[kept] = cur;
        remaining = w - kept;
        kept++;
    }
    return kept;
}

et_image_rect et_vision_face_region(et_box box, int img_width, int img_height)
{
    /* classes/Box.ts clipAtImageBorders, then floor() of x, y, width, height. */
    double x = fmax(box.x, 0.0), y = fmax(box.y, 0.0);
    double w = fmin(box.x + box.width - x, img_width - x);
    double h = fmin(box.y + box.height - y, img_height - y);
    et_image_rect r = {(int)floor(x), (int)floor(y), (int)floor(w), (int)floor(h)};
    if (r.width < 0 || r.height < 0 || r.x >= img_width || r.y >= img_height)
        r.width = r.height = 0;
    return r;
}

et_status et_vision_find_faces(et_vision_ctx *ctx, const et_image *img, int input_size,
                               double min_score, et_face *faces, size_t cap, size_t *n,
                               char *err)
{
    *n = 0;
    et_detect_opts o = {.input_size = input_size, .min_score = min_score};
    et_status s = et_vision_check_opts(&o, err);
    if (s == ET_OK)
        s = et__detector_prepare(ctx, input_size, err);
    if (s != ET_OK)
        return s;
    et_image_rect all = {0, 0, img->width, img->height};
    s = et_image_to_square_tensor(img, all, input_size, false, ctx->det.input, err);
    if (s != ET_OK)
        return s;
    normalise(ctx->det.input, (size_t)input_size * input_size, det_mean_rgb);
    int cells;
    const float *head = et__detector_forward(ctx, &cells);
    size_t count = decode_boxes(ctx, head, cells, input_size, img->width, img->height, min_score);
    size_t kept = suppress(ctx->cand, ctx->order, count, input_size);
    for (size_t i = 0; i < kept && i < cap; i++) {
        const et__candidate *c = &ctx->cand[ctx->order[i]];
        /* ObjectDetection: the relative box rescaled to the image size. */
        faces[i] = (et_face){
            .box = {c->left * img->width, c->top * img->height,
                    (c->right - c->left) * img->width, (c->bottom - c->top) * img->height},
            .score = c->score,
            .has_score = true,
        };
    }
    *n = kept;
    return ET_OK;
}

/* The region as the expression net's input: squared, resized, normalised. */
static et_status expression_input(et_vision_ctx *ctx, const et_image *img, et_image_rect region,
                                  char *err)
{
    et_status s = et__expression_prepare(ctx, err);
    if (s == ET_OK)
        s = et_image_to_square_tensor(img, region, ET_FACE_EXPR_INPUT, true, ctx->expr_input,
                                      err);
    if (s == ET_OK)
        normalise(ctx->expr_input, (size_t)ET_FACE_EXPR_INPUT * ET_FACE_EXPR_INPUT,
                  expr_mean_rgb);
    return s;
}

et_status et_vision_read_expressions(et_vision_ctx *ctx, const et_image *img,
                                     et_image_rect region, float probs[ET_EXPR_COUNT],
                                     char *err)
{
    et_status s = expression_input(ctx, img, region, err);
    if (s == ET_OK)
        et__expression_forward(ctx, probs);
    return s;
}

et_status et_vision_expression_views(et_vision_ctx *ctx, const et_image *img,
                                     et_image_rect region,
                                     float features[2][ET_VISION_EXPR_FEATURES],
                                     float probs[2][ET_EXPR_COUNT], char *err)
{
    et_status s = expression_input(ctx, img, region, err);
    if (s != ET_OK)
        return s;
    et__expression_views(ctx, features, probs);
    return ET_OK;
}

static void set_top(et_face *f, et_expr_model model)
{
    int top = 0;
    for (int i = 1; i < ET_EXPR_COUNT; i++)
        if (f->expressions[i] > f->expressions[top])
            top = i;
    f->top = (et_expression)top;
    f->smiling = top == ET_EXPR_HAPPY;
    f->model = model;
}

/* The expressions of one face's region as `model` reads them. */
static et_status read_face(et_vision_ctx *ctx, const et_image *img, et_image_rect region,
                           et_expr_model model, et_face *f, char *err)
{
    et_status s = expression_input(ctx, img, region, err);
    if (s != ET_OK)
        return s;
    if (model == ET_EXPR_MODEL_FACEAPI)
        et__expression_forward(ctx, f->expressions);
    else
        et__expression_emotune(ctx, f->expressions);
    set_top(f, model);
    return ET_OK;
}

static int by_area_desc(const void *pa, const void *pb)
{
    const et_face *a = pa, *b = pb;
    double aa = a->box.width * a->box.height, ab = b->box.width * b->box.height;
    if (aa != ab)
        return aa < ab ? 1 : -1;
    return a->score < b->score ? 1 : a->score > b->score ? -1 : 0;
}

et_status et_vision_detect(et_vision_ctx *ctx, const et_image *img, const et_detect_opts *opts,
                           et_face *faces, size_t cap, size_t *n, char *err)
{
    *n = 0;
    et_status s = et_vision_check_opts(opts, err);
    if (s != ET_OK)
        return s;
    if (opts->face_crop) {
        if (cap == 0) {
            *n = 1;
            return ET_OK;
        }
        faces[0] = (et_face){.box = {0, 0, img->width, img->height}, .score = 1.0,
                             .pass = ET_FACE_PASS_CROP};
        et_image_rect all = {0, 0, img->width, img->height};
        s = read_face(ctx, img, all, opts->model, &faces[0], err);
        if (s != ET_OK)
            return s;
        *n = 1;
        return ET_OK;
    }
    size_t found;
    s = et_vision_find_faces(ctx, img, opts->input_size, opts->min_score, faces, cap, &found, err);
    if (s == ET_OK && found == 0 && opts->detection == ET_DETECTION_TWO_PASS)
        s = et__find_faces_again(ctx, img, opts, faces, cap, &found, err);
    if (s != ET_OK)
        return s;
    size_t written = found < cap ? found : cap, kept = 0;
    for (size_t i = 0; i < written; i++) {
        et_image_rect r = et_vision_face_region(faces[i].box, img->width, img->height);
        if (r.width <= 0 || r.height <= 0)
            continue; /* a box wholly outside the picture: nothing to read */
        faces[kept] = faces[i];
        s = read_face(ctx, img, r, opts->model, &faces[kept++], err);
        if (s != ET_OK)
            return s;
    }
    found -= written - kept;
    written = kept;
    qsort(faces, written, sizeof *faces, by_area_desc);
    *n = found;
    return ET_OK;
}
