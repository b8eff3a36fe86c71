/* Fuzzes the parsing of the listener routes' query parameters (src/server:
 * count, seed and peek of .../next, limit and before of .../history, t of
 * .../frames, and the policy) on a query string "k=v&k=v..." and checks
 * what the handlers rely on: every value accepted is in its range (whole
 * where it must be; a capture time finite and >= 0; a page bound > 0), an
 * absent one takes its default, and a refused one gives a message that can
 * go into a JSON error. Every parser sees every value, whatever its key. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "recommend/recommend.h"
#include "server/server_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_message(const char *err)
{
    json_t *s = *err && memchr(err, '\0', ET_ERR_MAX) ? json_string(err) : NULL;
    if (!s)
        abort();
    json_decref(s);
}

/* A whole-number or plain-number parameter, as the handlers ask for it. */
static void number(const char *key, const char *v, double lo, double hi, bool integral,
                   double def)
{
    char err[ET_ERR_MAX] = "";
    double x = NAN;
    if (!et__query_number(key, v, lo, hi, integral, def, &x, err)) {
        check_message(err);
        return;
    }
    if (!v && x != def)
        abort();
    if (v && (!(x >= lo && x <= hi) || (integral && x != floor(x))))
        abort();
}

static void value(const char *v)
{
    number("count", v, 1, 100, true, 5);
    number("seed", v, 0, 999999999, true, -1);
    number("peek", v, 0, 1, true, 0);
    number("limit", v, 1, 1000, true, 50);
    char err[ET_ERR_MAX] = "";
    double t = -1, before = NAN;
    bool given = true;
    if (!et__query_time(v, &t, &given, err))
        check_message(err);
    else if (given ? !(v && isfinite(t) && t >= 0) : (v != NULL || t != -1))
        abort();
    if (!et__query_before(v, &before, err))
        check_message(err);
    else if (!(before > 0) || (!v && before != INFINITY))
        abort();
    et_rec_policy p;
    if (v && et_rec_policy_parse(v, &p, NULL) == ET_OK && strcmp(et_rec_policy_name(p), v) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *query = malloc(size + 1);
    if (!query)
        return 0;
    memcpy(query, data, size);
    query[size] = '\0';
    value(NULL); /* every parameter absent */
    char *save = NULL;
    for (char *pair = strtok_r(query, "&", &save); pair; pair = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(pair, '=');
        value(eq ? eq + 1 : pair);
    }
    free(query);
    return 0;
}
