/* The AVX-512 kernels: 16-float accumulators (one zmm register), multiply-
 * adds fused, loops vectorised 512 bits wide. The Makefile compiles this file
 * alone with -mavx512f -mavx2 -mfma -mprefer-vector-width=512
 * -ffp-contract=fast; nothing here runs unless et_nn_isa_available says the
 * CPU (and the operating system) has AVX-512F. */
#if defined(__x86_64__)
#if !defined(__AVX512F__) || !defined(__FMA__)
#error "kernels_avx512.c must be compiled with -mavx512f -mfma"
#endif
#define ET__KV 16
#define ET__KTABLE et__nn_kernels_avx512
#define ET__KISA ET_NN_ISA_AVX512
#include "nn/kernels_impl.h"
#else
typedef int et__nn_kernels_avx512_absent;
#endif
