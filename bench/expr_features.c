/* Writes, for every labelled face of a folder (labels.csv: image,expression;
 * pictures in images/), one tab-separated line: the label, the file name, the
 * variant ("orig" for the picture itself), the picture's source ("grey350"
 * for a 350x350 greyscale crop, "other" for everything else), face-api's
 * seven probabilities and the expression net's 256 inner features
 * (vision.h et_vision_expression_views), then the same two for the face
 * mirrored left-right as emotune's head mirrors it at run time (the net's
 * input tensor flipped), so the features a head is fitted on are the ones it
 * reads. Each picture is used whole, as one face (`emotune detect
 * --face-crop`). The input of tools/expr_cv.py, tools/expr_calib.py and
 * tools/train_expr.py.
 *
 * --augment N (issue 19) also writes N variants of each picture, each made
 * with the library's own image code towards the other source's look: a
 * 350x350 greyscale crop is mostly shrunk to 48-150 px and back (bilinear,
 * et_image_to_square_tensor, in steps of at most 2x so that it does not
 * alias) and JPEG re-encoded at a low quality (turbojpeg, decoded again by
 * et_image_decode); a colour photograph is mostly made grey; both get a
 * brightness and contrast change and a small crop that shifts the face.
 * The variant column says what was done ("aug2:grey,s72,q41,b0.91+12,c3.1.5.0").
 * Deterministic: each variant's draws come from --seed, the file name and the
 * variant number only.
 *
 * Then Human's emotion net's reading of the same region (issue 19; vision.h
 * et_vision_emotion_input and et_vision_emotion_run): its seven
 * probabilities in emotune's order (e_p_*) and its 256 features (e_f0..
 * e_f255), and the same for the face mirrored (m_e_p_*, m_e_f*): the net's
 * 64x64 input flipped left-right, as face-api's mirror flips its input
 * tensor. The models folder must hold the emotion net (emotion.json).
 *
 * --detect reads the faces that face-api's detector finds in each IMAGE
 * (et_vision_detect, face-api mode: the faces `emotune detect` reports, in
 * its order), one line each, label "-", file "IMAGE#k".
 *
 * usage: expr_features [--models DIR] [--augment N] [--seed S] FACES_DIR OUT.tsv
 *        expr_features [--models DIR] --detect OUT.tsv IMAGE... */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "image/image.h"
#include "nn/nn.h"
#include "vision/vision.h"

#define LINE_MAX_LEN 1024
#define VARIANT_MAX 96
#define GREY_SIDE 350
#define GREY_TOLERANCE 8 /* as tools/expr_head.py picture_kind */
#define MAX_AUGMENT 64
#define MAX_DETECT 64
#define SMALL_MIN 48
#define SMALL_MAX 150
#define CROP_MAX 0.08 /* of each side, at most */

/* A small deterministic generator (splitmix64). */
typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rng_next(rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double rng_unit(rng *r)
{
    return (double)(rng_next(r) >> 11) / 9007199254740992.0;
}

static int rng_int(rng *r, int lo, int hi) /* inclusive */
{
    return lo + (int)(rng_unit(r) * (hi - lo + 1));
}

static uint64_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static uint8_t clamp_byte(double v)
{
    return v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)lrint(v);
}

/* 1 for a 350x350 picture whose channels never differ by more than 8. */
static int is_grey350(const et_image *img)
{
    if (img->width != GREY_SIDE || img->height != GREY_SIDE)
        return 0;
    size_t n = (size_t)img->width * img->height;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = img->rgb + 3 * i;
        if (abs(p[0] - p[1]) > GREY_TOLERANCE || abs(p[1] - p[2]) > GREY_TOLERANCE)
            return 0;
    }
    return 1;
}

static et_status image_alloc(int w, int h, et_image *out, char *err)
{
    out->rgb = malloc((size_t)w * h * 3);
    if (!out->rgb)
        return et_fail(err, ET_E_NOMEM, "out of memory for a %dx%d picture", w, h);
    out->width = w;
    out->height = h;
    return ET_OK;
}

