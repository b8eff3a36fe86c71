/* server: the Range header (RFC 9110, section 14) and HTTP dates (section
 * 5.6.7), as pure functions: the audio route uses them and
 * fuzz/fuzz_server_range.c checks them. */
#define _XOPEN_SOURCE 700 /* strptime */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "server/server_internal.h"

static const char *skip_blanks(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* The decimal number at p into *v, saturating at UINT64_MAX (a position no
 * file reaches); the end of its digits, or NULL when p is not a digit. */
static const char *number(const char *p, uint64_t *v)
{
    if (*p < '0' || *p > '9')
        return NULL;
    uint64_t n = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        n = n > (UINT64_MAX - d) / 10 ? UINT64_MAX : n * 10 + d;
    }
    *v = n;
    return p;
}

/* One range-spec at *p ("a-b", "a-", "-n"), moving *p past it: -1 when
 * malformed, 0 when unsatisfiable, 1 with *first..*last within the file. */
static int one_spec(const char **p, uint64_t size, uint64_t *first, uint64_t *last)
{
    uint64_t a = 0, b = 0;
    const char *q = number(*p, &a), *r;
    bool has_a = q != NULL;
    if (!q)
        q = *p;
    if (*q != '-')
        return -1;
    bool has_b = (r = number(q + 1, &b)) != NULL;
    *p = has_b ? r : q + 1;
    if ((!has_a && !has_b) || (has_a && has_b && b < a))
        return -1;
    if (has_a) { /* int-range: satisfiable when it starts inside the file */
        *first = a;
        *last = has_b && b < size ? b : size - 1;
        return a < size;
    }
    *first = b >= size ? 0 : size - b; /* suffix-range: the last b bytes */
    *last = size - 1;
    return b > 0;
}

et__range_kind et__range_parse(const char *header, uint64_t size, uint64_t *first,
                               uint64_t *last)
{
    /* An empty file has no byte to range over: it is sent whole. */
    if (!header || size == 0 || strncasecmp(header, "bytes=", 6) != 0)
        return ET__RANGE_WHOLE;
    size_t specs = 0, satisfiable = 0;
    uint64_t f = 0, l = 0;
    for (const char *p = header + 6;;) {
        p = skip_blanks(p);
        if (*p == ',') { /* an empty list element */
            p++;
            continue;
        }
        if (!*p)
            break;
        uint64_t a, b;
        int sat = one_spec(&p, size, &a, &b);
        if (sat < 0)
            return ET__RANGE_WHOLE;
        specs++;
        if (sat)
            satisfiable++, f = a, l = b;
        p = skip_blanks(p);
        if (*p && *p != ',')
            return ET__RANGE_WHOLE;
    }
    if (specs == 0)
        return ET__RANGE_WHOLE;
    if (satisfiable == 0)
        return ET__RANGE_UNSATISFIABLE;
    if (specs > 1)
        return ET__RANGE_SEVERAL;
    *first = f;
    *last = l;
    return ET__RANGE_ONE;
}

bool et__http_date_parse(const char *text, int64_t *out)
{
    /* IMF-fixdate, then the two obsolete forms a recipient must accept. */
    static const char *const forms[] = {"%a, %d %b %Y %H:%M:%S GMT",
                                        "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %d %H:%M:%S %Y"};
    for (size_t i = 0; text && i < sizeof forms / sizeof *forms; i++) {
        struct tm tm = {0};
        const char *end = strptime(text, forms[i], &tm);
        if (end && !*skip_blanks(end)) {
            *out = (int64_t)timegm(&tm);
            return true;
        }
    }
    return false;
}

void et__http_date_format(int64_t t, char *buf, size_t len)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm)) {
        snprintf(buf, len, "Thu, 01 Jan 1970 00:00:00 GMT");
        return;
    }
    snprintf(buf, len, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}
