#!/usr/bin/env bash
# Self-test of the counter behind scripts/run-tests.sh's closing line
# (scripts/count-cmocka.awk): builds tests/tools/cmocka_cases.c, runs each of
# its cases the way run-tests.sh runs a program, and checks the counts the
# counter gives. Prints its own result in cmocka's format, so run-tests.sh
# counts it like any other program. Exit status: the number of cases whose
# counts are wrong (2 when the cases program cannot be built).
set -uo pipefail
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! ${CC:-cc} -std=c11 -Wall -Wextra -Werror tests/tools/cmocka_cases.c -lcmocka \
    -o "$tmp/cmocka_cases"; then
  echo "run-tests-selftest: cannot build tests/tools/cmocka_cases.c" >&2
  exit 2
fi

# case, then the counts it must give: passed failed skipped unreported
cases=(
  "all_pass                      3 0 0 0"
  "one_fails                     2 1 0 0"
  "group_setup_fails             2 3 0 3"
  "abort_mid_way                 1 3 0 3"
  "segfault_mid_way              3 1 0 0"
  "exit_nonzero_after_all_passed 3 1 0 0"
  "skipped                       2 0 1 0"
  "test_setup_fails              1 1 0 0"
  "group_teardown_fails          3 1 0 0"
  "group_setup_and_teardown_fail 0 3 0 3"
  "no_tests_ok                   1 0 0 0"
  "no_tests_fail                 0 1 0 0"
)

echo "[==========] Running ${#cases[@]} test(s)."
wrong=0
for line in "${cases[@]}"; do
  read -r name want <<< "$line"
  want=$(echo $want)
  echo "[ RUN      ] counts_of_$name"
  { "$tmp/cmocka_cases" "$name" > "$tmp/log" 2>&1; } 2> /dev/null
  rc=$?
  got=$(awk -v rc="$rc" -f scripts/count-cmocka.awk "$tmp/log")
  if [[ $got == "$want" ]]; then
    echo "[       OK ] counts_of_$name"
  else
    echo "counts (passed failed skipped unreported): got '$got', want '$want' (exit $rc); its output:"
    sed 's/^/    | /' "$tmp/log"
    echo "[  FAILED  ] counts_of_$name"
    wrong=$((wrong + 1))
  fi
done
echo "[==========] ${#cases[@]} test(s) run."
exit "$wrong"
