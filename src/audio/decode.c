/*
 * The streaming decoder: packets from the demuxer, frames from the decoder,
 * and for each frame
 *   mono   -> mono float at ET_AUDIO_RATE (libswresample), for the analysis;
 *   native -> planar float at the stream's own rate and channel layout, for
 *             the loudness meter (EBU R128 sums the power of the channels: a
 *             downmix would change the result by up to 3 dB). Decoders of
 *             lossy formats (Vorbis, Opus, AAC, MP3) already output planar
 *             float: their frames go to the meter as they are. Other sample
 *             formats are converted by a second libswresample context that
 *             only changes the sample format (same rate and layout).
 * Memory holds one packet and one frame at a time, whatever the length.
 *
 * Corrupt input is bounded three ways: a run of undecodable packets stops
 * the decoding (ET_E_CORRUPT), so does a demuxer that keeps producing
 * packets without reading bytes, and decoded audio longer than the limit
 * stops it with ET_E_TOO_LARGE.
 */
#include "audio/audio_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>

/* Decoder messages are demoted this many levels: errors show at
 * AV_LOG_VERBOSE, warnings at AV_LOG_DEBUG, so a broken file does not spill
 * "[mp3float @ 0x...] Header missing" on the terminal unless asked for. */
enum { CODEC_LOG_OFFSET = AV_LOG_VERBOSE - AV_LOG_ERROR };
/* av_read_frame may ask to be called again; this many times in a row ends. */
enum { MAX_EAGAIN = 1000 };
/* Packets a demuxer may produce beyond one per input byte. */
enum { PACKET_SLACK = 100000 };

const et__audio_limits et__audio_default_limits = {
    .max_seconds = 48.0 * 3600.0,
    .max_consecutive_errors = 64,
};

typedef struct resampler {
    SwrContext *swr;
    float *buf;   /* output: interleaved, or planar with cap frames per plane */
    int cap;      /* frames buf holds */
    int channels; /* of the output */
    bool planar;
    const float *planes[ET__AUDIO_MAX_CHANNELS]; /* into buf, when planar */
} resampler;

typedef struct decoder {
    et__audio_input in;
    AVCodecContext *codec;
    AVPacket *pkt;
    AVFrame *frame;
    /* what the resamplers were built for */
    int in_format, in_rate;
    AVChannelLayout in_layout;
    resampler mono, native;
    const et__audio_sink *sink;
    const et__audio_limits *lim;
    const volatile sig_atomic_t *cancel;
    double seconds;
    int64_t frames_decoded;
    int bad_in_a_row;
} decoder;

static bool cancelled(const decoder *d) { return d->cancel && *d->cancel; }

static et_status fail_cancelled(const decoder *d, char *err)
{
    return et_fail(err, ET_E_INVALID, "%s: cancelled", d->in.name);
}

static et_status open_codec(decoder *d, char *err)
{
    const AVStream *st = d->in.fmt->streams[d->in.stream];
    const AVCodec *dec = avcodec_find_decoder(st->codecpar->codec_id);
    if (!dec) /* et__audio_open checked, but a stream may lack one after all */
        return et_fail(err, ET_E_UNSUPPORTED, "%s: no decoder for %s", d->in.name,
                       avcodec_get_name(st->codecpar->codec_id));
    d->codec = avcodec_alloc_context3(dec);
    d->pkt = av_packet_alloc();
    d->frame = av_frame_alloc();
    if (!d->codec || !d->pkt || !d->frame)
        return et_fail(err, ET_E_NOMEM, "%s: out of memory", d->in.name);
    if (avcodec_parameters_to_context(d->codec, st->codecpar) < 0)
        return et_fail(err, ET_E_NOMEM, "%s: out of memory", d->in.name);
    d->codec->pkt_timebase = st->time_base;
    d->codec->thread_count = 1; /* callers parallelise across files */
    d->codec->log_level_offset = CODEC_LOG_OFFSET;
    int ret = avcodec_open2(d->codec, dec, NULL);
    if (ret < 0)
        return et_fail(err, ret == AVERROR(ENOMEM) ? ET_E_NOMEM : ET_E_CORRUPT,
                       "%s: cannot open the %s decoder (%s)", d->in.name, dec->name,
                       av_err2str(ret));
    return ET_OK;
}

