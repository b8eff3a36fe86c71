#!/usr/bin/env bash
# `make train`: fits emotune-1, the opt-in expression model, on the labelled
# faces and writes models/emotune-expressions-1.json and its .sha256 (issue 13).
# Deterministic on one machine: the same faces give the same file, byte for
# byte (another CPU's BLAS kernels change a few last digits). Takes
# about a minute on two cores. Commit both files; the build embeds the
# weights after checking the checksum.
# expr_features loads emotune's models, the built-in head among them: after a
# change to the head's format, fit once from the features the previous build
# wrote (tools/train_expr.py --reader emotune-1 build/train/features.tsv OUT.json).
set -euo pipefail
cd "$(dirname "$0")/.."
faces=${EMOTUNE_FACES_DIR:-../shared/data/faces}
if [[ ! -f $faces/labels.csv ]]; then
  echo "make train: $faces/labels.csv not found (set EMOTUNE_FACES_DIR)" >&2
  exit 1
fi
mkdir -p build/train
echo "train: expression net features of every labelled face ($faces)" >&2
build/bench/expr_features "$faces" build/train/features.tsv
echo "train: fitting (tools/expr_head.py)" >&2
OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 /usr/bin/python3 tools/train_expr.py --reader emotune-1 \
  build/train/features.tsv models/emotune-expressions-1.json
