/* Fuzzes the parsers of the audio route's request headers (src/server/
 * range.c): Range against a file size, and the HTTP dates of
 * If-Modified-Since and If-Range. Input: a file size in decimal on the first
 * line (none: 1000), then the header's value. Checks what the route relies
 * on: one satisfiable range lies within the file (first <= last < size); an
 * empty file or a header that is not "bytes=..." is sent whole; whether a
 * header is malformed does not depend on the size; a range satisfiable in a
 * file stays so in a longer one; the answer is the same twice; and a date
 * that parses comes back the same through its IMF-fixdate form. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/server_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The size line: digits then '\n' (at most 20 digits), else 1000 and the
 * whole input is the header. */
static uint64_t size_line(const char *text, const char **header)
{
    const char *nl = strchr(text, '\n');
    *header = text;
    if (!nl || nl == text || nl - text > 20 || strspn(text, "0123456789") != (size_t)(nl - text))
        return 1000;
    *header = nl + 1;
    return strtoull(text, NULL, 10);
}

static void check_range(const char *header, uint64_t size)
{
    uint64_t first = 0, last = 0, f2 = 0, l2 = 0, f3, l3;
    et__range_kind k = et__range_parse(header, size, &first, &last);
    if (k != et__range_parse(header, size, &f2, &l2) ||
        (k == ET__RANGE_ONE && (first != f2 || last != l2)))
        abort(); /* not the same twice */
    if (k == ET__RANGE_ONE && !(first <= last && last < size))
        abort(); /* a range outside the file */
    if ((size == 0 || strncasecmp(header, "bytes=", 6) != 0) && k != ET__RANGE_WHOLE)
        abort();
    if (size == 0 || size == UINT64_MAX)
        return;
    et__range_kind longer = et__range_parse(header, size + 1, &f3, &l3);
    if ((k == ET__RANGE_WHOLE) != (longer == ET__RANGE_WHOLE))
        abort(); /* malformed at one size, not at another */
    if ((k == ET__RANGE_ONE || k == ET__RANGE_SEVERAL) && longer != k)
        abort(); /* satisfiable, then not in a longer file */
}

static void check_date(const char *text)
{
    int64_t t, again;
    char buf[64];
    if (!et__http_date_parse(text, &t) || t < 0 || t >= 253402300800LL) /* year 10000 */
        return;
    et__http_date_format(t, buf, sizeof buf);
    if (!et__http_date_parse(buf, &again) || again != t)
        abort(); /* the date does not come back */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0'; /* a NUL inside ends the header, as it would in MHD */
    const char *header;
    uint64_t file_size = size_line(text, &header);
    check_range(header, file_size);
    check_date(header);
    free(text);
    return 0;
}
