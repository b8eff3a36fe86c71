/* Tests of src/image: decoding by content, limits, EXIF orientation, and the
 * padToSquare + resizeBilinear network input. Fixtures are encoded here from
 * synthetic pixel patterns with the libraries' own encoders. */
#include "support.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>
#include <turbojpeg.h>
#include <webp/encode.h>

#include "image/image.h"

/* --- fixtures --------------------------------------------------------------- */

typedef struct blob {
    uint8_t *data;
    size_t len, cap;
} blob;

static void blob_append(blob *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->data = realloc(b->data, b->cap);
        assert_non_null(b->data);
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static blob blob_copy(const void *p, size_t n)
{
    blob b = {0};
    blob_append(&b, p, n);
    return b;
}

static void blob_free(blob *b)
{
    free(b->data);
    *b = (blob){0};
}

/* A deterministic pattern with every channel different. */
static uint8_t pattern(int x, int y, int c)
{
    return (uint8_t)(x * 37 + y * 91 + c * 53 + x * y);
}

static uint8_t *pattern_rgb(int w, int h)
{
    uint8_t *p = malloc((size_t)w * h * 3);
    assert_non_null(p);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                p[(y * w + x) * 3 + c] = pattern(x, y, c);
    return p;
}

/* A smooth pattern JPEG reproduces closely. */
static uint8_t *gradient_rgb(int w, int h)
{
    uint8_t *p = malloc((size_t)w * h * 3);
    assert_non_null(p);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *q = p + (y * w + x) * 3;
            q[0] = (uint8_t)(x * 255 / (w - 1));
            q[1] = (uint8_t)(y * 255 / (h - 1));
            q[2] = (uint8_t)(128 + (x - y) / 2);
        }
    return p;
}

static blob jpeg_encode(const uint8_t *px, int w, int h, int pixel_format, int subsamp,
                        int quality)
{
    tjhandle tj = tjInitCompress();
    assert_non_null(tj);
    unsigned char *buf = NULL;
    unsigned long size = 0;
    int rc = tjCompress2(tj, px, w, 0, h, pixel_format, &buf, &size, subsamp, quality, 0);
    if (rc != 0)
        fail_msg("tjCompress2: %s", tjGetErrorStr2(tj));
    blob b = blob_copy(buf, size);
    tjFree(buf);
    tjDestroy(tj);
    return b;
}

static blob jpeg_pattern(int w, int h)
{
    uint8_t *px = gradient_rgb(w, h);
    blob b = jpeg_encode(px, w, h, TJPF_RGB, TJSAMP_420, 90);
    free(px);
    return b;
}

/* PNG fixtures: the raw samples come from a callback, packed at any depth. */
typedef struct png_spec {
    int width, height, color_type, bit_depth, interlace;
    const png_color *palette;
    int num_palette;
    const png_byte *trns; /* palette alpha */
    int num_trns;
    const png_color_16 *trns_color; /* grey/RGB tRNS */
    unsigned (*sample)(int x, int y, int c, int bit_depth);
} png_spec;

static int png_channels(int color_type)
{
    switch (color_type) {
    case PNG_COLOR_TYPE_GRAY_ALPHA: return 2;
    case PNG_COLOR_TYPE_RGB: return 3;
    case PNG_COLOR_TYPE_RGB_ALPHA: return 4;
    default: return 1;
    }
}

static void png_write_cb(png_structp png, png_bytep d, size_t n)
{
    blob_append(png_get_io_ptr(png), d, n);
}

static void png_flush_cb(png_structp png) { (void)png; }

static void pack_row(const png_spec *s, int y, uint8_t *row)
{
    int n = s->width * png_channels(s->color_type);
    size_t bytes = ((size_t)n * s->bit_depth + 7) / 8;
    memset(row, 0, bytes);
    for (int i = 0; i < n; i++) {
        unsigned v = s->sample(i / png_channels(s->color_type), y,
                               i % png_channels(s->color_type), s->bit_depth);
        if (s->bit_depth == 16) {
            row[2 * i] = (uint8_t)(v >> 8);
            row[2 * i + 1] = (uint8_t)v;
        } else if (s->bit_depth == 8) {
            row[i] = (uint8_t)v;
        } else {
            int bit = i * s->bit_depth;
            row[bit / 8] |= (uint8_t)(v << (8 - s->bit_depth - bit % 8));
        }
    }
}

