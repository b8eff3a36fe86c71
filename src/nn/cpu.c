/* Which kernels this CPU can run, and the choice among them (by default the
 * fastest; EMOTUNE_CPU or a caller may ask for another). Detection uses GCC's
 * __builtin_cpu_supports, which also checks that the operating system saves
 * the wide registers (XGETBV), so a CPU whose kernel disabled AVX-512 is
 * treated as not having it. */
#include <stdio.h>
#include <string.h>

#include "nn/nn_internal.h"

static const char *const isa_names[ET_NN_ISA_COUNT] = {"generic", "avx2", "avx512"};

const char *et_nn_isa_name(et_nn_isa isa)
{
    return (unsigned)isa < ET_NN_ISA_COUNT ? isa_names[isa] : NULL;
}

bool et_nn_isa_available(et_nn_isa isa)
{
    switch (isa) {
    case ET_NN_ISA_GENERIC:
        return true;
#if defined(__x86_64__)
    case ET_NN_ISA_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case ET_NN_ISA_AVX512:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
               __builtin_cpu_supports("fma");
#endif
    default:
        return false;
    }
}

const et_nn_kernels *et_nn_kernels_for(et_nn_isa isa)
{
    if (!et_nn_isa_available(isa))
        return NULL;
    switch (isa) {
#if defined(__x86_64__)
    case ET_NN_ISA_AVX2:
        return &et__nn_kernels_avx2;
    case ET_NN_ISA_AVX512:
        return &et__nn_kernels_avx512;
#endif
    default:
        return &et__nn_kernels_generic;
    }
}

const char *et_nn_build_arch(void)
{
#if defined(__x86_64__)
    return "x86_64";
#elif defined(__aarch64__)
    return "aarch64";
#else
    return "other";
#endif
}

et_nn_isa et_nn_isa_best(void)
{
    for (int isa = ET_NN_ISA_COUNT - 1; isa > ET_NN_ISA_GENERIC; isa--)
        if (et_nn_isa_available((et_nn_isa)isa))
            return (et_nn_isa)isa;
    return ET_NN_ISA_GENERIC;
}

et_status et_nn_kernels_choose(const char *request, const et_nn_kernels **out, char *err)
{
    if (!request || !*request || strcmp(request, "auto") == 0) {
        *out = et_nn_kernels_for(et_nn_isa_best());
        return ET_OK;
    }
    for (int isa = 0; isa < ET_NN_ISA_COUNT; isa++) {
        if (strcmp(request, isa_names[isa]) != 0)
            continue;
        *out = et_nn_kernels_for((et_nn_isa)isa);
        if (!*out)
            return et_fail(err, ET_E_UNSUPPORTED,
                           "kernels '%s' were asked for, but this CPU cannot run them "
                           "(the fastest it runs: %s)", request, isa_names[et_nn_isa_best()]);
        return ET_OK;
    }
    return et_fail(err, ET_E_INVALID, "unknown kernels '%s' (expected auto, generic, avx2 or avx512)",
                   request);
}
