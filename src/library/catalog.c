/*
 * Catalogues of links: CSV, JSON and M3U files listing http(s) URLs with a
 * title, an artist and a mood, turned into link tracks.
 *
 * Parsing (et__catalog_parse) is separate from storing (et_library_import)
 * so that the parsers can be fuzzed without a store. The rules:
 *
 * Format, by content (after an optional UTF-8 byte order mark):
 *   - JSON when the first non-blank character is '[' (or '{', refused: a
 *     catalogue is an array);
 *   - M3U when the first non-blank line starts with '#' (#EXTM3U, #EXTINF,
 *     #EXTMOOD, a comment) or is a bare URL (a scheme, no comma, no quote),
 *     or when any line starts with #EXTINF;
 *   - CSV otherwise. A NUL byte in a CSV or M3U file means it is not text:
 *     the whole file is refused (ET_E_INVALID).
 *
 * CSV (RFC 4180): fields separated by commas, records by LF, CRLF or CR. A
 * field in double quotes may hold commas, line breaks and "" for a quote;
 * blanks around the quotes are allowed. A quote inside an unquoted field is
 * kept as a character. Columns: url,title,artist,mood, or in the order named
 * by a header (the first record, when one of its fields is "url", in any
 * case; unknown column names are ignored, columns past the 64th too).
 * Reported and skipped: text after a closing quote (up to the end of that
 * line), a quote never closed (reading goes on at the record's second line,
 * and from then on a quoted field ends with its line: one stray quote costs
 * one record and the parse stays linear), a record over 64 KB. Blank lines
 * are ignored silently.
 *
 * JSON: an array of objects {"url","title","artist","mood"} (other keys
 * ignored; title, artist, mood may be null or absent), read one element at
 * a time. A file that does not parse (RFC 8259, as jansson reads it; \u0000
 * is allowed and becomes a space in text), or is not an array, is refused
 * whole with the line of the fault. An element that is not an
 * object, or whose fields are not strings, is reported with its index and
 * the line where it starts. No line limit applies (minified JSON is one
 * line).
 *
 * M3U/M3U8: each line not starting with '#' is a URL. "#EXTINF:<secs>
 * [attributes],<Artist> - <Title>" gives the next URL its title (split at
 * the first " - "; without one it is all title). "#EXTMOOD:<mood>" or
 * "#MOOD:<mood>" sets the mood of the entries that follow (empty: none).
 * Other '#' lines are ignored. A line over 64 KB is reported and skipped.
 *
 * Every entry: the URL (blanks around it trimmed) must have the scheme http
 * or https (any case), "//", a non-empty host without user name or password
 * and an optional numeric port, at most 2048 bytes, no blanks, control
 * characters, invalid UTF-8 or any of " < > \ `. The mood is the `mood`
 * argument when given (it replaces the file's labels), else the entry's
 * label, which must be in the named-mood table (src/mood/moods.c). The same
 * link twice (same normalised URL) is reported at its second line. Each
 * failure is reported with its line and skipped.
 *
 * Title and artist: invalid UTF-8 bytes are read as Windows-1252 (the
 * encoding of old .m3u files; a superset of Latin-1's printable range),
 * control characters become spaces, blanks around are trimmed, and text past
 * 512 bytes is cut at a character boundary. An empty title becomes the URL's
 * last path segment (percent-decoded) or, without one, its host.
 *
 * Normalised URL and id: the scheme and the host are lower-cased (nothing
 * else changes); the track id is "u-" + 16 hex digits of the 64-bit FNV-1a
 * hash (http://www.isthe.com/chongo/tech/comp/fnv/) of that URL.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "library/library.h"
#include "library/library_internal.h"
#include "library/scan_internal.h"
#include "mood/mood.h"

#define MAX_FIELDS 64    /* CSV columns read */
#define SNIPPET 40       /* bytes of a bad value quoted in a message */
#define STORE_BATCH 1000 /* documents per et_store_batch */
#define ARENA_CHUNK ((size_t)64 << 10)

#define FNV64_OFFSET 14695981039346656037ULL
#define FNV64_PRIME 1099511628211ULL

/* ---- strings owned by a catalogue ---- */

struct et__arena {
    struct et__arena *next;
    size_t used, cap;
    char data[];
};

typedef struct parser {
    et__catalog *c;
    size_t entries_cap, issues_cap;
    const et_mood_named *forced; /* the `mood` argument */
    const char *forced_word;
    struct seen { uint64_t hash; size_t index; } *seen; /* index + 1; 0 = free slot */
    size_t seen_cap;
    const char *where; /* message prefix: "element [3]: " for JSON */
    char where_buf[48];
    bool nomem;
} parser;

static char *arena_copy(parser *p, const char *s, size_t n)
{
    struct et__arena *a = p->c->arena;
    if (!a || a->cap - a->used < n + 1) {
        size_t cap = n + 1 > ARENA_CHUNK ? n + 1 : ARENA_CHUNK;
        a = malloc(sizeof *a + cap);
        if (!a) {
            p->nomem = true;
            return NULL;
        }
        a->next = p->c->arena, a->used = 0, a->cap = cap;
        p->c->arena = a;
    }
    char *out = a->data + a->used;
    memcpy(out, s, n);
    out[n] = '\0';
    a->used += n + 1;
    return out;
}

/* arr with room for `need` items of `size` bytes (moved, maybe), or NULL
 * (arr is then unchanged and p->nomem set). */
static void *grow(parser *p, void *arr, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return arr;
    size_t n = *cap ? 2 * *cap : 64;
    void *q = realloc(arr, n * size);
    if (!q) {
        p->nomem = true;
        return NULL;
    }
    *cap = n;
    return q;
}

