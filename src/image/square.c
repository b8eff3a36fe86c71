/*
 * The network input of a region: face-api 1.7.15's NetInput.toBatchTensor
 * (src/dom/NetInput.ts) on a tensor input, i.e. padToSquare
 * (src/ops/padToSquare.ts) followed, when the square is not already the
 * target size, by tf.image.resizeBilinear(alignCorners=false,
 * halfPixelCenters=false).
 *
 * On the tfjs wasm backend (4.22.0, tfjs-backend-wasm/src/cc/kernels/
 * ResizeBilinear.cc) that resize is XNNPACK's resize-bilinear-nhwc-f32 with
 * XNN_FLAG_TENSORFLOW_LEGACY_MODE (XNNPACK 5e8033a7, src/indirection.c
 * xnn_indirection_init_resize_bilinear2d_hwc_f32 and src/f32-ibilinear/).
 * In float32 throughout, for an input side `in` and output side `out`:
 *   scale  = (float)in / (float)out
 *   src    = (float)o * scale             (o = output row or column)
 *   lo     = (int)src,  hi = min(lo + 1, in - 1),  alpha = src - (float)lo
 *   top    = tl + (tr - tl) * alpha_x,  bottom = bl + (br - bl) * alpha_x
 *   result = top + (bottom - top) * alpha_y
 * with every operation rounded to float (wasm has no fused multiply-add).
 * We reproduce that bit for bit, sampling a virtual padded square (zeros
 * outside the region) instead of building it.
 */
#include "image/image_internal.h"

#include <float.h>
#include <stdlib.h>

/* Each float operation must round to float, as in wasm: no excess precision
 * (x87) and no contraction into FMA (-std=c11 keeps GCC from contracting;
 * the pragma does it for clang). */
#if FLT_EVAL_METHOD != 0
#error "square.c needs FLT_EVAL_METHOD == 0 to match the wasm float arithmetic"
#endif
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

/* One output coordinate on one axis: the two source coordinates inside the
 * region (-1 where the padded square has a padding zero) and the weight of
 * the second. */
typedef struct tap {
    int lo, hi;
    float alpha;
} tap;

/* How padToSquare places the region in its square, on one axis. */
typedef struct axis {
    int side;   /* the square's side: max(width, height) of the region */
    int before; /* zeros before the region on this axis */
    int extent; /* the region's size on this axis */
} axis;

static const uint8_t zero_pixel[3] = {0, 0, 0};

static int region_coord(const axis *a, int padded)
{
    int c = padded - a->before;
    return c >= 0 && c < a->extent ? c : -1;
}

static tap make_tap(const axis *a, float scale, int o)
{
    float src = (float)o * scale;
    int lo = (int)src;
    int hi = lo + 1 < a->side - 1 ? lo + 1 : a->side - 1;
    return (tap){region_coord(a, lo), region_coord(a, hi), src - (float)lo};
}

/*
 * padToSquare: dimDiff = |h - w|; paddingAmount = Math.round(dimDiff * 0.5)
 * zeros are appended after the image when centred (all dimDiff otherwise) and
 * the rest, dimDiff - paddingAmount, is prepended. Math.round rounds halves
 * up, so centred padding puts ceil(diff/2) after and floor(diff/2) before.
 */
static void pad_to_square(int width, int height, bool center, axis *x, axis *y)
{
    int side = width > height ? width : height;
    int diff = side - (width < height ? width : height);
    int before = center ? diff / 2 : 0;
    *x = (axis){side, width < height ? before : 0, width};
    *y = (axis){side, height < width ? before : 0, height};
}

static const uint8_t *pixel(const uint8_t *row, int x)
{
    return row && x >= 0 ? row + (size_t)x * 3 : zero_pixel;
}

static const uint8_t *region_row(const et_image *img, et_image_rect r, int y)
{
    if (y < 0)
        return NULL;
    return img->rgb + ((size_t)(r.y + y) * (size_t)img->width + (size_t)r.x) * 3;
}

