/* emotune: the command line entry point. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audio/audio.h"
#include "cli/cli.h"
#include "core/core.h"
#include "nn/nn.h"

static const char usage[] =
    "usage: emotune [--verbose] COMMAND [ARGS...]\n"
    "\n"
    "emotune reads the expression on your face, turns it into a mood, and chooses\n"
    "songs from your music library that match it, lift it or calm it, learning\n"
    "from what you like and skip. (The HTTP server answers its first routes;\n"
    "the web page is not built yet.)\n"
    "\n"
    "commands:\n"
    "  detect    find faces in images and read their expressions\n"
    "  scan      analyse the music in folders into the library\n"
    "  tracks    list the library\n"
    "  tag       set your own mood for a track\n"
    "  import    import catalogues of links (CSV, JSON, M3U)\n"
    "  recommend choose songs for your mood (given, or read from your face)\n"
    "  feedback  like, skip or complete: teaches later recommendations\n"
    "  history   your mood over time and your feedback\n"
    "  profile   show or change a listener's policy and settings\n"
    "  calibrate teach emotune your own face: pictures labelled with an expression\n"
    "  store     export, import, copy and check the document store\n"
    "  serve     the HTTP API (first part: detect, camera frames to mood)\n"
    "  version   the version, and the CPU kernels this machine runs\n"
    "  (emotune COMMAND --help for each)\n"
    "\n"
    "options:\n"
    "  -v, --verbose   log more to stderr\n"
    "  -h, --help      show this help\n"
    "  --version       show the version\n"
    "\n"
    "environment:\n"
    "  EMOTUNE_STORE   the store: lmdb:DIR (default lmdb:$XDG_DATA_HOME/emotune,\n"
    "                  else lmdb:~/.local/share/emotune) or\n"
    "                  redis://[:PASSWORD@]HOST:PORT[/DB]\n"
    "  EMOTUNE_LISTENER  whose profile, feedback and history (default: default)\n"
    "  EMOTUNE_MODELS  folder with the face-api model files (default: models/\n"
    "                  next to the emotune executable)\n"
    "  EMOTUNE_CPU     convolution kernels: auto (default: the fastest this CPU\n"
    "                  runs), generic, avx2 or avx512\n"
    "\n"
    "exit status: 0 success, 1 some input failed, 2 bad command line,\n"
    "             3 models or configuration missing or invalid\n";

/* The one piece of process state a signal may touch. */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

const volatile sig_atomic_t *et_cli_interrupted(void) { return &interrupted; }

const char *et_cli_models_dir(const char *option, char *buf, unsigned long len)
{
    if (option && *option)
        return option;
    const char *env = getenv("EMOTUNE_MODELS");
    if (env && *env)
        return env;
    char exe[4096];
    if (!et_cli_exe_dir(exe, sizeof exe))
        return "models";
    snprintf(buf, len, "%s/models", exe);
    return buf;
}

/* OPENBLAS_CORETYPE overrides OpenBLAS's own CPU check: worth a line in
 * --verbose, as it can make the program die on an older CPU. */
static void log_forced_blas_kernels(void)
{
    const char *forced = getenv(ET_NN_BLAS_CORETYPE_ENV);
    if (forced && *forced)
        et_log(ET_LOG_DEBUG, "%s=%s is set: OpenBLAS runs its %s kernels whatever the CPU",
               ET_NN_BLAS_CORETYPE_ENV, forced, et_nn_blas_corename());
}

int main(int argc, char **argv)
{
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(usage, stdout);
            return ET_EXIT_OK;
        } else if (!strcmp(argv[i], "--version")) {
            puts("emotune " ET_VERSION);
            return ET_EXIT_OK;
        } else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
            et_log_set_level(ET_LOG_DEBUG);
        } else {
            fprintf(stderr, "emotune: unknown option %s\n\n%s", argv[i], usage);
            return ET_EXIT_USAGE;
        }
    }
    if (i == argc) {
        fputs(usage, stderr);
        return ET_EXIT_USAGE;
    }
    /* One inference per thread; parallelism, where wanted, is across images. */
    et_nn_set_blas_threads(1);
    log_forced_blas_kernels();
    et_audio_quiet_ffmpeg_logs();
    const char *cmd = argv[i];
    if (!strcmp(cmd, "detect"))
        return et_cli_detect(argc - i, argv + i);
    if (!strcmp(cmd, "store"))
        return et_cli_store(argc - i, argv + i);
    if (!strcmp(cmd, "version"))
        return et_cli_version(argc - i, argv + i);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } library_cmds[] = {
        {"scan", et_cli_scan}, {"tracks", et_cli_tracks}, {"tag", et_cli_tag},
        {"import", et_cli_import}, {"recommend", et_cli_recommend},
        {"feedback", et_cli_feedback}, {"history", et_cli_history},
        {"profile", et_cli_profile}, {"calibrate", et_cli_calibrate},
        {"serve", et_cli_serve},
    };
    for (size_t k = 0; k < sizeof library_cmds / sizeof *library_cmds; k++)
        if (!strcmp(cmd, library_cmds[k].name))
            return library_cmds[k].run(argc - i, argv + i);
    fprintf(stderr, "emotune: unknown command '%s'\n\n%s", cmd, usage);
    return ET_EXIT_USAGE;
}
