#!/usr/bin/env bash
# Store benchmark: bench_store on LMDB (a temporary directory) and on a
# redis-server started here on a free loopback port (persistence off), next
# to redis-benchmark against the same server in the same run. Appends a
# Markdown section to build/bench/report.md.
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/bench
mkdir -p "$out"
N=${STORE_N:-100000}
tmp=$(mktemp -d)
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
redis-server --port "$port" --bind 127.0.0.1 --dir "$tmp" --save '' --appendonly no \
  --daemonize yes --pidfile "$tmp/redis.pid" --logfile "$tmp/redis.log"
trap 'kill $(cat "$tmp/redis.pid") 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done

echo "bench: store, $N documents" >&2
build/bench/bench_store "lmdb:$tmp/lmdb" "$N" > "$out/store-lmdb.json"
build/bench/bench_store "redis://127.0.0.1:$port/0" "$N" > "$out/store-redis.json"
size=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1])).doc_bytes)' "$out/store-redis.json")
redis-cli -p "$port" flushall >/dev/null
rb_p16=$(redis-benchmark -p "$port" -t set -n "$N" -d "$size" -P 16 -q | grep -Eo '[0-9.]+ requests per second' | cut -d' ' -f1)
rb_c1p16=$(redis-benchmark -p "$port" -t set -n "$N" -d "$size" -P 16 -c 1 -q | grep -Eo '[0-9.]+ requests per second' | cut -d' ' -f1)
rb_p1=$(redis-benchmark -p "$port" -t set -n 20000 -d "$size" -P 1 -c 1 -q | grep -Eo '[0-9.]+ requests per second' | cut -d' ' -f1)

node - "$out/store-lmdb.json" "$out/store-redis.json" "$rb_p16" "$rb_c1p16" "$rb_p1" >> "$out/report.md" <<'JS'
const fs = require('fs');
const [l, r] = process.argv.slice(2, 4).map((f) => JSON.parse(fs.readFileSync(f)));
const [p16, c1p16, p1] = process.argv.slice(4).map(Number);
const k = (x) => Math.round(x).toLocaleString('en');
console.log('\n## Store (documents of ' + l.doc_bytes + ' bytes, one client)\n');
console.log('| backend | single puts/s | batched puts/s (1000 per batch) | time for ' + k(l.batched_puts) + ' batched | gets/s |');
console.log('|---|---|---|---|---|');
for (const x of [l, r]) console.log(`| ${x.backend} | ${k(x.single_put_per_s)} | ${k(x.batched_put_per_s)} | ${x.batched_s.toFixed(2)} s | ${k(x.get_per_s)} |`);
console.log(`\nredis-benchmark on the same server in the same run, SET of ${r.doc_bytes} bytes:`);
console.log('');
console.log('| redis-benchmark | SET/s | emotune | ratio |');
console.log('|---|---|---|---|');
console.log(`| -t set -P 16 (50 clients) | ${k(p16)} | batched puts | ${(100 * r.batched_put_per_s / p16).toFixed(0)}% |`);
console.log(`| -t set -P 16 -c 1 (one client, like emotune) | ${k(c1p16)} | batched puts | ${(100 * r.batched_put_per_s / c1p16).toFixed(0)}% |`);
console.log(`| -t set -P 1 -c 1 (one client, no pipelining) | ${k(p1)} | single puts | ${(100 * r.single_put_per_s / p1).toFixed(0)}% |`);
console.log('');
console.log('LMDB single puts are durable: each is a committed, fsynced transaction.');
JS
