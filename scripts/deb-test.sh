#!/usr/bin/env bash
# The Debian package on this machine (issue 22), after make deb: installs
# build/deb/emotune_VERSION_ARCH.deb with apt-get (its dependencies from
# Debian), runs the installed /usr/bin/emotune (version, detect, the page
# served from /usr/share/emotune/web), finds its manual page, verifies its
# systemd units as installed, then removes and purges it and checks nothing
# of it is left. Needs root or sudo, and changes the system's packages
# (emotune only): for CI, after make test. Prints cmocka's lines.
#   scripts/deb-test.sh [DEB]
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO=sudo
deb=${1:-$(ls build/deb/emotune_*_"$(dpkg --print-architecture)".deb 2> /dev/null | head -1)}
[[ -f $deb ]] || { echo "deb-test: no package (make deb first)"; exit 1; }
deb=$(realpath "$deb")
tmp=$(mktemp -d)
serve_pid=
trap '[[ -n $serve_pid ]] && kill "$serve_pid" 2> /dev/null; rm -rf "$tmp"' EXIT
unset EMOTUNE_MODELS EMOTUNE_WEB EMOTUNE_STORE EMOTUNE_TOKEN
export XDG_DATA_HOME=$tmp/data XDG_CONFIG_HOME=$tmp/config
unset EMOTUNE_CONFIG
bin=/usr/bin/emotune
picture=$repo/node_modules/@vladmandic/face-api/demo/sample1.jpg

checks=(apt_get_installs_the_package
        the_installed_version_is_the_package_s
        the_installed_binary_detects_faces
        the_installed_binary_serves_the_page
        man_finds_the_manual_page
        the_installed_units_pass_systemd_analyze_verify
        apt_get_removes_and_purges_it_all)
failures=0
check() {
  local name=$1; shift
  echo "[ RUN      ] $name"
  if "$@"; then echo "[       OK ] $name"; else echo "[  FAILED  ] $name"; failures=$((failures+1)); fi
}

apt_get_installs_the_package() {
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "$deb" > "$tmp/apt" 2>&1 ||
    { echo "apt-get install: exit $?"; tail -5 "$tmp/apt"; return 1; }
  dpkg-query -W -f='${Status}' emotune | grep -q "install ok installed" || return 1
}

the_installed_version_is_the_package_s() {
  local want got
  want=$(dpkg-deb -f "$deb" Version)
  got=$(cd "$tmp" && "$bin" version) || { echo "emotune version: exit $?"; return 1; }
  echo "$got" | head -1
  [[ $(head -1 <<< "$got") == "emotune $want" ]]
}

the_installed_binary_detects_faces() {
  [[ -f $picture ]] || { echo "missing $picture (npm ci)"; return 1; }
  (cd "$tmp" && "$bin" --verbose detect --json "$picture") > "$tmp/det" 2> "$tmp/det.err" ||
    { echo "detect: exit $?: $(tail -3 "$tmp/det.err")"; return 1; }
  grep -qx "emotune: debug: models folder: /usr/share/emotune/models" "$tmp/det.err" ||
    { echo "models from: $(grep folder "$tmp/det.err")"; return 1; }
  grep -q '"faces":\[{' "$tmp/det"
}

the_installed_binary_serves_the_page() {
  mkfifo "$tmp/out"
  (cd "$tmp" && exec "$bin" --verbose serve --listen 127.0.0.1:0 --store "lmdb:$tmp/store") \
    > "$tmp/out" 2> "$tmp/serve.err" &
  serve_pid=$!
  local line port bad=0
  exec 3< "$tmp/out"
  read -r line <&3 || { echo "serve said nothing: $(tail -3 "$tmp/serve.err")"; return 1; }
  port=${line##*:}
  curl -sf "http://127.0.0.1:$port/" -o "$tmp/index.html" &&
    cmp -s "$tmp/index.html" /usr/share/emotune/web/index.html || { echo "/ is not the installed page"; bad=1; }
  kill -TERM "$serve_pid"; wait "$serve_pid" || { echo "serve exited $? after SIGTERM"; bad=1; }
  serve_pid=; exec 3<&-
  grep -qx "emotune: debug: web page folder: /usr/share/emotune/web" "$tmp/serve.err" ||
    { echo "page from: $(grep folder "$tmp/serve.err")"; bad=1; }
  return $bad
}

man_finds_the_manual_page() {
  local page; page=$(man -w emotune 2> /dev/null) || { echo "man -w emotune finds nothing"; return 1; }
  [[ $page == /usr/share/man/man1/emotune.1.gz ]] || { echo "man -w: $page"; return 1; }
  [[ -z $(MANWIDTH=80 man --warnings -l "$page" 2>&1 > /dev/null) ]] || { echo "man warns"; return 1; }
}

the_installed_units_pass_systemd_analyze_verify() {
  mkdir -p "$tmp/run" && chmod 700 "$tmp/run"
  local out bad=0
  out=$(systemd-analyze verify /lib/systemd/system/emotune-system.service 2>&1) || bad=1
  [[ -z $out ]] || { echo "emotune-system.service: $out"; bad=1; }
  out=$(XDG_RUNTIME_DIR=$tmp/run systemd-analyze --user verify /usr/lib/systemd/user/emotune.service 2>&1) || bad=1
  [[ -z $out ]] || { echo "emotune.service: $out"; bad=1; }
  return $bad
}

apt_get_removes_and_purges_it_all() {
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get purge -y -q emotune > "$tmp/apt" 2>&1 ||
    { echo "apt-get purge: exit $?"; tail -5 "$tmp/apt"; return 1; }
  local f left=0
  for f in /usr/bin/emotune /usr/share/emotune /usr/share/man/man1/emotune.1.gz \
           /usr/share/bash-completion/completions/emotune /usr/share/doc/emotune \
           /lib/systemd/system/emotune-system.service /usr/lib/systemd/user/emotune.service; do
    [[ -e $f ]] && { echo "left behind: $f"; left=1; }
  done
  local status; status=$(dpkg-query -W -f='${Status}' emotune 2> /dev/null || true)
  [[ -z $status || $status == *not-installed ]] || { echo "dpkg says: $status"; left=1; }
  return $left
}

echo "[==========] Running ${#checks[@]} test(s)."
for c in "${checks[@]}"; do check "$c" "$c"; done
echo "[==========] ${#checks[@]} test(s) run."
exit "$failures"
