/* emotune serve: the HTTP API until SIGINT or SIGTERM. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "server/server.h"

static const char serve_usage[] =
    "usage: emotune serve [--listen ADDR:PORT] [--store URI] [--token TOKEN]\n"
    "                     [--models DIR] [--expressions MODEL] [--detection D]\n"
    "                     [--threads N]\n"
    "                     [--max-body BYTES]\n"
    "                     [--max-connections N] [--max-per-client N] [--timeout S]\n"
    "                     [--header-timeout S] [--grace S] [--metrics-public]\n"
    "                     [--music DIR]... [--scan-jobs N]\n"
    "                     [--max-fps N] [--history-every SECONDS] [--web DIR]\n"
    "\n"
    "Answers emotune's HTTP API until Ctrl-C (SIGINT) or SIGTERM, then refuses new\n"
    "connections, finishes the requests in flight (for up to --grace seconds; a\n"
    "second signal quits at once) and closes the store. The API is described at\n"
    "/api/v1/openapi.json: /healthz, /metrics, POST /api/v1/detect; a listener's\n"
    "camera and songs: POST /api/v1/listeners/NAME/frames, GET, PUT and DELETE\n"
    ".../mood (PUT: a mood stated by hand), GET .../next, POST .../feedback,\n"
    "GET/PUT .../profile, GET .../history; the tracks: GET /api/v1/tracks, .../ID,\n"
    ".../ID/cover, .../ID/audio (HTTP Range); the library: POST /api/v1/library/scan\n"
    "(GET: its progress), POST /api/v1/library/import (a catalogue as the body);\n"
    "for the page: GET /api/v1/moods, GET .../feedback; the web page itself at /.\n"
    "\n"
    "options:\n"
    "  --listen ADDR:PORT  IPv4 address and port (default 127.0.0.1:8080; port 0:\n"
    "                      any free one, printed)\n"
    "  --token TOKEN       required by every /api/ request and /metrics\n"
    "                      (Authorization: Bearer TOKEN), 16 characters or more;\n"
    "                      default $EMOTUNE_TOKEN. An address outside 127.0.0.0/8\n"
    "                      needs one. Without one, only requests naming this\n"
    "                      machine (Host: localhost, 127.x.y.z or [::1]) are answered;\n"
    "                      either way a browser's requests from another page's\n"
    "                      origin are refused (403)\n"
    "  --store URI         the store (default $EMOTUNE_STORE, else the LMDB store in\n"
    "                      your data folder)\n"
    "  --models DIR        the face models (default $EMOTUNE_MODELS, else models/\n"
    "                      next to the emotune executable)\n"
    "  --expressions M     which model reads the expressions of the pictures posted,\n"
    "                      unless a request says (?expressions=): face-api (the\n"
    "                      default reader) or emotune-1 (experimental; see\n"
    "                      emotune detect --help). Naming face-api also gives\n"
    "                      face-api's detection: face-api's answer, exactly\n"
    "  --detection D       how faces are found, unless a request says\n"
    "                      (?expressions=, ?detection=): two-pass (the default, and\n"
    "                      with emotune-1: a second look for a face that fills\n"
    "                      the picture) or face-api (its one pass only)\n"
    "  --threads N         worker threads, 1 to 64 (default 2)\n"
    "  --max-body BYTES    the largest request body (default 10485760)\n"
    "  --max-connections N connections at once (default 64); more wait their turn\n"
    "  --max-per-client N  connections at once from one address (default 16); one\n"
    "                      more is refused as it is accepted\n"
    "  --timeout S         close a connection idle, or sending too slowly, for S\n"
    "                      seconds (default 30)\n"
    "  --header-timeout S  close a connection whose request's headers have not all\n"
    "                      come S seconds after it opened or its last reply, however\n"
    "                      slowly they trickle (default 5, at most --timeout)\n"
    "  --metrics-public    /metrics without the token when one is set (by default\n"
    "                      it wants the token too)\n"
    "  --grace S           at a stop, let requests in flight finish for up to S\n"
    "                      seconds (default 10)\n"
    "  --music DIR         a music folder (repeat for more): scanned in the\n"
    "                      background when the server starts and on POST\n"
    "                      /api/v1/library/scan; new tracks are recommended\n"
    "                      without a restart\n"
    "  --scan-jobs N       a scan's analysis threads, 1 to 64 (default 1)\n"
    "  --max-fps N         frames a second one listener may post (more get 429),\n"
    "                      0 to 1000, 0: no limit (default 15)\n"
    "  --history-every SECONDS  a listener's steady camera mood goes into their\n"
    "                      history at most this often (a new mood at once),\n"
    "                      more than 0 and at most 86400 (default 60)\n"
    "  --web DIR           the web page's folder, served at / (default $EMOTUNE_WEB,\n"
    "                      else web/ next to the executable or the repository's)\n"
    "\n"
    "exit status: 0 stopped by a signal, 2 bad command line, 3 the store, the\n"
    "models or the address unavailable\n";

#define MAX_MUSIC_DIRS 64

typedef struct serve_args {
    const char *listen, *store, *token, *models, *web;
    long threads, scan_jobs;
    double max_body;
    long max_connections, max_per_client, timeout_s, header_timeout_s;
    bool metrics_public;
    double grace_s; /* -1: the default */
    const char *music[MAX_MUSIC_DIRS];
    size_t n_music;
    double max_fps, history_every; /* -1: not given */
    bool reader_named, detection_named; /* --expressions, --detection given */
    et_expr_model expressions;
    et_detection detection;
} serve_args;

