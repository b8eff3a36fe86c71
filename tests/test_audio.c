/* Tests of src/audio: recognition by content, tags, stream facts, streaming
 * decode, loudness against FFmpeg's own ebur128 filter, tempo, key, the mood
 * model, broken files and cancellation. Fixtures are made at test time with
 * the ffmpeg command line (lavfi sources and encoders) in a temporary
 * directory; the ffmpeg binary is a project dependency (scripts/deps.sh). */
#include "support.h"

#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/log.h>

#include "audio/audio.h"
#include "audio/audio_internal.h"
#include "audio/audio_internal.h"

/* --- fixtures ----------------------------------------------------------------- */

typedef struct fixtures {
    char *dir;
} fixtures;

static const char *dir_of(void **state) { return ((fixtures *)*state)->dir; }

static void path_in(void **state, const char *name, char out[512])
{
    snprintf(out, 512, "%s/%s", dir_of(state), name);
}

/* Runs `ffmpeg <args>` quietly; fails the test when it does not succeed. */
static void ffmpeg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void ffmpeg(const char *fmt, ...)
{
    char args[4096], cmd[4200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "ffmpeg -hide_banner -loglevel error -nostdin -y %s", args);
    int rc = system(cmd);
    if (rc != 0)
        fail_msg("ffmpeg failed (status %d): %s", rc, cmd);
}

/* A mono 16-bit WAV of the lavfi aevalsrc expression expr, at rate Hz. */
static void make_wav(const char *path, const char *expr, int rate, double seconds)
{
    ffmpeg("-f lavfi -i \"aevalsrc=%s:s=%d:d=%g\" -c:a pcm_s16le '%s'", expr, rate, seconds, path);
}

/* A click track: 1 kHz bursts decaying in ~17 ms, one per beat. */
static void make_clicks(const char *path, double bpm, double seconds)
{
    char expr[256];
    snprintf(expr, sizeof expr, "0.8*sin(2*PI*1000*t)*exp(-60*mod(t\\,60/%g))", bpm);
    make_wav(path, expr, 22050, seconds);
}

/* Four chords of three sine tones, 2 s each. */
static void make_progression(const char *path, const double chords[4][3])
{
    char parts[4][160], expr[900];
    for (int c = 0; c < 4; c++)
        snprintf(parts[c], sizeof parts[c],
                 "(sin(2*PI*%.2f*t)+sin(2*PI*%.2f*t)+sin(2*PI*%.2f*t))", chords[c][0],
                 chords[c][1], chords[c][2]);
    snprintf(expr, sizeof expr,
             "0.2*if(lt(t\\,2)\\,%s\\,if(lt(t\\,4)\\,%s\\,if(lt(t\\,6)\\,%s\\,%s)))", parts[0],
             parts[1], parts[2], parts[3]);
    make_wav(path, expr, 22050, 8);
}

/* Note frequencies (equal temperament, A4 = 440 Hz). */
#define A3 220.00
#define C4 261.63
#define D4 293.66
#define E4 329.63
#define F4 349.23
#define G4 392.00
#define A4 440.00
#define B4 493.88
#define C5 523.25
#define D5 587.33

static const double c_major[4][3] = {{C4, E4, G4}, {F4, A4, C5}, {G4, B4, D5}, {C4, E4, G4}};
static const double a_minor[4][3] = {{A3, C4, E4}, {D4, F4, A4}, {E4, G4, B4}, {A3, C4, E4}};

static void analyze_ok(const char *path, et_audio_features *f)
{
    char err[ET_ERR_MAX] = "";
    et_status s = et_audio_analyze(path, NULL, f, err);
    if (s != ET_OK)
        fail_msg("analysing %s: %s (%s)", path, err, et_status_code(s));
}

static void probe_ok(const char *path, et_audio_info *info)
{
    char err[ET_ERR_MAX] = "";
    et_status s = et_audio_probe(path, info, err);
    if (s != ET_OK)
        fail_msg("probing %s: %s (%s)", path, err, et_status_code(s));
}

