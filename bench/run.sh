#!/usr/bin/env bash
# emotune benchmarks for the vision core, each against the reference measured
# in the same run on the same input (face-api 1.7.15, tfjs 4.22 wasm backend,
# one thread, SIMD). Both pinned to one core with taskset. Writes a Markdown
# report to build/bench/report.md and prints it.
#   1. speed per image on the six face-api demo images (decode + detect +
#      expressions; each network alone) and share of the core's sgemm peak,
#      in face-api mode (what the reference computes); the cost of
#      emotune-1 mode against face-api mode, same run

#   2. peak memory (max RSS) of `emotune detect` on a 1920x1280 JPEG
#   3. accuracy on ../shared/data/faces with --face-crop, next to the reference
#   4. faces found in those pictures used whole, face-api mode against the
#      default (two-pass detection)
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/bench
mkdir -p "$out/ppm"
REPEAT=${REPEAT:-20}
CORE=${BENCH_CORE:-1}
pin() { taskset -c "$CORE" "$@"; }

# build/bench/bench_detect and build/tests/dump_rgb are built by `make bench`.

demo=node_modules/@vladmandic/face-api/demo
: > "$out/demo.tsv"
for i in 1 2 3 4 5 6; do
  build/tests/dump_rgb "$demo/sample$i.jpg" "$out/ppm/sample$i.ppm"
  printf '%s\t%s\n' "$demo/sample$i.jpg" "$out/ppm/sample$i.ppm" >> "$out/demo.tsv"
done

echo "bench: speed, $REPEAT runs per image, core $CORE" >&2
pin build/bench/bench_detect --repeat "$REPEAT" "$demo"/sample{1,2,3,4,5,6}.jpg > "$out/emotune.jsonl"
pin node scripts/reference.js --bench "$REPEAT" "$out/demo.tsv" > "$out/reference.jsonl"

# The same with each kernel table this CPU runs forced (EMOTUNE_CPU), and
# the kernels alone, every table interleaved in one process.
paths=()
for p in generic avx2 avx512; do
  if EMOTUNE_CPU=$p build/emotune version > /dev/null 2>&1; then
    paths+=("$p")
    echo "bench: speed with the $p kernels" >&2
    EMOTUNE_CPU=$p pin build/bench/bench_detect --repeat "$REPEAT" "$demo"/sample{1,2,3,4,5,6}.jpg \
      > "$out/emotune-$p.jsonl"
  else
    echo "bench: this CPU cannot run the $p kernels; not measured" >&2
  fi
done
echo "bench: kernels alone" >&2
pin build/bench/bench_kernels --repeat "$((REPEAT * 3))" > "$out/kernels.jsonl"

echo "bench: memory" >&2
rss_kb=$( { /usr/bin/time -f '%M' build/emotune detect --json "$demo/sample1.jpg" > /dev/null; } 2>&1 | tail -1)