static void to_grey(et_image *img)
{
    size_t n = (size_t)img->width * img->height;
    for (size_t i = 0; i < n; i++) {
        uint8_t *p = img->rgb + 3 * i;
        uint8_t y = clamp_byte(0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]);
        p[0] = p[1] = p[2] = y;
    }
}

static void brighten(et_image *img, double contrast, double offset)
{
    size_t n = (size_t)img->width * img->height * 3;
    for (size_t i = 0; i < n; i++)
        img->rgb[i] = clamp_byte(contrast * (img->rgb[i] - 128.0) + 128.0 + offset);
}

/* The top-left w x h of img padded to a square (zeros right and bottom) and
 * resized to side x side, as a new picture (et_image_to_square_tensor). */
static et_status square_resize(const et_image *img, int w, int h, int side, et_image *out,
                               char *err)
{
    float *t = malloc((size_t)side * side * 3 * sizeof *t);
    if (!t)
        return et_fail(err, ET_E_NOMEM, "out of memory for a %d px square", side);
    et_image_rect r = {0, 0, w, h};
    et_status s = et_image_to_square_tensor(img, r, side, false, t, err);
    if (s == ET_OK)
        s = image_alloc(side, side, out, err);
    if (s == ET_OK)
        for (size_t i = 0; i < (size_t)side * side * 3; i++)
            out->rgb[i] = clamp_byte(t[i]);
    free(t);
    return s;
}

/* Replaces img by a copy shrunk so that its longer side is `small` (in steps
 * of at most 2x) and enlarged back to its own size. */
static et_status shrink_and_back(et_image *img, int small, char *err)
{
    int w = img->width, h = img->height, big = w > h ? w : h;
    int cur = big, cw = w, ch = h; /* the picture's part of the current square */
    et_image now = *img, next = {0};
    et_status s = ET_OK;
    while (s == ET_OK && cur > small) {
        int side = cur / 2 > small ? (cur + 1) / 2 : small;
        s = square_resize(&now, cw, ch, side, &next, err);
        if (now.rgb != img->rgb)
            et_image_free(&now);
        now = next;
        next = (et_image){0};
        cw = (int)lrint((double)w * side / big);
        ch = (int)lrint((double)h * side / big);
        cw = cw < 1 ? 1 : cw > side ? side : cw;
        ch = ch < 1 ? 1 : ch > side ? side : ch;
        cur = side;
    }
    if (s == ET_OK)
        s = square_resize(&now, cw, ch, big, &next, err);
    if (now.rgb != img->rgb)
        et_image_free(&now);
    if (s != ET_OK)
        return s;
    /* keep the picture's own w x h corner of the enlarged square */
    for (int y = 0; y < h; y++)
        memcpy(img->rgb + (size_t)y * w * 3, next.rgb + (size_t)y * big * 3, (size_t)w * 3);
    et_image_free(&next);
    return ET_OK;
}

/* Replaces img by itself JPEG-encoded at `quality` (4:2:0) and decoded. */
static et_status jpeg_again(et_image *img, int quality, char *err)
{
    tjhandle tj = tjInitCompress();
    if (!tj)
        return et_fail(err, ET_E_NOMEM, "turbojpeg: %s", tjGetErrorStr2(NULL));
    unsigned char *buf = NULL;
    unsigned long len = 0;
    et_status s = ET_OK;
    if (tjCompress2(tj, img->rgb, img->width, img->width * 3, img->height, TJPF_RGB, &buf, &len,
                    TJSAMP_420, quality, TJFLAG_ACCURATEDCT) != 0)
        s = et_fail(err, ET_E_INVALID, "turbojpeg: %s", tjGetErrorStr2(tj));
    et_image dec = {0};
    if (s == ET_OK)
        s = et_image_decode(buf, len, NULL, &dec, err);
    if (s == ET_OK) {
        et_image_free(img);
        *img = dec;
    }
    tjFree(buf);
    tjDestroy(tj);
    return s;
}

