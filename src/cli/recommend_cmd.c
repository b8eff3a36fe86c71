/* emotune recommend: a queue of songs for the listener's mood. */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "report/report.h"
#include "image/image.h"
#include "listener/listener.h"
#include "mood/mood.h"
#include "vision/vision.h"

#define MAX_FACES 64
#define MAX_COUNT 1000

static const char recommend_usage[] =
    "usage: emotune recommend [--mood NAME | --valence V --arousal A | --image FILE...]\n"
    "                         [--policy match|lift|calm] [--count N] [--seed S] [--json]\n"
    "                         [--peek]\n"
    "\n"
    "Chooses the next songs from your library for your mood. The mood is the one\n"
    "you give (--mood, or a point with --valence and --arousal from -1 to 1),\n"
    "or the one your face shows in the pictures (--image: the largest face of\n"
    "each), or else the newest mood in your history. A mood given or seen is\n"
    "added to your history (never the pictures).\n"
    "\n"
    "The policy (default: your profile's) sets where the queue goes: match\n"
    "stays near your mood, lift starts there and moves step by step towards a\n"
    "brighter mood, calm towards a calmer one. Each song is scored by how near\n"
    "its mood is, what you liked or skipped in this mood (emotune feedback) and\n"
    "how recently it or its artist played, then drawn at random among the\n"
    "best: no song twice within 50, not the same artist twice in a row.\n"
    "The queue is recorded as queued for your playing (in the store), so the\n"
    "next recommend, here or on another emotune sharing the store, goes on\n"
    "from it instead of repeating it; --peek only looks.\n"
    "Files shorter than 30 s (jingles, sound effects) are left out.\n"
    "\n"
    "options:\n"
    "  --mood NAME        happy, calm, sad, angry, tense, disgusted or surprised\n"
    "                     (neutral = calm, fearful = tense)\n"
    "  --valence V --arousal A   a point on the mood plane, each in [-1, 1]\n"
    "  --image FILE...    read the mood from the faces in these pictures; the\n"
    "                     other operands are pictures too\n"
    "  --policy P         match, lift or calm\n"
    "  --count N          songs in the queue, 1 to 1000 (default 10)\n"
    "  --seed S           the random draw's seed, for a repeatable queue\n"
    "                     (default: from the clock; printed)\n"
    "  --json             print the queue as JSON\n"
    "  --peek             do not record the queue: the next recommend is drawn\n"
    "                     as if this one had not been\n"
    "  --listener NAME    whose mood, feedback and profile (default\n"
    "                     $EMOTUNE_LISTENER, else default)\n"
    "  --store URI        the store (default $EMOTUNE_STORE, else\n"
    "                     lmdb:~/.local/share/emotune)\n"
    "  --models DIR       the face models for --image (default $EMOTUNE_MODELS,\n"
    "                     else models/ next to the emotune executable)\n"
    "\n"
    "exit status: 0 a queue, 1 empty library, no face or an unreadable picture,\n"
    "             2 bad command line, 3 store or models unavailable\n";

typedef struct rec_args {
    const char *store, *listener, *mood, *valence, *arousal, *policy, *models;
    long count;
    uint64_t seed;
    bool has_seed, json, image, peek;
    int first; /* first operand (pictures with --image) */
} rec_args;

