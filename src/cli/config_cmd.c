/* cli: the settings file (src/config/config.h) applied to a command, and
 * `emotune config`, which says the settings in force and where each came
 * from. Precedence: a command's option > the environment > the file > the
 * built-in default. The file's settings with an environment variable are put
 * in the environment when it has none (so the commands' own "option, else
 * environment, else default" gives the order above); serve's settings
 * without one (listen, music) become serve's options when the command line
 * gives none. */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "config/config.h"
#include "core/core.h"
#include "store/store.h"

static const char config_usage[] =
    "usage: emotune config [--json]\n"
    "\n"
    "Prints the settings in force and where each comes from: the environment,\n"
    "the settings file (with its line), or the built-in default. A command's own\n"
    "option wins over all three; the environment wins over the file, the file\n"
    "over the default.\n"
    "\n"
    "The file is $EMOTUNE_CONFIG (or emotune --config FILE), else\n"
    "$XDG_CONFIG_HOME/emotune/config, else ~/.config/emotune/config; the system\n"
    "service reads /etc/emotune/config. Lines are KEY = VALUE, # comments and\n"
    "blank lines; an unknown key, a line without '=' or an empty value is an\n"
    "error naming its line, and every command refuses to start. Settings:\n"
    "  store     EMOTUNE_STORE, --store: lmdb:DIR or redis://HOST:PORT[/DB]\n"
    "  listener  EMOTUNE_LISTENER, --listener: whose profile and history\n"
    "  models    EMOTUNE_MODELS, --models: the model files' folder\n"
    "  web       EMOTUNE_WEB, serve --web: the web page's folder\n"
    "  token     EMOTUNE_TOKEN, serve --token: the API's token\n"
    "  cpu       EMOTUNE_CPU: auto, generic, avx2 or avx512\n"
    "  listen    serve --listen: ADDR:PORT\n"
    "  music     serve --music: a music folder (one a line, repeatable)\n"
    "\n"
    "options:\n"
    "  --json        one JSON object: {\"file\", \"file_found\", \"settings\":\n"
    "                [{\"key\", \"value\", \"source\", \"line\"}]}\n"
    "  -h, --help    show this help\n"
    "\n"
    "exit status: 0, 2 on a bad command line, 3 when the file is unreadable or\n"
    "has a bad line.\n";

const char *et_cli_config_path(char *buf, unsigned long len, bool *named)
{
    const char *env = getenv("EMOTUNE_CONFIG");
    *named = env && *env;
    if (*named)
        return env;
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    int n;
    if (xdg && *xdg == '/')
        n = snprintf(buf, len, "%s/emotune/config", xdg);
    else if (home && *home)
        n = snprintf(buf, len, "%s/.config/emotune/config", home);
    else
        return NULL;
    return n > 0 && (size_t)n < len ? buf : NULL;
}

int et_cli_config_load(et_config *c, char *buf, unsigned long len, const char **path,
                       bool *found)
{
    bool named;
    *found = false;
    *c = (et_config){0};
    *path = et_cli_config_path(buf, len, &named);
    if (!*path)
        return ET_EXIT_OK;
    char err[ET_ERR_MAX];
    et_status st = et_config_load(*path, c, err);
    if (st == ET_E_NOT_FOUND && !named)
        return ET_EXIT_OK;
    if (st != ET_OK) {
        fprintf(stderr, "emotune: settings file %s\n", err);
        return ET_EXIT_SETUP;
    }
    *found = true;
    return ET_EXIT_OK;
}

static bool given(int argc, char **argv, const char *option)
{
    size_t n = strlen(option);
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
        if (!strncmp(argv[i], option, n) && (argv[i][n] == '\0' || argv[i][n] == '='))
            return true;
    return false;
}

int et_cli_config_apply(const et_config *c, const char *cmd, int *argc, char ***argv,
                        char ***owned)
{
    *owned = NULL;
    for (size_t i = 0; i < c->n; i++) {
        const et_config_setting *s = c->entries[i].setting;
        const char *now = s->env ? getenv(s->env) : NULL;
        if (s->env && (!now || !*now) && setenv(s->env, c->entries[i].value, 1) != 0) {
            fprintf(stderr, "emotune: cannot set %s\n", s->env);
            return ET_EXIT_SETUP;
        }
    }
    /* serve's settings without a variable: options put first, unless given */
    size_t extra = 0;
    for (size_t i = 0; i < c->n; i++) {
        const et_config_setting *s = c->entries[i].setting;
        if (!s->env && s->command && !strcmp(s->command, cmd) && !given(*argc, *argv, s->option))
            extra += 2;
    }
    if (!extra)
        return ET_EXIT_OK;
    char **v = malloc(((size_t)*argc + extra + 1) * sizeof *v);
    if (!v) {
        fprintf(stderr, "emotune: out of memory\n");
        return ET_EXIT_SETUP;
    }
    int k = 0;
    v[k++] = (*argv)[0];
    for (size_t i = 0; i < c->n; i++) {
        const et_config_setting *s = c->entries[i].setting;
        if (!s->env && s->command && !strcmp(s->command, cmd) && !given(*argc, *argv, s->option)) {
            v[k++] = (char *)s->option;
            v[k++] = c->entries[i].value;
        }
    }
    for (int i = 1; i < *argc; i++)
        v[k++] = (*argv)[i];
    v[k] = NULL;
    *argc = k;
    *argv = v;
    *owned = v;
    return ET_EXIT_OK;
}

