/* PNG decoding with libpng 1.6 from memory, any colour type to 8-bit RGB. */
#include "image/image_internal.h"

#include <stdlib.h>
#include <string.h>

#include <png.h>

/* Largest ancillary chunk (or inflated zTXt/iCCP) libpng may allocate; none
 * affects the pixels. See also check_chunks and ignore_unused_chunks. */
#define PNG_CHUNK_MALLOC_MAX ((png_alloc_size_t)8 << 20)

/* Signature (8), IHDR length (4) and type (4), width (4), height (4). */
enum { PNG_IHDR_DIMS_END = 24 };

/*
 * Everything a decode owns, kept by the caller of the function that calls
 * setjmp: after a longjmp the cleanup reads these fields, which therefore must
 * not be locals of the setjmp caller (C11 7.13.2.1p3).
 */
typedef struct png_job {
    const uint8_t *data;
    size_t len, pos;
    char *err;
    et_status status; /* what a libpng error means: ET_E_CORRUPT unless set */
    png_structp png;
    png_infop info;
    uint8_t *rgb;
    png_bytep *rows;
    int width, height;
} png_job;

static void on_error(png_structp png, png_const_charp msg)
{
    png_job *job = png_get_error_ptr(png);
    et_fail(job->err, job->status, "PNG: %s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg; /* ancillary trouble (bad CRC in a text chunk...) is not ours */
}

static void read_bytes(png_structp png, png_bytep dst, size_t n)
{
    png_job *job = png_get_io_ptr(png);
    if (n > job->len - job->pos)
        png_error(png, "truncated data");
    memcpy(dst, job->data + job->pos, n);
    job->pos += n;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A chunk type for a message: its four letters, or "?" if they are not. */
static const char *chunk_name(const uint8_t *type, char name[5])
{
    for (int i = 0; i < 4; i++) {
        bool letter = (type[i] >= 'A' && type[i] <= 'Z') || (type[i] >= 'a' && type[i] <= 'z');
        if (!letter)
            return "?";
        name[i] = (char)type[i];
    }
    name[4] = '\0';
    return name;
}

/*
 * Checks, before libpng sees the data, that every chunk up to IEND lies inside
 * it. libpng allocates a chunk's claimed length before reading it and only
 * warns (a "benign error") when that length is over png_set_chunk_malloc_max,
 * so a 100-byte file claiming a 1.4 GB zTXt would cost a 1.4 GB allocation.
 */
static et_status check_chunks(const uint8_t *data, size_t len, char *err)
{
    size_t p = 8; /* after the signature */
    for (;;) {
        if (len - p < 12) /* length, type, CRC */
            return et_fail(err, ET_E_CORRUPT, "PNG: truncated data");
        uint32_t length = be32(data + p);
        if (length > PNG_UINT_31_MAX)
            return et_fail(err, ET_E_CORRUPT, "PNG: chunk length %u at byte %zu is invalid",
                           length, p);
        if (length > len - p - 12) {
            char name[5];
            return et_fail(err, ET_E_CORRUPT,
                           "PNG: truncated data (%s chunk at byte %zu claims %u bytes, %zu remain)",
                           chunk_name(data + p + 4, name), p, length, len - p - 12);
        }
        if (memcmp(data + p + 4, "IEND", 4) == 0)
            return ET_OK;
        p += 12 + (size_t)length;
    }
}

/* The limits, from IHDR's bytes, before libpng allocates anything. */
static et_status check_header(const uint8_t *data, size_t len, const et_image_limits *limits,
                              char *err)
{
    if (len < PNG_IHDR_DIMS_END)
        return et_fail(err, ET_E_CORRUPT, "PNG: truncated data");
    if (memcmp(data + 12, "IHDR", 4) != 0)
        return et_fail(err, ET_E_CORRUPT, "PNG: first chunk is not IHDR");
    et_status s = et__image_check_size("PNG", be32(data + 16), be32(data + 20), limits, err);
    if (s != ET_OK)
        return s;
    return check_chunks(data, len, err);
}

/* Ancillary chunks that cannot change our pixels but make libpng allocate and
 * inflate (text, ICC profiles, EXIF, suggested palettes): skipped unread. */
static void ignore_unused_chunks(png_structp png)
{
    static const png_byte unused[] = "iCCP\0iTXt\0tEXt\0zTXt\0sPLT\0eXIf\0pCAL\0sCAL\0";
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, unused,
                                (int)(sizeof unused - 1) / 5);
}

/* Asks libpng for 8-bit RGB whatever the file holds. Alpha (an alpha channel
 * or tRNS) is dropped, not composited; 16-bit samples keep their high byte;
 * gamma and colour profiles are ignored. */
static void request_rgb8(png_structp png, png_infop info)
{
    int color_type = png_get_color_type(png, info);
    int bit_depth = png_get_bit_depth(png, info);
    if (color_type == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    if (bit_depth == 16)
        png_set_strip_16(png);
    /* Also cancels the tRNS expansion png_set_palette_to_rgb asks for. */
    png_set_strip_alpha(png);
    if (!(color_type & PNG_COLOR_MASK_COLOR))
        png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
}

static void allocate_rows(png_job *job)
{
    size_t stride = (size_t)job->width * 3;
    job->rgb = malloc(stride * (size_t)job->height);
    job->rows = malloc(sizeof *job->rows * (size_t)job->height);
    if (!job->rgb || !job->rows) {
        job->status = ET_E_NOMEM;
        png_error(job->png, "out of memory for the pixels");
    }
    for (int y = 0; y < job->height; y++)
        job->rows[y] = job->rgb + (size_t)y * stride;
}

/* Runs libpng; any libpng error longjmps back here with the message in
 * job->err. Returns whether the whole image was read. */
static bool run_libpng(png_job *job, const et_image_limits *limits)
{
    if (setjmp(png_jmpbuf(job->png)))
        return false;
    /* Backstops for check_header: libpng itself refuses bigger sides. */
    uint64_t side = limits->max_pixels < ET__IMAGE_MAX_SIDE ? limits->max_pixels
                                                              : ET__IMAGE_MAX_SIDE;
    png_set_user_limits(job->png, (png_uint_32)side, (png_uint_32)side);
    png_set_chunk_malloc_max(job->png, PNG_CHUNK_MALLOC_MAX);
    ignore_unused_chunks(job->png);
    png_set_read_fn(job->png, job, read_bytes);
    png_read_info(job->png, job->info);
    job->width = (int)png_get_image_width(job->png, job->info);
    job->height = (int)png_get_image_height(job->png, job->info);
    request_rgb8(job->png, job->info);
    if (png_get_rowbytes(job->png, job->info) != (size_t)job->width * 3)
        png_error(job->png, "unexpected row size after conversion to RGB");
    allocate_rows(job);
    png_read_image(job->png, job->rows);
    /* Reads up to IEND, so a file cut after its last IDAT is still an error. */
    png_read_end(job->png, NULL);
    return true;
}

et_status et__image_decode_png(const uint8_t *data, size_t len,
                               const et_image_limits *limits, et_image *out, char *err)
{
    et_status s = check_header(data, len, limits, err);
    if (s != ET_OK)
        return s;
    png_job job = {.data = data, .len = len, .err = err, .status = ET_E_CORRUPT};
    job.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &job, on_error, on_warning);
    if (job.png)
        job.info = png_create_info_struct(job.png);
    if (!job.png || !job.info) {
        png_destroy_read_struct(&job.png, &job.info, NULL);
        return et_fail(err, ET_E_NOMEM, "PNG: cannot create a decoder");
    }
    bool ok = run_libpng(&job, limits);
    png_destroy_read_struct(&job.png, &job.info, NULL);
    free(job.rows);
    if (!ok) {
        free(job.rgb);
        return job.status;
    }
    *out = (et_image){.width = job.width, .height = job.height, .rgb = job.rgb};
    return ET_OK;
}
