/* The folders scans were given, kept in the store ({"roots": [{"path",
 * "path_hex"?}, ...]} in ET_LIBRARY_STATE, id "roots"), so that whoever
 * serves the library's files can tell which files belong to it. Each root
 * is kept as a track's path is (track_doc.c): its exact bytes, also when
 * they are not UTF-8. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "library/library.h"
#include "library/library_internal.h"
#include "library/scan_internal.h"

#define ROOTS_ID "roots"

typedef struct roots_arg {
    char *const *roots;
    size_t n;
} roots_arg;

/* Whether the stored list already holds root. */
static bool listed(const json_t *list, const char *root)
{
    char path[PATH_MAX];
    for (size_t i = 0; i < json_array_size(list); i++)
        if (et__track_path(json_array_get(list, i), path, sizeof path) && !strcmp(path, root))
            return true;
    return false;
}

/* Adds the roots not stored yet to the stored list, inside an atomic
 * read-modify-write (two scans at once both keep theirs). */
static et_status add_roots(void *user, const char *old, size_t old_len, char **out,
                           size_t *out_len, char *err)
{
    const roots_arg *a = user;
    json_t *doc = old ? json_loadb(old, old_len, 0, NULL) : json_object();
    json_t *list = json_object_get(doc, "roots");
    if (!json_is_object(doc) || (list && !json_is_array(list))) {
        json_decref(doc);
        return et_fail(err, ET_E_CORRUPT, "the library's folders are not a list");
    }
    if (!list)
        json_object_set_new(doc, "roots", list = json_array());
    for (size_t i = 0; i < a->n; i++) {
        if (listed(list, a->roots[i]))
            continue;
        json_t *root = json_object();
        et__track_set_path(root, a->roots[i]);
        json_array_append_new(list, root);
    }
    *out = json_dumps(doc, JSON_COMPACT);
    *out_len = *out ? strlen(*out) : 0;
    json_decref(doc);
    return *out ? ET_OK : et_fail(err, ET_E_NOMEM, "out of memory");
}

et_status et__library_record_roots(et_store *s, char *const *roots, size_t n, char *err)
{
    roots_arg a = {roots, n};
    char why[ET_ERR_MAX];
    et_status st = et_store_update(s, ET_LIBRARY_STATE, ROOTS_ID, add_roots, &a, why);
    return st == ET_OK ? ET_OK : et_fail(err, st, "recording the folders scanned: %s", why);
}

et_status et_library_roots(et_store *s, char ***roots, size_t *n, char *err)
{
    *roots = NULL;
    *n = 0;
    char *text;
    size_t len;
    et_status st = et_store_get(s, ET_LIBRARY_STATE, ROOTS_ID, &text, &len, err);
    if (st == ET_E_NOT_FOUND)
        return ET_OK;
    if (st != ET_OK)
        return st;
    json_t *doc = json_loadb(text, len, 0, NULL);
    free(text);
    json_t *list = json_object_get(doc, "roots");
    size_t count = json_array_size(list);
    *roots = calloc(count ? count : 1, sizeof **roots);
    char path[PATH_MAX];
    for (size_t i = 0; *roots && st == ET_OK && i < count; i++) {
        if (!et__track_path(json_array_get(list, i), path, sizeof path))
            st = et_fail(err, ET_E_CORRUPT, "the library's folder %zu is not a path", i + 1);
        else if (!((*roots)[(*n)++] = strdup(path)))
            st = et_fail(err, ET_E_NOMEM, "out of memory");
    }
    if (!*roots)
        st = et_fail(err, ET_E_NOMEM, "out of memory");
    else if (st == ET_OK && !json_is_array(list))
        st = et_fail(err, ET_E_CORRUPT, "the library's folders are not a list");
    json_decref(doc);
    if (st != ET_OK) {
        et_store_free_names(*roots, *n);
        *roots = NULL;
        *n = 0;
    }
    return st;
}

bool et_library_path_under(const char *path, char *const *roots, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(roots[i]);
        if (len && roots[i][len - 1] == '/') /* "/" itself */
            len--;
        if (!strncmp(path, roots[i], len) && (path[len] == '/' || path[len] == '\0'))
            return true;
    }
    return false;
}
