/* Private to src/library: what its files share and the tests and fuzzers
 * reach into. Not part of emotune's API. */
#ifndef ET_LIBRARY_INTERNAL_H
#define ET_LIBRARY_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "library/library.h"

/* ---- catalogues of links (catalog.c) ---- */

#define ET__CATALOG_MAX_BYTES ((size_t)64 << 20) /* whole file */
#define ET__CATALOG_MAX_LINE ((size_t)64 << 10)  /* CSV record, M3U line */
#define ET__CATALOG_MAX_URL 2048                 /* bytes */
#define ET__CATALOG_MAX_TEXT 512                 /* title, artist: bytes, cut beyond */
#define ET__CATALOG_MAX_ISSUES 1000              /* listed; the rest only counted */

typedef enum et__catalog_format {
    ET__CATALOG_CSV,
    ET__CATALOG_JSON,
    ET__CATALOG_M3U,
} et__catalog_format;

/* One link accepted from a catalogue. Strings are valid UTF-8 without
 * control characters, NUL-terminated, owned by the catalogue. */
typedef struct et__catalog_entry {
    size_t line;        /* 1-based line where the entry starts */
    const char *url;    /* http(s), scheme and host lower-cased */
    const char *title;  /* never empty: else the URL's last path part or host */
    const char *artist; /* may be empty */
    const char *mood;   /* the table's word for the label, e.g. "neutral" */
    double valence, arousal;
    char id[19];        /* "u-" + 16 hex digits of FNV-1a 64 of url */
} et__catalog_entry;

typedef struct et__catalog {
    et__catalog_format format;
    et__catalog_entry *entries; /* in file order, each link once */
    size_t n_entries;
    et_import_issue *issues;    /* the first ET__CATALOG_MAX_ISSUES, in file order */
    size_t n_issues;
    size_t skipped;             /* lines or elements skipped, listed or not */
    struct et__arena *arena;    /* the strings */
} et__catalog;

/*
 * Parses a catalogue held in memory (len bytes, no NUL needed) into links
 * and issues, without touching any store; the rules are those of
 * et_library_import (catalog.c explains them). `mood`, when non-NULL, must
 * be a known mood and replaces every entry's own label. On ET_OK *out is
 * filled; free it with et__catalog_free (also safe, and a no-op, after an
 * error). Errors: ET_E_INVALID (unknown `mood`, JSON that does not parse or
 * is not an array, binary data), ET_E_TOO_LARGE (len over
 * ET__CATALOG_MAX_BYTES), ET_E_NOMEM.
 */
et_status et__catalog_parse(const char *data, size_t len, const char *mood, et__catalog *out,
                            char *err);
void et__catalog_free(et__catalog *c);

/* The same, reading the data as `format` (ET_CATALOG_AUTO: by content). */
et_status et__catalog_parse_as(const char *data, size_t len, et_catalog_format format,
                               const char *mood, et__catalog *out, char *err);

/* The track id of a link: "u-" + 16 lower-case hex digits of the 64-bit
 * FNV-1a hash of the URL exactly as given (pass it normalised). */
void et__catalog_link_id(const char *url, size_t len, char id[19]);

/* Adds the folders roots[0..n) (real paths) to those et_library_roots
 * gives, each once; et_library_scan calls it before its walk. Errors: the
 * store's, ET_E_CORRUPT (the stored list is not one), ET_E_NOMEM. */
et_status et__library_record_roots(et_store *s, char *const *roots, size_t n, char *err);

/* Length of the valid UTF-8 sequence at s (n bytes available), or 0
 * (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF). */
size_t et__utf8_seq(const unsigned char *s, size_t n);

#endif
