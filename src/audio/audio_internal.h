/*
 * audio internals shared by the files of src/audio (not part of the public
 * API; the fuzz target and the tests may use it).
 *
 *   source.c    opens a file or a memory buffer through our own AVIOContext,
 *               recognises it by content only and finds its audio stream
 *   tags.c      tag strings: lookup, UTF-8 repair, year and track numbers
 *   probe.c     et_audio_probe: tags and stream facts, sane durations
 *   cover.c     et_audio_cover: the embedded picture's bytes
 *   decode.c    the streaming decoder, its resampler and format converter
 *   loudness.c  EBU R128 integrated loudness and loudness range (BS.1770-4)
 *   features.c  frame RMS, and the feature accumulator the analysis feeds
 *   spectrum.c  FFT features: centroid, rolloff, flatness, chroma
 *   rhythm.c    onsets (spectral flux) and tempo (autocorrelation of it)
 *   key.c       key and mode from chroma (Krumhansl-Kessler)
 *   analyze.c   et_audio_analyze and et_audio_decode_only
 *   planner.c   the lock around FFTW's (process-global) planner
 *   mood_model.c  et_audio_estimate_mood
 */
#ifndef ET_AUDIO_INTERNAL_H
#define ET_AUDIO_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <libavformat/avformat.h>

#include "audio/audio.h"

/* Analysis frame sizes, in samples at ET_AUDIO_RATE. */
enum {
    ET_AUDIO_RMS_FRAME = 1024, /* 46 ms */
    ET_AUDIO_FFT_SIZE = 2048,  /* 93 ms Hann window */
    ET_AUDIO_FFT_HOP = 1024,
    ET_AUDIO_ONSET_WIN = 1024, /* onset strength (spectral flux) and tempo */
    ET_AUDIO_ONSET_HOP = 512,  /* 23.2 ms */
};

/* Sample rates outside this range are a corrupt header, not audio: a
 * resampler from 16 MHz would spend a second building its filter. */
enum { ET__AUDIO_MIN_RATE = 1000, ET__AUDIO_MAX_RATE = 768000, ET__AUDIO_MAX_CHANNELS = 64 };

/* Where the bytes come from: a path, an open file (use_fd: fd, read from
 * its start through a duplicate, so the caller keeps it), or else a memory
 * buffer. `name` is what error messages call it. */
typedef struct et__audio_source {
    const char *path;
    const uint8_t *data;
    size_t size;
    const char *name;
    bool use_fd;
    int fd;
} et__audio_source;

/* Bounds on the work one file may cause. */
typedef struct et__audio_limits {
    double max_seconds;         /* of decoded audio; over it: ET_E_TOO_LARGE */
    int max_consecutive_errors; /* undecodable packets in a row: ET_E_CORRUPT */
} et__audio_limits;

/* The limits of the public functions: 48 hours, 64 bad packets in a row. */
extern const et__audio_limits et__audio_default_limits;

/* An opened input. The AVIOContext reads through callbacks whose opaque
 * pointer is this struct: it must not move between open and close. */
typedef struct et__audio_input {
    AVFormatContext *fmt;
    AVIOContext *avio;
    const char *name;
    int fd;               /* -1 for a memory source */
    const uint8_t *data;  /* memory source */
    int64_t pos;          /* memory source read position */
    int64_t size;         /* bytes in the file or buffer */
    int io_errno;         /* the first read error, 0 when none */
    int stream;           /* index of the audio stream */
    int probe_score;      /* libavformat's confidence in the format, 1..100 */
} et__audio_input;

/* Opens src, recognises its format by content (the name plays no part),
 * reads the stream parameters and picks the audio stream. Demuxers may not
 * open other files or URLs (playlists, references). Errors:
 * ET_E_IO (cannot read), ET_E_UNSUPPORTED (no audio, not recognised with
 * confidence, or no decoder), ET_E_CORRUPT (recognised but unreadable),
 * ET_E_NOMEM. On error nothing is left to close. */
et_status et__audio_open(const et__audio_source *src, et__audio_input *in, char *err);
void et__audio_close(et__audio_input *in);

/* et_audio_probe for any source. */
et_status et__audio_probe_source(const et__audio_source *src, et_audio_info *info, char *err);

/* The tags of info from the container's and the audio stream's metadata
 * (container first). Returns ET_E_NOMEM or ET_OK. */
et_status et__audio_read_tags(const AVFormatContext *fmt, const AVStream *st,
                              et_audio_info *info, char *err);

/* A tag value as an owned, valid UTF-8 string: surrounding white space
 * trimmed, invalid UTF-8 read as Latin-1, cut to at most ET__AUDIO_TAG_MAX
 * bytes at a character boundary. *out is NULL for an empty value. Returns
 * false only when out of memory. */
#define ET__AUDIO_TAG_MAX 1023
bool et__audio_tag_dup(const char *raw, char **out);
bool et__audio_utf8_valid(const char *s, size_t len);

