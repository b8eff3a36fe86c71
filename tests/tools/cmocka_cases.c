/* cmocka_cases CASE: a tiny cmocka program that ends one way, for the
 * self-test of the test counter (tests/run-tests-selftest.sh runs each case
 * through scripts/count-cmocka.awk and checks the counts). Built by that
 * script, not by the Makefile; it links nothing of emotune.
 * Cases: all_pass, one_fails, group_setup_fails, abort_mid_way,
 * segfault_mid_way, exit_nonzero_after_all_passed, skipped,
 * test_setup_fails, group_teardown_fails, group_setup_and_teardown_fail,
 * no_tests_ok, no_tests_fail.
 * Exit status: cmocka's count of failures, or whatever the case forces;
 * 2 for an unknown case. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void passes(void **state) { (void)state; }

static void fails(void **state)
{
    (void)state;
    fail_msg("this test fails on purpose");
}

static void aborts(void **state)
{
    (void)state;
    abort(); /* what ASan with abort_on_error=1 does: cmocka does not catch it */
}

static void segfaults(void **state)
{
    (void)state;
    raise(SIGSEGV); /* cmocka catches this one and goes on */
}

static void skips(void **state)
{
    (void)state;
    skip();
}

static int refuses(void **state)
{
    (void)state;
    return -1;
}

static const struct CMUnitTest three_pass[] = {
    cmocka_unit_test(passes), cmocka_unit_test(passes), cmocka_unit_test(passes)};

int main(int argc, char **argv)
{
    const char *c = argc == 2 ? argv[1] : "";
    if (!strcmp(c, "all_pass"))
        return cmocka_run_group_tests_name("all pass", three_pass, NULL, NULL);
    if (!strcmp(c, "one_fails")) {
        const struct CMUnitTest t[] = {cmocka_unit_test(passes), cmocka_unit_test(fails),
                                       cmocka_unit_test(passes)};
        return cmocka_run_group_tests_name("one fails", t, NULL, NULL);
    }
    if (!strcmp(c, "group_setup_fails")) {
        const struct CMUnitTest two[] = {cmocka_unit_test(passes), cmocka_unit_test(passes)};
        int failed = cmocka_run_group_tests_name("fine group", two, NULL, NULL);
        return failed + cmocka_run_group_tests_name("group whose setup fails", three_pass, refuses, NULL);
    }
    if (!strcmp(c, "abort_mid_way")) {
        const struct CMUnitTest t[] = {cmocka_unit_test(passes), cmocka_unit_test(aborts),
                                       cmocka_unit_test(passes), cmocka_unit_test(passes)};
        return cmocka_run_group_tests_name("abort", t, NULL, NULL);
    }
    if (!strcmp(c, "segfault_mid_way")) {
        const struct CMUnitTest t[] = {cmocka_unit_test(passes), cmocka_unit_test(segfaults),
                                       cmocka_unit_test(passes), cmocka_unit_test(passes)};
        return cmocka_run_group_tests_name("segfault", t, NULL, NULL);
    }
    if (!strcmp(c, "exit_nonzero_after_all_passed")) {
        cmocka_run_group_tests_name("all pass, then a leak report", three_pass, NULL, NULL);
        fprintf(stderr, "==1==ERROR: LeakSanitizer: detected memory leaks (pretend)\n");
        return 23;
    }
    if (!strcmp(c, "skipped")) {
        const struct CMUnitTest t[] = {cmocka_unit_test(passes), cmocka_unit_test(skips),
                                       cmocka_unit_test(passes)};
        return cmocka_run_group_tests_name("one skips", t, NULL, NULL);
    }
    if (!strcmp(c, "test_setup_fails")) {
        const struct CMUnitTest t[] = {cmocka_unit_test(passes),
                                       cmocka_unit_test_setup(passes, refuses)};
        return cmocka_run_group_tests_name("a test's setup fails", t, NULL, NULL);
    }
    if (!strcmp(c, "group_setup_and_teardown_fail"))
        return cmocka_run_group_tests_name("both fail", three_pass, refuses, refuses);
    if (!strcmp(c, "group_teardown_fails"))
        return cmocka_run_group_tests_name("group teardown fails", three_pass, NULL, refuses);
    if (!strcmp(c, "no_tests_ok"))
        return 0;
    if (!strcmp(c, "no_tests_fail"))
        return 1;
    fprintf(stderr, "cmocka_cases: unknown case '%s'\n", c);
    return 2;
}
