/* How often the detector finds a face (issue 13, "small and grey faces"): on
 * every labelled face of a folder (labels.csv, images/) used as a whole
 * picture (not --face-crop), the share of pictures where at least one face is
 * found in face-api mode (--expressions face-api: face-api's detection) and
 * with emotune's default options (two-pass detection, which looks again on a
 * canvas when the first pass finds nothing: src/vision/second_pass.c), by
 * kind of picture; and how many pictures with no face get a face, on
 * generated pictures (flat colours, noise, gradients) and on tiles of the
 * photos given with --no-face. Also the time of the second pass against one
 * first pass, on the pictures where the first finds nothing. --candidates
 * adds the canvases considered for the second pass, each alone. --crops
 * PHOTO adds tight grey crops of the photo's faces (each face face-api mode
 * finds in it, a square 1.2 times its box, grey, 150x150), counted apart.
 * Markdown on stdout.
 *
 * usage: find_rate [--models DIR] [--candidates] [--every N] [--no-face PHOTO]...
 *                  [--crops PHOTO]... FACES_DIR
 * (--every N: only every Nth labelled face, for a quicker look) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "image/image.h"
#include "nn/nn.h"
#include "vision/vision.h"
#include "vision/vision_internal.h"

#define LINE_MAX_LEN 1024
#define MAX_FACES 16
#define MAX_PHOTOS 16

/* The canvases measured with --candidates (the shipped sequence is in
 * second_pass.c). */
static const et__canvas_pass candidates[] = {
    {416, 1.0, ET__FILL_MEAN}, {224, 1.0, ET__FILL_MEAN}, {128, 1.0, ET__FILL_MEAN},
    {416, 2.0, ET__FILL_MEAN}, {416, 3.0, ET__FILL_MEAN}, {416, 3.5, ET__FILL_MEAN},
    {416, 4.0, ET__FILL_MEAN}, {416, 4.5, ET__FILL_MEAN}, {416, 5.0, ET__FILL_MEAN},
    {416, 6.0, ET__FILL_MEAN}, {416, 2.0, ET__FILL_EDGE}, {416, 4.0, ET__FILL_EDGE},
    {320, 3.0, ET__FILL_MEAN}, {224, 2.0, ET__FILL_MEAN}, {160, 1.5, ET__FILL_MEAN},
};
#define CANDIDATES (sizeof candidates / sizeof *candidates)

/* The kinds of picture the face rate is told by. */
enum { K_ALL, K_GREY, K_COLOUR, K_350, K_SMALLER, K_LARGER, K_COUNT };
static const char *kind_names[K_COUNT] = {
    "all", "greyscale", "colour", "350x350", "smaller (longer side < 350)", "larger",
};

typedef struct tally {
    int pictures, faceapi, dflt; /* pictures; with a face found in each mode */
} tally;

typedef struct bench {
    et_vision_ctx *ctx;
    bool candidates;
    int every; /* measure every Nth labelled face */
    tally kinds[K_COUNT];
    int misses;                  /* pictures where the first pass finds nothing */
    int cand_found[CANDIDATES];  /* ... where candidate i finds a face */
    tally none;                  /* pictures with no face: pictures, false faces */
    tally crops;                 /* --crops: grey crops of the photos' faces */
    int cand_false[CANDIDATES];
    double *first_ms, *second_ms; /* per first-pass miss */
    size_t timed, timed_cap;
    unsigned rng;
} bench;

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static bool is_grey(const et_image *img)
{
    size_t px = (size_t)img->width * img->height;
    for (size_t i = 0; i < px; i++) {
        const uint8_t *p = img->rgb + i * 3;
        if (abs(p[0] - p[1]) > 3 || abs(p[1] - p[2]) > 3)
            return false;
    }
    return true;
}

/* The faces of img in face-api mode (faceapi), else with the defaults. */
static et_status faces_in(bench *b, const et_image *img, bool faceapi, size_t *n, char *err)
{
    et_detect_opts o = et_vision_default_opts();
    if (faceapi)
        et_vision_opts_name_reader(&o, ET_EXPR_MODEL_FACEAPI);
    et_face faces[MAX_FACES];
    return et_vision_detect(b->ctx, img, &o, faces, MAX_FACES, n, err);
}

