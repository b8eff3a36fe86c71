#!/usr/bin/env bash
# The reference outputs of Human's emotion net (tests/test_emotion.c; issue
# 19), made in this run by scripts/reference-emotion.js (tfjs-wasm) on the
# pixels emotune's decoder wrote (build/tests/dump_rgb, as make-reference.sh):
#   build/parity/emotion.jsonl   one line per face: region, Human's 64x64
#                                input, probabilities, features
# Before, scripts/reference-emotion.js --check-human checks those steps
# against Human 3.3.6's own pipeline (its detector, its face tensors, its
# scores) on the six demo pictures; a mismatch fails this script.
# Faces: those face-api finds in its six demo pictures, and every 12th
# picture of ../shared/data/faces read whole (each is one face) when that
# folder is present.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/parity
rm -f "$out/emotion.jsonl"
mkdir -p "$out/ppm"
list=$out/emotion.tsv
: > "$list"

add() { # image, mode
  local img=$1 ppm
  ppm="$out/ppm/$(basename "$img").ppm"
  [[ -s $ppm && $ppm -nt $img && $ppm -nt build/tests/dump_rgb ]] || build/tests/dump_rgb "$img" "$ppm"
  printf '%s\t%s\t%s\n' "$img" "$ppm" "$2" >> "$list"
}

for i in 1 2 3 4 5 6; do add "node_modules/@vladmandic/face-api/demo/sample$i.jpg" detect; done
faces=${EMOTUNE_FACES_DIR:-../shared/data/faces}
if [[ -f $faces/labels.csv ]]; then
  tail -n +2 "$faces/labels.csv" | awk -F, 'NR % 12 == 1 {print $1}' | while read -r name; do
    add "$faces/images/$name" crop
  done
else
  echo "make-reference-emotion: $faces not found; the emotion reference has the demo faces only"
fi
# First Human itself, on the demo pictures: its own scores must come out of
# this reference's steps applied to its own face tensors.
head -6 "$list" > "$out/emotion-human.tsv"
node scripts/reference-emotion.js --check-human "$out/emotion-human.tsv"
echo "make-reference-emotion: Human's emotion net on tfjs-wasm, $(wc -l < "$list") images"
node scripts/reference-emotion.js "$list" > "$out/emotion.jsonl.tmp"
mv "$out/emotion.jsonl.tmp" "$out/emotion.jsonl"
