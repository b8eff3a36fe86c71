/* emotune-1, the opt-in expression model (issue 13): a calibrated linear
 * head on the expression net's pooled features and face-api's
 * log-probabilities, averaged over the face and its mirror image. Its weights file is models/emotune-expressions-1.json,
 * written by tools/train_expr.py (the recipe: tools/expr_head.py) and
 * compiled into emotune (head_json.c); this file checks it and runs it. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vision/vision_internal.h"

#define HEAD_FORMAT "emotune-expression-head"
#define HEAD_VERSION 1
#define HEAD_FEATURES "face-api-expression-net-256-and-log-probabilities-7-mirror-mean"
/* No trained value comes near these; beyond them the sums could overflow. */
#define HEAD_MAX_ABS 1e6
#define HEAD_MIN_SCALE 1e-6
#define HEAD_MIN_TEMPERATURE 1e-3
#define HEAD_MAX_TEMPERATURE 1e3

static const char *const head_keys[] = {
    "format", "version", "model", "classes", "features", "mean",
    "scale", "weights", "bias", "temperature", "training",
};

#define HEAD_ERR "expression head: "

static et_status check_string(const json_t *doc, const char *key, const char *want, char *err)
{
    const char *got = json_string_value(json_object_get(doc, key));
    if (!got || strcmp(got, want) != 0)
        return et_fail(err, ET_E_MODEL, HEAD_ERR "\"%s\" must be \"%s\"", key, want);
    return ET_OK;
}

/* A finite number within the limits, into *out. */
static et_status take_number(const json_t *v, const char *what, size_t i, double min, double max,
                             double *out, char *err)
{
    double x = json_number_value(v);
    if (!json_is_number(v) || !isfinite(x) || x < min || x > max)
        return et_fail(err, ET_E_MODEL, HEAD_ERR "%s[%zu] must be a number from %g to %g",
                       what, i, min, max);
    *out = x;
    return ET_OK;
}

/* An array of exactly n numbers in [min, max] into out. */
static et_status take_array(const json_t *arr, const char *what, size_t n, double min,
                            double max, double *out, char *err)
{
    if (!json_is_array(arr) || json_array_size(arr) != n)
        return et_fail(err, ET_E_MODEL, HEAD_ERR "\"%s\" must be an array of %zu numbers",
                       what, n);
    for (size_t i = 0; i < n; i++) {
        et_status s = take_number(json_array_get(arr, i), what, i, min, max, &out[i], err);
        if (s != ET_OK)
            return s;
    }
    return ET_OK;
}

/* Only the keys of version 1, so that a misspelt one is not silently unused. */
static et_status check_keys(const json_t *doc, char *err)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)doc, key, v) {
        size_t k = 0;
        while (k < sizeof head_keys / sizeof *head_keys && strcmp(key, head_keys[k]) != 0)
            k++;
        if (k == sizeof head_keys / sizeof *head_keys)
            return et_fail(err, ET_E_MODEL, HEAD_ERR "unknown key \"%.64s\"", key);
    }
    return ET_OK;
}

/* "classes": the seven names in et_expression's order. */
static et_status check_classes(const json_t *classes, char *err)
{
    bool ok = json_is_array(classes) && json_array_size(classes) == ET_EXPR_COUNT;
    for (size_t i = 0; ok && i < ET_EXPR_COUNT; i++) {
        const char *c = json_string_value(json_array_get(classes, i));
        ok = c && strcmp(c, et_vision_expression_name((et_expression)i)) == 0;
    }
    if (!ok)
        return et_fail(err, ET_E_MODEL, HEAD_ERR "\"classes\" must be neutral, "
                       "happy, sad, angry, fearful, disgusted, surprised, in that order");
    return ET_OK;
}

static et_status check_header(const json_t *doc, char *err)
{
    et_status s;
    if (!json_is_object(doc))
        return et_fail(err, ET_E_MODEL, HEAD_ERR "not a JSON object");
    if ((s = check_keys(doc, err)) != ET_OK ||
        (s = check_string(doc, "format", HEAD_FORMAT, err)) != ET_OK)
        return s;
    const json_t *v = json_object_get(doc, "version");
    if (!json_is_integer(v) || json_integer_value(v) != HEAD_VERSION)
        return et_fail(err, ET_E_MODEL, HEAD_ERR "\"version\" must be %d", HEAD_VERSION);
    if ((s = check_string(doc, "model", et_vision_expr_model_name(ET_EXPR_MODEL_EMOTUNE),
                          err)) != ET_OK ||
        (s = check_string(doc, "features", HEAD_FEATURES, err)) != ET_OK ||
        (s = check_classes(json_object_get(doc, "classes"), err)) != ET_OK)
        return s;
    if (!json_is_object(json_object_get(doc, "training")))
        return et_fail(err, ET_E_MODEL,
                       HEAD_ERR "\"training\" must be an object (how the weights were fitted)");
    return ET_OK;
}