/* 0, or an exit status (message printed); -1 for --help. */
static int parse_args(int argc, char **argv, rec_args *a)
{
    static const struct option longopts[] = {
        {"mood", required_argument, NULL, 'm'},    {"valence", required_argument, NULL, 'V'},
        {"arousal", required_argument, NULL, 'A'}, {"image", no_argument, NULL, 'i'},
        {"policy", required_argument, NULL, 'p'},  {"count", required_argument, NULL, 'n'},
        {"seed", required_argument, NULL, 'S'},    {"json", no_argument, NULL, 'J'},
        {"listener", required_argument, NULL, 'L'}, {"store", required_argument, NULL, 's'},
        {"models", required_argument, NULL, 'M'},  {"help", no_argument, NULL, 'h'},
        {"peek", no_argument, NULL, 'P'},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    opterr = 0;
    a->count = 10;
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': a->mood = optarg; break;
        case 'V': a->valence = optarg; break;
        case 'A': a->arousal = optarg; break;
        case 'i': a->image = true; break;
        case 'p': a->policy = optarg; break;
        case 'J': a->json = true; break;
        case 'P': a->peek = true; break;
        case 'L': a->listener = optarg; break;
        case 's': a->store = optarg; break;
        case 'M': a->models = optarg; break;
        case 'n':
            a->count = strtol(optarg, &end, 10);
            if (*end || end == optarg || a->count < 1 || a->count > MAX_COUNT) {
                fprintf(stderr, "emotune recommend: --count wants a number from 1 to %d\n",
                        MAX_COUNT);
                return ET_EXIT_USAGE;
            }
            break;
        case 'S':
            a->seed = strtoull(optarg, &end, 10);
            if (*end || end == optarg || optarg[0] == '-') {
                fprintf(stderr, "emotune recommend: --seed wants a whole number, 0 or more\n");
                return ET_EXIT_USAGE;
            }
            a->has_seed = true;
            break;
        case 'h': return -1;
        default:
            fprintf(stderr, "emotune recommend: unknown or incomplete option '%s'\n\n%s",
                    argv[optind - 1], recommend_usage);
            return ET_EXIT_USAGE;
        }
    }
    a->first = optind;
    if (a->image && optind >= argc) {
        fprintf(stderr, "emotune recommend: --image wants at least one picture\n");
        return ET_EXIT_USAGE;
    }
    if (!a->image && optind < argc) {
        fprintf(stderr, "emotune recommend: unexpected operand '%s' (pictures go with "
                        "--image)\n", argv[optind]);
        return ET_EXIT_USAGE;
    }
    if (a->image && (a->mood || a->valence || a->arousal)) {
        fprintf(stderr, "emotune recommend: give the mood or --image, not both\n");
        return ET_EXIT_USAGE;
    }
    return 0;
}

/* ---- the mood of pictures ---- */

typedef struct stills {
    double sv, sa, sw;     /* confidence-weighted sums of the faces' points */
    double evidence;       /* sum of confidence x score */
    size_t faces, smiling;
} stills;

/* The listener's face of one picture (the largest, faces come sorted so)
 * into the sums; 0, or 1 when the picture could not be read. */
static int add_picture(et_vision_ctx *ctx, const char *path, stills *acc)
{
    char err[ET_ERR_MAX];
    et_image img = {0};
    et_face faces[MAX_FACES];
    size_t n = 0;
    et_detect_opts opts = et_vision_default_opts();
    et_image_limits limits = et_image_default_limits();
    et_status st = et_image_load(path, &limits, &img, err);
    if (st == ET_OK)
        st = et_vision_detect(ctx, &img, &opts, faces, MAX_FACES, &n, err);
    et_image_free(&img);
    if (st != ET_OK) {
        fprintf(stderr, "emotune recommend: %s\n", err); /* err names the file */
        return 1;
    }
    et_mood_point p;
    if (n == 0 || et_mood_from_expressions(faces[0].expressions, &p, err) != ET_OK)
        return 0;
    double w = p.confidence > 1e-6 ? p.confidence : 1e-6;
    acc->sv += w * p.valence;
    acc->sa += w * p.arousal;
    acc->sw += w;
    acc->evidence += p.confidence * (faces[0].has_score ? faces[0].score : 1.0);
    acc->faces++;
    acc->smiling += faces[0].smiling;
    return 0;
}

/* The mood the faces in the pictures show; an exit status (printed) when
 * there is none. */
