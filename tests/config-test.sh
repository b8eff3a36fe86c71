#!/usr/bin/env bash
# Issue 22: the settings file as the commands use it. Where it is looked for
# ($EMOTUNE_CONFIG or --config, else $XDG_CONFIG_HOME/emotune/config), the
# precedence option > environment > file > default (seen in what the
# commands do, not only in what `emotune config` says), serve's settings
# without a variable (listen, music), a bad line stopping every command
# before it does anything, and the token never printed. Prints cmocka's
# lines, so run-tests.sh counts each check. Needs the binary (EMOTUNE_TEST_BIN)
# and ffmpeg.
set -uo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${EMOTUNE_TEST_BIN:-build/emotune}")
tmp=$(mktemp -d)
serve_pid=
trap '[[ -n $serve_pid ]] && kill "$serve_pid" 2> /dev/null; rm -rf "$tmp"' EXIT
unset EMOTUNE_CONFIG EMOTUNE_STORE EMOTUNE_LISTENER EMOTUNE_TOKEN EMOTUNE_WEB
export XDG_CONFIG_HOME=$tmp/xdg XDG_DATA_HOME=$tmp/data
conf=$tmp/xdg/emotune/config
mkdir -p "$tmp/xdg/emotune" "$tmp/music"
ffmpeg -nostdin -loglevel error -f lavfi -i "sine=frequency=330:duration=3" -c:a flac \
  "$tmp/music/tone.flac" || echo "ffmpeg could not make the test tone"

checks=(without_a_file_every_setting_is_its_default
        the_file_in_xdg_config_home_is_read_and_used
        the_environment_wins_over_the_file
        an_option_wins_over_the_environment_and_the_file
        serve_takes_listen_and_music_from_the_file
        a_bad_line_stops_every_command_before_it_starts
        a_named_file_must_exist
        the_token_is_never_printed)
failures=0
check() {
  local name=$1; shift
  echo "[ RUN      ] $name"
  rm -f "$conf"
  if "$@"; then echo "[       OK ] $name"; else echo "[  FAILED  ] $name"; failures=$((failures+1)); fi
}

# the source of one setting in `emotune config --json`
source_of() { # key
  "$bin" config --json | python3 -c '
import json, sys
doc = json.load(sys.stdin)
print(" ".join("%s:%s=%s" % (s["source"], s.get("line", ""), s["value"])
               for s in doc["settings"] if s["key"] == sys.argv[1]))' "$1"
}

scan_into() { # store option or nothing
  "$bin" scan --json --jobs 1 "$@" "$tmp/music" > "$tmp/scan" 2> "$tmp/scan.err" ||
    { echo "scan: exit $?: $(tail -2 "$tmp/scan.err")"; return 1; }
}

without_a_file_every_setting_is_its_default() {
  "$bin" config --json > "$tmp/c" || return 1
  python3 - "$tmp/c" "$conf" <<'PY' || return 1
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["file"] == sys.argv[2] and doc["file_found"] is False, doc
assert {s["source"] for s in doc["settings"]} == {"default"}, doc
keys = [s["key"] for s in doc["settings"]]
assert keys == ["store", "listener", "models", "web", "token", "cpu", "listen", "music"], keys
PY
}

the_file_in_xdg_config_home_is_read_and_used() {
  printf '# test\nstore = lmdb:%s/file-store\n' "$tmp" > "$conf"
  [[ $(source_of store) == "$conf:2=lmdb:$tmp/file-store" ]] || { echo "config: $(source_of store)"; return 1; }
  scan_into && [[ -f $tmp/file-store/data.mdb ]] || { echo "scan did not use the file's store"; return 1; }
}

the_environment_wins_over_the_file() {
  printf 'store = lmdb:%s/file-store2\n' "$tmp" > "$conf"
  export EMOTUNE_STORE=lmdb:$tmp/env-store
  local got; got=$(source_of store)
  scan_into; local rc=$?
  unset EMOTUNE_STORE
  [[ $got == "environment EMOTUNE_STORE:=lmdb:$tmp/env-store" ]] || { echo "config: $got"; return 1; }
  ((rc == 0)) && [[ -f $tmp/env-store/data.mdb && ! -e $tmp/file-store2 ]] ||
    { echo "scan did not use the environment's store alone"; return 1; }
}

an_option_wins_over_the_environment_and_the_file() {
  printf 'store = lmdb:%s/file-store3\n' "$tmp" > "$conf"
  EMOTUNE_STORE=lmdb:$tmp/env-store3 scan_into --store "lmdb:$tmp/opt-store" || return 1
  [[ -f $tmp/opt-store/data.mdb && ! -e $tmp/env-store3 && ! -e $tmp/file-store3 ]] ||
    { echo "scan did not use the option's store alone"; return 1; }
}

