/* cli: helpers every command shares. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
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

const char *et_cli_web_dir(const char *option, char *buf, unsigned long len)
{
    if (option && *option)
        return option;
    const char *env = getenv("EMOTUNE_WEB");
    if (env && *env)
        return env;
    char dir[4096];
    if (!et_cli_exe_dir(dir, sizeof dir))
        return NULL;
    /* next to the executable, then one and two folders up */
    for (int up = 0; up < 3; up++) {
        char index[4200];
        snprintf(index, sizeof index, "%s/web/index.html", dir);
        if (access(index, R_OK) == 0 && (size_t)snprintf(buf, len, "%s/web", dir) < len)
            return buf;
        char *slash = strrchr(dir, '/');
        if (!slash || slash == dir)
            return NULL;
        *slash = '\0';
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
