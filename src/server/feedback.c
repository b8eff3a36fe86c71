/* server: a listener's feedback on a song (like, skip with the position,
 * played to the end), in the mood of the moment. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report/report.h"
#include "server/server_internal.h"

et_status et__parse_feedback(const char *body, size_t len, et__feedback_body *out, char *err)
{
    et_status rc = ET_E_INVALID;
    json_t *doc = et__json_body(body, len,
                                "{\"track\": ID, \"kind\": \"like\"|\"skip\"|\"complete\"}",
                                &rc, err);
    *out = (et__feedback_body){.at_s = -1};
    if (!doc)
        return rc;
    const char *track = json_string_value(json_object_get(doc, "track"));
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    json_t *at = json_object_get(doc, "at"), *m = json_object_get(doc, "mood");
    const char *mood = m && !json_is_null(m) ? et_mood_named_canonical(json_string_value(m)) : "";
    bool ok = false;
    if (!track || strlen(track) >= sizeof out->track || et_store_check_id(track, NULL) != ET_OK)
        snprintf(err, ET_ERR_MAX, "\"track\" must be a track id");
    else if (!kind || et_listener_feedback_kind_parse(kind, &out->kind, NULL) != ET_OK)
        snprintf(err, ET_ERR_MAX, "\"kind\" must be like, skip or complete");
    else if (at && !json_is_null(at) &&
             !(json_is_number(at) && json_number_value(at) >= 0 &&
               isfinite(json_number_value(at))))
        snprintf(err, ET_ERR_MAX, "\"at\" must be seconds, 0 or more");
    else if (!mood)
        snprintf(err, ET_ERR_MAX, "\"mood\" must be a named mood");
    else
        ok = true;
    if (ok) {
        snprintf(out->track, sizeof out->track, "%s", track);
        out->at_s = json_is_number(at) ? json_number_value(at) : -1;
        snprintf(out->mood, sizeof out->mood, "%s", mood);
    }
    json_decref(doc);
    return ok ? ET_OK : ET_E_INVALID;
}

et__reply et__feedback(et_server *s, const et__call *c)
{
    et__reply fail = {0};
    et_store *st;
    et__feedback_body b;
    char err[ET_ERR_MAX];
    if (!et__check_name(c->name, &fail))
        return fail;
    et_status rc = et__parse_feedback(c->req->body, c->req->len, &b, err);
    if (rc != ET_OK)
        return et__error(400, rc, "%s", err);
    if (!(st = et__store(s, &fail)))
        return fail;
    et_listener_feedback f = {.time = et__wall_time(), .kind = b.kind, .at_s = b.at_s};
    snprintf(f.track, sizeof f.track, "%s", b.track);
    if (*b.mood) { /* stated with the feedback */
        et_mood_named_point(b.mood, &f.valence, &f.arousal);
        snprintf(f.mood, sizeof f.mood, "%s", b.mood);
    } else {
        et_listener_mood m;
        bool live;
        if (!et__current_mood(s, st, c->name, &m, &live, &fail))
            return fail.status ? fail
                               : et__error(400, ET_E_INVALID,
                                           "no mood known for listener %s: give \"mood\"",
                                           c->name);
        f.valence = m.valence;
        f.arousal = m.arousal;
        snprintf(f.mood, sizeof f.mood, "%s", m.mood);
    }
    rc = et_listener_feedback_add(st, c->name, &f, err);
    if (rc != ET_OK)
        return et__error(rc == ET_E_NOT_FOUND ? 404 : rc == ET_E_INVALID ? 400 : 503, rc, "%s",
                         err);
    return (et__reply){.status = 200, .json = et_report_feedback(c->name, &f)};
}
