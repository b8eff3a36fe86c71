/* server: a track's file over HTTP -- its audio (GET and HEAD, with Range
 * and conditional requests) and its embedded cover picture.
 *
 * Safety: a file is reached by its track's id only; no request names a
 * path, and no reply shows one. The stored path is resolved (realpath: every
 * symbolic link followed) and must lie under a folder the library scanned
 * (et_library_roots): a symbolic link in a music folder leading out of it,
 * or a file replaced by such a link after the scan, is refused. What was
 * checked is then opened beneath that folder's own descriptor, never by its
 * whole path: openat2 with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, or, where
 * the kernel lacks it (before Linux 5.6), one component at a time with
 * O_NOFOLLOW; so a folder on the way swapped for a symbolic link after the
 * check is refused, not followed (O_NOFOLLOW alone covers the last name
 * only). O_NONBLOCK keeps a FIFO put there from hanging the worker, and
 * fstat must show a regular file. A test hook, EMOTUNE_TEST_TRACK_OPEN_FIFO
 * (as the scan's, library.h), stops between the check and the open;
 * EMOTUNE_TEST_NO_OPENAT2 takes the fallback as if openat2 were missing.
 * A refused file answers 404 not_found, as a file that is gone does: for
 * the API neither is a file of the library, and the answer tells a client
 * nothing of what lies outside it (whether the link's target exists); the
 * message says which it was, for whoever runs the server.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "audio/audio.h"
#include "image/image.h"
#include "library/library.h"
#include "server/server_internal.h"

/* Media is revalidated (ETag) rather than never kept: with the API's
 * default no-store a browser would fetch the whole song at every play. */
#define MEDIA_CACHE "private, no-cache"

/* A track's file, opened and checked, and its validators. */
typedef struct track_file {
    int fd;
    struct stat st;
    char etag[80];     /* strong: inode, size and modification time (ns) */
    char modified[32]; /* Last-Modified */
} track_file;

static const char *header(const et__call *c, const char *name)
{
    return MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, name);
}

/* The 404 of a file that is not (or no longer) the library's; false. */
static bool refuse(const char *id, const char *why, et__reply *fail)
{
    *fail = et__error(404, ET_E_NOT_FOUND, "the file of track %s %s", id, why);
    return false;
}

/* The scanned folder real lies under (malloc'd), or NULL with the reply. */
static char *root_of(et_server *s, const char *id, const char *real, et__reply *fail)
{
    et_store *st = et__store(s, fail);
    if (!st)
        return NULL;
    char **roots, err[ET_ERR_MAX];
    size_t n;
    if (et_library_roots(st, &roots, &n, err) != ET_OK) {
        *fail = et__error(503, ET_E_UNAVAILABLE, "%s", err);
        return NULL;
    }
    char *root = NULL;
    for (size_t i = 0; i < n && !root; i++)
        if (et_library_path_under(real, &roots[i], 1) && !(root = strdup(roots[i]))) {
            et_store_free_names(roots, n);
            *fail = et__error(503, ET_E_NOMEM, "out of memory");
            return NULL;
        }
    et_store_free_names(roots, n);
    if (!root)
        refuse(id,
               n ? "lies outside the scanned folders (a symbolic link out of them?): "
                   "it is not served"
                 : "cannot be checked: no scan recorded its folders in this store "
                   "(scan them again)",
               fail);
    return root;
}

/* The test hook: with EMOTUNE_TEST_TRACK_OPEN_FIFO set, its file is read to
 * its end (a FIFO: until the test closes its side). */
static void test_hook(void)
{
    const char *fifo = getenv("EMOTUNE_TEST_TRACK_OPEN_FIFO");
    int fd = fifo ? open(fifo, O_RDONLY | O_CLOEXEC) : -1;
    char buf[64];
    while (fd >= 0 && read(fd, buf, sizeof buf) > 0) {
    }
    if (fd >= 0)
        close(fd);
}

#define FILE_FLAGS (O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)

/* rel (no "." or "..", no leading '/') opened beneath the folder dirfd one
 * name at a time, none of them followed when it is a symbolic link. */
