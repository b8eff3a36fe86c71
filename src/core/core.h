/*
 * core: what every emotune module shares -- the status codes, the error message
 * buffer, the process-wide log level, and a bounded whole-file reader.
 *
 * Conventions (see STYLE.md): every fallible function returns an et_status and,
 * when given a non-NULL `char err[ET_ERR_MAX]`, writes a one-line message a
 * person can act on (which file, which field, which byte).
 */
#ifndef ET_CORE_H
#define ET_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define ET_VERSION "0.1.0"

#define ET_ERR_MAX 256

typedef enum et_status {
    ET_OK = 0,
    ET_E_INVALID,      /* bad argument or option value */
    ET_E_IO,           /* a file could not be opened or read */
    ET_E_NOMEM,        /* an allocation failed */
    ET_E_UNSUPPORTED,  /* a format we do not decode */
    ET_E_CORRUPT,      /* data that does not parse: truncated, malformed */
    ET_E_TOO_LARGE,    /* over a configured limit (pixels, bytes) */
    ET_E_MODEL,        /* a model file is missing or does not match the graph */
    ET_E_NOT_FOUND,    /* no such document, track, ... */
    ET_E_UNAVAILABLE,  /* a server (Redis) cannot be reached, after retries */
    ET_E_VERSION,      /* data written by a newer emotune */
    ET_E_CONFLICT,     /* a concurrent change won every retry */
    ET_E_BUSY,         /* a limit on requests or connections reached: try again later */
    ET_E__COUNT
} et_status;

/* Short stable name of a status, e.g. "unsupported_format"; used as the JSON
 * error "code". Never NULL. */
const char *et_status_code(et_status s);

/* Human description of a status, e.g. "unsupported image format". Never NULL. */
const char *et_strerror(et_status s);

/* Formats into err (if non-NULL, ET_ERR_MAX bytes) and returns s, so error
 * paths read `return et_fail(err, ET_E_IO, "cannot open %s", path);`. */
et_status et_fail(char *err, et_status s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reads a whole file into a new buffer (caller frees with free()). Refuses
 * files larger than max_bytes with ET_E_TOO_LARGE, before reading them.
 * A zero-length file gives *data = a valid 1-byte allocation and *len = 0. */
et_status et_read_file(const char *path, size_t max_bytes, uint8_t **data,
                       size_t *len, char *err);

/* Process-wide log level, set once by main. Messages at or below the level
 * go to stderr. */
typedef enum { ET_LOG_ERROR = 0, ET_LOG_WARN, ET_LOG_INFO, ET_LOG_DEBUG } et_log_level;
void et_log_set_level(et_log_level level);
void et_log(et_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Monotonic clock in seconds, for progress and benchmarks. */
double et_now(void);

#endif