static et_status keep_time(bench *b, double first, double second, char *err)
{
    if (b->timed == b->timed_cap) {
        size_t cap = b->timed_cap ? b->timed_cap * 2 : 256;
        double *f = realloc(b->first_ms, cap * sizeof *f);
        if (f)
            b->first_ms = f;
        double *s = f ? realloc(b->second_ms, cap * sizeof *s) : NULL;
        if (!s)
            return et_fail(err, ET_E_NOMEM, "out of memory for the timings");
        b->second_ms = s;
        b->timed_cap = cap;
    }
    b->first_ms[b->timed] = first;
    b->second_ms[b->timed++] = second;
    return ET_OK;
}

/* Times one first pass and one second pass on a picture the first misses. */
static et_status time_passes(bench *b, const et_image *img, char *err)
{
    et_detect_opts o = et_vision_default_opts();
    et_face faces[MAX_FACES];
    size_t n;
    double t0 = now_ms();
    et_status s = et_vision_find_faces(b->ctx, img, o.input_size, o.min_score, faces, MAX_FACES,
                                       &n, err);
    double t1 = now_ms();
    if (s == ET_OK)
        s = et__find_faces_again(b->ctx, img, &o, faces, MAX_FACES, &n, err);
    double t2 = now_ms();
    return s == ET_OK ? keep_time(b, t1 - t0, t2 - t1, err) : s;
}

/* Runs every candidate on img; counts[i] += 1 where candidate i finds one. */
static et_status run_candidates(bench *b, const et_image *img, int *counts, char *err)
{
    for (size_t i = 0; i < CANDIDATES; i++) {
        et_face faces[MAX_FACES];
        size_t n;
        et_status s = et__find_faces_on_canvas(b->ctx, img, &candidates[i],
                                               ET_DETECT_DEFAULT_MIN_SCORE, faces, MAX_FACES,
                                               &n, err);
        if (s != ET_OK)
            return s;
        counts[i] += n > 0;
        fputc(n > 0 ? '1' : '0', stderr); /* per picture, for choosing sequences */
    }
    fputc('\n', stderr);
    return ET_OK;
}

static void count_kind(tally *t, size_t faceapi, size_t dflt)
{
    t->pictures++;
    t->faceapi += faceapi > 0;
    t->dflt += dflt > 0;
}

static et_status measure_face(bench *b, const et_image *img, char *err)
{
    size_t nf, ne;
    et_status s = faces_in(b, img, true, &nf, err);
    if (s == ET_OK)
        s = faces_in(b, img, false, &ne, err);
    if (s != ET_OK)
        return s;
    int longer = img->width > img->height ? img->width : img->height;
    count_kind(&b->kinds[K_ALL], nf, ne);
    count_kind(&b->kinds[is_grey(img) ? K_GREY : K_COLOUR], nf, ne);
    if (img->width == 350 && img->height == 350)
        count_kind(&b->kinds[K_350], nf, ne);
    else
        count_kind(&b->kinds[longer < 350 ? K_SMALLER : K_LARGER], nf, ne);
    if (nf > 0)
        return ET_OK;
    b->misses++;
    s = time_passes(b, img, err);
    if (s == ET_OK && b->candidates)
        s = run_candidates(b, img, b->cand_found, err);
    return s;
}

static et_status measure_no_face(bench *b, const et_image *img, char *err)
{
    size_t nf, ne;
    et_status s = faces_in(b, img, true, &nf, err);
    if (s == ET_OK)
        s = faces_in(b, img, false, &ne, err);
    if (s == ET_OK)
        count_kind(&b->none, nf, ne);
    if (s == ET_OK && b->candidates)
        s = run_candidates(b, img, b->cand_false, err);
    return s;
}

static int measure_faces(bench *b, const char *dir)
{
    char path[4096], line[LINE_MAX_LEN], err[ET_ERR_MAX];
    snprintf(path, sizeof path, "%s/labels.csv", dir);
    FILE *labels = fopen(path, "r");
    if (!labels) {
        fprintf(stderr, "find_rate: cannot open %s\n", path);
        return 1;
    }
    int failed = 0, row = 0;
    if (!fgets(line, sizeof line, labels)) /* header: image,expression */
        line[0] = '\0';
    while (fgets(line, sizeof line, labels)) {
        if (row++ % b->every != 0)
            continue;
        line[strcspn(line, ",\r\n")] = '\0';
        snprintf(path, sizeof path, "%s/images/%s", dir, line);
        et_image img = {0};
        et_status s = et_image_load(path, NULL, &img, err);
        if (s == ET_OK)
            s = measure_face(b, &img, err);
        if (s != ET_OK) {
            fprintf(stderr, "find_rate: %s: %s\n", line, err);
            failed++;
        }
        et_image_free(&img);
    }
    fclose(labels);
    return failed;
}

