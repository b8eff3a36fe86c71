/* Fuzzes the readers of listener documents (moods, feedback, profiles,
 * stated moods, tracks) on any JSON a store could hold -- another emotune
 * version, a hand edit, an import -- and checks what the recommender and
 * the commands rely on: a mood, feedback or stated mood that is accepted
 * has every field in range and a known name; a profile always passes its
 * own check; a track has an id, a title and a location, a point in range
 * or none, a non-negative duration and tempo. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "listener/listener_internal.h"
#include "mood/mood.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_range(double x, double lo, double hi)
{
    if (!isfinite(x) || x < lo || x > hi)
        abort();
}

static void check_name(const char *name)
{
    if (!memchr(name, '\0', ET_LISTENER_MAX_MOOD))
        abort();
    if (strcmp(name, "unknown") != 0 && !et_mood_named_point(name, NULL, NULL))
        abort();
}

static void check_mood(const json_t *doc)
{
    et_listener_mood m;
    if (!et__listener_read_mood(doc, &m))
        return;
    check_range(m.valence, -1, 1);
    check_range(m.arousal, -1, 1);
    check_range(m.confidence, 0, 1);
    if (m.smiling != -1)
        check_range(m.smiling, 0, 1);
    if (!(m.time > 0) || !isfinite(m.time))
        abort();
    check_name(m.mood);
    if (strcmp(m.source, "face") != 0 && strcmp(m.source, "stated") != 0)
        abort();
}

static void check_feedback(const json_t *doc)
{
    et_listener_feedback f;
    if (!et__listener_read_feedback(doc, &f))
        return;
    if (!et_listener_feedback_kind_name(f.kind) || et_store_check_id(f.track, NULL) != ET_OK)
        abort();
    check_range(f.fraction, 0, 1);
    check_range(f.valence, -1, 1);
    check_range(f.arousal, -1, 1);
    if (f.at_s != -1)
        check_range(f.at_s, 0, INFINITY);
    check_name(f.mood);
}

static void check_profile(const json_t *doc)
{
    et_listener_profile p;
    if (et_listener_profile_default("fuzz", &p, NULL) != ET_OK)
        abort();
    et__listener_read_profile(doc, &p);
    if (et_listener_profile_check(&p, NULL) != ET_OK)
        abort();
}

static void check_override(const json_t *doc)
{
    et_listener_override o;
    if (!et__listener_read_override(doc, &o))
        return;
    check_name(o.mood);
    if (strcmp(o.mood, "unknown") == 0 || strcmp(et_mood_named_canonical(o.mood), o.mood) != 0)
        abort();
    check_range(o.valence, -1, 1);
    check_range(o.arousal, -1, 1);
    check_range(o.time, nextafter(0, 1), INFINITY);
    if (o.until != 0 && !(isfinite(o.until) && o.until > o.time))
        abort();
}

static void check_track(const json_t *doc)
{
    et_listener_track t;
    if (!et__listener_read_track("f-0123", doc, &t))
        return; /* out of memory only */
    if (strcmp(t.id, "f-0123") != 0 || !t.title[0] || !t.location)
        abort();
    if ((t.artist && !t.artist[0]) || (t.genre && !t.genre[0]))
        abort();
    if (t.has_point) {
        check_range(t.valence, -1, 1);
        check_range(t.arousal, -1, 1);
    }
    check_range(t.duration, 0, INFINITY);
    check_range(t.tempo, 0, 1000);
    et__listener_track_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *doc = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (json_is_object(doc)) {
        check_mood(doc);
        check_feedback(doc);
        check_profile(doc);
        check_override(doc);
        check_track(doc);
    }
    json_decref(doc);
    return 0;
}