/* All libpng calls after setjmp, with nothing but parameters live across it. */
static bool png_write_all(png_structp png, png_infop info, const png_spec *s, uint8_t *row,
                          bool header_only)
{
    if (setjmp(png_jmpbuf(png)))
        return false;
    png_set_IHDR(png, info, (png_uint_32)s->width, (png_uint_32)s->height, s->bit_depth,
                 s->color_type, s->interlace, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (s->palette)
        png_set_PLTE(png, info, s->palette, s->num_palette);
    if (s->trns || s->trns_color)
        png_set_tRNS(png, info, s->trns, s->num_trns, s->trns_color);
    png_write_info(png, info);
    if (header_only)
        return true;
    int passes = png_set_interlace_handling(png);
    for (int pass = 0; pass < passes; pass++)
        for (int y = 0; y < s->height; y++) {
            pack_row(s, y, row);
            png_write_row(png, row);
        }
    png_write_end(png, NULL);
    return true;
}

static blob png_encode_ex(const png_spec *s, bool header_only)
{
    blob b = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    assert_non_null(png);
    png_infop info = png_create_info_struct(png);
    assert_non_null(info);
    png_set_write_fn(png, &b, png_write_cb, png_flush_cb);
    uint8_t *row = malloc((size_t)s->width * 8 + 8);
    assert_non_null(row);
    bool ok = png_write_all(png, info, s, row, header_only);
    png_destroy_write_struct(&png, &info);
    free(row);
    assert_true(ok);
    return b;
}

static blob png_encode(const png_spec *s) { return png_encode_ex(s, false); }

/* What our decoder must give for a pixel of a spec: 8-bit RGB, high byte of
 * 16-bit samples, low-depth grey scaled to 0..255, alpha ignored. */
static void png_expected(const png_spec *s, int x, int y, uint8_t out[3])
{
    if (s->color_type == PNG_COLOR_TYPE_PALETTE) {
        const png_color *p = &s->palette[s->sample(x, y, 0, s->bit_depth)];
        out[0] = p->red, out[1] = p->green, out[2] = p->blue;
        return;
    }
    bool grey = !(s->color_type & PNG_COLOR_MASK_COLOR);
    for (int c = 0; c < 3; c++) {
        unsigned v = s->sample(x, y, grey ? 0 : c, s->bit_depth);
        if (s->bit_depth == 16)
            v >>= 8;
        else if (s->bit_depth < 8)
            v = v * 255 / ((1u << s->bit_depth) - 1);
        out[c] = (uint8_t)v;
    }
}

static void assert_png_decodes_exactly(const png_spec *s)
{
    blob b = png_encode(s);
    et_image img = {0};
    char err[ET_ERR_MAX] = "";
    et_status st = et_image_decode(b.data, b.len, NULL, &img, err);
    if (st != ET_OK)
        fail_msg("decode failed: %s", err);
    assert_int_equal(img.width, s->width);
    assert_int_equal(img.height, s->height);
    for (int y = 0; y < s->height; y++)
        for (int x = 0; x < s->width; x++) {
            uint8_t want[3];
            png_expected(s, x, y, want);
            const uint8_t *got = img.rgb + (y * s->width + x) * 3;
            if (memcmp(got, want, 3) != 0)
                fail_msg("pixel (%d,%d): got %d,%d,%d want %d,%d,%d", x, y, got[0], got[1],
                         got[2], want[0], want[1], want[2]);
        }
    et_image_free(&img);
    blob_free(&b);
}

static unsigned sample_full(int x, int y, int c, int bit_depth)
{
    unsigned v = (unsigned)(x * 37 + y * 91 + c * 53 + x * y * 7);
    return bit_depth == 16 ? (v * 257u + (unsigned)c * 31u) & 0xffff : v & ((1u << bit_depth) - 1);
}

static unsigned sample_zero(int x, int y, int c, int bit_depth)
{
    (void)x, (void)y, (void)c, (void)bit_depth;
    return 0;
}

static blob webp_lossless(const uint8_t *px, int w, int h)
{
    uint8_t *out = NULL;
    size_t n = WebPEncodeLosslessRGB(px, w, h, w * 3, &out);
    assert_true(n > 0);
    blob b = blob_copy(out, n);
    WebPFree(out);
    return b;
}

static blob webp_pattern(int w, int h)
{
    uint8_t *px = pattern_rgb(w, h);
    blob b = webp_lossless(px, w, h);
    free(px);
    return b;
}

static blob png_pattern(int w, int h)
{
    png_spec s = {.width = w, .height = h, .color_type = PNG_COLOR_TYPE_RGB, .bit_depth = 8,
                  .sample = sample_full};
    return png_encode(&s);
}

static et_status decode(const blob *b, uint64_t max_pixels, et_image *img, char *err)
{
    et_image_limits lim = et_image_default_limits();
    if (max_pixels)
        lim.max_pixels = max_pixels;
    return et_image_decode(b->data, b->len, &lim, img, err);
}

static void assert_contains(const char *haystack, const char *needle)
{
    if (!strstr(haystack, needle))
        fail_msg("\"%s\" does not contain \"%s\"", haystack, needle);
}

/* --- format recognition ------------------------------------------------------ */

static void sniff_recognises_formats_by_magic_bytes(void **state)
{
    (void)state;
    blob j = jpeg_pattern(16, 16), p = png_pattern(4, 4), w = webp_pattern(4, 4);
    assert_int_equal(et_image_sniff(j.data, j.len), ET_IMAGE_JPEG);
    assert_int_equal(et_image_sniff(p.data, p.len), ET_IMAGE_PNG);
    assert_int_equal(et_image_sniff(w.data, w.len), ET_IMAGE_WEBP);
    assert_int_equal(et_image_sniff((const uint8_t *)"GIF89a", 6), ET_IMAGE_UNKNOWN);
    assert_int_equal(et_image_sniff(j.data, 2), ET_IMAGE_UNKNOWN);
    assert_int_equal(et_image_sniff(NULL, 0), ET_IMAGE_UNKNOWN);
    assert_string_equal(et_image_format_name(ET_IMAGE_JPEG), "jpeg");
    assert_string_equal(et_image_format_name(ET_IMAGE_PNG), "png");
    assert_string_equal(et_image_format_name(ET_IMAGE_WEBP), "webp");
    assert_string_equal(et_image_format_name(ET_IMAGE_UNKNOWN), "unknown");
    blob_free(&j), blob_free(&p), blob_free(&w);
}

static void load_decodes_by_content_not_by_file_name(void **state)
{
    (void)state;
    char *dir = ts_tempdir();
    char path[600];
    snprintf(path, sizeof path, "%s/picture.jpg", dir); /* a PNG in disguise */
    blob p = png_pattern(5, 3);
    ts_write_file(path, p.data, p.len);
    et_image img = {0};
    char err[ET_ERR_MAX] = "";
    assert_int_equal(et_image_load(path, NULL, &img, err), ET_OK);
    assert_int_equal(img.width, 5);
    assert_int_equal(img.height, 3);
    et_image_free(&img);
    blob_free(&p);
    ts_rmtree(dir);
    free(dir);
}

/* --- JPEG -------------------------------------------------------------------- */

static void jpeg_decodes_close_to_the_source(void **state)
{
    (void)state;
    int w = 48, h = 32;
    uint8_t *px = gradient_rgb(w, h);
    blob b = jpeg_encode(px, w, h, TJPF_RGB, TJSAMP_444, 95);
    et_image img = {0};
    char err[ET_ERR_MAX] = "";
    assert_int_equal(decode(&b, 0, &img, err), ET_OK);
    assert_int_equal(img.width, w);
    assert_int_equal(img.height, h);
    int worst = 0;
    for (size_t i = 0; i < (size_t)w * h * 3; i++) {
        int d = abs(img.rgb[i] - px[i]);
        worst = d > worst ? d : worst;
    }
    if (worst > 6)
        fail_msg("JPEG decode differs from its source by up to %d", worst);
    et_image_free(&img);
    free(px);
    blob_free(&b);
}

/* The accurate decode: what tjDecompress2 gives with no FASTDCT/FASTUPSAMPLE. */
static void jpeg_decode_is_libjpeg_turbo_accurate_decode(void **state)
{
    (void)state;
    int w = 37, h = 29; /* odd sizes exercise the 4:2:0 upsampling edges */
    blob b = jpeg_pattern(w, h);
    uint8_t *want = malloc((size_t)w * h * 3);
    assert_non_null(want);
    tjhandle tj = tjInitDecompress();
    assert_int_equal(tjDecompress2(tj, b.data, b.len, want, w, 0, h, TJPF_RGB, 0), 0);
    tjDestroy(tj);
    et_image img = {0};
    assert_int_equal(decode(&b, 0, &img, NULL), ET_OK);
    assert_memory_equal(img.rgb, want, (size_t)w * h * 3);
    et_image_free(&img);
    free(want);
    blob_free(&b);
}

static void grey_jpeg_decodes_to_equal_channels(void **state)
{
    (void)state;
    int w = 16, h = 8;
    uint8_t grey[16 * 8];
    for (int i = 0; i < w * h; i++)
        grey[i] = (uint8_t)(i * 2);
    blob b = jpeg_encode(grey, w, h, TJPF_GRAY, TJSAMP_GRAY, 100);
    et_image img = {0};
    assert_int_equal(decode(&b, 0, &img, NULL), ET_OK);
    for (int i = 0; i < w * h; i++) {
        assert_int_equal(img.rgb[3 * i], img.rgb[3 * i + 1]);
        assert_int_equal(img.rgb[3 * i], img.rgb[3 * i + 2]);
        assert_true(abs(img.rgb[3 * i] - grey[i]) <= 2);
    }
    et_image_free(&img);
    blob_free(&b);
}

static void cmyk_jpeg_is_unsupported(void **state)
{
    (void)state;
    uint8_t cmyk[8 * 8 * 4];
    memset(cmyk, 40, sizeof cmyk);
    blob b = jpeg_encode(cmyk, 8, 8, TJPF_CMYK, TJSAMP_444, 90);
    et_image img = {0};
    char err[ET_ERR_MAX] = "";
    assert_int_equal(decode(&b, 0, &img, err), ET_E_UNSUPPORTED);
    assert_contains(err, "CMYK");
    assert_null(img.rgb);
    blob_free(&b);
}

/* --- EXIF orientation ---------------------------------------------------------- */

enum { TL, TR, BL, BR };
static const uint8_t corner_colour[4][3] = {
    [TL] = {255, 0, 0}, [TR] = {0, 255, 0}, [BL] = {0, 0, 255}, [BR] = {255, 255, 255}};

/* 32x16, one solid colour per 16x8 quadrant (8x8-aligned, so JPEG keeps it). */
static blob corner_jpeg(void)
{
    int w = 32, h = 16;
    uint8_t px[32 * 16 * 3];
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            memcpy(px + (y * w + x) * 3, corner_colour[(y >= h / 2) * 2 + (x >= w / 2)], 3);
    return jpeg_encode(px, w, h, TJPF_RGB, TJSAMP_444, 100);
}

/* The JPEG with an APP1 Exif segment inserted after SOI. */
static blob with_app1(const blob *jpeg, const uint8_t *payload, size_t n)
{
    blob b = blob_copy(jpeg->data, 2);
    uint8_t hdr[4] = {0xff, 0xe1, (uint8_t)((n + 2) >> 8), (uint8_t)(n + 2)};
    blob_append(&b, hdr, 4);
    blob_append(&b, payload, n);
    blob_append(&b, jpeg->data + 2, jpeg->len - 2);
    return b;
}

/* "Exif\0\0", a TIFF header and IFD0 with one entry: Orientation (0x0112),
 * of `type` (3 = SHORT), count 1, value `v`. */
static blob with_orientation(const blob *jpeg, unsigned v, bool big_endian, unsigned type)
{
    uint8_t le[] = {'E', 'x', 'i', 'f', 0, 0,
                    'I', 'I', 0x2a, 0, 8, 0, 0, 0,           /* TIFF header, IFD0 at 8 */
                    1, 0,                                    /* one entry */
                    0x12, 0x01, (uint8_t)type, 0, 1, 0, 0, 0, /* tag, type, count */
                    (uint8_t)v, 0, 0, 0,                     /* value */
                    0, 0, 0, 0};                             /* no next IFD */
    uint8_t be[] = {'E', 'x', 'i', 'f', 0, 0,
                    'M', 'M', 0, 0x2a, 0, 0, 0, 8,
                    0, 1,
                    0x01, 0x12, 0, (uint8_t)type, 0, 0, 0, 1,
                    0, (uint8_t)v, 0, 0,
                    0, 0, 0, 0};
    return big_endian ? with_app1(jpeg, be, sizeof be) : with_app1(jpeg, le, sizeof le);
}

static void assert_colour_near(const et_image *img, int x, int y, const uint8_t want[3],
                               const char *what)
{
    const uint8_t *p = img->rgb + ((size_t)y * img->width + x) * 3;
    for (int c = 0; c < 3; c++)
        if (abs(p[c] - want[c]) > 24)
            fail_msg("%s: pixel (%d,%d) is %d,%d,%d, want %d,%d,%d", what, x, y, p[0], p[1],
                     p[2], want[0], want[1], want[2]);
}

/* Displayed corners {top-left, top-right, bottom-left, bottom-right}: which
 * stored corner each shows (EXIF 2.3, tag 0x0112: 2 mirrors horizontally,
 * 3 rotates 180, 4 mirrors vertically, 5 transposes, 6 needs a 90 degree
 * clockwise turn to display, 7 is the transverse, 8 a 90 degree counter-
 * clockwise turn). */
static const int displayed[9][4] = {
    [1] = {TL, TR, BL, BR}, [2] = {TR, TL, BR, BL}, [3] = {BR, BL, TR, TL},
    [4] = {BL, BR, TL, TR}, [5] = {TL, BL, TR, BR}, [6] = {BL, TL, BR, TR},
    [7] = {BR, TR, BL, TL}, [8] = {TR, BR, TL, BL},
};

static void check_orientation(const blob *plain, unsigned o, bool big_endian)
{
    blob b = with_orientation(plain, o, big_endian, 3);
    et_image img = {0};
    char err[ET_ERR_MAX] = "", what[64];
    snprintf(what, sizeof what, "orientation %u (%s)", o, big_endian ? "MM" : "II");
    if (decode(&b, 0, &img, err) != ET_OK)
        fail_msg("%s: %s", what, err);
    bool swapped = o >= 5;
    assert_int_equal(img.width, swapped ? 16 : 32);
    assert_int_equal(img.height, swapped ? 32 : 16);
    int qx = img.width / 4, qy = img.height / 4;
    assert_colour_near(&img, qx, qy, corner_colour[displayed[o][0]], what);
    assert_colour_near(&img, img.width - 1 - qx, qy, corner_colour[displayed[o][1]], what);
    assert_colour_near(&img, qx, img.height - 1 - qy, corner_colour[displayed[o][2]], what);
    assert_colour_near(&img, img.width - 1 - qx, img.height - 1 - qy,
                       corner_colour[displayed[o][3]], what);
    et_image_free(&img);
    blob_free(&b);
}

static void exif_orientation_puts_each_corner_where_the_spec_says(void **state)
{
    (void)state;
    blob plain = corner_jpeg();
    for (unsigned o = 1; o <= 8; o++) {
        check_orientation(&plain, o, false);
        check_orientation(&plain, o, true);
    }
    blob_free(&plain);
}

/* The pixels of a decode compared with the upright decode of `plain`. */
static void assert_decodes_upright(const blob *b, const blob *plain, const char *what)
{
    et_image want = {0}, got = {0};
    char err[ET_ERR_MAX] = "";
    assert_int_equal(decode(plain, 0, &want, NULL), ET_OK);
    if (decode(b, 0, &got, err) != ET_OK)
        fail_msg("%s: %s", what, err);
    assert_int_equal(got.width, want.width);
    assert_int_equal(got.height, want.height);
    assert_memory_equal(got.rgb, want.rgb, (size_t)want.width * want.height * 3);
    et_image_free(&want);
    et_image_free(&got);
}

static void bad_or_missing_exif_orientation_leaves_the_image_upright(void **state)
{
    (void)state;
    blob plain = corner_jpeg();
    blob zero = with_orientation(&plain, 0, false, 3);
    blob nine = with_orientation(&plain, 9, true, 3);
    blob as_long = with_orientation(&plain, 6, false, 4); /* LONG, not SHORT */
    assert_decodes_upright(&zero, &plain, "orientation 0");
    assert_decodes_upright(&nine, &plain, "orientation 9");
    assert_decodes_upright(&as_long, &plain, "orientation of type LONG");

    uint8_t junk[200] = {'E', 'x', 'i', 'f', 0, 0};
    for (size_t i = 6; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 131 + 7);
    blob garbage = with_app1(&plain, junk, sizeof junk);
    assert_decodes_upright(&garbage, &plain, "garbage EXIF");

    /* IFD0 claims 200 entries at an offset past the end of the segment. */
    uint8_t cut[] = {'E', 'x', 'i', 'f', 0, 0, 'I', 'I', 0x2a, 0, 8, 0, 0, 0, 200, 0, 0x12, 1};
    blob truncated = with_app1(&plain, cut, sizeof cut);
    assert_decodes_upright(&truncated, &plain, "truncated EXIF");
    uint8_t far[] = {'E', 'x', 'i', 'f', 0, 0, 'M', 'M', 0, 0x2a, 0x7f, 0xff, 0xff, 0xff};
    blob far_ifd = with_app1(&plain, far, sizeof far);
    assert_decodes_upright(&far_ifd, &plain, "IFD offset out of range");

    blob bufs[] = {zero, nine, as_long, garbage, truncated, far_ifd, plain};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        blob_free(&bufs[i]);
}

/* --- PNG --------------------------------------------------------------------- */

static void png_rgb8_decodes_exactly(void **state)
{
    (void)state;
    png_spec s = {.width = 23, .height = 17, .color_type = PNG_COLOR_TYPE_RGB,
                  .bit_depth = 8, .sample = sample_full};
    assert_png_decodes_exactly(&s);
}

static void png_rgb16_keeps_the_high_byte(void **state)
{
    (void)state;
    png_spec s = {.width = 19, .height = 11, .color_type = PNG_COLOR_TYPE_RGB,
                  .bit_depth = 16, .sample = sample_full};
    assert_png_decodes_exactly(&s);
    /* That would fail for a rounding 16 -> 8 conversion (png_set_scale_16):
     * some samples have a low byte of 0x80 or more. */
    int round_up = 0;
    for (int x = 0; x < s.width; x++)
        round_up += (sample_full(x, 0, 0, 16) & 0xff) >= 0x80;
    assert_true(round_up > 0);
}

static const png_color test_palette[5] = {
    {10, 20, 30}, {200, 100, 50}, {0, 255, 0}, {255, 255, 255}, {1, 2, 3}};

static unsigned sample_index(int x, int y, int c, int bit_depth)
{
    (void)c, (void)bit_depth;
    return (unsigned)(x + 2 * y) % 5;
}

static void png_palette_decodes_to_palette_colours(void **state)
{
    (void)state;
    for (int depth = 4; depth <= 8; depth += 4) {
        png_spec s = {.width = 13, .height = 7, .color_type = PNG_COLOR_TYPE_PALETTE,
                      .bit_depth = depth, .palette = test_palette, .num_palette = 5,
                      .sample = sample_index};
        assert_png_decodes_exactly(&s);
    }
}

static void png_transparency_is_dropped_not_composited(void **state)
{
    (void)state;
    static const png_byte alpha[5] = {0, 128, 255, 0, 7};
    png_spec pal = {.width = 9, .height = 5, .color_type = PNG_COLOR_TYPE_PALETTE,
                    .bit_depth = 8, .palette = test_palette, .num_palette = 5,
                    .trns = alpha, .num_trns = 5, .sample = sample_index};
    assert_png_decodes_exactly(&pal);
    png_color_16 key = {.red = 37, .green = 53, .blue = 106, .gray = 0};
    png_spec rgb = {.width = 9, .height = 5, .color_type = PNG_COLOR_TYPE_RGB,
                    .bit_depth = 8, .trns_color = &key, .sample = sample_full};
    assert_png_decodes_exactly(&rgb);
    png_spec grey = {.width = 9, .height = 5, .color_type = PNG_COLOR_TYPE_GRAY,
                     .bit_depth = 8, .trns_color = &key, .sample = sample_full};
    assert_png_decodes_exactly(&grey);
}

static void png_grey_of_every_depth_expands_to_rgb(void **state)
{
    (void)state;
    for (int depth = 1; depth <= 16; depth *= 2) {
        png_spec s = {.width = 21, .height = 6, .color_type = PNG_COLOR_TYPE_GRAY,
                      .bit_depth = depth, .sample = sample_full};
        assert_png_decodes_exactly(&s);
    }
}

static void png_alpha_channel_is_dropped(void **state)
{
    (void)state;
    for (int depth = 8; depth <= 16; depth += 8) {
        png_spec ga = {.width = 10, .height = 4, .color_type = PNG_COLOR_TYPE_GRAY_ALPHA,
                       .bit_depth = depth, .sample = sample_full};
        assert_png_decodes_exactly(&ga);
        png_spec rgba = {.width = 10, .height = 4, .color_type = PNG_COLOR_TYPE_RGB_ALPHA,
                         .bit_depth = depth, .sample = sample_full};
        assert_png_decodes_exactly(&rgba);
    }
}

static void png_interlaced_decodes_exactly(void **state)
{
    (void)state;
    png_spec rgb = {.width = 29, .height = 19, .color_type = PNG_COLOR_TYPE_RGB,
                    .bit_depth = 8, .interlace = PNG_INTERLACE_ADAM7, .sample = sample_full};
    assert_png_decodes_exactly(&rgb);
    png_spec grey = {.width = 7, .height = 3, .color_type = PNG_COLOR_TYPE_GRAY,
                     .bit_depth = 2, .interlace = PNG_INTERLACE_ADAM7, .sample = sample_full};
    assert_png_decodes_exactly(&grey);
}

/* --- WebP -------------------------------------------------------------------- */

static void webp_lossless_decodes_exactly(void **state)
{
    (void)state;
    int w = 31, h = 17;
    uint8_t *px = pattern_rgb(w, h);
    blob b = webp_lossless(px, w, h);
    et_image img = {0};
    assert_int_equal(decode(&b, 0, &img, NULL), ET_OK);
    assert_int_equal(img.width, w);
    assert_int_equal(img.height, h);
    assert_memory_equal(img.rgb, px, (size_t)w * h * 3);
    et_image_free(&img);
    free(px);
    blob_free(&b);
}

static void webp_alpha_is_dropped(void **state)
{
    (void)state;
    int w = 12, h = 9;
    uint8_t rgba[12 * 9 * 4], rgb[12 * 9 * 3];
    for (int i = 0; i < w * h; i++) {
        for (int c = 0; c < 3; c++)
            rgba[4 * i + c] = rgb[3 * i + c] = pattern(i % w, i / w, c);
        rgba[4 * i + 3] = (uint8_t)(100 + i); /* never 0: keeps RGB exact in lossless */
    }
    uint8_t *out = NULL;
    size_t n = WebPEncodeLosslessRGBA(rgba, w, h, w * 4, &out);
    assert_true(n > 0);
    et_image img = {0};
    assert_int_equal(et_image_decode(out, n, NULL, &img, NULL), ET_OK);
    assert_memory_equal(img.rgb, rgb, sizeof rgb);
    et_image_free(&img);
    WebPFree(out);
}

static void webp_lossy_decodes_close_to_the_source(void **state)
{
    (void)state;
    int w = 64, h = 48;
    uint8_t *px = gradient_rgb(w, h);
    uint8_t *out = NULL;
    size_t n = WebPEncodeRGB(px, w, h, w * 3, 95, &out);
    assert_true(n > 0);
    et_image img = {0};
    assert_int_equal(et_image_decode(out, n, NULL, &img, NULL), ET_OK);
    assert_int_equal(img.width, w);
    long total = 0;
    for (size_t i = 0; i < (size_t)w * h * 3; i++)
        total += abs(img.rgb[i] - px[i]);
    if ((double)total / (w * h * 3) > 3.0)
        fail_msg("mean error %.2f", (double)total / (w * h * 3));
    et_image_free(&img);
    WebPFree(out);
    free(px);
}

/* --- bad input ------------------------------------------------------------- */

static const char unsupported_msg[] = "unsupported image format (not JPEG, PNG or WebP)";

static void empty_input_is_unsupported(void **state)
{
    (void)state;
    et_image img = {0};
    char err[ET_ERR_MAX] = "";
    uint8_t none[1] = {0};
    assert_int_equal(et_image_decode(none, 0, NULL, &img, err), ET_E_UNSUPPORTED);
    assert_string_equal(err, unsupported_msg);
    assert_int_equal(et_image_decode(NULL, 0, NULL, &img, err), ET_E_UNSUPPORTED);
    assert_null(img.rgb);
    assert_int_equal(img.width, 0);
}

static void garbage_and_text_are_unsupported(void **state)
{
    (void)state;
    uint8_t junk[4096];
    uint32_t s = 12345;
    for (size_t i = 0; i < sizeof junk; i++) {
        s = s * 1664525u + 1013904223u;
        junk[i] = (uint8_t)(s >> 24);
    }
    junk[0] = 0x00;
    et_image img = {0};
    char err[ET_ERR_MAX] = "";
    assert_int_equal(et_image_decode(junk, sizeof junk, NULL, &img, err), ET_E_UNSUPPORTED);
    assert_string_equal(err, unsupported_msg);
    const char *text = "This is a text file, not a picture.\n";
    assert_int_equal(et_image_decode((const uint8_t *)text, strlen(text), NULL, &img, err),
                     ET_E_UNSUPPORTED);
    assert_null(img.rgb);
}

static void assert_cuts_are_corrupt(const blob *b, const size_t *cuts, size_t n,
                                    const char *format)
{
    for (size_t i = 0; i < n; i++) {
        et_image img = {0};
        char err[ET_ERR_MAX] = "";
        et_status s = et_image_decode(b->data, cuts[i], NULL, &img, err);
        if (s != ET_E_CORRUPT)
            fail_msg("%s cut to %zu of %zu bytes: status %s (%s)", format, cuts[i], b->len,
                     et_status_code(s), err);
        assert_null(img.rgb);
        assert_contains(err, format);
    }
}

/* Junk between segments (here 3 bytes before the start-of-scan marker) only
 * makes libjpeg warn "extraneous bytes before marker": every pixel is intact,
 * so the photo must decode, and to exactly the pixels of the clean file. */
static void jpeg_with_junk_before_a_marker_decodes_unchanged(void **state)
{
    (void)state;
    blob b = jpeg_pattern(40, 30);
    size_t sos = 2;
    while (sos + 1 < b.len && !(b.data[sos] == 0xff && b.data[sos + 1] == 0xda))
        sos++;
    assert_true(sos + 1 < b.len);
    blob junk = blob_copy(b.data, sos);
    blob_append(&junk, "\x01\x02\x03", 3);
    blob_append(&junk, b.data + sos, b.len - sos);
    et_image clean = {0}, dirty = {0};
    char err[ET_ERR_MAX] = "";
    assert_int_equal(decode(&b, 0, &clean, NULL), ET_OK);
    et_status st = et_image_decode(junk.data, junk.len, NULL, &dirty, err);
    if (st != ET_OK)
        fail_msg("junk JPEG: %s", err);
    assert_memory_equal(clean.rgb, dirty.rgb, (size_t)40 * 30 * 3);
    et_image_free(&clean);
    et_image_free(&dirty);
    blob_free(&junk);
    blob_free(&b);
}

static void truncated_jpeg_is_corrupt(void **state)
{
    (void)state;
    blob b = jpeg_pattern(64, 64);
    size_t cuts[] = {3, 20, 150, b.len / 2, b.len * 9 / 10, b.len - 2};
    assert_cuts_are_corrupt(&b, cuts, sizeof cuts / sizeof cuts[0], "JPEG");
    blob_free(&b);
}

static void truncated_png_is_corrupt(void **state)
{
    (void)state;
    blob b = png_pattern(64, 64);
    size_t cuts[] = {8, 20, 40, b.len / 2, b.len - 12, b.len - 1};
    assert_cuts_are_corrupt(&b, cuts, sizeof cuts / sizeof cuts[0], "PNG");
    et_image img = {0};
    char err[ET_ERR_MAX] = "";
    assert_int_equal(et_image_decode(b.data, b.len / 2, NULL, &img, err), ET_E_CORRUPT);
    assert_contains(err, "PNG: truncated data (IDAT chunk at byte");
    blob_free(&b);
}

/* Found by fuzzing: libpng allocates what a chunk claims (only warning above
 * png_set_chunk_malloc_max), so a 100-byte file claiming a 1.4 GB zTXt cost a
 * 1.4 GB allocation. The chunk walk now refuses it before libpng runs. */
static void png_chunk_longer_than_the_file_is_refused_before_libpng(void **state)
{
    (void)state;
    blob p = png_pattern(4, 4);
    size_t ihdr_end = 8 + 12 + 13;
    blob b = blob_copy(p.data, ihdr_end);
    const uint8_t huge[] = {0x57, 0x45, 0x42, 0x50, 'z', 'T', 'X', 't', 'C', 'o', 'm', 0};
    blob_append(&b, huge, sizeof huge);
    blob_append(&b, p.data + ihdr_end, p.len - ihdr_end);
    et_image img = {0};
    char err[ET_ERR_MAX] = "";
    assert_int_equal(decode(&b, 0, &img, err), ET_E_CORRUPT);
    assert_contains(err, "zTXt chunk at byte 33 claims 1464156752 bytes");
    blob_free(&b);
    blob_free(&p);
}

static void truncated_webp_is_corrupt(void **state)
{
    (void)state;
    blob b = webp_pattern(64, 64);
    size_t cuts[] = {12, 20, 26, b.len / 2, b.len - 1};
    assert_cuts_are_corrupt(&b, cuts, sizeof cuts / sizeof cuts[0], "WebP");
    blob_free(&b);
}

static void corrupt_png_crc_is_corrupt(void **state)
{
    (void)state;
    blob b = png_pattern(8, 8);
    b.data[30] ^= 0x01; /* IHDR's CRC */
    et_image img = {0};
    char err[ET_ERR_MAX] = "";
    assert_int_equal(decode(&b, 0, &img, err), ET_E_CORRUPT);
    assert_contains(err, "PNG");
    blob_free(&b);
}

/* --- limits -------------------------------------------------------------------- */

/* Sets SOF0's height and width (after FFC0, length, precision). */
static void patch_jpeg_size(blob *b, unsigned w, unsigned h)
{
    for (size_t i = 2; i + 9 < b->len; i++)
        if (b->data[i] == 0xff && b->data[i + 1] == 0xc0) {
            b->data[i + 5] = (uint8_t)(h >> 8), b->data[i + 6] = (uint8_t)h;
            b->data[i + 7] = (uint8_t)(w >> 8), b->data[i + 8] = (uint8_t)w;
            return;
        }
    fail_msg("no SOF0 marker");
}

/* Cuts the file right after its SOS header: the markers are whole, the
 * compressed pixels are gone. */
static void cut_jpeg_after_sos(blob *b)
{
    for (size_t i = 2; i + 3 < b->len; i++)
        if (b->data[i] == 0xff && b->data[i + 1] == 0xda) {
            b->len = i + 2 + ((size_t)b->data[i + 2] << 8 | b->data[i + 3]);
            return;
        }
    fail_msg("no SOS marker");
}

/* Refused from the header alone, before the pixels are decoded or their
 * buffer allocated: the file has no compressed pixels at all, which decoding
 * would report as corrupt (checked on the same file at its true size). */
static void jpeg_header_over_the_pixel_limit_is_refused(void **state)
{
    (void)state;
    blob b = jpeg_pattern(16, 16);
    cut_jpeg_after_sos(&b);
    et_image img = {0};
    char err[ET_ERR_MAX] = "";
    assert_int_equal(decode(&b, 0, &img, err), ET_E_CORRUPT);
    assert_null(img.rgb);
    patch_jpeg_size(&b, 30000, 30000);
    assert_int_equal(decode(&b, 0, &img, err), ET_E_TOO_LARGE);
    assert_string_equal(err, "JPEG header claims 30000x30000 pixels, over the limit of 50000000");
    assert_null(img.rgb);
    blob_free(&b);
}

static void png_header_over_the_pixel_limit_is_refused(void **state)
{
    (void)state;
    png_spec s = {.width = 30000, .height = 30000, .color_type = PNG_COLOR_TYPE_RGB,
                  .bit_depth = 8, .sample = sample_zero};
    blob b = png_encode_ex(&s, true); /* signature and IHDR with a valid CRC */
    et_image img = {0};
    char err[ET_ERR_MAX] = "";
    assert_int_equal(decode(&b, 0, &img, err), ET_E_TOO_LARGE);
    assert_string_equal(err, "PNG header claims 30000x30000 pixels, over the limit of 50000000");
    assert_null(img.rgb);
    blob_free(&b);
}

static void webp_header_over_the_pixel_limit_is_refused(void **state)
{
    (void)state;
    /* VP8L sides are 14 bits, so 16000x16000 is as large as it gets. */
    blob b = webp_pattern(8, 8);
    assert_memory_equal(b.data + 12, "VP8L", 4);
    assert_int_equal(b.data[20], 0x2f);
    uint32_t bits = (uint32_t)b.data[21] | (uint32_t)b.data[22] << 8 |
                    (uint32_t)b.data[23] << 16 | (uint32_t)b.data[24] << 24;
    bits = (bits & 0xf0000000u) | 15999u | 15999u << 14;
    for (int i = 0; i < 4; i++)
        b.data[21 + i] = (uint8_t)(bits >> (8 * i));
    et_image img = {0};
    char err[ET_ERR_MAX] = "";
    assert_int_equal(decode(&b, 0, &img, err), ET_E_TOO_LARGE);
    assert_string_equal(err, "WebP header claims 16000x16000 pixels, over the limit of 50000000");
    blob_free(&b);
}

static void small_pixel_limit_refuses_a_20x20_image_in_every_format(void **state)
{
    (void)state;
    blob fixtures[3] = {jpeg_pattern(20, 20), png_pattern(20, 20), webp_pattern(20, 20)};
    for (int i = 0; i < 3; i++) {
        et_image img = {0};
        char err[ET_ERR_MAX] = "";
        assert_int_equal(decode(&fixtures[i], 100, &img, err), ET_E_TOO_LARGE);
        assert_contains(err, "20x20 pixels, over the limit of 100");
        assert_int_equal(decode(&fixtures[i], 400, &img, err), ET_OK);
        et_image_free(&img);
        blob_free(&fixtures[i]);
    }
}

/* Inverts the compressed bytes of every IDAT chunk (their CRCs then fail
 * too): inflating the image can only end in an error. */
static void spoil_idat(blob *b)
{
    int spoiled = 0;
    for (size_t i = 8; i + 12 <= b->len;) {
        size_t n = (size_t)b->data[i] << 24 | (size_t)b->data[i + 1] << 16 |
                   (size_t)b->data[i + 2] << 8 | b->data[i + 3];
        if (i + 12 + n > b->len)
            break;
        if (!memcmp(b->data + i + 4, "IDAT", 4)) {
            for (size_t k = 0; k < n; k++)
                b->data[i + 8 + k] ^= 0xff;
            spoiled++;
        }
        i += 12 + n;
    }
    if (!spoiled)
        fail_msg("no IDAT chunk");
}

/* Refused from IHDR alone, before inflating or allocating: the compressed
 * pixels are spoilt, which inflating would report as corrupt (checked on a
 * small image spoilt the same way). */
static void png_bomb_is_refused_before_inflating(void **state)
{
    (void)state;
    et_image img = {0};
    char err[ET_ERR_MAX] = "";
    png_spec small = {.width = 20, .height = 20, .color_type = PNG_COLOR_TYPE_GRAY,
                      .bit_depth = 1, .sample = sample_zero};
    blob b = png_encode(&small);
    spoil_idat(&b);
    assert_int_equal(decode(&b, 0, &img, err), ET_E_CORRUPT);
    assert_null(img.rgb);
    blob_free(&b);
    /* 8000x8000 1-bit zeros: about 8 KB on disk, 64 megapixels decoded. */
    png_spec s = {.width = 8000, .height = 8000, .color_type = PNG_COLOR_TYPE_GRAY,
                  .bit_depth = 1, .sample = sample_zero};
    b = png_encode(&s);
    assert_true(b.len < 100 * 1000);
    spoil_idat(&b);
    assert_int_equal(decode(&b, 0, &img, err), ET_E_TOO_LARGE);
    assert_contains(err, "8000x8000 pixels, over the limit of 50000000");
    assert_null(img.rgb);
    blob_free(&b);
}

static void side_over_65535_is_refused_and_zero_side_is_corrupt(void **state)
{
    (void)state;
    png_spec wide = {.width = 70000, .height = 1, .color_type = PNG_COLOR_TYPE_GRAY,
                     .bit_depth = 8, .sample = sample_zero};
    blob b = png_encode_ex(&wide, true);
    et_image img = {0};
    char err[ET_ERR_MAX] = "";
    assert_int_equal(decode(&b, 0, &img, err), ET_E_TOO_LARGE);
    assert_contains(err, "70000x1");
    /* libpng refuses to write a zero width, so patch IHDR (the CRC is then
     * wrong too; the size check comes first). */
    memset(b.data + 16, 0, 4);
    assert_int_equal(decode(&b, 0, &img, err), ET_E_CORRUPT);
    assert_contains(err, "0x1");
    blob_free(&b);
}

/* --- files ----------------------------------------------------------------- */

static void load_errors_name_the_path(void **state)
{
    (void)state;
    char *dir = ts_tempdir();
    char path[600];
    snprintf(path, sizeof path, "%s/notes.png", dir);
    ts_write_file(path, "just some words\n", 16);
    et_image img = {0};
    char err[ET_ERR_MAX] = "", want[1024];
    assert_int_equal(et_image_load(path, NULL, &img, err), ET_E_UNSUPPORTED);
    snprintf(want, sizeof want, "%s: %s", path, unsupported_msg);
    assert_string_equal(err, want);

    snprintf(path, sizeof path, "%s/missing.jpg", dir);
    assert_int_equal(et_image_load(path, NULL, &img, err), ET_E_IO);
    assert_contains(err, path);
    ts_rmtree(dir);
    free(dir);
}

static void load_refuses_a_file_over_max_bytes(void **state)
{
    (void)state;
    char *dir = ts_tempdir();
    char path[600];
    snprintf(path, sizeof path, "%s/big.png", dir);
    blob b = png_pattern(64, 64);
    ts_write_file(path, b.data, b.len);
    et_image_limits lim = et_image_default_limits();
    lim.max_bytes = b.len - 1;
    et_image img = {0};
    char err[ET_ERR_MAX] = "";
    assert_int_equal(et_image_load(path, &lim, &img, err), ET_E_TOO_LARGE);
    assert_contains(err, path);
    assert_null(img.rgb);
    lim.max_bytes = b.len;
    assert_int_equal(et_image_load(path, &lim, &img, err), ET_OK);
    et_image_free(&img);
    blob_free(&b);
    ts_rmtree(dir);
    free(dir);
}

static void write_ppm_writes_binary_p6(void **state)
{
    (void)state;
    char *dir = ts_tempdir();
    char path[600];
    snprintf(path, sizeof path, "%s/out.ppm", dir);
    uint8_t px[2 * 3 * 3] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 255};
    et_image img = {.width = 3, .height = 2, .rgb = px};
    assert_int_equal(et_image_write_ppm(&img, path, NULL), ET_OK);
    const char hdr[] = "P6\n3 2\n255\n";
    uint8_t got[64];
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(got, 1, sizeof got, f);
    fclose(f);
    assert_int_equal(n, strlen(hdr) + sizeof px);
    assert_memory_equal(got, hdr, strlen(hdr));
    assert_memory_equal(got + strlen(hdr), px, sizeof px);

    char err[ET_ERR_MAX] = "";
    snprintf(path, sizeof path, "%s/no/such/dir.ppm", dir);
    assert_int_equal(et_image_write_ppm(&img, path, err), ET_E_IO);
    assert_contains(err, path);
    ts_rmtree(dir);
    free(dir);
}

