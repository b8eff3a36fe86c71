#!/usr/bin/env bash
# Runs a program on an x86-64 CPU emulated by qemu-user, as the older CPUs of
# emotune's users would run it: usage: scripts/emulate.sh CPU PROGRAM [ARGS...]
#
# OpenBLAS's forcing variables are removed from the program's environment.
# OPENBLAS_CORETYPE makes OpenBLAS run the kernels of the CPU it names
# whatever CPU it finds (some machines set it, CI's among them), so on an
# emulated Nehalem OPENBLAS_CORETYPE=Haswell would die of an illegal AVX2
# instruction inside OpenBLAS; OPENBLAS_L2_SIZE goes with it. Each one that
# was set is named on stderr. Only emulated runs go through here: native runs
# keep the environment as it is.
set -euo pipefail
if (($# < 2)); then
  echo "usage: scripts/emulate.sh CPU PROGRAM [ARGS...]" >&2
  exit 2
fi
cpu=$1; shift
unset_args=()
for v in OPENBLAS_CORETYPE OPENBLAS_L2_SIZE; do
  if [[ -n ${!v+set} ]]; then
    echo "emulate.sh: the emulated $cpu runs without $v=${!v} (OpenBLAS picks its kernels for the emulated CPU)" >&2
  fi
  unset_args+=(-u "$v")
done
exec env "${unset_args[@]}" qemu-x86_64 -cpu "$cpu" "$@"