static int mood_of_pictures(const rec_args *a, int argc, char **argv, double now,
                            et_listener_mood *out)
{
    char buf[4096], err[ET_ERR_MAX];
    const char *dir = et_cli_models_dir(a->models, buf, sizeof buf);
    et_vision_models *models = NULL;
    et_vision_ctx *ctx = NULL;
    if (et_vision_models_load(dir, &models, err) != ET_OK ||
        et_vision_ctx_new(models, &ctx, err) != ET_OK) {
        fprintf(stderr, "emotune recommend: %s\n", err);
        et_vision_models_free(models);
        return ET_EXIT_SETUP;
    }
    stills acc = {0};
    int failed = 0;
    for (int i = a->first; i < argc; i++)
        failed += add_picture(ctx, argv[i], &acc);
    et_vision_ctx_free(ctx);
    et_vision_models_free(models);
    if (failed)
        return ET_EXIT_FAILED;
    if (acc.faces == 0) {
        fprintf(stderr, "emotune recommend: no face found in the picture%s: nothing "
                        "recommended (give --mood to choose without a face)\n",
                argc - a->first > 1 ? "s" : "");
        return ET_EXIT_FAILED;
    }
    memset(out, 0, sizeof *out);
    out->time = now;
    out->valence = acc.sv / acc.sw;
    out->arousal = acc.sa / acc.sw;
    out->confidence = acc.evidence / (double)acc.faces;
    out->smiling = (double)acc.smiling / (double)acc.faces;
    snprintf(out->mood, sizeof out->mood, "%s", et_mood_nearest_named(out->valence,
                                                                        out->arousal));
    snprintf(out->source, sizeof out->source, "face");
    return 0;
}

/* ---- the queue ---- */

static void print_pick(size_t k, const et_listener_track *t, const et_rec_pick *p)
{
    char va[32] = "mood unknown";
    if (t->has_point)
        snprintf(va, sizeof va, "V %+.2f A %+.2f", t->valence, t->arousal);
    printf("%3zu  %s%s%s  [%s]\n     %s  (%s)\n", k + 1, t->title, t->artist ? " - " : "",
           t->artist ? t->artist : "", va, p->reason, t->id);
}

static uint64_t clock_seed(void)
{
    double t = et_cli_wall_time();
    uint64_t x = (uint64_t)(t * 1e6) ^ ((uint64_t)getpid() << 40);
    return x % 1000000000ULL; /* short enough to type back */
}

/* Prints the drawn queue. */
static void print_queue(const et_listener_session *se, const rec_args *a, const char *listener,
                        et_rec_policy policy, const et_listener_mood *m, uint64_t seed,
                        const et_rec_pick *picks)
{
    json_t *queue = a->json ? json_array() : NULL;
    if (!a->json)
        printf("listener %s, mood %s (V %+.2f A %+.2f, %s), policy %s, seed %llu\n", listener,
               m->mood, m->valence, m->arousal, m->source, et_rec_policy_name(policy),
               (unsigned long long)seed);
    for (long k = 0; k < a->count; k++) {
        if (a->json)
            json_array_append_new(queue, et_report_pick(&se->tracks[picks[k].index], &picks[k], true));
        else
            print_pick((size_t)k, &se->tracks[picks[k].index], &picks[k]);
    }
    if (a->json)
        et_cli_print_json(json_pack(
            "{s:s, s:{s:s, s:f, s:f, s:f, s:s}, s:s, s:I, s:I, s:o}", "listener", listener,
            "mood", "name", m->mood, "valence", m->valence, "arousal", m->arousal,
            "confidence", m->confidence, "source", m->source, "policy",
            et_rec_policy_name(policy), "seed", (json_int_t)seed, "library",
            (json_int_t)se->n, "queue", queue));
}

/* Draws the queue, records it (unless --peek) and prints it; an exit
 * status. Nothing is printed when it cannot be recorded. */
