#!/usr/bin/env bash
# Scan benchmark on a real library (bench/fetch-music.sh): the decode floor
# (one core, decode + resample only) against `emotune scan` with the default
# jobs, both in this run on the same files; then an unchanged rescan; then max
# RSS of a scan of the whole library against a scan of one file. Appends to
# build/bench/report.md.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/bench
bench/fetch-music.sh
music=$out/music
mapfile -t files < <(find "$music" -name '*.ogg' | sort)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "bench: scan, decode floor on one core" >&2
floor=$(taskset -c 1 build/bench/bench_decode "${files[@]}")
echo "bench: scan, emotune scan (default jobs)" >&2
# exit status 1 only says that some files failed (they are in the summary)
scan=$( { /usr/bin/time -f 'rss_kb=%M' build/emotune scan --json --store "lmdb:$tmp/store" "$music" || true; } 2>"$tmp/time")
rss_all=$(grep -o 'rss_kb=[0-9]*' "$tmp/time" | cut -d= -f2)
rescan=$(build/emotune scan --json --store "lmdb:$tmp/store" "$music" || true)
mkdir "$tmp/one" && cp "${files[0]}" "$tmp/one/"
{ /usr/bin/time -f 'rss_kb=%M' build/emotune scan --json --store "lmdb:$tmp/store1" "$tmp/one" >/dev/null || true; } 2>"$tmp/time1"
rss_one=$(grep -o 'rss_kb=[0-9]*' "$tmp/time1" | cut -d= -f2)
build/emotune tracks --json --store "lmdb:$tmp/store" > "$out/scan-tracks.jsonl"

node - "$floor" "$scan" "$rescan" "$rss_all" "$rss_one" "$out/scan-tracks.jsonl" >> "$out/report.md" <<'JS'
const fs = require('fs');
const [floor, scan, rescan] = process.argv.slice(2, 5).map(JSON.parse);
const [rssAll, rssOne] = process.argv.slice(5, 7).map(Number);
const tracks = fs.readFileSync(process.argv[7], 'utf8').trim().split('\n').map(JSON.parse);
console.log(`\n## Scan (${floor.files} Ogg Vorbis files, ${floor.audio_hours.toFixed(2)} h: the Wesnoth and HyperRogue soundtracks from Debian, music and some short sound effects)\n`);
console.log('| measure | value |');
console.log('|---|---|');
console.log(`| decode floor, one core (decode + resample only) | ${floor.seconds.toFixed(1)} s (${floor.x_realtime.toFixed(0)}x real time) |`);
console.log(`| emotune scan, default jobs (decode + analysis + store) | ${scan.seconds.toFixed(1)} s |`);
console.log(`| **scan / decode floor** | **${(scan.seconds / floor.seconds).toFixed(2)}** |`);
console.log(`| unchanged rescan | ${rescan.seconds.toFixed(3)} s (${rescan.unchanged} unchanged, ${rescan.added + rescan.updated} decoded) |`);
console.log(`| max RSS, whole library / one file | ${(rssAll / 1024).toFixed(0)} MB / ${(rssOne / 1024).toFixed(0)} MB |`);
console.log(`| failed files | ${scan.failed} |`);
const counts = {};
for (const t of tracks) {
  const v = t.valence; const a = t.arousal;
  const q = v >= 0 ? (a >= 0 ? 'happy/excited (+V +A)' : 'calm/content (+V -A)') : (a >= 0 ? 'tense/angry (-V +A)' : 'sad/gloomy (-V -A)');
  counts[q] = (counts[q] || 0) + 1;
}
console.log('\nMood estimates on this library, by quadrant of the valence/arousal plane:\n');
console.log('| quadrant | tracks |');
console.log('|---|---|');
for (const [q, n] of Object.entries(counts)) console.log(`| ${q} | ${n} |`);
const pick = (f) => tracks.slice().sort(f).slice(0, 3).map((t) => `${t.title} (V ${t.valence.toFixed(2)}, A ${t.arousal.toFixed(2)}, ${t.features.tempo.toFixed(0)} bpm, ${t.features.key} ${t.features.mode})`).join('; ');
console.log(`\nMost aroused: ${pick((x, y) => y.arousal - x.arousal)}.`);
console.log(`Calmest: ${pick((x, y) => x.arousal - y.arousal)}.`);
console.log(`Most positive: ${pick((x, y) => y.valence - x.valence)}.`);
console.log(`Most negative: ${pick((x, y) => x.valence - y.valence)}.`);
JS
