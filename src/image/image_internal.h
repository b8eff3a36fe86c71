/*
 * Private to src/image: the per-format decoders and the helpers they share.
 * Messages written by these functions do not name a file; et_image_load adds
 * the path.
 */
#ifndef ET_IMAGE_INTERNAL_H
#define ET_IMAGE_INTERNAL_H

#include "image/image.h"

/* Width and height are refused above this whatever the pixel limit says: it
 * keeps every index computation comfortably inside int. */
#define ET__IMAGE_MAX_SIDE 65535

/* Checks dimensions read from a header (`format` is "JPEG", "PNG" or "WebP",
 * for the message) before anything is allocated: zero -> ET_E_CORRUPT, a side
 * over ET__IMAGE_MAX_SIDE or a pixel count over limits->max_pixels ->
 * ET_E_TOO_LARGE. */
et_status et__image_check_size(const char *format, uint64_t width, uint64_t height,
                               const et_image_limits *limits, char *err);

/* Allocates img->rgb for width x height (already checked) and sets the size.
 * ET_E_NOMEM on failure, with img left empty. */
et_status et__image_alloc(et_image *img, int width, int height, const char *format,
                          char *err);

/* Format decoders: data has already been sniffed as their format, limits is
 * never NULL, *out is empty and is filled only on success. */
et_status et__image_decode_jpeg(const uint8_t *data, size_t len,
                                const et_image_limits *limits, et_image *out, char *err);
et_status et__image_decode_png(const uint8_t *data, size_t len,
                               const et_image_limits *limits, et_image *out, char *err);
et_status et__image_decode_webp(const uint8_t *data, size_t len,
                                const et_image_limits *limits, et_image *out, char *err);

/* The EXIF Orientation (1..8) of a JPEG held in memory, from the first APP1
 * Exif segment before the first scan. Missing, malformed or out-of-range
 * values give 1 (upright): EXIF trouble never fails a decode. */
int et__image_jpeg_orientation(const uint8_t *jpeg, size_t len);

/* Turns *img upright according to an EXIF orientation (1..8; anything else is
 * treated as 1). Orientations 5..8 swap width and height. On ET_E_NOMEM *img
 * is unchanged (still owned by the caller). */
et_status et__image_apply_orientation(et_image *img, int orientation, char *err);

#endif
