/* Private to src/library: helpers on track documents shared by scan.c,
 * tracks.c and the command line glue. */
#ifndef ET_SCAN_INTERNAL_H
#define ET_SCAN_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "audio/audio.h"
#include "core/core.h"

/* The exact path of a file track into buf: "path" when the name is valid
 * UTF-8, else decoded from "path_hex". false when the document has neither
 * or it does not fit. */
bool et__track_path(const json_t *doc, char *buf, size_t len);

/* Sets "path" (and "path_hex" when the bytes are not valid UTF-8, with
 * "path" then a readable copy where invalid bytes became U+FFFD). */
void et__track_set_path(json_t *doc, const char *path);

/* Valid UTF-8 copy of s (invalid bytes read as Latin-1); caller frees. */
char *et__utf8_copy(const char *s);

/* Sets "valence" and "arousal": the listener's "mood" when set (and known),
 * else the estimate from the sound ("estimate"), else, for a link, the point
 * of its catalogue label ("catalog_mood"). */
void et__track_apply_mood(json_t *doc);

/* 16 hex digits of a 64-bit FNV-1a over the first and last megabyte of the
 * file and its size; false when it cannot be read. */
bool et__content_hash(const char *path, long long size, char out[17]);

/* The test hooks of library.h (EMOTUNE_TEST_SCAN_FIFO and the like): with
 * the environment variable `name` set, opens the path it names for reading
 * and reads it to its end (on a FIFO: waits for a writer, then for it to
 * close); ET_E_IO when it cannot be opened. Unset: one getenv. */
et_status et__test_hook(const char *name, char *err);

#endif
