/* server: the web page, served from one folder (et_server_opts.web_dir).
 *
 * Only a file directly in that folder can be named: one path segment of
 * letters, digits, '-' and '_' with one known extension (so no "..", no
 * hidden file, no subfolder, no '%' or NUL), opened relative to the folder
 * with O_NOFOLLOW (a symbolic link, even one pointing inside, is refused)
 * and served only when it is a regular file. Nothing else on the disk can
 * be reached, whatever the path says. The files are read on every request
 * (the page is small) and sent with Cache-Control: no-store like every
 * reply, so an edited page shows on the next load. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server/server_internal.h"

/* The page's folder, opened once. */
struct et__web {
    int fd;
};

/* A file of the page, at most (the page is a few small files). */
#define MAX_FILE_BYTES ((off_t)8 << 20)
/* A file name, at most. */
#define MAX_NAME 64

static const struct {
    const char *ext, *type;
} types[] = {
    {"html", "text/html; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"webp", "image/webp"},
    {"json", "application/json"},
    {"txt", "text/plain; charset=utf-8"},
};

/* What "/" says when the server has no page folder. */
static const char no_page[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    "<title>emotune</title></head><body><h1>emotune</h1>"
    "<p>This server runs without its web page: start <code>emotune serve</code> "
    "with <code>--web DIR</code>, the <code>web/</code> folder that comes with "
    "emotune.</p><p>The API is described at "
    "<a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a>.</p></body></html>\n";

et_status et__static_open(et_server *s, const et_server_opts *o, char *err)
{
    if (!o->web_dir)
        return ET_OK;
    int fd = open(o->web_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return et_fail(err, ET_E_INVALID, "web page folder %s: %s", o->web_dir,
                       strerror(errno));
    struct stat st;
    if (fstatat(fd, "index.html", &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return et_fail(err, ET_E_INVALID, "web page folder %s has no index.html", o->web_dir);
    }
    if (!(s->web = malloc(sizeof *s->web))) {
        close(fd);
        return et_fail(err, ET_E_NOMEM, "out of memory");
    }
    s->web->fd = fd;
    return ET_OK;
}

void et__static_close(et_server *s)
{
    if (!s->web)
        return;
    close(s->web->fd);
    free(s->web);
    s->web = NULL;
}

static bool name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.';
}

/* The content type of a file the page may have, or NULL: a name of
 * name_char()s, not starting with '.', with exactly one '.' before a known
 * extension. */
static const char *page_file_type(const char *name)
{
    const char *dot = strchr(name, '.');
    if (!dot || dot == name || strchr(dot + 1, '.'))
        return NULL;
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        if (strcmp(dot + 1, types[i].ext) == 0)
            return types[i].type;
    return NULL;
}

static et__reply not_found(const char *name)
{
    return et__error(404, ET_E_NOT_FOUND, "the page has no file %.64s", name);
}

/* Reads the whole regular file fd (closed here) into a reply. */
static et__reply read_file(int fd, const char *name, const char *type)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_FILE_BYTES) {
        close(fd);
        return not_found(name);
    }
    size_t size = (size_t)st.st_size, got = 0;
    char *buf = malloc(size ? size : 1);
    if (!buf) {
        close(fd);
        return et__error(500, ET_E_NOMEM, "out of memory");
    }
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* shorter than it was: send what is there */
        got += (size_t)n;
    }
    close(fd);
    return (et__reply){.status = 200, .raw = buf, .raw_len = got, .content_type = type};
}

/* The file `name` of the page, checked as the header says. */
static et__reply serve(et_server *s, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < len; i++)
        if (!name_char(name[i]))
            return et__error(400, ET_E_INVALID, "not a file name of the page: use letters, "
                                                "digits, '-', '_' and one '.'");
    const char *type = len <= MAX_NAME ? page_file_type(name) : NULL;
    if (!s->web || !type)
        return not_found(name);
    int fd = openat(s->web->fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return not_found(name); /* absent, a symbolic link (ELOOP), unreadable */
    return read_file(fd, name, type);
}

et__reply et__static_page(et_server *s, const et__call *c)
{
    (void)c;
    if (!s->web) {
        char *doc = strdup(no_page);
        if (!doc)
            return et__error(500, ET_E_NOMEM, "out of memory");
        return (et__reply){.status = 200, .raw = doc, .raw_len = strlen(doc),
                           .content_type = "text/html; charset=utf-8"};
    }
    return serve(s, "index.html");
}

et__reply et__static_file(et_server *s, const et__call *c) { return serve(s, c->name); }
