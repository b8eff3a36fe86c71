/* Fuzzes the server's request-path parsing (src/server: the %HH decoding
 * MHD calls back, and the route matching with its {name} or {id} parameter)
 * and checks what dispatch relies on: decoding never lengthens the string
 * nor makes a NUL, and a matched parameter is a whole segment of 1 to
 * ET__MAX_PARAM bytes without '/' that the listener check then judges (a
 * name that passes it has no "." start, no "/" and no "%"). The same bytes,
 * split at their first newline, are a Host and an Origin or Content-Type
 * header's value for the checks of who may call (issue 23): a Host taken as
 * loopback names this machine with the server's port or none, an Origin
 * taken as the page's own is the Host behind http:// or https://, and a
 * Content-Type taken as JSON or a picture says so before any parameter. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "listener/listener.h"
#include "server/server_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const patterns[] = {
    "/api/v1/listeners/{name}/frames", "/api/v1/listeners/{name}/mood", "/api/v1/detect",
    "/healthz", "/api/v1/tracks/{id}/audio", "/{file}"};

/* Whether s starts with the word w, ignoring case. */
static int starts(const char *s, const char *w)
{
    return strncasecmp(s, w, strlen(w)) == 0;
}

static void check_host(const char *host)
{
    size_t n;
    long port;
    if (et__host_port(host, &n, &port) && (n == 0 || n > strlen(host) || port < 0 ||
                                           port > 65535))
        abort();
    const int ports[] = {8080, 80, 0};
    for (size_t i = 0; i < sizeof ports / sizeof *ports; i++) {
        if (!et__host_is_loopback(host, ports[i]))
            continue;
        if (!starts(host, "localhost") && !starts(host, "127.") && !starts(host, "[::1]"))
            abort();
        if (strpbrk(host, "/@ \t\r\n?#"))
            abort();
        const char *colon = host[0] == '[' ? strchr(host, ']') + 1 : strchr(host, ':');
        if (colon && *colon && atol(colon + 1) != ports[i])
            abort(); /* another port */
    }
}

static void check_other(const char *host, const char *value)
{
    if (et__origin_matches(value, host)) {
        size_t h = strlen(host), v = strlen(value);
        const char *rest = starts(value, "http://") ? value + 7 : value + 8;
        if (!h || (v != h + 7 && v != h + 8) || strcasecmp(rest, host) != 0 ||
            (!starts(value, "http://") && !starts(value, "https://")))
            abort();
    }
    if (et__media_type_is(value, "application/json")) {
        char next = value[16];
        if (!starts(value, "application/json") ||
            (next && next != ';' && next != ' ' && next != '\t'))
            abort();
    }
    if (et__media_type_is(value, "image/")) {
        /* a subtype of token characters, then nothing but blanks before ';' */
        const char *p = value + 6;
        size_t sub = 0;
        while (p[sub] && (((unsigned char)p[sub] < 0x7f && isalnum((unsigned char)p[sub])) ||
                          strchr("!#$%&'*+-.^_`|~", p[sub])))
            sub++;
        size_t blanks = strspn(p + sub, " \t");
        if (!starts(value, "image/") || sub == 0 || (p[sub + blanks] && p[sub + blanks] != ';'))
            abort();
    }
}

static void check_headers(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return;
    memcpy(text, data, size);
    text[size] = '\0';
    char *nl = strchr(text, '\n');
    const char *value = "";
    if (nl) {
        *nl = '\0';
        value = nl + 1;
    }
    check_host(text);
    check_other(text, value);
    check_other(value, text);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    check_headers(data, size);
    char *url = malloc(size + 1);
    if (!url)
        return 0;
    memcpy(url, data, size);
    url[size] = '\0';
    size_t before = strlen(url);
    size_t after = et__server_unescape(NULL, NULL, url);
    if (after > before || after != strlen(url))
        abort(); /* longer, or a NUL inside */
    for (size_t i = 0; i < sizeof patterns / sizeof *patterns; i++) {
        char name[ET__MAX_PARAM + 1];
        memset(name, 'x', sizeof name);
        if (!et__server_path_matches(patterns[i], url, name))
            continue;
        if (strchr(patterns[i], '{')) {
            size_t n = strnlen(name, sizeof name);
            if (n == 0 || n > ET__MAX_PARAM || strchr(name, '/') || !strstr(url, name))
                abort();
            if (et_listener_check_name(name, NULL) == ET_OK &&
                (name[0] == '.' || strchr(name, '%')))
                abort();
        } else if (strcmp(url, patterns[i]) != 0) {
            abort(); /* a fixed path matches itself only */
        }
    }
    free(url);
    return 0;
}
