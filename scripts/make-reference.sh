#!/usr/bin/env bash
# Produces the reference outputs the parity tests compare against, in this run:
# emotune's own decoder writes each test image's pixels to a PPM
# (build/tests/dump_rgb), then face-api 1.7.15 on tfjs-wasm (scripts/reference.js)
# analyses those very pixels. Outputs, in build/parity/:
#   list.tsv           ORIGINAL<TAB>PPM for each image
#   detect.jsonl       detectAllFaces(TinyFaceDetector 416, 0.5).withFaceExpressions()
#   facecrop.jsonl     faceExpressionNet.predictExpressions(whole image), faces only
# Images: the six face-api demo images, plus every 12th image of
# ../shared/data/faces (127 images) when that folder is present.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/parity
# A failure below must not leave an earlier run's outputs for the parity
# tests to pass on: they go first.
rm -f "$out/detect.jsonl" "$out/facecrop.jsonl"
mkdir -p "$out/ppm"
list=$out/list.tsv
faces_list=$out/faces.tsv
: > "$list"
: > "$faces_list"

add() { # image, list file
  local img=$1 ppm
  ppm="$out/ppm/$(basename "$img").ppm"
  [[ -s $ppm && $ppm -nt $img && $ppm -nt build/tests/dump_rgb ]] || build/tests/dump_rgb "$img" "$ppm"
  printf '%s\t%s\n' "$img" "$ppm" >> "$2"
}

for i in 1 2 3 4 5 6; do add "node_modules/@vladmandic/face-api/demo/sample$i.jpg" "$list"; done
faces=${EMOTUNE_FACES_DIR:-../shared/data/faces}
if [[ -f $faces/labels.csv ]]; then
  tail -n +2 "$faces/labels.csv" | awk -F, 'NR % 12 == 1 {print $1}' | while read -r name; do
    add "$faces/images/$name" "$list"
    printf '%s\t%s\n' "$faces/images/$name" "$out/ppm/$name.ppm" >> "$faces_list"
  done
else
  echo "make-reference: $faces not found; parity runs on the six demo images only"
fi

echo "make-reference: face-api on tfjs-wasm, $(wc -l < "$list") images (detect) and $(wc -l < "$faces_list") (face crop)"
node scripts/reference.js "$list" > "$out/detect.jsonl.tmp"
mv "$out/detect.jsonl.tmp" "$out/detect.jsonl"
node scripts/reference.js --face-crop "$faces_list" > "$out/facecrop.jsonl.tmp"
mv "$out/facecrop.jsonl.tmp" "$out/facecrop.jsonl"
