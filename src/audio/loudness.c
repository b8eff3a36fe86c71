/*
 * EBU R128 loudness, our own implementation, measured like FFmpeg's ebur128
 * filter (libavfilter/af_ebur128.c): at the stream's own rate and channels,
 * LFE ignored, side and back channels weighted 1.41 (ITU-R BS.1770-4, table
 * 3), others 1.0, no dual-mono doubling.
 *
 * (libebur128 did this before, and cost more than the decoding: it filters
 * interleaved doubles through one generic 4th-order loop, and in LRA mode
 * re-sums the whole 3 s window of squared samples every 100 ms.)
 *
 * ITU-R BS.1770-4, annex 1:
 *   K-weighting   a high shelf (+4 dB above ~1.5 kHz, the head) followed by
 *                 the RLB high-pass (~38 Hz). The recommendation gives the
 *                 biquad coefficients for 48 kHz only; like libebur128
 *                 (ebur128.c, ebur128_init_filter) and FFmpeg we recompute
 *                 them for the actual rate from the analog prototypes' f0,
 *                 gain and Q by the bilinear transform. FFmpeg resamples to
 *                 48 kHz instead; the two agree within hundredths of an LU.
 *   blocks        400 ms gating blocks overlapping by 75%: a block every
 *                 100 ms, the mean square of four 100 ms segments;
 *   loudness      -0.691 + 10 log10(sum over channels of G_i * z_i);
 *   gating        absolute at -70 LUFS, then relative at 10 LU below the
 *                 loudness of the blocks above the absolute gate; the
 *                 integrated loudness is that of the blocks above both.
 * EBU Tech 3342 (loudness range, v4 2023):
 *   short-term loudness of 3 s windows every 100 ms (30 segments), gated at
 *   -70 LUFS and 20 LU below their own integrated level; LRA is the spread
 *   between their 10th and 95th percentiles (index (n-1)*p rounded, as
 *   libebur128).
 *
 * Memory is constant however long the track: block energies go into
 * histograms of 0.1 LU bins (as libebur128's EBUR128_MODE_HISTOGRAM) which
 * also keep each bin's exact energy sum, so the integrated level is exact
 * except for the one bin the relative gate cuts through.
 *
 * The filter runs in double precision (its low pole is within 1e-3 of the
 * unit circle at 48 kHz): the recursion's latency, not its width, bounds the
 * speed, and doubles cost the same. Each channel's loop keeps only one
 * multiply-add per stage on the sample-to-sample dependency chain, and
 * channels are filtered two at a time so their chains overlap.
 */
#include "audio/audio_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ABSOLUTE_GATE_LUFS (-70.0)
#define RELATIVE_GATE_LU (-10.0)
#define LRA_RELATIVE_GATE_LU (-20.0)
#define SURROUND_WEIGHT 1.41
#define HIST_MAX_LUFS 30.0 /* louder blocks share the top bin (their energy stays exact) */
enum { HIST_BINS_PER_LU = 10,
       HIST_BINS = 1000, /* (HIST_MAX_LUFS - ABSOLUTE_GATE_LUFS) * HIST_BINS_PER_LU */
       BLOCK_SEGMENTS = 4,       /* 400 ms */
       SHORT_TERM_SEGMENTS = 30, /* 3 s */
       MAX_CHANNELS = ET__AUDIO_MAX_CHANNELS };

typedef struct histogram {
    long count[HIST_BINS];
    double energy[HIST_BINS]; /* sum of the mean squares of the blocks in the bin */
} histogram;

/* One channel's K-weighting filter state (direct form I, two stages). */
typedef struct kstate {
    double x1, x2; /* input */
    double u1, u2; /* shelf output = high-pass input */
    double v1, v2; /* high-pass output */
} kstate;

typedef struct kcoef {
    double b0, b1, b2, a1, a2; /* the shelf */
    double c1, c2;             /* the high-pass; its numerator is 1, -2, 1 */
} kcoef;

struct et__audio_loudness {
    AVChannelLayout layout;
    int rate;
    kcoef k;
    double weight[MAX_CHANNELS];
    kstate state[MAX_CHANNELS];
    size_t seg_len, seg_fill; /* samples per 100 ms segment; in the current one */
    double seg_energy;        /* weighted sum of squares of the current segment */
    double ring[SHORT_TERM_SEGMENTS]; /* mean squares of the last segments */
    long segments;
    histogram blocks, short_term;
};

et__audio_loudness *et__audio_loudness_new(void) { return calloc(1, sizeof(et__audio_loudness)); }

void et__audio_loudness_free(et__audio_loudness *l)
{
    if (!l)
        return;
    av_channel_layout_uninit(&l->layout);
    free(l);
}

/* The K-weighting coefficients for a sample rate: the analog prototypes of
 * BS.1770's two 48 kHz biquads (f0, gain, Q as derived by libebur128),
 * through the bilinear transform with prewarping at f0. */