/* --- resampling ------------------------------------------------------------ */

static void resampler_free(resampler *r)
{
    swr_free(&r->swr);
    free(r->buf);
    *r = (resampler){0};
}

/* FFmpeg 5.1's swr_alloc_set_opts2 takes its layouts without const. */
static et_status resampler_init(resampler *r, decoder *d, AVChannelLayout *out, int out_rate,
                                enum AVSampleFormat out_format, char *err)
{
    int ret = swr_alloc_set_opts2(&r->swr, out, out_format, out_rate, &d->in_layout,
                                  (enum AVSampleFormat)d->in_format, d->in_rate, 0, NULL);
    if (ret >= 0) {
        /* A downmix sums channels; scale it so identical channels keep their
         * level instead of gaining 3 or 6 dB (float output is not clipped). */
        av_opt_set_double(r->swr, "rematrix_maxval", 1.0, 0);
        ret = swr_init(r->swr);
    }
    if (ret < 0)
        return et_fail(err, ret == AVERROR(ENOMEM) ? ET_E_NOMEM : ET_E_UNSUPPORTED,
                       "%s: cannot convert %d channels of %s at %d Hz (%s)", d->in.name,
                       d->in_layout.nb_channels,
                       av_get_sample_fmt_name((enum AVSampleFormat)d->in_format), d->in_rate,
                       av_err2str(ret));
    r->channels = out->nb_channels;
    r->planar = av_sample_fmt_is_planar(out_format);
    return ET_OK;
}

/* Converts n input frames (in NULL: the resampler's delayed tail) into r->buf;
 * *out gets the number of output frames. */
static et_status convert(const decoder *d, resampler *r, const uint8_t **in, int n, int *out,
                         char *err)
{
    int need = swr_get_out_samples(r->swr, n);
    if (need < 0)
        return et_fail(err, ET_E_CORRUPT, "%s: resampler error", d->in.name);
    if (need > r->cap) {
        if ((size_t)need > SIZE_MAX / sizeof(float) / (size_t)r->channels)
            return et_fail(err, ET_E_TOO_LARGE, "%s: frame of %d samples", d->in.name, n);
        float *b = realloc(r->buf, (size_t)need * (size_t)r->channels * sizeof(float));
        if (!b)
            return et_fail(err, ET_E_NOMEM, "%s: out of memory", d->in.name);
        r->buf = b;
        r->cap = need;
        for (int c = 0; r->planar && c < r->channels; c++)
            r->planes[c] = r->buf + (size_t)c * (size_t)need;
    }
    uint8_t *dst[ET__AUDIO_MAX_CHANNELS];
    for (int c = 0; c < (r->planar ? r->channels : 1); c++)
        dst[c] = (uint8_t *)(r->buf + (size_t)c * (size_t)r->cap);
    *out = swr_convert(r->swr, dst, r->cap, in, n);
    if (*out < 0)
        return et_fail(err, ET_E_CORRUPT, "%s: resampler error (%s)", d->in.name,
                       av_err2str(*out));
    return ET_OK;
}

/* Hands the frame (in NULL: what the resamplers hold back) to the sink:
 * mono through its resampler; native as it is when it is planar float (no
 * converter then), else through the format converter. */
static et_status deliver(decoder *d, const uint8_t **in, int n, char *err)
{
    int got = 0;
    et_status s = convert(d, &d->mono, in, n, &got, err);
    if (s == ET_OK && got > 0)
        s = d->sink->mono(d->sink->ctx, d->mono.buf, (size_t)got, err);
    if (s != ET_OK || !d->sink->native)
        return s;
    if (!d->native.swr) {
        if (in && n > 0)
            s = d->sink->native(d->sink->ctx, (const float *const *)in, (size_t)n,
                                &d->in_layout, d->in_rate, err);
        return s;
    }
    s = convert(d, &d->native, in, n, &got, err);
    if (s == ET_OK && got > 0)
        s = d->sink->native(d->sink->ctx, d->native.planes, (size_t)got, &d->in_layout,
                            d->in_rate, err);
    return s;
}

