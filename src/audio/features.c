/*
 * The feature accumulator: every mono sample goes through the frame RMS here,
 * the spectrum (spectrum.c) and the rhythm (rhythm.c); finish turns the
 * running sums into et_audio_features, key included (key.c).
 *
 * RMS: 1024-sample frames (46 ms at 22050 Hz); mean of the frame RMS and its
 * coefficient of variation (standard deviation / mean), a measure of how much
 * the level moves.
 */
#include "audio/audio_internal.h"

#include <math.h>
#include <stdlib.h>

struct et__audio_feat {
    double frame_sumsq;
    size_t frame_fill;
    double rms_sum, rms_sumsq;
    long rms_frames;
    et__audio_spectrum *spectrum;
    et__audio_rhythm *rhythm;
};

et_status et__audio_feat_new(et__audio_feat **out, char *err)
{
    et__audio_feat *a = calloc(1, sizeof *a);
    if (a) {
        a->spectrum = et__audio_spectrum_new();
        a->rhythm = et__audio_rhythm_new();
    }
    if (!a || !a->spectrum || !a->rhythm) {
        et__audio_feat_free(a);
        *out = NULL;
        return et_fail(err, ET_E_NOMEM, "audio analysis: out of memory");
    }
    *out = a;
    return ET_OK;
}

void et__audio_feat_free(et__audio_feat *a)
{
    if (!a)
        return;
    et__audio_spectrum_free(a->spectrum);
    et__audio_rhythm_free(a->rhythm);
    free(a);
}

static void push_rms(et__audio_feat *a, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        a->frame_sumsq += (double)x[i] * x[i];
        if (++a->frame_fill == ET_AUDIO_RMS_FRAME) {
            double rms = sqrt(a->frame_sumsq / ET_AUDIO_RMS_FRAME);
            a->rms_sum += rms;
            a->rms_sumsq += rms * rms;
            a->rms_frames++;
            a->frame_sumsq = 0;
            a->frame_fill = 0;
        }
    }
}

void et__audio_feat_push(et__audio_feat *a, const float *x, size_t n)
{
    push_rms(a, x, n);
    et__audio_spectrum_push(a->spectrum, x, n);
    et__audio_rhythm_push(a->rhythm, x, n);
}

static void finish_rms(const et__audio_feat *a, et_audio_features *f)
{
    if (a->rms_frames == 0)
        return;
    double mean = a->rms_sum / a->rms_frames;
    double var = fmax(0.0, a->rms_sumsq / a->rms_frames - mean * mean);
    f->rms = mean;
    f->rms_var = mean > 1e-9 ? sqrt(var) / mean : 0;
}

void et__audio_feat_finish(et__audio_feat *a, et_audio_features *f)
{
    finish_rms(a, f);
    et__audio_spectrum_finish(a->spectrum, f);
    et__audio_rhythm_finish(a->rhythm, f);
    et__audio_key_from_chroma(f->chroma, &f->key, &f->major, &f->key_confidence);
}
