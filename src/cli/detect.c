/* emotune detect: faces and expressions of image files, as JSON lines or a
 * table. An image that cannot be read is reported on its line and the others
 * are still processed. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "image/image.h"
#include "mood/mood.h"
#include "report/report.h"
#include "vision/vision.h"

#define MAX_FACES 64

static const char detect_usage[] =
    "usage: emotune detect [OPTIONS] IMAGE...\n"
    "\n"
    "Finds the faces in each image (JPEG, PNG or WebP, recognised by content;\n"
    "JPEG EXIF orientation applied) and reads each face's expression:\n"
    "neutral, happy, sad, angry, fearful, disgusted, surprised.\n"
    "\n"
    "options:\n"
    "  --json             one JSON object per image and line, in the order given:\n"
    "                     {\"image\", \"width\", \"height\", \"detection\", \"faces\":\n"
    "                     [{\"box\": {x, y, width, height}, \"score\", \"expressions\":\n"
    "                     {...}, \"expression\", \"smiling\", \"model\", \"detection\",\n"
    "                     \"mood\": {valence, arousal, confidence, name}}]},\n"
    "                     or {\"image\", \"error\": {\"code\", \"message\"}}\n"
    "  --expressions M    which model reads the expressions: face-api (the\n"
    "                     default reader: face-api 1.7.15's) or emotune-1\n"
    "                     (experimental: calibrated, better on the labelled\n"
    "                     faces, not yet on colour photographs); each face's\n"
    "                     \"model\" says which. Naming face-api also gives\n"
    "                     face-api's detection: face-api's answer, exactly\n"
    "  --detection D      how faces are found, whatever the reader: two-pass\n"
    "                     (the default, and with emotune-1) or face-api (its\n"
    "                     one pass only); it wins over what --expressions gives\n"
    "  --input-size N     detector input size, a multiple of 32 from 128 to 608\n"
    "                     (default 416; smaller is faster, larger finds smaller faces)\n"
    "  --min-score S      keep faces whose detector score is above S, 0 < S < 1\n"
    "                     (default 0.5)\n"
    "  --face-crop        each image is already one cropped face: skip the detector,\n"
    "                     report one face whose box is the whole image (score null)\n"
    "  --max-pixels N     refuse images with more than N pixels (default 50000000)\n"
    "  --models DIR       folder with the model files (default $EMOTUNE_MODELS, else\n"
    "                     models/ next to the emotune executable)\n"
    "  -h, --help         show this help\n"
    "\n"
    "Boxes are in pixels of the upright image; faces are sorted by box area,\n"
    "largest first; \"smiling\" is true when happy is the top expression.\n"
    "With two-pass detection (the default), when the detector finds no face in\n"
    "an image it looks a second time with the image shrunk into the middle of a\n"
    "larger square, so that a tight face crop (a face filling the image) is\n"
    "found too; each face's \"detection\" says which pass found it (face-api or\n"
    "second-pass) and the image's which detection ran (two-pass, face-api, or\n"
    "face-crop). face-api detection looks once, exactly as face-api does.\n"
    "\n"
    "exit status: 0 all images read, 1 some image could not be read,\n"
    "             2 bad command line, 3 model files missing or invalid\n";

typedef struct detect_args {
    et_detect_opts opts;
    et_image_limits limits;
    const char *models;
    int json;
    bool reader_named, detection_named; /* --expressions, --detection given */
    et_expr_model reader;
    et_detection detection;
} detect_args;

/* The reader and detection the command line names, over the defaults. */
static void apply_named(detect_args *a)
{
    if (a->reader_named)
        et_vision_opts_name_reader(&a->opts, a->reader);
    if (a->detection_named)
        a->opts.detection = a->detection;
}

/* Returns -1 on a usage error (message printed), 1 for --help, 0 to go on. */
static int parse_args(int argc, char **argv, detect_args *a)
{
    enum { OPT_JSON = 1, OPT_SIZE, OPT_SCORE, OPT_CROP, OPT_MODELS, OPT_PIXELS, OPT_EXPR,
           OPT_DETECTION };
    static const struct option longopts[] = {
        {"json", no_argument, NULL, OPT_JSON},
        {"input-size", required_argument, NULL, OPT_SIZE},
        {"min-score", required_argument, NULL, OPT_SCORE},
        {"face-crop", no_argument, NULL, OPT_CROP},
        {"models", required_argument, NULL, OPT_MODELS},
        {"max-pixels", required_argument, NULL, OPT_PIXELS},
        {"expressions", required_argument, NULL, OPT_EXPR},
        {"detection", required_argument, NULL, OPT_DETECTION},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    double v;
    char err[ET_ERR_MAX];
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_JSON: a->json = 1; break;
        case OPT_CROP: a->opts.face_crop = true; break;
        case OPT_MODELS: a->models = optarg; break;
        case 'h': return 1;
        case OPT_SIZE:
            if (et_cli_parse_number(optarg, 1, 1e6, &v) || v != (int)v) {
                fprintf(stderr, "emotune detect: --input-size wants a whole number, got '%s'\n", optarg);
                return -1;
            }
            a->opts.input_size = (int)v;
            break;
        case OPT_SCORE:
            if (et_cli_parse_number(optarg, -1e9, 1e9, &v)) {
                fprintf(stderr, "emotune detect: --min-score wants a number, got '%s'\n", optarg);
                return -1;
            }
            a->opts.min_score = v;
            break;
        case OPT_EXPR:
            if (et_vision_expr_model_parse(optarg, &a->reader, err) != ET_OK) {
                fprintf(stderr, "emotune detect: --expressions: %s\n", err);
                return -1;
            }
            a->reader_named = true;
            break;
        case OPT_DETECTION:
            if (et_vision_detection_parse(optarg, &a->detection, err) != ET_OK) {
                fprintf(stderr, "emotune detect: --detection: %s\n", err);
                return -1;
            }
            a->detection_named = true;
            break;
        case OPT_PIXELS:
            if (et_cli_parse_number(optarg, 1, 1e12, &v)) {
                fprintf(stderr, "emotune detect: --max-pixels wants a positive number, got '%s'\n", optarg);
                return -1;
            }
            a->limits.max_pixels = (uint64_t)v;
            break;
        default:
            fprintf(stderr, "emotune detect: unknown or incomplete option '%s'\n", argv[optind - 1]);
            return -1;
        }
    }
    apply_named(a);
    if (et_vision_check_opts(&a->opts, err) != ET_OK) {
        fprintf(stderr, "emotune detect: %s\n", err);
        return -1;
    }
    if (optind == argc) {
        fprintf(stderr, "emotune detect: no image given\n");
        return -1;
    }
    return 0;
}