/* ---- issues ---- */

/* A printable ASCII copy of a bad value for a message (other bytes: '?'). */
static const char *snippet(char out[SNIPPET + 4], const char *s, size_t n)
{
    size_t k = n < SNIPPET ? n : SNIPPET;
    for (size_t i = 0; i < k; i++)
        out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    strcpy(out + k, n > SNIPPET ? "..." : "");
    return out;
}

static void issue(parser *p, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records a skipped line: counted always, listed while there is room. */
static void issue(parser *p, size_t line, const char *fmt, ...)
{
    et__catalog *c = p->c;
    c->skipped++;
    if (c->n_issues >= ET__CATALOG_MAX_ISSUES)
        return;
    et_import_issue *grown = grow(p, c->issues, &p->issues_cap, c->n_issues + 1, sizeof *grown);
    if (!grown)
        return;
    c->issues = grown;
    et_import_issue *is = &c->issues[c->n_issues++];
    is->line = line;
    int k = snprintf(is->message, sizeof is->message, "%s", p->where ? p->where : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(is->message + k, sizeof is->message - (size_t)k, fmt, ap);
    va_end(ap);
}

/* ---- UTF-8 and text ---- */

static uint32_t utf8_decode(const unsigned char *s, size_t k)
{
    if (k == 1)
        return s[0];
    uint32_t cp = s[0] & (0x7f >> k);
    for (size_t i = 1; i < k; i++)
        cp = cp << 6 | (s[i] & 0x3f);
    return cp;
}

static size_t utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Windows-1252 bytes 0x80..0x9f (0: unassigned, read as U+FFFD); from
 * 0xa0 up it agrees with Latin-1. Source: the WHATWG Encoding Standard's
 * index-windows-1252. */
static const uint16_t cp1252[32] = {
    0x20ac, 0,      0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
    0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0,      0x017d, 0,
    0,      0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
    0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0,      0x017e, 0x0178,
};

/*
 * Cleans a title or an artist into out (ET__CATALOG_MAX_TEXT + 1 bytes):
 * valid UTF-8 (invalid bytes read as Windows-1252), control characters
 * (C0, DEL, C1) as spaces, blanks around trimmed, cut at a character
 * boundary within ET__CATALOG_MAX_TEXT bytes. Returns the length.
 */
static size_t clean_text(const char *s, size_t n, char *out)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t k = et__utf8_seq(u + i, n - i);
        uint32_t cp;
        if (k) {
            cp = utf8_decode(u + i, k);
            i += k;
        } else {
            cp = u[i] >= 0xa0 ? u[i] : cp1252[u[i] - 0x80] ? cp1252[u[i] - 0x80] : 0xfffd;
            i++;
        }
        if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
            cp = ' ';
        if (cp == ' ' && o == 0)
            continue;
        char enc[4];
        size_t e = utf8_encode(cp, enc);
        if (o + e > ET__CATALOG_MAX_TEXT)
            break;
        memcpy(out + o, enc, e);
        o += e;
    }
    while (o && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
    return o;
}

static bool is_blank(char c) { return c == ' ' || c == '\t'; }

static void trim(const char **s, size_t *n)
{
    while (*n && is_blank(**s))
        (*s)++, (*n)--;
    while (*n && is_blank((*s)[*n - 1]))
        (*n)--;
}

static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

/* s[0..n) starts with the ASCII word w, in any case. */
static bool starts_with_ci(const char *s, size_t n, const char *w)
{
    size_t k = strlen(w);
    if (n < k)
        return false;
    for (size_t i = 0; i < k; i++)
        if (lower(s[i]) != lower(w[i]))
            return false;
    return true;
}

/* ---- URLs ---- */

/* Length of the scheme before ':' (RFC 3986 3.1), or 0 when there is none. */
static size_t scheme_len(const char *s, size_t n)
{
    if (n == 0 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return 0;
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (c == ':')
            return i;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '-' || c == '.'))
            return 0;
    }
    return 0;
}

/* A reg-name or IP address character (RFC 3986 3.2.2), non-ASCII aside. */
static bool host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("-._~%!$&'()*+,;=", c));
}

typedef struct url_parts {
    size_t host, host_len; /* offsets into the URL */
    size_t path, path_len; /* path without query and fragment */
} url_parts;

/*
 * Checks a URL (already trimmed) and writes its normalised form (same
 * length) into out; NULL when accepted, else why not.
 */
