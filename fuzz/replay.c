/* Replays a fuzz target's corpus without libFuzzer: each file named on the
 * command line (or each file in each directory named) is fed once to
 * LLVMFuzzerTestOneInput. Built with ASan+UBSan and run by `make test`, so
 * every input ever found (corpus and crashes) stays a regression test.
 * Prints a cmocka-style summary line so the test runner counts it. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
    uint8_t *data;
    size_t len;
    char err[ET_ERR_MAX];
    if (et_read_file(path, (size_t)64 << 20, &data, &len, err) != ET_OK) {
        fprintf(stderr, "replay: %s\n", err);
        return -1;
    }
    LLVMFuzzerTestOneInput(data, len);
    free(data);
    return 0;
}

int main(int argc, char **argv)
{
    int n = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: %s: no such file or directory\n", argv[i]);
            bad++;
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            bad += replay_file(argv[i]) != 0;
            n++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
            bad += replay_file(path) != 0;
            n++;
        }
        if (d)
            closedir(d);
    }
    /* Reaching here means no input crashed (ASan/UBSan abort otherwise). */
    printf("replayed %d inputs\n", n);
    if (bad || n == 0) {
        printf("[  FAILED  ] 1 test(s), %d unreadable input(s), %d input(s)\n", bad, n);
        return 1;
    }
    printf("[  PASSED  ] 1 test(s).\n");
    return 0;
}
