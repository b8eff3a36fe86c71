/*
 * Spectral features of the mono 22050 Hz stream: 2048-sample Hann windows
 * (93 ms) every 1024 samples, real FFT with fftw3f.
 *
 *   centroid  magnitude-weighted mean frequency (as librosa's
 *             spectral_centroid), Hz
 *   rolloff   the frequency below which 85% of the power lies, Hz
 *   flatness  geometric over arithmetic mean of the power spectrum (Wiener
 *             entropy; Dubnov 2004): near 0 for tones, about 0.56 for white
 *             noise through a Hann window
 *   chroma    the spectrum read as the 72 notes of equal temperament (A4 =
 *             440 Hz) from C2 (65 Hz) to B7 (3951 Hz), six whole octaves so
 *             every pitch class has as many notes; each note is a triangular
 *             average of the bin magnitudes within a semitone of it in log
 *             frequency (or, for low notes with fewer than two bins within a
 *             semitone, the magnitude interpolated at the note's frequency
 *             between its two nearest bins), so every note weighs the same
 *             however many bins it spans. Each note
 *             counts by how far it stands above the mean of the notes within
 *             half an octave, relatively (note / local mean - 1, 0 when
 *             below: noise and the spectral slope add evenly or nothing; cf.
 *             the spectral whitening of Gomez's HPCP, 2006), times the
 *             frame's mean note magnitude so loud frames weigh more; folded
 *             onto the 12 pitch classes and summed over the track
 * The first three are averaged over frames louder than -80 dBFS, so leading
 * and trailing silence does not pull them down.
 */
#include "audio/audio_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <fftw3.h>

enum { N = ET_AUDIO_FFT_SIZE, BINS = ET_AUDIO_FFT_SIZE / 2 + 1 };

#define ROLLOFF_FRACTION 0.85
/* Notes read: the 72 folded into the chroma, and LOCAL_NOTES more at each end
 * so the local mean of the outer ones is centred like the others'. */
enum { NOTE_LOW = 36 /* MIDI C2 */, NOTES = 72, NOTE_TAPS = 64, LOCAL_NOTES = 6,
       FIRST_NOTE = NOTE_LOW - LOCAL_NOTES, ALL_NOTES = NOTES + 2 * LOCAL_NOTES };
#define SILENT_MEAN_SQUARE 1e-8 /* -80 dBFS */

struct et__audio_spectrum {
    float *in;         /* windowed frame (fftwf_malloc: aligned for SIMD) */
    fftwf_complex *out;
    fftwf_plan plan;
    float window[N];
    float pending[N];  /* samples not yet analysed */
    size_t fill;
    float power[BINS];
    float magnitude[BINS];
    /* note i reads bins first[i] .. first[i] + taps[i] - 1 with weights tap[i][] */
    short first[ALL_NOTES], taps[ALL_NOTES];
    float tap[ALL_NOTES][NOTE_TAPS];
    double centroid_sum, rolloff_sum, flatness_sum;
    long frames;       /* non-silent frames */
    double chroma[12];
};

static double note_hz(double midi) { return 440.0 * pow(2.0, (midi - 69.0) / 12.0); }

/* The weights by which note i reads the spectrum. */
static void init_note(et__audio_spectrum *s, int i)
{
    double hz_per_bin = (double)ET_AUDIO_RATE / N, midi = FIRST_NOTE + i;
    int lo = (int)ceil(note_hz(midi - 1) / hz_per_bin);
    int hi = (int)floor(note_hz(midi + 1) / hz_per_bin);
    double sum = 0;
    if (hi - lo + 1 >= 2 && hi - lo + 1 <= NOTE_TAPS) {
        s->first[i] = (short)lo;
        s->taps[i] = (short)(hi - lo + 1);
        for (int k = lo; k <= hi; k++) {
            double distance = fabs(12.0 * log2(k * hz_per_bin / 440.0) + 69.0 - midi);
            s->tap[i][k - lo] = (float)fmax(0.0, 1.0 - distance);
            sum += s->tap[i][k - lo];
        }
    } else { /* under two bins to the semitone: interpolate at the note */
        double x = note_hz(midi) / hz_per_bin;
        s->first[i] = (short)floor(x);
        s->taps[i] = 2;
        s->tap[i][0] = (float)(1.0 - (x - floor(x)));
        s->tap[i][1] = (float)(x - floor(x));
        sum = 1;
    }
    for (int k = 0; k < s->taps[i]; k++)
        s->tap[i][k] = (float)(s->tap[i][k] / sum);
}

static void init_tables(et__audio_spectrum *s)
{
    for (int i = 0; i < N; i++)
        s->window[i] = (float)(0.5 - 0.5 * cos(2.0 * M_PI * i / N)); /* periodic Hann */
    for (int i = 0; i < ALL_NOTES; i++)
        init_note(s, i);
}

