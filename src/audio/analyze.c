/*
 * et_audio_analyze and et_audio_decode_only: the decoder (decode.c) feeding
 * the feature accumulator (features.c) with the mono stream and the loudness
 * meter (loudness.c) with the native one.
 */
#include "audio/audio_internal.h"

#include <math.h>
#include <string.h>

typedef struct analysis {
    et__audio_feat *feat;
    et__audio_loudness *loudness;
} analysis;

static et_status on_mono(void *ctx, const float *x, size_t n, char *err)
{
    (void)err;
    et__audio_feat_push(((analysis *)ctx)->feat, x, n);
    return ET_OK;
}

static et_status on_native(void *ctx, const float *const *planes, size_t frames,
                           const AVChannelLayout *layout, int rate, char *err)
{
    return et__audio_loudness_add(((analysis *)ctx)->loudness, planes, frames, layout, rate,
                                  err);
}

/* Every feature finite, whatever the input did to the arithmetic. */
static void sanitise(et_audio_features *f)
{
    double *fields[] = {&f->seconds,  &f->loudness, &f->loudness_range,   &f->rms,
                        &f->rms_var,  &f->tempo,    &f->tempo_confidence, &f->onset_rate,
                        &f->centroid, &f->rolloff,  &f->flatness,         &f->key_confidence};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++)
        if (!isfinite(*fields[i]))
            *fields[i] = 0;
    for (int i = 0; i < 12; i++)
        if (!isfinite(f->chroma[i]))
            f->chroma[i] = 0;
}

et_status et__audio_analyze_source(const et__audio_source *src, const et__audio_limits *lim,
                                   const volatile sig_atomic_t *cancel, et_audio_features *f,
                                   char *err)
{
    memset(f, 0, sizeof *f);
    analysis a = {0};
    et_status s = et__audio_feat_new(&a.feat, err);
    if (s != ET_OK)
        return s;
    a.loudness = et__audio_loudness_new();
    if (!a.loudness) {
        et__audio_feat_free(a.feat);
        return et_fail(err, ET_E_NOMEM, "%s: out of memory", src->name);
    }
    et__audio_sink sink = {.ctx = &a, .mono = on_mono, .native = on_native};
    double seconds = 0;
    s = et__audio_decode(src, lim, cancel, &sink, &seconds, err);
    if (s == ET_OK) {
        et__audio_feat_finish(a.feat, f);
        et__audio_loudness_result(a.loudness, &f->loudness, &f->loudness_range);
        f->seconds = seconds;
        sanitise(f);
    }
    et__audio_loudness_free(a.loudness);
    et__audio_feat_free(a.feat);
    return s;
}

et_status et_audio_analyze(const char *path, const volatile sig_atomic_t *cancel,
                           et_audio_features *f, char *err)
{
    if (!path || !f) {
        if (f)
            memset(f, 0, sizeof *f);
        return et_fail(err, ET_E_INVALID, "et_audio_analyze: no path or no features");
    }
    et__audio_source src = {.path = path, .name = path};
    return et__audio_analyze_source(&src, &et__audio_default_limits, cancel, f, err);
}

et_status et__audio_analyze_memory(const uint8_t *data, size_t size,
                                   const et__audio_limits *lim, et_audio_features *f,
                                   char *err)
{
    et__audio_source src = {.data = data, .size = size, .name = "<memory>"};
    return et__audio_analyze_source(&src, lim, NULL, f, err);
}

static et_status discard(void *ctx, const float *x, size_t n, char *err)
{
    (void)ctx, (void)x, (void)n, (void)err;
    return ET_OK;
}

et_status et_audio_decode_only(const char *path, double *seconds, char *err)
{
    if (!path || !seconds) {
        if (seconds)
            *seconds = 0;
        return et_fail(err, ET_E_INVALID, "et_audio_decode_only: no path or no seconds");
    }
    et__audio_source src = {.path = path, .name = path};
    et__audio_sink sink = {.mono = discard};
    return et__audio_decode(&src, &et__audio_default_limits, NULL, &sink, seconds, err);
}
