#!/usr/bin/env bash
# The recommender evaluated by simulation (bench/sim_recommend.c, seeded and
# deterministic): simulated listeners with hidden tastes hear 500 songs each
# from emotune and from two baselines. Writes build/bench/recommend.json (the
# figures), build/bench/recommend.md (a Markdown section, also appended to
# build/bench/report.md) and build/bench/recommend-sim.svg (like and skip
# rates against songs heard), and prints the section. The plot holds no
# wall-clock figure, so it only changes with the recommender or the model:
# copy it to docs/recommend-sim.svg (shown by the README) after such a change.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/bench
mkdir -p "$out"
CORE=${BENCH_CORE:-1}
pin() { if command -v taskset >/dev/null && taskset -c "$CORE" true 2>/dev/null; then taskset -c "$CORE" "$@"; else "$@"; fi; }

# build/bench/sim_recommend is built by `make bench` (or make build/bench/sim_recommend).
echo "bench: recommendation, simulated listeners (core $CORE for the pick time)" >&2
pin build/bench/sim_recommend > "$out/recommend.json"

node - "$out/recommend.json" "$out/recommend.md" "$out/recommend-sim.svg" <<'JS'
const fs = require('fs');
const [jsonPath, mdPath, svgPath] = process.argv.slice(2);
const r = JSON.parse(fs.readFileSync(jsonPath, 'utf8'));
const P = r.pickers;
const nw = P[0].like.length;
const W = r.window;
const pct = (x) => `${(100 * x).toFixed(1)}%`;
const fmt = (x) => x.toLocaleString('en-US');

// ---- the Markdown section ----
const md = [];
md.push('## Recommendation (simulation)');
md.push('');
md.push(`Model (bench/sim_recommend.c, seed ${r.seed}, deterministic): a library of ${fmt(r.tracks)} tracks in ${r.genres} genres`);
md.push(`(${r.artists} artists, each around its genre's point on the valence/arousal plane; ${r.tracks_without_features} tracks without features, ${r.tracks_without_tempo} without tempo).`);
md.push(`${r.listeners} simulated listeners (a third each wanting their mood matched, lifted or calmed) with hidden tastes for genres, artists and songs;`);
md.push('their mood changes to another named mood every 20-60 songs. A song is liked, skipped (earlier when worse) or played out with');
md.push(`probabilities from how well its true point fits what they want in their mood, their taste, and boredom with repeats (a random track: ${pct(r.random_track_like_rate)} liked).`);
md.push('');
md.push(`Each listener hears ${r.songs} songs from each picker, on the same mood sequence: **emotune** (\`et_rec_next\` + \`et_rec_feedback\`),`);
md.push('**random in the mood** (uniform among the tracks whose nearest named mood is theirs) and **distance only** (uniform among the');
md.push("10 tracks nearest to emotune's target); the baselines repeat no track within 50 songs. Rates are averaged over listeners.");
md.push('');
md.push(`| picker | like rate | skip rate | like, songs 1-10 | like, songs 1-${W} | like, songs ${r.songs - W + 1}-${r.songs} | skip, songs 1-${W} | skip, songs ${r.songs - W + 1}-${r.songs} | distinct tracks (of ${r.songs}) | distinct artists | plays by their top-5 artists |`);
md.push('|---|---|---|---|---|---|---|---|---|---|---|');
for (const p of P) {
  const b = p.name === 'emotune' ? (s) => `**${s}**` : (s) => s;
  md.push(`| ${b(p.name)} | ${b(pct(p.like_rate))} | ${pct(p.skip_rate)} | ${pct(p.like_first10)} | ${pct(p.like[0])} | ${b(pct(p.like[nw - 1]))} | ${pct(p.skip[0])} | ${pct(p.skip[nw - 1])} | ${p.distinct_tracks.toFixed(0)} | ${p.distinct_artists.toFixed(0)} | ${pct(p.top5_artist_share)} |`);
}
md.push('');
if (r.pick_ms) {
  const t = r.pick_ms;
  md.push(`Pick time: one \`et_rec_next\` among ${fmt(t.tracks)} tracks on one core, with feedback given between picks: median of ${t.picks} picks **${t.median.toFixed(2)} ms** (95th percentile ${t.p95.toFixed(2)} ms, max ${t.max.toFixed(2)} ms); the issue's budget is ${t.budget} ms.`);
  md.push('');
}
md.push('![like and skip rates](docs/recommend-sim.svg)');
const text = md.join('\n') + '\n';
fs.writeFileSync(mdPath, text);

