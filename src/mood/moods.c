/* The named moods: emotune's placements of mood words on the valence/arousal
 * plane. Needs nothing but libc and libm, so the modules that name moods
 * (library, recommend, listener) link no vision, store or audio for it. */
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "mood/mood.h"

/*
 * Russell's circumplex: J. A. Russell, "A circumplex model of affect",
 * Journal of Personality and Social Psychology 39(6):1161-1178, 1980. Affect
 * words lie around a circle in the plane of valence (unpleasant -1 ..
 * pleasant +1) and arousal (sleepy -1 .. aroused +1).
 *
 * The numbers below are NOT Russell's coordinates: they are placements chosen
 * for emotune, each word in the quadrant where his figure puts it or its
 * nearest word (happy: pleasant, somewhat aroused; calm/relaxed: pleasant,
 * low; sad: unpleasant, low; angry and tense/afraid: unpleasant, high;
 * surprised near his "astonished"), spread apart so that playlists built
 * from them differ. "disgusted" is not among his words; it sits unpleasant
 * and mildly aroused. The seven basic names are what the face model reports
 * (with neutral and fearful as aliases); energetic and excited have their
 * own points near happy with more arousal. Any code that needs a mood's
 * point (imports, `emotune tag`, playlists) uses this table, never its own
 * numbers.
 */
static const et_mood_named moods[] = {
    {"happy", 0.8, 0.5},
    {"calm", 0.3, -0.6},
    {"sad", -0.7, -0.4},
    {"angry", -0.6, 0.7},
    {"tense", -0.5, 0.6},
    {"disgusted", -0.7, 0.2},
    {"surprised", 0.3, 0.8},
    {"energetic", 0.4, 0.8},
    {"excited", 0.6, 0.7},
};

/* Other words for the same point (the face model says neutral and fearful). */
static const struct {
    const char *alias, *target;
} aliases[] = {
    {"neutral", "calm"},
    {"relaxed", "calm"},
    {"fearful", "tense"},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* name[0..len) equals the lower-case word w, ignoring the case of name. */
static bool same_word(const char *name, size_t len, const char *w)
{
    if (strlen(w) != len)
        return false;
    for (size_t k = 0; k < len; k++) {
        char c = name[k] >= 'A' && name[k] <= 'Z' ? (char)(name[k] - 'A' + 'a') : name[k];
        if (c != w[k])
            return false;
    }
    return true;
}

static const et_mood_named *find_point(const char *name, size_t len)
{
    for (size_t i = 0; i < COUNT(moods); i++)
        if (same_word(name, len, moods[i].name))
            return &moods[i];
    return NULL;
}

const et_mood_named *et_mood_named_find(const char *name, size_t len, const char **word)
{
    if (!name)
        return NULL;
    while (len && is_blank(*name))
        name++, len--;
    while (len && is_blank(name[len - 1]))
        len--;
    const et_mood_named *m = find_point(name, len);
    if (m) {
        if (word)
            *word = m->name;
        return m;
    }
    for (size_t i = 0; i < COUNT(aliases); i++)
        if (same_word(name, len, aliases[i].alias)) {
            if (word)
                *word = aliases[i].alias;
            return find_point(aliases[i].target, strlen(aliases[i].target));
        }
    return NULL;
}

bool et_mood_named_point(const char *mood, double *valence, double *arousal)
{
    const et_mood_named *m = mood ? et_mood_named_find(mood, strlen(mood), NULL) : NULL;
    if (!m)
        return false;
    if (valence)
        *valence = m->valence;
    if (arousal)
        *arousal = m->arousal;
    return true;
}

const char *et_mood_named_canonical(const char *mood)
{
    const et_mood_named *m = mood ? et_mood_named_find(mood, strlen(mood), NULL) : NULL;
    return m ? m->name : NULL;
}

const et_mood_named *et_mood_named_table(size_t *n)
{
    *n = COUNT(moods);
    return moods;
}

const char *et_mood_nearest_named(double valence, double arousal)
{
    /* The seven moods a face can show; energetic and excited are words for
     * music, not for a face. */
    const size_t faces = 7;
    const char *best = moods[0].name;
    double best_d = INFINITY;
    for (size_t i = 0; i < faces; i++) {
        double dv = moods[i].valence - valence, da = moods[i].arousal - arousal;
        if (dv * dv + da * da < best_d) {
            best_d = dv * dv + da * da;
            best = moods[i].name;
        }
    }
    return best;
}
