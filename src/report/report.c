/* report: results as JSON (report.h). */
#include "report/report.h"

#include "mood/mood.h"

/* The face's mood: its point on the valence/arousal plane, how sure, and the
 * nearest named mood (src/mood, its table in moods.c); null if the
 * probabilities were refused (they never are from the network). */
static json_t *mood_json(const et_face *f)
{
    et_mood_point p;
    if (et_mood_from_expressions(f->expressions, &p, NULL) != ET_OK)
        return json_null();
    return json_pack("{s:f,s:f,s:f,s:s}", "valence", p.valence, "arousal", p.arousal,
                     "confidence", p.confidence, "name",
                     et_mood_nearest_named(p.valence, p.arousal));
}

json_t *et_report_face(const et_face *f)
{
    json_t *expr = json_object();
    for (int e = 0; expr && e < ET_EXPR_COUNT; e++)
        json_object_set_new(expr, et_vision_expression_name(e), json_real(f->expressions[e]));
    return json_pack("{s:{s:f,s:f,s:f,s:f},s:o,s:o,s:s,s:b,s:s,s:s,s:o}", "box", "x",
                     f->box.x, "y", f->box.y, "width", f->box.width, "height", f->box.height,
                     "score", f->has_score ? json_real(f->score) : json_null(), "expressions",
                     expr, "expression", et_vision_expression_name(f->top), "smiling",
                     f->smiling, "model", et_vision_expr_model_name(f->model), "detection",
                     et_vision_face_pass_name(f->pass), "mood", mood_json(f));
}

const char *et_report_detection(const et_detect_opts *opts)
{
    return opts->face_crop ? et_vision_face_pass_name(ET_FACE_PASS_CROP)
                           : et_vision_detection_name(opts->detection);
}

/* A new object with "image": label first when label is not NULL. */
static json_t *labelled(const char *label)
{
    json_t *doc = json_object();
    if (doc && label && json_object_set_new(doc, "image", json_string(label)) != 0) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

json_t *et_report_faces(const char *label, const et_image *img, const et_detect_opts *opts,
                        const et_face *faces, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++)
        json_array_append_new(arr, et_report_face(&faces[i]));
    json_t *doc = labelled(label);
    const char *detection = et_report_detection(opts);
    if (!doc || !arr || !detection) {
        json_decref(doc);
        json_decref(arr);
        return NULL;
    }
    if (json_object_set_new(doc, "width", json_integer(img->width)) ||
        json_object_set_new(doc, "height", json_integer(img->height)) ||
        json_object_set_new(doc, "detection", json_string(detection)) ||
        json_object_set_new(doc, "faces", arr)) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

json_t *et_report_error(const char *label, et_status s, const char *message)
{
    json_t *doc = labelled(label);
    json_t *e = json_pack("{s:s,s:s}", "code", et_status_code(s), "message",
                          message ? message : et_strerror(s));
    if (!doc || !e || json_object_set_new(doc, "error", e)) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

json_t *et_report_pick(const et_listener_track *t, const et_rec_pick *p, bool with_location)
{
    json_t *o = json_pack("{s:s, s:s, s:s?, s:s?, s:s, s:f, s:f, s:f, s:s}", "id", t->id,
                          "title", t->title, "artist", t->artist, "genre", t->genre, "kind",
                          t->is_link ? "link" : "file", "target_valence", p->target_v,
                          "target_arousal", p->target_a, "distance", p->distance, "reason",
                          p->reason);
    if (!o)
        return NULL;
    if (with_location || t->is_link)
        json_object_set_new(o, "location", json_string(t->location));
    json_object_set_new(o, "valence", t->has_point ? json_real(t->valence) : json_null());
    json_object_set_new(o, "arousal", t->has_point ? json_real(t->arousal) : json_null());
    json_object_set_new(o, "duration", t->duration > 0 ? json_real(t->duration) : json_null());
    return o;
}

json_t *et_report_feedback(const char *listener, const et_listener_feedback *f)
{
    return json_pack("{s:s, s:s, s:s, s:o, s:f, s:f, s:f, s:s, s:f}", "listener", listener,
                     "track", f->track, "kind", et_listener_feedback_kind_name(f->kind), "at",
                     f->at_s >= 0 ? json_real(f->at_s) : json_null(), "fraction", f->fraction,
                     "valence", f->valence, "arousal", f->arousal, "mood", f->mood, "time",
                     f->time);
}

json_t *et_report_profile(const et_listener_profile *p)
{
    return json_pack("{s:s, s:s, s:f, s:f, s:f, s:I, s:f, s:I, s:b}", "listener", p->name,
                     "policy", et_rec_policy_name(p->policy), "tau_s", p->tau_s, "hold_s",
                     p->hold_s, "history_days", p->history_days, "history_max",
                     (json_int_t)p->history_max, "feedback_days", p->feedback_days,
                     "feedback_max", (json_int_t)p->feedback_max, "stored", p->stored);
}

json_t *et_report_mood(const et_listener_mood *m)
{
    return json_pack("{s:f, s:s, s:f, s:f, s:f, s:o, s:s}", "time", m->time, "mood", m->mood,
                     "valence", m->valence, "arousal", m->arousal, "confidence", m->confidence,
                     "smiling", m->smiling >= 0 ? json_real(m->smiling) : json_null(), "source",
                     m->source);
}
