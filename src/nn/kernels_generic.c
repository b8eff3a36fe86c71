/* The portable kernels: 8-float vectors, which every target GCC and Clang
 * support (SSE on x86-64, NEON on arm64, scalar code elsewhere), compiled
 * with the baseline flags. */
#define ET__KV 4
#define ET__KTABLE et__nn_kernels_generic
#define ET__KISA ET_NN_ISA_GENERIC
#include "nn/kernels_impl.h"