/* The year in a date tag ("2019", "2019-05-01", "05/01/2019"): the first
 * run of exactly four digits, 0 when none. */
int et__audio_parse_year(const char *s);
/* The track number of "3" or "3/12": 0 when absent or out of 1..99999. */
int et__audio_parse_track(const char *s);

/* What the decoder delivers. `mono` gets mono float samples at
 * ET_AUDIO_RATE; `native` (may be NULL) gets planar float frames at the
 * stream's own rate and channel layout (which may change mid-stream):
 * planes[c][0..frames) for each of layout->nb_channels channels. A non-OK
 * return stops the decoding with that status. */
typedef struct et__audio_sink {
    void *ctx;
    et_status (*mono)(void *ctx, const float *x, size_t n, char *err);
    et_status (*native)(void *ctx, const float *const *planes, size_t frames,
                        const AVChannelLayout *layout, int rate, char *err);
} et__audio_sink;

/* Decodes the audio stream of src to the end, feeding sink, in memory
 * independent of the length. *seconds gets the decoded duration. `cancel`
 * is polled per packet and per frame. Errors: those of et__audio_open,
 * ET_E_INVALID "cancelled", ET_E_CORRUPT (repeated decode errors, or no
 * decodable audio at all), ET_E_TOO_LARGE (over lim->max_seconds), and
 * whatever a sink returns. A file cut short decodes up to the cut: ET_OK. */
et_status et__audio_decode(const et__audio_source *src, const et__audio_limits *lim,
                           const volatile sig_atomic_t *cancel, const et__audio_sink *sink,
                           double *seconds, char *err);

/* et_audio_analyze and et_audio_decode_only for any source and limits. */
et_status et__audio_analyze_source(const et__audio_source *src, const et__audio_limits *lim,
                                   const volatile sig_atomic_t *cancel, et_audio_features *f,
                                   char *err);

/* In-memory entry points for the fuzz target. */
et_status et__audio_probe_memory(const uint8_t *data, size_t size, et_audio_info *info,
                                 char *err);
et_status et__audio_analyze_memory(const uint8_t *data, size_t size,
                                   const et__audio_limits *lim, et_audio_features *f,
                                   char *err);

/* --- loudness.c: EBU R128 over the native stream ------------------------- */
typedef struct et__audio_loudness et__audio_loudness;
et__audio_loudness *et__audio_loudness_new(void);
/* planes as the native sink's. Errors: ET_E_UNSUPPORTED (no channels, over
 * ET__AUDIO_MAX_CHANNELS), ET_E_NOMEM. */
et_status et__audio_loudness_add(et__audio_loudness *l, const float *const *planes,
                                 size_t frames, const AVChannelLayout *layout, int rate,
                                 char *err);
/* Integrated loudness (LUFS; -70, the absolute gate, when nothing is above
 * it: silence, or under 0.4 s) and loudness range (LU; 0 when unknown). */
void et__audio_loudness_result(et__audio_loudness *l, double *lufs, double *lra);
void et__audio_loudness_free(et__audio_loudness *l);

/* --- features.c: everything computed on the mono stream ------------------- */
typedef struct et__audio_feat et__audio_feat;
et_status et__audio_feat_new(et__audio_feat **out, char *err);
void et__audio_feat_push(et__audio_feat *a, const float *x, size_t n);
/* Fills every field of f except seconds, loudness and loudness_range. */
void et__audio_feat_finish(et__audio_feat *a, et_audio_features *f);
void et__audio_feat_free(et__audio_feat *a);

/* --- spectrum.c ------------------------------------------------------------ */
typedef struct et__audio_spectrum et__audio_spectrum;
et__audio_spectrum *et__audio_spectrum_new(void);
void et__audio_spectrum_push(et__audio_spectrum *s, const float *x, size_t n);
/* centroid, rolloff, flatness and chroma (max 1, all 0 for silence). */
void et__audio_spectrum_finish(const et__audio_spectrum *s, et_audio_features *f);
void et__audio_spectrum_free(et__audio_spectrum *s);

/* --- rhythm.c --------------------------------------------------------------- */
typedef struct et__audio_rhythm et__audio_rhythm;
et__audio_rhythm *et__audio_rhythm_new(void);
void et__audio_rhythm_push(et__audio_rhythm *r, const float *x, size_t n);
/* tempo, tempo_confidence and onset_rate. */
void et__audio_rhythm_finish(const et__audio_rhythm *r, et_audio_features *f);
void et__audio_rhythm_free(et__audio_rhythm *r);

/* --- key.c ------------------------------------------------------------------- */
/* Key, mode and confidence (0..1) from a 12-bin chroma (C first). An all-zero
 * or flat chroma gives C major with confidence 0. */
void et__audio_key_from_chroma(const double chroma[12], int *key, bool *major,
                               double *confidence);

/* --- planner.c ----------------------------------------------------------------- */
/* Held around every call that creates or destroys an FFTW plan. */
void et__audio_planner_lock(void);
void et__audio_planner_unlock(void);

#endif
