/* Fuzzes the tfjs weight loader: the input is a manifest and a weight blob
 * separated by the first NUL byte (no NUL: all manifest, empty blob). */
#include <stdint.h>
#include <string.h>

#include "nn/nn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t mlen = nul ? (size_t)(nul - data) : size;
    const uint8_t *bin = nul ? nul + 1 : data + size;
    size_t blen = nul ? size - mlen - 1 : 0;
    et_nn_weights *w = NULL;
    char err[ET_ERR_MAX];
    if (et_nn_weights_parse("fuzz", (const char *)data, mlen, bin, blen, &w, err) == ET_OK) {
        for (size_t i = 0; i < et_nn_weights_count(w); i++) {
            const et_nn_tensor *t = et_nn_weights_at(w, i);
            volatile float sink = t->data[t->count - 1]; /* every value must be readable */
            (void)sink;
        }
        et_nn_weights_free(w);
    }
    return 0;
}
