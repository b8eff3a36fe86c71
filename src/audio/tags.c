/*
 * Tags: the keys each container uses for the same fact, UTF-8 repair, and the
 * numbers inside date and track tags.
 *
 * libavformat maps most container-specific keys to its generic names (ID3v2
 * TPE2 and MP4 aART become "album_artist", Vorbis TRACKNUMBER becomes
 * "track"), but not all demuxers convert every key, so the common raw
 * spellings are tried as well. av_dict_get matches keys case-insensitively.
 */
#include "audio/audio_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const char *const title_keys[] = {"title", "tit2", NULL};
static const char *const artist_keys[] = {"artist", "tpe1", "author", NULL};
static const char *const album_keys[] = {"album", "talb", NULL};
static const char *const album_artist_keys[] = {"album_artist", "albumartist", "album artist",
                                                "tpe2", NULL};
static const char *const genre_keys[] = {"genre", "tcon", NULL};
static const char *const date_keys[] = {"date", "year", "tdrc", "tyer", "originaldate", NULL};
static const char *const track_keys[] = {"track", "tracknumber", "trck", NULL};

/* Length of the UTF-8 sequence at s (at most `left` bytes), 0 when invalid:
 * no overlong forms, no surrogates, nothing above U+10FFFF (RFC 3629). */
static size_t utf8_seq(const unsigned char *s, size_t left)
{
    unsigned c = s[0];
    size_t n;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, min = 0x10000;
    else
        return 0;
    if (n > left)
        return 0;
    unsigned cp = c & (0x7F >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

bool et__audio_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq(p + i, len - i);
        if (!n)
            return false;
        i += n;
    }
    return true;
}

/* Valid UTF-8 copied up to max bytes, cut at a character boundary. */
static char *copy_utf8(const char *s, size_t len, size_t max)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t end = 0;
    while (end < len) {
        size_t n = utf8_seq(p + end, len - end);
        if (end + n > max)
            break;
        end += n;
    }
    char *out = malloc(end + 1);
    if (out) {
        memcpy(out, s, end);
        out[end] = '\0';
    }
    return out;
}

/* Bytes read as Latin-1 (ISO 8859-1: byte value = code point), up to max
 * bytes of UTF-8. */
static char *latin1_to_utf8(const char *s, size_t len, size_t max)
{
    char *out = malloc(max + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x80) {
            if (o + 1 > max)
                break;
            out[o++] = (char)c;
        } else {
            if (o + 2 > max)
                break;
            out[o++] = (char)(0xC0 | (c >> 6));
            out[o++] = (char)(0x80 | (c & 0x3F));
        }
    }
    out[o] = '\0';
    return out;
}

bool et__audio_tag_dup(const char *raw, char **out)
{
    *out = NULL;
    if (!raw)
        return true;
    while (*raw && isspace((unsigned char)*raw))
        raw++;
    size_t len = strlen(raw);
    while (len && isspace((unsigned char)raw[len - 1]))
        len--;
    if (!len)
        return true;
    *out = et__audio_utf8_valid(raw, len) ? copy_utf8(raw, len, ET__AUDIO_TAG_MAX)
                                          : latin1_to_utf8(raw, len, ET__AUDIO_TAG_MAX);
    return *out != NULL;
}

int et__audio_parse_year(const char *s)
{
    if (!s)
        return 0;
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p) || (p > s && isdigit((unsigned char)p[-1])))
            continue;
        size_t n = 0;
        while (isdigit((unsigned char)p[n]))
            n++;
        if (n == 4)
            return (p[0] - '0') * 1000 + (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0');
    }
    return 0;
}

int et__audio_parse_track(const char *s)
{
    if (!s)
        return 0;
    while (isspace((unsigned char)*s))
        s++;
    int v = 0;
    const char *p = s;
    for (; isdigit((unsigned char)*p); p++) {
        v = v * 10 + (*p - '0');
        if (v > 99999)
            return 0;
    }
    return p > s ? v : 0;
}

/* The first non-empty value among keys, in the container's metadata and
 * then the stream's (Ogg keeps Vorbis comments on the stream). */
static const char *lookup(const AVFormatContext *fmt, const AVStream *st,
                          const char *const *keys)
{
    const AVDictionary *dicts[2] = {fmt->metadata, st ? st->metadata : NULL};
    for (int d = 0; d < 2; d++)
        for (const char *const *k = keys; *k; k++) {
            const AVDictionaryEntry *e = av_dict_get(dicts[d], *k, NULL, 0);
            if (e && e->value && e->value[0])
                return e->value;
        }
    return NULL;
}

et_status et__audio_read_tags(const AVFormatContext *fmt, const AVStream *st,
                              et_audio_info *info, char *err)
{
    struct {
        const char *const *keys;
        char **out;
    } strings[] = {
        {title_keys, &info->title},   {artist_keys, &info->artist},
        {album_keys, &info->album},   {album_artist_keys, &info->album_artist},
        {genre_keys, &info->genre},
    };
    for (size_t i = 0; i < sizeof strings / sizeof *strings; i++)
        if (!et__audio_tag_dup(lookup(fmt, st, strings[i].keys), strings[i].out))
            return et_fail(err, ET_E_NOMEM, "out of memory reading tags");
    info->year = et__audio_parse_year(lookup(fmt, st, date_keys));
    info->track = et__audio_parse_track(lookup(fmt, st, track_keys));
    return ET_OK;
}
