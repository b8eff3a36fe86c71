/* The web page's files (src/server/static.c) over real HTTP on a loopback
 * port: the repository's web/ folder served byte for byte with its content
 * types and without a token, and every path that tries to leave a page
 * folder (.., encoded .., a NUL, a subfolder, a hidden file, a symbolic
 * link out of it or even inside it, a FIFO) refused without the content of
 * any file outside it. */
#include <dirent.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "server/server.h"
#include "http_support.h"
#include "support.h"

#define WEB "web" /* the repository's page; tests run from the repository root */

typedef struct fixture {
    char *dir;
    char store[600];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = ts_tempdir();
    snprintf(f->store, sizeof f->store, "lmdb:%s/store", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    ts_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static et_status start(fixture *f, const char *web, const char *token, et_server **out,
                       char *err)
{
    et_server_opts o = et_server_default_opts();
    o.listen = "127.0.0.1:0";
    o.store_uri = f->store;
    o.models_dir = ts_models_dir();
    o.web_dir = web;
    o.token = token;
    return et_server_start(&o, out, err);
}

static et_server *must_start(fixture *f, const char *web, const char *token)
{
    et_server *s = NULL;
    char err[ET_ERR_MAX];
    et_status st = start(f, web, token, &s, err);
    if (st != ET_OK)
        fail_msg("server with web folder %s: %s", web ? web : "(none)", err);
    return s;
}

/* The file's bytes, with a NUL after them (not counted in *len). */
static char *read_all(const char *path, size_t *len)
{
    uint8_t *data;
    char err[ET_ERR_MAX];
    if (et_read_file(path, 1 << 24, &data, len, err) != ET_OK)
        fail_msg("%s", err);
    char *text = malloc(*len + 1);
    assert_non_null(text);
    memcpy(text, data, *len);
    text[*len] = '\0';
    free(data);
    return text;
}

/* The media type a file's extension has (RFC 9239 for JavaScript, the IANA
 * registry for the others); NULL for one the page does not use. */
static const char *media_type(const char *name)
{
    static const char *const table[][2] = {
        {".html", "text/html"}, {".js", "text/javascript"}, {".mjs", "text/javascript"},
        {".css", "text/css"},   {".svg", "image/svg+xml"},  {".png", "image/png"},
        {".webp", "image/webp"}, {".json", "application/json"}, {".txt", "text/plain"}};
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof table / sizeof *table; i++)
        if (strcmp(dot, table[i][0]) == 0)
            return table[i][1];
    return NULL;
}

/* GET path answers 200 with the bytes of file and its media type. */
static void served_as(int port, const char *path, const char *file)
{
    size_t len;
    char *want = read_all(file, &len);
    ts_reply r = ts_http(port, "GET", path, "", NULL, 0);
    ts_check_reply(&r, 200);
    if (r.body_len != len || memcmp(r.body, want, len) != 0)
        fail_msg("GET %s: %zu bytes, not the %zu of %s", path, r.body_len, len, file);
    const char *type = ts_header(&r, "Content-Type");
    assert_non_null(type);
    if (strncmp(type, media_type(file), strlen(media_type(file))) != 0)
        fail_msg("GET %s: Content-Type %s, expected %s", path, type, media_type(file));
    ts_reply_free(&r);
    free(want);
}

/* "/" is web/index.html and every file of web/ is served as it is, with
 * its media type, to a client without the token the API asks for. */
static void the_page_and_each_of_its_files_are_served_without_the_token(void **state)
{
    fixture *f = *state;
    et_server *s = must_start(f, WEB, "a-token-of-16-chars-or-more");
    int port = et_server_port(s);
    served_as(port, "/", WEB "/index.html");
    DIR *d = opendir(WEB);
    assert_non_null(d);
    size_t files = 0;
    for (struct dirent *e; (e = readdir(d));) {
        char path[512], url[300];
        struct stat st;
        snprintf(path, sizeof path, WEB "/%s", e->d_name);
        if (e->d_name[0] == '.' || lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (!media_type(e->d_name))
            fail_msg("web/%s: a file of a type the server does not serve", e->d_name);
        snprintf(url, sizeof url, "/%s", e->d_name);
        served_as(port, url, path);
        files++;
    }
    closedir(d);
    assert_true(files >= 3); /* index.html, a script, a style sheet at least */
    /* the API still wants its token */
    ts_reply r = ts_http(port, "GET", "/api/v1/openapi.json", "", NULL, 0);
    ts_check_reply(&r, 401);
    ts_reply_free(&r);
    /* HEAD: the headers of GET */
    r = ts_http(port, "HEAD", "/", "", NULL, 0);
    ts_check_reply(&r, 200);
    assert_int_equal(r.body_len, 0);
    ts_reply_free(&r);
    et_server_stop(s);
}

/* Every src= and href= of index.html and every import of its scripts names
 * a file the server serves: the page needs nothing from another site. */
static void the_page_loads_nothing_from_elsewhere(void **state)
{
    fixture *f = *state;
    et_server *s = must_start(f, WEB, NULL);
    int port = et_server_port(s);
    const char *files[] = {WEB "/index.html", NULL};
    size_t checked = 0;
    DIR *d = opendir(WEB);
    assert_non_null(d);
    char *scripts[64];
    size_t n_scripts = 0;
    for (struct dirent *e; (e = readdir(d)) && n_scripts < 64;) {
        const char *dot = strrchr(e->d_name, '.');
        if (dot && (!strcmp(dot, ".js") || !strcmp(dot, ".css")) && e->d_name[0] != '.') {
            scripts[n_scripts] = malloc(strlen(e->d_name) + 8);
            sprintf(scripts[n_scripts++], WEB "/%s", e->d_name);
        }
    }
    closedir(d);
    for (size_t k = 0; k < 1 + n_scripts; k++) {
        const char *file = k == 0 ? files[0] : scripts[k - 1];
        size_t len;
        char *text = read_all(file, &len);
        /* the attribute or import forms that load something */
        const char *forms[] = {"src=\"", "href=\"", "from '", "import '", "import('", "url("};
        for (size_t i = 0; i < sizeof forms / sizeof *forms; i++) {
            for (char *p = strstr(text, forms[i]); p; p = strstr(p + 1, forms[i])) {
                char ref[256];
                const char *v = p + strlen(forms[i]);
                size_t n = strcspn(v, "\"')");
                if (n == 0 || n >= sizeof ref || v[0] == '#')
                    continue;
                memcpy(ref, v, n);
                ref[n] = '\0';
                if (strstr(ref, "//") || strchr(ref, ':'))
                    fail_msg("%s loads %s from elsewhere", file, ref);
                if (ref[0] == '/' && strncmp(ref, "/api/", 5) == 0)
                    continue; /* the API, not a file */
                char url[300];
                snprintf(url, sizeof url, "/%s", ref + (ref[0] == '.' && ref[1] == '/' ? 2
                                                        : ref[0] == '/'                ? 1
                                                                                       : 0));
                ts_reply r = ts_http(port, "GET", url, "", NULL, 0);
                if (r.status != 200)
                    fail_msg("%s refers to %s: GET %s answers %d", file, ref, url, r.status);
                ts_reply_free(&r);
                checked++;
            }
        }
        free(text);
    }
    for (size_t k = 0; k < n_scripts; k++)
        free(scripts[k]);
    assert_true(checked >= 3);
    et_server_stop(s);
}

/* The first line of /etc/passwd, which no reply may contain. */
static char *passwd_first_line(void)
{
    size_t len;
    char *text = read_all("/etc/passwd", &len);
    text[strcspn(text, "\n")] = '\0';
    assert_true(strlen(text) > 5);
    return text;
}

/* A page folder in f->dir/web with ways out of it: a symbolic link to
 * /etc/passwd, one to a file inside (refused too: links are not followed),
 * a subfolder, a hidden file, a FIFO; and a secret next to the folder. */
static char *make_leaky_folder(fixture *f)
{
    char *web = malloc(strlen(f->dir) + 8), path[700];
    sprintf(web, "%s/web", f->dir);
    assert_int_equal(mkdir(web, 0755), 0);
    snprintf(path, sizeof path, "%s/index.html", web);
    ts_write_file(path, "<!doctype html><title>t</title>", 31);
    snprintf(path, sizeof path, "%s/app.js", web);
    ts_write_file(path, "export {};\n", 11);
    snprintf(path, sizeof path, "%s/secret.txt", f->dir);
    ts_write_file(path, "outside-the-folder\n", 19);
    snprintf(path, sizeof path, "%s/passwd.txt", web);
    assert_int_equal(symlink("/etc/passwd", path), 0);
    snprintf(path, sizeof path, "%s/secret.txt", web);
    assert_int_equal(symlink("../secret.txt", path), 0);
    snprintf(path, sizeof path, "%s/inner.js", web);
    assert_int_equal(symlink("app.js", path), 0);
    snprintf(path, sizeof path, "%s/sub", web);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/sub/x.js", web);
    ts_write_file(path, "outside-the-folder\n", 19);
    snprintf(path, sizeof path, "%s/.hidden.txt", web);
    ts_write_file(path, "outside-the-folder\n", 19);
    snprintf(path, sizeof path, "%s/fifo.txt", web);
    assert_int_equal(mkfifo(path, 0644), 0);
    snprintf(path, sizeof path, "%s/linked", f->dir);
    assert_int_equal(symlink("/etc", path), 0);
    return web;
}

/* The answer to a path that tries to leave: 400 or 404 with a JSON error
 * (or MHD's own 400 for a request line it refuses), never a file's bytes. */
static void refused(ts_reply *r, const char *what, const char *passwd)
{
    if (r->status != 400 && r->status != 404)
        fail_msg("%s: status %d: %.200s", what, r->status, r->body ? r->body : "");
    if (r->body && strstr(r->body, passwd))
        fail_msg("%s: the reply holds /etc/passwd's first line", what);
    if (r->body && strstr(r->body, "outside-the-folder"))
        fail_msg("%s: the reply holds a file outside the page's files", what);
    if (r->body && strstr(r->body, "export {}"))
        fail_msg("%s: the reply holds app.js through a link", what);
}

static void paths_that_try_to_leave_the_folder_are_refused(void **state)
{
    fixture *f = *state;
    char *web = make_leaky_folder(f), *passwd = passwd_first_line(), app[700];
    et_server *s = must_start(f, web, NULL);
    int port = et_server_port(s);
    snprintf(app, sizeof app, "%s/app.js", web);
    served_as(port, "/app.js", app); /* the folder itself works */
    const char *paths[] = {
        "/../etc/passwd", "/../../../../../../etc/passwd", "/%2e%2e/etc/passwd",
        "/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/..%2f..%2f..%2fetc%2fpasswd", "/%2E%2E/",
        "/..", "/%2e%2e", "/.", "//etc/passwd", "/%2fetc%2fpasswd", "/passwd.txt",
        "/secret.txt", "/../secret.txt", "/%2e%2e%2fsecret.txt", "/inner.js", "/sub/x.js",
        "/sub%2fx.js", "/.hidden.txt", "/%2ehidden.txt", "/fifo.txt", "/app.js%00.txt",
        "/app.js%00", "/index.html/../../secret.txt", "/linked/passwd", "/%2e%2e/linked/passwd",
        "/app.js.txt", "/{file}", "/web/app.js", "/A%2e%2e%2f..%2fsecret.txt"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        ts_reply r = ts_http(port, "GET", paths[i], "", NULL, 0);
        ts_check_reply(&r, r.status); /* a JSON error with the security headers */
        refused(&r, paths[i], passwd);
        ts_reply_free(&r);
    }
    /* a NUL byte in the request line itself: the path ends there (libmicrohttpd
     * reads it as a C string), so what comes after it cannot reach a file */
    const char nul[] = "GET /app.js\0../../etc/passwd HTTP/1.1\r\nHost: localhost\r\n"
                       "Connection: close\r\n\r\n";
    ts_reply r = ts_http_raw(port, nul, sizeof nul - 1);
    if (r.status == 200)
        assert_string_equal(r.body, "export {};\n"); /* /app.js itself */
    else
        refused(&r, "/app.js, a NUL, ../../etc/passwd", passwd);
    ts_reply_free(&r);
    const char nul2[] = "GET /passwd.txt\0.js HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    r = ts_http_raw(port, nul2, sizeof nul2 - 1);
    refused(&r, "/passwd.txt, a NUL, .js", passwd);
    ts_reply_free(&r);
    const char dots[] = "GET /../../../etc/passwd HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    r = ts_http_raw(port, dots, sizeof dots - 1);
    refused(&r, "a raw ../ in the request line", passwd);
    ts_reply_free(&r);
    et_server_stop(s);
    free(passwd);
    free(web);
}

/* A folder that cannot be the page is refused at start, with its name. */
static void a_folder_that_is_not_a_page_is_refused_at_start(void **state)
{
    fixture *f = *state;
    char path[700], err[ET_ERR_MAX];
    et_server *s = NULL;
    snprintf(path, sizeof path, "%s/nowhere", f->dir);
    assert_int_equal(start(f, path, NULL, &s, err), ET_E_INVALID);
    assert_non_null(strstr(err, "nowhere"));
    snprintf(path, sizeof path, "%s/empty", f->dir);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_int_equal(start(f, path, NULL, &s, err), ET_E_INVALID); /* no index.html */
    assert_non_null(strstr(err, "index.html"));
    char link[750];
    snprintf(link, sizeof link, "%s/index.html", path);
    assert_int_equal(symlink("/etc/passwd", link), 0);
    assert_int_equal(start(f, path, NULL, &s, err), ET_E_INVALID); /* a link is no page */
    assert_null(s);
}

/* Without a page folder, "/" says how to give one, and nothing else is
 * served; a POST to "/" is 405 with Allow: GET, and a path both a route and
 * a possible file name lists its method once. */
static void without_a_folder_the_root_says_how_to_give_one(void **state)
{
    fixture *f = *state;
    et_server *s = must_start(f, NULL, NULL);
    int port = et_server_port(s);
    ts_reply r = ts_http(port, "GET", "/", "", NULL, 0);
    ts_check_reply(&r, 200);
    assert_non_null(strstr(ts_header(&r, "Content-Type"), "text/html"));
    assert_non_null(strstr(r.body, "--web"));
    ts_reply_free(&r);
    r = ts_http(port, "GET", "/index.html", "", NULL, 0);
    ts_check_reply(&r, 404);
    ts_reply_free(&r);
    r = ts_http(port, "POST", "/", "", "x", 1);
    ts_check_reply(&r, 405);
    assert_string_equal(ts_header(&r, "Allow"), "GET");
    ts_reply_free(&r);
    r = ts_http(port, "POST", "/healthz", "", "x", 1);
    ts_check_reply(&r, 405);
    assert_string_equal(ts_header(&r, "Allow"), "GET");
    ts_reply_free(&r);
    et_server_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(the_page_and_each_of_its_files_are_served_without_the_token,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(the_page_loads_nothing_from_elsewhere, setup, teardown),
        cmocka_unit_test_setup_teardown(paths_that_try_to_leave_the_folder_are_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_folder_that_is_not_a_page_is_refused_at_start, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(without_a_folder_the_root_says_how_to_give_one, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("server_static", tests, NULL, NULL);
}