/* Drains the resamplers' delayed samples (end of stream, format change). */
static et_status flush_resamplers(decoder *d, char *err)
{
    if (!d->mono.swr)
        return ET_OK;
    return deliver(d, NULL, 0, err);
}

/* The frame's channel layout in a form swresample can mix: an unspecified
 * order becomes the default layout for that many channels. */
static et_status frame_layout(const decoder *d, const AVFrame *fr, AVChannelLayout *out,
                              char *err)
{
    int n = fr->ch_layout.nb_channels;
    if (n <= 0 || n > ET__AUDIO_MAX_CHANNELS || fr->sample_rate < ET__AUDIO_MIN_RATE ||
        fr->sample_rate > ET__AUDIO_MAX_RATE)
        return et_fail(err, ET_E_CORRUPT, "%s: frame with %d channels at %d Hz", d->in.name,
                       n, fr->sample_rate);
    if (fr->ch_layout.order == AV_CHANNEL_ORDER_NATIVE)
        return av_channel_layout_copy(out, &fr->ch_layout) < 0
                   ? et_fail(err, ET_E_NOMEM, "%s: out of memory", d->in.name)
                   : ET_OK;
    av_channel_layout_default(out, n);
    if (out->order != AV_CHANNEL_ORDER_NATIVE)
        return et_fail(err, ET_E_UNSUPPORTED, "%s: %d channels with no known layout",
                       d->in.name, n);
    return ET_OK;
}

/* (Re)builds the resamplers when the frame's format differs from theirs. */
static et_status configure(decoder *d, const AVFrame *fr, char *err)
{
    AVChannelLayout layout = {0};
    et_status s = frame_layout(d, fr, &layout, err);
    if (s != ET_OK)
        return s;
    if (d->mono.swr && fr->format == d->in_format && fr->sample_rate == d->in_rate &&
        av_channel_layout_compare(&layout, &d->in_layout) == 0) {
        av_channel_layout_uninit(&layout);
        return ET_OK;
    }
    if ((s = flush_resamplers(d, err)) != ET_OK) {
        av_channel_layout_uninit(&layout);
        return s;
    }
    resampler_free(&d->mono);
    resampler_free(&d->native);
    av_channel_layout_uninit(&d->in_layout);
    d->in_layout = layout; /* takes ownership */
    d->in_format = fr->format;
    d->in_rate = fr->sample_rate;
    AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
    s = resampler_init(&d->mono, d, &mono, ET_AUDIO_RATE, AV_SAMPLE_FMT_FLT, err);
    bool planar_float = d->in_format == AV_SAMPLE_FMT_FLTP ||
                        (d->in_format == AV_SAMPLE_FMT_FLT && d->in_layout.nb_channels == 1);
    if (s == ET_OK && d->sink->native && !planar_float)
        s = resampler_init(&d->native, d, &d->in_layout, d->in_rate, AV_SAMPLE_FMT_FLTP, err);
    return s;
}

static et_status take_frame(decoder *d, char *err)
{
    const AVFrame *fr = d->frame;
    if (fr->nb_samples <= 0)
        return ET_OK;
    et_status s = configure(d, fr, err);
    if (s != ET_OK)
        return s;
    s = deliver(d, (const uint8_t **)fr->extended_data, fr->nb_samples, err);
    if (s != ET_OK)
        return s;
    d->frames_decoded += fr->nb_samples;
    d->seconds += (double)fr->nb_samples / fr->sample_rate;
    if (d->seconds > d->lim->max_seconds)
        return et_fail(err, ET_E_TOO_LARGE, "%s: longer than %.0f hours", d->in.name,
                       d->lim->max_seconds / 3600.0);
    return ET_OK;
}

