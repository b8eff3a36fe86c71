# Counts the tests of one program's output (stdout and stderr together).
# Usage: awk -v rc=EXIT_STATUS -f scripts/count-cmocka.awk LOG
# Prints "PASSED FAILED SKIPPED UNREPORTED" (UNREPORTED is included in FAILED).
#
# cmocka 1.1 (Debian 12) prints, per group, "[==========] Running N test(s)."
# and, per test, "[ RUN      ] name" closed by one of
#   "[       OK ] name", "[  FAILED  ] name", "[  SKIPPED ] name", or
#   "[  ERROR   ] name" (its setup or teardown failed; cmocka's own summary
#   counts such a test nowhere).
# Its summary re-lists the failed and skipped tests with the same prefixes;
# those lines close no "[ RUN ]" and are not counted again. What cmocka's
# summary leaves out, and this counts as failed:
#   - a group whose setup failed ("[  FAILED  ] GROUP SETUP"): it announced N
#     tests and ran none, so all N are unreported;
#   - a program that died part way (abort, a sanitizer, a signal cmocka does
#     not catch): the test that was running and the rest of its group are
#     unreported. Groups it never reached are not known; the exit status
#     then still makes the program count as one failure (below);
#   - a group teardown that failed ("[  FAILED  ] GROUP TEARDOWN"): one
#     failure, since no test owns it (none more when the group's setup
#     failed too: its tests are failures already).
# The exit status: a program that exits non-zero although nothing above
# failed (e.g. LeakSanitizer at exit) counts one failure. A program that
# announced no test at all (a fuzz corpus replay, a script) counts as one
# test: passed when it exits 0, failed otherwise.
BEGIN { expected = 0; passed = 0; failed = 0; skipped = 0; group_failures = 0; open = 0 }

/^\[==========\] Running [0-9]+ test\(s\)\./ { expected += $3; open = 0; setup_failed = 0; next }
/^\[ RUN      \] / { open = 1; next }
/^\[  FAILED  \] GROUP SETUP/ { setup_failed = 1; next }
/^\[  FAILED  \] GROUP TEARDOWN/ { if (!setup_failed) group_failures++; next }
open && /^\[       OK \] / { passed++; open = 0; next }
open && /^\[  FAILED  \] / { failed++; open = 0; next }
open && /^\[  SKIPPED \] / { skipped++; open = 0; next }
open && /^\[  ERROR   \] / && !/^\[  ERROR   \] --- / { failed++; open = 0; next }

END {
    if (rc == "") rc = 0
    unreported = expected - (passed + failed + skipped)
    if (unreported < 0) unreported = 0
    failed += unreported + group_failures
    if (expected == 0 && passed + failed + skipped == 0) {
        if (rc == 0) passed = 1; else failed = 1
    } else if (rc != 0 && failed == 0) {
        failed = 1
    }
    print passed, failed, skipped, unreported
}
