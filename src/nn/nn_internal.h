/* Private to src/nn: what the per-instruction-set kernel files share. */
#ifndef ET_NN_INTERNAL_H
#define ET_NN_INTERNAL_H

#include "nn/nn.h"

/* Padded taps of the depthwise convolution point at a row of this many
 * zeros; the widest activation of emotune's networks has 512 channels. */
#define ET__NN_ZEROS_MAX 1024

/* Pointers to the 9 input pixels of a 3x3 window (ky, kx order), with rows
 * and columns outside the image pointing at a row of zeros. c must be at most
 * ET__NN_ZEROS_MAX. */
void et__nn_window(const float *in, const et_nn_conv_geom *g, int c, int oy, int ox,
                   const float *taps[9]);

/* The depthwise convolution for channel counts wider than the zero row. */
void et__nn_depthwise3x3_bounded(const float *in, const et_nn_conv_geom *g, int c,
                                 const float *filter, float *out);

/* One table per instruction set, each defined by its own file (compiled
 * with that set's flags). The AVX ones exist only on x86-64. */
extern const et_nn_kernels et__nn_kernels_generic;
#if defined(__x86_64__)
extern const et_nn_kernels et__nn_kernels_avx2;
extern const et_nn_kernels et__nn_kernels_avx512;
#endif

#endif
