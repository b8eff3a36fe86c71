/*
 * Onsets and tempo of the mono 22050 Hz stream, in hops of 256 samples
 * (11.6 ms; 86.1 hops per second).
 *
 * Onsets: aubio's onset detector ("default": high-frequency content, 1024
 * window), counted per second of audio.
 *
 * Tempo: the periodicity of an onset-strength signal, after Ellis, "Beat
 * tracking by dynamic programming" (J. New Music Research 36(1), 2007) and
 * Percival & Tzanetakis, "Streamlined tempo estimation based on
 * autocorrelation and cross-correlation with pulses" (IEEE/ACM TASLP 22(12),
 * 2014):
 *   strength s[n] = max(0, log(1 + hfc[n]) - log(1 + hfc[n-1])), the rise of
 *                   the compressed HFC descriptor aubio computes anyway;
 *   autocorrelation accumulated on the fly over a 4 s ring of s (memory is
 *                   constant however long the track);
 *   score(P)      = mean of the autocovariance at P, 2P, 3P, 4P, for periods
 *                   P of 40..240 BPM in steps of 0.05 hop (a beat period is
 *                   rarely a whole number of hops, so the autocovariance is
 *                   smoothed by [1 2 1]/4 and read between hops linearly).
 *                   Half the true period scores low (every other multiple
 *                   misses); twice it scores as well, and the choice falls to
 *                   a log-Gaussian preference around 120 BPM, one octave
 *                   wide (Ellis's tempo prior);
 *   refinement    the autocovariance peak nearest the largest multiple k*P in
 *                   the ring, interpolated by a parabola and divided by k:
 *                   sub-hop precision (one hop is 2.5% at 128 BPM);
 *   confidence    the autocovariance at the period over that at lag 0;
 *   no beat       under 8 s of audio, or a confidence under MIN_CONFIDENCE:
 *                   tempo 0.
 * aubio's own tracker (new_aubio_tempo, "default", 1024/256) reports the
 * period of its latest window with a resolution of whole hops: on steady
 * click tracks it read 101.2, 129.8, 142.5 and 173.2 BPM for 100, 128, 140
 * and 170 (1-2% high), where this estimate reads 100.0, 128.0, 140.1 (and
 * 85.0: the octave ambiguity, see audio.h). So it is not run at all.
 */
#include "audio/audio_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <aubio/aubio.h>

_Static_assert(sizeof(smpl_t) == sizeof(float), "aubio built with single precision");

#define HOPS_PER_SECOND ((double)ET_AUDIO_RATE / ET_AUDIO_ONSET_HOP)
#define MIN_BPM 40.0
#define MAX_BPM 240.0
#define PRIOR_BPM 120.0
#define PRIOR_OCTAVES 1.0
#define PERIOD_STEP 0.05 /* hops */
/* Below this normalised autocorrelation at the period there is no beat to
 * speak of (noise and sustained tones score under 0.05, click tracks and
 * drum loops 0.4..0.7 in tests/test_audio.c). */
#define MIN_CONFIDENCE 0.1
enum { MAX_LAG = 4 * ET_AUDIO_RATE / ET_AUDIO_ONSET_HOP, /* 4 s of hops */
       HARMONICS = 4 };

struct et__audio_rhythm {
    aubio_onset_t *onset;
    float hop[ET_AUDIO_ONSET_HOP];
    size_t fill;
    long hops, onsets;
    /* onset strength and its running autocorrelation */
    double prev_level;
    float ring[MAX_LAG + 1]; /* ring[(n) % (MAX_LAG+1)] = s[n] */
    double acf[MAX_LAG + 1]; /* sum over n of s[n] * s[n - lag] */
    double sum;              /* sum of s[n] */
};

et__audio_rhythm *et__audio_rhythm_new(void)
{
    et__audio_rhythm *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    et__audio_planner_lock(); /* aubio makes FFTW plans */
    r->onset = new_aubio_onset("default", ET_AUDIO_ONSET_WIN, ET_AUDIO_ONSET_HOP,
                               ET_AUDIO_RATE);
    et__audio_planner_unlock();
    if (!r->onset) {
        free(r);
        return NULL;
    }
    return r;
}

void et__audio_rhythm_free(et__audio_rhythm *r)
{
    if (!r)
        return;
    et__audio_planner_lock();
    del_aubio_onset(r->onset);
    et__audio_planner_unlock();
    free(r);
}

static void add_strength(et__audio_rhythm *r, double s)
{
    long n = r->hops;
    r->ring[n % (MAX_LAG + 1)] = (float)s;
    long max = n < MAX_LAG ? n : MAX_LAG;
    for (long lag = 0; lag <= max; lag++)
        r->acf[lag] += s * r->ring[(n - lag) % (MAX_LAG + 1)];
    r->sum += s;
}