{
  echo "## Speed (median of $REPEAT runs, one core, same run)"
  echo
  node - "$out/emotune.jsonl" "$out/reference.jsonl" <<'JS'
const fs = require('fs');
const [e, r] = process.argv.slice(2).map((f) => fs.readFileSync(f, 'utf8').trim().split('\n').map(JSON.parse));
const head = e.shift();
const f = (x) => x.toFixed(1);
console.log('| image | faces | emotune ms (decode + detect + expressions) | reference ms (detect + expressions, decode not counted) | speed-up |');
console.log('|---|---|---|---|---|');
let se = 0; let sr = 0; let sd = 0; let srd = 0; let sx = 0; let srx = 0;
e.forEach((x, i) => {
  const y = r[i];
  console.log(`| ${x.image.split('/').pop()} | ${x.faces} | ${f(x.ms)} | ${f(y.ms)} | ${(y.ms / x.ms).toFixed(1)}x |`);
  se += x.ms; sr += y.ms; sd += x.ms_detector; srd += y.ms_detector; sx += x.ms_expression; srx += y.ms_expression;
});
const n = e.length;
console.log(`| **all six** | | ${f(se / n)} | ${f(sr / n)} | **${(sr / se).toFixed(1)}x** |`);
console.log('');
console.log('| network alone | emotune ms | reference ms | speed-up | emotune GFLOP/s | share of this core\'s sgemm peak |');
console.log('|---|---|---|---|---|---|');
const peak = head.sgemm_gflops;
const gd = head.detector_gflop / (sd / n / 1e3); const gx = head.expression_gflop / (sx / n / 1e3);
console.log(`| TinyFaceDetector 416 (${head.detector_gflop.toFixed(3)} GFLOP) | ${f(sd / n)} | ${f(srd / n)} | ${(srd / sd).toFixed(1)}x | ${gd.toFixed(1)} | ${(100 * gd / peak).toFixed(0)}% |`);
console.log(`| FaceExpressionNet 112 (${head.expression_gflop.toFixed(3)} GFLOP) | ${(sx / n).toFixed(2)} | ${(srx / n).toFixed(2)} | ${(srx / sx).toFixed(1)}x | ${gx.toFixed(1)} | ${(100 * gx / peak).toFixed(0)}% |`);
console.log('');
console.log(`Core peak measured as OpenBLAS sgemm 1024x1024x1024 on one thread: ${peak.toFixed(1)} GFLOP/s.`);
JS
  echo
  echo "## Cost of emotune-1 against face-api mode (same run, one core)"
  echo
  node - "$out/emotune.jsonl" <<'JS'
const fs = require('fs');
const e = fs.readFileSync(process.argv[2], 'utf8').trim().split('\n').map(JSON.parse);
e.shift();
const f = (x) => x.toFixed(1);
console.log('| image | faces | face-api mode ms | emotune-1 mode ms | emotune-1 / face-api |');
console.log('|---|---|---|---|---|');
let sf = 0; let sd = 0; let nf = 0;
for (const x of e) {
  console.log(`| ${x.image.split('/').pop()} | ${x.faces} | ${f(x.ms)} | ${f(x.ms_emotune1)} | ${(x.ms_emotune1 / x.ms).toFixed(2)}x |`);
  sf += x.ms; sd += x.ms_emotune1; nf += x.faces;
}
console.log(`| **all six** | ${nf} | ${f(sf / e.length)} | ${f(sd / e.length)} | **${(sd / sf).toFixed(2)}x** |`);
console.log(`| per face (all six) | | ${f(sf / nf)} | ${f(sd / nf)} | ${(sd / sf).toFixed(2)}x |`);
const x1 = e.reduce((s, x) => s + x.ms_expression, 0) / e.length;
const x2 = e.reduce((s, x) => s + x.ms_expression_emotune1, 0) / e.length;
console.log(`| one 112x112 face, expressions alone | 1 | ${x1.toFixed(2)} | ${x2.toFixed(2)} | ${(x2 / x1).toFixed(2)}x |`);
console.log('');
console.log('emotune-1 runs the expression net twice per face (the face and its mirror) and a 263x7 head; the detector and decoding are shared.');
JS
  echo
  echo "## Speed per kernel table (EMOTUNE_CPU forced; same run, same images, one core)"
  echo
  node - "$out/reference.jsonl" "${paths[@]/#/$out/emotune-}" <<'JS'
const fs = require('fs');
const read = (f) => fs.readFileSync(f, 'utf8').trim().split('\n').map(JSON.parse);
const [refFile, ...files] = process.argv.slice(2);
const mean = (rows, k) => rows.reduce((s, x) => s + x[k], 0) / rows.length;
const ref = read(refFile);
const rms = mean(ref, 'ms');
console.log('| kernels | emotune ms per image | detector ms | expression ms (one face) | face-api ms per image | face-api / emotune |');
console.log('|---|---|---|---|---|---|');
for (const f of files) {
  const rows = read(f + '.jsonl'); rows.shift();
  const name = f.split('emotune-').pop();
  const ms = mean(rows, 'ms');
  console.log(`| ${name} | ${ms.toFixed(1)} | ${mean(rows, 'ms_detector').toFixed(1)} | ${mean(rows, 'ms_expression').toFixed(2)} | ${rms.toFixed(1)} | **${(rms / ms).toFixed(1)}x** |`);
}
JS
  echo
  echo "Kernels alone (median per call; speed-up against generic in the same process):"
  echo
  node - "$out/kernels.jsonl" <<'JS'
const fs = require('fs');
const rows = fs.readFileSync(process.argv[2], 'utf8').trim().split('\n').map(JSON.parse);
const isas = ['generic', 'avx2', 'avx512'].filter((i) => (i + '_ms') in rows[0]);
console.log(`| kernel | ${isas.map((i) => i + ' ms').join(' | ')} | ${isas.slice(1).map((i) => i + ' speed-up').join(' | ')} |`);
console.log(`|---|${isas.map(() => '---|').join('')}${isas.slice(1).map(() => '---|').join('')}`);
for (const r of rows)
  console.log(`| ${r.kernel} | ${isas.map((i) => r[i + '_ms'].toFixed(3)).join(' | ')} | ${isas.slice(1).map((i) => r[i + '_speedup'].toFixed(2) + 'x').join(' | ')} |`);
JS
  echo
  echo "## Memory"
  echo
  echo "Max RSS of \`emotune detect --json sample1.jpg\` (1920x1280 JPEG): $((rss_kb / 1024)) MB ($rss_kb kB)."
} > "$out/report.md"

