/* listener: the calibration's examples and fit in the store (listener.h,
 * "calibration"). Every change is one atomic read-modify-write of the
 * examples document, which refits both readers on what it read; the fit
 * then goes into the small document that reading uses, unless a newer
 * revision is already there. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "listener/listener_internal.h"

#define CALIB_SUFFIX "/calibration"
#define FIT_SUFFIX "/calibration_fit"
#define CALIB_VERSION 1
/* Bounds a stored number must keep to be read (features are averages of
 * activations and log-probabilities; a bias beyond this is not a fit's). */
#define MAX_ABS_FEATURE 1e6
#define MAX_ABS_BIAS 1e3
/* float survives 9 significant digits; times are kept in whole ms. */
#define CALIB_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(9))

static void calib_id(char out[ET__LISTENER_ID_MAX], const char *name, const char *suffix)
{
    snprintf(out, ET__LISTENER_ID_MAX, "%s%s", name, suffix);
}

et_status et_listener_calib_expression_parse(const char *name, et_expression *out, char *err)
{
    for (int e = 0; name && e < ET_EXPR_COUNT; e++)
        if (strcasecmp(name, et_vision_expression_name((et_expression)e)) == 0) {
            *out = (et_expression)e;
            return ET_OK;
        }
    char shown[24];
    snprintf(shown, sizeof shown, "%s", name ? name : "");
    for (char *p = shown; *p; p++)
        if (*p < 0x20 || *p > 0x7e)
            *p = '?';
    return et_fail(err, ET_E_INVALID,
                   "unknown expression '%s': use neutral, happy, sad, angry, fearful, "
                   "disgusted or surprised",
                   shown);
}

/* ---- reading the documents ---- */

/* n finite numbers of arr, each |v| <= bound (and in [lo, hi]), into out. */
static bool read_floats(const json_t *arr, size_t n, double lo, double hi, float *out)
{
    if (!json_is_array(arr) || json_array_size(arr) != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(arr, i);
        double x = json_number_value(v);
        if (!json_is_number(v) || !isfinite(x) || x < lo || x > hi)
            return false;
        out[i] = (float)x;
    }
    return true;
}

bool et__listener_read_calib_example(const json_t *item, et_listener_calib_example *ex)
{
    memset(ex, 0, sizeof *ex);
    if (!json_is_object(item))
        return false;
    et_expression e;
    const char *name = json_string_value(json_object_get(item, "expression"));
    if (!name || et_listener_calib_expression_parse(name, &e, NULL) != ET_OK)
        return false;
    ex->expression = e;
    const json_t *t = json_object_get(item, "time_ms");
    if (!json_is_integer(t) || json_integer_value(t) <= 0)
        return false;
    ex->time = (double)json_integer_value(t) / 1000.0;
    if (!read_floats(json_object_get(item, "x"), ET_VISION_HEAD_INPUTS, -MAX_ABS_FEATURE,
                     MAX_ABS_FEATURE, ex->x) ||
        !read_floats(json_object_get(item, "faceapi"), ET_EXPR_COUNT, 0, 1, ex->faceapi))
        return false;
    double sum = 0;
    for (int k = 0; k < ET_EXPR_COUNT; k++)
        sum += ex->faceapi[k];
    return fabs(sum - 1) <= 1e-3;
}

bool et__listener_read_calib_fit(const json_t *doc, et_listener_calibration *cal)
{
    memset(cal, 0, sizeof *cal);
    const json_t *rev = json_object_get(doc, "rev"), *counts = json_object_get(doc, "counts"),
                 *bias = json_object_get(doc, "bias");
    if (!json_is_object(doc) || !json_is_integer(rev) || json_integer_value(rev) < 0 ||
        !json_is_object(counts) || !json_is_object(bias))
        goto fail;
    cal->rev = (uint64_t)json_integer_value(rev);
    for (int e = 0; e < ET_EXPR_COUNT; e++) {
        const json_t *c = json_object_get(counts, et_vision_expression_name((et_expression)e));
        json_int_t v = json_integer_value(c);
        if (!json_is_integer(c) || v < 0 || v > ET_LISTENER_CALIB_MAX_PER_EXPR)
            goto fail;
        cal->counts[e] = (unsigned)v;
        cal->total += (unsigned)v;
    }
    for (int m = 0; m < ET_EXPR_MODEL_COUNT; m++) {
        float b[ET_EXPR_COUNT];
        if (!read_floats(json_object_get(bias, et_vision_expr_model_name((et_expr_model)m)),
                         ET_EXPR_COUNT, -MAX_ABS_BIAS, MAX_ABS_BIAS, b))
            goto fail;
        const json_t *arr = json_object_get(bias, et_vision_expr_model_name((et_expr_model)m));
        for (int k = 0; k < ET_EXPR_COUNT; k++) /* the doubles, not their float copies */
            cal->bias[m][k] = json_number_value(json_array_get(arr, (size_t)k));
    }
    cal->in_use = cal->total > 0;
    return true;
fail:
    memset(cal, 0, sizeof *cal);
    return false;
}

