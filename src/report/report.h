/*
 * report: emotune's results as JSON documents, one form shared by every
 * interface (`emotune detect --json`, the HTTP API), so that a program reading
 * one reads the other.
 *
 * Every function returns a new jansson reference (the caller owns it:
 * json_decref), or NULL when memory runs out. Thread-safe.
 */
#ifndef ET_REPORT_H
#define ET_REPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/core.h"
#include "image/image.h"
#include "listener/listener.h"
#include "recommend/recommend.h"
#include "vision/vision.h"

/* One face: {"box": {x, y, width, height}, "score" (null for a face crop),
 * "expressions": {name: probability}, "expression", "smiling", "model",
 * "detection" (the pass that found it: "face-api", "second-pass" or
 * "face-crop"), "mood": {valence, arousal, confidence, name}}. */
json_t *et_report_face(const et_face *f);

/* Which detection ran with opts: "face-api", "two-pass", or "face-crop"
 * (none: the whole image is the face). */
const char *et_report_detection(const et_detect_opts *opts);

/* One picture: {"image": label, "width", "height", "detection":
 * et_report_detection(opts), "faces": [...]} with the faces in the order
 * given (label may be NULL: no "image" field). */
json_t *et_report_faces(const char *label, const et_image *img, const et_detect_opts *opts,
                        const et_face *faces, size_t n);

/* One song of a queue: {"id", "title", "artist", "genre", "kind": "file" or
 * "link", "valence", "arousal", "duration" (null when unknown),
 * "target_valence", "target_arousal", "distance", "reason"}, and "location"
 * (the file's path or the link) when with_location: the command line shows
 * it, the HTTP API does not reveal the server's paths (files are reached by
 * id) but gives a link's URL. */
json_t *et_report_pick(const et_listener_track *t, const et_rec_pick *p, bool with_location);

/* A listener's feedback as stored: {"listener", "track", "kind", "at" (null
 * when not given), "fraction", "valence", "arousal", "mood", "time"}. */
json_t *et_report_feedback(const char *listener, const et_listener_feedback *f);

/* A listener's profile: {"listener", "policy", "tau_s", "hold_s",
 * "history_days", "history_max", "feedback_days", "feedback_max", "stored"}. */
json_t *et_report_profile(const et_listener_profile *p);

/* A mood of the history: {"time", "mood", "valence", "arousal",
 * "confidence", "smiling" (null when not known), "source"}. */
json_t *et_report_mood(const et_listener_mood *m);

/* An error: {"error": {"code": et_status_code(s), "message": message}},
 * with "image": label first when label is not NULL. */
json_t *et_report_error(const char *label, et_status s, const char *message);

#endif
