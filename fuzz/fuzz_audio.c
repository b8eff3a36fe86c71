/* Fuzz target: any bytes through the audio module's probe (format recognition
 * by content, tags, durations) and full analysis (demuxing, decoding, both
 * resamplers, loudness, spectrum, rhythm, key), read from memory through the
 * same AVIOContext path the files use. A 10 s limit on decoded audio keeps
 * each input cheap. What comes out must keep the API's promises: valid UTF-8
 * tags, finite features in their ranges, a mood in [-1, 1]. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>

#include "audio/audio_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_tag(const char *s)
{
    if (s && (!et__audio_utf8_valid(s, strlen(s)) || strlen(s) > ET__AUDIO_TAG_MAX || !*s))
        abort();
}

static void check_info(const et_audio_info *info)
{
    const char *tags[] = {info->title, info->artist, info->album, info->album_artist,
                          info->genre};
    for (size_t i = 0; i < sizeof tags / sizeof *tags; i++)
        check_tag(tags[i]);
    if (!isfinite(info->duration) || info->duration < 0 || info->sample_rate <= 0 ||
        info->channels <= 0 || !memchr(info->codec, '\0', sizeof info->codec))
        abort();
}

static bool in01(double x) { return x >= 0 && x <= 1; }

static void check_features(const et_audio_features *f)
{
    const double v[] = {f->seconds,  f->loudness, f->loudness_range, f->rms,      f->rms_var,
                        f->tempo,    f->onset_rate, f->centroid,     f->rolloff};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++)
        if (!isfinite(v[i]))
            abort();
    if (f->seconds <= 0 || f->loudness < -70 || !in01(f->tempo_confidence) ||
        !in01(f->flatness) || !in01(f->key_confidence) || f->key < 0 || f->key > 11)
        abort();
    for (int i = 0; i < 12; i++)
        if (!in01(f->chroma[i]))
            abort();
    double valence, arousal;
    et_audio_estimate_mood(f, "metal", &valence, &arousal);
    if (!(fabs(valence) <= 1 && fabs(arousal) <= 1))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* FFmpeg's log level is process-wide; a fuzzing process may set it. */
    av_log_set_level(AV_LOG_QUIET);
    static const et__audio_limits limits = {.max_seconds = 10, .max_consecutive_errors = 64};
    char err[ET_ERR_MAX];
    et_audio_info info;
    if (et__audio_probe_memory(data, size, &info, err) == ET_OK) {
        check_info(&info);
        et_audio_info_free(&info);
    }
    et_audio_features f;
    if (et__audio_analyze_memory(data, size, &limits, &f, err) == ET_OK)
        check_features(&f);
    return 0;
}
