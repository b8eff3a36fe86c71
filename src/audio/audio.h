/*
 * audio: what emotune learns from a music file by itself -- its tags, and
 * features computed from the decoded sound (loudness, energy, tempo, onsets,
 * brightness, key and mode) -- and from those a valence/arousal estimate.
 *
 * Files are recognised by content (libavformat's probe), never by name: a
 * text file called x.mp3 is a text file. A format recognised only with low
 * confidence (libavformat's probe score 25/100 or less: random bytes, and a
 * raw MP3 of under ~0.15 s with no tag) is not audio; neither is a playlist
 * (HLS, ffconcat) -- demuxers may never open other files or URLs.
 * Decoding (libavformat, libavcodec, libswresample) is streaming: memory does
 * not grow with the length of the track.
 *
 * Thread-safety: every function is reentrant; analyse different files from
 * different threads at will (FFTW's planner, which is process-global, is
 * used under an internal lock).
 *
 * Logging: the library never touches FFmpeg's process-wide log level. The
 * decoder's own messages are demoted to AV_LOG_VERBOSE; the demuxers' (e.g.
 * "[mp3 @ 0x...] Estimating duration from bitrate", "Format mp3 detected
 * only with low score") go through av_log at the level main sets with
 * av_log_set_level().
 */
#ifndef ET_AUDIO_H
#define ET_AUDIO_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* The analysis works on mono float samples at this rate. */
#define ET_AUDIO_RATE 22050

/* Tags and stream facts. Strings are owned (et_audio_info_free); NULL when
 * the file has no such tag. Tags that are not valid UTF-8 are converted
 * (bytes read as Latin-1), so every string is valid UTF-8; white space
 * around them is trimmed, and they are cut at 1023 bytes (at a character
 * boundary). Tags are looked up in the container and then in the audio
 * stream (Ogg keeps them there), keys case-insensitively. */
typedef struct et_audio_info {
    char *title, *artist, *album, *album_artist, *genre;
    int year;         /* the first 4-digit number of the date tag; 0 when unknown */
    int track;        /* "3/12" -> 3; 0 when unknown */
    double duration;  /* seconds, from the container (0 when unknown or not
                       * credible for the file's size; for PCM a header claiming
                       * more samples than the file holds gives what it holds);
                       * may differ from the decoded length by a few frames */
    char codec[32];   /* "mp3", "flac", "vorbis", "opus", "aac", "pcm_s16le", ... */
    int sample_rate;
    int channels;
    bool has_cover;   /* an embedded picture */
} et_audio_info;

/*
 * Opens a file and reads its tags and stream facts without decoding. On
 * error *info is all zero (nothing to free).
 * Errors: ET_E_UNSUPPORTED (not audio: an empty file, a picture, a text file,
 * a playlist, video with no sound; or audio in a codec with no decoder),
 * ET_E_CORRUPT (recognised, but the header cannot be read: a FLAC cut inside
 * its metadata), ET_E_IO (missing, unreadable, not a regular file),
 * ET_E_INVALID (NULL arguments), ET_E_NOMEM. The message names the file.
 */
et_status et_audio_probe(const char *path, et_audio_info *info, char *err);
void et_audio_info_free(et_audio_info *info);

