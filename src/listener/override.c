/* listener: a mood stated by hand, which holds until cleared or until its
 * end, kept in the store so that every server on it sees the same. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listener/listener_internal.h"
#include "mood/mood.h"

#define OVERRIDE_SUFFIX "/override"

static void override_id(char out[ET__LISTENER_ID_MAX], const char *name)
{
    snprintf(out, ET__LISTENER_ID_MAX, "%s%s", name, OVERRIDE_SUFFIX);
}

static et_status check_override(const et_listener_override *o, char *err)
{
    const char *word = et_mood_named_canonical(o->mood);
    if (!word || strcmp(word, o->mood) != 0)
        return et_fail(err, ET_E_INVALID, "stated mood '%.16s' is not a named mood", o->mood);
    et_status st = et__listener_check_point(o->valence, o->arousal, err);
    if (st != ET_OK)
        return st;
    if (!isfinite(o->time) || o->time <= 0)
        return et_fail(err, ET_E_INVALID, "stated mood time %g is not a Unix time", o->time);
    if (o->until != 0 && !(isfinite(o->until) && o->until > o->time))
        return et_fail(err, ET_E_INVALID, "stated mood end %g is not after its time %g",
                       o->until, o->time);
    return ET_OK;
}

bool et__listener_read_override(const json_t *doc, et_listener_override *o)
{
    memset(o, 0, sizeof *o);
    const json_t *until = json_object_get(doc, "until");
    o->valence = et__json_number(doc, "valence", NAN);
    o->arousal = et__json_number(doc, "arousal", NAN);
    o->time = et__json_number(doc, "time", NAN);
    o->until = json_is_null(until) ? 0 : et__json_number(doc, "until", NAN);
    et__json_copy_string(doc, "mood", o->mood, sizeof o->mood);
    return check_override(o, NULL) == ET_OK;
}

static char *override_json(const et_listener_override *o, size_t *len)
{
    json_t *doc = json_pack("{s:s, s:f, s:f, s:f, s:o}", "mood", o->mood, "valence",
                            o->valence, "arousal", o->arousal, "time", o->time, "until",
                            o->until ? json_real(o->until) : json_null());
    char *json = doc ? et__json_dump(doc, len) : NULL;
    json_decref(doc);
    return json;
}

et_status et_listener_override_set(et_store *s, const et_listener_profile *p,
                                   const et_listener_override *o, char *err)
{
    if (!s || !p || !o)
        return et_fail(err, ET_E_INVALID, "et_listener_override_set: NULL argument");
    et_status st = check_override(o, err);
    if (st != ET_OK)
        return st;
    et_listener_mood m = {.time = o->time, .valence = o->valence, .arousal = o->arousal,
                          .confidence = 1, .smiling = -1};
    snprintf(m.mood, sizeof m.mood, "%s", o->mood);
    snprintf(m.source, sizeof m.source, "stated");
    char id[ET__LISTENER_ID_MAX];
    override_id(id, p->name);
    size_t len = 0;
    char *json = override_json(o, &len);
    if (!json)
        return et_fail(err, ET_E_NOMEM, "out of memory");
    et_store_op put = {ET_STORE_OP_PUT, ET_LISTENER_PROFILES, id, json, len};
    st = et__listener_mood_add_with(s, p, &m, &put, 1, NULL, err);
    free(json);
    return st;
}

et_status et_listener_override_get(et_store *s, const char *name, double now,
                                   et_listener_override *out, bool *found, char *err)
{
    if (!s || !out || !found)
        return et_fail(err, ET_E_INVALID, "et_listener_override_get: NULL argument");
    *found = false;
    et_status st = et_listener_check_name(name, err);
    if (st != ET_OK)
        return st;
    char id[ET__LISTENER_ID_MAX];
    override_id(id, name);
    json_t *doc;
    st = et__listener_get_json(s, ET_LISTENER_PROFILES, id, &doc, err);
    if (st != ET_OK || !doc)
        return st; /* none */
    et_listener_override o;
    bool valid = json_is_object(doc) && et__listener_read_override(doc, &o);
    json_decref(doc);
    if (!valid)
        et_log(ET_LOG_WARN, "skipping profiles/%s: not a stated mood", id);
    else if (o.until == 0 || now < o.until)
        *out = o, *found = true;
    return ET_OK;
}

et_status et_listener_override_clear(et_store *s, const char *name, bool *cleared, char *err)
{
    if (!s)
        return et_fail(err, ET_E_INVALID, "et_listener_override_clear: NULL argument");
    et_status st = et_listener_check_name(name, err);
    if (st != ET_OK)
        return st;
    char id[ET__LISTENER_ID_MAX];
    override_id(id, name);
    st = et_store_del(s, ET_LISTENER_PROFILES, id, err);
    if (cleared)
        *cleared = st == ET_OK;
    return st == ET_E_NOT_FOUND ? ET_OK : st;
}