static void process_hop(et__audio_rhythm *r)
{
    fvec_t in = {.length = ET_AUDIO_ONSET_HOP, .data = r->hop};
    smpl_t found = 0;
    fvec_t out = {.length = 1, .data = &found};
    aubio_onset_do(r->onset, &in, &out);
    if (found > 0)
        r->onsets++;
    double level = log1p(fmax(0.0, aubio_onset_get_descriptor(r->onset)));
    add_strength(r, fmax(0.0, level - r->prev_level));
    r->prev_level = level;
    r->hops++;
}

void et__audio_rhythm_push(et__audio_rhythm *r, const float *x, size_t n)
{
    while (n) {
        size_t take = ET_AUDIO_ONSET_HOP - r->fill < n ? ET_AUDIO_ONSET_HOP - r->fill : n;
        memcpy(r->hop + r->fill, x, take * sizeof *x);
        r->fill += take;
        x += take;
        n -= take;
        if (r->fill == ET_AUDIO_ONSET_HOP) {
            process_hop(r);
            r->fill = 0;
        }
    }
}

/* Autocovariance at an integer lag (mean removed), from the running sums. */
static double autocov(const et__audio_rhythm *r, long lag)
{
    double mean = r->sum / r->hops;
    return r->acf[lag] / (double)(r->hops - lag) - mean * mean;
}

/* Autocovariance smoothed by [1 2 1]/4 and read at a fractional lag by linear
 * interpolation: a beat period is rarely a whole number of hops, and its
 * multiples drift further from the integer grid. */
static double smooth_cov(const et__audio_rhythm *r, double lag)
{
    long i = (long)floor(lag);
    if (i < 1 || i + 2 > MAX_LAG || i + 2 >= r->hops)
        return 0;
    double c[4];
    for (int j = 0; j < 4; j++)
        c[j] = autocov(r, i - 1 + j);
    double a = 0.25 * c[0] + 0.5 * c[1] + 0.25 * c[2];
    double b = 0.25 * c[1] + 0.5 * c[2] + 0.25 * c[3];
    double w = lag - (double)i;
    return a + w * (b - a);
}

static double score(const et__audio_rhythm *r, double period)
{
    double sum = 0;
    int n = 0;
    for (int k = 1; k <= HARMONICS && k * period + 2 <= MAX_LAG; k++, n++)
        sum += smooth_cov(r, k * period);
    double octaves = log2(60.0 * HOPS_PER_SECOND / period / PRIOR_BPM) / PRIOR_OCTAVES;
    return n ? sum / n * exp(-0.5 * octaves * octaves) : -HUGE_VAL;
}

/* The period (hops, in steps of PERIOD_STEP) with the best score, 0 when no
 * period scores above 0. */
static double best_period(const et__audio_rhythm *r)
{
    double lo = 60.0 * HOPS_PER_SECOND / MAX_BPM, hi = 60.0 * HOPS_PER_SECOND / MIN_BPM;
    double best = 0, best_score = 0;
    for (double p = lo; p <= hi; p += PERIOD_STEP) {
        double s = score(r, p);
        if (s > best_score)
            best_score = s, best = p;
    }
    return best;
}

/* The period refined on the largest of its multiples in the ring: the
 * autocovariance peak nearest k * period, interpolated by a parabola, / k. */
static double refine(const et__audio_rhythm *r, double period)
{
    int k = (int)((MAX_LAG - 2) / period);
    if (k < 1)
        return period;
    long centre = lround(k * period), peak = centre;
    for (long l = centre - k; l <= centre + k; l++)
        if (l > 0 && l < MAX_LAG && autocov(r, l) > autocov(r, peak))
            peak = l;
    if (peak <= 0 || peak >= MAX_LAG || fabs((double)peak - k * period) > k * 0.5 + 1)
        return period;
    double a = autocov(r, peak - 1), b = autocov(r, peak), c = autocov(r, peak + 1);
    double den = a - 2 * b + c;
    double offset = den < 0 ? 0.5 * (a - c) / den : 0;
    return (peak + fmax(-0.5, fmin(0.5, offset))) / k;
}

void et__audio_rhythm_finish(const et__audio_rhythm *r, et_audio_features *f)
{
    double seconds = r->hops / HOPS_PER_SECOND;
    f->onset_rate = seconds > 0 ? r->onsets / seconds : 0;
    f->tempo = 0;
    f->tempo_confidence = 0;
    if (r->hops < 2 * MAX_LAG) /* under 8 s: too little to tell */
        return;
    double var = autocov(r, 0);
    double period = best_period(r);
    if (period <= 0 || !(var > 0))
        return;
    double refined = refine(r, period);
    double confidence = fmin(1.0, smooth_cov(r, refined) / var);
    if (!(confidence >= MIN_CONFIDENCE))
        return;
    f->tempo = 60.0 * HOPS_PER_SECOND / refined;
    f->tempo_confidence = confidence;
}