/* One of the connection limits into a; non-zero (message printed) when out
 * of range. */
static int parse_limit(int opt, const char *arg, serve_args *a)
{
    double v;
    bool whole = opt != 'G';
    const char *name = opt == 'C'   ? "--max-connections"
                       : opt == 'P' ? "--max-per-client"
                       : opt == 'O' ? "--timeout"
                       : opt == 'H' ? "--header-timeout"
                                    : "--grace";
    double lo = whole ? 1 : 0, hi = opt == 'C' ? 100000 : opt == 'P' ? 100000 : 3600;
    if (et_cli_parse_number(arg, lo, hi, &v) || (whole && v != (long)v)) {
        fprintf(stderr, "emotune serve: %s wants a %s from %g to %g\n", name,
                whole ? "whole number" : "number of seconds", lo, hi);
        return 1;
    }
    if (opt == 'C')
        a->max_connections = (long)v;
    else if (opt == 'P')
        a->max_per_client = (long)v;
    else if (opt == 'O')
        a->timeout_s = (long)v;
    else if (opt == 'H')
        a->header_timeout_s = (long)v;
    else
        a->grace_s = v;
    return 0;
}

/* 0, or an exit status (message printed); -1 for --help. */
static int parse_args(int argc, char **argv, serve_args *a)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'}, {"store", required_argument, NULL, 's'},
        {"token", required_argument, NULL, 't'},  {"models", required_argument, NULL, 'M'},
        {"threads", required_argument, NULL, 'T'}, {"max-body", required_argument, NULL, 'B'},
        {"max-connections", required_argument, NULL, 'C'},
        {"max-per-client", required_argument, NULL, 'P'},
        {"timeout", required_argument, NULL, 'O'}, {"grace", required_argument, NULL, 'G'},
        {"header-timeout", required_argument, NULL, 'H'},
        {"metrics-public", no_argument, NULL, 'U'},
        {"music", required_argument, NULL, 'm'},  {"scan-jobs", required_argument, NULL, 'J'},
        {"max-fps", required_argument, NULL, 'F'}, {"history-every", required_argument, NULL, 'E'},
        {"web", required_argument, NULL, 'W'},    {"expressions", required_argument, NULL, 'X'},
        {"detection", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    optind = 1;
    opterr = 0;
    int c;
    double v;
    char err[ET_ERR_MAX];
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'l': a->listen = optarg; break;
        case 's': a->store = optarg; break;
        case 't': a->token = optarg; break;
        case 'M': a->models = optarg; break;
        case 'W': a->web = optarg; break;
        case 'X':
            if (et_vision_expr_model_parse(optarg, &a->expressions, err) != ET_OK) {
                fprintf(stderr, "emotune serve: --expressions: %s\n", err);
                return ET_EXIT_USAGE;
            }
            a->reader_named = true;
            break;
        case 'D':
            if (et_vision_detection_parse(optarg, &a->detection, err) != ET_OK) {
                fprintf(stderr, "emotune serve: --detection: %s\n", err);
                return ET_EXIT_USAGE;
            }
            a->detection_named = true;
            break;
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
        case 'U': a->metrics_public = true; break;
        case 'C': case 'P': case 'O': case 'H': case 'G':
            if (parse_limit(c, optarg, a))
                return ET_EXIT_USAGE;
            break;
        case 'm':
            if (a->n_music == MAX_MUSIC_DIRS) {
                fprintf(stderr, "emotune serve: at most %d --music folders\n", MAX_MUSIC_DIRS);
                return ET_EXIT_USAGE;
            }
            a->music[a->n_music++] = optarg;
            break;
        case 'J':
            if (et_cli_parse_number(optarg, 1, 64, &v) || v != (long)v) {
                fprintf(stderr, "emotune serve: --scan-jobs wants a whole number from 1 to "
                                "64\n");
                return ET_EXIT_USAGE;
            }
            a->scan_jobs = (long)v;
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

/* SIGINT and SIGTERM blocked (the old mask in *old): from before the server
 * starts, so that its threads inherit the mask and the signal comes to the
 * thread that waits for it. */
static void block_stop_signals(sigset_t *old)
{
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, old);
}

