/*
 * EBU R128 loudness with libebur128, measured like FFmpeg's ebur128 filter
 * (libavfilter/af_ebur128.c): at the stream's own channels, LFE ignored,
 * side and back channels weighted 1.41 (ITU-R BS.1770-4), others 1.0, no
 * dual-mono doubling. FFmpeg resamples to 48 kHz first; libebur128 designs
 * its K-weighting filter for the actual rate, which agrees within a few
 * hundredths of an LU on music.
 *
 * EBUR128_MODE_HISTOGRAM keeps the gating blocks in fixed histograms (0.1 dB
 * bins) instead of a list that grows with the track: constant memory for a
 * ten-hour file.
 *
 * libebur128 1.2.6's ebur128_init rewrites a few static tables with the same
 * constants every time (ebur128.c, "initialize static constants"); we create
 * states under the planner lock so two inits never overlap.
 */
#include "audio/audio_internal.h"

#include <math.h>
#include <stdlib.h>

#include <ebur128.h>

#define ABSOLUTE_GATE_LUFS (-70.0)

struct et__audio_loudness {
    ebur128_state *st;
    AVChannelLayout layout;
    int rate;
};

et__audio_loudness *et__audio_loudness_new(void) { return calloc(1, sizeof(et__audio_loudness)); }

/* BS.1770 channel weights as FFmpeg assigns them from the layout. */
static int channel_kind(enum AVChannel ch)
{
    switch (ch) {
    case AV_CHAN_LOW_FREQUENCY:
    case AV_CHAN_LOW_FREQUENCY_2:
        return EBUR128_UNUSED;
    case AV_CHAN_BACK_LEFT:
    case AV_CHAN_BACK_CENTER:
    case AV_CHAN_BACK_RIGHT:
    case AV_CHAN_TOP_BACK_LEFT:
    case AV_CHAN_TOP_BACK_CENTER:
    case AV_CHAN_TOP_BACK_RIGHT:
    case AV_CHAN_SIDE_LEFT:
    case AV_CHAN_SIDE_RIGHT:
    case AV_CHAN_SURROUND_DIRECT_LEFT:
    case AV_CHAN_SURROUND_DIRECT_RIGHT:
        return EBUR128_LEFT_SURROUND; /* weight 1.41 */
    case AV_CHAN_FRONT_LEFT:
        return EBUR128_LEFT;
    case AV_CHAN_FRONT_RIGHT:
        return EBUR128_RIGHT;
    default:
        return EBUR128_CENTER; /* weight 1.0 */
    }
}

static et_status set_channel_map(et__audio_loudness *l, const AVChannelLayout *layout)
{
    for (int i = 0; i < layout->nb_channels; i++) {
        enum AVChannel ch = av_channel_layout_channel_from_index(layout, (unsigned)i);
        if (ebur128_set_channel(l->st, (unsigned)i, channel_kind(ch)) != EBUR128_SUCCESS)
            return ET_E_NOMEM;
    }
    return ET_OK;
}

/* Creates the meter, or adapts it to a new rate or layout mid-stream (the
 * measured history is kept). */
static et_status reconfigure(et__audio_loudness *l, const AVChannelLayout *layout, int rate,
                             char *err)
{
    int r = EBUR128_SUCCESS;
    unsigned ch = (unsigned)layout->nb_channels;
    if (!l->st) {
        et__audio_planner_lock();
        l->st = ebur128_init(ch, (unsigned long)rate,
                             EBUR128_MODE_I | EBUR128_MODE_LRA | EBUR128_MODE_HISTOGRAM);
        et__audio_planner_unlock();
        if (!l->st)
            return et_fail(err, ET_E_UNSUPPORTED,
                           "loudness meter: cannot start at %d Hz, %u channels", rate, ch);
    } else {
        r = ebur128_change_parameters(l->st, ch, (unsigned long)rate);
    }
    if ((r != EBUR128_SUCCESS && r != EBUR128_ERROR_NO_CHANGE) || set_channel_map(l, layout))
        return et_fail(err, ET_E_NOMEM, "loudness meter: cannot change to %d Hz, %u channels",
                       rate, ch);
    av_channel_layout_uninit(&l->layout);
    if (av_channel_layout_copy(&l->layout, layout) < 0)
        return et_fail(err, ET_E_NOMEM, "loudness meter: out of memory");
    l->rate = rate;
    return ET_OK;
}

et_status et__audio_loudness_add(et__audio_loudness *l, const float *x, size_t frames,
                                 const AVChannelLayout *layout, int rate, char *err)
{
    if (!l->st || rate != l->rate || av_channel_layout_compare(layout, &l->layout) != 0) {
        et_status s = reconfigure(l, layout, rate, err);
        if (s != ET_OK)
            return s;
    }
    if (ebur128_add_frames_float(l->st, x, frames) != EBUR128_SUCCESS)
        return et_fail(err, ET_E_NOMEM, "loudness meter: out of memory");
    return ET_OK;
}

void et__audio_loudness_result(et__audio_loudness *l, double *lufs, double *lra)
{
    double i = -HUGE_VAL, range = 0;
    if (l->st) {
        if (ebur128_loudness_global(l->st, &i) != EBUR128_SUCCESS)
            i = -HUGE_VAL;
        if (ebur128_loudness_range(l->st, &range) != EBUR128_SUCCESS)
            range = 0;
    }
    *lufs = isfinite(i) && i > ABSOLUTE_GATE_LUFS ? i : ABSOLUTE_GATE_LUFS;
    *lra = isfinite(range) && range > 0 ? range : 0;
}

void et__audio_loudness_free(et__audio_loudness *l)
{
    if (!l)
        return;
    if (l->st)
        ebur128_destroy(&l->st);
    av_channel_layout_uninit(&l->layout);
    free(l);
}