static void free_is_safe_on_empty_and_freed_images(void **state)
{
    (void)state;
    et_image img = {0};
    et_image_free(&img);
    et_image_free(NULL);
    blob b = png_pattern(3, 3);
    assert_int_equal(decode(&b, 0, &img, NULL), ET_OK);
    et_image_free(&img);
    assert_null(img.rgb);
    assert_int_equal(img.width, 0);
    et_image_free(&img);
    blob_free(&b);
}

/* --- square tensor ----------------------------------------------------------- */

static void assert_floats(const float *got, const float *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i])
            fail_msg("value %zu: got %.9g want %.9g", i, (double)got[i], (double)want[i]);
}

/* A one-channel picture replicated to RGB with channel offsets 0, 1, 2. */
static et_image grey_image(int w, int h, const uint8_t *v, uint8_t *buf)
{
    for (int i = 0; i < w * h; i++)
        for (int c = 0; c < 3; c++)
            buf[3 * i + c] = (uint8_t)(v[i] + c);
    return (et_image){.width = w, .height = h, .rgb = buf};
}

/* Expands one-channel expectations the same way (zeros stay zeros only for
 * padding, so the caller marks padding with a negative value). */
static void expand(const float *v, int n, float *out)
{
    for (int i = 0; i < n; i++)
        for (int c = 0; c < 3; c++)
            out[3 * i + c] = v[i] < 0 ? 0.0f : v[i] + (float)c;
}

