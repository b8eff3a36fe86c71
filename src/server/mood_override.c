/* server: a listener's mood stated by hand (PUT and DELETE .../mood), for
 * when the camera is off, refused or wrong. It lives in the store only
 * (listener.h's override), read on every request that needs the mood, so
 * every server on the store sees it the moment it is stated or cleared. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "server/server_internal.h"

bool et__override_get(et_store *st, const char *name, et_listener_override *o, bool *held,
                      et__reply *fail)
{
    char err[ET_ERR_MAX];
    if (et_listener_override_get(st, name, et__wall_time(), o, held, err) == ET_OK)
        return true;
    *fail = et__error(503, ET_E_UNAVAILABLE, "%s", err);
    return false;
}

void et__override_mood(const et_listener_override *o, et_listener_mood *out)
{
    *out = (et_listener_mood){.time = o->time, .valence = o->valence, .arousal = o->arousal,
                              .confidence = 1, .smiling = -1};
    snprintf(out->mood, sizeof out->mood, "%s", o->mood);
    snprintf(out->source, sizeof out->source, "manual");
}

/* A number field in [lo, hi] into *out; false (err set) when it is
 * something else. */
static bool number_in(json_t *v, const char *key, double lo, double hi, double *out, char *err)
{
    double x = json_number_value(v);
    if (json_is_number(v) && x >= lo && x <= hi) {
        *out = x;
        return true;
    }
    snprintf(err, ET_ERR_MAX, "\"%s\" must be a number from %g to %g", key, lo, hi);
    return false;
}

/* The mood of the body: by name, or by point (named after its nearest). */
static bool read_mood(json_t *doc, et__mood_body *out, char *err)
{
    json_t *name = json_object_get(doc, "mood"), *v = json_object_get(doc, "valence"),
           *a = json_object_get(doc, "arousal");
    if (name && (v || a)) {
        snprintf(err, ET_ERR_MAX, "give \"mood\" or \"valence\" and \"arousal\", not both");
        return false;
    }
    if (name) {
        const char *word = et_mood_named_canonical(json_string_value(name));
        if (!word || !et_mood_named_point(word, &out->valence, &out->arousal)) {
            snprintf(err, ET_ERR_MAX, "\"mood\" must be a named mood (happy, calm, sad, "
                                      "angry, tense, disgusted, surprised, energetic, "
                                      "excited)");
            return false;
        }
        snprintf(out->mood, sizeof out->mood, "%s", word);
        return true;
    }
    if (!v || !a) {
        snprintf(err, ET_ERR_MAX, "give \"mood\": NAME, or \"valence\" and \"arousal\"");
        return false;
    }
    if (!number_in(v, "valence", -1, 1, &out->valence, err) ||
        !number_in(a, "arousal", -1, 1, &out->arousal, err))
        return false;
    snprintf(out->mood, sizeof out->mood, "%s",
             et_mood_nearest_named(out->valence, out->arousal));
    return true;
}

et_status et__parse_mood_body(const char *body, size_t len, et__mood_body *out, char *err)
{
    static const char *const known[] = {"mood", "valence", "arousal", "for_s"};
    et_status rc = ET_E_INVALID;
    json_t *doc = et__json_body(body, len,
                                "{\"mood\": NAME} or {\"valence\": V, \"arousal\": A}, "
                                "with \"for_s\": SECONDS or not",
                                &rc, err);
    *out = (et__mood_body){.for_s = 0};
    if (!doc)
        return rc;
    bool ok = et__json_known_keys(doc, known, sizeof known / sizeof *known, err) &&
              read_mood(doc, out, err);
    json_t *f = json_object_get(doc, "for_s");
    if (ok && f && !json_is_null(f) &&
        !(json_is_number(f) && json_number_value(f) > 0 &&
          json_number_value(f) <= ET_LISTENER_OVERRIDE_MAX_S)) {
        snprintf(err, ET_ERR_MAX, "\"for_s\" must be seconds, more than 0 and at most %g",
                 ET_LISTENER_OVERRIDE_MAX_S);
        ok = false;
    }
    if (ok && f && !json_is_null(f))
        out->for_s = json_number_value(f);
    json_decref(doc);
    return ok ? ET_OK : ET_E_INVALID;
}

et__reply et__mood_put(et_server *s, const et__call *c)
{
    et__reply fail;
    et_store *st;
    et__mood_body b;
    char err[ET_ERR_MAX];
    if (!et__check_name(c->name, &fail))
        return fail;
    et_status rc = et__parse_mood_body(c->req->body, c->req->len, &b, err);
    if (rc != ET_OK)
        return et__error(400, rc, "%s", err);
    if (!(st = et__store(s, &fail)))
        return fail;
    et_listener_profile p;
    if (et_listener_profile_load(st, c->name, &p, err) != ET_OK)
        return et__error(503, ET_E_UNAVAILABLE, "%s", err);
    et_listener_override o = {.valence = b.valence, .arousal = b.arousal,
                              .time = et__wall_time()};
    o.until = b.for_s ? o.time + b.for_s : 0;
    snprintf(o.mood, sizeof o.mood, "%s", b.mood);
    rc = et_listener_override_set(st, &p, &o, err);
    if (rc != ET_OK)
        return et__error(rc == ET_E_INVALID ? 400 : 503, rc, "%s", err);
    return (et__reply){.status = 200, .json = et__override_json(&o)};
}

et__reply et__mood_delete(et_server *s, const et__call *c)
{
    et__reply fail;
    et_store *st;
    if (!et__check_name(c->name, &fail) || !(st = et__store(s, &fail)))
        return fail;
    char err[ET_ERR_MAX];
    bool cleared;
    if (et_listener_override_clear(st, c->name, &cleared, err) != ET_OK)
        return et__error(503, ET_E_UNAVAILABLE, "%s", err);
    return (et__reply){.status = 200,
                       .json = json_pack("{s:s,s:b}", "listener", c->name, "cleared", cleared)};
}