static et_status take_parameters(const json_t *doc, et_vision_head *h, char *err)
{
    const double m = HEAD_MAX_ABS;
    et_status s;
    if ((s = take_array(json_object_get(doc, "mean"), "mean", ET_VISION_HEAD_INPUTS, -m, m,
                        h->mean, err)) != ET_OK ||
        (s = take_array(json_object_get(doc, "scale"), "scale", ET_VISION_HEAD_INPUTS,
                        HEAD_MIN_SCALE, m, h->scale, err)) != ET_OK ||
        (s = take_array(json_object_get(doc, "bias"), "bias", ET_EXPR_COUNT, -m, m, h->bias,
                        err)) != ET_OK)
        return s;
    const json_t *w = json_object_get(doc, "weights");
    if (!json_is_array(w) || json_array_size(w) != ET_EXPR_COUNT)
        return et_fail(err, ET_E_MODEL,
                       HEAD_ERR "\"weights\" must be an array of 7 arrays (one per class)");
    for (size_t c = 0; c < ET_EXPR_COUNT; c++) {
        char what[32];
        snprintf(what, sizeof what, "weights[%zu]", c);
        if ((s = take_array(json_array_get(w, c), what, ET_VISION_HEAD_INPUTS, -m, m,
                            h->weights[c], err)) != ET_OK)
            return s;
    }
    return take_number(json_object_get(doc, "temperature"), "temperature", 0,
                       HEAD_MIN_TEMPERATURE, HEAD_MAX_TEMPERATURE, &h->temperature, err);
}

et_status et__head_parse(const char *json, size_t len, et_vision_head *h, char *err)
{
    if (len > ET_VISION_HEAD_MAX_BYTES)
        return et_fail(err, ET_E_MODEL, HEAD_ERR "%zu bytes, more than %d",
                       len, ET_VISION_HEAD_MAX_BYTES);
    json_error_t jerr;
    json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc)
        return et_fail(err, ET_E_MODEL, HEAD_ERR "line %d: %.120s",
                       jerr.line, jerr.text);
    et_status s = check_header(doc, err);
    if (s == ET_OK)
        s = take_parameters(doc, h, err);
    json_decref(doc);
    return s;
}

et_status et_vision_head_parse(const char *json, size_t len, et_vision_head **out, char *err)
{
    *out = NULL;
    et_vision_head *h = malloc(sizeof *h);
    if (!h)
        return et_fail(err, ET_E_NOMEM, "out of memory for an expression head");
    et_status s = et__head_parse(json, len, h, err);
    if (s != ET_OK) {
        free(h);
        return s;
    }
    *out = h;
    return ET_OK;
}

void et_vision_head_free(et_vision_head *h) { free(h); }

void et_vision_head_inputs(const float features[2][ET_VISION_EXPR_FEATURES],
                           const float probs[2][ET_EXPR_COUNT], float x[ET_VISION_HEAD_INPUTS])
{
    for (int i = 0; i < ET_VISION_EXPR_FEATURES; i++)
        x[i] = (features[0][i] + features[1][i]) / 2;
    for (int c = 0; c < ET_EXPR_COUNT; c++)
        x[ET_VISION_EXPR_FEATURES + c] =
            (float)((log(fmax(probs[0][c], ET_VISION_HEAD_LOG_FLOOR)) +
                     log(fmax(probs[1][c], ET_VISION_HEAD_LOG_FLOOR))) / 2);
}

void et_vision_head_read(const et_vision_head *h, const float x[ET_VISION_HEAD_INPUTS],
                         float probs[ET_EXPR_COUNT])
{
    double u[ET_VISION_HEAD_INPUTS], z[ET_EXPR_COUNT], top = -INFINITY, sum = 0;
    for (int i = 0; i < ET_VISION_HEAD_INPUTS; i++)
        u[i] = (x[i] - h->mean[i]) / h->scale[i];
    for (int c = 0; c < ET_EXPR_COUNT; c++) {
        double acc = h->bias[c];
        for (int i = 0; i < ET_VISION_HEAD_INPUTS; i++)
            acc += h->weights[c][i] * u[i];
        z[c] = acc / h->temperature;
        top = fmax(top, z[c]);
    }
    for (int c = 0; c < ET_EXPR_COUNT; c++)
        sum += z[c] = exp(z[c] - top);
    for (int c = 0; c < ET_EXPR_COUNT; c++)
        probs[c] = (float)(z[c] / sum);
}

/* Mirrors the expression net's input left-right in place (HWC rows). */
static void mirror_input(float *x, int n)
{
    for (int y = 0; y < n; y++) {
        float *row = x + (size_t)y * n * 3;
        for (int l = 0, r = n - 1; l < r; l++, r--)
            for (int c = 0; c < 3; c++) {
                float t = row[l * 3 + c];
                row[l * 3 + c] = row[r * 3 + c];
                row[r * 3 + c] = t;
            }
    }
}

void et__expression_views(et_vision_ctx *ctx, float features[2][ET__EXPR_FEATURES],
                          float probs[2][ET_EXPR_COUNT])
{
    for (int v = 0; v < 2; v++) {
        if (v == 1)
            mirror_input(ctx->expr_input, ET_FACE_EXPR_INPUT);
        et__expression_features(ctx, features[v]);
        et__expression_head(ctx, features[v], probs[v]);
    }
}

void et__expression_emotune(et_vision_ctx *ctx, float probs[ET_EXPR_COUNT])
{
    float views[2][ET__EXPR_FEATURES], face_api[2][ET_EXPR_COUNT], x[ET_VISION_HEAD_INPUTS];
    et__expression_views(ctx, views, face_api);
    et_vision_head_inputs(views, face_api, x);
    et_vision_head_read(&ctx->m->head, x, probs);
}
