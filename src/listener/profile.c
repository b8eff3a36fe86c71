/* listener: profiles (policy, mood smoothing, history retention). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listener/listener_internal.h"

#define PROFILE_SUFFIX "/profile"

et_status et_listener_profile_default(const char *name, et_listener_profile *out, char *err)
{
    if (!out)
        return et_fail(err, ET_E_INVALID, "et_listener_profile_default: NULL argument");
    et_status st = et_listener_check_name(name, err);
    if (st != ET_OK)
        return st;
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", name);
    out->policy = ET_REC_MATCH;
    out->tau_s = 3.0;
    out->hold_s = 2.0;
    out->history_days = 90.0;
    out->history_max = 10000;
    out->feedback_days = 365.0;
    out->feedback_max = 10000;
    return ET_OK;
}

static bool within(double x, double lo, double hi) { return isfinite(x) && x >= lo && x <= hi; }

et_status et_listener_profile_check(const et_listener_profile *p, char *err)
{
    if (!p)
        return et_fail(err, ET_E_INVALID, "et_listener_profile_check: NULL argument");
    et_status st = et_listener_check_name(p->name, err);
    if (st != ET_OK)
        return st;
    if (!et_rec_policy_name(p->policy))
        return et_fail(err, ET_E_INVALID, "unknown policy %d (match, lift or calm)",
                       (int)p->policy);
    if (!within(p->tau_s, 0, 600) || p->tau_s == 0)
        return et_fail(err, ET_E_INVALID, "smoothing time %g s is not in (0, 600]", p->tau_s);
    if (!within(p->hold_s, 0, 600))
        return et_fail(err, ET_E_INVALID, "hold time %g s is not in [0, 600]", p->hold_s);
    if (!within(p->history_days, 0, 36500) || p->history_days == 0)
        return et_fail(err, ET_E_INVALID, "history retention %g days is not in (0, 36500]",
                       p->history_days);
    if (p->history_max < 1 || p->history_max > 1000000)
        return et_fail(err, ET_E_INVALID, "history limit %zu is not in [1, 1000000]",
                       p->history_max);
    if (!within(p->feedback_days, 0, 36500) || p->feedback_days == 0)
        return et_fail(err, ET_E_INVALID, "feedback retention %g days is not in (0, 36500]",
                       p->feedback_days);
    if (p->feedback_max < 1 || p->feedback_max > 1000000)
        return et_fail(err, ET_E_INVALID, "feedback limit %zu is not in [1, 1000000]",
                       p->feedback_max);
    return ET_OK;
}

static void profile_id(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s" PROFILE_SUFFIX, name);
}

/* Sets one double field from doc when it is a number that passes the check;
 * else the field keeps its value. */
static void take_number(const json_t *doc, const char *key, double *field, et_listener_profile *p)
{
    double old = *field;
    *field = et__json_number(doc, key, old);
    if (et_listener_profile_check(p, NULL) != ET_OK)
        *field = old;
}

/* Takes each valid field of doc over the defaults in *p; a bad field keeps
 * its default, the others are still taken. */
void et__listener_read_profile(const json_t *doc, et_listener_profile *p)
{
    et_rec_policy pol;
    if (et_rec_policy_parse(json_string_value(json_object_get(doc, "policy")), &pol, NULL) ==
        ET_OK)
        p->policy = pol;
    take_number(doc, "tau_s", &p->tau_s, p);
    take_number(doc, "hold_s", &p->hold_s, p);
    take_number(doc, "history_days", &p->history_days, p);
    take_number(doc, "feedback_days", &p->feedback_days, p);
    double max = et__json_number(doc, "history_max", (double)p->history_max);
    if (within(max, 1, 1000000))
        p->history_max = (size_t)max;
    max = et__json_number(doc, "feedback_max", (double)p->feedback_max);
    if (within(max, 1, 1000000))
        p->feedback_max = (size_t)max;
}

et_status et_listener_profile_load(et_store *s, const char *name, et_listener_profile *out,
                                   char *err)
{
    et_listener_profile p;
    et_status st = et_listener_profile_default(name, &p, err);
    if (st != ET_OK)
        return st;
    char id[ET_LISTENER_MAX_NAME + sizeof PROFILE_SUFFIX];
    profile_id(id, sizeof id, name);
    char *json = NULL;
    size_t len = 0;
    st = et_store_get(s, ET_LISTENER_PROFILES, id, &json, &len, err);
    if (st == ET_E_NOT_FOUND) {
        *out = p;
        return ET_OK;
    }
    if (st != ET_OK)
        return st;
    json_t *doc = json_loadb(json, len, 0, NULL);
    free(json);
    if (json_is_object(doc)) {
        et__listener_read_profile(doc, &p);
        p.stored = true;
    } else {
        et_log(ET_LOG_WARN, "profile of %s is not a JSON object: using the defaults", name);
    }
    json_decref(doc);
    *out = p;
    return ET_OK;
}