static void square_tensor_upscales_2x2_to_4x4_like_legacy_bilinear(void **state)
{
    (void)state;
    /* alignCorners=false, halfPixelCenters=false: src = o * (2/4), so
     * columns sample 0, 0.5, 1, 1.5 -> (p0), (p0+p1)/2, (p1), (p1) because the
     * right neighbour is clamped to the last column; rows likewise.
     * Image   0 100    row 0: 0    50  100 100
     *       200  40    row 1 (y 0.5): 100 85 70 70, rows 2, 3: 200 120 40 40 */
    uint8_t v[4] = {0, 100, 200, 40}, buf[12];
    et_image img = grey_image(2, 2, v, buf);
    const float want1[16] = {0, 50, 100, 100, 100, 85, 70, 70,
                             200, 120, 40, 40, 200, 120, 40, 40};
    float want[48], got[48];
    expand(want1, 16, want);
    assert_int_equal(et_image_to_square_tensor(&img, (et_image_rect){0, 0, 2, 2}, 4, false,
                                               got, NULL), ET_OK);
    assert_floats(got, want, 48);
}

static void square_tensor_downscales_3x3_to_2x2(void **state)
{
    (void)state;
    /* scale 1.5: outputs sample 0 and 1.5 (halfway between 1 and 2).
     *   0  30  60      out (0,0) = 0,        (1,0) = (30+60)/2 = 45
     *  90 120 150      out (0,1) = (90+180)/2 = 135
     * 180 210 240      out (1,1) = mean of 120,150,210,240 = 180 */
    uint8_t v[9] = {0, 30, 60, 90, 120, 150, 180, 210, 240}, buf[27];
    et_image img = grey_image(3, 3, v, buf);
    const float want1[4] = {0, 45, 135, 180};
    float want[12], got[12];
    expand(want1, 4, want);
    assert_int_equal(et_image_to_square_tensor(&img, (et_image_rect){0, 0, 3, 3}, 2, true,
                                               got, NULL), ET_OK);
    assert_floats(got, want, 12);
}