static kcoef k_weighting(double rate)
{
    kcoef k;
    double f0 = 1681.974450955533, gain_db = 3.999843853973347, q = 0.7071752369554196;
    double kk = tan(M_PI * f0 / rate);
    double vh = pow(10.0, gain_db / 20.0), vb = pow(vh, 0.4996667741545416);
    double a0 = 1.0 + kk / q + kk * kk;
    k.b0 = (vh + vb * kk / q + kk * kk) / a0;
    k.b1 = 2.0 * (kk * kk - vh) / a0;
    k.b2 = (vh - vb * kk / q + kk * kk) / a0;
    k.a1 = 2.0 * (kk * kk - 1.0) / a0;
    k.a2 = (1.0 - kk / q + kk * kk) / a0;
    f0 = 38.13547087602444;
    q = 0.5003270373238773;
    kk = tan(M_PI * f0 / rate);
    a0 = 1.0 + kk / q + kk * kk;
    k.c1 = 2.0 * (kk * kk - 1.0) / a0;
    k.c2 = (1.0 - kk / q + kk * kk) / a0;
    return k;
}

/* BS.1770-4 channel weights as FFmpeg assigns them from the layout. */
static double channel_weight(enum AVChannel ch)
{
    switch (ch) {
    case AV_CHAN_LOW_FREQUENCY:
    case AV_CHAN_LOW_FREQUENCY_2:
        return 0.0;
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
        return SURROUND_WEIGHT;
    default:
        return 1.0;
    }
}

/* Adapts the meter to a new rate or layout (also the first time). The
 * filters restart; segments and histograms carry on. */
static et_status reconfigure(et__audio_loudness *l, const AVChannelLayout *layout, int rate,
                             char *err)
{
    if (layout->nb_channels <= 0 || layout->nb_channels > MAX_CHANNELS || rate <= 0)
        return et_fail(err, ET_E_UNSUPPORTED, "loudness meter: %d channels at %d Hz",
                       layout->nb_channels, rate);
    av_channel_layout_uninit(&l->layout);
    if (av_channel_layout_copy(&l->layout, layout) < 0)
        return et_fail(err, ET_E_NOMEM, "loudness meter: out of memory");
    for (int i = 0; i < layout->nb_channels; i++)
        l->weight[i] = channel_weight(av_channel_layout_channel_from_index(layout, (unsigned)i));
    memset(l->state, 0, sizeof l->state);
    l->k = k_weighting(rate);
    l->rate = rate;
    l->seg_len = (size_t)lround(rate / 10.0);
    if (l->seg_len == 0)
        l->seg_len = 1;
    return ET_OK;
}

/* A decaying tail would end in subnormals, which are slow. */
static void flush_tiny(kstate *st)
{
    double *v[] = {&st->x1, &st->x2, &st->u1, &st->u2, &st->v1, &st->v2};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++)
        if (fabs(*v[i]) < 1e-30)
            *v[i] = 0;
}

/* One sample through one channel's K-weighting; returns the output. Only the
 * last multiply-add of each stage depends on the previous output, so the
 * chain from sample to sample is two fused multiply-adds long. */
static inline double k_step(const kcoef *k, kstate *st, double x)
{
    double u = fma(-k->a1, st->u1, k->b0 * x + k->b1 * st->x1 + k->b2 * st->x2 - k->a2 * st->u2);
    double v = fma(-k->c1, st->v1, u - 2.0 * st->u1 + st->u2 - k->c2 * st->v2);
    st->x2 = st->x1, st->x1 = x, st->u2 = st->u1, st->u1 = u, st->v2 = st->v1, st->v1 = v;
    return v;
}

/* K-weights n samples of one channel; returns their sum of squares. */
static double filter_channel(const kcoef *k, kstate *state, const float *x, size_t n)
{
    kstate st = *state; /* in registers */
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        double v = k_step(k, &st, x[i]);
        sum += v * v;
    }
    flush_tiny(&st);
    *state = st;
    return sum;
}

/* Two channels in one loop: their independent recursions overlap in the
 * pipeline, nearly halving the time of a stereo stream. */
static void filter_pair(const kcoef *k, kstate *state, const float *x, const float *y, size_t n,
                        double *sum_x, double *sum_y)
{
    kstate a = state[0], b = state[1];
    double sa = 0, sb = 0;
    for (size_t i = 0; i < n; i++) {
        double va = k_step(k, &a, x[i]), vb = k_step(k, &b, y[i]);
        sa += va * va;
        sb += vb * vb;
    }
    flush_tiny(&a);
    flush_tiny(&b);
    state[0] = a, state[1] = b;
    *sum_x = sa, *sum_y = sb;
}

/* The weighted sum of squares of n K-weighted frames of every channel. */
static double filter_frames(et__audio_loudness *l, const float *const *planes, size_t at,
                            size_t n)
{
    double energy = 0;
    int channels = l->layout.nb_channels, c = 0;
    while (c < channels) {
        if (l->weight[c] == 0) { /* the LFE */
            c++;
        } else if (c + 1 < channels && l->weight[c + 1] > 0) {
            double sa, sb;
            filter_pair(&l->k, &l->state[c], planes[c] + at, planes[c + 1] + at, n, &sa, &sb);
            energy += l->weight[c] * sa + l->weight[c + 1] * sb;
            c += 2;
        } else {
            energy += l->weight[c] * filter_channel(&l->k, &l->state[c], planes[c] + at, n);
            c++;
        }
    }
    return energy;
}