static int open_walking(int dirfd, const char *rel)
{
    int at = dup(dirfd);
    while (at >= 0) {
        const char *slash = strchr(rel, '/');
        if (!slash) {
            int fd = openat(at, rel, FILE_FLAGS);
            int e = errno;
            close(at);
            errno = e;
            return fd;
        }
        char name[NAME_MAX + 1];
        size_t n = (size_t)(slash - rel);
        if (n == 0 || n > NAME_MAX) {
            close(at);
            errno = ENOENT;
            return -1;
        }
        memcpy(name, rel, n);
        name[n] = '\0';
        int next = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int e = errno;
        close(at);
        errno = e;
        at = next;
        rel = slash + 1;
    }
    return -1;
}

/* rel opened beneath the folder dirfd, as the top of this file says. */
static int open_beneath(int dirfd, const char *rel)
{
    struct open_how how = {.flags = FILE_FLAGS,
                           .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
                                      RESOLVE_NO_MAGICLINKS};
    if (getenv("EMOTUNE_TEST_NO_OPENAT2")) /* a test of the fallback */
        return open_walking(dirfd, rel);
    long fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof how);
    if (fd < 0 && (errno == ENOSYS || errno == E2BIG))
        return open_walking(dirfd, rel);
    return (int)fd;
}

/* Opens real, under root (both real paths, checked above), beneath root's
 * descriptor as the regular file found there now. */