static et_status copy_image(const et_image *src, et_image *out, char *err)
{
    et_status s = image_alloc(src->width, src->height, out, err);
    if (s == ET_OK)
        memcpy(out->rgb, src->rgb, (size_t)src->width * src->height * 3);
    return s;
}

/* Variant k of a picture: *out is the changed picture, *region the part of
 * it read as the face, `what` says what was done. */
static et_status augment(const et_image *src, int grey350, rng *r, et_image *out,
                         et_image_rect *region, char *what, size_t cap, char *err)
{
    et_status s = copy_image(src, out, err);
    size_t n = strlen(what);
    int big = src->width > src->height ? src->width : src->height;
    if (s == ET_OK && !grey350 && rng_unit(r) < 0.6) {
        to_grey(out);
        n += (size_t)snprintf(what + n, cap - n, "grey,");
    }
    int small_hi = big - 1 < SMALL_MAX ? big - 1 : SMALL_MAX;
    if (s == ET_OK && small_hi >= SMALL_MIN && rng_unit(r) < (grey350 ? 0.85 : 0.35)) {
        int small = rng_int(r, SMALL_MIN, small_hi);
        s = shrink_and_back(out, small, err);
        n += (size_t)snprintf(what + n, cap - n, "s%d,", small);
    }
    if (s == ET_OK && rng_unit(r) < (grey350 ? 0.7 : 0.4)) {
        int q = grey350 ? rng_int(r, 25, 75) : rng_int(r, 30, 80);
        s = jpeg_again(out, q, err);
        n += (size_t)snprintf(what + n, cap - n, "q%d,", q);
    }
    if (s == ET_OK && rng_unit(r) < 0.6) {
        double c = 0.75 + 0.5 * rng_unit(r), b = -25 + 50 * rng_unit(r);
        brighten(out, c, b);
        n += (size_t)snprintf(what + n, cap - n, "b%.2f%+.0f,", c, b);
    }
    int cl = rng_int(r, 0, (int)(CROP_MAX * out->width)),
        cr = rng_int(r, 0, (int)(CROP_MAX * out->width)),
        ct = rng_int(r, 0, (int)(CROP_MAX * out->height)),
        cb = rng_int(r, 0, (int)(CROP_MAX * out->height));
    *region = (et_image_rect){cl, ct, out->width - cl - cr, out->height - ct - cb};
    snprintf(what + n, cap - n, "c%d.%d.%d.%d", cl, cr, ct, cb);
    return s;
}

/* The face-api probabilities and features of one view. */
static void write_view(const float probs[ET_EXPR_COUNT],
                       const float feats[ET_VISION_EXPR_FEATURES], FILE *out)
{
    for (int i = 0; i < ET_EXPR_COUNT; i++)
        fprintf(out, "\t%.9g", probs[i]);
    for (int i = 0; i < ET_VISION_EXPR_FEATURES; i++)
        fprintf(out, "\t%.9g", feats[i]);
}

/* Human's emotion net's probabilities and features of one view. */
static void write_emotion_view(const float probs[ET_EXPR_COUNT],
                               const float feats[ET_EMOTION_FEATURES], FILE *out)
{
    for (int i = 0; i < ET_EXPR_COUNT; i++)
        fprintf(out, "\t%.9g", probs[i]);
    for (int i = 0; i < ET_EMOTION_FEATURES; i++)
        fprintf(out, "\t%.9g", feats[i]);
}

/* The emotion net on region of img and on its input mirrored left-right. */
static et_status emotion_views(et_vision_ctx *ctx, const et_image *img, et_image_rect region,
                               float feats[2][ET_EMOTION_FEATURES],
                               float probs[2][ET_EXPR_COUNT], char *err)
{
    enum { side = ET_EMOTION_INPUT };
    float in[side * side], flipped[side * side];
    et_status s = et_vision_emotion_input(img, region, in, err);
    if (s != ET_OK)
        return s;
    for (int y = 0; y < side; y++)
        for (int x = 0; x < side; x++)
            flipped[y * side + x] = in[y * side + side - 1 - x];
    s = et_vision_emotion_run(ctx, in, probs[0], feats[0], err);
    if (s == ET_OK)
        s = et_vision_emotion_run(ctx, flipped, probs[1], feats[1], err);
    return s;
}