static void square_tensor_pads_after_the_region_when_not_centred(void **state)
{
    (void)state;
    uint8_t v[3] = {10, 20, 30}, buf[9];
    et_image wide = grey_image(3, 1, v, buf);
    /* 3x1 -> 3x3: two zero rows appended below. */
    const float want1[9] = {10, 20, 30, -1, -1, -1, -1, -1, -1};
    float want[27], got[27];
    expand(want1, 9, want);
    assert_int_equal(et_image_to_square_tensor(&wide, (et_image_rect){0, 0, 3, 1}, 3, false,
                                               got, NULL), ET_OK);
    assert_floats(got, want, 27);

    /* 1x2 (tall) -> 2x2: one zero column appended on the right. */
    et_image tall = grey_image(1, 2, v, buf);
    const float want2[4] = {10, -1, 20, -1};
    expand(want2, 4, want);
    assert_int_equal(et_image_to_square_tensor(&tall, (et_image_rect){0, 0, 1, 2}, 2, false,
                                               got, NULL), ET_OK);
    assert_floats(got, want, 12);
}

static void square_tensor_centred_padding_puts_the_larger_half_after(void **state)
{
    (void)state;
    uint8_t v[4] = {10, 20, 30, 40}, buf[12];
    /* 3x1: diff 2 -> Math.round(1) = 1 row after, 1 before. */
    et_image three = grey_image(3, 1, v, buf);
    const float want1[9] = {-1, -1, -1, 10, 20, 30, -1, -1, -1};
    float want[48], got[48];
    expand(want1, 9, want);
    assert_int_equal(et_image_to_square_tensor(&three, (et_image_rect){0, 0, 3, 1}, 3, true,
                                               got, NULL), ET_OK);
    assert_floats(got, want, 27);

    /* 4x1: diff 3 -> Math.round(1.5) = 2 rows after, 1 before. */
    et_image four = grey_image(4, 1, v, buf);
    const float want2[16] = {-1, -1, -1, -1, 10, 20, 30, 40,
                             -1, -1, -1, -1, -1, -1, -1, -1};
    expand(want2, 16, want);
    assert_int_equal(et_image_to_square_tensor(&four, (et_image_rect){0, 0, 4, 1}, 4, true,
                                               got, NULL), ET_OK);
    assert_floats(got, want, 48);
}

