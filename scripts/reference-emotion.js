#!/usr/bin/env node
// The reference for Human's emotion net (issue 19): @vladmandic/human 3.3.6's
// models/emotion.json + emotion.bin, a tfjs graph model, run by tfjs 4.22 on
// the wasm backend (one thread, SIMD, as scripts/reference.js), on the very
// pixels emotune's decoder produced (PPM files from build/tests/dump_rgb).
//
// usage: node scripts/reference-emotion.js [--bench REPEAT | --check-human] LIST
// LIST: one line per image, ORIGINAL <TAB> PPM <TAB> MODE, MODE "detect" (the
// faces face-api 1.7.15 finds, TinyFaceDetector 416 / 0.5, each face's region
// its box clipped to the picture and floored as face-api's
// extractFaceTensors) or "crop" (the whole picture is the face).
// Output, one JSON line per face, in face-api's order:
//   {"image", "face": i, "region": {x, y, width, height},
//    "input": the 64x64 float32 input as Human builds it, hex of its
//             little-endian bytes, row by row,
//    "expressions": {neutral, ...} the net's softmax on that input,
//    "features": the 256 channels of add_2 (the last block's sum) averaged
//                over its 8x8 grid}
// With --bench R: one line {"ms_emotion": median of R runs of the net on one
// 64x64 input, "ms_expression": the same of face-api's expression net on one
// 112x112 face}.
// With --check-human: Human 3.3.6 itself (dist/human.node-wasm.js, its models
// served from node_modules on a loopback port, as it loads them by fetch)
// runs its whole pipeline on each picture of LIST with its face tensors
// returned; the steps below after cutAndResize, applied here to each of those
// tensors, must give the scores Human reports (min(0.99, trunc(100 p) / 100)
// for every class): Human's own code checks this script's resize, grey,
// normalisation, graph loading and class order. Prints one summary line;
// exit status 1 on a mismatch.
//
// Human's preprocessing, step by step as its source has it (no code of it is
// called: its functions are not exported on their own):
//   src/face/facemeshutil.ts squarifyBox: centre, half the longer side,
//     corners Math.round'ed; cutAndResize: tf.image.cropAndResize of the
//     picture (float32 0..255) to the facemesh input, 192x192, then / 255;
//   src/gear/emotion.ts predict: tf.image.resizeBilinear to 64x64
//     (alignCorners false), * [0.2989, 0.5870, 0.1140] (src/tfjs/constants.ts),
//     sum over channels, - 0.5, * 2; model.execute; no further activation.
'use strict';

const fs = require('fs');
const path = require('path');
const { tf, FACEAPI_MODELS, LABELS, useWasm, readPPM, timeIt } = require('./tfjs-wasm-setup.js');
const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js');

const HUMAN_MODELS = path.resolve(__dirname, '..', 'node_modules', '@vladmandic', 'human', 'models');
const CROP = 192;
const SIDE = 64;
const FEATURES_NODE = 'StatefulPartitionedCall/model_1/add_2/add';
const OUTPUT_NODE = 'Identity';
// Human's classes (src/gear/emotion.ts, a greyscale model) and emotune's names.
const HUMAN = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'];
const EMOTUNE = { angry: 'angry', disgust: 'disgusted', fear: 'fearful', happy: 'happy', sad: 'sad', surprise: 'surprised', neutral: 'neutral' };

async function loadEmotion() {
  const json = JSON.parse(fs.readFileSync(path.join(HUMAN_MODELS, 'emotion.json'), 'utf8'));
  if (json.weightsManifest.length !== 1 || json.weightsManifest[0].paths.length !== 1) throw new Error('emotion.json: expected one weights group and one shard');
  const bin = fs.readFileSync(path.join(HUMAN_MODELS, json.weightsManifest[0].paths[0]));
  const weightData = bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength);
  return tf.loadGraphModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData }));
}

