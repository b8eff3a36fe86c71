/* EXIF orientation: finding the tag in a JPEG (libexif) and applying it. */
#include "image/image_internal.h"

#include <stdlib.h>
#include <string.h>

#include <libexif/exif-data.h>

enum {
    JPEG_SOS = 0xda,
    JPEG_EOI = 0xd9,
    JPEG_APP1 = 0xe1,
    JPEG_TEM = 0x01,
    JPEG_RST0 = 0xd0,
    JPEG_RST7 = 0xd7,
};

static const uint8_t exif_magic[6] = {'E', 'x', 'i', 'f', 0, 0};

/* Markers without a length field (ITU T.81 table B.1). */
static bool is_standalone_marker(uint8_t m)
{
    return m == JPEG_TEM || (m >= JPEG_RST0 && m <= JPEG_RST7);
}

/* Finds the payload of the first APP1 segment that starts "Exif\0\0", walking
 * the marker segments from SOI up to the first scan. Returns false if none. */
static bool find_exif_segment(const uint8_t *jpeg, size_t len, const uint8_t **payload,
                              size_t *size)
{
    size_t p = 2; /* after SOI */
    while (p + 4 <= len) {
        if (jpeg[p] != 0xff)
            return false;
        uint8_t marker = jpeg[p + 1];
        if (marker == 0xff) { /* fill byte before a marker */
            p++;
            continue;
        }
        if (marker == JPEG_SOS || marker == JPEG_EOI)
            return false;
        if (is_standalone_marker(marker)) {
            p += 2;
            continue;
        }
        size_t seglen = (size_t)jpeg[p + 2] << 8 | jpeg[p + 3]; /* counts itself */
        if (seglen < 2 || seglen > len - p - 2)
            return false;
        const uint8_t *body = jpeg + p + 4;
        size_t body_len = seglen - 2;
        if (marker == JPEG_APP1 && body_len >= sizeof exif_magic &&
            memcmp(body, exif_magic, sizeof exif_magic) == 0) {
            *payload = body;
            *size = body_len;
            return true;
        }
        p += 2 + seglen;
    }
    return false;
}

/* Reads IFD0's Orientation from an APP1 payload (starting "Exif\0\0"). */
static int exif_orientation(const uint8_t *payload, size_t size)
{
    ExifData *ed = exif_data_new();
    if (!ed)
        return 1;
    /* Left on, this option makes libexif "fix" the data it loads by adding
     * and rewriting tags; we only read one. */
    exif_data_unset_option(ed, EXIF_DATA_OPTION_FOLLOW_SPECIFICATION);
    exif_data_load_data(ed, payload, (unsigned int)size);
    int orientation = 1;
    ExifEntry *e = exif_content_get_entry(ed->ifd[EXIF_IFD_0], EXIF_TAG_ORIENTATION);
    if (e && e->format == EXIF_FORMAT_SHORT && e->components >= 1 && e->data &&
        e->size >= 2) {
        ExifShort v = exif_get_short(e->data, exif_data_get_byte_order(ed));
        if (v >= 1 && v <= 8)
            orientation = v;
    }
    exif_data_unref(ed);
    return orientation;
}

int et__image_jpeg_orientation(const uint8_t *jpeg, size_t len)
{
    const uint8_t *payload;
    size_t size;
    if (!find_exif_segment(jpeg, len, &payload, &size))
        return 1;
    return exif_orientation(payload, size);
}

/*
 * Where each stored pixel goes. The stored image S is w x h; the upright
 * image D is w x h for orientations 1-4 and h x w for 5-8. Per the EXIF 2.3
 * spec (tag 0x0112), with D(x, y) the displayed pixel:
 *   1: S(x, y)            2: S(w-1-x, y)        3: S(w-1-x, h-1-y)
 *   4: S(x, h-1-y)        5: S(y, x)            6: S(y, h-1-x)
 *   7: S(w-1-y, h-1-x)    8: S(w-1-y, x)
 * Inverted, stored pixel S(sx, sy) lands at D index
 *   origin + sx * step_x + sy * step_y   (in pixels),
 * which lets the copy walk S in memory order.
 */
typedef struct orient_map {
    ptrdiff_t origin, step_x, step_y;
} orient_map;

static orient_map orientation_map(int orientation, ptrdiff_t w, ptrdiff_t h)
{
    switch (orientation) {
    case 2: return (orient_map){w - 1, -1, w};
    case 3: return (orient_map){w * h - 1, -1, -w};
    case 4: return (orient_map){(h - 1) * w, 1, -w};
    case 5: return (orient_map){0, h, 1};
    case 6: return (orient_map){h - 1, h, -1};
    case 7: return (orient_map){(w - 1) * h + h - 1, -h, -1};
    case 8: return (orient_map){(w - 1) * h, -h, 1};
    default: return (orient_map){0, 1, w};
    }
}

et_status et__image_apply_orientation(et_image *img, int orientation, char *err)
{
    if (orientation < 2 || orientation > 8)
        return ET_OK;
    ptrdiff_t w = img->width, h = img->height;
    uint8_t *dst = malloc((size_t)(w * h * 3));
    if (!dst)
        return et_fail(err, ET_E_NOMEM, "JPEG: cannot allocate %td bytes to rotate the image",
                       w * h * 3);
    orient_map m = orientation_map(orientation, w, h);
    const uint8_t *src = img->rgb;
    for (ptrdiff_t sy = 0; sy < h; sy++) {
        ptrdiff_t d = m.origin + sy * m.step_y;
        for (ptrdiff_t sx = 0; sx < w; sx++, d += m.step_x, src += 3)
            memcpy(dst + d * 3, src, 3);
    }
    free(img->rgb);
    img->rgb = dst;
    if (orientation >= 5) {
        img->width = (int)h;
        img->height = (int)w;
    }
    return ET_OK;
}