et__audio_spectrum *et__audio_spectrum_new(void)
{
    et__audio_spectrum *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->in = fftwf_malloc(sizeof(float) * N);
    s->out = fftwf_malloc(sizeof(fftwf_complex) * BINS);
    if (s->in && s->out) {
        et__audio_planner_lock();
        s->plan = fftwf_plan_dft_r2c_1d(N, s->in, s->out, FFTW_ESTIMATE);
        et__audio_planner_unlock();
    }
    if (!s->plan) {
        et__audio_spectrum_free(s);
        return NULL;
    }
    init_tables(s);
    return s;
}

void et__audio_spectrum_free(et__audio_spectrum *s)
{
    if (!s)
        return;
    if (s->plan) {
        et__audio_planner_lock();
        fftwf_destroy_plan(s->plan);
        et__audio_planner_unlock();
    }
    fftwf_free(s->in);
    fftwf_free(s->out);
    free(s);
}

/* Power and magnitude spectra of pending[0..N); false for a silent frame. */
static bool transform(et__audio_spectrum *s)
{
    double energy = 0;
    for (int i = 0; i < N; i++) {
        s->in[i] = s->pending[i] * s->window[i];
        energy += (double)s->pending[i] * s->pending[i];
    }
    fftwf_execute(s->plan); /* executing a plan is thread-safe */
    for (int k = 0; k < BINS; k++) {
        s->power[k] = s->out[k][0] * s->out[k][0] + s->out[k][1] * s->out[k][1];
        s->magnitude[k] = sqrtf(s->power[k]);
    }
    return energy / N >= SILENT_MEAN_SQUARE;
}

static void add_chroma(et__audio_spectrum *s)
{
    double note[ALL_NOTES], level = 0;
    for (int i = 0; i < ALL_NOTES; i++) {
        double v = 0;
        for (int k = 0; k < s->taps[i]; k++)
            v += s->tap[i][k] * s->magnitude[s->first[i] + k];
        note[i] = v;
    }
    for (int i = LOCAL_NOTES; i < LOCAL_NOTES + NOTES; i++)
        level += note[i] / NOTES;
    for (int i = LOCAL_NOTES; i < LOCAL_NOTES + NOTES; i++) {
        double local = 0;
        for (int j = i - LOCAL_NOTES; j <= i + LOCAL_NOTES; j++)
            local += note[j];
        local /= 2 * LOCAL_NOTES + 1;
        if (note[i] > local)
            s->chroma[(FIRST_NOTE + i) % 12] += (note[i] / local - 1.0) * level;
    }
}

/* Centroid, rolloff and flatness of one frame (DC bin left out). */
static void add_shape(et__audio_spectrum *s)
{
    double hz_per_bin = (double)ET_AUDIO_RATE / N;
    double mag_sum = 0, weighted = 0, power_sum = 0, log_sum = 0;
    for (int k = 1; k < BINS; k++) {
        double m = s->magnitude[k];
        mag_sum += m;
        weighted += m * k * hz_per_bin;
        power_sum += s->power[k];
    }
    if (power_sum <= 0)
        return;
    double tiny = 1e-12 * power_sum / (BINS - 1); /* keeps log() finite */
    double cumulative = 0, rolloff = 0;
    bool rolled = false;
    for (int k = 1; k < BINS; k++) {
        log_sum += log(s->power[k] + tiny);
        cumulative += s->power[k];
        if (!rolled && cumulative >= ROLLOFF_FRACTION * power_sum) {
            rolloff = k * hz_per_bin;
            rolled = true;
        }
    }
    double arith = power_sum / (BINS - 1) + tiny;
    double geo = exp(log_sum / (BINS - 1));
    s->centroid_sum += weighted / mag_sum;
    s->rolloff_sum += rolloff;
    s->flatness_sum += fmin(1.0, geo / arith);
    s->frames++;
}

void et__audio_spectrum_push(et__audio_spectrum *s, const float *x, size_t n)
{
    while (n) {
        size_t take = N - s->fill < n ? N - s->fill : n;
        memcpy(s->pending + s->fill, x, take * sizeof *x);
        s->fill += take;
        x += take;
        n -= take;
        if (s->fill < N)
            break;
        bool loud = transform(s);
        add_chroma(s);
        if (loud)
            add_shape(s);
        memmove(s->pending, s->pending + ET_AUDIO_FFT_HOP,
                (N - ET_AUDIO_FFT_HOP) * sizeof *s->pending);
        s->fill = N - ET_AUDIO_FFT_HOP;
    }
}

void et__audio_spectrum_finish(const et__audio_spectrum *s, et_audio_features *f)
{
    if (s->frames > 0) {
        f->centroid = s->centroid_sum / s->frames;
        f->rolloff = s->rolloff_sum / s->frames;
        f->flatness = s->flatness_sum / s->frames;
    }
    double max = 0;
    for (int i = 0; i < 12; i++)
        max = fmax(max, s->chroma[i]);
    for (int i = 0; i < 12; i++)
        f->chroma[i] = max > 0 ? s->chroma[i] / max : 0;
}
