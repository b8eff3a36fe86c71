/* emotune: the command line entry point. The table of commands below is the
 * one list of what emotune dispatches: `emotune --help` prints it, and the
 * manual page (scripts/make-man.sh) is made from that --help and each
 * command's own --help, so the three cannot drift apart. */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audio/audio.h"
#include "cli/cli.h"
#include "config/config.h"
#include "core/core.h"
#include "nn/nn.h"

typedef struct {
    const char *name;
    const char *summary; /* one line, for emotune --help and the manual */
    int (*run)(int argc, char **argv);
    bool stops; /* runs long: SIGINT/SIGTERM set et_cli_interrupted() */
} cli_command;

static const cli_command commands[] = {
    {"serve", "the web page and the HTTP API: camera, mood, music, calibration", et_cli_serve,
     true},
    {"detect", "find faces in images and read their expressions", et_cli_detect, false},
    {"scan", "analyse the music in folders into the library", et_cli_scan, true},
    {"tracks", "list the library", et_cli_tracks, true},
    {"tag", "set your own mood for a track", et_cli_tag, true},
    {"import", "import catalogues of links (CSV, JSON, M3U)", et_cli_import, true},
    {"recommend", "choose songs for your mood (given, or read from your face)", et_cli_recommend,
     true},
    {"feedback", "like, skip or complete: teaches later recommendations", et_cli_feedback, true},
    {"history", "your mood over time and your feedback", et_cli_history, true},
    {"profile", "show or change a listener's policy and settings", et_cli_profile, true},
    {"calibrate", "teach emotune your own face: pictures labelled with an expression",
     et_cli_calibrate, true},
    {"store", "export, import, copy and check the document store", et_cli_store, false},
    {"config", "the settings in force and where each comes from", et_cli_config, false},
    {"version", "the version, and the CPU kernels this machine runs", et_cli_version, false},
};
enum { N_COMMANDS = sizeof commands / sizeof *commands };

/* The sections after the commands are read by scripts/make-man.sh: a header
 * line ending in ':', items indented by two spaces (the name, two spaces or
 * more, its text), deeper lines continuing an item, a blank line to end. */
static const char usage_head[] =
    "usage: emotune [--verbose] COMMAND [ARGS...]\n"
    "\n"
    "emotune reads the expression on your face, turns it into a mood, and chooses\n"
    "songs from your music library that match it, lift it or calm it, learning\n"
    "from what you like and skip. `emotune serve --music DIR` serves its web page\n"
    "at http://127.0.0.1:8080/: the camera, the mood it reads, the music playing\n"
    "for it, and a calibration that learns your face. The other commands do the\n"
    "same from the command line.\n"
    "\n"
    "commands:\n";

static const char usage_tail[] =
    "\n"
    "emotune COMMAND --help tells each command's options; man emotune tells all.\n"
    "\n"
    "options:\n"
    "  -v, --verbose     log more to stderr\n"
    "  --config FILE     the settings file (default $EMOTUNE_CONFIG, else\n"
    "                    $XDG_CONFIG_HOME/emotune/config, else\n"
    "                    ~/.config/emotune/config; see emotune config --help)\n"
    "  -h, --help        show this help\n"
    "  --version         show the version\n"
    "\n"
    "environment:\n"
    "  EMOTUNE_CONFIG    the settings file (see --config)\n"
    "  EMOTUNE_STORE     the store: lmdb:DIR (default lmdb:$XDG_DATA_HOME/emotune,\n"
    "                    else lmdb:~/.local/share/emotune) or\n"
    "                    redis://[:PASSWORD@]HOST:PORT[/DB]\n"
    "  EMOTUNE_LISTENER  whose profile, feedback and history (default: default)\n"
    "  EMOTUNE_MODELS    folder with the model files (default: models/ next to\n"
    "                    the emotune executable, else ../share/emotune/models\n"
    "                    from it, where make install and the package put them)\n"
    "  EMOTUNE_WEB       the web page's folder for emotune serve (default: web/\n"
    "                    next to the executable or one or two folders up, else\n"
    "                    ../share/emotune/web from it)\n"
    "  EMOTUNE_TOKEN     the token emotune serve requires (see serve --help)\n"
    "  EMOTUNE_CPU       convolution kernels: auto (default: the fastest this CPU\n"
    "                    runs), generic, avx2 or avx512\n"
    "\n"
    "exit status:\n"
    "  0                 success\n"
    "  1                 some input failed\n"
    "  2                 bad command line\n"
    "  3                 models or configuration missing or invalid\n"
    "  130               interrupted (scan; see each command's --help)\n";

