/* cli: helpers every command shares. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/core.h"
#include "store/store.h"

const char *et_cli_store_uri(const char *option, char *buf, unsigned long len)
{
    if (option && *option)
        return option;
    const char *env = getenv("EMOTUNE_STORE");
    if (env && *env)
        return env;
    return et_store_default_uri(buf, len);
}

bool et_cli_exe_dir(char *buf, unsigned long len)
{
    ssize_t n = len > 1 ? readlink("/proc/self/exe", buf, len - 1) : -1;
    if (n <= 0)
        return false;
    buf[n] = '\0';
    char *slash = strrchr(buf, '/');
    if (slash)
        *slash = '\0';
    return slash != NULL;
}

/* The installed data folder, relative to the executable: make install and
 * the Debian package put bin/emotune beside share/emotune, so the lookup
 * follows the binary wherever PREFIX or DESTDIR put it. */
#define ET_CLI_SHARE "../share/emotune"

/* DIR/SUB (its real path) into buf when DIR/SUB/PROBE is readable. */
static bool found_in(const char *dir, const char *sub, const char *probe, char *buf,
                     unsigned long len)
{
    char path[4400];
    if ((size_t)snprintf(path, sizeof path, "%s/%s/%s", dir, sub, probe) >= sizeof path ||
        access(path, R_OK) != 0)
        return false;
    /* the folder's real path, so logs and errors name /usr/share/emotune/...
     * rather than /usr/bin/../share/emotune/... */
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    char *real = realpath(path, NULL);
    bool ok = real && (size_t)snprintf(buf, len, "%s", real) < len;
    free(real);
    return ok;
}

const char *et_cli_models_dir(const char *option, char *buf, unsigned long len)
{
    if (option && *option)
        return option;
    const char *env = getenv("EMOTUNE_MODELS");
    if (env && *env)
        return env;
    char exe[4096];
    if (!et_cli_exe_dir(exe, sizeof exe))
        return "models";
    static const char probe[] = "tiny_face_detector_model-weights_manifest.json";
    if (found_in(exe, "models", probe, buf, len) ||
        found_in(exe, ET_CLI_SHARE "/models", probe, buf, len)) {
        et_log(ET_LOG_DEBUG, "models folder: %s", buf);
        return buf;
    }
    /* none: name the first place, so the error says where they were wanted */
    snprintf(buf, len, "%s/models", exe);
    return buf;
}

const char *et_cli_web_dir(const char *option, char *buf, unsigned long len)
{
    if (option && *option)
        return option;
    const char *env = getenv("EMOTUNE_WEB");
    if (env && *env)
        return env;
    char exe[4096];
    if (!et_cli_exe_dir(exe, sizeof exe))
        return NULL;
    /* next to the executable, one and two folders up (the repository's, for
     * build/emotune and build/san/emotune), then the installed one */
    static const char *const places[] = {"web", "../web", "../../web", ET_CLI_SHARE "/web"};
    for (size_t k = 0; k < sizeof places / sizeof *places; k++)
        if (found_in(exe, places[k], "index.html", buf, len)) {
            et_log(ET_LOG_DEBUG, "web page folder: %s", buf);
            return buf;
        }
    return NULL;
}

double et_cli_wall_time(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int et_cli_parse_number(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

int et_cli_open_store(const char *cmd, const char *option, et_store **out)
{
    char buf[4096], err[ET_ERR_MAX];
    const char *uri = et_cli_store_uri(option, buf, sizeof buf);
    if (et_store_open(uri, NULL, out, err) != ET_OK) {
        fprintf(stderr, "emotune %s: %s\n", cmd, err);
        return ET_EXIT_SETUP;
    }
    return ET_EXIT_OK;
}

void et_cli_print_json(json_t *doc)
{
    char *s = doc ? json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(12)) : NULL;
    puts(s ? s : "{}");
    free(s);
    json_decref(doc);
}
