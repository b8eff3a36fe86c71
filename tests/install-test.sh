#!/usr/bin/env bash
# Issue 22: `make install` into a staging folder (DESTDIR) with a PREFIX of
# its own gives a program that works from any directory without the source
# tree: the installed binary finds the installed models and page (its
# --verbose log names the folders, which must be under the staging folder,
# never build/ or web/ of this checkout), detects faces, serves the page and
# scans music; the installed systemd units pass systemd-analyze verify; and
# `make uninstall` leaves nothing behind. Prints cmocka's lines, so
# run-tests.sh counts each check. Needs build/emotune (make), ffmpeg, curl.
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
tmp=$(mktemp -d)
serve_pid=
trap '[[ -n $serve_pid ]] && kill "$serve_pid" 2> /dev/null; rm -rf "$tmp"' EXIT
unset EMOTUNE_MODELS EMOTUNE_WEB EMOTUNE_STORE EMOTUNE_TOKEN
dest=$tmp/dest prefix=/opt/emotune-test
root=$dest$prefix
bin=$root/bin/emotune
picture=$repo/node_modules/@vladmandic/face-api/demo/sample1.jpg
mkdir -p "$tmp/elsewhere" "$tmp/music"
export XDG_DATA_HOME=$tmp/data XDG_CONFIG_HOME=$tmp/config
unset EMOTUNE_CONFIG

checks=(install_puts_every_file_in_its_place
        the_installed_binary_detects_with_the_installed_models
        the_installed_binary_serves_the_installed_page
        the_installed_binary_scans_music
        the_installed_completion_completes_commands
        the_installed_units_pass_systemd_analyze_verify
        uninstall_leaves_nothing_behind)
failures=0
check() { # name, then a command that succeeds when the check passes
  local name=$1; shift
  echo "[ RUN      ] $name"
  if "$@"; then echo "[       OK ] $name"; else echo "[  FAILED  ] $name"; failures=$((failures+1)); fi
}

install_puts_every_file_in_its_place() {
  make -s install DESTDIR="$dest" PREFIX="$prefix" > "$tmp/make.log" 2>&1 ||
    { echo "make install failed:"; tail -5 "$tmp/make.log"; return 1; }
  local f bad=0
  for f in bin/emotune share/man/man1/emotune.1.gz share/bash-completion/completions/emotune \
           lib/systemd/user/emotune.service lib/systemd/system/emotune-system.service \
           share/emotune/models/{tiny_face_detector,face_expression}_model{-weights_manifest.json,.bin} \
           share/emotune/models/emotion.{json,bin} share/emotune/web/index.html; do
    [[ -f $root/$f ]] || { echo "missing $prefix/$f"; bad=1; }
  done
  [[ -x $bin ]] || { echo "$bin is not executable"; bad=1; }
  # every file of the page, the same bytes
  for f in "$repo"/web/*; do
    cmp -s "$f" "$root/share/emotune/web/${f##*/}" || { echo "web/${f##*/} not installed as is"; bad=1; }
  done
  # nothing outside the PREFIX
  [[ $(ls "$dest") == opt ]] || { echo "outside PREFIX: $(ls "$dest")"; bad=1; }
  return $bad
}

the_installed_binary_detects_with_the_installed_models() {
  (cd "$tmp/elsewhere" && "$bin" --verbose detect --json "$picture") > "$tmp/det" 2> "$tmp/det.err" ||
    { echo "detect: exit $?: $(tail -3 "$tmp/det.err")"; return 1; }
  grep -qx "emotune: debug: models folder: $root/share/emotune/models" "$tmp/det.err" ||
    { echo "the models were not taken from the installed folder: $(grep folder "$tmp/det.err")"; return 1; }
  # the same faces as the build's binary with the build's models
  build/emotune detect --json "$picture" > "$tmp/det.build" || return 1
  cmp -s "$tmp/det" "$tmp/det.build" || { echo "installed and built detect differ"; return 1; }
  grep -q '"faces":\[{' "$tmp/det" || { echo "no face found: $(head -c 300 "$tmp/det")"; return 1; }
}

