/*
 * nn: the tensor operations emotune's two networks need, and the loader for
 * tfjs weight files (a *-weights_manifest.json plus its .bin shards).
 *
 * Layout: every activation is one image, NHWC with batch 1: element (y, x, c)
 * of an h x w x c tensor is data[(y * w + x) * c + c]. Operations write into
 * caller-given outputs and never allocate, so a network's context can hold all
 * buffers and run frame after frame without touching the heap.
 *
 * Padding follows TensorFlow: for 'same' padding the total padding is
 * max((out-1)*stride + k - in, 0), split with the smaller half before (top,
 * left) and the rest after (bottom, right); see et_nn_same_padding.
 *
 * Thread-safety: operations are reentrant; weights are read-only once loaded
 * and may be shared by any number of threads.
 */
#ifndef ET_NN_H
#define ET_NN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

#define ET_NN_MAX_DIMS 4

/* ---- weights ---------------------------------------------------------- */

typedef struct et_nn_weights et_nn_weights;

/* One named tensor of a weight file, dequantised to float. */
typedef struct et_nn_tensor {
    const char *name;
    int ndim;
    int shape[ET_NN_MAX_DIMS];
    size_t count;      /* product of shape */
    const float *data; /* owned by the et_nn_weights */
} et_nn_tensor;

/*
 * Loads a tfjs weights manifest and the .bin files it names (paths relative to
 * the manifest's folder). Supports dtype float32, and uint8/uint16 affine
 * quantisation (value = q * scale + min, as tfjs decodeWeights). Validates that
 * every shard exists, that the byte sizes of all tensors add up exactly to the
 * size of the shards, and that shapes are positive and small enough. Errors
 * name the file and the tensor: ET_E_MODEL (missing file, bad JSON, size
 * mismatch), ET_E_NOMEM. *out is owned by the caller: et_nn_weights_free.
 */
et_status et_nn_weights_load(const char *manifest_path, et_nn_weights **out, char *err);

/* The same for a tfjs graph model (model.json: "modelTopology" and
 * "weightsManifest"): the weights its manifest names, .bin paths relative to
 * the model file's folder. Its int32 tensors (a graph's index constants, such
 * as a Mean's axes) are taken too, as floats (exact for |v| < 2^24). The
 * graph itself is not read: the caller runs it. */
et_status et_nn_weights_load_graph(const char *model_path, et_nn_weights **out, char *err);

/* The same from memory: a manifest and the concatenation of its shards. `label`
 * names the source in error messages. Used by the loader and its fuzzer. */
et_status et_nn_weights_parse(const char *label, const char *manifest, size_t manifest_len,
                              const uint8_t *bin, size_t bin_len, et_nn_weights **out,
                              char *err);

void et_nn_weights_free(et_nn_weights *w);

/* Number of tensors and access by index (in manifest order). */
size_t et_nn_weights_count(const et_nn_weights *w);
const et_nn_tensor *et_nn_weights_at(const et_nn_weights *w, size_t i);

/*
 * Finds the tensor `name` and checks it has exactly the shape given (ndim
 * entries). On success *t points into w. Errors (ET_E_MODEL) say which tensor
 * is missing or which shape was found instead of the one expected.
 */
et_status et_nn_weights_expect(const et_nn_weights *w, const char *name, int ndim,
                               const int *shape, const et_nn_tensor **t, char *err);

/* ---- operations ---------------------------------------------------------- */

/* Padding of one spatial axis for TensorFlow 'same' with kernel k. */
typedef struct et_nn_pad {
    int before, after;
} et_nn_pad;
et_nn_pad et_nn_same_padding(int in, int k, int stride);

/* Output size of one axis: (in + before + after - k) / stride + 1. */
int et_nn_out_size(int in, int k, int stride, et_nn_pad pad);

/* Geometry shared by the 3x3 operations. */
typedef struct et_nn_conv_geom {
    int h, w;          /* input size */
    int stride;        /* same for both axes */
    et_nn_pad py, px;  /* zero padding */
    int oh, ow;        /* output size, from et_nn_out_size */
} et_nn_conv_geom;

et_nn_conv_geom et_nn_geom(int h, int w, int stride, et_nn_pad py, et_nn_pad px);

/* ---- kernels per instruction set ----------------------------------------
 *
 * The two hand-vectorised operations (the direct and the depthwise 3x3
 * convolution) are compiled once per instruction set; the rest of emotune is
 * built for a baseline CPU (x86-64-v2 on x86-64) and picks a kernel table at
 * run time, so one binary runs on any CPU of its architecture and uses the
 * widest vectors that CPU has.
 *
 *   generic  portable C (8-float vector extension), no fused multiply-add:
 *            every architecture
 *   avx2     AVX2 + FMA, fused multiply-add: x86-64 CPUs since about 2013
 *   avx512   AVX-512F + FMA, fused multiply-add
 *
 * Within one table results are bit-for-bit deterministic. avx2 and avx512
 * sum each output in the same order with the same fused operations, so they
 * agree exactly; generic rounds each product separately and differs from them
 * by a few units in the last place (tests bound it at 1e-5).
 */
