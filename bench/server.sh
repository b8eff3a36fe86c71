#!/usr/bin/env bash
# The HTTP server under load (issue 11): `emotune serve --threads 2` on a
# temporary LMDB store, loaded on loopback by bench/server_load.c.
#   1. frames: POST /api/v1/listeners/{name}/frames of a 640x480 JPEG made
#      here from a face-api demo picture (scaled and padded by ffmpeg,
#      -q:v 4, about libjpeg quality 86), CONNECTIONS clients each its own
#      listener on a kept-alive connection (as a browser does), for SECONDS
#      after a warm-up; then the same with a new connection per request;
#   2. next to it, the single-frame time of the same picture on one core:
#      bench_detect's decode + detect + expressions (what the server does
#      per frame, without HTTP), median of 30 runs, pinned with taskset,
#      measured before and after the load; the smaller one gives the ideal
#      2 / single-frame time (two cores), so the ratio is not flattered;
#   3. other routes (the track list, a Range request of audio) when the
#      server's OpenAPI document has them.
# Writes build/bench/server.json and build/bench/server.md, appends the
# section to build/bench/report.md and prints it. Exit status 1 when any
# reply was an error: the figures would not mean anything.
#   SERVER_BENCH_SECONDS (20), SERVER_BENCH_CONNECTIONS (8),
#   SERVER_BENCH_SAMPLE (1: demo/sample1.jpg), BENCH_CORE (1)
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/bench
mkdir -p "$out"
DURATION=${SERVER_BENCH_SECONDS:-20}
CONNECTIONS=${SERVER_BENCH_CONNECTIONS:-8}
SAMPLE=${SERVER_BENCH_SAMPLE:-1}
CORE=${BENCH_CORE:-1}
pin() { if command -v taskset >/dev/null && taskset -c "$CORE" true 2>/dev/null; then taskset -c "$CORE" "$@"; else "$@"; fi; }

# build/bench/server_load and build/bench/bench_detect are built by `make bench`.
tmp=$(mktemp -d)
server_pid=
stop_server() {
  if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null && wait "$server_pid" || true; fi
}
trap 'stop_server; rm -rf "$tmp"' EXIT

frame=$out/server-frame.jpg
ffmpeg -hide_banner -loglevel error -nostdin -y \
  -i "node_modules/@vladmandic/face-api/demo/sample$SAMPLE.jpg" \
  -vf 'scale=640:480:force_original_aspect_ratio=decrease,pad=640:480:(ow-iw)/2:(oh-ih)/2' \
  -q:v 4 "$frame"
faces=$(build/emotune detect --json "$frame" | node -e \
  'console.log(JSON.parse(require("fs").readFileSync(0, "utf8")).faces.length)')

single_ms() { # the median single-frame time of $frame on one core, in ms
  pin build/bench/bench_detect --repeat 30 "$frame" | node -e \
    'const l = require("fs").readFileSync(0, "utf8").trim().split("\n");
     console.log(JSON.parse(l[1]).ms)'
}
# The same as CPU time, which other work on a shared machine does not
# inflate: `emotune detect` on the frame 41 times less once (the model
# loading cancels), user + system, over 40.
single_cpu_ms() {
  local t1 t41
  t1=$(pin /usr/bin/time -f '%U %S' build/emotune detect --json "$frame" 2>&1 >/dev/null | tail -1)
  t41=$(pin /usr/bin/time -f '%U %S' build/emotune detect --json $(printf "$frame %.0s" $(seq 41)) \
    2>&1 >/dev/null | tail -1)
  awk -v a="$t1" -v b="$t41" 'BEGIN { split(a, x, " "); split(b, y, " ");
    printf "%.2f", (y[1] + y[2] - x[1] - x[2]) * 1000 / 40 }'
}
loadavg=$(cut -d' ' -f1-3 /proc/loadavg) # the machine may be shared: say how busy it was
echo "bench: server, single-frame time of $frame ($faces faces) on core $CORE" >&2
ms_before=$(single_ms)
cpu_ms=$(single_cpu_ms)

# The server, on a free port it picks (--listen 127.0.0.1:0; it prints it).
# --max-fps 0: no per-listener frame limit, which would cap a fast machine.
build/emotune serve --listen 127.0.0.1:0 --store "lmdb:$tmp/store" --threads 2 --max-fps 0 \
  > "$tmp/serve.out" 2> "$tmp/serve.err" &
server_pid=$!
port=
for _ in $(seq 600); do
  port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$tmp/serve.out")
  [[ -n $port ]] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/serve.err" >&2; exit 1; }
  sleep 0.1
