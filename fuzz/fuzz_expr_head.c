/* Fuzzes the parser of emotune-1's weights file (vision.h
 * et_vision_head_parse): the input is the file's text. A file it accepts must
 * give seven probabilities summing to 1 on any finite features. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "vision/vision.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    et_vision_head *h = NULL;
    char err[ET_ERR_MAX];
    if (et_vision_head_parse((const char *)data, size, &h, err) != ET_OK)
        return 0;
    float x[ET_VISION_HEAD_INPUTS], p[ET_EXPR_COUNT];
    for (int i = 0; i < ET_VISION_HEAD_INPUTS; i++)
        x[i] = (float)(i % 5);
    et_vision_head_read(h, x, p);
    double sum = 0;
    for (int c = 0; c < ET_EXPR_COUNT; c++)
        sum += p[c];
    if (!(fabs(sum - 1.0) < 1e-4))
        abort();
    et_vision_head_free(h);
    return 0;
}
