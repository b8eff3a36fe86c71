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
const { tf, FACEAPI_MODELS, LABELS, useWasm, readPPM, timeIt } = require('./tfjs-wasm-setup.js');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');

function parseArgs(argv) {
  const a = { faceCrop: false, inputSize: 416, minScore: 0.5, bench: 0,
    models: FACEAPI_MODELS };
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

const expressionsObject = (e) => Object.fromEntries(LABELS.map((k) => [k, e[k]]));

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
  await useWasm();
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