static et_status count_error(decoder *d, int ret, char *err)
{
    if (ret == AVERROR(ENOMEM))
        return et_fail(err, ET_E_NOMEM, "%s: out of memory", d->in.name);
    if (++d->bad_in_a_row > d->lim->max_consecutive_errors)
        return et_fail(err, ET_E_CORRUPT, "%s: %d undecodable packets in a row at %.1f s (%s)",
                       d->in.name, d->bad_in_a_row, d->seconds, av_err2str(ret));
    return ET_OK;
}

/* Every frame the decoder has ready. */
static et_status receive_frames(decoder *d, char *err)
{
    for (;;) {
        if (cancelled(d))
            return fail_cancelled(d, err);
        int ret = avcodec_receive_frame(d->codec, d->frame);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return ET_OK;
        if (ret < 0)
            return count_error(d, ret, err);
        d->bad_in_a_row = 0;
        et_status s = take_frame(d, err);
        av_frame_unref(d->frame);
        if (s != ET_OK)
            return s;
    }
}

/* pkt NULL: flush the decoder. */
static et_status decode_packet(decoder *d, const AVPacket *pkt, char *err)
{
    int ret = avcodec_send_packet(d->codec, pkt);
    if (ret == AVERROR(EAGAIN)) { /* cannot happen when drained, but be safe */
        et_status s = receive_frames(d, err);
        if (s != ET_OK)
            return s;
        ret = avcodec_send_packet(d->codec, pkt);
    }
    if (ret < 0 && ret != AVERROR_EOF) {
        et_status s = count_error(d, ret, err);
        if (s != ET_OK)
            return s;
    }
    return receive_frames(d, err);
}

static et_status read_all(decoder *d, char *err)
{
    int64_t packets = 0, max_packets = d->in.size + PACKET_SLACK;
    int eagain = 0;
    for (;;) {
        if (cancelled(d))
            return fail_cancelled(d, err);
        int ret = av_read_frame(d->in.fmt, d->pkt);
        if (ret == AVERROR(EAGAIN) && ++eagain < MAX_EAGAIN)
            continue;
        if (ret < 0) /* end of file, or a read error: what was read stands */
            break;
        eagain = 0;
        if (++packets > max_packets) {
            av_packet_unref(d->pkt);
            return et_fail(err, ET_E_CORRUPT, "%s: demuxer is not progressing", d->in.name);
        }
        et_status s = ET_OK;
        if (d->pkt->stream_index == d->in.stream)
            s = decode_packet(d, d->pkt, err);
        av_packet_unref(d->pkt);
        if (s != ET_OK)
            return s;
    }
    if (d->in.io_errno)
        return et_fail(err, ET_E_IO, "%s: %s", d->in.name, strerror(d->in.io_errno));
    et_status s = decode_packet(d, NULL, err);
    return s == ET_OK ? flush_resamplers(d, err) : s;
}

static void decoder_free(decoder *d)
{
    resampler_free(&d->mono);
    resampler_free(&d->native);
    av_channel_layout_uninit(&d->in_layout);
    av_frame_free(&d->frame);
    av_packet_free(&d->pkt);
    avcodec_free_context(&d->codec);
    et__audio_close(&d->in);
}

et_status et__audio_decode(const et__audio_source *src, const et__audio_limits *lim,
                           const volatile sig_atomic_t *cancel, const et__audio_sink *sink,
                           double *seconds, char *err)
{
    *seconds = 0;
    decoder d = {.sink = sink, .lim = lim, .cancel = cancel, .in_format = -1};
    if (cancel && *cancel)
        return et_fail(err, ET_E_INVALID, "%s: cancelled", src->name);
    et_status s = et__audio_open(src, &d.in, err);
    if (s != ET_OK)
        return s;
    if ((s = open_codec(&d, err)) == ET_OK && (s = read_all(&d, err)) == ET_OK &&
        d.frames_decoded == 0)
        s = et_fail(err, ET_E_CORRUPT, "%s: no decodable audio", d.in.name);
    *seconds = d.seconds;
    decoder_free(&d);
    return s;
}
