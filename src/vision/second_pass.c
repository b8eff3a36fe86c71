/* Two-pass detection's second look for a face (issue 13, "small and grey
 * faces"; the default detection whichever the reader since issue 19). TinyFaceDetector was trained on faces that fill a part of the
 * picture; a tight face crop, whose face fills all of it, is mostly missed.
 * When the first pass finds nothing, the picture is shrunk into the middle of
 * a square canvas (the detector's input size) filled around it, so that the
 * face becomes a size the detector knows, and the detector runs on that
 * canvas; the boxes found are mapped back to the picture and clipped. Never
 * used with face-api detection (--expressions face-api, --detection
 * face-api). bench/find_rate.c measures the passes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vision/vision_internal.h"

/* face-api's TinyFaceDetector mean colour (tinyYolov2 meanRgb), rounded: it
 * normalises to about zero, what the network sees least of. */
static const uint8_t mean_fill[3] = {117, 115, 97};

/* The picture's longer side on the canvas, in detector input pixels, tried
 * in order until one finds a face; the canvas is the detector's input size.
 * Chosen by bench/find_rate.c --candidates at input size 416 (shrink 4.5
 * then 6): on the labelled faces used whole, of the pictures the first pass
 * missed, 91% are found by the first canvas, 96% by the two; no face on 287
 * pictures with none (README "Expression models"). */
static const double picture_sides[] = {416 / 4.5, 416 / 6.0};
#define SECOND_PASSES (sizeof picture_sides / sizeof *picture_sides)

/* At most this many faces of a canvas are mapped back (more are counted). */
#define CANVAS_FACES 16

/* Where the picture lies on the canvas, on one axis: canvas pixel c shows
 * the picture's coordinate (c - origin) * scale - before, and the canvas
 * pixels [lo, hi) show nothing but the picture. */
typedef struct canvas_axis {
    int origin;    /* the first canvas pixel of the picture's padded square */
    double scale;  /* picture pixels per canvas pixel */
    int before;    /* the square's padding before the picture (picture pixels) */
    int lo, hi;    /* canvas pixels made of picture pixels only */
} canvas_axis;

/* One axis of a picture of `extent` pixels whose padded square of `side`
 * pixels (padToSquare centred: round(diff / 2) after, the rest before) is
 * resized to `inner` pixels from canvas pixel `origin`. A resized pixel j
 * samples the square at j * side / inner and the next pixel; it is the
 * picture's only when both lie in the picture, with one pixel more to spare
 * where the square has padding (float rounding of the resize). */
static canvas_axis place_axis(int extent, int side, int inner, int origin)
{
    int diff = side - extent;
    canvas_axis a = {.origin = origin, .scale = (double)side / inner,
                     .before = diff - (int)floor(diff / 2.0 + 0.5)};
    int lo = inner, hi = 0;
    for (int j = 0; j < inner; j++) {
        int x0 = (int)floor(j * a.scale), x1 = x0 + 1 < side ? x0 + 1 : side - 1;
        if (x0 >= a.before && x1 < a.before + extent) {
            lo = j < lo ? j : lo;
            hi = j + 1;
        }
    }
    if (a.before > 0 && lo < hi)
        lo++;
    if (diff - a.before > 0 && lo < hi)
        hi--;
    if (lo >= hi) /* a picture a pixel wide: keep what there is */
        lo = 0, hi = inner > 0 ? 1 : 0;
    a.lo = origin + lo;
    a.hi = origin + hi;
    return a;
}

/* Allocates the canvas once per side. */
static et_status canvas_prepare(et_vision_ctx *ctx, int side, char *err)
{
    if (ctx->canvas.width == side)
        return ET_OK;
    et_image_free(&ctx->canvas);
    ctx->canvas.rgb = malloc((size_t)side * side * 3);
    if (!ctx->canvas.rgb)
        return et_fail(err, ET_E_NOMEM, "out of memory for a %dx%d detector canvas", side, side);
    ctx->canvas.width = ctx->canvas.height = side;
    return ET_OK;
}

static uint8_t to_byte(float v)
{
    return v <= 0.0f ? 0 : v >= 255.0f ? 255 : (uint8_t)lrintf(v);
}

/* Fills every canvas pixel outside the picture's pure rectangle: with the
 * mean colour, or with the nearest picture pixel (its edge, extended). */
static void fill_around(et_image *cv, const canvas_axis *ax, const canvas_axis *ay, et__fill fill)
{
    int side = cv->width;
    for (int y = 0; y < side; y++) {
        bool row_in = y >= ay->lo && y < ay->hi;
        int sy = y < ay->lo ? ay->lo : y >= ay->hi ? ay->hi - 1 : y;
        for (int x = 0; x < side; x++) {
            if (row_in && x >= ax->lo && x < ax->hi)
                continue;
            uint8_t *d = cv->rgb + ((size_t)y * side + x) * 3;
            if (fill == ET__FILL_MEAN) {
                memcpy(d, mean_fill, 3);
            } else {
                int sx = x < ax->lo ? ax->lo : x >= ax->hi ? ax->hi - 1 : x;
                memcpy(d, cv->rgb + ((size_t)sy * side + sx) * 3, 3);
            }
        }
    }
}

