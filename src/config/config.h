/*
 * config: emotune's settings file. A UTF-8 text of lines:
 *
 *     # a comment (a line whose first non-blank character is '#')
 *     store = lmdb:/var/lib/emotune
 *     music = /srv/music
 *     music = /srv/more-music
 *
 * Each line is blank, a comment, or `KEY = VALUE`: KEY one of the settings
 * below, spaces around '=' and at both ends ignored, VALUE not empty and
 * without control characters (taken as written: no quotes, no escapes, a '#'
 * inside it is part of it). A key comes once, except those that repeat
 * (music). A line may end in "\r\n". Anything else -- an unknown key, a line
 * without '=', an empty value, a NUL byte, a line over ET_CONFIG_MAX_LINE
 * bytes -- is an error naming its line, and nothing is kept.
 *
 * Which file, and how its settings rank against the environment and the
 * command line, is the command line's business (src/cli/config_cmd.c): an
 * option wins over the environment, which wins over the file, which wins
 * over the built-in default.
 */
#ifndef ET_CONFIG_H
#define ET_CONFIG_H

#include <stddef.h>

#include "core/core.h"

#define ET_CONFIG_MAX_BYTES (64 * 1024)
#define ET_CONFIG_MAX_LINE 4096
#define ET_CONFIG_MAX_ENTRIES 256

typedef struct et_config_setting {
    const char *key;     /* as written in the file */
    const char *env;     /* its environment variable, or NULL when none */
    const char *command; /* the only command it applies to, or NULL: all */
    const char *option;  /* that command's option giving it */
    int repeats;         /* may come on several lines (each one more value) */
    const char *about;   /* one line, for emotune config --help and the manual */
} et_config_setting;

/* The settings a file may hold, ended by one whose key is NULL. */
const et_config_setting *et_config_settings(void);

/* The setting of that key, or NULL. */
const et_config_setting *et_config_setting_named(const char *key, size_t len);

typedef struct et_config_entry {
    const et_config_setting *setting;
    char *value;
    int line; /* from 1 */
} et_config_entry;

typedef struct et_config {
    et_config_entry *entries; /* in the order of the file */
    size_t n;
} et_config;

/* Parses text (len bytes, not necessarily NUL-terminated) into *out (zeroed
 * first; free with et_config_free, also after an error). Errors: ET_E_CORRUPT
 * with "line N: ..." in err, ET_E_TOO_LARGE over ET_CONFIG_MAX_BYTES or
 * ET_CONFIG_MAX_ENTRIES, ET_E_NOMEM. */
et_status et_config_parse(const char *text, size_t len, et_config *out, char *err);

/* Reads and parses the file at path. ET_E_NOT_FOUND when it does not exist
 * (err says so); other errors as et_config_parse's, err prefixed by path. */
et_status et_config_load(const char *path, et_config *out, char *err);

/* The first entry of key at index `from` or after, or NULL; `*at` (may be
 * NULL) gets its index, to go on from *at + 1. */
const et_config_entry *et_config_find(const et_config *c, const char *key, size_t from,
                                      size_t *at);

void et_config_free(et_config *c);

#endif
