#!/usr/bin/env bash
# `make run`: emotune's web page, on this machine, until Ctrl-C.
#  - the store: your LMDB store in the data folder ($XDG_DATA_HOME/emotune,
#    else ~/.local/share/emotune; $EMOTUNE_STORE names another);
#  - the music: the folder MUSIC (default ~/Music), scanned in the
#    background (the page answers meanwhile, and songs come as they are
#    analysed). When it holds no music, a demo library: the Wesnoth and
#    HyperRogue soundtracks from Debian's packages (bench/fetch-music.sh,
#    about 210 MB, downloaded once into build/bench/music);
#  - the address: LISTEN (default 127.0.0.1:8080), printed to open in a
#    browser.
# make has installed what was missing and built emotune before this runs.
set -euo pipefail
cd "$(dirname "$0")/.."

music=${MUSIC:-$HOME/Music}
listen=${LISTEN:-127.0.0.1:8080}

# Whether a folder holds a file named like audio (the scan recognises audio
# by its content; this only tells an empty or missing folder).
has_music() {
  [[ -d $1 ]] && [[ -n $(find -L "$1" -type f \( -iname '*.mp3' -o -iname '*.ogg' -o \
    -iname '*.oga' -o -iname '*.opus' -o -iname '*.flac' -o -iname '*.m4a' -o -iname '*.aac' \
    -o -iname '*.wav' -o -iname '*.aif' -o -iname '*.aiff' -o -iname '*.wma' \) -print -quit \
    2>/dev/null) ]]
}

if ! has_music "$music"; then
  echo "run: no music in $music; using the demo library (the Wesnoth and HyperRogue" >&2
  echo "     soundtracks from Debian, downloaded once). Your own: make run MUSIC=DIR" >&2
  if ! bench/fetch-music.sh; then
    echo "run: the demo music could not be downloaded; starting with an empty library" >&2
    echo "     (add music with: make run MUSIC=DIR)" >&2
    music=
  else
    music=build/bench/music
  fi
fi

args=(serve --listen "$listen" --web web)
[[ -n $music ]] && args+=(--music "$music")
echo "run: emotune ${args[*]}" >&2
echo "run: open the address below in your browser; Ctrl-C stops emotune" >&2
exec build/emotune "${args[@]}"