void et_listener_profile_apply(const et_listener_profile_change *ch, et_listener_profile *p)
{
    unsigned set = ch->set;
    const et_listener_profile *to = &ch->to;
    if (set & ET_LISTENER_SET_POLICY)
        p->policy = to->policy;
    if (set & ET_LISTENER_SET_TAU)
        p->tau_s = to->tau_s;
    if (set & ET_LISTENER_SET_HOLD)
        p->hold_s = to->hold_s;
    if (set & ET_LISTENER_SET_HISTORY_DAYS)
        p->history_days = to->history_days;
    if (set & ET_LISTENER_SET_HISTORY_MAX)
        p->history_max = to->history_max;
    if (set & ET_LISTENER_SET_FEEDBACK_DAYS)
        p->feedback_days = to->feedback_days;
    if (set & ET_LISTENER_SET_FEEDBACK_MAX)
        p->feedback_max = to->feedback_max;
}

typedef struct change_ctx {
    const char *name;
    const et_listener_profile_change *ch;
    et_listener_profile merged; /* of the last call (the one written) */
} change_ctx;

/* et_store_update_fn: the stored profile as it is now (defaults for what it
 * lacks), the change's fields set over it, checked; the stored document's
 * other fields kept. */
static et_status merge_profile(void *user, const char *old, size_t old_len, char **out,
                               size_t *out_len, char *err)
{
    change_ctx *c = user;
    et_listener_profile p;
    et_status st = et_listener_profile_default(c->name, &p, err);
    if (st != ET_OK)
        return st;
    json_t *doc = old ? json_loadb(old, old_len, 0, NULL) : NULL;
    if (json_is_object(doc)) {
        et__listener_read_profile(doc, &p);
    } else {
        json_decref(doc);
        doc = json_object();
    }
    if (!doc)
        return et_fail(err, ET_E_NOMEM, "out of memory");
    et_listener_profile_apply(c->ch, &p);
    if ((st = et_listener_profile_check(&p, err)) != ET_OK) {
        json_decref(doc);
        return st; /* aborts the update: nothing is written */
    }
    json_object_set_new(doc, "listener", json_string(p.name));
    json_object_set_new(doc, "policy", json_string(et_rec_policy_name(p.policy)));
    json_object_set_new(doc, "tau_s", json_real(p.tau_s));
    json_object_set_new(doc, "hold_s", json_real(p.hold_s));
    json_object_set_new(doc, "history_days", json_real(p.history_days));
    json_object_set_new(doc, "history_max", json_integer((json_int_t)p.history_max));
    json_object_set_new(doc, "feedback_days", json_real(p.feedback_days));
    json_object_set_new(doc, "feedback_max", json_integer((json_int_t)p.feedback_max));
    *out = et__json_dump(doc, out_len);
    json_decref(doc);
    p.stored = true;
    c->merged = p;
    return *out ? ET_OK : et_fail(err, ET_E_NOMEM, "out of memory");
}

et_status et_listener_profile_update(et_store *s, const char *name,
                                     const et_listener_profile_change *ch,
                                     et_listener_profile *out, char *err)
{
    if (!s || !ch)
        return et_fail(err, ET_E_INVALID, "et_listener_profile_update: NULL argument");
    et_status st = et_listener_check_name(name, err);
    if (st != ET_OK)
        return st;
    char id[ET_LISTENER_MAX_NAME + sizeof PROFILE_SUFFIX];
    profile_id(id, sizeof id, name);
    change_ctx c = {.name = name, .ch = ch};
    st = et_store_update(s, ET_LISTENER_PROFILES, id, merge_profile, &c, err);
    if (st == ET_OK && out)
        *out = c.merged;
    return st;
}

et_status et_listener_profile_save(et_store *s, const et_listener_profile *p, char *err)
{
    et_status st = et_listener_profile_check(p, err);
    if (st != ET_OK)
        return st;
    et_listener_profile_change ch = {.set = ET_LISTENER_SET_ALL, .to = *p};
    return et_listener_profile_update(s, p->name, &ch, NULL, err);
}

typedef struct names_ctx {
    char **names;
    size_t n, cap;
    bool nomem;
} names_ctx;

static int collect_name(void *user, const char *id, const char *json, size_t len)
{
    (void)json, (void)len;
    names_ctx *c = user;
    size_t idlen = strlen(id), suffix = strlen(PROFILE_SUFFIX);
    if (idlen <= suffix || strcmp(id + idlen - suffix, PROFILE_SUFFIX) != 0)
        return 0;
    void *grown = et__listener_grow(c->names, c->n, &c->cap, sizeof *c->names);
    if (!grown)
        return c->nomem = true, 1;
    c->names = grown;
    char *copy = strndup(id, idlen - suffix);
    if (!copy)
        return c->nomem = true, 1;
    c->names[c->n++] = copy;
    return 0;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

et_status et_listener_names(et_store *s, char ***names, size_t *n, char *err)
{
    if (!names || !n)
        return et_fail(err, ET_E_INVALID, "et_listener_names: NULL argument");
    names_ctx c = {0};
    et_status st = et_store_iterate(s, ET_LISTENER_PROFILES, NULL, 0, collect_name, &c, err);
    if (st == ET_OK && c.nomem)
        st = et_fail(err, ET_E_NOMEM, "out of memory");
    if (st != ET_OK) {
        et_store_free_names(c.names, c.n);
        return st;
    }
    /* "ab-c/profile" sorts before "ab/profile": sort the names themselves. */
    if (c.n > 1)
        qsort(c.names, c.n, sizeof *c.names, compare_names);
    *names = c.names;
    *n = c.n;
    return ET_OK;
}