/* --- pictures with no face ------------------------------------------------ */

static unsigned next_random(bench *b)
{
    b->rng = b->rng * 1103515245u + 12345u;
    return (b->rng >> 16) & 0x7fff;
}

static et_status new_image(int w, int h, et_image *img, char *err)
{
    img->rgb = malloc((size_t)w * h * 3);
    if (!img->rgb)
        return et_fail(err, ET_E_NOMEM, "out of memory for a %dx%d picture", w, h);
    img->width = w;
    img->height = h;
    return ET_OK;
}

enum { G_FLAT, G_NOISE, G_BLOTCHES, G_HGRAD, G_VGRAD, G_RADIAL, G_COUNT };

/* One generated picture of kind g in colour c (RGB 0..255). */
static void paint(bench *b, et_image *img, int g, const int c[3], bool grey)
{
    int w = img->width, h = img->height;
    int cell = 8 + (int)(next_random(b) % 40); /* G_BLOTCHES: coarse noise */
    unsigned seed = next_random(b);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double t = 1.0;
            if (g == G_NOISE)
                t = (double)(next_random(b) % 256) / 255.0;
            else if (g == G_BLOTCHES)
                t = (double)(((unsigned)(x / cell) * 7919u + (unsigned)(y / cell) * 104729u +
                              seed) * 2654435761u % 256u) / 255.0;
            else if (g == G_HGRAD)
                t = (double)x / (w - 1);
            else if (g == G_VGRAD)
                t = (double)y / (h - 1);
            else if (g == G_RADIAL) {
                double dx = x - w / 2.0, dy = y - h / 2.0;
                t = 1.0 - (dx * dx + dy * dy) / (w * w / 4.0 + h * h / 4.0);
            }
            uint8_t *p = img->rgb + ((size_t)y * w + x) * 3;
            for (int k = 0; k < 3; k++) {
                int v = (int)(c[grey ? 0 : k] * t + 0.5);
                p[k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
}

static int measure_generated(bench *b)
{
    static const int colours[][3] = {
        {0, 0, 0}, {64, 64, 64}, {128, 128, 128}, {192, 192, 192}, {255, 255, 255},
        {117, 115, 97}, {224, 172, 140}, {200, 40, 40}, {40, 160, 60}, {50, 70, 200},
    };
    static const int sides[][2] = {{350, 350}, {150, 150}, {640, 480}};
    char err[ET_ERR_MAX];
    int failed = 0;
    for (size_t c = 0; c < sizeof colours / sizeof *colours; c++)
        for (int g = 0; g < G_COUNT; g++)
            for (size_t z = 0; z < sizeof sides / sizeof *sides; z++) {
                if (g != G_FLAT && colours[c][0] + colours[c][1] + colours[c][2] == 0)
                    continue; /* black: no gradient, no noise */
                et_image img = {0};
                et_status s = new_image(sides[z][0], sides[z][1], &img, err);
                if (s == ET_OK) {
                    bool grey = colours[c][0] == colours[c][1] && colours[c][1] == colours[c][2];
                    paint(b, &img, g, colours[c], grey);
                    s = measure_no_face(b, &img, err);
                }
                if (s != ET_OK) {
                    fprintf(stderr, "find_rate: generated picture: %s\n", err);
                    failed++;
                }
                et_image_free(&img);
            }
    return failed;
}

/* A side x side tile of photo at (x, y), in grey when grey is set. */
static et_status tile(const et_image *photo, int x, int y, int side, bool grey, et_image *out,
                      char *err)
{
    et_status s = new_image(side, side, out, err);
    if (s != ET_OK)
        return s;
    for (int r = 0; r < side; r++)
        for (int c = 0; c < side; c++) {
            const uint8_t *p = photo->rgb + ((size_t)(y + r) * photo->width + x + c) * 3;
            uint8_t *d = out->rgb + ((size_t)r * side + c) * 3;
            if (grey) {
                int v = (299 * p[0] + 587 * p[1] + 114 * p[2] + 500) / 1000;
                d[0] = d[1] = d[2] = (uint8_t)v;
            } else {
                memcpy(d, p, 3);
            }
        }
    return ET_OK;
}

/* The photo whole, then tiles of 350 and 150 pixels across it, each in
 * colour and grey. */
static int measure_photo(bench *b, const char *path)
{
    char err[ET_ERR_MAX];
    et_image photo = {0};
    if (et_image_load(path, NULL, &photo, err) != ET_OK) {
        fprintf(stderr, "find_rate: %s\n", err);
        return 1;
    }
    int failed = measure_no_face(b, &photo, err) != ET_OK;
    static const int sides[] = {350, 150};
    for (size_t z = 0; z < sizeof sides / sizeof *sides; z++) {
        int side = sides[z];
        if (side > photo.width || side > photo.height)
            continue;
        int step = side / 2;
        for (int y = 0; y + side <= photo.height; y += step)
            for (int x = 0; x + side <= photo.width; x += step)
                for (int grey = 0; grey < 2; grey++) {
                    et_image t = {0};
                    et_status s = tile(&photo, x, y, side, grey, &t, err);
                    if (s == ET_OK)
                        s = measure_no_face(b, &t, err);
                    failed += s != ET_OK;
                    if (s != ET_OK)
                        fprintf(stderr, "find_rate: %s tile: %s\n", path, err);
                    et_image_free(&t);
                }
    }
    et_image_free(&photo);
    return failed;
}

/* --- grey crops of a photo's faces ------------------------------------------ */

#define CROP_SIDE 150

/* The square 1.2 times the box's longer side about its centre, moved and
 * shrunk to lie in a w x h picture. */
static et_image_rect crop_square(et_box b, int w, int h)
{
    int side = (int)(1.2 * (b.width > b.height ? b.width : b.height) + 0.5);
    side = side > w ? w : side;
    side = side > h ? h : side;
    int x = (int)(b.x + b.width / 2 - side / 2.0 + 0.5), y = (int)(b.y + b.height / 2 - side / 2.0 + 0.5);
    x = x < 0 ? 0 : x + side > w ? w - side : x;
    y = y < 0 ? 0 : y + side > h ? h - side : y;
    return (et_image_rect){x, y, side, side};
}

/* region of photo as a 150x150 grey picture (luma 0.299 R + 0.587 G + 0.114 B). */
static et_status grey_crop(const et_image *photo, et_image_rect region, float *t, et_image *out,
                           char *err)
{
    et_status s = et_image_to_square_tensor(photo, region, CROP_SIDE, true, t, err);
    if (s == ET_OK)
        s = new_image(CROP_SIDE, CROP_SIDE, out, err);
    for (size_t i = 0; s == ET_OK && i < (size_t)CROP_SIDE * CROP_SIDE; i++) {
        int r = (int)(t[i * 3] + 0.5f), g = (int)(t[i * 3 + 1] + 0.5f);
        int bl = (int)(t[i * 3 + 2] + 0.5f);
        uint8_t v = (uint8_t)((299 * r + 587 * g + 114 * bl + 500) / 1000);
        out->rgb[i * 3] = out->rgb[i * 3 + 1] = out->rgb[i * 3 + 2] = v;
    }
    return s;
}

static int measure_crops(bench *b, const char *path)
{
    char err[ET_ERR_MAX];
    et_image photo = {0};
    et_detect_opts o = et_vision_default_opts();
    et_vision_opts_name_reader(&o, ET_EXPR_MODEL_FACEAPI);
    et_face faces[MAX_FACES];
    size_t n = 0;
    float *t = malloc(sizeof(float) * CROP_SIDE * CROP_SIDE * 3);
    et_status s = t ? et_image_load(path, NULL, &photo, err)
                    : et_fail(err, ET_E_NOMEM, "out of memory for a crop");
    if (s == ET_OK)
        s = et_vision_detect(b->ctx, &photo, &o, faces, MAX_FACES, &n, err);
    for (size_t i = 0; s == ET_OK && i < n && i < MAX_FACES; i++) {
        et_image crop = {0};
        s = grey_crop(&photo, crop_square(faces[i].box, photo.width, photo.height), t, &crop, err);
        size_t nf = 0, nd = 0;
        if (s == ET_OK)
            s = faces_in(b, &crop, true, &nf, err);
        if (s == ET_OK)
            s = faces_in(b, &crop, false, &nd, err);
        if (s == ET_OK)
            count_kind(&b->crops, nf, nd);
        et_image_free(&crop);
    }
    if (s != ET_OK)
        fprintf(stderr, "find_rate: %s: %s\n", path, err);
    free(t);
    et_image_free(&photo);
    return s != ET_OK;
}

/* --- report ---------------------------------------------------------------- */

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, c = *(const double *)y;
    return a < c ? -1 : a > c;
}

static double median(double *v, size_t n)
{
    if (n == 0)
        return 0.0;
    qsort(v, n, sizeof *v, cmp_double);
    return v[n / 2];
}

static double pct(int part, int whole) { return whole ? 100.0 * part / whole : 0.0; }

static void report(bench *b, int photos)
{
    puts("## Faces found in whole pictures (../shared/data/faces, not --face-crop)\n");
    puts("| pictures | count | face-api mode: a face found | default (two-pass): a face found |");
    puts("|---|---|---|---|");
    for (int k = 0; k < K_COUNT; k++) {
        const tally *t = &b->kinds[k];
        if (t->pictures)
            printf("| %s | %d | %d (%.1f%%) | %d (%.1f%%) |\n", kind_names[k], t->pictures,
                   t->faceapi, pct(t->faceapi, t->pictures), t->dflt,
                   pct(t->dflt, t->pictures));
    }
    printf("\nPictures with no face (generated flat colours, noise, blotches and gradients at "
           "350x350, 150x150 and 640x480; %d photo(s) with no face, whole and in tiles of "
           "350 and 150 pixels, colour and grey): %d pictures; a face found in %d in face-api "
           "mode, in %d with the defaults (two-pass).\n",
           photos, b->none.pictures, b->none.faceapi, b->none.dflt);
    if (b->crops.pictures)
        printf("\nGrey 150x150 crops of the faces face-api finds in the --crops photos (a "
               "square 1.2 times each box): %d crops; a face found in %d in face-api mode, in "
               "%d with the defaults (two-pass).\n",
               b->crops.pictures, b->crops.faceapi, b->crops.dflt);
    double first = median(b->first_ms, b->timed), second = median(b->second_ms, b->timed);
    printf("\nOn the %zu pictures where the first pass finds nothing: first pass %.1f ms, "
           "second pass %.1f ms (median, this core): the second pass costs %.2fx a first "
           "pass.\n", b->timed, first, second, first > 0 ? second / first : 0.0);
    if (!b->candidates)
        return;
    printf("\n### Second-pass canvases, each alone\n\n"
           "| input size | picture's longer side | fill | finds a face in the %d pictures the "
           "first pass misses | false faces in the %d no-face pictures |\n|---|---|---|---|---|\n",
           b->misses, b->none.pictures);
    for (size_t i = 0; i < CANDIDATES; i++) {
        const et__canvas_pass *c = &candidates[i];
        printf("| %d | 1/%.1f of it | %s | %d (%.1f%%) | %d |\n", c->input_size, c->shrink,
               c->shrink == 1.0 ? "-" : c->fill == ET__FILL_MEAN ? "mean" : "edge",
               b->cand_found[i], pct(b->cand_found[i], b->misses), b->cand_false[i]);
    }
}

int main(int argc, char **argv)
{
    et_nn_set_blas_threads(1); /* as every emotune program */
    const char *models = "build/models", *photos[MAX_PHOTOS], *crop_photos[MAX_PHOTOS];
    int nphotos = 0, ncrops = 0, i = 1;
    bench b = {.rng = 13, .every = 1};
    for (; i < argc - 1; i++) {
        if (!strcmp(argv[i], "--models"))
            models = argv[++i];
        else if (!strcmp(argv[i], "--candidates"))
            b.candidates = true;
        else if (!strcmp(argv[i], "--every") && atoi(argv[i + 1]) > 0)
            b.every = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-face") && nphotos < MAX_PHOTOS)
            photos[nphotos++] = argv[++i];
        else if (!strcmp(argv[i], "--crops") && ncrops < MAX_PHOTOS)
            crop_photos[ncrops++] = argv[++i];
        else
            break;
    }
    if (i != argc - 1) {
        fputs("usage: find_rate [--models DIR] [--candidates] [--every N] [--no-face PHOTO]... "
              "[--crops PHOTO]... FACES_DIR\n", stderr);
        return 2;
    }
    char err[ET_ERR_MAX];
    et_vision_models *m = NULL;
    if (et_vision_models_load(models, &m, err) != ET_OK ||
        et_vision_ctx_new(m, &b.ctx, err) != ET_OK) {
        fprintf(stderr, "find_rate: %s\n", err);
        et_vision_models_free(m);
        return 1;
    }
    int failed = measure_faces(&b, argv[i]) + measure_generated(&b);
    for (int p = 0; p < nphotos; p++)
        failed += measure_photo(&b, photos[p]);
    for (int p = 0; p < ncrops; p++)
        failed += measure_crops(&b, crop_photos[p]);
    report(&b, nphotos);
    free(b.first_ms);
    free(b.second_ms);
    et_vision_ctx_free(b.ctx);
    et_vision_models_free(m);
    return failed ? 1 : 0;
}