// From Human's face tensor (1 x 192 x 192 x 3, 0..1) to the net's input.
function fromFaceTensor(face) {
  return tf.tidy(() => {
    const resize = tf.image.resizeBilinear(face, [SIDE, SIDE], false);
    const channels = tf.mul(resize, tf.tensor1d([0.2989, 0.5870, 0.1140], 'float32'));
    const grey = tf.sum(channels, 3, true);
    return tf.mul(tf.sub(grey, tf.scalar(0.5, 'float32')), tf.scalar(2.0, 'float32'));
  });
}

// The net's input for region of the picture, as Human builds it (header).
function humanInput(image, width, height, region) {
  const cx = region.x + region.width / 2; const cy = region.y + region.height / 2;
  const half = Math.max(region.width, region.height) / 2;
  const start = [Math.round(cx - half), Math.round(cy - half)];
  const end = [Math.round(cx + half), Math.round(cy + half)];
  return tf.tidy(() => {
    const box = [[start[1] / height, start[0] / width, end[1] / height, end[0] / width]];
    const crop = tf.image.cropAndResize(image, box, [0], [CROP, CROP]);
    return fromFaceTensor(tf.div(crop, tf.scalar(255.0, 'float32')));
  });
}

async function readFace(model, input) {
  const [features, probs] = model.execute(input, [FEATURES_NODE, OUTPUT_NODE]);
  const pooled = tf.mean(features, [1, 2]);
  const p = await probs.data();
  const f = Array.from(await pooled.data());
  tf.dispose([features, probs, pooled]);
  const expressions = {};
  HUMAN.forEach((k, i) => { expressions[EMOTUNE[k]] = p[i]; });
  return { expressions: Object.fromEntries(LABELS.map((k) => [k, expressions[k]])), features: f };
}

async function regionsOf(mode, pixels, img) {
  if (mode === 'crop') return [{ x: 0, y: 0, width: img.width, height: img.height }];
  if (mode !== 'detect') throw new Error(`unknown mode ${mode}`);
  const opts = new faceapi.TinyFaceDetectorOptions({ inputSize: 416, scoreThreshold: 0.5 });
  const dets = await faceapi.detectAllFaces(pixels, opts);
  return dets.map((d) => {
    const b = d.box.clipAtImageBorders(img.width, img.height);
    return { x: b.x, y: b.y, width: b.width, height: b.height };
  });
}

async function bench(model, repeat) {
  await faceapi.nets.faceExpressionNet.loadFromDisk(FACEAPI_MODELS);
  const input = tf.zeros([1, SIDE, SIDE, 1]);
  const face = tf.zeros([112, 112, 3], 'int32');
  const out = {
    ms_emotion: await timeIt(async () => { const r = model.execute(input); await r.data(); r.dispose(); }, repeat),
    ms_expression: await timeIt(() => faceapi.nets.faceExpressionNet.predictExpressions(face), repeat),
  };
  tf.dispose([input, face]);
  return out;
}

// Human's models folder over HTTP on 127.0.0.1 (an ephemeral port).
function serveModels() {
  const http = require('http'); // eslint-disable-line global-require
  const srv = http.createServer((req, res) => {
    const file = path.join(HUMAN_MODELS, path.basename(decodeURIComponent(req.url.split('?')[0])));
    if (!fs.existsSync(file)) { res.statusCode = 404; res.end(); return; }
    res.setHeader('Content-Type', file.endsWith('.json') ? 'application/json' : 'application/octet-stream');
    res.end(fs.readFileSync(file));
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve(srv)));
}