the_installed_binary_serves_the_installed_page() {
  mkfifo "$tmp/out"
  (cd "$tmp/elsewhere" && exec "$bin" --verbose serve --listen 127.0.0.1:0 \
     --store "lmdb:$tmp/serve-store") > "$tmp/out" 2> "$tmp/serve.err" &
  serve_pid=$!
  local line port ok=0
  exec 3< "$tmp/out"
  read -r line <&3 || { echo "serve said nothing: $(tail -3 "$tmp/serve.err")"; return 1; }
  port=${line##*:}
  [[ $line == "emotune: listening on http://127.0.0.1:"* && $port =~ ^[0-9]+$ ]] ||
    { echo "serve said: $line"; return 1; }
  curl -sf "http://127.0.0.1:$port/" -o "$tmp/index.html" &&
    cmp -s "$tmp/index.html" web/index.html || { echo "/ is not web/index.html"; ok=1; }
  curl -sf "http://127.0.0.1:$port/app.js" -o "$tmp/app.js" &&
    cmp -s "$tmp/app.js" web/app.js || { echo "/app.js is not web/app.js"; ok=1; }
  curl -sf "http://127.0.0.1:$port/healthz" | grep -q '"models":true' ||
    { echo "/healthz does not report the models"; ok=1; }
  kill -TERM "$serve_pid"
  wait "$serve_pid" || { echo "serve exited $? after SIGTERM"; ok=1; }
  serve_pid=
  exec 3<&-
  grep -qx "emotune: debug: web page folder: $root/share/emotune/web" "$tmp/serve.err" ||
    { echo "the page was not taken from the installed folder: $(grep folder "$tmp/serve.err")"; ok=1; }
  return $ok
}

the_installed_binary_scans_music() {
  ffmpeg -nostdin -loglevel error -f lavfi -i "sine=frequency=440:duration=4" \
    -metadata title="Installed tone" -c:a flac "$tmp/music/tone.flac" || { echo "ffmpeg failed"; return 1; }
  (cd "$tmp/elsewhere" && "$bin" scan --json --jobs 1 --store "lmdb:$tmp/scan-store" "$tmp/music") \
    > "$tmp/scan" 2> "$tmp/scan.err" || { echo "scan: exit $?: $(tail -3 "$tmp/scan.err")"; return 1; }
  grep -q '"added":1' "$tmp/scan" || { echo "scan: $(cat "$tmp/scan")"; return 1; }
  (cd "$tmp/elsewhere" && "$bin" tracks --json --store "lmdb:$tmp/scan-store") > "$tmp/tracks" || return 1
  grep -q 'Installed tone' "$tmp/tracks" || { echo "tracks: $(head -c 300 "$tmp/tracks")"; return 1; }
}

the_installed_completion_completes_commands() {
  local got
  got=$(bash -c 'source "$1"; COMP_WORDS=("$2" ser); COMP_CWORD=1; _emotune; echo "${COMPREPLY[*]}"
                 COMP_WORDS=("$2" scan --pr); COMP_CWORD=2; _emotune; echo "${COMPREPLY[*]}"' \
        _ "$root/share/bash-completion/completions/emotune" "$bin")
  [[ $got == $'serve\n--prune' ]] || { echo "completion gave: $got"; return 1; }
}

# systemd-analyze verify wants ExecStart's binary to exist: the installed
# units name $prefix/bin/emotune, which lives under the staging folder, so a
# copy of each with that path put under $dest is verified (and the manual
# page their Documentation= names is looked up in the staging folder too).
the_installed_units_pass_systemd_analyze_verify() {
  command -v systemd-analyze > /dev/null || { echo "no systemd-analyze"; return 1; }
  mkdir -p "$tmp/units" "$tmp/run" && chmod 700 "$tmp/run"
  local u scope bad=0
  for u in user/emotune system/emotune-system; do
    sed "s|$prefix/bin/emotune|$bin|g" "$root/lib/systemd/$u.service" > "$tmp/units/${u#*/}.service"
    grep -q "^ExecStart=$bin serve" "$tmp/units/${u#*/}.service" ||
      { echo "$u.service: no ExecStart with the installed binary"; bad=1; }
    scope=--system; [[ $u == user/* ]] && scope=--user
    XDG_RUNTIME_DIR=$tmp/run MANPATH=$root/share/man \
      systemd-analyze "$scope" verify "$tmp/units/${u#*/}.service" > "$tmp/verify" 2>&1 ||
      { echo "$u.service: systemd-analyze exit $?"; bad=1; }
    # it exits 0 on unknown keys: any word from it is a failure
    [[ -s $tmp/verify ]] && { echo "$u.service:"; cat "$tmp/verify"; bad=1; }
  done
  return $bad
}

uninstall_leaves_nothing_behind() {
  make -s uninstall DESTDIR="$dest" PREFIX="$prefix" > "$tmp/make.log" 2>&1 ||
    { echo "make uninstall failed:"; tail -5 "$tmp/make.log"; return 1; }
  local left; left=$(find "$dest" ! -type d)
  [[ -z $left ]] || { echo "left behind: $left"; return 1; }
  [[ ! -e $root/share/emotune ]] || { echo "share/emotune is still there"; return 1; }
}

echo "[==========] Running ${#checks[@]} test(s)."
for c in "${checks[@]}"; do check "$c" "$c"; done
echo "[==========] ${#checks[@]} test(s) run."
exit "$failures"