static int draw_queue(et_store *s, et_listener_session *se, const rec_args *a,
                      const char *listener, et_rec_policy policy, const et_listener_mood *m,
                      uint64_t seed, double now)
{
    char err[ET_ERR_MAX];
    et_rec_pick *picks = calloc((size_t)a->count, sizeof *picks);
    if (!picks) {
        fprintf(stderr, "emotune recommend: out of memory\n");
        return ET_EXIT_FAILED;
    }
    int rc = ET_EXIT_OK;
    et_status st = et_listener_next(s, se, listener, policy, m->valence, m->arousal,
                                    (size_t)a->count, a->peek, now, picks, err);
    if (st != ET_OK) {
        fprintf(stderr, "emotune recommend: %s\n", err);
        rc = st == ET_E_UNAVAILABLE || st == ET_E_IO ? ET_EXIT_SETUP : ET_EXIT_FAILED;
    }
    if (!rc)
        print_queue(se, a, listener, policy, m, seed, picks);
    free(picks);
    return rc;
}

/* The listener's mood: stated, seen, or the newest in the history (*fresh
 * tells whether it is new and goes into the history). */
static int find_mood(const rec_args *a, int argc, char **argv, et_store *s,
                     const char *listener, double now, et_listener_mood *m, int *fresh)
{
    int rc = et_cli_stated_mood("recommend", a->mood, a->valence, a->arousal, now, m, fresh);
    if (rc || *fresh)
        return rc;
    if (a->image) {
        *fresh = 1;
        return mood_of_pictures(a, argc, argv, now, m);
    }
    char err[ET_ERR_MAX];
    bool found;
    if (et_listener_mood_latest(s, listener, m, &found, err) != ET_OK) {
        fprintf(stderr, "emotune recommend: %s\n", err);
        return ET_EXIT_SETUP;
    }
    if (!found) {
        fprintf(stderr, "emotune recommend: no mood known for listener %s yet: give --mood, "
                        "--valence/--arousal or --image\n", listener);
        return ET_EXIT_USAGE;
    }
    return 0;
}

static int run(const rec_args *a, int argc, char **argv, et_store *s, const char *listener)
{
    char err[ET_ERR_MAX];
    et_listener_profile prof;
    if (et_listener_profile_load(s, listener, &prof, err) != ET_OK) {
        fprintf(stderr, "emotune recommend: %s\n", err);
        return ET_EXIT_SETUP;
    }
    et_rec_policy policy = prof.policy;
    if (a->policy && et_rec_policy_parse(a->policy, &policy, err) != ET_OK) {
        fprintf(stderr, "emotune recommend: %s\n", err);
        return ET_EXIT_USAGE;
    }
    double now = et_cli_wall_time();
    et_listener_mood m;
    int fresh = 0;
    int rc = find_mood(a, argc, argv, s, listener, now, &m, &fresh);
    if (rc)
        return rc;
    uint64_t seed = a->has_seed ? a->seed : clock_seed();
    et_listener_session *se;
    et_status st = et_listener_session_open(s, listener, seed, &se, err);
    if (st != ET_OK) {
        fprintf(stderr, "emotune recommend: %s\n", err);
        return st == ET_E_NOT_FOUND ? ET_EXIT_FAILED : ET_EXIT_SETUP;
    }
    if (fresh && (st = et_listener_mood_add(s, &prof, &m, NULL, err)) != ET_OK) {
        fprintf(stderr, "emotune recommend: %s\n", err);
        et_listener_session_free(se);
        return ET_EXIT_SETUP;
    }
    rc = draw_queue(s, se, a, listener, policy, &m, seed, now);
    et_listener_session_free(se);
    return rc;
}

int et_cli_recommend(int argc, char **argv)
{
    rec_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc) {
        if (rc < 0)
            fputs(recommend_usage, stdout);
        return rc < 0 ? ET_EXIT_OK : rc;
    }
    const char *listener = et_cli_listener_name(a.listener);
    char err[ET_ERR_MAX];
    if (et_listener_check_name(listener, err) != ET_OK) {
        fprintf(stderr, "emotune recommend: %s\n", err);
        return ET_EXIT_USAGE;
    }
    et_store *s;
    rc = et_cli_open_store("recommend", a.store, &s);
    if (rc)
        return rc;
    rc = run(&a, argc, argv, s, listener);
    et_store_close(s);
    return rc;
}
