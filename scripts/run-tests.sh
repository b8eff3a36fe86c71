#!/usr/bin/env bash
# Runs every test program (release build, then ASan+UBSan build), the fuzz
# corpus replays and the reference-parity step, and prints one closing line
# with the counts. Exit status is non-zero when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0 failed=0 skipped=0 programs_failed=()
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

count() { # cmocka summary lines -> counters
  local log=$1 n
  n=$(grep -Eo '^\[  PASSED  \] [0-9]+' "$log" | awk '{s+=$4} END{print s+0}'); passed=$((passed+n))
  n=$(grep -Eo '^\[  FAILED  \] [0-9]+' "$log" | awk '{s+=$4} END{print s+0}'); failed=$((failed+n))
  n=$(grep -Eo '^\[  SKIPPED \] [0-9]+' "$log" | awk '{s+=$4} END{print s+0}'); skipped=$((skipped+n))
}

run_program() { # name, command...
  local name=$1; shift
  local log; log=$(mktemp)
  echo "=== $name"
  "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  count "$log"
  if [[ $rc -ne 0 ]]; then
    programs_failed+=("$name (exit $rc)")
    # A crash before cmocka's summary still counts as a failure.
    grep -q '^\[  FAILED  \]' "$log" || failed=$((failed+1))
  fi
  rm -f "$log"
}

# Reference outputs for the parity tests (face-api on tfjs-wasm), made in this run.
if ! scripts/make-reference.sh; then
  programs_failed+=("make-reference.sh"); failed=$((failed+1))
fi

# A few seconds of real music (Debian's asc-music); its test skips without it.
scripts/fetch-test-music.sh || echo "run-tests: could not fetch real music; that test will skip"

for t in build/tests/test_*; do
  run_program "$t" env EMOTUNE_TEST_MODELS=build/models EMOTUNE_TEST_BIN=build/emotune "$t"
done
for t in build/san/tests/test_*; do
  run_program "$t" env EMOTUNE_TEST_MODELS=build/san/models EMOTUNE_TEST_BIN=build/san/emotune "$t"
done
for r in build/san/replay/fuzz_*; do
  name=$(basename "$r")
  run_program "$r" "$r" "fuzz/corpus/${name#fuzz_}"
done

echo
if ((${#programs_failed[@]})); then
  printf 'failed program: %s\n' "${programs_failed[@]}"
fi
echo "emotune tests: $passed passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 && ${#programs_failed[@]} -eq 0 ]]
