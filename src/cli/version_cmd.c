/* emotune version: the version, and what this build runs on this CPU. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/core.h"
#include "nn/nn.h"

#ifndef ET_BUILD_TARGET
#define ET_BUILD_TARGET "compiler default"
#endif

static const char version_usage[] =
    "usage: emotune version [--json]\n"
    "\n"
    "Prints emotune's version, the CPU target it was built for, and which\n"
    "convolution kernels it runs on this CPU: the fastest available, or those\n"
    "EMOTUNE_CPU names (generic, avx2, avx512 or auto), and the kernels\n"
    "OpenBLAS runs: the ones it picks for this CPU, or those OPENBLAS_CORETYPE\n"
    "forces (a CPU older than the one it names dies of an illegal instruction).\n"
    "\n"
    "exit status: 0, or 3 when EMOTUNE_CPU names kernels this CPU cannot run\n"
    "(or unknown ones), 2 on a bad command line.\n";

static json_t *available_list(void)
{
    json_t *list = json_array();
    for (int isa = 0; isa < ET_NN_ISA_COUNT; isa++)
        if (et_nn_isa_available((et_nn_isa)isa))
            json_array_append_new(list, json_string(et_nn_isa_name((et_nn_isa)isa)));
    return list;
}

/* OPENBLAS_CORETYPE's value when it is set, else NULL. */
static const char *blas_coretype(void)
{
    const char *v = getenv(ET_NN_BLAS_CORETYPE_ENV);
    return v && *v ? v : NULL;
}

static void print_text(const et_nn_kernels *k)
{
    printf("emotune %s\n", ET_VERSION);
    printf("built for: %s (%s)\n", ET_BUILD_TARGET, et_nn_build_arch());
    printf("kernels:   %s", et_nn_isa_name(k->isa));
    const char *env = getenv(ET_NN_CPU_ENV);
    printf(" (%s=%s)\n", ET_NN_CPU_ENV, env && *env ? env : "auto");
    printf("available:");
    for (int isa = 0; isa < ET_NN_ISA_COUNT; isa++)
        if (et_nn_isa_available((et_nn_isa)isa))
            printf(" %s", et_nn_isa_name((et_nn_isa)isa));
    printf("\n");
    const char *forced = blas_coretype();
    printf("blas:      OpenBLAS %s", et_nn_blas_corename());
    if (forced)
        printf(" (%s=%s forces them: on a CPU older than %s emotune dies of an illegal "
               "instruction)\n",
               ET_NN_BLAS_CORETYPE_ENV, forced, forced);
    else
        printf(" (picked for this CPU)\n");
}

int et_cli_version(int argc, char **argv)
{
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) {
            json = 1;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            fputs(version_usage, stdout);
            return ET_EXIT_OK;
        } else {
            fprintf(stderr, "emotune version: unknown argument %s\n\n%s", argv[i], version_usage);
            return ET_EXIT_USAGE;
        }
    }
    char err[ET_ERR_MAX];
    const et_nn_kernels *k;
    if (et_nn_kernels_choose(getenv(ET_NN_CPU_ENV), &k, err) != ET_OK) {
        fprintf(stderr, "emotune version: %s=%s: %s\n", ET_NN_CPU_ENV, getenv(ET_NN_CPU_ENV), err);
        return ET_EXIT_SETUP;
    }
    if (!json) {
        print_text(k);
        return ET_EXIT_OK;
    }
    json_t *doc = json_object();
    json_object_set_new(doc, "version", json_string(ET_VERSION));
    json_object_set_new(doc, "built_for", json_string(ET_BUILD_TARGET));
    json_object_set_new(doc, "arch", json_string(et_nn_build_arch()));
    json_object_set_new(doc, "kernels", json_string(et_nn_isa_name(k->isa)));
    json_object_set_new(doc, "available", available_list());
    json_object_set_new(doc, "blas_kernels", json_string(et_nn_blas_corename()));
    const char *forced = blas_coretype();
    json_object_set_new(doc, "openblas_coretype", forced ? json_string(forced) : json_null());
    et_cli_print_json(doc);
    return ET_EXIT_OK;
}
