#!/usr/bin/env bash
# The expression readers measured honestly (issue 19; part of `make bench`):
# stratified 5-fold cross-validation grouped by person on the labelled faces,
# face-api 1.7.15 against emotune-1, emotune-2, Human's emotion net alone
# (human-emotion) and emotune-3 and emotune-3f (emotune-2's recipe with the
# emotion net's outputs as more inputs), each reader fitted on the training
# folds only and read on the held-out persons' original pictures
# (tools/expr_cv.py); face-api's six demo photographs; the default decision;
# and the leave-one-person-out calibration measurement (tools/expr_calib.py).
# The models folder must hold Human's emotion net (the Makefile copies it).
# Writes build/bench/expr_cv.txt (tables, confusion matrices, decision),
# expr_cv.json, confusion-READER.svg for each reader and
# emotune-expressions-2.json (emotune-2 fitted on every face, with .sha256:
# `make EXPR_HEAD=build/bench/emotune-expressions-2.json build/emotune`
# builds emotune with it). About 7 minutes on one core.
set -euo pipefail
cd "$(dirname "$0")/.."
faces=${EMOTUNE_FACES_DIR:-../shared/data/faces}
augment=${EXPR_AUGMENT:-4}
out=build/bench
py() { OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 /usr/bin/python3 "$@"; }
if [[ ! -f $faces/labels.csv ]]; then
  echo "bench/expressions.sh: $faces not found, cross-validation skipped" >&2
  exit 0
fi
mkdir -p "$out"
echo "bench: expression net features of every labelled face and $augment augmented variants ($faces)" >&2
build/bench/expr_features --augment "$augment" --seed 19 "$faces" "$out/expr_features.tsv"

# face-api's six colour demo photographs (not in the labelled set): the
# faces face-api's detector finds, their features, and emotune's readings.
demo=node_modules/@vladmandic/face-api/demo
build/bench/expr_features --detect "$out/demo_features.tsv" "$demo"/sample{1..6}.jpg
for m in face-api emotune-1; do
  build/emotune detect --json --expressions "$m" "$demo"/sample{1..6}.jpg > "$out/demo-$m.jsonl"
done

echo "bench: emotune-2 fitted on every face (tools/train_expr.py)" >&2
py tools/train_expr.py --reader emotune-2 "$out/expr_features.tsv" "$out/emotune-expressions-2.json"
echo "bench: 5-fold cross-validation grouped by person (seed 13)" >&2
py tools/expr_cv.py --json "$out/expr_cv.json" --svg-dir "$out" \
  --demo "$out/demo_features.tsv" --head1 models/emotune-expressions-1.json \
  --head2 "$out/emotune-expressions-2.json" \
  --demo-jsonl face-api="$out/demo-face-api.jsonl" --demo-jsonl emotune-1="$out/demo-emotune-1.jsonl" \
  "$out/expr_features.tsv" | tee "$out/expr_cv.txt"
{
  # face-api.js's expression pictures (angry.jpg ... surprised.jpg) are not in
  # the npm package: its only pictures are the six samples, two screenshots
  # and facemesh.png. Said here, counted, so that a package that adds them shows.
  pkg=node_modules/@vladmandic/face-api
  others=$(find "$pkg" -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' -o -iname '*.webp' \) \
           ! -name 'sample[1-6].jpg' ! -name 'screenshot-*.png' ! -name facemesh.png | wc -l)
  echo
  echo "face-api.js's seven expression pictures: not shipped by @vladmandic/face-api" \
       "($(jq -r .version "$pkg/package.json" 2>/dev/null || echo '?')): $others other pictures in the package"
} | tee -a "$out/expr_cv.txt"

echo "bench: leave-one-person-out calibration (tools/expr_calib.py)" >&2
py tools/expr_calib.py --json "$out/expr_cv.json" "$out/expr_features.tsv" | tee -a "$out/expr_cv.txt"