/* The examples of a parsed NAME/calibration document (NULL: none) into a
 * new array; invalid entries skipped (and logged). *rev gets its revision
 * (0 when none). False when out of memory. */
static bool examples_of(const json_t *doc, const char *name, et_listener_calib_example **out,
                        size_t *n, uint64_t *rev)
{
    *out = NULL;
    *n = 0;
    *rev = 0;
    const json_t *r = json_object_get(doc, "rev");
    if (json_is_integer(r) && json_integer_value(r) > 0)
        *rev = (uint64_t)json_integer_value(r);
    const json_t *list = json_object_get(doc, "examples");
    size_t count = json_is_array(list) ? json_array_size(list) : 0;
    if (!count)
        return true;
    et_listener_calib_example *items = malloc(count * sizeof *items);
    if (!items)
        return false;
    size_t kept = 0, skipped = 0;
    for (size_t i = 0; i < count; i++) {
        if (et__listener_read_calib_example(json_array_get(list, i), &items[kept]))
            kept++;
        else
            skipped++;
    }
    if (skipped)
        et_log(ET_LOG_WARN, "profiles/%s%s: skipping %zu entries that are not examples", name,
               CALIB_SUFFIX, skipped);
    *out = items;
    *n = kept;
    return true;
}

/* ---- fitting ---- */

/* Both readers' biases and the counts of ex[0..n). */
static et_status fit_all(const et_vision_head *head, const et_listener_calib_example *ex,
                         size_t n, uint64_t rev, et_listener_calibration *cal, char *err)
{
    memset(cal, 0, sizeof *cal);
    cal->rev = rev;
    for (size_t i = 0; i < n; i++)
        cal->counts[ex[i].expression]++;
    cal->total = (unsigned)n;
    cal->in_use = n > 0;
    if (!n)
        return ET_OK;
    double(*z)[ET_EXPR_COUNT] = malloc(n * sizeof *z);
    int *y = malloc(n * sizeof *y);
    et_status st = z && y ? ET_OK : et_fail(err, ET_E_NOMEM, "out of memory");
    for (int m = 0; st == ET_OK && m < ET_EXPR_MODEL_COUNT; m++) {
        for (size_t i = 0; i < n; i++) {
            float p[ET_EXPR_COUNT];
            if (m == ET_EXPR_MODEL_EMOTUNE)
                et_vision_head_read(head, ex[i].x, p);
            else
                memcpy(p, ex[i].faceapi, sizeof p);
            et_listener_calib_logits(p, z[i]);
            y[i] = (int)ex[i].expression;
        }
        st = et_listener_calib_fit((const double(*)[ET_EXPR_COUNT])z, y, n,
                                   ET_LISTENER_CALIB_LAMBDA, cal->bias[m], NULL, err);
    }
    free(z);
    free(y);
    return st;
}

/* ---- writing the documents ---- */

static json_t *float_array(const float *v, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++)
        if (json_array_append_new(arr, json_real(v[i])) != 0)
            arr = (json_decref(arr), NULL);
    return arr;
}

static json_t *example_json(const et_listener_calib_example *ex)
{
    return json_pack("{s:s, s:I, s:o, s:o}", "expression",
                     et_vision_expression_name(ex->expression), "time_ms",
                     (json_int_t)llround(ex->time * 1000.0), "x",
                     float_array(ex->x, ET_VISION_HEAD_INPUTS), "faceapi",
                     float_array(ex->faceapi, ET_EXPR_COUNT));
}

static char *examples_doc(const et_listener_calib_example *ex, size_t n, uint64_t rev,
                          size_t *len)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < n; i++)
        if (json_array_append_new(list, example_json(&ex[i])) != 0)
            list = (json_decref(list), NULL);
    json_t *doc = list ? json_pack("{s:i, s:I, s:o}", "version", CALIB_VERSION, "rev",
                                   (json_int_t)rev, "examples", list)
                       : NULL;
    char *text = doc ? json_dumps(doc, CALIB_JSON_FLAGS) : NULL;
    json_decref(doc);
    if (text)
        *len = strlen(text);
    return text;
}