static bool open_checked(const char *id, const char *root, const char *real, track_file *f,
                         et__reply *fail)
{
    size_t rl = strlen(root);
    while (rl > 0 && root[rl - 1] == '/')
        rl--;
    const char *rel = real + rl;
    while (*rel == '/')
        rel++;
    int dirfd = open(root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    f->fd = dirfd < 0 || !*rel ? -1 : open_beneath(dirfd, rel);
    int e = errno;
    if (dirfd >= 0)
        close(dirfd);
    if (f->fd < 0 && (e == EMFILE || e == ENFILE || e == ENOMEM)) {
        *fail = et__error(503, ET_E_UNAVAILABLE, "no file descriptor left: %s", strerror(e));
        return false;
    }
    if (f->fd < 0)
        return refuse(id,
                      e == ELOOP || e == EXDEV || e == ENOTDIR
                          ? "is reached through a symbolic link now (a folder swapped for "
                            "one?): it is not served"
                          : "cannot be opened",
                      fail);
    int flags;
    if (fstat(f->fd, &f->st) != 0 || !S_ISREG(f->st.st_mode)) {
        close(f->fd);
        return refuse(id, "is not a regular file", fail);
    }
    if ((flags = fcntl(f->fd, F_GETFL)) < 0 || fcntl(f->fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        close(f->fd);
        return refuse(id, "cannot be opened", fail);
    }
    uint64_t mtime_ns = (uint64_t)f->st.st_mtim.tv_sec * 1000000000u +
                        (uint64_t)f->st.st_mtim.tv_nsec;
    snprintf(f->etag, sizeof f->etag, "\"%" PRIx64 "-%" PRIx64 "-%" PRIx64 "\"",
             (uint64_t)f->st.st_ino, (uint64_t)f->st.st_size, mtime_ns);
    et__http_date_format((int64_t)f->st.st_mtim.tv_sec, f->modified, sizeof f->modified);
    return true;
}

/* The path's track and its file, opened as the top of this file says;
 * codec (32 bytes) gets the stored codec ("" when none). False with the
 * reply in *fail. */
static bool open_track_file(et_server *s, const et__call *c, track_file *f, char *codec,
                            et__reply *fail)
{
    json_t *doc = et__track_doc(s, c, fail);
    if (!doc)
        return false;
    char path[PATH_MAX], real[PATH_MAX];
    const char *stored_codec = json_string_value(json_object_get(doc, "codec"));
    snprintf(codec, 32, "%s", stored_codec ? stored_codec : "");
    bool ok = et_library_track_file(doc, path, sizeof path);
    if (!ok)
        *fail = json_object_get(doc, "url")
                    ? et__error(404, ET_E_NOT_FOUND,
                                "track %s is a link (its url): there is no audio of it here",
                                c->name)
                    : et__error(404, ET_E_NOT_FOUND, "track %s has no file", c->name);
    json_decref(doc);
    if (!ok)
        return false;
    if (!realpath(path, real))
        return refuse(c->name,
                      errno == ENOENT || errno == ENOTDIR ? "is gone (scan the library again)"
                                                          : "cannot be reached",
                      fail);
    char *root = root_of(s, c->name, real, fail);
    if (!root)
        return false;
    test_hook();
    bool opened = open_checked(c->name, root, real, f, fail);
    free(root);
    return opened;
}

/* Whether an If-None-Match list names our tag (the weak comparison of RFC
 * 9110 13.1.2: a W/ prefix does not matter) or is "*". */
static bool tag_listed(const char *list, const char *etag)
{
    size_t n = strlen(etag);
    for (const char *p = list; *(p += strspn(p, " \t,"));) {
        if (*p == '*')
            return true;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        const char *close = *p == '"' ? strchr(p + 1, '"') : NULL;
        if (!close)
            return false;
        if ((size_t)(close + 1 - p) == n && strncmp(p, etag, n) == 0)
            return true;
        p = close + 1;
    }
    return false;
}

/* RFC 9110 13.2.2: If-None-Match decides a 304 when given, else
 * If-Modified-Since (a date that does not parse is ignored). */
static bool not_modified(const et__call *c, const track_file *f)
{
    const char *tags = header(c, "If-None-Match"), *since = header(c, "If-Modified-Since");
    int64_t t;
    if (tags)
        return tag_listed(tags, f->etag);
    return since && et__http_date_parse(since, &t) && (int64_t)f->st.st_mtim.tv_sec <= t;
}

/* If-Range (RFC 9110 13.1.5): a Range holds only while the validator given
 * is the file's: its strong tag exactly, or its Last-Modified date. */
static bool range_holds(const et__call *c, const track_file *f)
{
    const char *v = header(c, "If-Range");
    int64_t t;
    if (!v)
        return true;
    if (v[0] == '"')
        return strcmp(v, f->etag) == 0;
    return et__http_date_parse(v, &t) && t == (int64_t)f->st.st_mtim.tv_sec;
}

/* rep with the file's validators and Cache-Control, and for the audio
 * (ranges) Accept-Ranges and content_range (NULL: none); on out of memory,
 * rep is dropped (its file closed) for a 503. */
static et__reply finish(et__reply rep, const track_file *f, bool ranges,
                        const char *content_range)
{
    if ((!content_range || et__reply_header(&rep, "Content-Range", "%s", content_range)) &&
        (!ranges || et__reply_header(&rep, "Accept-Ranges", "bytes")) &&
        et__reply_header(&rep, "ETag", "%s", f->etag) &&
        et__reply_header(&rep, "Last-Modified", "%s", f->modified) &&
        et__reply_header(&rep, "Cache-Control", MEDIA_CACHE))
        return rep;
    free(rep.headers);
    json_decref(rep.json);
    free(rep.raw);
    if (rep.file)
        close(rep.fd);
    return et__error(503, ET_E_NOMEM, "out of memory");
}

/* The media type of a codec, or fallback. */
static const char *codec_type(const char *codec, const char *fallback)
{
    static const char *const types[][2] = {
        {"mp3", "audio/mpeg"}, {"aac", "audio/aac"},  {"flac", "audio/flac"},
        {"vorbis", "audio/ogg"}, {"opus", "audio/ogg"}, {"alac", "audio/mp4"},
    };
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        if (strcmp(codec, types[i][0]) == 0)
            return types[i][1];
    return strncmp(codec, "pcm_", 4) == 0 ? "audio/wav" : fallback;
}

/* Whether h[at..] holds the len bytes of magic. */
static bool magic_at(const unsigned char *h, size_t n, size_t at, const char *magic, size_t len)
{
    return n >= at + len && memcmp(h + at, magic, len) == 0;
}
#define MAGIC(at, s) magic_at(h, n, (at), (s), sizeof(s) - 1)

/* The media type of an audio file from its container's first bytes (the
 * signatures of RFC 3003, RFC 5334, RFC 9639, ...), with the codec where
 * the container does not say (an ID3 tag comes before MP3, AAC or FLAC). */
static const char *audio_type(int fd, const char *codec)
{
    unsigned char h[64];
    ssize_t got = pread(fd, h, sizeof h, 0);
    size_t n = got > 0 ? (size_t)got : 0;
    if (MAGIC(0, "ID3"))
        return codec_type(codec, "audio/mpeg");
    if (MAGIC(0, "OggS"))
        return "audio/ogg";
    if (MAGIC(0, "fLaC"))
        return "audio/flac";
    if (MAGIC(0, "RIFF") && MAGIC(8, "WAVE"))
        return "audio/wav";
    if (MAGIC(0, "FORM") && (MAGIC(8, "AIFF") || MAGIC(8, "AIFC")))
        return "audio/aiff";
    if (MAGIC(4, "ftyp"))
        return "audio/mp4";
    if (MAGIC(0, "\x1a\x45\xdf\xa3")) { /* EBML: WebM says so in its DocType */
        for (size_t i = 4; i + 4 <= n; i++)
            if (memcmp(h + i, "webm", 4) == 0)
                return "audio/webm";
        return "audio/x-matroska";
    }
    if (n >= 2 && h[0] == 0xff && (h[1] & 0xf6) == 0xf0) /* ADTS: sync, layer 0 */
        return "audio/aac";
    if (n >= 2 && h[0] == 0xff && (h[1] & 0xe0) == 0xe0) /* an MPEG audio frame */
        return "audio/mpeg";
    return codec_type(codec, "application/octet-stream");
}

et__reply et__track_audio(et_server *s, const et__call *c)
{
    et__reply fail;
    track_file f;
    char codec[32];
    if (!open_track_file(s, c, &f, codec, &fail))
        return fail;
    if (not_modified(c, &f)) {
        close(f.fd);
        return finish((et__reply){.status = 304}, &f, true, NULL);
    }
    uint64_t size = (uint64_t)f.st.st_size, first = 0, last = 0;
    char range[96];
    switch (et__range_parse(range_holds(c, &f) ? header(c, "Range") : NULL, size, &first, &last)) {
    case ET__RANGE_UNSATISFIABLE:
        close(f.fd);
        snprintf(range, sizeof range, "bytes */%" PRIu64, size);
        return finish(et__error(416, ET_E_INVALID,
                                "the range asked starts past the end of the file (%" PRIu64
                                " bytes)", size),
                      &f, true, range);
    case ET__RANGE_ONE:
        snprintf(range, sizeof range, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, first, last,
                 size);
        return finish((et__reply){.status = 206, .file = true, .fd = f.fd, .file_offset = first,
                                  .file_len = last - first + 1,
                                  .content_type = audio_type(f.fd, codec)},
                      &f, true, range);
    default: /* none, malformed, or several: the whole file */
        return finish((et__reply){.status = 200, .file = true, .fd = f.fd, .file_len = size,
                                  .content_type = audio_type(f.fd, codec)},
                      &f, true, NULL);
    }
}

/* The media type of a picture, by content. */
static const char *picture_type(const uint8_t *data, size_t len)
{
    switch (et_image_sniff(data, len)) {
    case ET_IMAGE_JPEG: return "image/jpeg";
    case ET_IMAGE_PNG: return "image/png";
    case ET_IMAGE_WEBP: return "image/webp";
    default: return len >= 4 && memcmp(data, "GIF8", 4) == 0 ? "image/gif"
                                                              : "application/octet-stream";
    }
}

et__reply et__track_cover(et_server *s, const et__call *c)
{
    et__reply fail;
    track_file f;
    char codec[32], err[ET_ERR_MAX];
    if (!open_track_file(s, c, &f, codec, &fail))
        return fail;
    if (not_modified(c, &f)) {
        close(f.fd);
        return finish((et__reply){.status = 304}, &f, false, NULL);
    }
    uint8_t *data;
    size_t len;
    /* Messages name the file by its track id, never by its path. */
    et_status rc = et_audio_cover(f.fd, c->name, &data, &len, err);
    close(f.fd);
    if (rc == ET_E_NOMEM || rc == ET_E_IO)
        return et__error(rc == ET_E_NOMEM ? 503 : 500, rc, "%s", err);
    if (rc == ET_E_NOT_FOUND)
        return et__error(404, rc, "track %s has no cover picture", c->name);
    if (rc != ET_OK) /* no longer audio, or a picture over the limit */
        return et__error(404, ET_E_NOT_FOUND, "no cover picture: %s", err);
    return finish((et__reply){.status = 200, .raw = (char *)data, .raw_len = len,
                              .content_type = picture_type(data, len)},
                  &f, false, NULL);
}
