/* listener: helpers shared by its files (not part of the public face). */
#ifndef ET_LISTENER_INTERNAL_H
#define ET_LISTENER_INTERNAL_H

#include <jansson.h>

#include "listener/listener.h"

/* Room for "NAME/" + 15 digits + "-" + 8 hex digits. */
#define ET__LISTENER_ID_MAX (ET_LISTENER_MAX_NAME + 32)

/* A new id NAME/TIME-RAND for a document at Unix time `time`. */
void et__listener_event_id(char out[ET__LISTENER_ID_MAX], const char *name, double time);

/* Called for each parsed document of one listener in a collection, in id
 * order; return non-zero to stop. Documents that are not JSON objects are
 * skipped (logged). */
typedef int (*et__listener_visit_fn)(void *user, const char *id, json_t *doc);

et_status et__listener_iterate(et_store *s, const char *collection, const char *name,
                               et__listener_visit_fn fn, void *user, char *err);

/* Makes room for one more item in a growing array (items: *cap items of
 * `size` bytes, n in use): returns the array, moved when it grew, or NULL
 * when out of memory (then items is still valid and still the caller's). */
void *et__listener_grow(void *items, size_t n, size_t *cap, size_t size);

/* Reads one stored document into the item at `item`; false when it is not
 * one (it is then skipped and logged). */
typedef bool (*et__listener_read_fn)(const json_t *doc, void *item);

/* Every document of one listener in a collection, in id order, read into a
 * new array of items of `size` bytes (caller frees; NULL when *n is 0).
 * `what` names an item in the log line of a skipped document. */
et_status et__listener_collect(et_store *s, const char *collection, const char *name,
                               et__listener_read_fn read, size_t size, const char *what,
                               void **out, size_t *n, char *err);

/* The stored document `id` of a collection, parsed (any JSON), into *doc
 * (caller frees); *doc NULL when there is none, JSON null when it does not
 * parse (written around emotune), so the caller skips it as not what it
 * expected. Errors: the store's. */
et_status et__listener_get_json(et_store *s, const char *collection, const char *id,
                                json_t **doc, char *err);

/* A number field, or fallback when absent or not a number. */
double et__json_number(const json_t *obj, const char *key, double fallback);

/* Copies a string field into out (size len, truncated); "" when absent. */
void et__json_copy_string(const json_t *obj, const char *key, char *out, size_t len);

/* Serialises doc compactly into a new string (caller frees); NULL on
 * allocation failure. Numbers keep 15 significant digits: a Unix time to
 * 10 microseconds (10 digits would round it to the second, and a mood
 * written elsewhere a moment after a frame here would seem older). */
char *et__json_dump(const json_t *doc, size_t *len);

/* The mood point is finite and within [-1, 1] (err names it otherwise). */
et_status et__listener_check_point(double valence, double arousal, char *err);

/* et_listener_mood_add, with n_extra more operations (their strings the
 * caller's) in the same atomic batch as the mood. */
et_status et__listener_mood_add_with(et_store *s, const et_listener_profile *p,
                                     const et_listener_mood *m, const et_store_op *extra,
                                     size_t n_extra, size_t *pruned, char *err);

/* Stored documents back into values (what the readers above use; fuzzed by
 * fuzz/fuzz_listener.c). A mood, feedback or stated mood (override): false
 * when doc is not one (every field then checked as the writers check it). A
 * profile: each valid field of doc over *p, a bad field keeping its value. A
 * track: false only when out of memory; free with et__listener_track_free. */
bool et__listener_read_mood(const json_t *doc, et_listener_mood *m);
bool et__listener_read_feedback(const json_t *doc, et_listener_feedback *f);
void et__listener_read_profile(const json_t *doc, et_listener_profile *p);
bool et__listener_read_override(const json_t *doc, et_listener_override *o);
bool et__listener_read_track(const char *id, const json_t *doc, et_listener_track *t);
void et__listener_track_free(et_listener_track *t);

/* The calibration's documents (calibration.c; fuzzed by
 * fuzz/fuzz_calibration.c). One example of NAME/calibration's "examples":
 * false when item is not one (expression, time, 263 x and 7 face-api
 * probabilities, every number finite and in range). NAME/calibration_fit
 * into *cal: false (and *cal all zero) when doc is not one. */
bool et__listener_read_calib_example(const json_t *item, et_listener_calib_example *ex);
bool et__listener_read_calib_fit(const json_t *doc, et_listener_calibration *cal);

#endif
