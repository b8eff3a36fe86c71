/* WebP decoding with libwebp (lossy, lossless, extended; not animated). */
#include "image/image_internal.h"

#include <webp/decode.h>

static const char *vp8_status_text(VP8StatusCode s)
{
    switch (s) {
    case VP8_STATUS_NOT_ENOUGH_DATA:
        return "truncated data";
    case VP8_STATUS_BITSTREAM_ERROR:
        return "corrupt bitstream";
    case VP8_STATUS_UNSUPPORTED_FEATURE:
        return "unsupported feature";
    case VP8_STATUS_OUT_OF_MEMORY:
        return "out of memory";
    case VP8_STATUS_INVALID_PARAM:
        return "invalid parameter";
    default:
        return "decoding failed";
    }
}

static et_status fail_vp8(VP8StatusCode s, char *err)
{
    et_status code = s == VP8_STATUS_OUT_OF_MEMORY       ? ET_E_NOMEM
                     : s == VP8_STATUS_UNSUPPORTED_FEATURE ? ET_E_UNSUPPORTED
                                                           : ET_E_CORRUPT;
    return et_fail(err, code, "WebP: %s", vp8_status_text(s));
}

/* WebPDecodeRGBInto's work (RGB into our buffer, alpha dropped without
 * compositing) through WebPDecode, which also says why it failed. */
static et_status decode_into(const uint8_t *data, size_t len, et_image *img, char *err)
{
    WebPDecoderConfig config;
    if (!WebPInitDecoderConfig(&config))
        return et_fail(err, ET_E_UNSUPPORTED, "WebP: library version mismatch");
    config.output.colorspace = MODE_RGB;
    config.output.is_external_memory = 1;
    config.output.u.RGBA.rgba = img->rgb;
    config.output.u.RGBA.stride = img->width * 3;
    config.output.u.RGBA.size = (size_t)img->width * (size_t)img->height * 3;
    VP8StatusCode s = WebPDecode(data, len, &config);
    WebPFreeDecBuffer(&config.output); /* frees nothing of ours: external memory */
    return s == VP8_STATUS_OK ? ET_OK : fail_vp8(s, err);
}

et_status et__image_decode_webp(const uint8_t *data, size_t len,
                                const et_image_limits *limits, et_image *out, char *err)
{
    WebPBitstreamFeatures features;
    VP8StatusCode vs = WebPGetFeatures(data, len, &features);
    if (vs != VP8_STATUS_OK)
        return fail_vp8(vs, err);
    if (features.has_animation)
        return et_fail(err, ET_E_UNSUPPORTED, "WebP: animated images are not supported");
    et_status s = et__image_check_size("WebP", (uint64_t)features.width,
                                       (uint64_t)features.height, limits, err);
    if (s != ET_OK)
        return s;
    et_image img = {0};
    s = et__image_alloc(&img, features.width, features.height, "WebP", err);
    if (s != ET_OK)
        return s;
    s = decode_into(data, len, &img, err);
    if (s != ET_OK) {
        et_image_free(&img);
        return s;
    }
    *out = img;
    return ET_OK;
}
