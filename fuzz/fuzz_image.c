/* Fuzz target: any bytes through et_image_decode (all three decoders, EXIF
 * parsing, orientation) and, when a picture comes out, through the square
 * tensor resize. The pixel limit keeps each input cheap. */
#include <stdint.h>
#include <stdlib.h>

#include "image/image.h"

enum { FUZZ_TENSOR_SIZE = 24 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    et_image_limits limits = {.max_pixels = 4u * 1000u * 1000u, .max_bytes = 0};
    et_image img = {0};
    char err[ET_ERR_MAX];
    if (et_image_decode(data, size, &limits, &img, err) != ET_OK)
        return 0;
    float tensor[FUZZ_TENSOR_SIZE * FUZZ_TENSOR_SIZE * 3];
    et_image_rect whole = {0, 0, img.width, img.height};
    if (et_image_to_square_tensor(&img, whole, FUZZ_TENSOR_SIZE, true, tensor, err) != ET_OK)
        abort(); /* a decoded image is always a valid region */
    et_image_free(&img);
    return 0;
}
