/* server: what the web page reads besides the other routes: the named
 * moods (to mark them on its valence/arousal plane from the one table,
 * moods.c) and a listener's feedback (newest first). */
#include <math.h>
#include <stdlib.h>

#include "report/report.h"
#include "server/server_internal.h"

/* Feedback listed at once, at most and by default. */
#define FEEDBACK_MAX 1000
#define FEEDBACK_DEFAULT 50

et__reply et__moods(et_server *s, const et__call *c)
{
    (void)s, (void)c;
    size_t n;
    const et_mood_named *t = et_mood_named_table(&n);
    json_t *list = json_array();
    for (size_t i = 0; list && i < n; i++)
        if (json_array_append_new(list, json_pack("{s:s,s:f,s:f}", "name", t[i].name, "valence",
                                                  t[i].valence, "arousal", t[i].arousal)))
            json_decref(list), list = NULL;
    json_t *doc = list ? json_pack("{s:o}", "moods", list) : NULL;
    return doc ? (et__reply){.status = 200, .json = doc}
               : et__error(500, ET_E_NOMEM, "out of memory");
}

/* ?limit=N, 1 to FEEDBACK_MAX (default FEEDBACK_DEFAULT); false with a 400. */
static bool feedback_limit(const et__call *c, size_t *limit, et__reply *fail)
{
    const char *v = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "limit");
    *limit = FEEDBACK_DEFAULT;
    if (!v)
        return true;
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end || !(d >= 1 && d <= FEEDBACK_MAX) || d != floor(d)) {
        *fail = et__error(400, ET_E_INVALID, "limit=%.32s: expected a whole number from 1 to %d",
                          v, FEEDBACK_MAX);
        return false;
    }
    *limit = (size_t)d;
    return true;
}

et__reply et__feedback_list(et_server *s, const et__call *c)
{
    et__reply fail;
    et_store *st;
    size_t limit;
    if (!et__check_name(c->name, &fail) || !feedback_limit(c, &limit, &fail) ||
        !(st = et__store(s, &fail)))
        return fail;
    et_listener_feedback *fb = NULL;
    size_t n = 0, total = 0;
    char err[ET_ERR_MAX];
    /* newest first, reading only those (and the count), not all of them */
    if (et_listener_feedback_newest(st, c->name, limit, &fb, &n, &total, err) != ET_OK)
        return et__error(503, ET_E_UNAVAILABLE, "%s", err);
    json_t *list = json_array();
    for (size_t k = 0; list && k < n; k++)
        if (json_array_append_new(list, et_report_feedback(c->name, &fb[k])))
            json_decref(list), list = NULL;
    free(fb);
    json_t *doc = list ? json_pack("{s:s,s:o,s:I}", "listener", c->name, "feedback", list,
                                   "total", (json_int_t)total)
                       : NULL;
    return doc ? (et__reply){.status = 200, .json = doc}
               : et__error(500, ET_E_NOMEM, "out of memory");
}
