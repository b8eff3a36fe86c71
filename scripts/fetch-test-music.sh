#!/usr/bin/env bash
# A little real music for the tests: the three MP3 tracks of Debian's
# asc-music package (the soundtrack of Advanced Strategic Command, GPL-2+,
# 10 MB), downloaded as a .deb (not installed) into build/test-music. The
# tests cut a few seconds from it. Never committed. Failure here only makes
# the real-music test skip, saying so.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=build/test-music
[[ -n $(find "$dest" -name '*.mp3' -print -quit 2>/dev/null) ]] && exit 0
mkdir -p "$dest/deb"
(cd "$dest/deb" && apt-get download asc-music >/dev/null 2>&1)
dpkg-deb -x "$dest"/deb/asc-music_*.deb "$dest/deb/x"
find "$dest/deb/x" -name '*.mp3' -exec cp {} "$dest/" \;
rm -rf "$dest/deb"
