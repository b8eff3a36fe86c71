#!/usr/bin/env bash
# Runs every test program (release build, then ASan+UBSan build), the fuzz
# corpus replays and the reference-parity step, and prints one closing line
# with the counts. Exit status is non-zero when anything failed.
# The counts come from scripts/count-cmocka.awk (its header says how a
# failed group setup, a crash part way and a non-zero exit are counted);
# tests/run-tests-selftest.sh checks that counter and runs first.
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0 failed=0 skipped=0 programs_failed=()
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

run_program() { # name, command...
  local name=$1; shift
  local log; log=$(mktemp)
  echo "=== $name"
  "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]} p f s u
  read -r p f s u < <(awk -v rc="$rc" -f scripts/count-cmocka.awk "$log") ||
    { p=0 f=1 s=0 u=0; } # no count at all: the counter itself failed
  passed=$((passed+p)) failed=$((failed+f)) skipped=$((skipped+s))
  if [[ $rc -ne 0 || $f -ne 0 ]]; then
    local why="exit $rc"
    ((u)) && why+=", $u test(s) never reported"
    programs_failed+=("$name ($why)")
  fi
  rm -f "$log"
}

# The counter first: a wrong count would make every line below untrustworthy.
run_program tests/run-tests-selftest.sh tests/run-tests-selftest.sh

# Reference outputs for the parity tests (face-api on tfjs-wasm), made in this
# run; the previous run's are removed first, so that if this step fails the
# parity tests fail for want of them instead of passing on stale ones.
rm -f build/parity/*.jsonl
run_program scripts/make-reference.sh scripts/make-reference.sh
run_program scripts/make-reference-emotion.sh scripts/make-reference-emotion.sh

# A few seconds of real music (Debian's asc-music); its test skips without it.
scripts/fetch-test-music.sh || echo "run-tests: could not fetch real music; that test will skip"

for t in build/tests/test_*; do
  run_program "$t" env EMOTUNE_TEST_MODELS=build/models EMOTUNE_TEST_BIN=build/emotune "$t"
done
for t in build/san/tests/test_*; do
  run_program "$t" env EMOTUNE_TEST_MODELS=build/san/models EMOTUNE_TEST_BIN=build/san/emotune "$t"
done
# The kernel tables (src/nn/nn.h): the runs above use the fastest this CPU
# has; the nn, vision and parity tests run again with each table the CPU runs
# forced by EMOTUNE_CPU, so a machine with AVX-512 checks the AVX2 and generic
# code too, against each other and against face-api.
kernels_not_run=()
for isa in generic avx2 avx512; do
  if ! EMOTUNE_CPU=$isa build/emotune version > /dev/null 2>&1; then
    echo "=== kernels $isa: this CPU cannot run them, so they are not tested here"
    kernels_not_run+=("$isa")
    continue
  fi
  for t in test_nn test_vision test_parity; do
    run_program "build/tests/$t (EMOTUNE_CPU=$isa)" env EMOTUNE_CPU=$isa \
      EMOTUNE_TEST_MODELS=build/models EMOTUNE_TEST_BIN=build/emotune "build/tests/$t"
  done
  for t in test_nn test_vision; do
    run_program "build/san/tests/$t (EMOTUNE_CPU=$isa)" env EMOTUNE_CPU=$isa \
      EMOTUNE_TEST_MODELS=build/san/models EMOTUNE_TEST_BIN=build/san/emotune "build/san/tests/$t"
  done
done

# One binary for every x86-64 CPU: the same build/emotune and test_parity
# run on CPUs emulated by qemu-user. On Nehalem (x86-64-v2: SSE4.2, no AVX)
# an AVX instruction anywhere (ours or the compiler's) would die with
# SIGILL; the parity test must pass there with the generic kernels, on the
# six demo pictures and six face crops (emulation costs seconds a picture).
# emotune version must pick the kernels each emulated CPU has.
# scripts/emulate.sh runs each without OpenBLAS's forcing variables
# (OPENBLAS_CORETYPE would make OpenBLAS run AVX2 on the emulated Nehalem)
# and says so; the parity run has OPENBLAS_CORETYPE=Haswell set on purpose,
# as CI's machines do, so that a machine without it checks the removal too.
picks() { # cpu, expected kernels
  local got
  got=$(scripts/emulate.sh "$1" build/emotune version --json |
        sed -n 's/.*"kernels":"\([a-z0-9]*\)".*/\1/p')
  echo "emotune version on an emulated $1 picks: ${got:-nothing}"
  [[ $got == "$2" ]]
}
if [[ $(uname -m) != x86_64 ]]; then
  echo "=== not an x86-64 machine: the binary is not tried on emulated x86-64 CPUs"
elif command -v qemu-x86_64 > /dev/null; then
  run_program "emotune version on an emulated Nehalem (x86-64-v2)" picks Nehalem generic
  run_program "emotune version on an emulated Haswell (AVX2)" picks Haswell avx2
  run_program tests/emulated-cpu-test.sh tests/emulated-cpu-test.sh
  run_program "build/tests/test_parity on an emulated Nehalem (x86-64-v2), OPENBLAS_CORETYPE=Haswell set" \
    env OPENBLAS_CORETYPE=Haswell OPENBLAS_L2_SIZE=512 EMOTUNE_TEST_PARITY_IMAGES=6 \
    EMOTUNE_TEST_MODELS=build/models scripts/emulate.sh Nehalem build/tests/test_parity
else
  echo "=== no qemu-x86_64 (or not x86-64): the binary is not tried on emulated CPUs"
  programs_failed+=("emulated CPUs (qemu-x86_64 missing)"); failed=$((failed+1))
fi

# Installing (issue 22): the manual page is made from the help texts and
# holds every command and option; make install into a staging folder gives a
# binary that works from anywhere with the installed files, units that
# systemd-analyze accepts, and make uninstall removes it all; the settings
# file's precedence as the commands apply it.
run_program tests/manpage-test.sh env EMOTUNE_TEST_BIN=build/emotune tests/manpage-test.sh
run_program tests/install-test.sh tests/install-test.sh
run_program tests/config-test.sh env EMOTUNE_TEST_BIN=build/emotune tests/config-test.sh

# The web page in Debian's chromium (playwright-core), against the real
# server: each scenario step is one test (tests/browser/support.mjs prints
# cmocka's lines); it skips, and says so, only without chromium.
for t in tests/browser/*.test.mjs; do
  run_program "$t" env EMOTUNE_TEST_MODELS=build/models EMOTUNE_TEST_BIN=build/emotune node "$t"
done

for r in build/san/replay/fuzz_*; do
  name=$(basename "$r")
  run_program "$r" "$r" "fuzz/corpus/${name#fuzz_}"
done

echo
if ((${#programs_failed[@]})); then
  printf 'failed program: %s\n' "${programs_failed[@]}"
fi
if ((${#kernels_not_run[@]})); then
  echo "kernel tables this CPU cannot run, not tested here: ${kernels_not_run[*]}"
fi
echo "emotune tests: $passed passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 && ${#programs_failed[@]} -eq 0 ]]