static void print_usage(FILE *out)
{
    fputs(usage_head, out);
    for (size_t k = 0; k < N_COMMANDS; k++)
        fprintf(out, "  %-10s %s\n", commands[k].name, commands[k].summary);
    fputs(usage_tail, out);
}

/* The one piece of process state a signal may touch. */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

const volatile sig_atomic_t *et_cli_interrupted(void) { return &interrupted; }

/* OPENBLAS_CORETYPE overrides OpenBLAS's own CPU check: worth a line in
 * --verbose, as it can make the program die on an older CPU. */
static void log_forced_blas_kernels(void)
{
    const char *forced = getenv(ET_NN_BLAS_CORETYPE_ENV);
    if (forced && *forced)
        et_log(ET_LOG_DEBUG, "%s=%s is set: OpenBLAS runs its %s kernels whatever the CPU",
               ET_NN_BLAS_CORETYPE_ENV, forced, et_nn_blas_corename());
}

static const cli_command *find_command(const char *name)
{
    for (size_t k = 0; k < N_COMMANDS; k++)
        if (!strcmp(name, commands[k].name))
            return &commands[k];
    return NULL;
}

/* Runs the command with the settings file applied (config_cmd.c); a bad
 * file stops it before it starts. */
static int run_with_settings(const cli_command *cmd, int argc, char **argv)
{
    et_config c;
    char path_buf[4096];
    const char *path;
    bool found;
    int rc = et_cli_config_load(&c, path_buf, sizeof path_buf, &path, &found);
    if (rc != ET_EXIT_OK)
        return rc;
    if (found)
        et_log(ET_LOG_DEBUG, "settings file: %s", path);
    char **owned = NULL;
    rc = et_cli_config_apply(&c, cmd->name, &argc, &argv, &owned);
    if (rc == ET_EXIT_OK)
        rc = cmd->run(argc, argv);
    free(owned);
    et_config_free(&c);
    return rc;
}

int main(int argc, char **argv)
{
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            print_usage(stdout);
            return ET_EXIT_OK;
        } else if (!strcmp(argv[i], "--version")) {
            puts("emotune " ET_VERSION);
            return ET_EXIT_OK;
        } else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
            et_log_set_level(ET_LOG_DEBUG);
        } else if (!strcmp(argv[i], "--config") || !strncmp(argv[i], "--config=", 9)) {
            const char *file = argv[i][8] == '=' ? argv[i] + 9 : (i + 1 < argc ? argv[++i] : "");
            if (!*file) {
                fprintf(stderr, "emotune: --config wants a file\n");
                return ET_EXIT_USAGE;
            }
            /* the commands and emotune config read it from there */
            if (setenv("EMOTUNE_CONFIG", file, 1) != 0)
                return ET_EXIT_SETUP;
        } else {
            fprintf(stderr, "emotune: unknown option %s\n\n", argv[i]);
            print_usage(stderr);
            return ET_EXIT_USAGE;
        }
    }
    if (i == argc) {
        print_usage(stderr);
        return ET_EXIT_USAGE;
    }
    const cli_command *cmd = find_command(argv[i]);
    if (!cmd) {
        fprintf(stderr, "emotune: unknown command '%s'\n\n", argv[i]);
        print_usage(stderr);
        return ET_EXIT_USAGE;
    }
    /* One inference per thread; parallelism, where wanted, is across images. */
    et_nn_set_blas_threads(1);
    log_forced_blas_kernels();
    et_audio_quiet_ffmpeg_logs();
    if (cmd->stops) {
        struct sigaction sa = {.sa_handler = on_signal};
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
    }
    if (cmd->run == et_cli_config) /* it reads the file itself, to tell the sources */
        return cmd->run(argc - i, argv + i);
    return run_with_settings(cmd, argc - i, argv + i);
}
