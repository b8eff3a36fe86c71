/*
 * Key and mode from a chroma vector, by the Krumhansl-Schmuckler algorithm:
 * the Pearson correlation of the chroma with the Krumhansl-Kessler probe-tone
 * profiles (Krumhansl & Kessler 1982; Krumhansl, "Cognitive Foundations of
 * Musical Pitch", 1990, table 4.1), major and minor, rotated to each of the
 * 12 tonics: 24 candidates, the best correlation wins.
 *
 * Confidence, the product of three factors in 0..1:
 *   fit      the best correlation (clamped at 0);
 *   margin   how clearly it beats the runner-up: m / (m + 0.05), so a margin
 *            of 0.05 halves it. Relative keys (C major and A minor share
 *            their notes) are often close, and that shows here;
 *   clarity  how far the chroma is from flat: (1 - mean / max) / 0.5, capped
 *            at 1. Correlation ignores scale, so the faint ripple left in the
 *            chroma of noise would otherwise read as a key.
 */
#include "audio/audio_internal.h"

#include <math.h>

#define MARGIN_HALF 0.05
#define FULL_CLARITY 0.5

static const double major_profile[12] = {6.35, 2.23, 3.48, 2.33, 4.38, 4.09,
                                         2.52, 5.19, 2.39, 3.66, 2.29, 2.88};
static const double minor_profile[12] = {6.33, 2.68, 3.52, 5.38, 2.60, 3.53,
                                         2.54, 4.75, 3.98, 2.69, 3.34, 3.17};

static const char *const key_names[12] = {"C", "C#", "D", "D#", "E", "F",
                                          "F#", "G", "G#", "A", "A#", "B"};

const char *et_audio_key_name(int key)
{
    return key >= 0 && key < 12 ? key_names[key] : "?";
}

/* Pearson correlation of chroma with profile transposed to tonic. */
static double correlate(const double chroma[12], const double profile[12], int tonic)
{
    double mx = 0, my = 0;
    for (int i = 0; i < 12; i++) {
        mx += chroma[i];
        my += profile[i];
    }
    mx /= 12;
    my /= 12;
    double sxy = 0, sxx = 0, syy = 0;
    for (int i = 0; i < 12; i++) {
        double x = chroma[i] - mx, y = profile[(i - tonic + 12) % 12] - my;
        sxy += x * y;
        sxx += x * x;
        syy += y * y;
    }
    return sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : 0;
}

void et__audio_key_from_chroma(const double chroma[12], int *key, bool *major,
                               double *confidence)
{
    *key = 0;
    *major = true;
    *confidence = 0;
    for (int i = 0; i < 12; i++)
        if (!isfinite(chroma[i]))
            return;
    double best = -2, second = -2;
    for (int c = 0; c < 24; c++) {
        double r = correlate(chroma, c < 12 ? major_profile : minor_profile, c % 12);
        if (r > best) {
            second = best;
            best = r;
            *key = c % 12;
            *major = c < 12;
        } else if (r > second) {
            second = r;
        }
    }
    double margin = best - second, max = 0, mean = 0;
    for (int i = 0; i < 12; i++) {
        max = fmax(max, chroma[i]);
        mean += chroma[i] / 12;
    }
    if (best <= 0 || margin <= 0 || max <= 0) /* flat chroma, or a tie */
        return;
    double clarity = fmin(1.0, (1.0 - mean / max) / FULL_CLARITY);
    *confidence = fmin(1.0, best) * margin / (margin + MARGIN_HALF) * clarity;
}