static const char *check_url(const char *s, size_t n, char *out, url_parts *pt)
{
    if (n > ET__CATALOG_MAX_URL)
        return "URL longer than 2048 bytes";
    size_t sl = scheme_len(s, n);
    if (sl == 0)
        return "not a URL (no scheme: a relative path?)";
    if (!((sl == 4 && starts_with_ci(s, n, "http")) || (sl == 5 && starts_with_ci(s, n, "https"))))
        return "scheme not allowed (http and https only)";
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7f)
            return "space or control character in the URL";
        if (c == '"' || c == '<' || c == '>' || c == '\\' || c == '`')
            return "character not allowed in a URL (\" < > \\ `)";
        size_t k = et__utf8_seq((const unsigned char *)s + i, n - i);
        if (!k)
            return "URL is not valid UTF-8";
        i += k;
    }
    size_t i = sl + 1;
    if (n - i < 2 || s[i] != '/' || s[i + 1] != '/')
        return "no host (expected http://host/...)";
    i += 2;
    size_t end = i;
    while (end < n && s[end] != '/' && s[end] != '?' && s[end] != '#')
        end++;
    if (memchr(s + i, '@', end - i))
        return "user name or password in the URL";
    size_t host = i, host_end;
    if (i < end && s[i] == '[') { /* IPv6 literal */
        const char *close = memchr(s + i, ']', end - i);
        if (!close)
            return "bad host (unclosed '[')";
        host_end = (size_t)(close - s) + 1;
        for (size_t k = i + 1; k + 1 < host_end; k++)
            if (!((s[k] >= '0' && s[k] <= '9') || (s[k] >= 'a' && s[k] <= 'f') ||
                  (s[k] >= 'A' && s[k] <= 'F') || s[k] == ':' || s[k] == '.'))
                return "bad host (IPv6 literal)";
        if (host_end - host < 3)
            return "no host (expected http://host/...)";
    } else {
        host_end = i;
        while (host_end < end && s[host_end] != ':') {
            if ((unsigned char)s[host_end] < 0x80 && !host_char(s[host_end]))
                return "character not allowed in the host";
            host_end++;
        }
        if (host_end == host)
            return "no host (expected http://host/...)";
    }
    if (host_end < end) { /* ":port", digits only; empty allowed (RFC 3986 3.2.3) */
        if (s[host_end] != ':')
            return "bad host";
        size_t digits = end - host_end - 1;
        unsigned long port = 0;
        for (size_t k = host_end + 1; k < end; k++) {
            if (s[k] < '0' || s[k] > '9' || digits > 5)
                return "bad port";
            port = port * 10 + (unsigned long)(s[k] - '0');
        }
        if (port > 65535)
            return "bad port";
    }
    memcpy(out, s, n);
    for (size_t k = 0; k < sl; k++)
        out[k] = lower(out[k]);
    for (size_t k = host; k < host_end; k++)
        out[k] = lower(out[k]);
    pt->host = host, pt->host_len = host_end - host;
    pt->path = end;
    size_t pe = end;
    while (pe < n && s[pe] != '?' && s[pe] != '#')
        pe++;
    pt->path_len = pe - end;
    return NULL;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The title of a link without one: the last non-empty path segment,
 * percent-decoded and cleaned, else the host. Returns the length in out. */
static size_t title_from_url(const char *url, const url_parts *pt, char *out)
{
    const char *p = url + pt->path;
    size_t n = pt->path_len;
    while (n && p[n - 1] == '/')
        n--;
    size_t start = n;
    while (start && p[start - 1] != '/')
        start--;
    char dec[ET__CATALOG_MAX_URL];
    size_t d = 0;
    for (size_t i = start; i < n; i++) {
        int hi, lo;
        if (p[i] == '%' && i + 2 < n && (hi = hexval(p[i + 1])) >= 0 && (lo = hexval(p[i + 2])) >= 0) {
            dec[d++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            dec[d++] = p[i];
        }
    }
    size_t len = clean_text(dec, d, out);
    if (len == 0)
        len = clean_text(url + pt->host, pt->host_len, out);
    return len;
}

static uint64_t fnv1a64(const char *s, size_t n)
{
    uint64_t h = FNV64_OFFSET;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= FNV64_PRIME;
    }
    return h;
}

void et__catalog_link_id(const char *url, size_t len, char id[19])
{
    snprintf(id, 19, "u-%016llx", (unsigned long long)fnv1a64(url, len));
}

/* ---- entries ---- */

/* An entry as read from the file, before its checks; pointers into the
 * file or a scratch buffer, not NUL-terminated. */
typedef struct raw_entry {
    size_t line;
    const char *url, *title, *artist, *mood;
    size_t url_len, title_len, artist_len, mood_len;
    size_t mood_line; /* M3U: where the mood was set (0: on the entry) */
} raw_entry;

/* The index of an earlier entry with this hash, or (size_t)-1 after adding
 * it to the table as entry `index`. */
static size_t seen_before(parser *p, uint64_t h, size_t index)
{
    if (2 * (p->c->n_entries + 1) > p->seen_cap) {
        size_t cap = p->seen_cap ? 2 * p->seen_cap : 1024;
        struct seen *t = calloc(cap, sizeof *t);
        if (!t) {
            p->nomem = true;
            return (size_t)-1;
        }
        for (size_t i = 0; i < p->seen_cap; i++) {
            if (!p->seen[i].index)
                continue;
            size_t j = p->seen[i].hash & (cap - 1);
            while (t[j].index)
                j = (j + 1) & (cap - 1);
            t[j] = p->seen[i];
        }
        free(p->seen);
        p->seen = t;
        p->seen_cap = cap;
    }
    size_t j = h & (p->seen_cap - 1);
    for (; p->seen[j].index; j = (j + 1) & (p->seen_cap - 1))
        if (p->seen[j].hash == h)
            return p->seen[j].index - 1;
    p->seen[j].hash = h;
    p->seen[j].index = index + 1;
    return (size_t)-1;
}

