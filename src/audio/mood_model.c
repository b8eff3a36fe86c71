/*
 * The mood model: a valence/arousal estimate from the audio features and the
 * genre tag. It is a small hand-set linear model in standardised features,
 * squashed by tanh into [-1, 1]: transparent, deterministic, monotone in each
 * feature, and not trained on any data set (there is none in this project);
 * the signs and rough sizes follow the music-emotion literature:
 *
 *   - Arousal is carried by tempo, loudness, event (onset) density and
 *     spectral brightness/timbral sharpness: Gabrielsson & Lindstrom, "The
 *     role of structure in the musical expression of emotions" (Handbook of
 *     Music and Emotion, 2010); Juslin & Laukka, Psychological Bulletin
 *     129(5), 2003; Schubert, "Modeling perceived emotion with continuous
 *     musical features", Music Perception 21(4), 2004 (loudness and tempo
 *     track arousal); Laurier, "Automatic classification of musical mood by
 *     content-based analysis" (PhD, UPF 2011; loudness, onset rate and
 *     brightness rank high for the angry/relaxed axis).
 *   - Valence is carried first by mode (major happier than minor), then
 *     by fast tempo and bright timbre; low energy leans sad: the same
 *     reviews, and Eerola & Vuoskoski, "A review of music and emotion
 *     studies", Music Perception 30(3), 2013; Eerola, Lartillot & Toiviainen,
 *     ISMIR 2009 (mode and key clarity for valence).
 *
 * Standardised features (each 0 when the feature is missing or not finite,
 * all 0 when f is NULL or f->seconds is not positive, i.e. nothing was
 * analysed; clamped to a few units so that one absurd value cannot decide
 * alone):
 *   t = (tempo - 115) / 30 * (0.5 + 0.5 * tempo_confidence)  tempo > 0 only
 *   o = (onset_rate - 3) / 2                                  per second
 *   l = (loudness + 16) / 6                                   LUFS
 *   b = log2(centroid / 1500)                                 centroid > 0 only
 *   m = +key_confidence for major, -key_confidence for minor
 *
 *   arousal = tanh(0.45 t + 0.35 o + 0.50 l + 0.30 b + genre_a)
 *   valence = tanh(0.90 m + 0.20 b + 0.20 t + 0.30 min(l, 0) + genre_v)
 *
 * The centres are typical values of popular music (about 115 BPM, -16 LUFS
 * integrated with the usual loudness range of releases, a 1.5 kHz centroid at
 * 22 kHz), the scales about one spread. Genre nudges (table below, matched
 * case-insensitively as substrings of the tag, summed, each axis clamped to
 * +-0.4) carry what the genre says about the mood beyond what the features
 * see: metal and punk are more aroused than their loudness alone tells,
 * ambient and classical calmer, blues and doom sadder, disco and funk
 * happier (the genre-emotion associations of Eerola & Vuoskoski 2013 and
 * Laurier 2011).
 */
#include "audio/audio.h"

#include <ctype.h>
#include <math.h>
#include <stddef.h>
#include <string.h>

#define GENRE_CLAMP 0.4

static const struct {
    const char *word;
    double arousal, valence;
} genre_nudges[] = {
    {"metal", 0.30, -0.10},    {"punk", 0.30, 0.00},       {"hardcore", 0.30, -0.10},
    {"grind", 0.30, -0.15},    {"drum and bass", 0.25, 0.0}, {"drum & bass", 0.25, 0.0},
    {"dnb", 0.25, 0.00},       {"techno", 0.20, 0.00},     {"trance", 0.15, 0.10},
    {"house", 0.15, 0.10},     {"dance", 0.15, 0.15},      {"edm", 0.20, 0.10},
    {"disco", 0.10, 0.20},     {"funk", 0.05, 0.20},       {"reggae", -0.05, 0.15},
    {"ska", 0.10, 0.15},       {"pop", 0.05, 0.10},        {"gospel", 0.00, 0.10},
    {"children", 0.00, 0.20},  {"ambient", -0.30, 0.00},   {"classical", -0.20, 0.00},
    {"new age", -0.25, 0.05},  {"chill", -0.20, 0.05},     {"lounge", -0.15, 0.05},
    {"lo-fi", -0.15, 0.00},    {"lofi", -0.15, 0.00},      {"folk", -0.10, 0.00},
    {"acoustic", -0.10, 0.00}, {"jazz", -0.05, 0.05},      {"soundtrack", -0.05, 0.00},
    {"blues", -0.05, -0.10},   {"doom", -0.05, -0.20},     {"goth", 0.00, -0.15},
    {"emo", 0.05, -0.15},      {"dark", 0.00, -0.10},
};

/* Case-insensitive substring test, ASCII only (genre words are ASCII). */
static bool contains(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t i = 0;
        while (i < n && hay[i] && tolower((unsigned char)hay[i]) == needle[i])
            i++;
        if (i == n)
            return true;
    }
    return false;
}

static double clamp(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }

/* A standardised feature, 0 when the input is missing. */
static double z(double x, double centre, double scale, double lo, double hi)
{
    return isfinite(x) ? clamp((x - centre) / scale, lo, hi) : 0;
}

static void genre_nudge(const char *genre, double *a, double *v)
{
    *a = *v = 0;
    if (!genre)
        return;
    for (size_t i = 0; i < sizeof genre_nudges / sizeof *genre_nudges; i++)
        if (contains(genre, genre_nudges[i].word)) {
            *a += genre_nudges[i].arousal;
            *v += genre_nudges[i].valence;
        }
    *a = clamp(*a, -GENRE_CLAMP, GENRE_CLAMP);
    *v = clamp(*v, -GENRE_CLAMP, GENRE_CLAMP);
}

void et_audio_estimate_mood(const et_audio_features *f, const char *genre, double *valence,
                            double *arousal)
{
    double ga, gv;
    genre_nudge(genre, &ga, &gv);
    double t = 0, o = 0, l = 0, b = 0, m = 0;
    if (f && f->seconds > 0) { /* else nothing was analysed: the genre alone */
        double conf = isfinite(f->tempo_confidence) ? clamp(f->tempo_confidence, 0, 1) : 0;
        if (f->tempo > 0)
            t = z(f->tempo, 115, 30, -2.5, 2.5) * (0.5 + 0.5 * conf);
        o = z(f->onset_rate, 3, 2, -1.5, 2.5);
        l = z(f->loudness, -16, 6, -3, 2);
        if (f->centroid > 0 && isfinite(f->centroid))
            b = clamp(log2(f->centroid / 1500), -2, 2);
        double kc = isfinite(f->key_confidence) ? clamp(f->key_confidence, 0, 1) : 0;
        m = f->major ? kc : -kc;
    }
    *arousal = tanh(0.45 * t + 0.35 * o + 0.50 * l + 0.30 * b + ga);
    *valence = tanh(0.90 * m + 0.20 * b + 0.20 * t + 0.30 * fmin(l, 0) + gv);
}
