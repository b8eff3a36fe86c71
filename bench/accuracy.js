#!/usr/bin/env node
// Accuracy on labelled faces: 7-class accuracy, recall per class, and smiling
// accuracy on the happy and neutral images (smiling = happy is the top
// expression; truth: happy -> smiling, neutral -> not smiling); and for
// emotune, how often the named mood of the face's valence/arousal point
// (the "mood" of `emotune detect --json`) is the label's mood.
// usage: node bench/accuracy.js LABELS.csv NAME=RESULTS.jsonl...
// RESULTS lines are `emotune detect --face-crop --json` or
// `scripts/reference.js --face-crop` output; images are matched by file name.
'use strict';

const fs = require('fs');
const path = require('path');

const LABELS = ['neutral', 'happy', 'sad', 'angry', 'fearful', 'disgusted', 'surprised'];
// An expression's named mood (src/mood/mood.h): the others keep their name.
const MOOD_OF = { neutral: 'calm', fearful: 'tense' };
const [labelsFile, ...runs] = process.argv.slice(2);
const truth = new Map(fs.readFileSync(labelsFile, 'utf8').trim().split('\n').slice(1)
  .map((l) => l.split(',')).map(([img, e]) => [img, e.trim()]));

function score(file) {
  const byClass = Object.fromEntries(LABELS.map((k) => [k, { n: 0, ok: 0 }]));
  let n = 0; let ok = 0; let smileN = 0; let smileOk = 0; let failed = 0; let moodN = 0; let moodOk = 0;
  for (const line of fs.readFileSync(file, 'utf8').trim().split('\n')) {
    const r = JSON.parse(line);
    const want = truth.get(path.basename(r.image));
    if (!want) continue;
    if (!r.faces || r.faces.length !== 1) { failed++; continue; }
    const e = r.faces[0].expressions;
    const top = LABELS.reduce((a, k) => (e[k] > e[a] ? k : a), LABELS[0]);
    n++; byClass[want].n++;
    if (top === want) { ok++; byClass[want].ok++; }
    const mood = r.faces[0].mood;
    if (mood) {
      moodN++;
      if (mood.name === (MOOD_OF[want] || want)) moodOk++;
    }
    if (want === 'happy' || want === 'neutral') {
      smileN++;
      if ((top === 'happy') === (want === 'happy')) smileOk++;
    }
  }
  return { n, failed, accuracy: ok / n, smiling: smileOk / smileN, smilingN: smileN,
    mood: moodN ? moodOk / moodN : null,
    recall: Object.fromEntries(LABELS.map((k) => [k, byClass[k].n ? byClass[k].ok / byClass[k].n : null])),
    perClassN: Object.fromEntries(LABELS.map((k) => [k, byClass[k].n])) };
}

const results = runs.map((r) => { const [name, file] = r.split('='); return [name, score(file)]; });
const pct = (x) => (x === null ? '   -  ' : `${(100 * x).toFixed(1).padStart(5)}%`);
console.log(`| measure | ${results.map(([n]) => n).join(' | ')} |`);
console.log(`|---|${results.map(() => '---').join('|')}|`);
console.log(`| images scored | ${results.map(([, s]) => `${s.n}${s.failed ? ` (+${s.failed} unreadable)` : ''}`).join(' | ')} |`);
console.log(`| 7-class accuracy | ${results.map(([, s]) => pct(s.accuracy)).join(' | ')} |`);
for (const k of LABELS) {
  console.log(`| recall ${k} (n=${results[0][1].perClassN[k]}) | ${results.map(([, s]) => pct(s.recall[k])).join(' | ')} |`);
}
console.log(`| named mood (nearest to the face's valence/arousal point) is the label's | ${results.map(([, s]) => pct(s.mood)).join(' | ')} |`);
console.log(`| smiling accuracy, happy vs neutral (n=${results[0][1].smilingN}) | ${results.map(([, s]) => pct(s.smiling)).join(' | ')} |`);