typedef struct et_audio_features {
    double seconds;        /* decoded duration */
    double loudness;       /* integrated loudness, LUFS (EBU R128 / ITU BS.1770), at
                            * the file's own channels, as `ffmpeg -af ebur128`;
                            * -70 (the absolute gate) for silence or under 0.4 s */
    double loudness_range; /* LU (EBU Tech 3342: short-term 3 s windows from
                            * the first full one); 0 when undetermined */
    double rms;            /* mean RMS of 46 ms frames (linear, full scale 1) */
    double rms_var;        /* coefficient of variation of the frame RMS */
    double tempo;          /* beats per minute (40..240), 0 when no steady beat is
                            * found or the track is under 8 s. Like every tempo
                            * estimator it may pick half or double the tempo a
                            * listener taps (around 170 BPM, often the half) */
    double tempo_confidence; /* 0..1 (normalised autocorrelation at the period) */
    double onset_rate;     /* onsets per second: peaks of the spectral flux (the
                            * rise of the log power spectrum, 23 ms hops) over
                            * an adaptive threshold, at most one per 46 ms;
                            * see audio/rhythm.c */
    double centroid;       /* spectral centroid, Hz (mean over frames) */
    double rolloff;        /* frequency below which 85% of the energy lies, Hz */
    double flatness;       /* spectral flatness 0 (tonal) .. 1 (noise) */
    double chroma[12];     /* tonal energy per pitch class C, C#, ..., B; max 1
                            * (all 0 when there is none) */
    int key;               /* 0 = C ... 11 = B */
    bool major;            /* mode */
    double key_confidence; /* 0..1; near 0 for noise and single notes */
} et_audio_features;     /* every field is finite, always */

/*
 * Decodes the whole file and computes its features. `cancel` (may be NULL)
 * is polled often: when it becomes non-zero the analysis stops within a
 * fraction of a second with ET_E_INVALID "cancelled". Errors as
 * et_audio_probe; a file with no decodable audio, or a run of undecodable
 * packets, is ET_E_CORRUPT; over 48 hours of audio is ET_E_TOO_LARGE. A file
 * cut short (a truncated download) is analysed up to the cut: ET_OK, with a
 * shorter `seconds` than the probe's duration. On error *f is all zero.
 */
et_status et_audio_analyze(const char *path, const volatile sig_atomic_t *cancel,
                           et_audio_features *f, char *err);

/*
 * Decodes and resamples to the analysis format without analysing: the
 * "decode floor" the scan benchmark compares against. *seconds gets the
 * audio duration decoded. Errors as et_audio_analyze.
 */
et_status et_audio_decode_only(const char *path, double *seconds, char *err);

/*
 * The valence/arousal estimate of a track, each in [-1, 1], from its
 * features and (optionally, may be NULL) its genre tag. Pure and
 * deterministic; missing or non-finite features count as neutral, and f NULL
 * or with seconds <= 0 (nothing analysed) leaves only the genre's nudge. The
 * model and the reasons for it are documented in audio/mood_model.c.
 */
void et_audio_estimate_mood(const et_audio_features *f, const char *genre, double *valence,
                            double *arousal);

/* Embedded pictures larger than this are refused (ET_E_TOO_LARGE). */
#define ET_AUDIO_MAX_COVER ((size_t)16 << 20)

/*
 * The embedded cover picture of the audio file open at fd, read from its
 * start (the descriptor stays the caller's; its offset moves): the bytes of
 * the picture marked as the front cover (ID3 APIC or FLAC picture type 3)
 * when there is one, else of the first attached picture
 * (AV_DISPOSITION_ATTACHED_PIC), as stored: JPEG, PNG, ...; recognise them
 * by content (et_image_sniff). *data is malloc'd (caller frees). `name` names
 * the file in messages (may be NULL). Errors: ET_E_NOT_FOUND (no picture),
 * ET_E_TOO_LARGE (over ET_AUDIO_MAX_COVER), ET_E_INVALID (data or size
 * NULL), and those of et_audio_probe; then *data is NULL and *size 0.
 */
et_status et_audio_cover(int fd, const char *name, uint8_t **data, size_t *size, char *err);

/* "C", "C#", ..., "B" for 0..11; "?" for anything else. */
const char *et_audio_key_name(int key);

/* Silences FFmpeg's own messages on stderr (demuxer warnings about broken
 * files): emotune reports problems itself. FFmpeg's log level belongs to the
 * whole process, so main calls this once; libraries never do. */
void et_audio_quiet_ffmpeg_logs(void);

#endif
