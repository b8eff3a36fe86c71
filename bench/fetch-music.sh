#!/usr/bin/env bash
# Real music for the scan benchmark, under free licences, from Debian's
# packages: the soundtracks of The Battle for Wesnoth and of HyperRogue (Ogg
# Vorbis, about 210 MB, some three hours). Downloaded as .deb files (not
# installed) and unpacked into build/bench/music. Never committed.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=build/bench/music
if [[ -d $dest && -n $(find "$dest" -name '*.ogg' -print -quit) ]]; then
  exit 0
fi
mkdir -p build/bench/deb "$dest"
(cd build/bench/deb && apt-get download wesnoth-1.16-music hyperrogue-music 2>/dev/null >/dev/null)
for deb in build/bench/deb/*.deb; do dpkg-deb -x "$deb" build/bench/deb/x; done
find build/bench/deb/x -name '*.ogg' -exec cp {} "$dest/" \;
echo "fetch-music: $(find "$dest" -name '*.ogg' | wc -l) files in $dest" >&2
