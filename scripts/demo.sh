#!/usr/bin/env bash
# `make demo`: emotune's command line from face to songs, on real pictures
# and real music (`make run` is the web page).
#  1. the faces and expressions in face-api's demo pictures (emotune detect);
#  2. a music library: the Wesnoth and HyperRogue soundtracks from Debian
#     (bench/fetch-music.sh, about 210 MB, downloaded once into
#     build/bench/music), scanned into a demo store, build/demo/store;
#  3. a queue for the mood of a sad face and for a happy one, the second
#     with the lift policy.
# The demo store is the demo's own: your default store is not touched.
set -euo pipefail
cd "$(dirname "$0")/.."
demo=node_modules/@vladmandic/face-api/demo
store=lmdb:build/demo/store
run() { echo "\$ emotune $*" >&2; build/emotune "$@"; }

run detect "$demo"/sample1.jpg "$demo"/sample2.jpg
echo >&2
if ! bench/fetch-music.sh; then
  echo "demo: could not download the demo music; scan your own: build/emotune scan DIR" >&2
  exit 1
fi
# exit status 1 only says that some files could not be read (three of the
# packaged files are broken); they are listed
run scan --store "$store" build/bench/music || [[ $? -eq 1 ]]
echo >&2
run recommend --store "$store" --listener demo --count 5 --image "$demo"/sample2.jpg
echo >&2
run recommend --store "$store" --listener demo --count 5 --policy lift --image "$demo"/sample1.jpg
echo >&2
echo "demo: try build/emotune feedback --store $store --listener demo TRACK like," >&2
echo "      then build/emotune history --store $store --listener demo" >&2
