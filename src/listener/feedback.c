/* listener: feedback on tracks, with the mood it was given in. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "library/library.h"
#include "listener/listener_internal.h"
#include "mood/mood.h"

static const char *const kind_names[ET_REC__FEEDBACK_COUNT] = {"like", "skip", "complete"};

const char *et_listener_feedback_kind_name(et_rec_feedback_kind k)
{
    return (unsigned)k < ET_REC__FEEDBACK_COUNT ? kind_names[k] : NULL;
}

et_status et_listener_feedback_kind_parse(const char *name, et_rec_feedback_kind *out,
                                          char *err)
{
    for (int k = 0; name && k < ET_REC__FEEDBACK_COUNT; k++) {
        if (strcmp(name, kind_names[k]) == 0) {
            *out = (et_rec_feedback_kind)k;
            return ET_OK;
        }
    }
    return et_fail(err, ET_E_INVALID, "unknown feedback '%.32s': like, skip or complete",
                   name ? name : "(null)");
}

/* The id of the listener's feedback stamp (listener.h). */
static void stamp_key(char out[ET__LISTENER_ID_MAX], const char *name)
{
    snprintf(out, ET__LISTENER_ID_MAX, "%s/feedback_stamp", name);
}

/* Checks what the caller gives (the fraction is computed later). */
static et_status check_feedback(const et_listener_feedback *f, char *err)
{
    if (!isfinite(f->time) || f->time <= 0)
        return et_fail(err, ET_E_INVALID, "feedback time %g is not a Unix time", f->time);
    if (!et_listener_feedback_kind_name(f->kind))
        return et_fail(err, ET_E_INVALID, "unknown feedback kind %d: like, skip or complete",
                       (int)f->kind);
    if (f->at_s != -1 && !(isfinite(f->at_s) && f->at_s >= 0))
        return et_fail(err, ET_E_INVALID, "position %g s in the song is not a time", f->at_s);
    et_status st = et__listener_check_point(f->valence, f->arousal, err);
    if (st != ET_OK)
        return st;
    if (strcmp(f->mood, "unknown") != 0 && !et_mood_named_point(f->mood, NULL, NULL))
        return et_fail(err, ET_E_INVALID, "unknown mood name '%.16s'", f->mood);
    return et_store_check_id(f->track, err);
}

/* The track's duration in seconds (0 when unknown); ET_E_NOT_FOUND when the
 * library has no such track. */
static et_status track_duration(et_store *s, const char *track, double *duration, char *err)
{
    char *json = NULL;
    size_t len = 0;
    et_status st = et_store_get(s, ET_LIBRARY_TRACKS, track, &json, &len, err);
    if (st == ET_E_NOT_FOUND)
        return et_fail(err, ET_E_NOT_FOUND, "no track %s in the library (emotune tracks lists them)",
                       track);
    if (st != ET_OK)
        return st;
    json_t *doc = json_loadb(json, len, 0, NULL);
    free(json);
    double d = et__json_number(doc, "duration", 0);
    *duration = isfinite(d) && d > 0 ? d : 0;
    json_decref(doc);
    return ET_OK;
}

et_status et_listener_feedback_add(et_store *s, const char *name, et_listener_feedback *f,
                                   char *err)
{
    if (!s || !f)
        return et_fail(err, ET_E_INVALID, "et_listener_feedback_add: NULL argument");
    et_status st = et_listener_check_name(name, err);
    if (st == ET_OK)
        st = check_feedback(f, err);
    double duration = 0;
    if (st == ET_OK)
        st = track_duration(s, f->track, &duration, err);
    if (st != ET_OK)
        return st;
    if (f->at_s >= 0 && duration > 0 && f->at_s > duration + 1.0)
        return et_fail(err, ET_E_INVALID, "position %.1f s is past the end of the %.1f s track",
                       f->at_s, duration);
    double length = duration > 0 ? duration : ET_LISTENER_TYPICAL_SONG_S;
    f->fraction = f->at_s >= 0 ? fmin(f->at_s / length, 1.0) : 0.0;
    json_t *doc = json_pack("{s:f, s:s, s:s, s:o, s:f, s:f, s:f, s:s}", "time", f->time,
                            "track", f->track, "kind", et_listener_feedback_kind_name(f->kind),
                            "at", f->at_s >= 0 ? json_real(f->at_s) : json_null(), "fraction",
                            f->fraction, "valence", f->valence, "arousal", f->arousal, "mood",
                            f->mood);
    size_t len = 0;
    char *json = doc ? et__json_dump(doc, &len) : NULL;
    json_decref(doc);
    if (!json)
        return et_fail(err, ET_E_NOMEM, "out of memory");
    char id[ET__LISTENER_ID_MAX];
    et__listener_event_id(id, name, f->time);
    st = et_store_put(s, ET_LISTENER_FEEDBACK, id, json, len, err);
    free(json);
    if (st != ET_OK)
        return st;
    /* after the write: a cache that missed it finds a new stamp */
    char stamp_id[ET__LISTENER_ID_MAX], why[ET_ERR_MAX];
    stamp_key(stamp_id, name);
    st = et_store_stamp_bump(s, ET_LISTENER_PROFILES, stamp_id, NULL, why);
    if (st != ET_OK)
        et_fail(err, st, "the feedback is stored, but its stamp could not be bumped (%s): "
                         "servers may not see it until the next feedback", why);
    return st;
}

et_status et_listener_feedback_stamp(et_store *s, const char *name, uint64_t *stamp, char *err)
{
    if (!s || !stamp)
        return et_fail(err, ET_E_INVALID, "et_listener_feedback_stamp: NULL argument");
    et_status st = et_listener_check_name(name, err);
    if (st != ET_OK)
        return st;
    char id[ET__LISTENER_ID_MAX];
    stamp_key(id, name);
    return et_store_stamp_read(s, ET_LISTENER_PROFILES, id, stamp, err);
}

/* A stored document back into feedback; false when it is not one. */
bool et__listener_read_feedback(const json_t *doc, et_listener_feedback *f)
{
    memset(f, 0, sizeof *f);
    f->time = et__json_number(doc, "time", NAN);
    et__json_copy_string(doc, "track", f->track, sizeof f->track);
    f->kind = ET_REC__FEEDBACK_COUNT;
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    if (kind && et_listener_feedback_kind_parse(kind, &f->kind, NULL) != ET_OK)
        return false;
    f->at_s = et__json_number(doc, "at", -1);
    f->fraction = et__json_number(doc, "fraction", 0);
    f->valence = et__json_number(doc, "valence", NAN);
    f->arousal = et__json_number(doc, "arousal", NAN);
    et__json_copy_string(doc, "mood", f->mood, sizeof f->mood);
    return check_feedback(f, NULL) == ET_OK && isfinite(f->fraction) && f->fraction >= 0 &&
           f->fraction <= 1;
}

static bool read_any_feedback(const json_t *doc, void *item)
{
    return et__listener_read_feedback(doc, item);
}

et_status et_listener_feedbacks(et_store *s, const char *name, et_listener_feedback **out,
                                size_t *n, char *err)
{
    if (!out)
        return et_fail(err, ET_E_INVALID, "%s: NULL argument", "et_listener_feedbacks");
    void *items = NULL;
    et_status st = et__listener_collect(s, ET_LISTENER_FEEDBACK, name, read_any_feedback,
                                        sizeof **out, "feedback entry", &items, n, err);
    if (st == ET_OK)
        *out = items;
    return st;
}