serve_takes_listen_and_music_from_the_file() {
  printf 'listen = 127.0.0.1:0\nmusic = %s\nstore = lmdb:%s/serve-store\n' "$tmp/music" "$tmp" > "$conf"
  mkfifo "$tmp/out"
  "$bin" serve > "$tmp/out" 2> "$tmp/serve.err" &
  serve_pid=$!
  local line port bad=0
  exec 3< "$tmp/out"
  read -r line <&3 || { echo "serve said nothing: $(tail -3 "$tmp/serve.err")"; return 1; }
  port=${line##*:}
  [[ $line == "emotune: listening on http://127.0.0.1:"* && $port =~ ^[0-9]+$ && $port != 8080 ]] ||
    { echo "serve said: $line"; bad=1; }
  curl -sf "http://127.0.0.1:$port/api/v1/library/scan" > "$tmp/scan-state" &&
    grep -q '"folders":\["music"\]' "$tmp/scan-state" || { echo "scan state: $(cat "$tmp/scan-state")"; bad=1; }
  kill -TERM "$serve_pid"; wait "$serve_pid"; serve_pid=; exec 3<&-
  # the command line's --listen wins over the file's (a bad one here)
  printf 'listen = not-an-address\n' > "$conf"
  rm -f "$tmp/out"; mkfifo "$tmp/out"
  "$bin" serve --listen 127.0.0.1:0 --store "lmdb:$tmp/serve-store" > "$tmp/out" 2> "$tmp/serve.err" &
  serve_pid=$!
  exec 3< "$tmp/out"
  read -r line <&3 || { echo "serve --listen lost to the file: $(tail -2 "$tmp/serve.err")"; bad=1; }
  kill -TERM "$serve_pid"; wait "$serve_pid"; serve_pid=; exec 3<&-
  return $bad
}

a_bad_line_stops_every_command_before_it_starts() {
  printf 'store = lmdb:%s/never\n\nmusic /srv/music\n' "$tmp" > "$conf"
  local c rc bad=0
  for c in "scan $tmp/music" tracks "serve --listen 127.0.0.1:0" version "detect x.jpg"; do
    # shellcheck disable=SC2086
    "$bin" $c > /dev/null 2> "$tmp/err"; rc=$?
    ((rc == 3)) || { echo "emotune $c: exit $rc, not 3"; bad=1; }
    grep -qx "emotune: settings file $conf: line 3: not KEY = VALUE (no '=')" "$tmp/err" ||
      { echo "emotune $c said: $(cat "$tmp/err")"; bad=1; }
  done
  [[ ! -e $tmp/never ]] || { echo "a command ran: the store was made"; bad=1; }
  "$bin" config > /dev/null 2>&1; rc=$?
  ((rc == 3)) || { echo "emotune config: exit $rc"; bad=1; }
  return $bad
}

a_named_file_must_exist() {
  local rc bad=0
  EMOTUNE_CONFIG=$tmp/missing "$bin" tracks > /dev/null 2> "$tmp/err"; rc=$?
  ((rc == 3)) && grep -q "$tmp/missing: No such file" "$tmp/err" || { echo "EMOTUNE_CONFIG: exit $rc"; bad=1; }
  "$bin" --config "$tmp/missing" tracks > /dev/null 2>&1; rc=$?
  ((rc == 3)) || { echo "--config: exit $rc"; bad=1; }
  printf 'listener = ann\n' > "$tmp/other"
  [[ $("$bin" --config "$tmp/other" config --json) == *'"key":"listener","value":"ann","source":"'"$tmp/other"'","line":1'* ]] ||
    { echo "--config FILE was not read"; bad=1; }
  "$bin" --config > /dev/null 2>&1; rc=$?
  ((rc == 2)) || { echo "--config without a file: exit $rc"; bad=1; }
  return $bad
}

the_token_is_never_printed() {
  printf 'token = s3cret-s3cret-s3cret\n' > "$conf"
  local out; out=$("$bin" config; "$bin" config --json)
  [[ $out != *s3cret* ]] || { echo "the token was printed"; return 1; }
  [[ $out == *"(set, 20 characters)"* ]] || { echo "config: $out"; return 1; }
}

echo "[==========] Running ${#checks[@]} test(s)."
for c in "${checks[@]}"; do check "$c" "$c"; done
echo "[==========] ${#checks[@]} test(s) run."
exit "$failures"
