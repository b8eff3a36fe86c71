// What scripts/reference.js and scripts/reference-emotion.js share: tfjs 4.22
// on the wasm backend (one thread and SIMD, for a like-for-like comparison
// with one C context), the pixels of the PPM files build/tests/dump_rgb
// writes, face-api's models folder and classes, and the benches' timing.
'use strict';

const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');
require('@tensorflow/tfjs-backend-wasm');

// face-api 1.7.15's own models (node_modules).
const FACEAPI_MODELS = path.join(path.dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
// emotune's expression classes, in its order.
const LABELS = ['neutral', 'happy', 'sad', 'angry', 'fearful', 'disgusted', 'surprised'];

// tfjs on the wasm backend, one thread, SIMD; throws when it is not wasm.
async function useWasm() {
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  tf.env().set('WASM_HAS_SIMD_SUPPORT', true);
  await tf.setBackend('wasm');
  await tf.ready();
  if (tf.getBackend() !== 'wasm') throw new Error(`backend is ${tf.getBackend()}, not wasm`);
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

const median = (xs) => { const s = [...xs].sort((p, q) => p - q); return s[Math.floor(s.length / 2)]; };

// The median in ms of `repeat` runs of fn, after one warm-up run.
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

module.exports = { tf, FACEAPI_MODELS, LABELS, useWasm, readPPM, timeIt };
