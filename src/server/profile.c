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

/* One number field of the body into *out, its bit into *set, when present;
 * false (err set) when present but not a number. */
static bool number_field(json_t *doc, const char *key, unsigned bit, double *out, unsigned *set,
                         char *err)
{
    json_t *v = json_object_get(doc, key);
    if (!v)
        return true;
    if (!json_is_number(v)) {
        snprintf(err, ET_ERR_MAX, "\"%s\" must be a number", key);
        return false;
    }
    *out = json_number_value(v);
    *set |= bit;
    return true;
}

/* A count field (history_max, feedback_max) into *out when present. */
static bool count_field(json_t *doc, const char *key, unsigned bit, size_t *out, unsigned *set,
                        char *err)
{
    double max = 0;
    unsigned had = *set;
    if (!number_field(doc, key, bit, &max, set, err))
        return false;
    if (*set == had)
        return true;
    if (max != floor(max) || max < 1 || max > 1e9) {
        snprintf(err, ET_ERR_MAX, "\"%s\" must be a whole number from 1", key);
        return false;
    }
    *out = (size_t)max;
    return true;
}

et_status et__parse_profile(const char *body, size_t len, et_listener_profile_change *ch,
                            char *err)
{
    static const char *const known[] = {"policy",      "tau_s",         "hold_s",
                                        "history_days", "history_max", "feedback_days",
                                        "feedback_max"};
    et_status rc = ET_E_INVALID;
    *ch = (et_listener_profile_change){0};
    json_t *doc = et__json_body(body, len, "the settings (policy, tau_s, hold_s, "
                                           "history_days, history_max, feedback_days, "
                                           "feedback_max) to change", &rc, err);
    if (!doc)
        return rc;
    et_listener_profile *to = &ch->to;
    bool ok = et__json_known_keys(doc, known, sizeof known / sizeof *known, err);
    json_t *pol = json_object_get(doc, "policy");
    if (ok && pol && (!json_is_string(pol) ||
                      et_rec_policy_parse(json_string_value(pol), &to->policy, NULL) != ET_OK)) {
        snprintf(err, ET_ERR_MAX, "\"policy\" must be match, lift or calm");
        ok = false;
    }
    if (ok && pol)
        ch->set |= ET_LISTENER_SET_POLICY;
    ok = ok && number_field(doc, "tau_s", ET_LISTENER_SET_TAU, &to->tau_s, &ch->set, err) &&
         number_field(doc, "hold_s", ET_LISTENER_SET_HOLD, &to->hold_s, &ch->set, err) &&
         number_field(doc, "history_days", ET_LISTENER_SET_HISTORY_DAYS, &to->history_days,
                      &ch->set, err) &&
         count_field(doc, "history_max", ET_LISTENER_SET_HISTORY_MAX, &to->history_max,
                     &ch->set, err) &&
         number_field(doc, "feedback_days", ET_LISTENER_SET_FEEDBACK_DAYS, &to->feedback_days,
                      &ch->set, err) &&
         count_field(doc, "feedback_max", ET_LISTENER_SET_FEEDBACK_MAX, &to->feedback_max,
                     &ch->set, err);
    json_decref(doc);
    if (!ok)
        return ET_E_INVALID;
    /* each field's range stands alone: checked over the defaults here, and
     * again on the merged profile inside the store's update */
    et_listener_profile p;
    if (et_listener_profile_default("x", &p, err) != ET_OK)
        return ET_E_INVALID;
    et_listener_profile_apply(ch, &p);
    return et_listener_profile_check(&p, err);
}

et__reply et__profile_put(et_server *s, const et__call *c)
{
    et__reply fail;
    et_store *st;
    et_listener_profile_change ch;
    et_listener_profile p;
    char err[ET_ERR_MAX];
    if (!et__check_name(c->name, &fail))
        return fail;
    et_status rc = et__parse_profile(c->req->body, c->req->len, &ch, err);
    if (rc != ET_OK)
        return et__error(400, rc, "%s", err);
    if (!(st = et__store(s, &fail)))
        return fail;
    rc = et_listener_profile_update(st, c->name, &ch, &p, err);
    if (rc != ET_OK)
        return et__error(rc == ET_E_INVALID ? 400 : 503, rc == ET_E_INVALID ? rc : ET_E_UNAVAILABLE,
                         "%s", err);
    et__listener_profile_changed(s, &p);
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