faces=${EMOTUNE_FACES_DIR:-../shared/data/faces}
if [[ -f $faces/labels.csv ]]; then
  echo "bench: accuracy on $faces" >&2
  : > "$out/faces.tsv"
  tail -n +2 "$faces/labels.csv" | cut -d, -f1 | while read -r name; do
    ppm="$out/ppm/$name.ppm"
    [[ -s $ppm ]] || build/tests/dump_rgb "$faces/images/$name" "$ppm" || continue
    printf '%s\t%s\n' "$faces/images/$name" "$ppm" >> "$out/faces.tsv"
  done
  cut -f1 "$out/faces.tsv" | xargs build/emotune detect --expressions face-api --face-crop --json \
    > "$out/faces-emotune.jsonl" || true
  cut -f1 "$out/faces.tsv" | xargs build/emotune detect --expressions emotune-1 --face-crop --json \
    > "$out/faces-emotune-1.jsonl" || true
  node scripts/reference.js --face-crop "$out/faces.tsv" > "$out/faces-reference.jsonl"
  {
    echo
    echo "## Accuracy on ../shared/data/faces (--face-crop)"
    echo
    node bench/accuracy.js "$faces/labels.csv" "emotune --expressions face-api=$out/faces-emotune.jsonl" \
      "face-api reference=$out/faces-reference.jsonl" \
      "emotune-1 (in-sample: fitted on these faces, see the cross-validation)=$out/faces-emotune-1.jsonl"
  } >> "$out/report.md"
else
  echo "bench: $faces not found, accuracy skipped" | tee -a "$out/report.md" >&2
fi

# 4. how often a face is found in the labelled faces used as whole pictures,
# face-api mode against the default's two-pass detection (issues 13, 19); pictures
# with no face: generated ones and tiles of the photos of Debian's
# python3-sklearn when installed; and grey 150x150 crops of the six demo
# pictures' 20 faces (--crops). FIND_RATE_CANDIDATES=1 adds every canvas
# considered for the second pass (slow: each runs on every picture missed).
if [[ -f $faces/labels.csv ]]; then
  echo "bench: faces found in whole pictures" >&2
  no_face=()
  for p in /usr/lib/python3/dist-packages/sklearn/datasets/images/{china,flower}.jpg; do
    [[ -f $p ]] && no_face+=(--no-face "$p")
  done
  crops=() # grey 150x150 crops of the demo pictures' faces
  for i in 1 2 3 4 5 6; do crops+=(--crops "$demo/sample$i.jpg"); done
  cand=()
  [[ ${FIND_RATE_CANDIDATES:-0} == 1 ]] && cand=(--candidates)
  { echo; pin build/bench/find_rate "${cand[@]}" "${no_face[@]}" "${crops[@]}" "$faces" 2> "$out/find_rate.log"; } \
    >> "$out/report.md" || echo "bench: find_rate failed" | tee -a "$out/report.md" >&2
fi
# Human's emotion net against face-api's expression net per face, and what
# a listener's calibration costs a face, each as a ratio in one run.
echo "bench: Human's emotion net and the calibration, per face" >&2
pin build/bench/bench_emotion --repeat "$REPEAT" "$demo"/sample{1,2,3,4,5,6}.jpg > "$out/emotion.jsonl"
pin build/bench/bench_calibration --repeat "$REPEAT" "$demo/sample2.jpg" > "$out/calibration.jsonl"
node - "$out/emotion.jsonl" "$out/calibration.jsonl" <<'JS' >> "$out/report.md"
const fs = require('fs');
const rows = (f) => fs.readFileSync(f, 'utf8').trim().split('\n').map(JSON.parse);
const all = rows(process.argv[2]).find((r) => r.image === 'all');
console.log('\n## Per face, one core, same run');
console.log(`- Human's emotion net: ${all.ms_emotion.toFixed(2)} ms a face, ${all.emotion_per_expression.toFixed(2)}x face-api's expression net (${all.ms_expression.toFixed(2)} ms)`);
for (const r of rows(process.argv[3]).filter((r) => r.what !== 'face_reading'))
  console.log(`- calibration, ${r.note}: ${(r.seconds * 1e6).toFixed(2)} us, ${r.ratio_to_face_reading.toPrecision(3)}x a face's reading`);
JS
cat "$out/report.md"
