/* server: what the listener routes' bodies and queries share, as pure
 * functions (fuzzed by fuzz/fuzz_server_json.c and fuzz_server_query.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_internal.h"

const char *et__shown(const char *v, char *buf, size_t size)
{
    size_t n = 0;
    for (; v && v[n] && n + 1 < size; n++)
        buf[n] = v[n] >= 0x20 && v[n] < 0x7f ? v[n] : '?';
    if (size)
        buf[n] = '\0';
    return buf;
}

json_t *et__json_body(const char *body, size_t len, const char *want, et_status *rc,
                      char *err)
{
    json_error_t jerr;
    json_t *doc = len ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    if (json_is_object(doc))
        return doc;
    char shown[80];
    if (len && !doc)
        snprintf(err, ET_ERR_MAX, "the body is not JSON: %s (at %d)",
                 et__shown(jerr.text, shown, sizeof shown), jerr.position);
    else
        snprintf(err, ET_ERR_MAX, "the body must be a JSON object: %s", want);
    *rc = len && !doc ? ET_E_CORRUPT : ET_E_INVALID;
    json_decref(doc);
    return NULL;
}

bool et__json_known_keys(json_t *doc, const char *const *known, size_t n, char *err)
{
    const char *key;
    json_t *v;
    json_object_foreach(doc, key, v) {
        bool is_known = false;
        for (size_t i = 0; i < n && !is_known; i++)
            is_known = strcmp(key, known[i]) == 0;
        if (!is_known) {
            char shown[33];
            snprintf(err, ET_ERR_MAX, "unknown key \"%s\"", et__shown(key, shown, sizeof shown));
            return false;
        }
    }
    return true;
}

/* A whole value as a number (strtod: decimal, exponent, inf, nan); false
 * when v is empty or has anything after the number. */
static bool whole_number(const char *v, double *out)
{
    char *end;
    *out = strtod(v, &end);
    return end != v && !*end;
}

bool et__query_number(const char *key, const char *v, double lo, double hi, bool integral,
                      double def, double *out, char *err)
{
    if (!v) {
        *out = def;
        return true;
    }
    double x;
    if (whole_number(v, &x) && x >= lo && x <= hi && (!integral || x == floor(x))) {
        *out = x;
        return true;
    }
    char shown[33];
    snprintf(err, ET_ERR_MAX, "%s=%s: expected a %s from %g to %g", key,
             et__shown(v, shown, sizeof shown), integral ? "whole number" : "number", lo, hi);
    return false;
}

bool et__query_time(const char *v, double *t, bool *given, char *err)
{
    *given = false;
    if (!v)
        return true;
    double x;
    if (whole_number(v, &x) && isfinite(x) && x >= 0) {
        *t = x;
        return *given = true;
    }
    char shown[33];
    snprintf(err, ET_ERR_MAX, "t=%s: expected the capture time in seconds",
             et__shown(v, shown, sizeof shown));
    return false;
}

bool et__query_before(const char *v, double *before, char *err)
{
    if (!v) {
        *before = INFINITY;
        return true;
    }
    double x;
    if (whole_number(v, &x) && x > 0) {
        *before = x;
        return true;
    }
    char shown[33];
    snprintf(err, ET_ERR_MAX, "before=%s: expected a Unix time", et__shown(v, shown, sizeof shown));
    return false;
}
