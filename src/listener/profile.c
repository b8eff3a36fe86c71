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
    double max = et__json_number(doc, "history_max", (double)p->history_max);
    if (within(max, 1, 1000000))
        p->history_max = (size_t)max;
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

static et_status merge_profile(void *user, const char *old, size_t old_len, char **out,
                               size_t *out_len, char *err)
{
    const et_listener_profile *p = user;
    json_t *doc = old ? json_loadb(old, old_len, 0, NULL) : NULL;
    if (!json_is_object(doc)) {
        json_decref(doc);
        doc = json_object();
    }
    if (!doc)
        return et_fail(err, ET_E_NOMEM, "out of memory");
    json_object_set_new(doc, "listener", json_string(p->name));
    json_object_set_new(doc, "policy", json_string(et_rec_policy_name(p->policy)));
    json_object_set_new(doc, "tau_s", json_real(p->tau_s));
    json_object_set_new(doc, "hold_s", json_real(p->hold_s));
    json_object_set_new(doc, "history_days", json_real(p->history_days));
    json_object_set_new(doc, "history_max", json_integer((json_int_t)p->history_max));
    *out = et__json_dump(doc, out_len);
    json_decref(doc);
    return *out ? ET_OK : et_fail(err, ET_E_NOMEM, "out of memory");
}

et_status et_listener_profile_save(et_store *s, const et_listener_profile *p, char *err)
{
    et_status st = et_listener_profile_check(p, err);
    if (st != ET_OK)
        return st;
    char id[ET_LISTENER_MAX_NAME + sizeof PROFILE_SUFFIX];
    profile_id(id, sizeof id, p->name);
    return et_store_update(s, ET_LISTENER_PROFILES, id, merge_profile, (void *)p, err);
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
