#!/usr/bin/env node
// The reference: face-api 1.7.15 on tfjs 4.22 with the wasm backend (one
// thread, SIMD), run on the very pixels emotune's decoder produced (PPM files
// written by build/tests/dump_rgb), so that decoder differences do not count.
//
// usage: node scripts/reference.js [--face-crop] [--input-size N] [--min-score S]
//                                  [--bench REPEAT] [--models DIR] LIST
// LIST has one line per image: ORIGINAL_PATH <TAB> PPM_PATH.
// Output, one JSON line per image in LIST order:
//   {"image", "width", "height", "faces": [{"box": {x, y, width, height},
//    "score", "expressions": {...}}]}  -- faces in face-api's own order.
// With --bench R: {"image", "ms": median of R runs of detect+expressions,
//   "ms_detector": median of the detector alone, "ms_expression": median of
//   the expression net alone on one 112x112 face} instead.
'use strict';

const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
require('@tensorflow/tfjs-backend-wasm');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');

function parseArgs(argv) {
  const a = { faceCrop: false, inputSize: 416, minScore: 0.5, bench: 0,
    models: path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model') };
  const rest = [];
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (k === '--face-crop') a.faceCrop = true;
    else if (k === '--input-size') a.inputSize = Number(argv[++i]);
    else if (k === '--min-score') a.minScore = Number(argv[++i]);
    else if (k === '--bench') a.bench = Number(argv[++i]);
    else if (k === '--models') a.models = argv[++i];
    else rest.push(k);
  }
  if (rest.length !== 1) {
    process.stderr.write('usage: reference.js [--face-crop] [--input-size N] [--min-score S] [--bench R] LIST\n');
    process.exit(2);
  }
  a.list = rest[0];
  return a;
}

// Binary PPM (P6, maxval 255) -> {width, height, data: Uint8Array RGB}.
function readPPM(file) {
  const buf = fs.readFileSync(file);
  let pos = 0;
  const token = () => {
    while (/\s/.test(String.fromCharCode(buf[pos]))) pos++;
    let s = '';
    while (!/\s/.test(String.fromCharCode(buf[pos]))) s += String.fromCharCode(buf[pos++]);
    return s;
  };
  if (token() !== 'P6') throw new Error(`${file}: not a binary PPM`);
  const width = Number(token()); const height = Number(token()); const max = Number(token());
  if (max !== 255) throw new Error(`${file}: maxval ${max} unsupported`);
  pos++; // the single whitespace after maxval
  return { width, height, data: buf.subarray(pos, pos + width * height * 3) };
}

const LABELS = ['neutral', 'happy', 'sad', 'angry', 'fearful', 'disgusted', 'surprised'];
const expressionsObject = (e) => Object.fromEntries(LABELS.map((k) => [k, e[k]]));
const median = (xs) => { const s = [...xs].sort((p, q) => p - q); return s[Math.floor(s.length / 2)]; };

async function analyse(tensor, img, a) {
  if (a.faceCrop) {
    const e = await faceapi.nets.faceExpressionNet.predictExpressions(tensor);
    return [{ box: { x: 0, y: 0, width: img.width, height: img.height }, score: null, expressions: expressionsObject(e) }];
  }
  const opts = new faceapi.TinyFaceDetectorOptions({ inputSize: a.inputSize, scoreThreshold: a.minScore });
  const res = await faceapi.detectAllFaces(tensor, opts).withFaceExpressions();
  return res.map((r) => ({
    box: { x: r.detection.box.x, y: r.detection.box.y, width: r.detection.box.width, height: r.detection.box.height },
    score: r.detection.score,
    expressions: expressionsObject(r.expressions),
  }));
}

async function timeIt(fn, repeat) {
  await fn(); // warm-up: kernels compiled, buffers allocated
  const ms = [];
  for (let i = 0; i < repeat; i++) {
    const t0 = process.hrtime.bigint();
    await fn(); // eslint-disable-line no-await-in-loop
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(ms);
}

async function bench(tensor, img, a) {
  const opts = new faceapi.TinyFaceDetectorOptions({ inputSize: a.inputSize, scoreThreshold: a.minScore });
  const face = tf.zeros([112, 112, 3], 'int32');
  const out = {
    ms: await timeIt(() => faceapi.detectAllFaces(tensor, opts).withFaceExpressions(), a.bench),
    ms_detector: await timeIt(() => faceapi.detectAllFaces(tensor, opts), a.bench),
    ms_expression: await timeIt(() => faceapi.nets.faceExpressionNet.predictExpressions(face), a.bench),
  };
  face.dispose();
  return out;
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  // One thread and SIMD, for a like-for-like comparison with one C context.
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  tf.env().set('WASM_HAS_SIMD_SUPPORT', true);
  await tf.setBackend('wasm');
  await tf.ready();
  if (tf.getBackend() !== 'wasm') throw new Error(`backend is ${tf.getBackend()}, not wasm`);
  await faceapi.nets.tinyFaceDetector.loadFromDisk(a.models);
  await faceapi.nets.faceExpressionNet.loadFromDisk(a.models);
  const lines = fs.readFileSync(a.list, 'utf8').split('\n').filter((l) => l.trim());
  for (const line of lines) {
    const [image, ppm] = line.split('\t');
    const img = readPPM(ppm);
    const tensor = tf.tensor3d(Int32Array.from(img.data), [img.height, img.width, 3], 'int32');
    const result = a.bench
      ? { image, ...(await bench(tensor, img, a)) } // eslint-disable-line no-await-in-loop
      : { image, width: img.width, height: img.height, faces: await analyse(tensor, img, a) }; // eslint-disable-line no-await-in-loop
    tensor.dispose();
    process.stdout.write(`${JSON.stringify(result)}\n`);
  }
}

main().catch((e) => { process.stderr.write(`reference: ${e.stack || e}\n`); process.exit(1); });