static void square_tensor_pads_then_resizes(void **state)
{
    (void)state;
    /* 6x2 centred: rows 0 0 r0 r1 0 0; to 3x3 the scale is 2, so output
     * rows and columns sample padded 0, 2, 4 exactly: r0[0], r0[2], r0[4]
     * in the middle row and zeros elsewhere. */
    uint8_t v[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, buf[36];
    et_image img = grey_image(6, 2, v, buf);
    const float want1[9] = {-1, -1, -1, 1, 3, 5, -1, -1, -1};
    float want[27], got[27];
    expand(want1, 9, want);
    assert_int_equal(et_image_to_square_tensor(&img, (et_image_rect){0, 0, 6, 2}, 3, true,
                                               got, NULL), ET_OK);
    assert_floats(got, want, 27);
}

static void square_tensor_copies_when_already_the_target_size(void **state)
{
    (void)state;
    int n = 7;
    uint8_t *px = pattern_rgb(n, n);
    et_image img = {.width = n, .height = n, .rgb = px};
    float got[7 * 7 * 3], want[7 * 7 * 3];
    for (int i = 0; i < n * n * 3; i++)
        want[i] = (float)px[i];
    assert_int_equal(et_image_to_square_tensor(&img, (et_image_rect){0, 0, n, n}, n, false,
                                               got, NULL), ET_OK);
    assert_floats(got, want, (size_t)n * n * 3);
    free(px);
}

static void square_tensor_reads_only_the_region(void **state)
{
    (void)state;
    int w = 40, h = 30;
    uint8_t *px = pattern_rgb(w, h);
    et_image whole = {.width = w, .height = h, .rgb = px};
    et_image_rect r = {5, 7, 13, 9};
    uint8_t crop[13 * 9 * 3];
    for (int y = 0; y < r.height; y++)
        memcpy(crop + y * r.width * 3, px + ((r.y + y) * w + r.x) * 3, (size_t)r.width * 3);
    et_image alone = {.width = r.width, .height = r.height, .rgb = crop};
    float a[11 * 11 * 3], b[11 * 11 * 3];
    assert_int_equal(et_image_to_square_tensor(&whole, r, 11, true, a, NULL), ET_OK);
    assert_int_equal(et_image_to_square_tensor(&alone, (et_image_rect){0, 0, 13, 9}, 11, true,
                                               b, NULL), ET_OK);
    assert_floats(a, b, sizeof a / sizeof a[0]);
    free(px);
}

static uint32_t fnv1a(const void *p, size_t n)
{
    uint32_t h = 0x811c9dc5u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ ((const uint8_t *)p)[i]) * 0x01000193u;
    return h;
}

