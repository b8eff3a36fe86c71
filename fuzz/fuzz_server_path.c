/* Fuzzes the server's request-path parsing (src/server: the %HH decoding
 * MHD calls back, and the route matching with its {name} or {id} parameter)
 * and checks what dispatch relies on: decoding never lengthens the string
 * nor makes a NUL, and a matched parameter is a whole segment of 1 to
 * ET__MAX_PARAM bytes without '/' that the listener check then judges (a
 * name that passes it has no "." start, no "/" and no "%"). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "listener/listener.h"
#include "server/server_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const patterns[] = {
    "/api/v1/listeners/{name}/frames", "/api/v1/listeners/{name}/mood", "/api/v1/detect",
    "/healthz", "/api/v1/tracks/{id}/audio", "/{file}"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
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
