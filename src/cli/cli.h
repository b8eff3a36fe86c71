/* cli: the `emotune` command. Each subcommand is one function taking the
 * arguments after its name and returning the process exit status. */
#ifndef ET_CLI_H
#define ET_CLI_H

#include <stdbool.h>

/* Exit statuses, documented in --help. */
enum {
    ET_EXIT_OK = 0,
    ET_EXIT_FAILED = 1, /* some input could not be processed */
    ET_EXIT_USAGE = 2,  /* bad command line */
    ET_EXIT_SETUP = 3,  /* models or configuration missing or invalid */
};

int et_cli_detect(int argc, char **argv);
int et_cli_store(int argc, char **argv);
int et_cli_scan(int argc, char **argv);
int et_cli_tracks(int argc, char **argv);
int et_cli_tag(int argc, char **argv);
int et_cli_import(int argc, char **argv);
int et_cli_recommend(int argc, char **argv);
int et_cli_feedback(int argc, char **argv);
int et_cli_history(int argc, char **argv);
int et_cli_profile(int argc, char **argv);
int et_cli_calibrate(int argc, char **argv);
int et_cli_version(int argc, char **argv);
int et_cli_serve(int argc, char **argv);
int et_cli_config(int argc, char **argv);

/* ---- the settings file (config_cmd.c) ---- */

/* The settings file: $EMOTUNE_CONFIG (*named true), else
 * $XDG_CONFIG_HOME/emotune/config, else ~/.config/emotune/config; NULL when
 * none can be named. Writes into buf (size len) when needed. */
const char *et_cli_config_path(char *buf, unsigned long len, bool *named);

/* Loads the settings file into *c (empty when the default file does not
 * exist; free with et_config_free); *path is its name (in buf) or NULL,
 * *found whether it was read. Prints the error and returns ET_EXIT_SETUP for
 * a named file missing, an unreadable one or a bad line; else ET_EXIT_OK. */
struct et_config;
int et_cli_config_load(struct et_config *c, char *buf, unsigned long len, const char **path,
                       bool *found);

/* Applies the settings to the command `cmd`: each setting with an
 * environment variable is put there when the environment has none; cmd's
 * settings without one become its options, put first, when argv has none of
 * that option. argc and argv may be replaced by a new vector (*owned, to free
 * after the command; NULL when unchanged). ET_EXIT_OK or ET_EXIT_SETUP. */
int et_cli_config_apply(const struct et_config *c, const char *cmd, int *argc, char ***argv,
                        char ***owned);

/* Set by SIGINT/SIGTERM (installed by main): long commands poll it and stop
 * soon, keeping what is done. */
#include <signal.h>
const volatile sig_atomic_t *et_cli_interrupted(void);

/* The store URI: `option` if given, else $EMOTUNE_STORE, else the default
 * LMDB directory. Writes into buf (size len) when needed. */
const char *et_cli_store_uri(const char *option, char *buf, unsigned long len);

/* The models folder: `option` if given, else $EMOTUNE_MODELS, else `models`
 * next to the executable, else ../share/emotune/models from it (installed);
 * when neither holds them, `models` next to the executable. Writes into buf
 * (size len); --verbose logs the folder found. (common.c) */
const char *et_cli_models_dir(const char *option, char *buf, unsigned long len);

/* The folder of the running executable into buf (size len); false when it
 * cannot be known. */
bool et_cli_exe_dir(char *buf, unsigned long len);

/* The web page's folder: `option` if given, else $EMOTUNE_WEB, else the
 * first web/ holding index.html next to the executable or one or two
 * folders up (the repository's, for build/emotune and build/san/emotune),
 * else ../share/emotune/web from it (installed); NULL when there is none.
 * Writes into buf (size len) when needed. (common.c) */
const char *et_cli_web_dir(const char *option, char *buf, unsigned long len);

/* ---- shared by the commands (common.c) ---- */

/* The wall clock, Unix seconds. */
double et_cli_wall_time(void);

/* Parses a number in [lo, hi] (the whole string); 0 or -1. */
int et_cli_parse_number(const char *s, double lo, double hi, double *out);

/* Opens the store (option or default); prints the error and returns
 * ET_EXIT_SETUP when it cannot. */
struct et_store;
int et_cli_open_store(const char *cmd, const char *option, struct et_store **out);

/* Prints a one-line JSON document and frees it. */
struct json_t;
void et_cli_print_json(struct json_t *doc);

/* ---- shared by the listener commands (listener_cmd.c) ---- */

/* The listener: `option` if given, else $EMOTUNE_LISTENER, else "default". */
const char *et_cli_listener_name(const char *option);

/* The mood the listener gave on the command line: --mood NAME, or --valence
 * and --arousal together (mood_name may be NULL, v_arg/a_arg NULL when not
 * given). *given is 0 when none was; on a bad or half-given mood prints the
 * error (prefixed by cmd) and returns ET_EXIT_USAGE, else 0. */
struct et_listener_mood;
int et_cli_stated_mood(const char *cmd, const char *mood_name, const char *v_arg,
                       const char *a_arg, double now, struct et_listener_mood *out,
                       int *given);


#endif
