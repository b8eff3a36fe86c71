/* The AVX2+FMA kernels: 16-float accumulators (two ymm registers), multiply-
 * adds fused. The Makefile compiles this file alone with -mavx2 -mfma
 * -ffp-contract=fast; nothing here runs unless et_nn_isa_available says the
 * CPU has AVX2 and FMA. */
#if defined(__x86_64__)
#if !defined(__AVX2__) || !defined(__FMA__)
#error "kernels_avx2.c must be compiled with -mavx2 -mfma"
#endif
#define ET__KV 8
#define ET__KTABLE et__nn_kernels_avx2
#define ET__KISA ET_NN_ISA_AVX2
#include "nn/kernels_impl.h"
#else
/* Not x86-64: nothing to build (ISO C wants a declaration in every file). */
typedef int et__nn_kernels_avx2_absent;
#endif
