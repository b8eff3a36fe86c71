/* Loading both networks and checking each tensor the graphs use. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vision/vision_internal.h"

et_status et__load_weights(const char *dir, const char *manifest, et_nn_weights **w, char *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, manifest);
    return et_nn_weights_load(path, w, err);
}

/* Points *data at the tensor `name` after checking its shape; the error names
 * the model file and the tensor. */
static et_status take(const et_nn_weights *w, const char *file, const char *name, int ndim,
                      const int *shape, const float **data, char *err)
{
    const et_nn_tensor *t;
    char why[ET_ERR_MAX];
    if (et_nn_weights_expect(w, name, ndim, shape, &t, why) != ET_OK)
        return et_fail(err, ET_E_MODEL, "%s: %s", file, why);
    *data = t->data;
    return ET_OK;
}

static et_status take_sep(const et_nn_weights *w, const char *file, const char *prefix, int cin,
                          int cout, et__sep_conv *c, char *err)
{
    char name[64];
    et_status s;
    c->cin = cin;
    c->cout = cout;
    snprintf(name, sizeof name, "%s/depthwise_filter", prefix);
    if ((s = take(w, file, name, 4, (int[]){3, 3, cin, 1}, &c->depthwise, err)) != ET_OK)
        return s;
    snprintf(name, sizeof name, "%s/pointwise_filter", prefix);
    if ((s = take(w, file, name, 4, (int[]){1, 1, cin, cout}, &c->pointwise, err)) != ET_OK)
        return s;
    snprintf(name, sizeof name, "%s/bias", prefix);
    return take(w, file, name, 1, (int[]){cout}, &c->bias, err);
}

et_status et__detector_load(const char *dir, et__detector *d, char *err)
{
    static const char *file = ET_VISION_DETECTOR_MANIFEST;
    const int head = ET__DET_ANCHORS * ET__DET_BOX_ENC;
    et_status s = et__load_weights(dir, file, &d->w, err);
    if (s != ET_OK)
        return s;
    const et_nn_weights *w = d->w;
    if ((s = take(w, file, "conv0/filters", 4, (int[]){3, 3, 3, ET__DET_CONV0_OUT},
                  &d->conv0_filters, err)) != ET_OK ||
        (s = take(w, file, "conv0/bias", 1, (int[]){ET__DET_CONV0_OUT}, &d->conv0_bias, err)) !=
            ET_OK)
        return s;
    int cin = ET__DET_CONV0_OUT;
    for (int i = 0; i < ET__DET_SEP_LAYERS; i++, cin *= 2) {
        char prefix[16];
        snprintf(prefix, sizeof prefix, "conv%d", i + 1);
        if ((s = take_sep(w, file, prefix, cin, cin * 2, &d->sep[i], err)) != ET_OK)
            return s;
    }
    d->head_cin = cin;
    if ((s = take(w, file, "conv8/filters", 4, (int[]){1, 1, cin, head}, &d->conv8_filters,
                  err)) != ET_OK)
        return s;
    return take(w, file, "conv8/bias", 1, (int[]){head}, &d->conv8_bias, err);
}

/* dense0: 3 -> 32 channels, dense1: 64, dense2: 128, dense3: 256. */
static et_status take_block(const et_nn_weights *w, const char *file, int b, int cin, int cout,
                            et__dense_block *blk, char *err)
{
    et_status s;
    blk->cin = cin;
    blk->cout = cout;
    for (int c = 0; c < 4; c++) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "dense%d/conv%d", b, c);
        if (b == 0 && c == 0) {
            if ((s = take(w, file, "dense0/conv0/filters", 4, (int[]){3, 3, cin, cout},
                          &blk->conv0_filters, err)) != ET_OK ||
                (s = take(w, file, "dense0/conv0/bias", 1, (int[]){cout}, &blk->conv0_bias,
                          err)) != ET_OK)
                return s;
        } else if ((s = take_sep(w, file, prefix, c == 0 ? cin : cout, cout, &blk->sep[c], err)) !=
                   ET_OK) {
            return s;
        }
    }
    return ET_OK;
}

et_status et__expression_load(const char *dir, et__expression_net *e, char *err)
{
    static const char *file = ET_VISION_EXPRESSION_MANIFEST;
    static const int channels[ET__EXPR_BLOCKS + 1] = {3, 32, 64, 128, ET__EXPR_FEATURES};
    et_status s = et__load_weights(dir, file, &e->w, err);
    if (s != ET_OK)
        return s;
    for (int b = 0; b < ET__EXPR_BLOCKS; b++)
        if ((s = take_block(e->w, file, b, channels[b], channels[b + 1], &e->block[b], err)) !=
            ET_OK)
            return s;
    if ((s = take(e->w, file, "fc/weights", 2, (int[]){ET__EXPR_FEATURES, ET_EXPR_COUNT},
                  &e->fc_weights, err)) != ET_OK)
        return s;
    return take(e->w, file, "fc/bias", 1, (int[]){ET_EXPR_COUNT}, &e->fc_bias, err);
}

/* The built-in weights of emotune-1; a failure is a build gone wrong. */
static et_status load_head(et_vision_head *h, char *err)
{
    char why[ET_ERR_MAX];
    if (et__head_parse(et__expr_head_json, et__expr_head_json_len, h, why) != ET_OK)
        return et_fail(err, ET_E_MODEL, "built-in %s: %s", ET_VISION_HEAD_FILE, why);
    return ET_OK;
}

et_status et_vision_models_load(const char *dir, et_vision_models **out, char *err)
{
    *out = NULL;
    et_vision_models *m = calloc(1, sizeof *m);
    if (!m)
        return et_fail(err, ET_E_NOMEM, "out of memory loading models");
    et_status s = et__detector_load(dir, &m->det, err);
    if (s == ET_OK)
        s = et__expression_load(dir, &m->expr, err);
    if (s == ET_OK)
        s = load_head(&m->head, err);
    if (s == ET_OK) /* optional: absent files leave it out (issue 19) */
        s = et__emotion_load(dir, &m->emo, err);
    if (s != ET_OK) {
        et_vision_models_free(m);
        return s;
    }
    *out = m;
    return ET_OK;
}

void et_vision_models_free(et_vision_models *m)
{
    if (!m)
        return;
    et_nn_weights_free(m->det.w);
    et_nn_weights_free(m->expr.w);
    et_nn_weights_free(m->emo.w);
    free(m);
}
