/* server: a listener's calibration (listener.h, "calibration") --
 * POST .../calibration?expression=E adds the largest face of a picture as a
 * labelled example (its features only), GET counts the examples, DELETE
 * forgets them; and the listener's frames read through it. */
#include <stdio.h>
#include <string.h>

#include "server/server_internal.h"

/* ?expression=: *given false when absent; false with a 400 when unknown. */
static bool query_expression(const et__call *c, et_expression *e, bool *given,
                             et__reply *fail)
{
    const char *v = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "expression");
    *given = v != NULL;
    char err[ET_ERR_MAX];
    if (!v || et_listener_calib_expression_parse(v, e, err) == ET_OK)
        return true;
    *fail = et__error(400, ET_E_INVALID, "%s", err);
    return false;
}

static json_t *counts_json(const et_listener_calibration *cal)
{
    json_t *counts = json_object();
    for (int e = 0; counts && e < ET_EXPR_COUNT; e++)
        if (json_object_set_new(counts, et_vision_expression_name((et_expression)e),
                                json_integer(cal->counts[e])) != 0)
            counts = (json_decref(counts), NULL);
    return counts;
}

/* {"listener", "counts": {expression: n}, "total", "max_per_expression",
 * "in_use"}. */
static json_t *calibration_json(const char *name, const et_listener_calibration *cal)
{
    return json_pack("{s:s, s:o, s:i, s:i, s:b}", "listener", name, "counts", counts_json(cal),
                     "total", (int)cal->total, "max_per_expression",
                     ET_LISTENER_CALIB_MAX_PER_EXPR, "in_use", cal->in_use);
}

/* The store's error as a reply: a refused change (the bound) is 400. */
static et__reply store_error(et_status rc, const char *err)
{
    return et__error(rc == ET_E_INVALID ? 400 : 503, rc == ET_E_INVALID ? rc : ET_E_UNAVAILABLE,
                     "%s", err);
}

/* The example of the request's picture; false with the reply in *fail. */
static bool example_of(et_server *s, const et__call *c, et_expression e,
                       et_listener_calib_example *ex, et_box *box, et__reply *fail)
{
    char err[ET_ERR_MAX];
    if (!c->req->len) {
        *fail = et__error(400, ET_E_INVALID,
                          "post a picture of the face (JPEG, PNG or WebP) as the body");
        return false;
    }
    et__worker *w = et__worker_get(s, err);
    if (!w) {
        *fail = et__error(503, ET_E_NOMEM, "%s", err);
        return false;
    }
    et_image img = {0};
    et_status st = et_image_decode((const uint8_t *)c->req->body, c->req->len, NULL, &img, err);
    if (st != ET_OK) {
        *fail = et__error(et__image_status(st), st, "%s: nothing stored", err);
        return false;
    }
    bool found = false;
    *ex = (et_listener_calib_example){.expression = e, .time = et__wall_time()};
    st = et_vision_calibration_example(w->vision, &img, ex->x, ex->faceapi, box, &found, err);
    et_image_free(&img);
    if (st != ET_OK) {
        *fail = et__error(st == ET_E_NOMEM ? 503 : 500, st, "%s", err);
        return false;
    }
    if (!found) {
        *fail = et__error(400, ET_E_INVALID,
                          "no face found in the picture: nothing stored (face the camera, "
                          "in good light)");
        return false;
    }
    return true;
}

et__reply et__calibration_post(et_server *s, const et__call *c)
{
    et__reply fail;
    et_store *st;
    et_expression e;
    bool given;
    if (!et__check_name(c->name, &fail) || !query_expression(c, &e, &given, &fail))
        return fail;
    if (!given)
        return et__error(400, ET_E_INVALID,
                         "say which expression the picture shows: ?expression=neutral, happy, "
                         "sad, angry, fearful, disgusted or surprised");
    if (!(st = et__store(s, &fail)))
        return fail;
    et_listener_calib_example ex;
    et_box box;
    if (!example_of(s, c, e, &ex, &box, &fail))
        return fail;
    char err[ET_ERR_MAX];
    et_listener_calibration cal;
    et_status rc = et_listener_calib_add(st, c->name, &ex, &cal, err);
    if (rc != ET_OK)
        return store_error(rc, err);
    json_t *doc = calibration_json(c->name, &cal);
    if (doc && (json_object_set_new(doc, "expression",
                                    json_string(et_vision_expression_name(e))) != 0 ||
                json_object_set_new(doc, "box",
                                    json_pack("{s:f,s:f,s:f,s:f}", "x", box.x, "y", box.y,
                                              "width", box.width, "height", box.height)) != 0))
        doc = (json_decref(doc), NULL);
    return (et__reply){.status = 200, .json = doc};
}

et__reply et__calibration_get(et_server *s, const et__call *c)
{
    et__reply fail;
    et_store *st;
    if (!et__check_name(c->name, &fail) || !(st = et__store(s, &fail)))
        return fail;
    char err[ET_ERR_MAX];
    et_listener_calibration cal;
    et_status rc = et_listener_calib_get(st, c->name, &cal, err);
    if (rc != ET_OK)
        return store_error(rc, err);
    return (et__reply){.status = 200, .json = calibration_json(c->name, &cal)};
}

et__reply et__calibration_delete(et_server *s, const et__call *c)
{
    et__reply fail;
    et_store *st;
    et_expression e;
    bool given;
    if (!et__check_name(c->name, &fail) || !query_expression(c, &e, &given, &fail) ||
        !(st = et__store(s, &fail)))
        return fail;
    char err[ET_ERR_MAX];
    et_listener_calibration cal;
    unsigned removed = 0;
    et_status rc = et_listener_calib_forget(st, c->name, given ? (int)e : -1, &removed, &cal, err);
    if (rc != ET_OK)
        return store_error(rc, err);
    json_t *doc = calibration_json(c->name, &cal);
    if (doc && json_object_set_new(doc, "removed", json_integer(removed)) != 0)
        doc = (json_decref(doc), NULL);
    return (et__reply){.status = 200, .json = doc};
}

void et__calibrate_faces(et_store *st, const char *name, et_face *faces, size_t n,
                         et_listener_calibration *cal)
{
    char err[ET_ERR_MAX];
    if (et_listener_calib_get(st, name, cal, err) != ET_OK) {
        et_log(ET_LOG_WARN, "listener %s: calibration not read, frame read without: %s", name,
               err);
        memset(cal, 0, sizeof *cal);
    }
    for (size_t i = 0; i < n; i++)
        et_listener_calib_apply_face(cal, &faces[i]);
}

void et__calibrated_json(json_t *faces, const et_face *f, size_t n,
                         const et_listener_calibration *cal)
{
    for (size_t i = 0; i < n && i < json_array_size(faces); i++)
        json_object_set_new(json_array_get(faces, i), "calibrated",
                            json_boolean(cal->in_use &&
                                         (unsigned)f[i].model < ET_EXPR_MODEL_COUNT));
}