/*
 * Bit-exact agreement with the reference: the FNV-1a hashes of the float32
 * outputs of face-api 1.7.15 NetInput([tensor3d]).toBatchTensor(size, center)
 * on @tensorflow/tfjs-backend-wasm 4.22.0 (node 20), for pixels from this LCG.
 */
static void square_tensor_is_bit_exact_with_tfjs_wasm(void **state)
{
    (void)state;
    static const struct {
        int w, h, size;
        bool center;
        uint32_t seed, hash;
        float first[6];
    } cases[] = {
        {13, 9, 8, false, 12, 0x98465a2fu, {61, 93, 9, 93, 137.625f, 154.5f}},
        {37, 23, 16, true, 11, 0x1a6724cbu, {0, 0, 0, 0, 0, 0}},
        {97, 61, 112, true, 8, 0xa849bfbau, {0, 0, 0, 0, 0, 0}},
        {5, 300, 224, false, 15, 0x50cc003au,
         {61, 163, 23, 107.89286041259766f, 97, 153.26785278320312f}},
        {640, 480, 416, false, 6, 0x865d7efeu,
         {61, 210, 237, 232.92308044433594f, 64.07691955566406f, 89.46154022216797f}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int w = cases[k].w, h = cases[k].h, size = cases[k].size;
        uint8_t *px = malloc((size_t)w * h * 3);
        float *out = malloc(sizeof *out * (size_t)size * size * 3);
        assert_non_null(px);
        assert_non_null(out);
        uint32_t s = cases[k].seed;
        for (size_t i = 0; i < (size_t)w * h * 3; i++) {
            s = s * 1664525u + 1013904223u;
            px[i] = (uint8_t)(s >> 24);
        }
        et_image img = {.width = w, .height = h, .rgb = px};
        assert_int_equal(et_image_to_square_tensor(&img, (et_image_rect){0, 0, w, h}, size,
                                                   cases[k].center, out, NULL), ET_OK);
        assert_floats(out, cases[k].first, 6);
        uint32_t got = fnv1a(out, sizeof *out * (size_t)size * size * 3);
        if (got != cases[k].hash)
            fail_msg("%dx%d -> %d: hash %08x, tfjs-wasm gives %08x", w, h, size, got,
                     cases[k].hash);
        free(px);
        free(out);
    }
}

static void square_tensor_rejects_bad_regions_and_sizes(void **state)
{
    (void)state;
    uint8_t px[4 * 4 * 3] = {0};
    et_image img = {.width = 4, .height = 4, .rgb = px};
    float out[8 * 8 * 3];
    char err[ET_ERR_MAX] = "";
    const et_image_rect bad[] = {{-1, 0, 2, 2}, {0, -1, 2, 2}, {0, 0, 0, 2}, {0, 0, 2, 0},
                                 {3, 0, 2, 2},  {0, 3, 2, 2},  {0, 0, 5, 4}, {2, 2, 3, 3},
                                 {1, 1, 2147483647, 1}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(et_image_to_square_tensor(&img, bad[i], 8, false, out, err),
                         ET_E_INVALID);
    assert_contains(err, "not inside the 4x4 image");
    et_image_rect whole = {0, 0, 4, 4};
    assert_int_equal(et_image_to_square_tensor(&img, whole, 0, false, out, err), ET_E_INVALID);
    assert_int_equal(et_image_to_square_tensor(&img, whole, -3, false, out, err), ET_E_INVALID);
    assert_int_equal(et_image_to_square_tensor(&img, whole, 8, false, NULL, err), ET_E_INVALID);
    et_image empty = {0};
    assert_int_equal(et_image_to_square_tensor(&empty, whole, 8, false, out, err), ET_E_INVALID);
    assert_int_equal(et_image_to_square_tensor(&img, whole, 8, false, out, err), ET_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sniff_recognises_formats_by_magic_bytes),
        cmocka_unit_test(load_decodes_by_content_not_by_file_name),
        cmocka_unit_test(jpeg_decodes_close_to_the_source),
        cmocka_unit_test(jpeg_decode_is_libjpeg_turbo_accurate_decode),
        cmocka_unit_test(grey_jpeg_decodes_to_equal_channels),
        cmocka_unit_test(cmyk_jpeg_is_unsupported),
        cmocka_unit_test(exif_orientation_puts_each_corner_where_the_spec_says),
        cmocka_unit_test(bad_or_missing_exif_orientation_leaves_the_image_upright),
        cmocka_unit_test(png_rgb8_decodes_exactly),
        cmocka_unit_test(png_rgb16_keeps_the_high_byte),
        cmocka_unit_test(png_palette_decodes_to_palette_colours),
        cmocka_unit_test(png_transparency_is_dropped_not_composited),
        cmocka_unit_test(png_grey_of_every_depth_expands_to_rgb),
        cmocka_unit_test(png_alpha_channel_is_dropped),
        cmocka_unit_test(png_interlaced_decodes_exactly),
        cmocka_unit_test(webp_lossless_decodes_exactly),
        cmocka_unit_test(webp_alpha_is_dropped),
        cmocka_unit_test(webp_lossy_decodes_close_to_the_source),
        cmocka_unit_test(empty_input_is_unsupported),
        cmocka_unit_test(garbage_and_text_are_unsupported),
        cmocka_unit_test(jpeg_with_junk_before_a_marker_decodes_unchanged),
        cmocka_unit_test(truncated_jpeg_is_corrupt),
        cmocka_unit_test(truncated_png_is_corrupt),
        cmocka_unit_test(png_chunk_longer_than_the_file_is_refused_before_libpng),
        cmocka_unit_test(truncated_webp_is_corrupt),
        cmocka_unit_test(corrupt_png_crc_is_corrupt),
        cmocka_unit_test(jpeg_header_over_the_pixel_limit_is_refused),
        cmocka_unit_test(png_header_over_the_pixel_limit_is_refused),
        cmocka_unit_test(webp_header_over_the_pixel_limit_is_refused),
        cmocka_unit_test(small_pixel_limit_refuses_a_20x20_image_in_every_format),
        cmocka_unit_test(png_bomb_is_refused_before_inflating),
        cmocka_unit_test(side_over_65535_is_refused_and_zero_side_is_corrupt),
        cmocka_unit_test(load_errors_name_the_path),
        cmocka_unit_test(load_refuses_a_file_over_max_bytes),
        cmocka_unit_test(write_ppm_writes_binary_p6),
        cmocka_unit_test(free_is_safe_on_empty_and_freed_images),
        cmocka_unit_test(square_tensor_upscales_2x2_to_4x4_like_legacy_bilinear),
        cmocka_unit_test(square_tensor_downscales_3x3_to_2x2),
        cmocka_unit_test(square_tensor_pads_after_the_region_when_not_centred),
        cmocka_unit_test(square_tensor_centred_padding_puts_the_larger_half_after),
        cmocka_unit_test(square_tensor_pads_then_resizes),
        cmocka_unit_test(square_tensor_copies_when_already_the_target_size),
        cmocka_unit_test(square_tensor_reads_only_the_region),
        cmocka_unit_test(square_tensor_is_bit_exact_with_tfjs_wasm),
        cmocka_unit_test(square_tensor_rejects_bad_regions_and_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