static void write_header(FILE *out)
{
    fputs("label\tfile\tvariant\tsource", out);
    const char *views[] = {"", "m_"};
    for (int v = 0; v < 2; v++) {
        for (int i = 0; i < ET_EXPR_COUNT; i++)
            fprintf(out, "\t%sp_%s", views[v], et_vision_expression_name((et_expression)i));
        for (int i = 0; i < ET_VISION_EXPR_FEATURES; i++)
            fprintf(out, "\t%sf%d", views[v], i);
    }
    for (int v = 0; v < 2; v++) {
        for (int i = 0; i < ET_EXPR_COUNT; i++)
            fprintf(out, "\t%se_p_%s", views[v], et_vision_expression_name((et_expression)i));
        for (int i = 0; i < ET_EMOTION_FEATURES; i++)
            fprintf(out, "\t%se_f%d", views[v], i);
    }
    fputc('\n', out);
}

/* One face (a region of img): both views on one line. */
static et_status write_row(et_vision_ctx *ctx, const et_image *img, et_image_rect region,
                           const char *label, const char *file, const char *variant,
                           const char *source, FILE *out, char *err)
{
    float feats[2][ET_VISION_EXPR_FEATURES], probs[2][ET_EXPR_COUNT];
    float efeats[2][ET_EMOTION_FEATURES], eprobs[2][ET_EXPR_COUNT];
    et_status s = et_vision_expression_views(ctx, img, region, feats, probs, err);
    if (s == ET_OK)
        s = emotion_views(ctx, img, region, efeats, eprobs, err);
    if (s != ET_OK)
        return s;
    fprintf(out, "%s\t%s\t%s\t%s", label, file, variant, source);
    for (int v = 0; v < 2; v++)
        write_view(probs[v], feats[v], out);
    for (int v = 0; v < 2; v++)
        write_emotion_view(eprobs[v], efeats[v], out);
    fputc('\n', out);
    return ET_OK;
}

typedef struct options {
    int augment;
    uint64_t seed;
} options;

/* One labelled picture and its variants. */
static et_status write_face(et_vision_ctx *ctx, const char *dir, const char *file,
                            const char *label, const options *o, FILE *out, char *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/images/%s", dir, file);
    et_image img = {0};
    et_status s = et_image_load(path, NULL, &img, err);
    int grey350 = s == ET_OK && is_grey350(&img);
    const char *source = grey350 ? "grey350" : "other";
    if (s == ET_OK)
        s = write_row(ctx, &img, (et_image_rect){0, 0, img.width, img.height}, label, file,
                      "orig", source, out, err);
    for (int k = 1; s == ET_OK && k <= o->augment; k++) {
        rng r = {name_hash(file) ^ (o->seed * 0x2545f4914f6cdd1dull) ^ (uint64_t)k};
        char what[VARIANT_MAX];
        snprintf(what, sizeof what, "aug%d:", k);
        et_image var = {0};
        et_image_rect region;
        s = augment(&img, grey350, &r, &var, &region, what, sizeof what, err);
        if (s == ET_OK)
            s = write_row(ctx, &var, region, label, file, what, source, out, err);
        et_image_free(&var);
    }
    et_image_free(&img);
    return s;
}

static int run_labelled(et_vision_ctx *ctx, const char *dir, const options *o, FILE *out)
{
    char path[4096], line[LINE_MAX_LEN], err[ET_ERR_MAX];
    snprintf(path, sizeof path, "%s/labels.csv", dir);
    FILE *labels = fopen(path, "r");
    if (!labels) {
        fprintf(stderr, "expr_features: cannot open %s\n", path);
        return 1;
    }
    int faces = 0, failed = 0;
    write_header(out);
    if (!fgets(line, sizeof line, labels)) /* header: image,expression */
        failed++;
    while (fgets(line, sizeof line, labels)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *comma = strchr(line, ',');
        if (!comma)
            continue;
        *comma = '\0';
        if (write_face(ctx, dir, line, comma + 1, o, out, err) != ET_OK) {
            fprintf(stderr, "expr_features: %s: %s\n", line, err);
            failed++;
        } else {
            faces++;
        }
    }
    fclose(labels);
    fprintf(stderr, "expr_features: %d faces written (%d variants each), %d failed\n", faces,
            o->augment, failed);
    return failed ? 1 : 0;
}