// ---- the plot ----
const Wd = 860, Ht = 460, L = 70, R = 250, T = 56, B = 60;
const pw = Wd - L - R, ph = Ht - T - B;
const ymax = Math.ceil(10 * Math.max(...P.flatMap((p) => p.like.concat(p.skip))) + 0.5) / 10;
const X = (s) => L + (pw * s) / r.songs;
const Y = (v) => T + ph * (1 - v / ymax);
const colours = ['#c0392b', '#2471a3', '#1e8449', '#8e6bb8'];
const e = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
const svg = [];
svg.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${Wd}" height="${Ht}" viewBox="0 0 ${Wd} ${Ht}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="13">`);
svg.push(`<rect width="${Wd}" height="${Ht}" fill="#ffffff"/>`);
svg.push(`<text x="${L + pw / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">Like and skip rates per window of ${W} songs</text>`);
svg.push(`<text x="${L + pw / 2}" y="42" text-anchor="middle" font-size="12" fill="#555">${r.listeners} simulated listeners, ${fmt(r.tracks)} tracks, seed ${r.seed}</text>`);
for (let v = 0; v <= ymax + 1e-9; v += 0.1) {
  const y = Y(v).toFixed(1);
  svg.push(`<line x1="${L}" y1="${y}" x2="${L + pw}" y2="${y}" stroke="#e5e5e5"/>`);
  svg.push(`<text x="${L - 8}" y="${(+y + 4).toFixed(1)}" text-anchor="end">${Math.round(100 * v)}%</text>`);
}
for (let s = 0; s <= r.songs; s += 50) {
  const x = X(s).toFixed(1);
  svg.push(`<line x1="${x}" y1="${T + ph}" x2="${x}" y2="${T + ph + 5}" stroke="#333"/>`);
  svg.push(`<text x="${x}" y="${T + ph + 20}" text-anchor="middle">${s}</text>`);
}
svg.push(`<rect x="${L}" y="${T}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
svg.push(`<text x="${L + pw / 2}" y="${Ht - 16}" text-anchor="middle">songs heard</text>`);
svg.push(`<text transform="translate(20 ${T + ph / 2}) rotate(-90)" text-anchor="middle">share of the songs in the window</text>`);
const mid = (j) => W * j + W / 2;
P.forEach((p, k) => {
  for (const [series, dash] of [[p.like, ''], [p.skip, ' stroke-dasharray="7 5"']]) {
    const pts = series.map((v, j) => `${X(mid(j)).toFixed(1)},${Y(v).toFixed(1)}`).join(' ');
    svg.push(`<polyline points="${pts}" fill="none" stroke="${colours[k]}" stroke-width="2.5"${dash}/>`);
  }
});
const lx = L + pw + 18;
let ly = T + 10;
P.forEach((p, k) => {
  svg.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 28}" y2="${ly}" stroke="${colours[k]}" stroke-width="2.5"/>`);
  svg.push(`<text x="${lx + 36}" y="${ly + 4}">${e(p.name)}</text>`);
  ly += 24;
});
ly += 10;
svg.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 28}" y2="${ly}" stroke="#333" stroke-width="2.5"/>`);
svg.push(`<text x="${lx + 36}" y="${ly + 4}">liked</text>`);
ly += 24;
svg.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 28}" y2="${ly}" stroke="#333" stroke-width="2.5" stroke-dasharray="7 5"/>`);
svg.push(`<text x="${lx + 36}" y="${ly + 4}">skipped</text>`);
svg.push('</svg>');
fs.writeFileSync(svgPath, svg.join('\n') + '\n');
JS

# ---- `emotune recommend` end to end on a store of 100,000 tracks ----
# Generated track documents (seeded), imported into a fresh LMDB store; the
# command against the time to read the same store out (`emotune store
# export`), both with hyperfine in this run.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "bench: emotune recommend on 100,000 tracks" >&2
node - > "$tmp/tracks.jsonl" <<'JS'
let x = 12345;
const rnd = () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648);
const lines = [];
for (let i = 0; i < 100000; i++) {
  const doc = { kind: 'file', path: `/music/${i}.flac`, title: `Song ${i}`, artist: `Artist ${i % 5000}`,
    genre: `genre ${i % 12}`, duration: 120 + Math.floor(rnd() * 240),
    valence: +(2 * rnd() - 1).toFixed(3), arousal: +(2 * rnd() - 1).toFixed(3),
    features: { tempo: 60 + Math.floor(rnd() * 120) }, missing: false };
  lines.push(JSON.stringify({ collection: 'tracks', id: `f-${String(i).padStart(6, '0')}`, doc }));
}
console.log(lines.join('\n'));
JS
build/emotune store --store "lmdb:$tmp/db" import "$tmp/tracks.jsonl" >/dev/null
hyperfine --warmup 1 --runs 7 --export-json "$tmp/cli.json" \
  "build/emotune store --store lmdb:$tmp/db export" \
  "build/emotune recommend --store lmdb:$tmp/db --mood happy --count 10 --seed 1" >/dev/null 2>&1
rss_kb=$( { /usr/bin/time -f '%M' build/emotune recommend --store "lmdb:$tmp/db" --mood happy --count 10 --seed 1 >/dev/null; } 2>&1 | tail -1)
node - "$tmp/cli.json" "$rss_kb" >> "$out/recommend.md" <<'JS'
const r = JSON.parse(require('fs').readFileSync(process.argv[2], 'utf8')).results;
const [exp, rec] = r.map((x) => x.median);
console.log(`\n\`emotune recommend --count 10\` on an LMDB store of 100,000 generated tracks, median of 7 runs: ` +
  `**${rec.toFixed(2)} s**, ${(rec / exp).toFixed(2)}x the time \`emotune store export\` takes to read the same store ` +
  `(${exp.toFixed(2)} s); max RSS ${(process.argv[3] / 1024).toFixed(0)} MB.`);
JS

{ echo; cat "$out/recommend.md"; } >> "$out/report.md"
cat "$out/recommend.md"
