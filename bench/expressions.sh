#!/usr/bin/env bash
# The expression models measured by stratified 5-fold cross-validation on the
# labelled faces (issue 13): face-api 1.7.15 against emotune-1, every face
# measured once on the fold it was held out of (tools/expr_cv.py). Writes
# build/bench/expr_cv.txt (the table and confusion matrices), expr_cv.json
# and a confusion matrix picture per model (confusion-face-api.svg,
# confusion-emotune-1.svg); then the demo photographs check (below). Part of
# `make bench`.
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

# The second, independent check: face-api's six colour demo photographs (not
# in the labelled set). Each face's top expression under emotune-1 against
# face-api's, all faces and those face-api reads above 0.8.
demo=node_modules/@vladmandic/face-api/demo
for m in face-api emotune-1; do
  build/emotune detect --json --expressions "$m" "$demo"/sample{1..6}.jpg > "$out/demo-$m.jsonl"
done
node - "$out/demo-face-api.jsonl" "$out/demo-emotune-1.jsonl" <<'JS' | tee -a "$out/expr_cv.txt"
const fs = require('fs');
const read = (f) => fs.readFileSync(f, 'utf8').trim().split('\n').map(JSON.parse);
const [api, own] = process.argv.slice(2).map(read);
let n = 0; let agree = 0; let sure = 0; let sureAgree = 0;
const lines = [];
api.forEach((pic, i) => pic.faces.forEach((f, j) => {
  const g = own[i].faces[j];
  if (!g || g.box.x !== f.box.x || g.box.y !== f.box.y) throw new Error(`${pic.image}: the modes found different faces`);
  const p = f.expressions[f.expression];
  n++; agree += g.expression === f.expression;
  if (p > 0.8) { sure++; sureAgree += g.expression === f.expression; }
  if (g.expression !== f.expression)
    lines.push(`  ${pic.image.split('/').pop()} face at ${Math.round(f.box.x)},${Math.round(f.box.y)}: face-api ${f.expression} ${p.toFixed(2)}, emotune-1 ${g.expression} ${g.expressions[g.expression].toFixed(2)}`);
}));
console.log(`\nface-api's demo photographs: emotune-1 agrees with face-api's top expression on ${agree} of ${n} faces, ${sureAgree} of the ${sure} face-api reads above 0.8`);
console.log(lines.join('\n'));
JS