/* The built-in default of a setting without environment or file, or NULL. */
static const char *default_of(const char *key, char *buf, unsigned long len)
{
    if (!strcmp(key, "store"))
        return et_store_default_uri(buf, len);
    if (!strcmp(key, "listener"))
        return "default";
    if (!strcmp(key, "models"))
        return et_cli_models_dir(NULL, buf, len);
    if (!strcmp(key, "web"))
        return et_cli_web_dir(NULL, buf, len);
    if (!strcmp(key, "cpu"))
        return "auto";
    if (!strcmp(key, "listen"))
        return "127.0.0.1:8080";
    return NULL;
}

/* One setting's lines of output: each value with its source. */
static void report(const et_config_setting *s, const et_config *c, const char *path,
                   json_t *list)
{
    char buf[4096];
    const char *env = s->env ? getenv(s->env) : NULL;
    size_t at = 0, from = 0;
    int any = 0;
    if (env && *env) {
        json_t *o = json_pack("{s:s, s:s, s:s+}", "key", s->key, "value", env, "source",
                              "environment ", s->env);
        json_array_append_new(list, o);
        return;
    }
    for (const et_config_entry *e; (e = et_config_find(c, s->key, from, &at)); from = at + 1) {
        json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:i}", "key", s->key, "value",
                                              e->value, "source", path, "line", e->line));
        any = 1;
    }
    if (any)
        return;
    const char *d = default_of(s->key, buf, sizeof buf);
    json_array_append_new(list, json_pack("{s:s, s:o, s:s}", "key", s->key, "value",
                                          d ? json_string(d) : json_null(), "source", "default"));
}

static void print_text(json_t *doc)
{
    json_t *file = json_object_get(doc, "file");
    printf("settings file: %s (%s)\n", file ? json_string_value(file) : "none",
           json_is_true(json_object_get(doc, "file_found")) ? "read" : "none there");
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(doc, "settings"), i, s) {
        const char *key = json_string_value(json_object_get(s, "key"));
        json_t *value = json_object_get(s, "value");
        json_t *line = json_object_get(s, "line");
        printf("%-9s %-40s ", key, json_is_string(value) ? json_string_value(value) : "(none)");
        if (line)
            printf("%s:%lld\n", json_string_value(json_object_get(s, "source")),
                   (long long)json_integer_value(line));
        else
            printf("%s\n", json_string_value(json_object_get(s, "source")));
    }
}

/* A token is a secret: shown as its length only. */
static void hide_tokens(json_t *list)
{
    size_t i;
    json_t *s;
    json_array_foreach(list, i, s) {
        json_t *v = json_object_get(s, "value");
        if (!strcmp(json_string_value(json_object_get(s, "key")), "token") && json_is_string(v)) {
            char shown[64];
            snprintf(shown, sizeof shown, "(set, %zu characters)", strlen(json_string_value(v)));
            json_object_set_new(s, "value", json_string(shown));
        }
    }
}

int et_cli_config(int argc, char **argv)
{
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(config_usage, stdout);
            return ET_EXIT_OK;
        } else {
            fprintf(stderr, "emotune config: unknown argument %s\n\n%s", argv[i], config_usage);
            return ET_EXIT_USAGE;
        }
    }
    et_config c;
    const char *path;
    char path_buf[4096];
    bool found;
    int rc = et_cli_config_load(&c, path_buf, sizeof path_buf, &path, &found);
    if (rc != ET_EXIT_OK)
        return rc;
    json_t *list = json_array();
    for (const et_config_setting *s = et_config_settings(); s->key; s++)
        report(s, &c, path ? path : "", list);
    et_config_free(&c);
    hide_tokens(list);
    json_t *doc = json_pack("{s:o, s:b, s:o}", "file", path ? json_string(path) : json_null(),
                            "file_found", found, "settings", list);
    if (json)
        et_cli_print_json(doc);
    else {
        print_text(doc);
        json_decref(doc);
    }
    return ET_EXIT_OK;
}