/* The faces face-api finds in each picture. */
static int run_detect(et_vision_ctx *ctx, char **files, int n, FILE *out)
{
    char err[ET_ERR_MAX];
    et_detect_opts opts = et_vision_default_opts();
    et_face faces[MAX_DETECT];
    int failed = 0, total = 0;
    write_header(out);
    for (int i = 0; i < n; i++) {
        et_image img = {0};
        size_t found = 0;
        et_status s = et_image_load(files[i], NULL, &img, err);
        if (s == ET_OK)
            s = et_vision_detect(ctx, &img, &opts, faces, MAX_DETECT, &found, err);
        found = found > MAX_DETECT ? MAX_DETECT : found;
        const char *source = s == ET_OK && is_grey350(&img) ? "grey350" : "other";
        for (size_t k = 0; s == ET_OK && k < found; k++) {
            char name[4200];
            snprintf(name, sizeof name, "%s#%zu", files[i], k);
            s = write_row(ctx, &img, et_vision_face_region(faces[k].box, img.width, img.height),
                          "-", name, "orig", source, out, err);
            total++;
        }
        if (s != ET_OK) {
            fprintf(stderr, "expr_features: %s: %s\n", files[i], err);
            failed++;
        }
        et_image_free(&img);
    }
    fprintf(stderr, "expr_features: %d detected faces written, %d pictures failed\n", total,
            failed);
    return failed ? 1 : 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: expr_features [--models DIR] [--augment N] [--seed S] FACES_DIR "
                    "OUT.tsv\n       expr_features [--models DIR] --detect OUT.tsv IMAGE...\n");
}

int main(int argc, char **argv)
{
    et_nn_set_blas_threads(1); /* as every emotune program: same sums as `emotune detect` */
    const char *models = "build/models";
    options o = {0, 19};
    int i = 1, detect = 0;
    for (; i < argc && !strncmp(argv[i], "--", 2); i++) {
        if (!strcmp(argv[i], "--detect")) {
            detect = 1;
        } else if (i + 1 < argc && !strcmp(argv[i], "--models")) {
            models = argv[++i];
        } else if (i + 1 < argc && !strcmp(argv[i], "--augment")) {
            o.augment = atoi(argv[++i]);
        } else if (i + 1 < argc && !strcmp(argv[i], "--seed")) {
            o.seed = strtoull(argv[++i], NULL, 10);
        } else {
            usage();
            return 2;
        }
    }
    if ((detect ? argc - i < 2 : argc - i != 2) || o.augment < 0 || o.augment > MAX_AUGMENT) {
        usage();
        return 2;
    }
    const char *out_path = detect ? argv[i] : argv[i + 1];
    char err[ET_ERR_MAX];
    FILE *out = fopen(out_path, "w");
    et_vision_models *m = NULL;
    et_vision_ctx *ctx = NULL;
    int rc = 1;
    if (!out)
        fprintf(stderr, "expr_features: cannot write %s\n", out_path);
    else if (et_vision_models_load(models, &m, err) || et_vision_ctx_new(m, &ctx, err))
        fprintf(stderr, "expr_features: %s\n", err);
    else if (!et_vision_models_have_emotion(m))
        fprintf(stderr,
                "expr_features: %s has no emotion net (%s and emotion.bin, Human's; the "
                "Makefile copies them into build/models)\n",
                models, ET_VISION_EMOTION_MODEL);
    else if (detect)
        rc = run_detect(ctx, argv + i + 1, argc - i - 1, out);
    else
        rc = run_labelled(ctx, argv[i], &o, out);
    if (out && fclose(out) != 0)
        rc = 1;
    et_vision_ctx_free(ctx);
    et_vision_models_free(m);
    return rc;
}
