/* server: what the listener routes' bodies and queries share, as pure
 * functions (fuzzed by fuzz/fuzz_server_json.c and fuzz_server_query.c). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* ---- the headers a request must carry (server.c's checks) --------------- */

static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c; }

/* Whether [s, s + n) equals the lower-case word w, ignoring case. */
static bool same_word(const char *s, size_t n, const char *w)
{
    size_t i = 0;
    for (; i < n && w[i]; i++)
        if (lower(s[i]) != w[i])
            return false;
    return i == n && !w[i];
}

/* Whether [s, s + n) is a dotted-decimal IPv4 address in 127.0.0.0/8. */
static bool loopback_ipv4(const char *s, size_t n)
{
    int parts = 0;
    size_t i = 0;
    while (parts < 4) {
        size_t start = i;
        unsigned v = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9' && i - start < 3)
            v = v * 10 + (unsigned)(s[i++] - '0');
        if (i == start || v > 255 || (i - start > 1 && s[start] == '0'))
            return false;
        if (parts == 0 && v != 127)
            return false;
        if (++parts < 4 && (i >= n || s[i++] != '.'))
            return false;
    }
    return i == n;
}

bool et__host_port(const char *host, size_t *name_len, long *port)
{
    if (!host || !*host)
        return false;
    const char *end = host;
    if (*host == '[') { /* [IPv6]:PORT */
        end = strchr(host, ']');
        if (!end)
            return false;
        end++;
    } else {
        end = host + strcspn(host, ":");
    }
    *name_len = (size_t)(end - host);
    if (*name_len == 0)
        return false;
    if (!*end) {
        *port = 80;
        return true;
    }
    if (*end != ':' || !end[1] || strlen(end + 1) > 5)
        return false;
    long p = 0;
    for (const char *d = end + 1; *d; d++) {
        if (*d < '0' || *d > '9')
            return false;
        p = p * 10 + (*d - '0');
    }
    *port = p;
    return p <= 65535;
}

bool et__host_is_loopback(const char *host, int port)
{
    size_t n;
    long p;
    if (!et__host_port(host, &n, &p) || (host[n] && p != port))
        return false;
    return same_word(host, n, "localhost") || same_word(host, n, "[::1]") ||
           loopback_ipv4(host, n);
}

bool et__origin_matches(const char *origin, const char *host)
{
    if (!origin || !host || !*host)
        return false;
    const char *rest = NULL;
    if (strncmp(origin, "http://", 7) == 0)
        rest = origin + 7;
    else if (strncmp(origin, "https://", 8) == 0)
        rest = origin + 8;
    if (!rest || strlen(rest) != strlen(host))
        return false;
    return strncasecmp(rest, host, strlen(host)) == 0;
}

bool et__media_type_is(const char *content_type, const char *type)
{
    if (!content_type)
        return false;
    size_t n = strcspn(content_type, ";");
    while (n && (content_type[n - 1] == ' ' || content_type[n - 1] == '\t'))
        n--;
    size_t t = strlen(type);
    if (type[t - 1] == '/') { /* "image/": any one subtype, a token (RFC 9110 5.6.2) */
        if (n <= t || strncasecmp(content_type, type, t) != 0)
            return false;
        for (size_t i = t; i < n; i++) {
            unsigned char c = (unsigned char)content_type[i];
            if (!(c < 0x7f && (isalnum(c) || strchr("!#$%&'*+-.^_`|~", c))) || !c)
                return false;
        }
        return true;
    }
    return n == t && strncasecmp(content_type, type, t) == 0;
}
