/* `emotune store` end to end: the built binary on real LMDB stores. Its
 * options may come before or after the command's word, with the same
 * result; --help works in both places; a wrong word is a usage error (exit
 * status 2, as the help says) that names the word. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

typedef ts_cli_library fixture; /* a store holding two links */

static int setup(void **state)
{
    *state = ts_cli_library_new("url,title,artist,mood\n"
                                "https://example.org/a,Song A,Artist A,happy\n"
                                "https://example.org/b,Song B,Artist B,sad\n");
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    ts_cli_library_free(*state);
    return 0;
}

/* Runs `emotune store ARGS`; the exit status, stdout in *out (stderr too
 * when with_stderr). */
static int store_cmd(char **out, int with_stderr, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int store_cmd(char **out, int with_stderr, const char *fmt, ...)
{
    char args[2048], cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd, "%s store %s %s", ts_bin(), args,
             with_stderr ? "2>&1" : "2>/dev/null");
    return ts_run(cmd, out);
}

/* `store ARGS` must succeed; its stdout (caller frees). */
static char *store_ok(const char *args)
{
    char *out;
    int st = store_cmd(&out, 0, "%s", args);
    if (st != 0)
        fail_msg("emotune store %s: exit %d", args, st);
    return out;
}

/* The number of lines of an export in `collection`; fails the test on a
 * line of another collection than it or "library" (the library's change
 * stamp, which an import bumps: library.h). */
static size_t exported(const char *out, const char *collection)
{
    json_t *lines = ts_json_lines(out);
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(lines); i++) {
        const char *c = json_string_value(json_object_get(json_array_get(lines, i),
                                                          "collection"));
        if (c && strcmp(c, collection) == 0)
            n++;
        else if (!c || strcmp(c, "library") != 0)
            fail_msg("an export line of collection %s", c ? c : "(none)");
    }
    json_decref(lines);
    return n;
}

static void store_option_before_or_after_the_word_gives_the_same_export(void **state)
{
    fixture *f = *state;
    char args[1024];
    snprintf(args, sizeof args, "--store %s export", f->store);
    char *before = store_ok(args);
    snprintf(args, sizeof args, "export --store %s", f->store);
    char *after = store_ok(args);
    assert_string_equal(before, after);
    /* the two links, as JSON lines of the "tracks" collection */
    assert_int_equal(exported(before, "tracks"), 2);
    assert_non_null(strstr(before, "\"tracks\""));
    assert_non_null(strstr(before, "Song A"));
    assert_non_null(strstr(before, "Song B"));
    free(before);
    free(after);
}

static void import_and_check_take_the_store_option_on_either_side(void **state)
{
    fixture *f = *state;
    char backup[700], args[2048], copy_a[700], copy_b[700];
    snprintf(backup, sizeof backup, "%s/backup.jsonl", f->dir);
    snprintf(copy_a, sizeof copy_a, "lmdb:%s/a", f->dir);
    snprintf(copy_b, sizeof copy_b, "lmdb:%s/b", f->dir);
    snprintf(args, sizeof args, "export --store %s", f->store);
    char *original = store_ok(args);
    ts_write_file(backup, original, strlen(original));
    /* the backup into two new stores, the option on each side of the word */
    snprintf(args, sizeof args, "--store %s import %s", copy_a, backup);
    free(store_ok(args));
    snprintf(args, sizeof args, "import %s --store %s", backup, copy_b);
    free(store_ok(args));
    snprintf(args, sizeof args, "export --store %s", copy_a);
    char *a = store_ok(args);
    snprintf(args, sizeof args, "--store %s export", copy_b);
    char *b = store_ok(args);
    assert_string_equal(a, original);
    assert_string_equal(b, original);
    /* check: the same report either way, naming the store and its two tracks */
    snprintf(args, sizeof args, "check --store %s", copy_b);
    char *check_after = store_ok(args);
    snprintf(args, sizeof args, "--store %s check", copy_b);
    char *check_before = store_ok(args);
    assert_string_equal(check_after, check_before);
    assert_non_null(strstr(check_after, copy_b));
    /* the two tracks and the library's change stamp */
    assert_non_null(strstr(check_after, "3 documents in 2 collections, 0 problems"));
    free(check_after);
    free(check_before);
    free(a);
    free(b);
    free(original);
}

static void help_works_before_and_after_the_word_without_opening_a_store(void **state)
{
    (void)state;
    /* A store that cannot be opened: help must not try. */
    static const char *const asks[] = {
        "--help",
        "-h",
        "export --help",
        "--store lmdb:/nonexistent/emotune-test export --help",
        "import --help --store redis://127.0.0.1:1",
        "copy --help",
    };
    for (size_t i = 0; i < sizeof asks / sizeof *asks; i++) {
        char *out;
        int st = store_cmd(&out, 0, "%s", asks[i]);
        if (st != 0)
            fail_msg("emotune store %s: exit %d", asks[i], st);
        assert_true(strncmp(out, "usage: emotune store", 20) == 0);
        /* it tells both orders and the exit status of a bad command line */
        assert_non_null(strstr(out, "emotune store [--store URI] COMMAND"));
        assert_non_null(strstr(out, "emotune store COMMAND [ARGS] [--store URI]"));
        assert_non_null(strstr(out, "2 bad command line"));
        free(out);
    }
}

static void a_wrong_word_is_a_usage_error_that_names_it(void **state)
{
    fixture *f = *state;
    static const struct {
        const char *args, *says;
    } wrong[] = {
        {"exprot --store %s", "unknown command 'exprot'"},
        {"--store %s exprot", "unknown command 'exprot'"},
        {"export extra --store %s", "export takes no argument, not 'extra'"},
        {"--store %s import a b", "import takes at most one FILE, not 'b'"},
        {"--store %s", "no command"},
        {"export --stroe %s", "unknown or incomplete option '--stroe'"},
        {"copy %s", "copy takes two stores"},
        {"copy %s lmdb:/tmp/x --store lmdb:/tmp/y", "--store does not apply"},
    };
    for (size_t i = 0; i < sizeof wrong / sizeof *wrong; i++) {
        char args[1024], *out;
        snprintf(args, sizeof args, wrong[i].args, f->store);
        int st = store_cmd(&out, 1, "%s", args);
        if (st != 2 || !strstr(out, wrong[i].says))
            fail_msg("emotune store %s: exit %d (want 2), said: %s", args, st, out);
        /* the help follows the message */
        assert_non_null(strstr(out, "usage: emotune store"));
        free(out);
    }
    /* and the store is as it was */
    char args[700];
    snprintf(args, sizeof args, "export --store %s", f->store);
    char *out = store_ok(args);
    assert_int_equal(exported(out, "tracks"), 2);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            store_option_before_or_after_the_word_gives_the_same_export, setup, teardown),
        cmocka_unit_test_setup_teardown(import_and_check_take_the_store_option_on_either_side,
                                        setup, teardown),
        cmocka_unit_test(help_works_before_and_after_the_word_without_opening_a_store),
        cmocka_unit_test_setup_teardown(a_wrong_word_is_a_usage_error_that_names_it, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
