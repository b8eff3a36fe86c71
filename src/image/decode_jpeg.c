/* JPEG decoding with libjpeg-turbo's TurboJPEG API, then EXIF orientation. */
#include "image/image_internal.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <turbojpeg.h>

/* The one libjpeg warning that leaves every pixel intact (see below). */
static int harmless_warning(tjhandle tj)
{
    return tjGetErrorCode(tj) == TJERR_WARNING &&
           strstr(tjGetErrorStr2(tj), "extraneous bytes before marker") != NULL;
}

/*
 * Decodes the pixels into img (already allocated for the header's size).
 * Flags 0: the accurate integer DCT and smooth ("fancy") upsampling, the
 * decode other libjpeg-turbo users get by default.
 *
 * A libjpeg warning fails the decode, with one exception. For a truncated
 * file libjpeg warns "Premature end of JPEG file" and returns an image whose
 * missing part is grey; corrupt entropy data likewise yields garbage with only
 * a warning. We would rather refuse such a picture than analyse pixels that
 * are not there. But "N extraneous bytes before marker" (junk between
 * segments, e.g. padding some cameras and editors leave before EOI) leaves
 * every pixel intact, and refusing those photos would refuse real users'.
 */
static et_status decompress(tjhandle tj, const uint8_t *data, size_t len, et_image *img,
                            char *err)
{
    if (tjDecompress2(tj, data, (unsigned long)len, img->rgb, img->width,
                      img->width * 3, img->height, TJPF_RGB, 0) == 0)
        return ET_OK;
    const char *why = tjGetErrorStr2(tj);
    if (harmless_warning(tj))
        return ET_OK;
    if (tjGetErrorCode(tj) == TJERR_WARNING)
        return et_fail(err, ET_E_CORRUPT, "JPEG: corrupt or truncated data (%s)", why);
    return et_fail(err, ET_E_CORRUPT, "JPEG: %s", why);
}

static et_status decode_with(tjhandle tj, const uint8_t *data, size_t len,
                             const et_image_limits *limits, et_image *out, char *err)
{
    int width = 0, height = 0, subsamp, colorspace;
    if (tjDecompressHeader3(tj, data, (unsigned long)len, &width, &height, &subsamp,
                            &colorspace) != 0 &&
        !(harmless_warning(tj) && width > 0 && height > 0))
        return et_fail(err, ET_E_CORRUPT, "JPEG: %s", tjGetErrorStr2(tj));
    /* libjpeg-turbo has no CMYK -> RGB conversion. */
    if (colorspace == TJCS_CMYK || colorspace == TJCS_YCCK)
        return et_fail(err, ET_E_UNSUPPORTED, "JPEG: CMYK images are not supported");
    et_status s = et__image_check_size("JPEG", (uint64_t)width, (uint64_t)height, limits, err);
    if (s != ET_OK)
        return s;
    et_image img = {0};
    s = et__image_alloc(&img, width, height, "JPEG", err);
    if (s != ET_OK)
        return s;
    s = decompress(tj, data, len, &img, err);
    if (s == ET_OK)
        s = et__image_apply_orientation(&img, et__image_jpeg_orientation(data, len), err);
    if (s != ET_OK) {
        et_image_free(&img);
        return s;
    }
    *out = img;
    return ET_OK;
}

et_status et__image_decode_jpeg(const uint8_t *data, size_t len,
                                const et_image_limits *limits, et_image *out, char *err)
{
#if SIZE_MAX > ULONG_MAX
    /* TurboJPEG takes the size as unsigned long (32 bits on LLP64). */
    if (len > ULONG_MAX)
        return et_fail(err, ET_E_TOO_LARGE, "JPEG: %zu bytes is too large", len);
#endif
    tjhandle tj = tjInitDecompress();
    if (!tj)
        return et_fail(err, ET_E_NOMEM, "JPEG: cannot create a decoder (%s)",
                       tjGetErrorStr2(NULL));
    et_status s = decode_with(tj, data, len, limits, out, err);
    tjDestroy(tj);
    return s;
}