static double lufs_of(double mean_square) { return -0.691 + 10.0 * log10(mean_square); }

static void hist_add(histogram *h, double mean_square)
{
    double lufs = lufs_of(mean_square);
    if (!(lufs > ABSOLUTE_GATE_LUFS)) /* the absolute gate; NaN too */
        return;
    int bin = (int)((lufs - ABSOLUTE_GATE_LUFS) * HIST_BINS_PER_LU);
    bin = bin < HIST_BINS ? bin : HIST_BINS - 1;
    h->count[bin]++;
    h->energy[bin] += mean_square;
}

/* A 100 ms segment is complete: a new gating block and short-term window
 * end here once there are enough segments. */
static void end_segment(et__audio_loudness *l)
{
    l->ring[l->segments % SHORT_TERM_SEGMENTS] = l->seg_energy / (double)l->seg_len;
    l->segments++;
    l->seg_energy = 0;
    l->seg_fill = 0;
    double sum = 0;
    for (long i = 1; i <= SHORT_TERM_SEGMENTS && i <= l->segments; i++) {
        sum += l->ring[(l->segments - i) % SHORT_TERM_SEGMENTS];
        if (i == BLOCK_SEGMENTS)
            hist_add(&l->blocks, sum / BLOCK_SEGMENTS);
    }
    if (l->segments >= SHORT_TERM_SEGMENTS)
        hist_add(&l->short_term, sum / SHORT_TERM_SEGMENTS);
}

et_status et__audio_loudness_add(et__audio_loudness *l, const float *const *planes,
                                 size_t frames, const AVChannelLayout *layout, int rate,
                                 char *err)
{
    if (l->seg_len == 0 || rate != l->rate || av_channel_layout_compare(layout, &l->layout) != 0) {
        et_status s = reconfigure(l, layout, rate, err);
        if (s != ET_OK)
            return s;
    }
    size_t done = 0;
    while (done < frames) {
        size_t n = l->seg_len - l->seg_fill;
        n = n < frames - done ? n : frames - done;
        l->seg_energy += filter_frames(l, planes, done, n);
        l->seg_fill += n;
        done += n;
        if (l->seg_fill == l->seg_len)
            end_segment(l);
    }
    return ET_OK;
}

/* The loudness of the bins of h at or above gate (LUFS); *count gets how many
 * blocks that is. The bin holding the gate counts whole or not at all, by
 * its mean. */
static double gated_lufs(const histogram *h, double gate, long *count)
{
    double energy = 0;
    long n = 0;
    for (int i = 0; i < HIST_BINS; i++)
        if (h->count[i] > 0 && lufs_of(h->energy[i] / h->count[i]) >= gate) {
            energy += h->energy[i];
            n += h->count[i];
        }
    *count = n;
    return n > 0 ? lufs_of(energy / n) : -HUGE_VAL;
}

/* Integrated loudness: BS.1770-4 two-stage gating. */
static double integrated(const histogram *h)
{
    long n;
    double ungated = gated_lufs(h, ABSOLUTE_GATE_LUFS, &n);
    if (n == 0)
        return ABSOLUTE_GATE_LUFS;
    double lufs = gated_lufs(h, ungated + RELATIVE_GATE_LU, &n);
    return n > 0 && lufs > ABSOLUTE_GATE_LUFS ? lufs : ABSOLUTE_GATE_LUFS;
}

/* The loudness of the bin holding the index-th (from 0) gated value. */
static double nth_value(const histogram *h, double gate, long index)
{
    for (int i = 0; i < HIST_BINS; i++) {
        if (h->count[i] == 0)
            continue;
        double lufs = lufs_of(h->energy[i] / h->count[i]);
        if (lufs < gate)
            continue;
        if (index < h->count[i])
            return lufs;
        index -= h->count[i];
    }
    return 0;
}

/* Loudness range: EBU Tech 3342. */
static double loudness_range(const histogram *h)
{
    long n;
    double ungated = gated_lufs(h, ABSOLUTE_GATE_LUFS, &n);
    if (n == 0)
        return 0;
    double gate = ungated + LRA_RELATIVE_GATE_LU;
    (void)gated_lufs(h, gate, &n);
    if (n < 2)
        return 0;
    long lo = (long)((double)(n - 1) * 0.10 + 0.5), hi = (long)((double)(n - 1) * 0.95 + 0.5);
    return nth_value(h, gate, hi) - nth_value(h, gate, lo);
}

void et__audio_loudness_result(et__audio_loudness *l, double *lufs, double *lra)
{
    double i = integrated(&l->blocks), range = loudness_range(&l->short_term);
    *lufs = isfinite(i) && i > ABSOLUTE_GATE_LUFS ? i : ABSOLUTE_GATE_LUFS;
    *lra = isfinite(range) && range > 0 ? range : 0;
}