/* Checks an entry and appends it, or reports why not. */
static void add_entry(parser *p, const raw_entry *r)
{
    char sn[SNIPPET + 4];
    const char *url = r->url;
    size_t url_len = r->url_len;
    trim(&url, &url_len);
    if (url_len == 0) {
        issue(p, r->line, "no URL");
        return;
    }
    char norm[ET__CATALOG_MAX_URL];
    url_parts pt;
    const char *why = check_url(url, url_len, norm, &pt);
    if (why) {
        issue(p, r->line, "%s: %s", why, snippet(sn, url, url_len));
        return;
    }
    const et_mood_named *m = p->forced;
    const char *word = p->forced_word;
    if (!m) {
        const char *label = r->mood;
        size_t label_len = r->mood_len;
        trim(&label, &label_len);
        if (label_len == 0) {
            issue(p, r->line, "no mood (give one in the file or as an argument)");
            return;
        }
        m = et_mood_named_find(label, label_len, &word);
        if (!m) {
            if (r->mood_line)
                issue(p, r->line, "unknown mood '%s' (set on line %zu)",
                      snippet(sn, label, label_len), r->mood_line);
            else
                issue(p, r->line, "unknown mood '%s'", snippet(sn, label, label_len));
            return;
        }
    }
    uint64_t hash = fnv1a64(norm, url_len);
    char id[19];
    snprintf(id, sizeof id, "u-%016llx", (unsigned long long)hash);
    et__catalog *c = p->c;
    size_t prev = seen_before(p, hash, c->n_entries);
    if (p->nomem)
        return;
    if (prev != (size_t)-1) {
        if (strlen(c->entries[prev].url) == url_len &&
            memcmp(c->entries[prev].url, norm, url_len) == 0)
            issue(p, r->line, "same link as line %zu", c->entries[prev].line);
        else
            issue(p, r->line, "link id %s already taken by line %zu", id, c->entries[prev].line);
        return;
    }
    et__catalog_entry *grown = grow(p, c->entries, &p->entries_cap, c->n_entries + 1,
                                    sizeof *grown);
    if (!grown)
        return;
    c->entries = grown;
    char text[ET__CATALOG_MAX_TEXT + 1];
    et__catalog_entry e = {.line = r->line, .mood = word, .valence = m->valence,
                           .arousal = m->arousal};
    memcpy(e.id, id, sizeof id);
    e.url = arena_copy(p, norm, url_len);
    size_t n = clean_text(r->title, r->title_len, text);
    if (n == 0)
        n = title_from_url(norm, &pt, text);
    e.title = arena_copy(p, text, n);
    n = clean_text(r->artist, r->artist_len, text);
    e.artist = arena_copy(p, text, n);
    if (p->nomem)
        return;
    c->entries[c->n_entries++] = e;
}

/* ---- lines ---- */

/* The line at *pos (without its LF, CRLF or CR); advances *pos past it. */
static bool next_line(const char *d, size_t len, size_t *pos, const char **line, size_t *n)
{
    if (*pos >= len)
        return false;
    size_t i = *pos;
    while (i < len && d[i] != '\n' && d[i] != '\r')
        i++;
    *line = d + *pos;
    *n = i - *pos;
    if (i < len && d[i] == '\r' && i + 1 < len && d[i + 1] == '\n')
        i++;
    *pos = i < len ? i + 1 : i;
    return true;
}

/* ---- M3U ---- */

static void parse_extinf(const char *s, size_t n, raw_entry *r)
{
    bool quoted = false;
    size_t i = 0;
    for (; i < n; i++) {
        if (s[i] == '"')
            quoted = !quoted;
        else if (s[i] == ',' && !quoted)
            break;
    }
    const char *disp = i < n ? s + i + 1 : s + n;
    size_t dn = i < n ? n - i - 1 : 0;
    r->artist = disp, r->artist_len = 0;
    r->title = disp, r->title_len = dn;
    for (size_t k = 0; k + 3 <= dn; k++)
        if (memcmp(disp + k, " - ", 3) == 0) {
            r->artist_len = k;
            r->title = disp + k + 3;
            r->title_len = dn - k - 3;
            break;
        }
}

static void parse_m3u(parser *p, const char *d, size_t len)
{
    raw_entry pending = {0};
    const char *mood = NULL;
    size_t mood_len = 0, mood_line = 0, lineno = 0, pos = 0;
    const char *s;
    size_t n;
    while (!p->nomem && next_line(d, len, &pos, &s, &n)) {
        lineno++;
        if (n > ET__CATALOG_MAX_LINE) {
            issue(p, lineno, "line longer than %zu bytes", ET__CATALOG_MAX_LINE);
            if (s[0] != '#')
                memset(&pending, 0, sizeof pending);
            continue;
        }
        trim(&s, &n);
        if (n == 0)
            continue;
        if (s[0] == '#') {
            if (starts_with_ci(s, n, "#EXTINF:"))
                parse_extinf(s + 8, n - 8, &pending);
            else if (starts_with_ci(s, n, "#EXTMOOD:"))
                mood = s + 9, mood_len = n - 9, mood_line = lineno;
            else if (starts_with_ci(s, n, "#MOOD:"))
                mood = s + 6, mood_len = n - 6, mood_line = lineno;
            continue;
        }
        raw_entry r = pending;
        r.line = lineno;
        r.url = s, r.url_len = n;
        r.mood = mood, r.mood_len = mood_len, r.mood_line = mood_line;
        add_entry(p, &r);
        memset(&pending, 0, sizeof pending);
    }
}

/* ---- CSV ---- */

enum { COL_URL, COL_TITLE, COL_ARTIST, COL_MOOD, N_COLS };
static const char *const col_names[N_COLS] = {"url", "title", "artist", "mood"};

typedef struct csv {
    char *buf; /* field values, unescaped, one after another */
    size_t len, cap;
    size_t off[MAX_FIELDS], flen[MAX_FIELDS];
    size_t nfields;
    int col[N_COLS]; /* field index of each column, -1: none */
    bool header_done;
    bool one_line_quotes; /* after a quote never closed */
} csv;

typedef enum { REC_OK, REC_BLANK, REC_AFTER_QUOTE, REC_UNCLOSED, REC_TOO_LONG } rec_status;

