/* Fuzzes the readers of a listener's calibration documents (NAME/calibration
 * and NAME/calibration_fit in "profiles") on any JSON a store could hold --
 * another emotune version, a hand edit, an import -- and checks what the
 * server's frames rely on: an accepted fit has counts within the bound that
 * add up, a finite bias per reader, and applying it gives probabilities that
 * sum to 1; an accepted example has a known expression, a Unix time,
 * finite features and face-api probabilities that sum to 1; and the solver
 * on the accepted examples gives a finite bias whose gradient is small. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "listener/listener_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define K ET_EXPR_COUNT

static void check_probs(const float p[K])
{
    double sum = 0;
    for (int k = 0; k < K; k++) {
        if (!isfinite(p[k]) || p[k] < 0 || p[k] > 1)
            abort();
        sum += p[k];
    }
    if (fabs(sum - 1) > 1e-3)
        abort();
}

static void check_fit(const json_t *doc)
{
    et_listener_calibration cal;
    if (!et__listener_read_calib_fit(doc, &cal)) {
        if (cal.in_use || cal.total)
            abort(); /* refused: all zero */
        return;
    }
    unsigned total = 0;
    for (int e = 0; e < K; e++) {
        if (cal.counts[e] > ET_LISTENER_CALIB_MAX_PER_EXPR)
            abort();
        total += cal.counts[e];
    }
    if (total != cal.total || cal.in_use != (total > 0))
        abort();
    for (int m = 0; m < ET_EXPR_MODEL_COUNT; m++) {
        for (int k = 0; k < K; k++)
            if (!isfinite(cal.bias[m][k]))
                abort();
        et_face f = {.model = (et_expr_model)m};
        for (int k = 0; k < K; k++)
            f.expressions[k] = 1.0f / K;
        bool applied = et_listener_calib_apply_face(&cal, &f);
        if (applied != cal.in_use || (unsigned)f.top >= K)
            abort();
        check_probs(f.expressions);
    }
}

static void check_examples(const json_t *doc)
{
    const json_t *list = json_object_get(doc, "examples");
    size_t n = json_array_size(list), kept = 0;
    if (n > 64)
        n = 64;
    double(*z)[K] = malloc((n ? n : 1) * sizeof *z);
    int *y = malloc((n ? n : 1) * sizeof *y);
    if (!z || !y)
        abort();
    for (size_t i = 0; i < n; i++) {
        et_listener_calib_example ex;
        if (!et__listener_read_calib_example(json_array_get(list, i), &ex))
            continue;
        if ((unsigned)ex.expression >= K || !isfinite(ex.time) || ex.time <= 0)
            abort();
        for (int j = 0; j < ET_VISION_HEAD_INPUTS; j++)
            if (!isfinite(ex.x[j]))
                abort();
        check_probs(ex.faceapi);
        et_listener_calib_logits(ex.faceapi, z[kept]);
        y[kept++] = (int)ex.expression;
    }
    double b[K];
    if (et_listener_calib_fit((const double(*)[K])z, y, kept, ET_LISTENER_CALIB_LAMBDA, b, NULL,
                              NULL) != ET_OK)
        abort();
    for (int k = 0; k < K; k++)
        if (!isfinite(b[k]))
            abort();
    free(z);
    free(y);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *doc = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (json_is_object(doc)) {
        check_fit(doc);
        check_examples(doc);
    }
    json_decref(doc);
    return 0;
}
