#!/usr/bin/env bash
# Installs what emotune needs to build, test and benchmark on Debian 12:
# Debian packages with apt-get (chromium among them, for the browser tests:
# playwright-core drives it, and never downloads a browser of its own), npm
# packages with `npm ci` (pinned in package-lock.json). Safe to run again:
# it installs only what is missing. Python with numpy and scikit-learn is for
# `make train` and the cross-validation in `make bench` only: emotune needs no
# Python at run time.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBS=(
  build-essential pkg-config clang libclang-rt-14-dev
  libturbojpeg0-dev libpng-dev libwebp-dev libexif-dev
  libopenblas-dev libjansson-dev libcmocka-dev
  liblmdb-dev libhiredis-dev libyajl-dev redis-server redis-tools
  libavformat-dev libavcodec-dev libswresample-dev libavutil-dev
  libfftw3-dev libmicrohttpd-dev ffmpeg
  libavdevice-dev libswscale-dev libmpdclient-dev mpd mpc gcc-aarch64-linux-gnu qemu-user
  nodejs npm time hyperfine chromium
  man-db debhelper lintian curl
  python3-numpy python3-scipy python3-sklearn python3-pil
)

missing=()
for p in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# nodejs may come from elsewhere than Debian; a working node and npm is enough.
if command -v node >/dev/null && command -v npm >/dev/null; then
  filtered=()
  for p in "${missing[@]}"; do [[ $p == nodejs || $p == npm ]] || filtered+=("$p"); done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi

if ((${#missing[@]})); then
  echo "deps: installing Debian packages: ${missing[*]}"
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

if [[ ! -d node_modules/@vladmandic/face-api || ! -d node_modules/playwright-core ||
      package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "deps: installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --ignore-scripts
fi
echo "deps: ok"