static void print_json(json_t *obj)
{
    char *s = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(9));
    if (s)
        puts(s);
    free(s);
    json_decref(obj);
}

static void report_error_json(const char *path, et_status s, const char *msg)
{
    print_json(et_report_error(path, s, msg));
}

static void report_faces_json(const char *path, const et_image *img, const et_detect_opts *o,
                              const et_face *faces, size_t n)
{
    print_json(et_report_faces(path, img, o, faces, n));
}

static void report_faces_table(const char *path, const et_image *img, const et_face *faces,
                               size_t n)
{
    printf("%s  %dx%d  %zu face%s\n", path, img->width, img->height, n, n == 1 ? "" : "s");
    for (size_t i = 0; i < n; i++) {
        const et_face *f = &faces[i];
        char score[16] = "-";
        if (f->has_score)
            snprintf(score, sizeof score, "%.2f", f->score);
        et_mood_point p = {0};
        bool has_mood = et_mood_from_expressions(f->expressions, &p, NULL) == ET_OK;
        printf("  #%zu  box %4.0f,%-4.0f %4.0fx%-4.0f  score %-4s  %-9s %5.1f%%  %-11s  mood %s%s\n",
               i + 1, f->box.x, f->box.y, f->box.width, f->box.height, score,
               et_vision_expression_name(f->top), 100.0 * f->expressions[f->top],
               f->smiling ? "smiling" : "not smiling",
               has_mood ? et_mood_nearest_named(p.valence, p.arousal) : "-",
               f->pass == ET_FACE_PASS_SECOND ? "  (second pass)" : "");
    }
}

/* Processes one image; returns 0 on success, 1 if it could not be read. */
static int detect_one(et_vision_ctx *ctx, const detect_args *a, const char *path)
{
    char err[ET_ERR_MAX];
    et_image img = {0};
    et_face faces[MAX_FACES];
    size_t n = 0;
    et_status s = et_image_load(path, &a->limits, &img, err);
    if (s == ET_OK)
        s = et_vision_detect(ctx, &img, &a->opts, faces, MAX_FACES, &n, err);
    if (s != ET_OK) {
        if (a->json)
            report_error_json(path, s, err);
        else
            printf("%s  error: %s\n", path, err);
        et_image_free(&img);
        return 1;
    }
    if (n > MAX_FACES)
        n = MAX_FACES;
    if (a->json)
        report_faces_json(path, &img, &a->opts, faces, n);
    else
        report_faces_table(path, &img, faces, n);
    fflush(stdout);
    et_image_free(&img);
    return 0;
}

int et_cli_detect(int argc, char **argv)
{
    detect_args a = {.opts = et_vision_default_opts(), .limits = et_image_default_limits()};
    int r = parse_args(argc, argv, &a);
    if (r) {
        fputs(detect_usage, r > 0 ? stdout : stderr);
        return r > 0 ? ET_EXIT_OK : ET_EXIT_USAGE;
    }
    char buf[4096], err[ET_ERR_MAX];
    const char *dir = et_cli_models_dir(a.models, buf, sizeof buf);
    et_vision_models *models;
    et_vision_ctx *ctx = NULL;
    if (et_vision_models_load(dir, &models, err) != ET_OK) {
        fprintf(stderr, "emotune detect: %s\n", err);
        return ET_EXIT_SETUP;
    }
    if (et_vision_ctx_new(models, &ctx, err) != ET_OK) {
        fprintf(stderr, "emotune detect: %s\n", err);
        et_vision_models_free(models);
        return ET_EXIT_SETUP;
    }
    et_log(ET_LOG_INFO, "emotune detect: %s convolution kernels (%s)",
           et_nn_isa_name(et_vision_ctx_kernels(ctx)->isa), ET_NN_CPU_ENV);
    int failed = 0;
    for (int i = optind; i < argc; i++)
        failed += detect_one(ctx, &a, argv[i]);
    et_vision_ctx_free(ctx);
    et_vision_models_free(models);
    return failed ? ET_EXIT_FAILED : ET_EXIT_OK;
}