done
[[ -n $port ]] || { echo "bench: the server did not start" >&2; exit 1; }

cpu_ticks() { # the server's CPU time so far (user + system), in clock ticks
  awk '{ print $14 + $15 }' "/proc/$server_pid/stat" # fields after "(emotune)", no spaces in it
}
load() { # label, server_load options and path...; its line gets the server's CPU seconds
  local label=$1; shift
  echo "bench: server, $label" >&2
  local c0; c0=$(cpu_ticks)
  build/bench/server_load --port "$port" --label "$label" "$@" > "$tmp/load.json"
  local cpu; cpu=$(awk -v a="$c0" -v b="$(cpu_ticks)" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "%.2f", (b - a) / hz }')
  sed "s/}\$/, \"server_cpu_s\": $cpu}/" "$tmp/load.json" >> "$out/server.jsonl"
}
: > "$out/server.jsonl"
frames=(--method POST --header 'Content-Type: image/jpeg' --body "$frame")
load frames "${frames[@]}" --connections "$CONNECTIONS" --seconds "$DURATION" --warmup 3 \
  '/api/v1/listeners/load{i}/frames?t={t}'
load frames-new-connection "${frames[@]}" --close --connections "$CONNECTIONS" \
  --seconds "$(( (DURATION + 1) / 2 ))" --warmup 2 '/api/v1/listeners/fresh{i}/frames?t={t}'
load healthz --connections "$CONNECTIONS" --seconds 5 --warmup 1 /healthz

# The track list and a Range request of audio, once the server has them: a
# library of 8 generated MP3s (a minute each) scanned into the store and
# 1,000 imported links (the server reads the library from the store), then
# one line each.
documented() { # whether the server's OpenAPI document has the path $1
  node -e 'require("http").get(process.argv[1], (r) => { let b = ""; r.on("data", (d) => (b += d));
    r.on("end", () => process.exit(JSON.parse(b).paths[process.argv[2]] ? 0 : 1)); })' \
    "http://127.0.0.1:$port/api/v1/openapi.json" "$1"
}
if documented /api/v1/tracks && documented '/api/v1/tracks/{id}/audio'; then
  mkdir -p "$tmp/music"
  for i in $(seq 8); do
    ffmpeg -hide_banner -loglevel error -nostdin -y -f lavfi \
      -i "aevalsrc=0.3*sin($((200 + 20 * i))*2*PI*t)+0.2*sin($((300 + 15 * i))*2*PI*t):s=44100:d=60" \
      -c:a libmp3lame -b:a 128k "$tmp/music/track$i.mp3"
  done
  build/emotune scan --store "lmdb:$tmp/store" "$tmp/music" > /dev/null
  id=$(build/emotune tracks --json --limit 1 --store "lmdb:$tmp/store" | node -e \
    'console.log(JSON.parse(require("fs").readFileSync(0, "utf8")).id)')
  awk 'BEGIN { split("happy sad calm angry surprised", m, " ");
    for (i = 0; i < 1000; i++)
      printf "https://example.org/%d,song %d,artist %d,%s\n", i, i, i % 97, m[i % 5 + 1] }' \
    > "$tmp/links.csv"
  build/emotune import --store "lmdb:$tmp/store" "$tmp/links.csv" > /dev/null
  load tracks-list --connections "$CONNECTIONS" --seconds 5 --warmup 1 '/api/v1/tracks'
  load audio-range --connections "$CONNECTIONS" --seconds 5 --warmup 1 \
    --header 'Range: bytes=65536-131071' "/api/v1/tracks/$id/audio"
else
  echo "bench: server, no track routes in this server: track list and audio not measured" >&2
fi

stop_server
server_pid=
ms_after=$(single_ms)

errors=0
node - "$out/server.jsonl" "$ms_before" "$ms_after" "$cpu_ms" "$faces" "$SAMPLE" "$loadavg" \
  "$out/server.json" "$out/server.md" <<'JS' || errors=1