/* The square already has the target size: the pixels and zeros as floats. */
static void copy_square(const et_image *img, et_image_rect r, const axis *ax, const axis *ay,
                        float *dst)
{
    for (int oy = 0; oy < ay->side; oy++) {
        const uint8_t *row = region_row(img, r, region_coord(ay, oy));
        for (int ox = 0; ox < ax->side; ox++) {
            const uint8_t *p = pixel(row, region_coord(ax, ox));
            for (int c = 0; c < 3; c++)
                *dst++ = (float)p[c];
        }
    }
}

/* One output pixel, in exactly XNNPACK's order of float operations. */
static void lerp_pixel(const uint8_t *tl, const uint8_t *tr, const uint8_t *bl,
                       const uint8_t *br, float alpha_x, float alpha_y, float *dst)
{
    for (int c = 0; c < 3; c++) {
        float top = (float)tl[c] + ((float)tr[c] - (float)tl[c]) * alpha_x;
        float bottom = (float)bl[c] + ((float)br[c] - (float)bl[c]) * alpha_x;
        dst[c] = top + (bottom - top) * alpha_y;
    }
}

#define SQUARE_STACK_TAPS 1024

/* The scale is the same on both axes: the square's side over the output's. */
static et_status resize_square(const et_image *img, et_image_rect r, const axis *ax,
                               const axis *ay, int size, float *dst, char *err)
{
    /* The networks' sizes (112, up to 608) use a table on the stack, so a
     * frame costs no heap allocation; only unusual sizes go to the heap. */
    tap stack_taps[SQUARE_STACK_TAPS];
    tap *xtaps = size <= SQUARE_STACK_TAPS ? stack_taps : malloc(sizeof *xtaps * (size_t)size);
    if (!xtaps)
        return et_fail(err, ET_E_NOMEM, "square tensor: cannot allocate %d column taps", size);
    float scale = (float)ax->side / (float)size;
    for (int ox = 0; ox < size; ox++)
        xtaps[ox] = make_tap(ax, scale, ox);
    for (int oy = 0; oy < size; oy++) {
        tap ty = make_tap(ay, scale, oy);
        const uint8_t *top = region_row(img, r, ty.lo);
        const uint8_t *bottom = region_row(img, r, ty.hi);
        for (int ox = 0; ox < size; ox++, dst += 3) {
            const tap *tx = &xtaps[ox];
            lerp_pixel(pixel(top, tx->lo), pixel(top, tx->hi), pixel(bottom, tx->lo),
                       pixel(bottom, tx->hi), tx->alpha, ty.alpha, dst);
        }
    }
    if (xtaps != stack_taps)
        free(xtaps);
    return ET_OK;
}

static bool region_is_valid(const et_image *img, et_image_rect r)
{
    return r.x >= 0 && r.y >= 0 && r.width > 0 && r.height > 0 &&
           r.x <= img->width - r.width && r.y <= img->height - r.height;
}

et_status et_image_to_square_tensor(const et_image *img, et_image_rect region, int size,
                                    bool center, float *dst, char *err)
{
    if (!img || !img->rgb || img->width <= 0 || img->height <= 0 || !dst)
        return et_fail(err, ET_E_INVALID, "square tensor: empty image or NULL output");
    if (size <= 0 || size > ET__IMAGE_MAX_SIDE)
        return et_fail(err, ET_E_INVALID, "square tensor: size %d is not in 1..%d", size,
                       ET__IMAGE_MAX_SIDE);
    if (!region_is_valid(img, region))
        return et_fail(err, ET_E_INVALID,
                       "square tensor: region %dx%d at (%d,%d) is not inside the %dx%d image",
                       region.width, region.height, region.x, region.y, img->width,
                       img->height);
    axis ax, ay;
    pad_to_square(region.width, region.height, center, &ax, &ay);
    if (ax.side == size) {
        copy_square(img, region, &ax, &ay, dst);
        return ET_OK;
    }
    return resize_square(img, region, &ax, &ay, size, dst, err);
}