static json_t *fit_json(const et_listener_calibration *cal)
{
    json_t *counts = json_object(), *bias = json_object();
    bool ok = counts && bias;
    for (int e = 0; ok && e < ET_EXPR_COUNT; e++)
        ok = json_object_set_new(counts, et_vision_expression_name((et_expression)e),
                                 json_integer(cal->counts[e])) == 0;
    for (int m = 0; ok && m < ET_EXPR_MODEL_COUNT; m++) {
        json_t *arr = json_array();
        for (int k = 0; arr && k < ET_EXPR_COUNT; k++)
            if (json_array_append_new(arr, json_real(cal->bias[m][k])) != 0)
                arr = (json_decref(arr), NULL);
        ok = json_object_set_new(bias, et_vision_expr_model_name((et_expr_model)m), arr) == 0;
    }
    if (!ok) {
        json_decref(counts);
        json_decref(bias);
        return NULL;
    }
    return json_pack("{s:I, s:o, s:o}", "rev", (json_int_t)cal->rev, "counts", counts, "bias",
                     bias);
}

/* ---- changes ---- */

typedef struct change_ctx {
    const char *name;
    const et_vision_head *head;
    const et_listener_calib_example *add; /* or NULL: forget */
    int forget;                           /* expression, or -1: all */
    unsigned removed;
    bool wrote;                           /* a new revision was written */
    et_listener_calibration cal;          /* its fit */
} change_ctx;

/* Applies the change to ex[0..*n) (room for one more); ET_E_INVALID when an
 * example would go beyond the bound. */
static et_status change_examples(change_ctx *c, et_listener_calib_example *ex, size_t *n,
                                 char *err)
{
    if (c->add) {
        unsigned have = 0;
        for (size_t i = 0; i < *n; i++)
            have += ex[i].expression == c->add->expression;
        if (have >= ET_LISTENER_CALIB_MAX_PER_EXPR)
            return et_fail(err, ET_E_INVALID,
                           "listener %s already has %u examples of %s, the most kept: forget "
                           "them first (nothing was stored)",
                           c->name, have, et_vision_expression_name(c->add->expression));
        ex[(*n)++] = *c->add;
        return ET_OK;
    }
    size_t kept = 0;
    for (size_t i = 0; i < *n; i++)
        if (c->forget >= 0 && (int)ex[i].expression != c->forget)
            ex[kept++] = ex[i];
    c->removed = (unsigned)(*n - kept);
    *n = kept;
    return ET_OK;
}

/* et_store_update_fn of NAME/calibration. */
static et_status change_doc(void *user, const char *old, size_t old_len, char **out,
                            size_t *out_len, char *err)
{
    change_ctx *c = user;
    c->wrote = false;
    c->removed = 0;
    json_t *doc = old ? json_loadb(old, old_len, 0, NULL) : NULL;
    et_listener_calib_example *ex = NULL;
    size_t n = 0;
    uint64_t rev = 0;
    bool ok = examples_of(doc, c->name, &ex, &n, &rev);
    json_decref(doc);
    et_listener_calib_example *room = ok ? realloc(ex, (n + 1) * sizeof *ex) : NULL;
    if (!room) {
        free(ex);
        return et_fail(err, ET_E_NOMEM, "out of memory");
    }
    ex = room;
    et_status st = change_examples(c, ex, &n, err);
    if (st == ET_OK && !c->add && !c->removed) { /* nothing to forget: no write */
        st = fit_all(c->head, ex, n, rev, &c->cal, err);
        *out = st == ET_OK && old ? malloc(old_len + 1) : NULL;
        if (*out) {
            memcpy(*out, old, old_len);
            (*out)[old_len] = '\0';
            *out_len = old_len;
        } else if (st == ET_OK && old) {
            st = et_fail(err, ET_E_NOMEM, "out of memory");
        }
        free(ex);
        return st;
    }
    if (st == ET_OK)
        st = fit_all(c->head, ex, n, rev + 1, &c->cal, err);
    if (st == ET_OK && !(*out = examples_doc(ex, n, rev + 1, out_len)))
        st = et_fail(err, ET_E_NOMEM, "out of memory");
    c->wrote = st == ET_OK;
    free(ex);
    return st;
}

/* et_store_update_fn of NAME/calibration_fit: the new fit unless the stored
 * one is of a newer revision. */
static et_status put_fit(void *user, const char *old, size_t old_len, char **out,
                         size_t *out_len, char *err)
{
    const et_listener_calibration *cal = user;
    json_t *doc = old ? json_loadb(old, old_len, 0, NULL) : NULL;
    et_listener_calibration stored;
    bool newer = doc && et__listener_read_calib_fit(doc, &stored) && stored.rev > cal->rev;
    json_decref(doc);
    json_t *fresh = newer ? NULL : fit_json(cal);
    if (newer) {
        *out = malloc(old_len + 1);
        if (*out) {
            memcpy(*out, old, old_len);
            (*out)[old_len] = '\0';
            *out_len = old_len;
        }
    } else {
        *out = fresh ? et__json_dump(fresh, out_len) : NULL;
    }
    json_decref(fresh);
    return *out ? ET_OK : et_fail(err, ET_E_NOMEM, "out of memory");
}

