/* server: a listener's profile (policy, mood smoothing, history retention)
 * and their mood history, over HTTP. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"
#include "server/server_internal.h"

/* The path's listener's profile and this thread's store; false with the
 * error reply in *fail. */
static bool load_profile(et_server *s, const et__call *c, et_store **st, et_listener_profile *p,
                         et__reply *fail)
{
    char err[ET_ERR_MAX];
    if (!et__check_name(c->name, fail) || !(*st = et__store(s, fail)))
        return false;
    if (et_listener_profile_load(*st, c->name, p, err) == ET_OK)
        return true;
    *fail = et__error(503, ET_E_UNAVAILABLE, "%s", err);
    return false;
}

et__reply et__profile_get(et_server *s, const et__call *c)
{
    et__reply fail;
    et_store *st;
    et_listener_profile p;
    if (!load_profile(s, c, &st, &p, &fail))
        return fail;
    return (et__reply){.status = 200, .json = et_report_profile(&p)};
}

/* One number field of the body into *out when present; false (err set)
 * when present but not a number. */
static bool number_field(json_t *doc, const char *key, double *out, char *err)
{
    json_t *v = json_object_get(doc, key);
    if (!v)
        return true;
    if (!json_is_number(v)) {
        snprintf(err, ET_ERR_MAX, "\"%s\" must be a number", key);
        return false;
    }
    *out = json_number_value(v);
    return true;
}

et_status et__parse_profile(const char *body, size_t len, et_listener_profile *p, char *err)
{
    static const char *const known[] = {"policy", "tau_s", "hold_s", "history_days",
                                        "history_max"};
    et_status rc = ET_E_INVALID;
    json_t *doc = et__json_body(body, len, "the settings (policy, tau_s, hold_s, "
                                           "history_days, history_max) to change", &rc, err);
    if (!doc)
        return rc;
    bool ok = et__json_known_keys(doc, known, sizeof known / sizeof *known, err);
    json_t *pol = json_object_get(doc, "policy");
    if (ok && pol && (!json_is_string(pol) ||
                      et_rec_policy_parse(json_string_value(pol), &p->policy, NULL) != ET_OK)) {
        snprintf(err, ET_ERR_MAX, "\"policy\" must be match, lift or calm");
        ok = false;
    }
    double max = (double)p->history_max;
    ok = ok && number_field(doc, "tau_s", &p->tau_s, err) &&
         number_field(doc, "hold_s", &p->hold_s, err) &&
         number_field(doc, "history_days", &p->history_days, err) &&
         number_field(doc, "history_max", &max, err);
    if (ok && (max != floor(max) || max < 1 || max > 1e9)) {
        snprintf(err, ET_ERR_MAX, "\"history_max\" must be a whole number from 1");
        ok = false;
    }
    if (ok)
        p->history_max = (size_t)max;
    json_decref(doc);
    return ok && et_listener_profile_check(p, err) == ET_OK ? ET_OK : ET_E_INVALID;
}

et__reply et__profile_put(et_server *s, const et__call *c)
{
    et__reply fail;
    et_store *st;
    et_listener_profile p;
    char err[ET_ERR_MAX];
    if (!load_profile(s, c, &st, &p, &fail))
        return fail;
    et_status rc = et__parse_profile(c->req->body, c->req->len, &p, err);
    if (rc != ET_OK)
        return et__error(400, rc, "%s", err);
    if (et_listener_profile_save(st, &p, err) != ET_OK)
        return et__error(503, ET_E_UNAVAILABLE, "%s", err);
    et__listener_profile_changed(s, &p);
    p.stored = true;
    return (et__reply){.status = 200, .json = et_report_profile(&p)};
}

et__reply et__history(et_server *s, const et__call *c)
{
    et__reply fail;
    et_store *st;
    if (!et__check_name(c->name, &fail) || !(st = et__store(s, &fail)))
        return fail;
    const char *lim = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "limit");
    const char *bef = MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, "before");
    char err[ET_ERR_MAX];
    double limit, before;
    if (!et__query_number("limit", lim, 1, 1000, true, 50, &limit, err) ||
        !et__query_before(bef, &before, err))
        return et__error(400, ET_E_INVALID, "%s", err);
    et_listener_mood *all = NULL;
    size_t n = 0;
    if (et_listener_moods(st, c->name, &all, &n, err) != ET_OK)
        return et__error(503, ET_E_UNAVAILABLE, "%s", err);
    /* newest first: the page ends at the last mood before `before` */
    size_t end_i = n;
    while (end_i > 0 && !(all[end_i - 1].time < before))
        end_i--;
    json_t *moods = json_array();
    size_t taken = 0;
    for (size_t i = end_i; i-- > 0 && taken < (size_t)limit; taken++)
        json_array_append_new(moods, et_report_mood(&all[i]));
    json_t *next = taken == (size_t)limit && end_i > taken
                       ? json_real(all[end_i - taken].time)
                       : json_null();
    free(all);
    return (et__reply){.status = 200,
                       .json = json_pack("{s:s,s:o,s:o}", "listener", c->name, "moods", moods,
                                         "next_before", next)};
}
