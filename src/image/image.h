/*
 * image: decode JPEG, PNG and WebP by content into 8-bit RGB, with JPEG EXIF
 * orientation applied, and turn a region of an image into the square float
 * tensor a network sees (face-api's padToSquare + tf.image.resizeBilinear).
 *
 * Thread-safety: all functions are reentrant; an et_image may be read from
 * several threads at once.
 */
#ifndef ET_IMAGE_H
#define ET_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* Default limits: a header claiming more pixels is refused before any pixel
 * buffer is allocated; a file larger than the byte limit is not read. */
#define ET_IMAGE_DEFAULT_MAX_PIXELS (50u * 1000u * 1000u)
#define ET_IMAGE_DEFAULT_MAX_BYTES ((size_t)256 << 20)

typedef enum et_image_format {
    ET_IMAGE_UNKNOWN = 0,
    ET_IMAGE_JPEG,
    ET_IMAGE_PNG,
    ET_IMAGE_WEBP,
} et_image_format;

/* A decoded picture: packed RGB, 3 bytes per pixel, rows of width*3 bytes,
 * top row first. `rgb` is owned by the image; free with et_image_free. */
typedef struct et_image {
    int width;
    int height;
    uint8_t *rgb;
} et_image;

typedef struct et_image_limits {
    uint64_t max_pixels; /* width*height above this: ET_E_TOO_LARGE */
    size_t max_bytes;    /* et_image_load only: file size above this: ET_E_TOO_LARGE */
} et_image_limits;

/* The defaults above, for callers that have no configuration. */
et_image_limits et_image_default_limits(void);

/* Recognises the format from the first bytes (never from a file name). */
et_image_format et_image_sniff(const uint8_t *data, size_t len);

/* "jpeg", "png", "webp" or "unknown". */
const char *et_image_format_name(et_image_format f);

/*
 * Decodes an encoded image held in memory into *out (which must be zeroed or
 * freed; on error it is left empty). JPEG EXIF orientation (tags 1..8) is
 * applied so that *out is upright. PNG of any bit depth, palette, grey and
 * alpha is converted to 8-bit RGB (alpha dropped, 16-bit reduced to 8-bit).
 * Errors: ET_E_UNSUPPORTED (not JPEG/PNG/WebP), ET_E_CORRUPT (truncated,
 * malformed), ET_E_TOO_LARGE (pixel count over limits->max_pixels, checked from
 * the header before allocating), ET_E_NOMEM. limits may be NULL for defaults.
 *
 * Details: the format is recognised by its magic bytes only. JPEG is the
 * accurate libjpeg-turbo decode (no fast DCT or upsampling); a libjpeg
 * warning (truncated file, corrupt entropy data) is ET_E_CORRUPT rather than a
 * partly grey picture, except "extraneous bytes before marker" (junk between
 * segments, pixels intact), which is accepted; CMYK JPEG is ET_E_UNSUPPORTED; malformed EXIF is
 * ignored (orientation 1). PNG alpha and tRNS are dropped without compositing,
 * 16-bit samples keep their high byte, gamma and ICC profiles are ignored, and
 * a file cut anywhere before IEND is ET_E_CORRUPT. WebP alpha is dropped too;
 * animated WebP is ET_E_UNSUPPORTED. Width and height above 65535 are
 * ET_E_TOO_LARGE whatever the limits; a zero side is ET_E_CORRUPT.
 */
et_status et_image_decode(const uint8_t *data, size_t len, const et_image_limits *limits,
                          et_image *out, char *err);

/* Reads a file (refusing more than limits->max_bytes) and decodes it. The
 * error message names the path. */
et_status et_image_load(const char *path, const et_image_limits *limits, et_image *out,
                        char *err);

/* Frees the pixels and zeroes *img. Safe on a zeroed or already freed image. */
void et_image_free(et_image *img);

/* A rectangle of whole pixels inside an image. */
typedef struct et_image_rect {
    int x, y, width, height;
} et_image_rect;

/*
 * Writes the network input for a region of `img` into dst (size*size*3 floats,
 * NHWC, values 0..255): the region is padded with zeros to a square and then
 * resized bilinearly to size x size, exactly as face-api's padToSquare followed
 * by tf.image.resizeBilinear(alignCorners=false, halfPixelCenters=false).
 * With center=false the padding goes after the image (right or bottom), with
 * center=true it is split, round(diff/2) after and the rest before, as
 * padToSquare(isCenterImage). When the padded square already has the target
 * size, the pixels are copied unchanged. The region must lie inside the image
 * and have positive size, and size must be in 1..65535 (ET_E_INVALID
 * otherwise). The result is bit for bit what tfjs-backend-wasm 4.22.0 computes
 * (float32 arithmetic, see square.c). It does not allocate for sizes up
 * to 1024; above, ET_E_NOMEM if its column table cannot be allocated.
 */
et_status et_image_to_square_tensor(const et_image *img, et_image_rect region, int size,
                                    bool center, float *dst, char *err);

/* Writes img as a binary PPM (P6) file. For tests and debugging tools. */
et_status et_image_write_ppm(const et_image *img, const char *path, char *err);

#endif