/* Draws img shrunk into the middle of ctx->canvas; *ax, *ay say where. The
 * resize is the image module's (padToSquare + bilinear), into the detector's
 * activation buffer, free between passes and larger than the picture. */
static et_status draw_canvas(et_vision_ctx *ctx, const et_image *img, const et__canvas_pass *p,
                             canvas_axis *ax, canvas_axis *ay, char *err)
{
    int side = p->input_size;
    int inner = (int)floor(side / p->shrink + 0.5);
    if (inner < 1 || inner > side)
        return et_fail(err, ET_E_INVALID, "canvas shrink %g out of range", p->shrink);
    et_status s = et__detector_prepare(ctx, side, err);
    if (s == ET_OK)
        s = canvas_prepare(ctx, side, err);
    et_image_rect all = {0, 0, img->width, img->height};
    float *small = ctx->det.a;
    if (s == ET_OK)
        s = et_image_to_square_tensor(img, all, inner, true, small, err);
    if (s != ET_OK)
        return s;
    int longer = img->width > img->height ? img->width : img->height;
    int origin = (side - inner) / 2;
    *ax = place_axis(img->width, longer, inner, origin);
    *ay = place_axis(img->height, longer, inner, origin);
    uint8_t *rgb = ctx->canvas.rgb;
    for (int y = ay->lo; y < ay->hi; y++)
        for (int x = ax->lo; x < ax->hi; x++) {
            const float *v = small + ((size_t)(y - origin) * inner + (x - origin)) * 3;
            uint8_t *d = rgb + ((size_t)y * side + x) * 3;
            for (int c = 0; c < 3; c++)
                d[c] = to_byte(v[c]);
        }
    fill_around(&ctx->canvas, ax, ay, p->fill);
    return ET_OK;
}

/* A canvas box in picture pixels, clipped to the picture; false when nothing
 * of it is left. */
static bool map_box(et_box *b, const canvas_axis *ax, const canvas_axis *ay, int w, int h)
{
    double x0 = (b->x - ax->origin) * ax->scale - ax->before;
    double y0 = (b->y - ay->origin) * ay->scale - ay->before;
    double x1 = x0 + b->width * ax->scale, y1 = y0 + b->height * ay->scale;
    x0 = fmax(x0, 0.0);
    y0 = fmax(y0, 0.0);
    x1 = fmin(x1, (double)w);
    y1 = fmin(y1, (double)h);
    if (!(x1 > x0 && y1 > y0))
        return false;
    *b = (et_box){x0, y0, x1 - x0, y1 - y0};
    return true;
}

et_status et__find_faces_on_canvas(et_vision_ctx *ctx, const et_image *img,
                                   const et__canvas_pass *p, double min_score, et_face *faces,
                                   size_t cap, size_t *n, char *err)
{
    *n = 0;
    canvas_axis ax, ay;
    et_status s = draw_canvas(ctx, img, p, &ax, &ay, err);
    et_face found[CANVAS_FACES];
    size_t count = 0;
    if (s == ET_OK)
        s = et_vision_find_faces(ctx, &ctx->canvas, p->input_size, min_score, found,
                                 CANVAS_FACES, &count, err);
    if (s != ET_OK)
        return s;
    size_t mapped = count < CANVAS_FACES ? count : CANVAS_FACES, kept = 0;
    for (size_t i = 0; i < mapped; i++) {
        if (!map_box(&found[i].box, &ax, &ay, img->width, img->height))
            continue;
        if (kept < cap)
            faces[kept] = found[i];
        kept++;
    }
    *n = kept + (count - mapped);
    return ET_OK;
}

et_status et__find_faces_again(et_vision_ctx *ctx, const et_image *img,
                               const et_detect_opts *opts, et_face *faces, size_t cap,
                               size_t *n, char *err)
{
    *n = 0;
    for (size_t i = 0; i < SECOND_PASSES && *n == 0; i++) {
        double shrink = opts->input_size / picture_sides[i];
        et__canvas_pass p = {opts->input_size, shrink > 1.0 ? shrink : 1.0, ET__FILL_MEAN};
        et_status s = et__find_faces_on_canvas(ctx, img, &p, opts->min_score, faces, cap, n, err);
        if (s != ET_OK)
            return s;
    }
    for (size_t i = 0; i < *n && i < cap; i++)
        faces[i].pass = ET_FACE_PASS_SECOND;
    return ET_OK;
}
