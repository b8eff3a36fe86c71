/* image: format sniffing, decode dispatch, limits, file loading, PPM output. */
#include "image/image_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

et_image_limits et_image_default_limits(void)
{
    return (et_image_limits){
        .max_pixels = ET_IMAGE_DEFAULT_MAX_PIXELS,
        .max_bytes = ET_IMAGE_DEFAULT_MAX_BYTES,
    };
}

et_image_format et_image_sniff(const uint8_t *data, size_t len)
{
    if (!data)
        return ET_IMAGE_UNKNOWN;
    /* SOI followed by the 0xFF of the next marker. */
    if (len >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff)
        return ET_IMAGE_JPEG;
    if (len >= sizeof png_magic && memcmp(data, png_magic, sizeof png_magic) == 0)
        return ET_IMAGE_PNG;
    /* RIFF container, any size, of form type WEBP. */
    if (len >= 12 && memcmp(data, "RIFF", 4) == 0 && memcmp(data + 8, "WEBP", 4) == 0)
        return ET_IMAGE_WEBP;
    return ET_IMAGE_UNKNOWN;
}

const char *et_image_format_name(et_image_format f)
{
    switch (f) {
    case ET_IMAGE_JPEG:
        return "jpeg";
    case ET_IMAGE_PNG:
        return "png";
    case ET_IMAGE_WEBP:
        return "webp";
    default:
        return "unknown";
    }
}

et_status et__image_check_size(const char *format, uint64_t width, uint64_t height,
                               const et_image_limits *limits, char *err)
{
    if (width == 0 || height == 0)
        return et_fail(err, ET_E_CORRUPT, "%s header claims %llux%llu pixels", format,
                       (unsigned long long)width, (unsigned long long)height);
    if (width > ET__IMAGE_MAX_SIDE || height > ET__IMAGE_MAX_SIDE)
        return et_fail(err, ET_E_TOO_LARGE,
                       "%s header claims %llux%llu pixels; width and height are limited to %d",
                       format, (unsigned long long)width, (unsigned long long)height,
                       ET__IMAGE_MAX_SIDE);
    /* Both sides are at most 65535 here, so the product cannot overflow. */
    if (width * height > limits->max_pixels)
        return et_fail(err, ET_E_TOO_LARGE,
                       "%s header claims %llux%llu pixels, over the limit of %llu", format,
                       (unsigned long long)width, (unsigned long long)height,
                       (unsigned long long)limits->max_pixels);
    return ET_OK;
}

et_status et__image_alloc(et_image *img, int width, int height, const char *format,
                          char *err)
{
    size_t bytes = (size_t)width * (size_t)height * 3;
    uint8_t *rgb = malloc(bytes);
    if (!rgb)
        return et_fail(err, ET_E_NOMEM, "%s: cannot allocate %zu bytes for %dx%d pixels",
                       format, bytes, width, height);
    img->width = width;
    img->height = height;
    img->rgb = rgb;
    return ET_OK;
}

et_status et_image_decode(const uint8_t *data, size_t len, const et_image_limits *limits,
                          et_image *out, char *err)
{
    if (!out || (!data && len > 0))
        return et_fail(err, ET_E_INVALID, "et_image_decode: NULL argument");
    *out = (et_image){0};
    et_image_limits defaults = et_image_default_limits();
    if (!limits)
        limits = &defaults;
    switch (et_image_sniff(data, len)) {
    case ET_IMAGE_JPEG:
        return et__image_decode_jpeg(data, len, limits, out, err);
    case ET_IMAGE_PNG:
        return et__image_decode_png(data, len, limits, out, err);
    case ET_IMAGE_WEBP:
        return et__image_decode_webp(data, len, limits, out, err);
    default:
        return et_fail(err, ET_E_UNSUPPORTED, "unsupported image format (not JPEG, PNG or WebP)");
    }
}

et_status et_image_load(const char *path, const et_image_limits *limits, et_image *out,
                        char *err)
{
    if (!path || !out)
        return et_fail(err, ET_E_INVALID, "et_image_load: NULL argument");
    *out = (et_image){0};
    et_image_limits defaults = et_image_default_limits();
    if (!limits)
        limits = &defaults;
    uint8_t *data;
    size_t len;
    et_status s = et_read_file(path, limits->max_bytes, &data, &len, err);
    if (s != ET_OK)
        return s; /* et_read_file's message already names the path */
    char why[ET_ERR_MAX];
    s = et_image_decode(data, len, limits, out, why);
    free(data);
    if (s != ET_OK)
        return et_fail(err, s, "%s: %s", path, why);
    return ET_OK;
}

void et_image_free(et_image *img)
{
    if (!img)
        return;
    free(img->rgb);
    *img = (et_image){0};
}

et_status et_image_write_ppm(const et_image *img, const char *path, char *err)
{
    if (!img || !img->rgb || img->width <= 0 || img->height <= 0 || !path)
        return et_fail(err, ET_E_INVALID, "et_image_write_ppm: empty image or NULL path");
    FILE *f = fopen(path, "wb");
    if (!f)
        return et_fail(err, ET_E_IO, "%s: %s", path, strerror(errno));
    size_t bytes = (size_t)img->width * (size_t)img->height * 3;
    errno = 0;
    bool ok = fprintf(f, "P6\n%d %d\n255\n", img->width, img->height) > 0 &&
              fwrite(img->rgb, 1, bytes, f) == bytes;
    int saved = errno;
    if (fclose(f) != 0 && ok) {
        ok = false;
        saved = errno;
    }
    if (!ok)
        return et_fail(err, ET_E_IO, "%s: write failed: %s", path,
                       saved ? strerror(saved) : "short write");
    return ET_OK;
}
