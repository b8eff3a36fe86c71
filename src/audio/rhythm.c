/*
 * Onsets and tempo of the mono 22050 Hz stream, in hops of 512 samples
 * (23.2 ms; 43.1 hops per second).
 *
 * Onset strength: spectral flux of the log-compressed power spectrum, half-
 * wave rectified (Bello et al., "A tutorial on onset detection in music
 * signals", IEEE TSAP 13(5), 2005; with the logarithmic compression of
 * Klapuri 1999 and Boeck et al. 2012):
 *   L_k[n] = log2(1 + GAMMA * |X_k[n]|^2)   1024-sample Hann window, hop 512,
 *            (|X| normalised so a full-scale sine reads 1)
 *   s[n]   = sum over k of max(0, L_k[n] - L_k[n-1])
 * Magnitudes only, so no phase (aubio's detector, which this replaces,
 * computed a phase for every bin of every hop: most of the analysis' time).
 * The logarithm is a fast polynomial approximation (error < 0.01): the flux
 * sums hundreds of bins, and only its shape over time matters.
 *
 * Onsets: peaks of s picked with an adaptive threshold (Dixon, "Onset
 * detection revisited", DAFx 2006; Boeck, Krebs & Schedl, "Evaluating the
 * online capability of onset detection methods", ISMIR 2012): hop m is an
 * onset when s[m] is the maximum of s[m-PRE_MAX .. m+POST], exceeds the
 * mean of s[m-PRE_AVG .. m+POST] times THRESHOLD_RATIO and MIN_STRENGTH,
 * and comes MIN_GAP hops or more after the previous onset. The decision
 * waits POST hops for the samples after m.
 *
 * Tempo: the periodicity of the onset strength, after Ellis, "Beat
 * tracking by dynamic programming" (J. New Music Research 36(1), 2007) and
 * Percival & Tzanetakis, "Streamlined tempo estimation based on
 * autocorrelation and cross-correlation with pulses" (IEEE/ACM TASLP 22(12),
 * 2014):
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
 *                   sub-hop precision (one hop is 5% at 128 BPM);
 *   confidence    the autocovariance at the period over that at lag 0;
 *   no beat       under 8 s of audio, or a confidence under MIN_CONFIDENCE:
 *                   tempo 0.
 */
#include "audio/audio_internal.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <fftw3.h>

enum { WIN = ET_AUDIO_ONSET_WIN, HOP = ET_AUDIO_ONSET_HOP, BINS = WIN / 2 + 1 };

#define HOPS_PER_SECOND ((double)ET_AUDIO_RATE / HOP)
#define MIN_BPM 40.0
#define MAX_BPM 240.0
#define PRIOR_BPM 120.0
#define PRIOR_OCTAVES 1.0
#define PERIOD_STEP 0.05 /* hops */
/* Below this normalised autocorrelation at the period there is no beat to
 * speak of (noise and sustained tones score under 0.05, click tracks and
 * drum loops 0.4..0.7 in tests/test_audio.c). */
#define MIN_CONFIDENCE 0.1
/* Compression: power 1e-6 (-60 dBFS) maps to log2(2). */
#define GAMMA 1e6f
/* Peak picking (hops): a local maximum over -2..+2 hops (+-46 ms), above
 * 1.5 times the mean of the last ~0.3 s, and at least 2 hops (46 ms, a 16th
 * note at 320 BPM) after the previous onset. MIN_STRENGTH is about one bin
 * rising by a factor of 4 in power: the floor for sound that barely moves. */
enum { PRE_MAX = 2, POST = 2, PRE_AVG = 12, MIN_GAP = 2, PICK_RING = 16 };
_Static_assert(PICK_RING > PRE_AVG + POST, "the peak picker's window fits its ring");
#define THRESHOLD_RATIO 1.5
#define MIN_STRENGTH 2.0
enum { MAX_LAG = 4 * ET_AUDIO_RATE / HOP, /* 4 s of hops */
       HARMONICS = 4 };

struct et__audio_rhythm {
    float *in; /* windowed frame (fftwf_malloc: aligned for SIMD) */
    fftwf_complex *out;
    fftwf_plan plan;
    float window[WIN];
    float pending[WIN]; /* the last WIN samples; the first WIN - HOP start silent */
    size_t fill;
    float prev[BINS];   /* L_k of the previous hop */
    long hops, onsets;
    float recent[PICK_RING]; /* recent[n % PICK_RING] = s[n] */
    long last_onset;
    /* onset strength and its running autocorrelation */
    float ring[MAX_LAG + 1]; /* ring[(n) % (MAX_LAG+1)] = s[n] */
    double acf[MAX_LAG + 1]; /* sum over n of s[n] * s[n - lag] */
    double sum;              /* sum of s[n] */
};

