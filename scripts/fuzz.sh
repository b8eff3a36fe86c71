#!/usr/bin/env bash
# Runs each libFuzzer target for SECONDS on a scratch copy of its corpus
# (fuzz/corpus/<name>/ itself is left as it is: add inputs to it by hand).
# Crashes are written to fuzz/crashes/ (fix, then move the input into the
# corpus so `make test` replays it for ever).
# usage: scripts/fuzz.sh SECONDS fuzz_image fuzz_weights ...
set -euo pipefail
cd "$(dirname "$0")/.."
secs=$1; shift
mkdir -p fuzz/crashes
for f in "$@"; do
  name=${f#fuzz_}
  work=$(mktemp -d)
  cp -r "fuzz/corpus/$name/." "$work/" 2>/dev/null || true
  echo "fuzz: $f for ${secs}s"
  "build/fuzz/$f" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 \
    -artifact_prefix=fuzz/crashes/ "$work" 2>&1 | tail -n 3
  rm -rf "$work"
done
echo "fuzz: done; crashes (if any) are in fuzz/crashes/"
