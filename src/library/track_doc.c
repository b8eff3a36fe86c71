/* Track documents: paths that may not be UTF-8, the listener's mood override,
 * content hashes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "library/library.h"
#include "library/library_internal.h"
#include "library/scan_internal.h"
#include "mood/mood.h"

size_t et__utf8_seq(const unsigned char *s, size_t n)
{
    if (n == 0)
        return 0;
    if (s[0] < 0x80)
        return 1;
    size_t k = s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : s[0] >= 0xe0 && s[0] <= 0xef ? 3
             : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;
    if (k == 0 || k > n)
        return 0;
    for (size_t i = 1; i < k; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
        return 0;
    return k;
}

static bool is_utf8(const char *s)
{
    size_t left = strlen(s);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = et__utf8_seq(p, left);
        left -= n;
        if (!n)
            return false;
        p += n;
    }
    return true;
}

char *et__utf8_copy(const char *s)
{
    size_t len = strlen(s);
    char *out = malloc(2 * len + 1), *o = out;
    if (!out)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t n = et__utf8_seq(p, len - (size_t)(p - (const unsigned char *)s));
        if (n) {
            memcpy(o, p, n);
            o += n, p += n;
        } else { /* the byte as Latin-1: two bytes of UTF-8 */
            *o++ = (char)(0xc0 | (*p >> 6));
            *o++ = (char)(0x80 | (*p & 0x3f));
            p++;
        }
    }
    *o = '\0';
    return out;
}

void et__track_set_path(json_t *doc, const char *path)
{
    if (is_utf8(path)) {
        json_object_set_new(doc, "path", json_string(path));
        json_object_del(doc, "path_hex");
        return;
    }
    char *readable = et__utf8_copy(path);
    size_t len = strlen(path);
    char *hex = malloc(2 * len + 1);
    if (hex)
        for (size_t i = 0; i < len; i++)
            snprintf(hex + 2 * i, 3, "%02x", (unsigned char)path[i]);
    json_object_set_new(doc, "path", json_string(readable ? readable : ""));
    json_object_set_new(doc, "path_hex", hex ? json_string(hex) : json_null());
    free(readable);
    free(hex);
}

bool et__track_path(const json_t *doc, char *buf, size_t len)
{
    const char *hex = json_string_value(json_object_get(doc, "path_hex"));
    if (hex) {
        size_t n = strlen(hex) / 2;
        if (n + 1 > len)
            return false;
        for (size_t i = 0; i < n; i++) {
            unsigned v;
            if (sscanf(hex + 2 * i, "%2x", &v) != 1 || v == 0)
                return false;
            buf[i] = (char)v;
        }
        buf[n] = '\0';
        return true;
    }
    const char *p = json_string_value(json_object_get(doc, "path"));
    if (!p || strlen(p) + 1 > len)
        return false;
    memcpy(buf, p, strlen(p) + 1);
    return true;
}

void et__track_apply_mood(json_t *doc)
{
    double v, a;
    const char *mood = json_string_value(json_object_get(doc, "mood"));
    const char *label = json_string_value(json_object_get(doc, "catalog_mood"));
    json_t *est = json_object_get(doc, "estimate");
    if ((mood && et_mood_named_point(mood, &v, &a)) ||
        (!json_is_object(est) && label && et_mood_named_point(label, &v, &a))) {
        json_object_set_new(doc, "valence", json_real(v));
        json_object_set_new(doc, "arousal", json_real(a));
    } else if (json_is_object(est)) {
        json_object_set(doc, "valence", json_object_get(est, "valence"));
        json_object_set(doc, "arousal", json_object_get(est, "arousal"));
    } else {
        json_object_set_new(doc, "valence", json_null());
        json_object_set_new(doc, "arousal", json_null());
    }
}

static uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

bool et__content_hash(const char *path, long long size, char out[17])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    enum { SPAN = 1 << 20 };
    unsigned char *buf = malloc(SPAN);
    uint64_t h = 14695981039346656037ULL;
    bool ok = buf != NULL;
    for (int part = 0; ok && part < 2; part++) {
        off_t at = part == 0 ? 0 : (size > SPAN ? size - SPAN : 0);
        if (part == 1 && size <= SPAN)
            break; /* the first megabyte was the whole file */
        ssize_t got = pread(fd, buf, SPAN, at);
        ok = got >= 0;
        if (ok)
            h = fnv1a(h, buf, (size_t)got);
    }
    h = fnv1a(h, (const unsigned char *)&size, sizeof size);
    free(buf);
    close(fd);
    if (ok)
        snprintf(out, 17, "%016llx", (unsigned long long)h);
    return ok;
}

/* The test hooks of library.h: with the environment variable `name` set,
 * opens the path it names for reading and reads it to its end. On a FIFO
 * the open waits for a writer and the reads for the writer to close it. */
et_status et__test_hook(const char *name, char *err)
{
    const char *path = getenv(name);
    if (!path || !*path)
        return ET_OK;
    int fd;
    while ((fd = open(path, O_RDONLY)) < 0 && errno == EINTR)
        ;
    if (fd < 0)
        return et_fail(err, ET_E_IO, "%s %s: %s", name, path, strerror(errno));
    char buf[256];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
        ;
    close(fd);
    return ET_OK;
}

bool et_library_track_file(const json_t *doc, char *buf, size_t len)
{
    return et__track_path(doc, buf, len);
}

/* The listener's mood, else a link's label as et__track_apply_mood takes
 * it (only when the sound gave no estimate), else the estimate. */
bool et_library_track_mood(const json_t *doc, et_library_mood *out)
{
    *out = (et_library_mood){0};
    const char *own = json_string_value(json_object_get(doc, "mood"));
    const char *label = json_string_value(json_object_get(doc, "catalog_mood"));
    json_t *v = json_object_get(doc, "valence"), *a = json_object_get(doc, "arousal");
    if (own && et_mood_named_point(own, &out->valence, &out->arousal)) {
        out->name = et_mood_named_canonical(own);
        out->source = "tag";
        out->tagged = true;
    } else if (label && !json_is_object(json_object_get(doc, "estimate")) &&
               et_mood_named_point(label, &out->valence, &out->arousal)) {
        out->name = et_mood_named_canonical(label);
        out->source = "catalogue";
    } else if (json_is_number(v) && json_is_number(a)) {
        out->valence = json_number_value(v);
        out->arousal = json_number_value(a);
        out->name = et_mood_nearest_named(out->valence, out->arousal);
        out->source = "estimate";
    } else {
        return false;
    }
    out->group = et_mood_nearest_named(out->valence, out->arousal);
    return true;
}