void et__audio_rhythm_free(et__audio_rhythm *r)
{
    if (!r)
        return;
    if (r->plan) {
        et__audio_planner_lock();
        fftwf_destroy_plan(r->plan);
        et__audio_planner_unlock();
    }
    fftwf_free(r->in);
    fftwf_free(r->out);
    free(r);
}

et__audio_rhythm *et__audio_rhythm_new(void)
{
    et__audio_rhythm *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->in = fftwf_malloc(sizeof(float) * WIN);
    r->out = fftwf_malloc(sizeof(fftwf_complex) * BINS);
    if (r->in && r->out) {
        et__audio_planner_lock();
        r->plan = fftwf_plan_dft_r2c_1d(WIN, r->in, r->out, FFTW_ESTIMATE);
        et__audio_planner_unlock();
    }
    if (!r->plan) {
        et__audio_rhythm_free(r);
        return NULL;
    }
    /* periodic Hann, scaled so that a full-scale sine's bin reads |X| = 1
     * (the window sums to WIN / 2; a sine of amplitude 1 gives half of it) */
    for (int i = 0; i < WIN; i++)
        r->window[i] = (float)((0.5 - 0.5 * cos(2.0 * M_PI * i / WIN)) * 4.0 / WIN);
    r->fill = WIN - HOP;
    r->last_onset = -MIN_GAP;
    return r;
}

/* log2(x) for x >= 1, within 0.01: the exponent plus a quadratic in the
 * mantissa. Plain arithmetic, so the loop over bins vectorises. */
static inline float fast_log2(float x)
{
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    float e = (float)((int32_t)(bits >> 23) - 127);
    bits = (bits & 0x007fffffu) | 0x3f800000u;
    float m;
    memcpy(&m, &bits, sizeof m);
    return e + (-0.34484843f * m + 2.02466578f) * m - 1.67487759f;
}

/* The onset strength of the frame in pending. */
static float spectral_flux(et__audio_rhythm *r)
{
    for (int i = 0; i < WIN; i++)
        r->in[i] = r->pending[i] * r->window[i];
    fftwf_execute(r->plan); /* executing a plan is thread-safe */
    float flux = 0;
    for (int k = 0; k < BINS; k++) {
        float p = r->out[k][0] * r->out[k][0] + r->out[k][1] * r->out[k][1];
        float level = fast_log2(1.0f + GAMMA * p);
        float rise = level - r->prev[k];
        flux += rise > 0 ? rise : 0;
        r->prev[k] = level;
    }
    return flux;
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

/* Decides whether hop m = hops - 1 - POST is an onset, now that the POST
 * hops after it are known. */
static void pick_peak(et__audio_rhythm *r)
{
    long m = r->hops - 1 - POST;
    if (m < 0)
        return;
    float v = r->recent[m % PICK_RING];
    double mean = 0;
    long from = m - PRE_AVG > 0 ? m - PRE_AVG : 0;
    for (long j = m - PRE_MAX > 0 ? m - PRE_MAX : 0; j <= m + POST; j++)
        if (r->recent[j % PICK_RING] > v)
            return;
    for (long j = from; j <= m + POST; j++)
        mean += r->recent[j % PICK_RING];
    mean /= (double)(m + POST - from + 1);
    if (v >= MIN_STRENGTH && v >= THRESHOLD_RATIO * mean && m - r->last_onset >= MIN_GAP) {
        r->onsets++;
        r->last_onset = m;
    }
}

static void process_hop(et__audio_rhythm *r)
{
    float s = spectral_flux(r);
    r->recent[r->hops % PICK_RING] = s;
    add_strength(r, s);
    r->hops++;
    pick_peak(r);
}

void et__audio_rhythm_push(et__audio_rhythm *r, const float *x, size_t n)
{
    while (n) {
        size_t take = WIN - r->fill < n ? WIN - r->fill : n;
        memcpy(r->pending + r->fill, x, take * sizeof *x);
        r->fill += take;
        x += take;
        n -= take;
        if (r->fill < WIN)
            break;
        process_hop(r);
        memmove(r->pending, r->pending + HOP, (WIN - HOP) * sizeof *r->pending);
        r->fill = WIN - HOP;
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
