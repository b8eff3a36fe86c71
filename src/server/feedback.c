/* server: a listener's feedback on a song (like, skip with the position,
 * played to the end), in the mood of the moment. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report/report.h"
#include "server/server_internal.h"

/* Reads the body {"track", "kind", "at"?, "mood"?}; false with a 400. */
static bool read_body(const et__request *r, et_listener_feedback *f, char *mood,
                      size_t mood_len, et__reply *fail)
{
    json_error_t jerr;
    json_t *doc = r->len ? json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    if (!doc) {
        *fail = r->len ? et__error(400, ET_E_CORRUPT, "the body is not JSON: %s (at %d)",
                                   jerr.text, jerr.position)
                       : et__error(400, ET_E_INVALID, "post {\"track\": ID, \"kind\": "
                                                      "\"like\"|\"skip\"|\"complete\"}");
        return false;
    }
    char err[ET_ERR_MAX] = "";
    const char *track = json_string_value(json_object_get(doc, "track"));
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    json_t *at = json_object_get(doc, "at"), *m = json_object_get(doc, "mood");
    bool ok = json_is_object(doc);
    if (!ok)
        snprintf(err, sizeof err, "the body must be a JSON object");
    else if (!track || strlen(track) >= sizeof f->track || et_store_check_id(track, NULL) != ET_OK)
        ok = false, snprintf(err, sizeof err, "\"track\" must be a track id");
    else if (!kind || et_listener_feedback_kind_parse(kind, &f->kind, err) != ET_OK)
        ok = false, kind ? (void)0 : (void)snprintf(err, sizeof err, "\"kind\" is missing");
    else if (at && !json_is_null(at) &&
             !(json_is_number(at) && json_number_value(at) >= 0 &&
               isfinite(json_number_value(at))))
        ok = false, snprintf(err, sizeof err, "\"at\" must be seconds, 0 or more");
    else if (m && !json_is_null(m) &&
             (!json_is_string(m) || !et_mood_named_point(json_string_value(m), NULL, NULL)))
        ok = false, snprintf(err, sizeof err, "\"mood\" must be a named mood");
    if (ok) {
        snprintf(f->track, sizeof f->track, "%s", track);
        f->at_s = at && json_is_number(at) ? json_number_value(at) : -1;
        snprintf(mood, mood_len, "%s", m && json_is_string(m) ? json_string_value(m) : "");
    }
    json_decref(doc);
    if (!ok)
        *fail = et__error(400, ET_E_INVALID, "%s", err);
    return ok;
}

et__reply et__feedback(et_server *s, const et__call *c)
{
    et__reply fail = {0};
    et_store *st;
    et_listener_feedback f = {.time = et__wall_time()};
    char mood[32];
    if (!et__check_name(c->name, &fail) || !read_body(c->req, &f, mood, sizeof mood, &fail) ||
        !(st = et__store(s, &fail)))
        return fail;
    if (*mood) { /* stated with the feedback */
        et_mood_named_point(mood, &f.valence, &f.arousal);
        snprintf(f.mood, sizeof f.mood, "%s", et_mood_named_canonical(mood));
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
    char err[ET_ERR_MAX];
    et_status rc = et_listener_feedback_add(st, c->name, &f, err);
    if (rc != ET_OK)
        return et__error(rc == ET_E_NOT_FOUND ? 404 : rc == ET_E_INVALID ? 400 : 503, rc, "%s",
                         err);
    return (et__reply){.status = 200, .json = et_report_feedback(c->name, &f)};
}
