/*
 * et_audio_probe: tags and stream facts from the headers, no decoding.
 *
 * The duration comes from the container and is believed only when the file
 * could hold that much audio: a corrupt header may claim anything (a WAV
 * whose data chunk says 4 GB, a Xing header saying 10^12 s).
 */
#include "audio/audio_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>

/* No real codec stores audio in fewer bits per second (codec2 at 450 b/s is
 * the thriftiest in FFmpeg): a longer claim is a corrupt header. */
enum { MIN_PLAUSIBLE_BITRATE = 256 };
#define MAX_PLAUSIBLE_SECONDS (100.0 * 3600.0)

static double container_duration(const AVFormatContext *fmt, const AVStream *st)
{
    if (fmt->duration != AV_NOPTS_VALUE && fmt->duration > 0)
        return (double)fmt->duration / AV_TIME_BASE;
    if (st->duration != AV_NOPTS_VALUE && st->duration > 0 && st->time_base.den > 0)
        return (double)st->duration * av_q2d(st->time_base);
    return 0;
}

/* Bytes per second of uncompressed PCM, 0 for other codecs. */
static double pcm_byte_rate(const AVCodecParameters *par)
{
    int bits = av_get_exact_bits_per_sample(par->codec_id);
    if (bits <= 0 || par->codec_id == AV_CODEC_ID_NONE)
        return 0;
    return (double)bits / 8.0 * par->ch_layout.nb_channels * par->sample_rate;
}

/* The container's duration, or a bound the file size puts on it, or 0. */
static double sane_duration(const et__audio_input *in, const AVStream *st)
{
    double d = container_duration(in->fmt, st);
    if (!isfinite(d) || d <= 0 || d > MAX_PLAUSIBLE_SECONDS)
        return 0;
    double bytes = (double)in->size;
    if (bytes > 0 && d > bytes * 8.0 / MIN_PLAUSIBLE_BITRATE)
        return 0;
    double pcm = pcm_byte_rate(st->codecpar);
    if (pcm > 0 && bytes > 0 && d > bytes / pcm + 0.05)
        return bytes / pcm; /* the header claims more samples than there are bytes */
    return d;
}

static bool has_cover(const AVFormatContext *fmt)
{
    for (unsigned i = 0; i < fmt->nb_streams; i++)
        if (fmt->streams[i]->disposition & AV_DISPOSITION_ATTACHED_PIC)
            return true;
    return false;
}

static et_status fill_info(const et__audio_input *in, et_audio_info *info, char *err)
{
    const AVStream *st = in->fmt->streams[in->stream];
    const AVCodecParameters *par = st->codecpar;
    snprintf(info->codec, sizeof info->codec, "%s", avcodec_get_name(par->codec_id));
    info->sample_rate = par->sample_rate;
    info->channels = par->ch_layout.nb_channels;
    info->duration = sane_duration(in, st);
    info->has_cover = has_cover(in->fmt);
    et_status s = et__audio_read_tags(in->fmt, st, info, err);
    if (s != ET_OK && err) {
        char tmp[ET_ERR_MAX];
        snprintf(tmp, sizeof tmp, "%s: %s", in->name, err);
        memcpy(err, tmp, sizeof tmp);
    }
    return s;
}

et_status et__audio_probe_source(const et__audio_source *src, et_audio_info *info, char *err)
{
    memset(info, 0, sizeof *info);
    et__audio_input in;
    et_status s = et__audio_open(src, &in, err);
    if (s != ET_OK)
        return s;
    s = fill_info(&in, info, err);
    et__audio_close(&in);
    if (s != ET_OK)
        et_audio_info_free(info);
    return s;
}

et_status et_audio_probe(const char *path, et_audio_info *info, char *err)
{
    if (!path || !info) {
        if (info)
            memset(info, 0, sizeof *info);
        return et_fail(err, ET_E_INVALID, "et_audio_probe: no path or no info");
    }
    et__audio_source src = {.path = path, .name = path};
    return et__audio_probe_source(&src, info, err);
}

et_status et__audio_probe_memory(const uint8_t *data, size_t size, et_audio_info *info,
                                 char *err)
{
    et__audio_source src = {.data = data, .size = size, .name = "<memory>"};
    return et__audio_probe_source(&src, info, err);
}

void et_audio_info_free(et_audio_info *info)
{
    if (!info)
        return;
    free(info->title);
    free(info->artist);
    free(info->album);
    free(info->album_artist);
    free(info->genre);
    memset(info, 0, sizeof *info);
}
