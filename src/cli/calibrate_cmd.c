/* emotune calibrate: pictures of the listener's own face, each labelled
 * with the expression it shows, teach emotune to read that listener
 * (listener.h, "calibration"). */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/core.h"
#include "image/image.h"
#include "listener/listener.h"
#include "vision/vision.h"

static const char calibrate_usage[] =
    "usage: emotune calibrate --expression E [OPTIONS] IMAGE...\n"
    "\n"
    "Teaches emotune your own face: each picture (JPEG, PNG or WebP) shows you\n"
    "with the expression E, and its largest face becomes one labelled example\n"
    "of your calibration. emotune keeps the face's features only, never the\n"
    "picture, in your profile; from then on your faces are read through it (by\n"
    "the server's frames of your camera; `emotune detect` never changes). At\n"
    "most 20 examples per expression: forget some first with `emotune profile\n"
    "--forget-calibration[=E]`. A picture without a face, or one that cannot\n"
    "be read, is an error and stores nothing; the other pictures still count.\n"
    "\n"
    "options:\n"
    "  --expression E     what the pictures show: neutral, happy, sad, angry,\n"
    "                     fearful, disgusted or surprised (required)\n"
    "  --listener NAME    whose face (default $EMOTUNE_LISTENER, else default)\n"
    "  --store URI        the store (default $EMOTUNE_STORE, else\n"
    "                     lmdb:~/.local/share/emotune)\n"
    "  --models DIR       face-api model folder (default $EMOTUNE_MODELS, else\n"
    "                     models/ next to emotune)\n"
    "  --json             one JSON line per picture\n"
    "\n"
    "exit status: 0 every picture stored, 1 some picture failed (no face, not\n"
    "             readable, or its expression full), 2 bad command line,\n"
    "             3 models or store unavailable\n";

typedef struct cal_args {
    const char *expression, *listener, *store, *models;
    int json;
} cal_args;

/* 1 help shown, -1 usage error (printed), 0 parsed (optind at the images). */
static int parse_args(int argc, char **argv, cal_args *a)
{
    static const struct option longopts[] = {
        {"expression", required_argument, NULL, 'e'}, {"listener", required_argument, NULL, 'L'},
        {"store", required_argument, NULL, 's'},      {"models", required_argument, NULL, 'M'},
        {"json", no_argument, NULL, 'J'},             {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'e': a->expression = optarg; break;
        case 'L': a->listener = optarg; break;
        case 's': a->store = optarg; break;
        case 'M': a->models = optarg; break;
        case 'J': a->json = 1; break;
        case 'h': fputs(calibrate_usage, stdout); return 1;
        default:
            fprintf(stderr, "emotune calibrate: unknown or incomplete option '%s'\n\n%s",
                    argv[optind - 1], calibrate_usage);
            return -1;
        }
    }
    if (!a->expression || optind >= argc) {
        fprintf(stderr, "emotune calibrate: %s\n\n%s",
                !a->expression ? "say which expression: --expression E" : "give pictures",
                calibrate_usage);
        return -1;
    }
    return 0;
}

static void print_counts(const char *path, et_expression e, const et_listener_calibration *cal,
                         int json)
{
    if (json) {
        json_t *counts = json_object();
        for (int k = 0; k < ET_EXPR_COUNT; k++)
            json_object_set_new(counts, et_vision_expression_name((et_expression)k),
                                json_integer(cal->counts[k]));
        et_cli_print_json(json_pack("{s:s, s:s, s:o, s:i}", "image", path, "expression",
                                    et_vision_expression_name(e), "counts", counts, "total",
                                    (int)cal->total));
        return;
    }
    printf("%s: stored as %s; %s now has %u of %d", path, et_vision_expression_name(e),
           et_vision_expression_name(e), cal->counts[e], ET_LISTENER_CALIB_MAX_PER_EXPR);
    printf(" (all: %u)\n", cal->total);
}

/* One picture: 0 stored, 1 failed (the reason printed). */
static int calibrate_one(et_vision_ctx *ctx, et_store *s, const char *listener, et_expression e,
                         const char *path, int json)
{
    char err[ET_ERR_MAX];
    et_image_limits limits = et_image_default_limits();
    et_image img;
    if (et_image_load(path, &limits, &img, err) != ET_OK) {
        fprintf(stderr, "emotune calibrate: %s: %s (nothing stored)\n", path, err);
        return 1;
    }
    et_listener_calib_example ex = {.expression = e, .time = et_cli_wall_time()};
    bool found = false;
    et_status st = et_vision_calibration_example(ctx, &img, ex.x, ex.faceapi, NULL, &found, err);
    et_image_free(&img);
    if (st != ET_OK) {
        fprintf(stderr, "emotune calibrate: %s: %s (nothing stored)\n", path, err);
        return 1;
    }
    if (!found) {
        fprintf(stderr, "emotune calibrate: %s: no face found (nothing stored)\n", path);
        return 1;
    }
    et_listener_calibration cal;
    if (et_listener_calib_add(s, listener, &ex, &cal, err) != ET_OK) {
        fprintf(stderr, "emotune calibrate: %s: %s\n", path, err);
        return 1;
    }
    print_counts(path, e, &cal, json);
    return 0;
}

int et_cli_calibrate(int argc, char **argv)
{
    cal_args a = {0};
    int r = parse_args(argc, argv, &a);
    if (r)
        return r > 0 ? ET_EXIT_OK : ET_EXIT_USAGE;
    char err[ET_ERR_MAX];
    et_expression e;
    const char *listener = et_cli_listener_name(a.listener);
    if (et_listener_calib_expression_parse(a.expression, &e, err) != ET_OK ||
        et_listener_check_name(listener, err) != ET_OK) {
        fprintf(stderr, "emotune calibrate: %s\n", err);
        return ET_EXIT_USAGE;
    }
    char buf[4096];
    const char *dir = et_cli_models_dir(a.models, buf, sizeof buf);
    et_vision_models *models = NULL;
    et_vision_ctx *ctx = NULL;
    if (et_vision_models_load(dir, &models, err) != ET_OK ||
        et_vision_ctx_new(models, &ctx, err) != ET_OK) {
        fprintf(stderr, "emotune calibrate: %s\n", err);
        et_vision_models_free(models);
        return ET_EXIT_SETUP;
    }
    et_store *s;
    int rc = et_cli_open_store("calibrate", a.store, &s);
    int failed = 0;
    for (int i = optind; !rc && i < argc; i++)
        failed += calibrate_one(ctx, s, listener, e, argv[i], a.json);
    if (!rc)
        et_store_close(s);
    et_vision_ctx_free(ctx);
    et_vision_models_free(models);
    return rc ? rc : failed ? ET_EXIT_FAILED : ET_EXIT_OK;
}