/* Integrated loudness by `ffmpeg -af ebur128`: the "I:" line of its summary. */
static double ffmpeg_loudness(const char *path)
{
    char cmd[700], line[256];
    snprintf(cmd, sizeof cmd,
             "ffmpeg -hide_banner -nostdin -nostats -i '%s' -af ebur128 -f null - 2>&1", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    bool summary = false;
    double lufs = NAN;
    while (fgets(line, sizeof line, p)) {
        if (strstr(line, "Summary:"))
            summary = true;
        double v;
        if (summary && sscanf(line, " I: %lf LUFS", &v) == 1)
            lufs = v;
    }
    pclose(p);
    if (isnan(lufs))
        fail_msg("no integrated loudness in the output of: %s", cmd);
    return lufs;
}

static int group_setup(void **state)
{
    if (system("ffmpeg -hide_banner -version >/dev/null 2>&1") != 0) {
        fprintf(stderr, "the ffmpeg command is missing: install it (make deps) to run the "
                        "audio tests, which make their fixtures with it\n");
        return -1;
    }
    fixtures *fx = calloc(1, sizeof *fx);
    fx->dir = ts_tempdir();
    *state = fx;
    return 0;
}

static int group_teardown(void **state)
{
    fixtures *fx = *state;
    ts_rmtree(fx->dir);
    free(fx->dir);
    free(fx);
    return 0;
}

/* --- formats and tags -------------------------------------------------------- */

#define TITLE "Tïtle ♪ one"
static const char tags[] = "-metadata title='" TITLE "' -metadata artist='The Artist' "
                           "-metadata album='An Album' -metadata album_artist='Various' "
                           "-metadata genre='Rock' -metadata date=2019-05-01 "
                           "-metadata track=3/12";

static const struct format_case {
    const char *file, *encode, *codec;
    int rate;
    bool album_artist; /* RIFF INFO has no album artist */
} formats[] = {
    {"f.mp3", "-c:a libmp3lame -b:a 128k", "mp3", 44100, true},
    {"f.m4a", "-c:a aac -b:a 128k", "aac", 44100, true},
    {"f.flac", "-c:a flac", "flac", 44100, true},
    {"f.ogg", "-c:a libvorbis", "vorbis", 44100, true},
    {"f.opus", "-c:a libopus", "opus", 48000, true},
    {"f.wav", "-c:a pcm_s16le", "pcm_s16le", 44100, false},
    {"f.aiff", "-c:a pcm_s16be -write_id3v2 1", "pcm_s16be", 44100, true},
};

static void check_format(void **state, const struct format_case *c)
{
    char path[512];
    path_in(state, c->file, path);
    ffmpeg("-f lavfi -i sine=frequency=440:duration=3:sample_rate=44100 -ac 2 %s %s '%s'", tags,
           c->encode, path);
    et_audio_info info;
    probe_ok(path, &info);
    assert_string_equal(info.codec, c->codec);
    assert_int_equal(info.sample_rate, c->rate);
    assert_int_equal(info.channels, 2);
    if (fabs(info.duration - 3.0) >= 0.1)
        fail_msg("%s: duration %.3f s, expected 3", c->file, info.duration);
    assert_non_null(info.title);
    assert_string_equal(info.title, TITLE);
    assert_string_equal(info.artist, "The Artist");
    assert_string_equal(info.album, "An Album");
    assert_string_equal(info.genre, "Rock");
    if (c->album_artist)
        assert_string_equal(info.album_artist, "Various");
    assert_int_equal(info.year, 2019);
    assert_int_equal(info.track, 3);
    assert_false(info.has_cover);
    et_audio_info_free(&info);
    assert_null(info.title);

    double seconds = 0;
    char err[ET_ERR_MAX] = "";
    assert_int_equal(et_audio_decode_only(path, &seconds, err), ET_OK);
    if (fabs(seconds - 3.0) >= 0.1)
        fail_msg("%s: decoded %.3f s, expected 3", c->file, seconds);
}

static void probe_reads_codec_duration_and_tags_of_every_format(void **state)
{
    for (size_t i = 0; i < sizeof formats / sizeof *formats; i++)
        check_format(state, &formats[i]);
}

/* Encodes wav with `codec` (and its options) into out, with the picture
 * pic embedded as it is (the cover). */
static void embed_cover(const char *wav, const char *pic, const char *codec, const char *out)
{
    ffmpeg("-i '%s' -i '%s' -map 0:a -map 1:v -c:a %s -c:v copy -disposition:v attached_pic '%s'",
           wav, pic, codec, out);
}

static void probe_sees_an_embedded_cover(void **state)
{
    char png[512], wav[512], mp3[512], flac[512];
    path_in(state, "cover.png", png);
    path_in(state, "cover_src.wav", wav);
    path_in(state, "cover.mp3", mp3);
    path_in(state, "cover.flac", flac);
    ffmpeg("-f lavfi -i color=c=red:s=32x32 -frames:v 1 '%s'", png);
    ffmpeg("-f lavfi -i sine=d=2 '%s'", wav);
    embed_cover(wav, png, "libmp3lame -id3v2_version 3", mp3);
    embed_cover(wav, png, "flac", flac);
    const char *files[] = {mp3, flac};
    for (int i = 0; i < 2; i++) {
        et_audio_info info;
        probe_ok(files[i], &info);
        assert_true(info.has_cover);
        assert_string_equal(info.codec, i == 0 ? "mp3" : "flac");
        et_audio_info_free(&info);
        et_audio_features f;
        analyze_ok(files[i], &f); /* the picture stream is skipped, not decoded as audio */
        assert_true(fabs(f.seconds - 2.0) < 0.1);
    }
}

/* Fails unless the file at path has the cover whose bytes are those of the
 * file want (ffmpeg -c:v copy stores the picture as it is). */
static void check_cover(const char *path, const char *want)
{
    char err[ET_ERR_MAX] = "";
    uint8_t *expected, *got;
    size_t expected_len, got_len;
    assert_int_equal(et_read_file(want, 1 << 20, &expected, &expected_len, err), ET_OK);
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(lseek(fd, 100, SEEK_SET), 100); /* read from the start all the same */
    if (et_audio_cover(fd, path, &got, &got_len, err) != ET_OK)
        fail_msg("%s: %s", path, err);
    close(fd);
    assert_int_equal(got_len, expected_len);
    assert_memory_equal(got, expected, expected_len);
    free(got);
    free(expected);
}

/* The cover's bytes, as embedded, from MP3 (ID3 APIC), FLAC (a picture
 * block) and MP4 (covr); the front cover when there are several; none for
 * a file without, and a file that is not audio is not audio. */
static void cover_gives_the_embedded_picture_as_stored(void **state)
{
    char png[512], jpg[512], wav[512], mp3[512], flac[512], m4a[512], two[512];
    path_in(state, "c.png", png);
    path_in(state, "c.jpg", jpg);
    path_in(state, "c_src.wav", wav);
    path_in(state, "c.mp3", mp3);
    path_in(state, "c.flac", flac);
    path_in(state, "c.m4a", m4a);
    path_in(state, "c2.mp3", two);
    ffmpeg("-f lavfi -i testsrc=s=48x32 -frames:v 1 '%s'", png);
    ffmpeg("-f lavfi -i color=c=blue:s=40x40 -frames:v 1 '%s'", jpg);
    ffmpeg("-f lavfi -i sine=d=1 '%s'", wav);
    embed_cover(wav, png, "libmp3lame", mp3);
    embed_cover(wav, jpg, "flac", flac);
    embed_cover(wav, jpg, "aac", m4a);
    /* a back cover first, then the front one */
    ffmpeg("-i '%s' -i '%s' -i '%s' -map 0:a -map 1:v -map 2:v -c:a libmp3lame -c:v copy "
           "-disposition:v attached_pic -metadata:s:v:0 comment='Cover (back)' "
           "-metadata:s:v:1 comment='Cover (front)' '%s'", wav, png, jpg, two);
    check_cover(mp3, png);
    check_cover(flac, jpg);
    check_cover(m4a, jpg);
    check_cover(two, jpg);

    char err[ET_ERR_MAX] = "";
    uint8_t *data = (uint8_t *)"x";
    size_t len = 1;
    int fd = open(wav, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(et_audio_cover(fd, wav, &data, &len, err), ET_E_NOT_FOUND);
    assert_null(data);
    assert_int_equal(len, 0);
    close(fd);
    fd = open(png, O_RDONLY);
    assert_int_equal(et_audio_cover(fd, png, &data, &len, err), ET_E_UNSUPPORTED);
    close(fd);
    assert_int_equal(et_audio_cover(-1, "closed", &data, &len, err), ET_E_IO);
    assert_int_equal(et_audio_cover(0, "x", NULL, &len, err), ET_E_INVALID);
}

static void probe_turns_latin1_tags_into_utf8(void **state)
{
    char path[512];
    path_in(state, "latin1.wav", path);
    /* RIFF INFO stores bytes as given: "Caf\xe9" is Latin-1, not UTF-8. */
    ffmpeg("-f lavfi -i sine=d=1 -metadata title=\"$(printf 'Caf\\351')\" "
           "-metadata artist=\"$(printf '\\303\\251t\\303\\251')\" '%s'", path);
    et_audio_info info;
    probe_ok(path, &info);
    assert_string_equal(info.title, "Caf\xc3\xa9");
    assert_string_equal(info.artist, "\xc3\xa9t\xc3\xa9"); /* valid UTF-8 left alone */
    et_audio_info_free(&info);
}

static void tag_strings_are_trimmed_repaired_and_bounded(void **state)
{
    (void)state;
    char *s;
    assert_true(et__audio_tag_dup("  Hello \n", &s));
    assert_string_equal(s, "Hello");
    free(s);
    assert_true(et__audio_tag_dup("   ", &s));
    assert_null(s);
    assert_true(et__audio_tag_dup(NULL, &s));
    assert_null(s);
    assert_true(et__audio_tag_dup("\xff\xfe", &s)); /* invalid UTF-8: Latin-1 */
    assert_string_equal(s, "\xc3\xbf\xc3\xbe");
    free(s);
    assert_true(et__audio_tag_dup("\xed\xa0\x80x", &s)); /* a UTF-16 surrogate is invalid */
    assert_true(et__audio_utf8_valid(s, strlen(s)));
    free(s);
    char big[3000];
    for (size_t i = 0; i + 2 < sizeof big; i += 2)
        memcpy(big + i, "\xc3\xa9", 2);
    big[sizeof big - 2 - (sizeof big % 2)] = '\0';
    assert_true(et__audio_tag_dup(big, &s));
    assert_true(strlen(s) <= ET__AUDIO_TAG_MAX);
    assert_true(strlen(s) >= ET__AUDIO_TAG_MAX - 3);
    assert_true(et__audio_utf8_valid(s, strlen(s))); /* not cut inside a character */
    free(s);

    assert_int_equal(et__audio_parse_year("2019-05-01"), 2019);
    assert_int_equal(et__audio_parse_year("05/01/1987"), 1987);
    assert_int_equal(et__audio_parse_year("20190501"), 0);
    assert_int_equal(et__audio_parse_year("no"), 0);
    assert_int_equal(et__audio_parse_track("3/12"), 3);
    assert_int_equal(et__audio_parse_track(" 07"), 7);
    assert_int_equal(et__audio_parse_track("x"), 0);
    assert_int_equal(et__audio_parse_track("99999999999"), 0);
}

/* --- features -------------------------------------------------------------------- */

static void features_of_a_sine_and_of_noise_match_their_definitions(void **state)
{
    char sine[512], noise[512];
    path_in(state, "sine1k.wav", sine);
    path_in(state, "white.wav", noise);
    make_wav(sine, "0.5*sin(2*PI*1000*t)", 22050, 4);
    ffmpeg("-f lavfi -i anoisesrc=color=white:amplitude=0.5:d=4:r=22050:seed=7 '%s'", noise);
    et_audio_features f;
    analyze_ok(sine, &f);
    assert_true(fabs(f.seconds - 4.0) < 0.01);
    assert_true(fabs(f.rms - 0.5 / sqrt(2.0)) < 0.005); /* RMS of a sine: A / sqrt 2 */
    assert_true(f.rms_var < 0.02);
    assert_true(fabs(f.centroid - 1000) < 50);
    assert_true(fabs(f.rolloff - 1000) < 25); /* one bin is 10.8 Hz */
    assert_true(f.flatness < 0.01);
    assert_int_equal(f.tempo, 0); /* no beat in a steady tone */
    assert_true(f.onset_rate < 0.5);  /* nor onsets after the first */
    /* 1 kHz is between B5 (987.8 Hz) and C6: closest to B */
    assert_true(f.chroma[11] == 1.0);
    for (int i = 0; i < 10; i++)
        assert_true(f.chroma[i] < 0.5);

    analyze_ok(noise, &f);
    assert_true(f.flatness > 0.3);
    assert_true(f.centroid > 4500 && f.centroid < 6500); /* flat up to 11 kHz */
    assert_true(f.key_confidence < 0.15); /* noise has no key */
}

static void tempo_of_click_tracks_is_within_two_percent(void **state)
{
    const double bpms[] = {90, 128};
    for (int i = 0; i < 2; i++) {
        char path[512], name[64];
        snprintf(name, sizeof name, "click%g.wav", bpms[i]);
        path_in(state, name, path);
        make_clicks(path, bpms[i], 30);
        et_audio_features f;
        analyze_ok(path, &f);
        if (fabs(f.tempo - bpms[i]) > 0.02 * bpms[i])
            fail_msg("%g BPM click track: tempo %.2f", bpms[i], f.tempo);
        assert_true(f.tempo_confidence > 0.3);
        /* one onset per click */
        assert_true(fabs(f.onset_rate - bpms[i] / 60) < 0.1 * bpms[i] / 60);
    }
}

static void key_of_chord_progressions(void **state)
{
    char maj[512], min[512];
    path_in(state, "c_major.wav", maj);
    path_in(state, "a_minor.wav", min);
    make_progression(maj, c_major);
    make_progression(min, a_minor);
    et_audio_features f;
    analyze_ok(maj, &f);
    assert_string_equal(et_audio_key_name(f.key), "C");
    assert_true(f.major);
    assert_true(f.key_confidence > 0.3);
    analyze_ok(min, &f);
    assert_string_equal(et_audio_key_name(f.key), "A");
    assert_false(f.major);
    assert_true(f.key_confidence > 0.3);
}

static void key_names_and_the_key_of_plain_chroma(void **state)
{
    (void)state;
    assert_string_equal(et_audio_key_name(0), "C");
    assert_string_equal(et_audio_key_name(6), "F#");
    assert_string_equal(et_audio_key_name(11), "B");
    assert_string_equal(et_audio_key_name(12), "?");
    assert_string_equal(et_audio_key_name(-1), "?");
    /* the G major scale with a strong tonic triad */
    double g_major[12] = {0.5, 0, 0.4, 0, 0.6, 0, 0.5, 1.0, 0, 0.5, 0, 0.8};
    int key;
    bool major;
    double conf;
    et__audio_key_from_chroma(g_major, &key, &major, &conf);
    assert_int_equal(key, 7);
    assert_true(major);
    double flat[12] = {0};
    et__audio_key_from_chroma(flat, &key, &major, &conf);
    assert_int_equal(key, 0);
    assert_true(major);
    assert_true(conf == 0);
}

static void loudness_matches_ffmpeg_ebur128(void **state)
{
    static const struct {
        const char *file, *make;
    } cases[] = {
        {"l_mono.wav", "-f lavfi -i anoisesrc=color=pink:amplitude=0.3:d=5:r=44100:seed=1"},
        {"l_stereo.flac", "-f lavfi -i sine=f=440:d=5 -f lavfi -i sine=f=660:d=5 "
                          "-filter_complex '[0][1]amerge=inputs=2,volume=0.5'"},
        {"l_quiet.mp3", "-f lavfi -i anoisesrc=color=white:amplitude=0.05:d=5:r=22050:seed=2 "
                        "-ac 2 -c:a libmp3lame"},
        {"l_swell.ogg", "-f lavfi -i 'aevalsrc=0.3*sin(2*PI*220*t)*(1+sin(2*PI*0.5*t))|"
                        "0.1*sin(2*PI*3000*t):s=48000:d=8' -c:a libvorbis"},
        {"l_5.1.flac", "-f lavfi -i anoisesrc=color=pink:amplitude=0.5:d=5:r=48000:seed=3 "
                       "-af 'pan=5.1|FL=c0|FR=c0|FC=c0|LFE=c0|BL=c0|BR=c0'"},
        /* BS.1770's reference tone, in one channel, as planar float (no
         * format conversion on our side) and at 44.1 kHz (K-weighting for
         * another rate than 48 kHz) */
        {"l_997.ogg", "-f lavfi -i 'aevalsrc=0.5*sin(2*PI*997*t)|0:s=44100:d=5' -c:a libvorbis"},
        {"l_997.wav", "-f lavfi -i 'aevalsrc=0.5*sin(2*PI*997*t)|0:s=44100:d=5' -c:a pcm_f32le"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char path[512];
        path_in(state, cases[i].file, path);
        ffmpeg("%s '%s'", cases[i].make, path);
        et_audio_features f;
        analyze_ok(path, &f);
        double ref = ffmpeg_loudness(path);
        if (fabs(f.loudness - ref) > 0.5)
            fail_msg("%s: %.2f LUFS, ffmpeg ebur128 says %.1f", cases[i].file, f.loudness, ref);
        assert_true(f.loudness_range >= 0);
    }
}

/* --- our BS.1770 meter on known signals ------------------------------------ */

/* Feeds `seconds` of a 997 Hz sine of peak `amp` in channel `chan` (the others
 * silent) to a fresh meter; chunks of odd sizes so segments straddle calls. */
static void meter_sine(const AVChannelLayout *layout, int rate, int chan, double amp,
                       double seconds, double *lufs, double *lra)
{
    enum { CHUNK = 1237 };
    int ch = layout->nb_channels;
    float *buf = calloc((size_t)ch * CHUNK, sizeof *buf);
    const float *planes[8];
    assert_non_null(buf);
    assert_true(ch <= 8);
    for (int c = 0; c < ch; c++)
        planes[c] = buf + (size_t)c * CHUNK;
    et__audio_loudness *l = et__audio_loudness_new();
    assert_non_null(l);
    char err[ET_ERR_MAX];
    long total = lround(seconds * rate);
    for (long done = 0; done < total; done += CHUNK) {
        long n = total - done < CHUNK ? total - done : CHUNK;
        for (long i = 0; i < n; i++)
            buf[(size_t)chan * CHUNK + (size_t)i] =
                (float)(amp * sin(2 * M_PI * 997.0 * (double)(done + i) / rate));
        assert_int_equal(et__audio_loudness_add(l, planes, (size_t)n, layout, rate, err), ET_OK);
    }
    et__audio_loudness_result(l, lufs, lra);
    et__audio_loudness_free(l);
    free(buf);
}

static void loudness_meter_reads_bs1770_reference_levels(void **state)
{
    (void)state;
    AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO, stereo = AV_CHANNEL_LAYOUT_STEREO,
                    surround = AV_CHANNEL_LAYOUT_5POINT1_BACK;
    double lufs, lra;
    /* BS.1770-4, 2.1: a 0 dBFS 997 Hz sine in one channel reads -3.01 LKFS,
     * at any rate (the K-weighting is recomputed for it) */
    const int rates[] = {22050, 44100, 48000, 96000};
    for (size_t i = 0; i < sizeof rates / sizeof *rates; i++) {
        meter_sine(&stereo, rates[i], 1, 1.0, 3, &lufs, &lra);
        if (fabs(lufs - -3.01) > 0.05)
            fail_msg("%d Hz: %.3f LUFS", rates[i], lufs);
    }
    meter_sine(&mono, 48000, 0, 1.0, 3, &lufs, &lra);
    assert_true(fabs(lufs - -3.01) < 0.05);
    meter_sine(&stereo, 44100, 0, 0.1, 3, &lufs, &lra); /* -20 dBFS: 20 LU lower */
    assert_true(fabs(lufs - -23.01) < 0.05);
    assert_true(lra < 0.2); /* a steady tone has no range */
    /* 5.1: back channels weigh 1.41 (+1.49 dB), the LFE nothing */
    meter_sine(&surround, 48000, 4, 1.0, 3, &lufs, &lra);
    assert_true(fabs(lufs - (-3.01 + 10 * log10(1.41))) < 0.05);
    meter_sine(&surround, 48000, 3, 1.0, 3, &lufs, &lra);
    assert_true(lufs == -70);
    /* under one 400 ms block, and silence: the absolute gate */
    meter_sine(&stereo, 48000, 0, 1.0, 0.35, &lufs, &lra);
    assert_true(lufs == -70);
    meter_sine(&stereo, 48000, 0, 0.0, 3, &lufs, &lra);
    assert_true(lufs == -70 && lra == 0);
}

/* EBU Tech 3342, test signal 1: 20 s at -20 LUFS then 20 s at -30 gives an
 * LRA of 10 LU (+-1); the integrated level of the two, -22.6 LUFS. */
static void loudness_range_of_two_levels_is_their_difference(void **state)
{
    (void)state;
    AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
    enum { RATE = 48000, SECONDS = 40 };
    float *x = malloc(sizeof *x * RATE * SECONDS);
    assert_non_null(x);
    double a = pow(10.0, (-20 + 3.01) / 20); /* a sine's level is 3.01 dB under its peak */
    for (long i = 0; i < (long)RATE * SECONDS; i++)
        x[i] = (float)((i < RATE * SECONDS / 2 ? a : a / sqrt(10.0)) *
                       sin(2 * M_PI * 997.0 * (double)i / RATE));
    et__audio_loudness *l = et__audio_loudness_new();
    assert_non_null(l);
    char err[ET_ERR_MAX];
    const float *planes[1] = {x};
    assert_int_equal(et__audio_loudness_add(l, planes, (size_t)RATE * SECONDS, &mono, RATE, err),
                     ET_OK);
    double lufs, lra;
    et__audio_loudness_result(l, &lufs, &lra);
    et__audio_loudness_free(l);
    free(x);
    assert_true(fabs(lra - 10) < 1);
    assert_true(fabs(lufs - (-20 + 10 * log10(0.55))) < 0.1);
}

/* --- the mood model ----------------------------------------------------------- */

static void mood_arousal_is_higher_for_fast_loud_bright_sound(void **state)
{
    char excited[512], calm[512];
    path_in(state, "excited.wav", excited);
    path_in(state, "calm.wav", calm);
    /* noise bursts and high partials at 160 BPM, near full scale */
    make_wav(excited,
             "0.9*(random(0)-0.5)*exp(-25*mod(t\\,0.375))+"
             "0.2*sin(2*PI*3520*t)*exp(-40*mod(t\\,0.1875))",
             44100, 12);
    /* a quiet low pad swelling every 4 s */
    make_wav(calm, "0.03*(sin(2*PI*110*t)+sin(2*PI*164.8*t))*(1.2-cos(2*PI*0.25*t))", 44100,
             12);
    et_audio_features fe, fc;
    analyze_ok(excited, &fe);
    analyze_ok(calm, &fc);
    double ve, ae, vc, ac;
    et_audio_estimate_mood(&fe, NULL, &ve, &ae);
    et_audio_estimate_mood(&fc, NULL, &vc, &ac);
    if (!(ae > ac + 0.5))
        fail_msg("arousal excited %.2f vs calm %.2f", ae, ac);
    assert_true(ae > 0 && ac < 0);
}

static void mood_valence_is_higher_in_major_than_in_minor(void **state)
{
    char maj[512], min[512];
    path_in(state, "v_major.wav", maj);
    path_in(state, "v_minor.wav", min);
    make_progression(maj, c_major);
    make_progression(min, a_minor);
    et_audio_features f_major, f_minor;
    analyze_ok(maj, &f_major);
    analyze_ok(min, &f_minor);
    double vmaj, amaj, vmin, amin;
    et_audio_estimate_mood(&f_major, NULL, &vmaj, &amaj);
    et_audio_estimate_mood(&f_minor, NULL, &vmin, &amin);
    if (!(vmaj > vmin + 0.3))
        fail_msg("valence major %.2f vs minor %.2f", vmaj, vmin);
}

static et_audio_features typical_features(void)
{
    return (et_audio_features){.seconds = 200, .loudness = -14, .loudness_range = 6,
                               .rms = 0.2, .rms_var = 0.3, .tempo = 120,
                               .tempo_confidence = 0.6, .onset_rate = 3, .centroid = 1800,
                               .rolloff = 3500, .flatness = 0.05, .key = 0, .major = true,
                               .key_confidence = 0.5};
}

static void mood_model_is_monotone_bounded_and_pure(void **state)
{
    (void)state;
    const et_audio_features base = typical_features();
    double v0, a0, v, a;
    et_audio_estimate_mood(&base, NULL, &v0, &a0);
    /* each arousal cue, raised alone, raises arousal */
    for (int i = 0; i < 4; i++) {
        et_audio_features f = base;
        double *cue[4] = {&f.tempo, &f.onset_rate, &f.loudness, &f.centroid};
        const double raised[4] = {150, 6, -8, 3500};
        *cue[i] = raised[i];
        et_audio_estimate_mood(&f, NULL, &v, &a);
        if (!(a > a0))
            fail_msg("arousal does not rise with cue %d (%.3f vs %.3f)", i, a, a0);
    }
    et_audio_features f;
    /* minor lowers valence, the more so the surer the key */
    f = base;
    f.major = false;
    et_audio_estimate_mood(&f, NULL, &v, &a);
    assert_true(v < v0);
    double v_sure;
    f.key_confidence = 0.9;
    et_audio_estimate_mood(&f, NULL, &v_sure, &a);
    assert_true(v_sure < v);
    /* quiet lowers valence */
    f = base;
    f.loudness = -35;
    et_audio_estimate_mood(&f, NULL, &v, &a);
    assert_true(v < v0);
    /* bounded, finite, deterministic on absurd and missing input */
    f = base;
    f.tempo = NAN, f.loudness = INFINITY, f.centroid = -5, f.onset_rate = 1e300,
    f.key_confidence = NAN;
    et_audio_estimate_mood(&f, NULL, &v, &a);
    assert_true(isfinite(v) && isfinite(a) && fabs(v) <= 1 && fabs(a) <= 1);
    double v2, a2;
    et_audio_estimate_mood(&f, NULL, &v2, &a2);
    assert_true(v == v2 && a == a2);
    f = base;
    f.tempo = 0; /* no beat found: no tempo term, not "very slow" */
    double a_none, a_slow;
    et_audio_estimate_mood(&f, NULL, &v, &a_none);
    f.tempo = 50;
    et_audio_estimate_mood(&f, NULL, &v, &a_slow);
    assert_true(a_none > a_slow);
    et_audio_estimate_mood(NULL, NULL, &v, &a);
    assert_true(v == 0 && a == 0);
    et_audio_features none = {0};
    et_audio_estimate_mood(&none, NULL, &v, &a);
    assert_true(v == 0 && a == 0);
}

static void mood_genre_nudges_match_case_insensitive_substrings(void **state)
{
    (void)state;
    const et_audio_features f = typical_features();
    double v0, a0, vm, am, va, aa, vb, ab;
    et_audio_estimate_mood(&f, NULL, &v0, &a0);
    et_audio_estimate_mood(&f, "Death METAL", &vm, &am);
    et_audio_estimate_mood(&f, "dark ambient", &va, &aa);
    et_audio_estimate_mood(&f, "Delta Blues", &vb, &ab);
    assert_true(am > a0);
    assert_true(aa < a0);
    assert_true(vb < v0);
    double vu, au;
    et_audio_estimate_mood(&f, "Polka-Zydeco", &vu, &au); /* unknown genre: no nudge */
    assert_true(vu == v0 && au == a0);
}

/* --- broken input --------------------------------------------------------------- */

static void copy_prefix(const char *from, const char *to, long n)
{
    FILE *f = fopen(from, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (n < 0)
        n = size / 2;
    char *buf = malloc((size_t)n);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    ts_write_file(to, buf, (size_t)n);
    free(buf);
}

/* A WAV whose RIFF and data sizes claim 0xFFFFFFF0 bytes. */
static void make_absurd_wav(const char *from, const char *to)
{
    uint8_t *buf;
    size_t n;
    char err[ET_ERR_MAX];
    assert_int_equal(et_read_file(from, (size_t)16 << 20, &buf, &n, err), ET_OK);
    assert_true(n > 44);
    const unsigned char huge[4] = {0xF0, 0xFF, 0xFF, 0xFF};
    memcpy(buf + 4, huge, 4);
    size_t data = 12;
    while (data + 8 < n && memcmp(buf + data, "data", 4) != 0)
        data++;
    assert_true(data + 8 < n);
    memcpy(buf + data + 4, huge, 4);
    ts_write_file(to, buf, n);
    free(buf);
}

static void expect_error(const char *path, et_status probe_want, et_status analyze_want)
{
    char err[ET_ERR_MAX] = "";
    et_audio_info info;
    et_status s = et_audio_probe(path, &info, err);
    if (s != probe_want)
        fail_msg("probe %s: %s (%s), expected %s", path, err, et_status_code(s),
                 et_status_code(probe_want));
    assert_non_null(strstr(err, path)); /* the message names the file */
    assert_null(info.title);
    et_audio_features f;
    s = et_audio_analyze(path, NULL, &f, err);
    if (s != analyze_want)
        fail_msg("analyze %s: %s (%s), expected %s", path, err, et_status_code(s),
                 et_status_code(analyze_want));
    double seconds;
    assert_int_equal(et_audio_decode_only(path, &seconds, err), analyze_want);
}

/* A file cut short decodes up to the cut: success with a shorter duration. */
static void expect_shorter(const char *path, double full)
{
    et_audio_info info;
    probe_ok(path, &info);
    et_audio_info_free(&info);
    et_audio_features f;
    analyze_ok(path, &f);
    if (!(f.seconds > 0.2 * full && f.seconds < 0.8 * full))
        fail_msg("%s: decoded %.3f s of %.1f", path, f.seconds, full);
}

static void broken_files_give_errors_not_crashes(void **state)
{
    char src_mp3[512], src_flac[512], src_wav[512], p[512], png[512];
    path_in(state, "b.mp3", src_mp3);
    path_in(state, "b.flac", src_flac);
    path_in(state, "b.wav", src_wav);
    const char *gen = "-f lavfi -i sine=f=440:d=3:sample_rate=44100 -ac 2 -metadata title=T";
    ffmpeg("%s -c:a libmp3lame '%s'", gen, src_mp3);
    ffmpeg("%s -c:a flac '%s'", gen, src_flac);
    ffmpeg("%s -c:a pcm_s16le '%s'", gen, src_wav);

    path_in(state, "empty.mp3", p);
    ts_write_file(p, "", 0);
    expect_error(p, ET_E_UNSUPPORTED, ET_E_UNSUPPORTED);

    path_in(state, "x.mp3", p);
    const char text[] = "This is a text file with a music file's name.\nNothing to hear.\n";
    ts_write_file(p, text, sizeof text - 1);
    expect_error(p, ET_E_UNSUPPORTED, ET_E_UNSUPPORTED);

    path_in(state, "y.flac", p);
    path_in(state, "y.png", png);
    ffmpeg("-f lavfi -i testsrc=s=64x48 -frames:v 1 -c:v png '%s'", png);
    assert_int_equal(rename(png, p), 0);
    expect_error(p, ET_E_UNSUPPORTED, ET_E_UNSUPPORTED);

    path_in(state, "half.mp3", p);
    copy_prefix(src_mp3, p, -1);
    expect_shorter(p, 3.0);
    path_in(state, "half.flac", p);
    copy_prefix(src_flac, p, -1);
    expect_shorter(p, 3.0);

    /* 100 bytes: inside the ID3 tag (no MPEG frame left to recognise) and
     * inside the FLAC metadata (a FLAC, but cut short) */
    path_in(state, "h100.mp3", p);
    copy_prefix(src_mp3, p, 100);
    expect_error(p, ET_E_UNSUPPORTED, ET_E_UNSUPPORTED);
    path_in(state, "h100.flac", p);
    copy_prefix(src_flac, p, 100);
    expect_error(p, ET_E_CORRUPT, ET_E_CORRUPT);

    path_in(state, "random.ogg", p);
    unsigned char noise[40000];
    unsigned x = 12345;
    for (size_t i = 0; i < sizeof noise; i++)
        noise[i] = (unsigned char)((x = x * 1103515245u + 12345u) >> 16);
    ts_write_file(p, noise, sizeof noise);
    expect_error(p, ET_E_UNSUPPORTED, ET_E_UNSUPPORTED);

    /* claims 4 GB of samples (24347 s): probe believes the bytes, not the header */
    path_in(state, "absurd.wav", p);
    make_absurd_wav(src_wav, p);
    et_audio_info info;
    probe_ok(p, &info);
    if (fabs(info.duration - 3.0) > 0.1)
        fail_msg("absurd.wav: duration %.1f s", info.duration);
    et_audio_info_free(&info);
    et_audio_features f;
    analyze_ok(p, &f);
    assert_true(fabs(f.seconds - 3.0) < 0.1);

    /* a playlist may not make us open other files */
    path_in(state, "list.m3u8", p);
    char m3u[1024];
    int n = snprintf(m3u, sizeof m3u,
                     "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:3,\n%s\n#EXT-X-ENDLIST\n",
                     src_mp3);
    ts_write_file(p, m3u, (size_t)n);
    expect_error(p, ET_E_UNSUPPORTED, ET_E_UNSUPPORTED);

    path_in(state, "missing.mp3", p);
    expect_error(p, ET_E_IO, ET_E_IO);
    expect_error(dir_of(state), ET_E_IO, ET_E_IO); /* a directory */
}

static void arguments_are_checked(void **state)
{
    (void)state;
    char err[ET_ERR_MAX];
    et_audio_info info;
    et_audio_features f;
    assert_int_equal(et_audio_probe(NULL, &info, err), ET_E_INVALID);
    assert_int_equal(et_audio_analyze(NULL, NULL, &f, err), ET_E_INVALID);
    assert_int_equal(et_audio_decode_only("x", NULL, err), ET_E_INVALID);
    et_audio_info_free(NULL);
}

/* --- cancellation and threads ---------------------------------------------------- */

/* A sink that counts what it is given and raises the cancel flag once it
 * has `cancel_at` samples. */
typedef struct cancel_probe {
    volatile sig_atomic_t *cancel;
    size_t cancel_at, samples, calls, calls_after_cancel;
} cancel_probe;

static et_status count_then_cancel(void *ctx, const float *x, size_t n, char *err)
{
    cancel_probe *p = ctx;
    (void)x, (void)err;
    p->calls++;
    p->calls_after_cancel += *p->cancel != 0;
    p->samples += n;
    if (p->samples >= p->cancel_at)
        *p->cancel = 1;
    return ET_OK;
}

/* Cancelled one second into a minute: the decoder polls the flag per packet
 * and per frame, so no frame reaches the sink after the one that raised it,
 * and the analysis stops with "cancelled" having decoded about a second. A
 * flag raised before the start decodes nothing. */
static void cancel_stops_analysis_at_the_next_frame(void **state)
{
    char path[512];
    path_in(state, "long.mp3", path);
    ffmpeg("-f lavfi -i \"sine=f=330:d=60:sample_rate=22050\" -c:a libmp3lame -b:a 64k '%s'",
           path);
    volatile sig_atomic_t cancel = 0;
    cancel_probe p = {.cancel = &cancel, .cancel_at = ET_AUDIO_RATE};
    et__audio_sink sink = {.ctx = &p, .mono = count_then_cancel};
    et__audio_source src = {.path = path, .name = path};
    double seconds = 0;
    char err[ET_ERR_MAX] = "";
    assert_int_equal(et__audio_decode(&src, &et__audio_default_limits, &cancel, &sink, &seconds,
                                      err),
                     ET_E_INVALID);
    assert_non_null(strstr(err, "cancelled"));
    if (p.calls_after_cancel != 0)
        fail_msg("%zu frames reached the sink after the cancel", p.calls_after_cancel);
    if (!(p.samples >= ET_AUDIO_RATE && seconds < 1.5))
        fail_msg("cancelled after %zu samples (%.3f s decoded) of 60 s", p.samples, seconds);

    et_audio_features f;
    assert_int_equal(et_audio_analyze(path, &cancel, &f, err), ET_E_INVALID); /* still raised */
    assert_non_null(strstr(err, "cancelled"));
    assert_float_equal(f.seconds, 0, 0);
    cancel = 0;
    assert_int_equal(et_audio_analyze(path, &cancel, &f, err), ET_OK);
    assert_true(fabs(f.seconds - 60) < 0.2); /* so the cancelled runs left most of it */
}

typedef struct job {
    const char *path;
    et_audio_features f;
    et_status s;
} job;

static void *analyze_job(void *arg)
{
    job *j = arg;
    j->s = et_audio_analyze(j->path, NULL, &j->f, NULL);
    return NULL;
}

static void analyses_in_parallel_threads_agree_with_a_single_one(void **state)
{
    char path[512];
    path_in(state, "threads.wav", path);
    make_clicks(path, 120, 10);
    et_audio_features one;
    analyze_ok(path, &one);
    enum { THREADS = 4 };
    job jobs[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        jobs[i] = (job){.path = path};
        assert_int_equal(pthread_create(&t[i], NULL, analyze_job, &jobs[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(jobs[i].s, ET_OK);
        assert_memory_equal(&jobs[i].f, &one, sizeof one);
    }
}

int main(void)
{
    /* FFmpeg's log is process-wide: quiet in this test program, as in main. */
    av_log_set_level(getenv("ET_TEST_AV_LOG") ? AV_LOG_INFO : AV_LOG_QUIET);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(probe_reads_codec_duration_and_tags_of_every_format),
        cmocka_unit_test(probe_sees_an_embedded_cover),
        cmocka_unit_test(cover_gives_the_embedded_picture_as_stored),
        cmocka_unit_test(probe_turns_latin1_tags_into_utf8),
        cmocka_unit_test(tag_strings_are_trimmed_repaired_and_bounded),
        cmocka_unit_test(features_of_a_sine_and_of_noise_match_their_definitions),
        cmocka_unit_test(tempo_of_click_tracks_is_within_two_percent),
        cmocka_unit_test(key_of_chord_progressions),
        cmocka_unit_test(key_names_and_the_key_of_plain_chroma),
        cmocka_unit_test(loudness_matches_ffmpeg_ebur128),
        cmocka_unit_test(loudness_meter_reads_bs1770_reference_levels),
        cmocka_unit_test(loudness_range_of_two_levels_is_their_difference),
        cmocka_unit_test(mood_arousal_is_higher_for_fast_loud_bright_sound),
        cmocka_unit_test(mood_valence_is_higher_in_major_than_in_minor),
        cmocka_unit_test(mood_model_is_monotone_bounded_and_pure),
        cmocka_unit_test(mood_genre_nudges_match_case_insensitive_substrings),
        cmocka_unit_test(broken_files_give_errors_not_crashes),
        cmocka_unit_test(arguments_are_checked),
        cmocka_unit_test(cancel_stops_analysis_at_the_next_frame),
        cmocka_unit_test(analyses_in_parallel_threads_agree_with_a_single_one),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