static et_status change(et_store *s, change_ctx *c, et_listener_calibration *out, char *err)
{
    size_t len = 0;
    const char *text = et_vision_head_builtin(&len);
    et_vision_head *head = NULL;
    et_status st = et_vision_head_parse(text, len, &head, err);
    if (st != ET_OK)
        return st;
    c->head = head;
    char id[ET__LISTENER_ID_MAX];
    calib_id(id, c->name, CALIB_SUFFIX);
    st = et_store_update(s, ET_LISTENER_PROFILES, id, change_doc, c, err);
    et_vision_head_free(head);
    if (st == ET_OK && c->wrote) {
        calib_id(id, c->name, FIT_SUFFIX);
        st = et_store_update(s, ET_LISTENER_PROFILES, id, put_fit, &c->cal, err);
    }
    if (st == ET_OK && out)
        *out = c->cal;
    return st;
}

static et_status check_example(const et_listener_calib_example *ex, char *err)
{
    if ((unsigned)ex->expression >= ET_EXPR_COUNT)
        return et_fail(err, ET_E_INVALID, "example: expression %d out of range",
                       (int)ex->expression);
    if (!isfinite(ex->time) || ex->time <= 0)
        return et_fail(err, ET_E_INVALID, "example time %g is not a Unix time", ex->time);
    json_t *item = example_json(ex);
    et_listener_calib_example back;
    bool ok = item && et__listener_read_calib_example(item, &back);
    json_decref(item);
    return ok ? ET_OK
              : et_fail(err, ET_E_INVALID, "example: a feature or probability is out of range");
}

et_status et_listener_calib_add(et_store *s, const char *name,
                                const et_listener_calib_example *ex,
                                et_listener_calibration *out, char *err)
{
    if (!s || !ex)
        return et_fail(err, ET_E_INVALID, "et_listener_calib_add: NULL argument");
    et_status st = et_listener_check_name(name, err);
    if (st == ET_OK)
        st = check_example(ex, err);
    if (st != ET_OK)
        return st;
    change_ctx c = {.name = name, .add = ex};
    return change(s, &c, out, err);
}

et_status et_listener_calib_forget(et_store *s, const char *name, int expression,
                                   unsigned *removed, et_listener_calibration *out, char *err)
{
    if (!s)
        return et_fail(err, ET_E_INVALID, "et_listener_calib_forget: NULL argument");
    et_status st = et_listener_check_name(name, err);
    if (st != ET_OK)
        return st;
    if (expression < -1 || expression >= ET_EXPR_COUNT)
        return et_fail(err, ET_E_INVALID, "expression %d out of range", expression);
    change_ctx c = {.name = name, .forget = expression};
    st = change(s, &c, out, err);
    if (st == ET_OK && removed)
        *removed = c.removed;
    return st;
}

et_status et_listener_calib_get(et_store *s, const char *name, et_listener_calibration *out,
                                char *err)
{
    if (!s || !out)
        return et_fail(err, ET_E_INVALID, "et_listener_calib_get: NULL argument");
    memset(out, 0, sizeof *out);
    et_status st = et_listener_check_name(name, err);
    if (st != ET_OK)
        return st;
    char id[ET__LISTENER_ID_MAX];
    calib_id(id, name, FIT_SUFFIX);
    json_t *doc;
    st = et__listener_get_json(s, ET_LISTENER_PROFILES, id, &doc, err);
    if (st != ET_OK || !doc)
        return st;
    if (!et__listener_read_calib_fit(doc, out))
        et_log(ET_LOG_WARN, "skipping profiles/%s: not a calibration", id);
    json_decref(doc);
    return ET_OK;
}

et_status et_listener_calib_examples(et_store *s, const char *name,
                                     et_listener_calib_example **out, size_t *n, char *err)
{
    if (!s || !out || !n)
        return et_fail(err, ET_E_INVALID, "et_listener_calib_examples: NULL argument");
    *out = NULL;
    *n = 0;
    et_status st = et_listener_check_name(name, err);
    if (st != ET_OK)
        return st;
    char id[ET__LISTENER_ID_MAX];
    calib_id(id, name, CALIB_SUFFIX);
    json_t *doc;
    st = et__listener_get_json(s, ET_LISTENER_PROFILES, id, &doc, err);
    if (st != ET_OK || !doc)
        return st;
    uint64_t rev;
    bool ok = examples_of(doc, name, out, n, &rev);
    json_decref(doc);
    if (ok && !*n) {
        free(*out);
        *out = NULL;
    }
    return ok ? ET_OK : et_fail(err, ET_E_NOMEM, "out of memory");
}
