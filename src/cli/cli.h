/* cli: the `emotune` command. Each subcommand is one function taking the
 * arguments after its name and returning the process exit status. */
#ifndef ET_CLI_H
#define ET_CLI_H

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

/* Set by SIGINT/SIGTERM (installed by main): long commands poll it and stop
 * soon, keeping what is done. */
#include <signal.h>
const volatile sig_atomic_t *et_cli_interrupted(void);

/* The store URI: `option` if given, else $EMOTUNE_STORE, else the default
 * LMDB directory. Writes into buf (size len) when needed. */
const char *et_cli_store_uri(const char *option, char *buf, unsigned long len);

/* The models folder: `option` if given, else $EMOTUNE_MODELS, else `models`
 * next to the executable. Writes into buf (size len). */
const char *et_cli_models_dir(const char *option, char *buf, unsigned long len);

#endif
