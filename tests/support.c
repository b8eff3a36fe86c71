#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *ts_faces_dir(void)
{
    const char *env = getenv("EMOTUNE_FACES_DIR");
    if (env && *env)
        return is_dir(env) ? env : NULL;
    return is_dir("../shared/data/faces/images") ? "../shared/data/faces" : NULL;
}

const char *ts_models_dir(void)
{
    const char *env = getenv("EMOTUNE_TEST_MODELS");
    return env && *env ? env : "build/models";
}

const char *ts_demo_dir(void) { return "node_modules/@vladmandic/face-api/demo"; }

char *ts_tempdir(void)
{
    const char *base = getenv("TMPDIR");
    char *p = malloc(512);
    assert_non_null(p);
    snprintf(p, 512, "%s/emotune-test-XXXXXX", base && *base ? base : "/tmp");
    assert_non_null(mkdtemp(p));
    return p;
}

void ts_rmtree(const char *dir)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", dir);
}

void ts_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}