static bool csv_put(parser *p, csv *v, char ch)
{
    if (v->len < ET__CATALOG_MAX_LINE + 1) {
        char *grown = grow(p, v->buf, &v->cap, v->len + 1, 1);
        if (!grown)
            return false;
        v->buf = grown;
    }
    if (v->len < v->cap)
        v->buf[v->len] = ch;
    v->len++; /* past the limit only counted: the record is refused */
    return true;
}

static void csv_end_field(csv *v, size_t start)
{
    if (v->nfields < MAX_FIELDS) {
        v->off[v->nfields] = start;
        v->flen[v->nfields] = v->len - start;
    }
    v->nfields++;
}

static bool is_eol(char c) { return c == '\n' || c == '\r'; }

/* Skips one line break at *i, counting it. */
static void skip_eol(const char *d, size_t len, size_t *i, size_t *lineno)
{
    if (*i < len && d[*i] == '\r' && *i + 1 < len && d[*i + 1] == '\n')
        (*i)++;
    if (*i < len)
        (*i)++;
    (*lineno)++;
}

/*
 * Reads one record from *pos into v; on return *pos is past the record's
 * line break and *lineno counts the lines consumed. On REC_UNCLOSED they
 * are past the record's first line: the caller reads on from there.
 */
static rec_status csv_record(parser *p, csv *v, const char *d, size_t len, size_t *pos,
                             size_t *lineno)
{
    size_t i = *pos, start = *pos, first_line = *lineno;
    v->len = 0, v->nfields = 0;
    size_t j = i;
    while (j < len && is_blank(d[j]))
        j++;
    if (j >= len || is_eol(d[j])) {
        *pos = j;
        skip_eol(d, len, pos, lineno);
        return REC_BLANK;
    }
    for (;;) {
        size_t fstart = v->len;
        while (i < len && is_blank(d[i]))
            i++;
        if (i < len && d[i] == '"') {
            i++;
            for (;;) {
                if (i >= len || (v->one_line_quotes && is_eol(d[i]))) {
                    *lineno = first_line;
                    *pos = start;
                    while (*pos < len && !is_eol(d[*pos]))
                        (*pos)++;
                    skip_eol(d, len, pos, lineno);
                    return REC_UNCLOSED;
                }
                if (d[i] == '"') {
                    if (i + 1 < len && d[i + 1] == '"') {
                        if (!csv_put(p, v, '"'))
                            return REC_OK;
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                if (is_eol(d[i])) { /* a line break inside quotes: one LF, lines counted */
                    skip_eol(d, len, &i, lineno);
                    if (!csv_put(p, v, '\n'))
                        return REC_OK;
                    continue;
                }
                if (!csv_put(p, v, d[i++]))
                    return REC_OK;
            }
            while (i < len && is_blank(d[i]))
                i++;
            if (i < len && d[i] != ',' && !is_eol(d[i])) {
                while (i < len && !is_eol(d[i]))
                    i++;
                *pos = i;
                skip_eol(d, len, pos, lineno);
                return REC_AFTER_QUOTE;
            }
        } else {
            while (i < len && d[i] != ',' && !is_eol(d[i]))
                if (!csv_put(p, v, d[i++]))
                    return REC_OK;
        }
        csv_end_field(v, fstart);
        if (i < len && d[i] == ',') {
            i++;
            continue;
        }
        break;
    }
    bool too_long = i - start > ET__CATALOG_MAX_LINE;
    *pos = i;
    skip_eol(d, len, pos, lineno);
    return too_long ? REC_TOO_LONG : REC_OK;
}

static bool field_is(const csv *v, size_t f, const char *name)
{
    const char *s = v->buf + v->off[f];
    size_t n = v->flen[f];
    trim(&s, &n);
    return n == strlen(name) && starts_with_ci(s, n, name);
}

/* The first record, when one of its fields is "url", names the columns. */
static bool csv_header(csv *v)
{
    size_t nf = v->nfields < MAX_FIELDS ? v->nfields : MAX_FIELDS;
    bool has_url = false;
    for (size_t f = 0; f < nf; f++)
        has_url |= field_is(v, f, "url");
    if (!has_url)
        return false;
    for (int c = 0; c < N_COLS; c++) {
        v->col[c] = -1;
        for (size_t f = 0; f < nf && v->col[c] < 0; f++)
            if (field_is(v, f, col_names[c]))
                v->col[c] = (int)f;
    }
    return true;
}

static void csv_field(const csv *v, int col, const char **s, size_t *n)
{
    int f = v->col[col];
    if (f < 0 || (size_t)f >= v->nfields) {
        *s = "", *n = 0;
        return;
    }
    *s = v->buf + v->off[f];
    *n = v->flen[f];
}

static void parse_csv(parser *p, const char *d, size_t len)
{
    csv v = {.col = {COL_URL, COL_TITLE, COL_ARTIST, COL_MOOD}};
    v.buf = grow(p, NULL, &v.cap, 1, 1); /* never NULL below: fields point into it */
    size_t pos = 0, lineno = 1;
    while (!p->nomem && pos < len) {
        size_t line = lineno;
        rec_status st = csv_record(p, &v, d, len, &pos, &lineno);
        if (p->nomem)
            break;
        switch (st) {
        case REC_BLANK:
            continue;
        case REC_AFTER_QUOTE:
            issue(p, line, "broken quoting: text after a closing quote");
            continue;
        case REC_TOO_LONG:
            issue(p, line, "record longer than %zu bytes", ET__CATALOG_MAX_LINE);
            continue;
        case REC_UNCLOSED:
            issue(p, line, "broken quoting: a quote is never closed");
            v.one_line_quotes = true; /* from now on: linear, one stray quote costs one line */
            continue;
        case REC_OK:
            break;
        }
        if (!v.header_done) {
            v.header_done = true;
            if (csv_header(&v))
                continue;
        }
        raw_entry r = {.line = line};
        csv_field(&v, COL_URL, &r.url, &r.url_len);
        csv_field(&v, COL_TITLE, &r.title, &r.title_len);
        csv_field(&v, COL_ARTIST, &r.artist, &r.artist_len);
        csv_field(&v, COL_MOOD, &r.mood, &r.mood_len);
        add_entry(p, &r);
    }
    free(v.buf);
}

/* ---- JSON ---- */

static size_t json_ws(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* A string member of an element: *s NULL when absent or null; false when
 * of another type (reported). */
static bool json_text(parser *p, const json_t *el, const char *key, size_t line, const char **s,
                      size_t *n)
{
    json_t *v = json_object_get(el, key);
    *s = NULL, *n = 0;
    if (!v || json_is_null(v))
        return true;
    if (!json_is_string(v)) {
        issue(p, line, "\"%s\" is not a string", key);
        return false;
    }
    *s = json_string_value(v);
    *n = json_string_length(v);
    return true;
}

/* Line of byte `at`, counting on from an earlier (line, *counted) pair. */
static size_t line_at(const char *d, size_t at, size_t *counted, size_t line)
{
    for (; *counted < at; (*counted)++)
        line += d[*counted] == '\n';
    return line;
}

/*
 * The array is walked here and each element parsed alone by jansson
 * (JSON_DISABLE_EOF_CHECK tells how many bytes it used), so that memory
 * holds one element at a time, not the tree of a 64 MB file, and each
 * element's line is known exactly.
 */
static et_status parse_json(parser *p, const char *d, size_t len, char *err)
{
    size_t at = json_ws(d, len, 0), counted = 0, line = 1;
    if (at >= len || d[at] != '[')
        return et_fail(err, ET_E_INVALID, "a JSON catalogue is an array of objects");
    at = json_ws(d, len, at + 1);
    bool closed = at < len && d[at] == ']';
    const char *bad = NULL;
    json_error_t je = {0};
    for (size_t i = 0; !closed && !p->nomem; i++) {
        line = line_at(d, at, &counted, line);
        json_t *el = json_loadb(d + at, len - at,
                                JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK | JSON_ALLOW_NUL, &je);
        if (!el) {
            at += (size_t)je.position < len - at ? (size_t)je.position : len - at;
            bad = je.text;
            break;
        }
        at = json_ws(d, len, at + (size_t)je.position);
        if (at < len && d[at] == ',')
            at = json_ws(d, len, at + 1);
        else if (at < len && d[at] == ']')
            closed = true;
        else
            bad = at < len ? "',' or ']' expected after an element" : "the array is never closed";
        snprintf(p->where_buf, sizeof p->where_buf, "element [%zu]: ", i);
        p->where = p->where_buf;
        raw_entry r = {.line = line};
        if (!json_is_object(el))
            issue(p, line, "not an object");
        else if (json_text(p, el, "url", line, &r.url, &r.url_len) &&
                 json_text(p, el, "title", line, &r.title, &r.title_len) &&
                 json_text(p, el, "artist", line, &r.artist, &r.artist_len) &&
                 json_text(p, el, "mood", line, &r.mood, &r.mood_len))
            add_entry(p, &r);
        p->where = NULL;
        json_decref(el);
        if (bad)
            break;
    }
    if (!bad && closed && (at = json_ws(d, len, at + 1)) < len)
        bad = "text after the array";
    else if (!bad && !closed && !p->nomem)
        bad = "the array is never closed";
    if (bad)
        return et_fail(err, ET_E_INVALID, "not valid JSON: line %zu: %s",
                       line_at(d, at < len ? at : len, &counted, line), bad);
    return ET_OK;
}

/* ---- format ---- */

static et__catalog_format detect(const char *d, size_t len)
{
    size_t i = json_ws(d, len, 0);
    if (i < len && (d[i] == '[' || d[i] == '{'))
        return ET__CATALOG_JSON;
    size_t pos = 0;
    const char *s;
    size_t n;
    bool first = true;
    while (next_line(d, len, &pos, &s, &n)) {
        trim(&s, &n);
        if (n == 0)
            continue;
        if (first) {
            size_t sl = scheme_len(s, n);
            if (s[0] == '#' || (sl && !memchr(s, ',', n) && !memchr(s, '"', n)))
                return ET__CATALOG_M3U;
            first = false;
        }
        if (starts_with_ci(s, n, "#EXTINF"))
            return ET__CATALOG_M3U;
    }
    return ET__CATALOG_CSV;
}

et_status et__catalog_parse(const char *data, size_t len, const char *mood, et__catalog *out,
                            char *err)
{
    return et__catalog_parse_as(data, len, ET_CATALOG_AUTO, mood, out, err);
}

et_status et_catalog_format_parse(const char *name, et_catalog_format *out, char *err)
{
    static const struct { const char *name; et_catalog_format format; } names[] = {
        {"csv", ET_CATALOG_CSV}, {"json", ET_CATALOG_JSON}, {"m3u", ET_CATALOG_M3U},
        {"m3u8", ET_CATALOG_M3U},
    };
    for (size_t i = 0; name && i < sizeof names / sizeof *names; i++)
        if (!strcmp(name, names[i].name)) {
            *out = names[i].format;
            return ET_OK;
        }
    char sn[SNIPPET + 4];
    return et_fail(err, ET_E_INVALID, "unknown catalogue format '%s': csv, json, m3u or m3u8",
                   name ? snippet(sn, name, strlen(name)) : "");
}

et_status et__catalog_parse_as(const char *data, size_t len, et_catalog_format format,
                               const char *mood, et__catalog *out, char *err)
{
    memset(out, 0, sizeof *out);
    parser p = {.c = out};
    if (mood && !(p.forced = et_mood_named_find(mood, strlen(mood), &p.forced_word))) {
        char sn[SNIPPET + 4];
        return et_fail(err, ET_E_INVALID, "unknown mood '%s'", snippet(sn, mood, strlen(mood)));
    }
    if (len > ET__CATALOG_MAX_BYTES)
        return et_fail(err, ET_E_TOO_LARGE, "%zu bytes is over the limit of %zu", len,
                       ET__CATALOG_MAX_BYTES);
    if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0) /* UTF-8 byte order mark */
        data += 3, len -= 3;
    out->format = format == ET_CATALOG_CSV    ? ET__CATALOG_CSV
                  : format == ET_CATALOG_JSON ? ET__CATALOG_JSON
                  : format == ET_CATALOG_M3U  ? ET__CATALOG_M3U
                                              : detect(data, len);
    et_status st = ET_OK;
    if (out->format == ET__CATALOG_JSON) {
        st = parse_json(&p, data, len, err);
    } else {
        const char *nul = memchr(data, '\0', len);
        if (nul)
            st = et_fail(err, ET_E_INVALID, "byte %zu is NUL: a binary file, not a catalogue",
                         (size_t)(nul - data));
        else if (out->format == ET__CATALOG_M3U)
            parse_m3u(&p, data, len);
        else
            parse_csv(&p, data, len);
    }
    free(p.seen);
    if (st == ET_OK && p.nomem)
        st = et_fail(err, ET_E_NOMEM, "out of memory");
    if (st != ET_OK)
        et__catalog_free(out);
    return st;
}

void et__catalog_free(et__catalog *c)
{
    if (!c)
        return;
    free(c->entries);
    free(c->issues);
    for (struct et__arena *a = c->arena, *next; a; a = next) {
        next = a->next;
        free(a);
    }
    memset(c, 0, sizeof *c);
}

/* ---- import into the store ---- */

/* The document for an entry: the stored one (when it is an object) with the
 * link's fields set, so that the listener's "mood" and any other field
 * survive; valence and arousal follow the listener's mood when set. */
static json_t *link_doc(const et__catalog_entry *e, const json_t *old, const char *source)
{
    json_t *doc = json_is_object(old) ? json_deep_copy(old) : json_object();
    if (!doc)
        return NULL;
    json_t *mine = json_object_get(doc, "mood");
    double v = e->valence, a = e->arousal;
    if (json_is_string(mine))
        et_mood_named_point(json_string_value(mine), &v, &a);
    int bad = 0;
    bad |= json_object_set_new(doc, "kind", json_string("link"));
    bad |= json_object_set_new(doc, "url", json_string(e->url));
    bad |= json_object_set_new(doc, "title", json_string(e->title));
    bad |= json_object_set_new(doc, "artist", json_string(e->artist));
    if (!mine)
        bad |= json_object_set_new(doc, "mood", json_null());
    bad |= json_object_set_new(doc, "catalog_mood", json_string(e->mood));
    bad |= json_object_set_new(doc, "valence", json_real(v));
    bad |= json_object_set_new(doc, "arousal", json_real(a));
    bad |= json_object_set_new(doc, "source", json_string(source));
    bad |= json_object_set_new(doc, "missing", json_false());
    if (bad) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

typedef struct writer {
    et_store *s;
    et_store_op ops[STORE_BATCH];
    size_t n;
} writer;

static et_status flush(writer *w, char *err)
{
    et_status st = w->n ? et_store_batch(w->s, w->ops, w->n, err) : ET_OK;
    for (size_t i = 0; i < w->n; i++)
        free((char *)w->ops[i].json);
    w->n = 0;
    return st;
}

/* The document of an entry over the stored one (NULL: none), as text
 * (caller frees); NULL when it is the same as old (*same) or out of
 * memory. */
static char *link_text(const et__catalog_entry *e, const char *old, size_t old_len,
                       const char *source, bool *same)
{
    json_t *prev = old ? json_loadb(old, old_len, 0, NULL) : NULL;
    json_t *doc = link_doc(e, prev, source);
    *same = doc && prev && json_equal(prev, doc);
    char *text = doc && !*same ? json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(prev);
    json_decref(doc);
    return text;
}

typedef struct link_change {
    const et__catalog_entry *e;
    const char *source;
} link_change;

/* The et_store_update_fn of a stored link that changed: the link's fields
 * set over the document as it is now, the others (a tag) kept. */
static et_status apply_link(void *user, const char *old, size_t old_len, char **out,
                            size_t *out_len, char *err)
{
    const link_change *c = user;
    bool same;
    *out = link_text(c->e, old, old_len, c->source, &same);
    if (same) { /* made so meanwhile: written again as it is */
        *out = malloc(old_len + 1);
        if (*out)
            memcpy(*out, old, old_len), (*out)[old_len] = '\0';
    }
    *out_len = *out ? strlen(*out) : 0;
    return *out ? ET_OK : et_fail(err, ET_E_NOMEM, "out of memory");
}

/* Rewrites a stored link that changed, after the test hook of library.h. */
static et_status update_link(et_store *s, const et__catalog_entry *e, const char *source,
                             char *err)
{
    et_status st = et__test_hook("EMOTUNE_TEST_IMPORT_WRITE_FIFO", err);
    if (st != ET_OK)
        return st;
    link_change c = {e, source};
    char why[ET_ERR_MAX];
    st = et_store_update(s, ET_LIBRARY_TRACKS, e->id, apply_link, &c, why);
    return st == ET_OK ? ET_OK : et_fail(err, st, "writing track %s: %s", e->id, why);
}

/* Writes one entry: a new link into the batch, a changed one at once;
 * counts it. */
static et_status store_entry(writer *w, const et__catalog_entry *e, const char *source,
                             et_import_report *rep, char *err)
{
    char *old = NULL, why[ET_ERR_MAX];
    size_t old_len = 0;
    et_status st = et_store_get(w->s, ET_LIBRARY_TRACKS, e->id, &old, &old_len, why);
    if (st != ET_OK && st != ET_E_NOT_FOUND)
        return et_fail(err, st, "reading track %s: %s", e->id, why);
    bool same;
    char *text = link_text(e, old, old_len, source, &same);
    free(old);
    if (same) {
        rep->unchanged++;
        return ET_OK;
    }
    if (!text)
        return et_fail(err, ET_E_NOMEM, "out of memory");
    rep->added++;
    if (st == ET_OK) { /* stored before: its fields changed */
        free(text);
        rep->updated++;
        return update_link(w->s, e, source, err);
    }
    w->ops[w->n++] = (et_store_op){ET_STORE_OP_PUT, ET_LIBRARY_TRACKS, e->id, text,
                                   strlen(text)};
    return w->n == STORE_BATCH ? flush(w, err) : ET_OK;
}

/* Writes what changed, counts what did not, then bumps the library's
 * stamp when anything was written (even before an error). */
static et_status store_entries(et_store *s, const et__catalog *c, const char *source,
                               et_import_report *rep, char *err)
{
    writer *w = calloc(1, sizeof *w);
    if (!w)
        return et_fail(err, ET_E_NOMEM, "out of memory");
    w->s = s;
    et_status st = ET_OK;
    for (size_t i = 0; i < c->n_entries && st == ET_OK; i++)
        st = store_entry(w, &c->entries[i], source, rep, err);
    if (st == ET_OK)
        st = flush(w, err);
    for (size_t i = 0; i < w->n; i++) /* left after an error */
        free((char *)w->ops[i].json);
    free(w);
    char why[ET_ERR_MAX];
    et_status stamped = rep->added ? et_library_stamp_bump(s, NULL, why) : ET_OK;
    if (st == ET_OK && stamped != ET_OK)
        st = et_fail(err, stamped, "bumping the library's stamp: %s", why);
    return st;
}

/* ET_E_INVALID for a mood that is not a named one (the known ones listed). */
static et_status check_mood(const char *mood, char *err)
{
    if (!mood || et_mood_named_find(mood, strlen(mood), NULL))
        return ET_OK;
    char sn[SNIPPET + 4];
    return et_fail(err, ET_E_INVALID,
                   "unknown mood '%s' (known: happy, calm, sad, angry, tense, disgusted, "
                   "surprised, energetic, excited, neutral, relaxed, fearful)",
                   snippet(sn, mood, strlen(mood)));
}

/* Parses and stores; an error of the parse starts with `what` when it is
 * not NULL (the file's path). */
static et_status import_data(et_store *s, const char *data, size_t len,
                             et_catalog_format format, const char *what, const char *source,
                             const char *mood, et_import_report *report, char *err)
{
    et_import_report rep = {0};
    et__catalog cat;
    char why[ET_ERR_MAX];
    et_status st = et__catalog_parse_as(data, len, format, mood, &cat, why);
    if (st != ET_OK)
        return what ? et_fail(err, st, "%s: %s", what, why) : et_fail(err, st, "%s", why);
    char src[ET__CATALOG_MAX_TEXT + 1];
    clean_text(source, strlen(source), src);
    st = store_entries(s, &cat, src, &rep, err);
    rep.format = cat.format == ET__CATALOG_CSV    ? ET_CATALOG_CSV
                 : cat.format == ET__CATALOG_JSON ? ET_CATALOG_JSON
                                                  : ET_CATALOG_M3U;
    if (st == ET_OK) {
        rep.skipped = cat.skipped;
        rep.issues = cat.issues, rep.n_issues = cat.n_issues;
        cat.issues = NULL, cat.n_issues = 0;
        if (report)
            *report = rep;
        else
            et_import_report_free(&rep);
    }
    et__catalog_free(&cat);
    return st;
}

/* What both imports do first: an empty report, the mood checked. */
static et_status import_begin(const char *mood, et_import_report *report, char *err)
{
    if (report)
        memset(report, 0, sizeof *report);
    return check_mood(mood, err);
}

et_status et_library_import_data(et_store *s, const char *data, size_t len,
                                 et_catalog_format format, const char *source, const char *mood,
                                 et_import_report *report, char *err)
{
    et_status st = import_begin(mood, report, err);
    if (st != ET_OK)
        return st;
    return import_data(s, data, len, format, NULL, source ? source : "import", mood, report,
                       err);
}

et_status et_library_import(et_store *s, const char *path, const char *mood,
                            et_import_report *report, char *err)
{
    et_status st = import_begin(mood, report, err);
    if (st != ET_OK)
        return st;
    uint8_t *data;
    size_t len;
    st = et_read_file(path, ET__CATALOG_MAX_BYTES, &data, &len, err);
    if (st != ET_OK)
        return st;
    const char *base = strrchr(path, '/');
    st = import_data(s, (const char *)data, len, ET_CATALOG_AUTO, path, base ? base + 1 : path,
                     mood, report, err);
    free(data);
    return st;
}

void et_import_report_free(et_import_report *r)
{
    if (!r)
        return;
    free(r->issues);
    memset(r, 0, sizeof *r);
}
