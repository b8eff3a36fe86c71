#include "core/core.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const struct {
    const char *code;
    const char *text;
} status_names[ET_E__COUNT] = {
    [ET_OK] = {"ok", "success"},
    [ET_E_INVALID] = {"invalid_argument", "invalid argument"},
    [ET_E_IO] = {"io_error", "input/output error"},
    [ET_E_NOMEM] = {"out_of_memory", "out of memory"},
    [ET_E_UNSUPPORTED] = {"unsupported_format", "unsupported format"},
    [ET_E_CORRUPT] = {"corrupt_data", "corrupt or truncated data"},
    [ET_E_TOO_LARGE] = {"too_large", "input exceeds a configured limit"},
    [ET_E_MODEL] = {"model_error", "model file missing or invalid"},
    [ET_E_NOT_FOUND] = {"not_found", "not found"},
    [ET_E_UNAVAILABLE] = {"unavailable", "server unavailable"},
    [ET_E_VERSION] = {"version_mismatch", "written by a newer version"},
    [ET_E_CONFLICT] = {"conflict", "concurrent update conflict"},
    [ET_E_BUSY] = {"too_many_requests", "too many requests or connections"},
};

const char *et_status_code(et_status s)
{
    if ((unsigned)s >= ET_E__COUNT)
        return "unknown";
    return status_names[s].code;
}

const char *et_strerror(et_status s)
{
    if ((unsigned)s >= ET_E__COUNT)
        return "unknown error";
    return status_names[s].text;
}

et_status et_fail(char *err, et_status s, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, ET_ERR_MAX, fmt, ap);
        va_end(ap);
    }
    return s;
}

et_status et_read_file(const char *path, size_t max_bytes, uint8_t **data,
                       size_t *len, char *err)
{
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return et_fail(err, ET_E_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return et_fail(err, ET_E_IO, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > max_bytes) {
        fclose(f);
        return et_fail(err, ET_E_TOO_LARGE, "%s: %lld bytes is over the limit of %zu",
                       path, (long long)st.st_size, max_bytes);
    }
    size_t size = (size_t)st.st_size;
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) {
        fclose(f);
        return et_fail(err, ET_E_NOMEM, "%s: cannot allocate %zu bytes", path, size);
    }
    size_t got = fread(buf, 1, size, f);
    int failed = ferror(f);
    fclose(f);
    if (failed || got != size) {
        free(buf);
        return et_fail(err, ET_E_IO, "%s: short read (%zu of %zu bytes)", path, got, size);
    }
    *data = buf;
    *len = size;
    return ET_OK;
}

static et_log_level log_level = ET_LOG_WARN;

void et_log_set_level(et_log_level level) { log_level = level; }

void et_log(et_log_level level, const char *fmt, ...)
{
    if (level > log_level)
        return;
    static const char *names[] = {"error", "warning", "info", "debug"};
    fprintf(stderr, "emotune: %s: ", names[level]);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

double et_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