/* Sleeps until SIGINT or SIGTERM, taken by sigtimedwait. A thread made
 * before the signals were blocked (OpenBLAS starts one when it loads) may
 * take one instead, and its handler sets the interrupted flag without waking
 * this thread: so the flag is looked at every second too. Then a second
 * signal quits at once (the default action), while the server finishes its
 * requests. */
static void wait_for_signal(const sigset_t *old)
{
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    const struct timespec tick = {.tv_sec = 1};
    while (!*et_cli_interrupted() && sigtimedwait(&stop, NULL, &tick) < 0) {
    }
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    pthread_sigmask(SIG_SETMASK, old, NULL);
}

int et_cli_serve(int argc, char **argv)
{
    serve_args a = {.grace_s = -1, .max_fps = -1, .history_every = -1};
    int rc = parse_args(argc, argv, &a);
    if (rc) {
        if (rc < 0)
            fputs(serve_usage, stdout);
        return rc < 0 ? ET_EXIT_OK : rc;
    }
    char store_buf[4096], models_buf[4096], web_buf[4096], err[ET_ERR_MAX];
    et_server_opts o = et_server_default_opts();
    if (a.listen)
        o.listen = a.listen;
    o.store_uri = et_cli_store_uri(a.store, store_buf, sizeof store_buf);
    o.models_dir = et_cli_models_dir(a.models, models_buf, sizeof models_buf);
    o.web_dir = et_cli_web_dir(a.web, web_buf, sizeof web_buf);
    et_detect_opts see = {.model = o.expressions, .detection = o.detection};
    if (a.reader_named)
        et_vision_opts_name_reader(&see, a.expressions);
    if (a.detection_named)
        see.detection = a.detection;
    o.expressions = see.model;
    o.detection = see.detection;
    o.token = a.token ? a.token : getenv("EMOTUNE_TOKEN");
    if (a.threads)
        o.threads = (int)a.threads;
    if (a.max_body)
        o.max_body = (size_t)a.max_body;
    if (a.max_connections)
        o.max_connections = (unsigned)a.max_connections;
    if (a.max_per_client)
        o.max_per_client = (unsigned)a.max_per_client;
    if (a.timeout_s)
        o.timeout_s = (unsigned)a.timeout_s;
    if (a.header_timeout_s)
        o.header_timeout_s = (unsigned)a.header_timeout_s;
    o.metrics_public = a.metrics_public;
    if (a.grace_s >= 0)
        o.grace_s = a.grace_s;
    sigset_t old;
    block_stop_signals(&old);
    o.music_dirs = a.music;
    o.n_music_dirs = a.n_music;
    o.scan_jobs = (int)a.scan_jobs;
    if (a.max_fps >= 0)
        o.frames_per_s = a.max_fps;
    if (a.history_every > 0)
        o.history_every_s = a.history_every;
    et_server *s;
    et_status st = et_server_start(&o, &s, err);
    if (st != ET_OK) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        fprintf(stderr, "emotune serve: %s\n", err);
        return st == ET_E_INVALID ? ET_EXIT_USAGE : ET_EXIT_SETUP;
    }
    const char *colon = strrchr(o.listen, ':');
    printf("emotune: listening on http://%.*s:%d\n", (int)(colon - o.listen), o.listen,
           et_server_port(s));
    fflush(stdout);
    if (o.frames_per_s > 0)
        fprintf(stderr, "emotune serve: %d workers; a listener may post %g frames a second; "
                        "a steady mood goes into the history every %g s\n",
                o.threads, o.frames_per_s, o.history_every_s);
    else
        fprintf(stderr, "emotune serve: %d workers; no limit on frames; a steady mood goes "
                        "into the history every %g s\n", o.threads, o.history_every_s);
    wait_for_signal(&old);
    et_server_quiesce(s);
    fprintf(stderr, "emotune serve: stopping: new connections refused, finishing the requests "
                    "in flight (up to %g s)\n", o.grace_s);
    unsigned cut = et_server_stop(s);
    if (cut)
        fprintf(stderr, "emotune serve: stopped: %u request%s cut at the end of the grace "
                        "period; store closed\n", cut, cut == 1 ? "" : "s");
    else
        fprintf(stderr, "emotune serve: stopped cleanly: every request finished, store closed\n");
    return ET_EXIT_OK;
}
