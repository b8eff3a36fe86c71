/* emotune serve: the HTTP API until SIGINT or SIGTERM. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "server/server.h"

static const char serve_usage[] =
    "usage: emotune serve [--listen ADDR:PORT] [--store URI] [--token TOKEN]\n"
    "                     [--models DIR] [--threads N] [--max-body BYTES]\n"
    "                     [--max-fps N] [--history-every SECONDS]\n"
    "\n"
    "Answers emotune's HTTP API until Ctrl-C (SIGINT) or SIGTERM, then finishes\n"
    "the requests in flight and closes the store. The API is described at\n"
    "/api/v1/openapi.json. Today: /healthz, /metrics, POST /api/v1/detect, and a\n"
    "listener's camera and songs: POST /api/v1/listeners/NAME/frames, GET, PUT and\n"
    "DELETE .../mood (PUT: a mood stated by hand), GET .../next, POST .../feedback,\n"
    "GET/PUT .../profile and GET .../history\n"
    "(tracks, audio and the web page are to come).\n"
    "\n"
    "options:\n"
    "  --listen ADDR:PORT  IPv4 address and port (default 127.0.0.1:8080; port 0:\n"
    "                      any free one, printed)\n"
    "  --token TOKEN       required by every /api/ request (Authorization: Bearer\n"
    "                      TOKEN), 16 characters or more; default $EMOTUNE_TOKEN.\n"
    "                      An address outside 127.0.0.0/8 needs one.\n"
    "  --store URI         the store (default $EMOTUNE_STORE, else the LMDB store in\n"
    "                      your data folder)\n"
    "  --models DIR        the face models (default $EMOTUNE_MODELS, else models/\n"
    "                      next to the emotune executable)\n"
    "  --threads N         worker threads, 1 to 64 (default 2)\n"
    "  --max-body BYTES    the largest request body (default 10485760)\n"
    "  --max-fps N         frames a second one listener may post (more get 429),\n"
    "                      0 to 1000, 0: no limit (default 15)\n"
    "  --history-every SECONDS  a listener's steady camera mood goes into their\n"
    "                      history at most this often (a new mood at once),\n"
    "                      more than 0 and at most 86400 (default 60)\n"
    "\n"
    "exit status: 0 stopped by a signal, 2 bad command line, 3 the store, the\n"
    "models or the address unavailable\n";

typedef struct serve_args {
    const char *listen, *store, *token, *models;
    long threads;
    double max_body;
    double max_fps, history_every; /* -1: not given */
} serve_args;

/* 0, or an exit status (message printed); -1 for --help. */
static int parse_args(int argc, char **argv, serve_args *a)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'}, {"store", required_argument, NULL, 's'},
        {"token", required_argument, NULL, 't'},  {"models", required_argument, NULL, 'M'},
        {"threads", required_argument, NULL, 'T'}, {"max-body", required_argument, NULL, 'B'},
        {"max-fps", required_argument, NULL, 'F'}, {"history-every", required_argument, NULL, 'E'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    optind = 1;
    opterr = 0;
    int c;
    double v;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'l': a->listen = optarg; break;
        case 's': a->store = optarg; break;
        case 't': a->token = optarg; break;
        case 'M': a->models = optarg; break;
        case 'T':
            if (et_cli_parse_number(optarg, 1, 64, &v) || v != (long)v) {
                fprintf(stderr, "emotune serve: --threads wants a whole number from 1 to 64\n");
                return ET_EXIT_USAGE;
            }
            a->threads = (long)v;
            break;
        case 'B':
            if (et_cli_parse_number(optarg, 1024, 1e12, &v) || v != (long long)v) {
                fprintf(stderr, "emotune serve: --max-body wants a number of bytes, 1024 or "
                                "more\n");
                return ET_EXIT_USAGE;
            }
            a->max_body = v;
            break;
        case 'F':
            if (et_cli_parse_number(optarg, 0, ET_SERVER_MAX_FRAMES_PER_S, &a->max_fps)) {
                fprintf(stderr, "emotune serve: --max-fps wants a number from 0 (no limit) to "
                                "%g\n", ET_SERVER_MAX_FRAMES_PER_S);
                return ET_EXIT_USAGE;
            }
            break;
        case 'E':
            if (et_cli_parse_number(optarg, 0, 86400, &a->history_every) ||
                a->history_every <= 0) {
                fprintf(stderr, "emotune serve: --history-every wants seconds, more than 0 and "
                                "at most 86400\n");
                return ET_EXIT_USAGE;
            }
            break;
        case 'h': return -1;
        default:
            fprintf(stderr, "emotune serve: unknown or incomplete option '%s'\n\n%s",
                    argv[optind - 1], serve_usage);
            return ET_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "emotune serve: unexpected argument '%s'\n\n%s", argv[optind],
                serve_usage);
        return ET_EXIT_USAGE;
    }
    return 0;
}

/* Sleeps until SIGINT or SIGTERM. The signals are blocked here and taken
 * by sigtimedwait; but a thread made before this one blocked them (OpenBLAS
 * starts one when it loads) may take one instead, and its handler sets the
 * interrupted flag without waking this thread: so the flag is looked at
 * every second too. */
static void wait_for_signal(void)
{
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    const struct timespec tick = {.tv_sec = 1};
    while (!*et_cli_interrupted() && sigtimedwait(&block, NULL, &tick) < 0)
        ;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

int et_cli_serve(int argc, char **argv)
{
    serve_args a = {.max_fps = -1, .history_every = -1};
    int rc = parse_args(argc, argv, &a);
    if (rc) {
        if (rc < 0)
            fputs(serve_usage, stdout);
        return rc < 0 ? ET_EXIT_OK : rc;
    }
    char store_buf[4096], models_buf[4096], err[ET_ERR_MAX];
    et_server_opts o = et_server_default_opts();
    if (a.listen)
        o.listen = a.listen;
    o.store_uri = et_cli_store_uri(a.store, store_buf, sizeof store_buf);
    o.models_dir = et_cli_models_dir(a.models, models_buf, sizeof models_buf);
    o.token = a.token ? a.token : getenv("EMOTUNE_TOKEN");
    if (a.threads)
        o.threads = (int)a.threads;
    if (a.max_body)
        o.max_body = (size_t)a.max_body;
    if (a.max_fps >= 0)
        o.frames_per_s = a.max_fps;
    if (a.history_every > 0)
        o.history_every_s = a.history_every;
    et_server *s;
    et_status st = et_server_start(&o, &s, err);
    if (st != ET_OK) {
        fprintf(stderr, "emotune serve: %s\n", err);
        return st == ET_E_INVALID ? ET_EXIT_USAGE : ET_EXIT_SETUP;
    }
    const char *colon = strrchr(o.listen, ':');
    printf("emotune serve: listening on http://%.*s:%d/ (Ctrl-C to stop)\n",
           (int)(colon - o.listen), o.listen, et_server_port(s));
    fflush(stdout);
    if (o.frames_per_s > 0)
        fprintf(stderr, "emotune serve: %d workers; a listener may post %g frames a second; "
                        "a steady mood goes into the history every %g s\n",
                o.threads, o.frames_per_s, o.history_every_s);
    else
        fprintf(stderr, "emotune serve: %d workers; no limit on frames; a steady mood goes "
                        "into the history every %g s\n", o.threads, o.history_every_s);
    wait_for_signal();
    fprintf(stderr, "emotune serve: stopping\n");
    et_server_stop(s);
    return ET_EXIT_OK;
}