typedef enum et_nn_isa {
    ET_NN_ISA_GENERIC = 0,
    ET_NN_ISA_AVX2,
    ET_NN_ISA_AVX512,
    ET_NN_ISA_COUNT
} et_nn_isa;

/* The environment variable that forces a table: generic, avx2, avx512, or
 * auto (the default: the fastest this CPU runs). Read by et_vision_ctx_new. */
#define ET_NN_CPU_ENV "EMOTUNE_CPU"

typedef struct et_nn_kernels {
    et_nn_isa isa;

    /* Full 3x3 convolution, cin -> cout channels, filter HWIO
     * [3][3][cin][cout] (tfjs layout), plus bias[cout] (may be NULL).
     * in: h*w*cin, out: oh*ow*cout. Direct (no unfolding): it serves the
     * networks' first layers, with 3 input channels, where a matrix product
     * would be mostly copying. */
    void (*conv3x3)(const float *in, const et_nn_conv_geom *g, int cin, const float *filter,
                    const float *bias, int cout, float *out);

    /* Depthwise 3x3 convolution with channel multiplier 1: filter [3][3][c]
     * (tfjs [3,3,c,1]); no bias. in: h*w*c, out: oh*ow*c. Vectorised over c. */
    void (*depthwise3x3)(const float *in, const et_nn_conv_geom *g, int c,
                         const float *filter, float *out);
} et_nn_kernels;

/* "generic", "avx2", "avx512"; NULL for a value out of range. */
const char *et_nn_isa_name(et_nn_isa isa);

/* Whether this build has the table for isa and this CPU (with its operating
 * system) can run it. Thread-safe. */
bool et_nn_isa_available(et_nn_isa isa);

/* The architecture this build is for: "x86_64", "aarch64", or "other". */
const char *et_nn_build_arch(void);

/* The fastest available instruction set. */
et_nn_isa et_nn_isa_best(void);

/* The table of isa, or NULL when it is not available. Tables are static:
 * never freed, shared by all threads. */
const et_nn_kernels *et_nn_kernels_for(et_nn_isa isa);

/*
 * The table a request names: NULL, "" or "auto" for the fastest available;
 * "generic", "avx2" or "avx512" for that one. Errors: ET_E_INVALID (an
 * unknown name), ET_E_UNSUPPORTED (this CPU cannot run the one named; the
 * message says which it can), never an illegal instruction later.
 */
et_status et_nn_kernels_choose(const char *request, const et_nn_kernels **out, char *err);

/* Pointwise (1x1) convolution over n pixels: out[n][cout] = in[n][cin] x
 * W[cin][cout] + bias[cout] (bias may be NULL), through cblas_sgemm. */
void et_nn_pointwise(const float *in, int n, int cin, const float *weights, const float *bias,
                     int cout, float *out);

/* Max pooling 2x2 with stride 1 or 2 and TensorFlow 'same' padding (padded
 * cells never win). in: h*w*c; out: et_nn_out_size(h,2,stride,same) squared. */
void et_nn_maxpool2x2(const float *in, int h, int w, int c, int stride, float *out);

/* Max pooling 3x3 with any stride and TensorFlow 'same' padding (padded cells
 * never win), as Keras MaxPooling2D((3,3), strides, 'same'). in: h*w*c; out:
 * et_nn_out_size(h,3,stride,same) x et_nn_out_size(w,3,stride,same) x c. */
void et_nn_maxpool3x3(const float *in, int h, int w, int c, int stride, float *out);

/* Mean over all h*w pixels of each channel: out[c]. (An average pool whose
 * window covers the whole input, as the expression net's 7x7 'valid'.) */
void et_nn_global_avgpool(const float *in, int h, int w, int c, float *out);

/* In place, over n values: leaky ReLU exactly as face-api's leaky() computes
 * it, relu(x - 0.1x) + 0.1x; and plain ReLU. */
void et_nn_leaky(float *x, size_t n);
void et_nn_relu(float *x, size_t n);

/* Fully connected: out[cout] = in[cin] x W[cin][cout] + bias[cout]. */
void et_nn_dense(const float *in, int cin, const float *weights, const float *bias, int cout,
                 float *out);

/* Softmax over n values in place (max-subtracted, as tf.softmax). */
void et_nn_softmax(float *x, int n);

/* Restricts OpenBLAS to n threads (process-wide; call once from main). */
void et_nn_set_blas_threads(int n);

/* The environment variable that makes OpenBLAS use one CPU's kernels
 * whatever CPU it runs on (on a CPU older than the one named, the program
 * dies of an illegal instruction inside OpenBLAS). */
#define ET_NN_BLAS_CORETYPE_ENV "OPENBLAS_CORETYPE"

/* The name OpenBLAS gives the kernels it runs ("Haswell", "SkylakeX", ...);
 * static storage owned by OpenBLAS. */
const char *et_nn_blas_corename(void);

#endif