async function checkHuman(model, list) {
  const srv = await serveModels();
  const { Human } = require(path.resolve(HUMAN_MODELS, '..', 'dist', 'human.node-wasm.js')); // eslint-disable-line global-require
  const human = new Human({
    backend: 'wasm', wasmPath: `${path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'))}/dist/`,
    modelBasePath: `http://127.0.0.1:${srv.address().port}/`, cacheModels: false, debug: false,
    face: { detector: { return: true, rotation: false, maxDetected: 20 }, mesh: { enabled: true }, iris: { enabled: false },
      emotion: { enabled: true, minConfidence: 0 }, description: { enabled: false }, antispoof: { enabled: false }, liveness: { enabled: false } },
    body: { enabled: false }, hand: { enabled: false }, object: { enabled: false }, gesture: { enabled: false }, segmentation: { enabled: false }, filter: { enabled: false },
  });
  await human.load();
  let faces = 0; let bad = 0;
  for (const line of fs.readFileSync(list, 'utf8').split('\n').filter((l) => l.trim())) {
    const [image, ppm] = line.split('\t');
    const img = readPPM(ppm);
    const picture = tf.tensor4d(Float32Array.from(img.data), [1, img.height, img.width, 3], 'float32');
    const res = await human.detect(picture); // eslint-disable-line no-await-in-loop
    picture.dispose();
    for (const f of res.face) {
      const face = tf.expandDims(f.tensor, 0);
      const input = fromFaceTensor(face);
      const probs = model.execute(input);
      const p = await probs.data(); // eslint-disable-line no-await-in-loop
      tf.dispose([face, input, probs, f.tensor]);
      for (const e of f.emotion) {
        const ours = Math.min(0.99, Math.trunc(100 * p[HUMAN.indexOf(e.emotion)]) / 100);
        // A probability within float rounding of a hundredth may truncate either way.
        const near = Math.abs(100 * p[HUMAN.indexOf(e.emotion)] - Math.round(100 * p[HUMAN.indexOf(e.emotion)])) < 1e-3;
        if (ours !== e.score && !(near && Math.abs(ours - e.score) <= 0.0100001)) {
          process.stderr.write(`${image}: Human says ${e.emotion} ${e.score}, this script ${p[HUMAN.indexOf(e.emotion)]}\n`);
          bad++;
        }
      }
      if (f.emotion.length !== HUMAN.length) { process.stderr.write(`${image}: Human gave ${f.emotion.length} classes\n`); bad++; }
      faces++;
    }
  }
  srv.close();
  process.stdout.write(`check-human: ${faces} faces Human 3.3.6 found itself; its emotion scores ${bad ? `differ on ${bad}` : 'all match'} this script's net on its own face tensors\n`);
  if (bad || faces === 0) process.exit(1);
}

async function main() {
  const args = process.argv.slice(2);
  let repeat = 0; let check = false;
  if (args[0] === '--bench') { repeat = Number(args[1]); args.splice(0, 2); }
  if (args[0] === '--check-human') { check = true; args.splice(0, 1); }
  if (args.length !== 1 || (repeat === 0 && args[0] === undefined)) {
    process.stderr.write('usage: reference-emotion.js [--bench REPEAT] LIST\n');
    process.exit(2);
  }
  await useWasm();
  const model = await loadEmotion();
  if (check) {
    await checkHuman(model, args[0]);
    return;
  }
  if (repeat) {
    process.stdout.write(`${JSON.stringify(await bench(model, repeat))}\n`);
    return;
  }
  await faceapi.nets.tinyFaceDetector.loadFromDisk(FACEAPI_MODELS);
  const lines = fs.readFileSync(args[0], 'utf8').split('\n').filter((l) => l.trim());
  for (const line of lines) {
    const [image, ppm, mode] = line.split('\t');
    const img = readPPM(ppm);
    const pixels = tf.tensor3d(Int32Array.from(img.data), [img.height, img.width, 3], 'int32');
    const picture = tf.tensor4d(Float32Array.from(img.data), [1, img.height, img.width, 3], 'float32');
    const regions = await regionsOf(mode, pixels, img); // eslint-disable-line no-await-in-loop
    for (let i = 0; i < regions.length; i++) {
      const input = humanInput(picture, img.width, img.height, regions[i]);
      const data = await input.data(); // eslint-disable-line no-await-in-loop
      const read = await readFace(model, input); // eslint-disable-line no-await-in-loop
      input.dispose();
      const hex = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('hex');
      process.stdout.write(`${JSON.stringify({ image, face: i, region: regions[i], input: hex, ...read })}\n`);
    }
    tf.dispose([pixels, picture]);
  }
}

main().catch((e) => { process.stderr.write(`reference-emotion: ${e.stack || e}\n`); process.exit(1); });