const fs = require('fs');
const [jsonl, before, after, cpuMs, faces, sample, loadavg, jsonOut, mdOut] = process.argv.slice(2);
const runs = fs.readFileSync(jsonl, 'utf8').trim().split('\n').map(JSON.parse);
const f = runs.find((r) => r.label === 'frames');
const single = Math.min(Number(before), Number(after));
const ideal = 2000 / single;
const ratio = f.rps / ideal;
const spread = f.p99_ms / f.p50_ms;
// The machine may be shared: the CPU the server got over the whole run
// (warm-up included), against the replies it gave meanwhile.
const replies = Object.values(f.statuses).reduce((a, b) => a + b, 0);
const cpuPerFrame = (1000 * f.server_cpu_s) / replies;
const wall = f.warmup_s + f.seconds;
const figures = {single_frame_ms_before: Number(before), single_frame_ms_after: Number(after),
  single_frame_ms: single, ideal_fps_2_cores: ideal, frames_per_s: f.rps, ratio,
  p50_ms: f.p50_ms, p90_ms: f.p90_ms, p99_ms: f.p99_ms, max_ms: f.max_ms, p99_over_p50: spread,
  server_cpu_ms_per_frame: cpuPerFrame, server_cores_used: f.server_cpu_s / wall,
  single_frame_cpu_ms: Number(cpuMs), cpu_efficiency: Number(cpuMs) / cpuPerFrame,
  faces: Number(faces), loadavg, runs};
fs.writeFileSync(jsonOut, JSON.stringify(figures, null, 1) + '\n');
const met = (ok) => (ok ? 'met' : '**missed**');
const statuses = (r) => Object.entries(r.statuses).map(([k, v]) => `${k}: ${v}`).join(', ');
const md = [];
md.push('## HTTP server under load');
md.push('');
md.push(`\`emotune serve --threads 2 --max-fps 0\` on this machine (load average ${loadavg} at the start), LMDB store,`);
md.push(`loaded on loopback by bench/server_load.c. The frame: demo/sample${sample}.jpg scaled and padded to 640x480 JPEG (${faces} faces).`);
md.push('');
md.push('| figure | value | target |');
md.push('|---|---|---|');
md.push(`| single-frame time, one core (bench_detect: decode + detect + expressions, median of 30; before / after the load) | ${Number(before).toFixed(1)} / ${Number(after).toFixed(1)} ms | |`);
md.push(`| ideal on 2 cores (2 / ${single.toFixed(1)} ms) | ${ideal.toFixed(1)} frames/s | |`);
md.push(`| sustained, ${f.connections} kept-alive clients, ${f.seconds.toFixed(0)} s | **${f.rps.toFixed(1)} frames/s** | |`);
md.push(`| sustained / ideal | **${(100 * ratio).toFixed(0)}%** | >= 80%: ${met(ratio >= 0.8)} |`);
md.push(`| latency p50 / p90 / p99 / max | ${f.p50_ms.toFixed(0)} / ${f.p90_ms.toFixed(0)} / ${f.p99_ms.toFixed(0)} / ${f.max_ms.toFixed(0)} ms | |`);
md.push(`| p99 / p50 | **${spread.toFixed(2)}** | < 3: ${met(spread < 3)} |`);
md.push(`| the server's CPU time per frame (user + system, from /proc) | ${cpuPerFrame.toFixed(1)} ms | |`);
md.push(`| cores the server got (CPU time / wall time) | ${(f.server_cpu_s / wall).toFixed(2)} of 2 | |`);
md.push(`| single-frame CPU time (\`emotune detect\` on the frame 41 times less once, over 40) | ${Number(cpuMs).toFixed(1)} ms | |`);
md.push(`| that / the server's CPU time per frame (the ratio for the CPU it got) | ${(100 * cpuMs / cpuPerFrame).toFixed(0)}% | |`);
md.push('');
md.push('| requests | connections | keep-alive | requests/s | p50 ms | p90 ms | p99 ms | max ms | replies |');
md.push('|---|---|---|---|---|---|---|---|---|');
for (const r of runs)
  md.push(`| ${r.label}: ${r.method} ${r.path} | ${r.connections} | ${r.keep_alive ? 'yes' : 'no'} | ${r.rps.toFixed(1)} | ${r.p50_ms.toFixed(2)} | ${r.p90_ms.toFixed(2)} | ${r.p99_ms.toFixed(2)} | ${r.max_ms.toFixed(2)} | ${statuses(r)} |`);
md.push('');
md.push(`A client sends its next request when the reply to the last is read (closed loop), so with ${f.connections} clients on 2`);
md.push('workers a frame waits for the frames before it: the latency is mostly queueing. The requests of every connection');
md.push('wait in one queue for the next free worker, so the clients share the cores alike: frames per client in the');
md.push(`kept-alive run, ${f.requests_per_client.join(', ')}.`);
const text = md.join('\n') + '\n';
fs.writeFileSync(mdOut, text);
process.stdout.write(text);
if (runs.some((r) => r.errors > 0)) {
  console.error('bench: server: some replies were errors (see the table); the figures do not count');
  process.exitCode = 1;
}
JS
cat "$out/server.md" >> "$out/report.md"
exit "$errors"
