#!/usr/bin/env bash
# The expression models measured by stratified 5-fold cross-validation on the
# labelled faces (issue 13): face-api 1.7.15 against emotune-1, every face
# measured once on the fold it was held out of (tools/expr_cv.py). Writes
# build/bench/expr_cv.txt (the table and confusion matrices), expr_cv.json
# and a confusion matrix picture per model (confusion-face-api.svg,
# confusion-emotune-1.svg). Part of `make bench`.
set -euo pipefail
cd "$(dirname "$0")/.."
faces=${EMOTUNE_FACES_DIR:-../shared/data/faces}
out=build/bench
if [[ ! -f $faces/labels.csv ]]; then
  echo "bench/expressions.sh: $faces not found, cross-validation skipped" >&2
  exit 0
fi
mkdir -p "$out"
echo "bench: expression net features of every labelled face ($faces)" >&2
build/bench/expr_features "$faces" "$out/expr_features.tsv"
echo "bench: 5-fold cross-validation (seed 13)" >&2
OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 /usr/bin/python3 tools/expr_cv.py \
  --faces "$faces" --json "$out/expr_cv.json" --svg-dir "$out" "$out/expr_features.tsv" | tee "$out/expr_cv.txt"
