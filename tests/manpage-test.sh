#!/usr/bin/env bash
# Issue 22: `emotune --help` and the manual page come from one source (the
# table of commands in src/cli/main.c and each command's --help) and must not
# drift: every command main.c dispatches is in --help and in the page, every
# option any --help names is in the page, the page renders without a warning
# and names itself for whatis. Prints cmocka's lines, so run-tests.sh counts
# each check. Needs the built binary (EMOTUNE_TEST_BIN, default build/emotune).
set -uo pipefail
cd "$(dirname "$0")/.."
bin=${EMOTUNE_TEST_BIN:-build/emotune}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export LC_ALL=C.UTF-8 MANWIDTH=80 XDG_CONFIG_HOME=$tmp/config
unset EMOTUNE_CONFIG

checks=(the_manual_page_is_made_from_the_binary
        every_command_main_dispatches_is_in_help
        every_command_has_its_own_help
        every_command_is_in_the_manual_page
        every_option_of_every_help_is_in_the_manual_page
        every_environment_variable_of_help_is_in_the_manual_page
        the_manual_page_renders_without_warnings
        the_manual_page_names_itself_for_whatis
        help_tells_of_the_web_page_not_of_an_unbuilt_one
        the_built_manual_page_is_current)
failures=0
check() { # name, then a command that succeeds when the check passes
  local name=$1; shift
  echo "[ RUN      ] $name"
  local rc=0; "$@" || rc=$?
  if ((rc == 77)); then echo "[  SKIPPED ] $name"
  elif ((rc == 0)); then echo "[       OK ] $name"
  else echo "[  FAILED  ] $name"; failures=$((failures+1)); fi
}

page=$tmp/emotune.1
"$bin" --help > "$tmp/help"
# the commands of the table in main.c: its lines {"NAME", "summary", ...
sed -n '/^static const cli_command commands\[\] = {/,/^};/p' src/cli/main.c |
  sed -n 's/^ *{"\([a-z0-9-]*\)", .*/\1/p' > "$tmp/table"
awk '/^commands:$/ { on = 1; next } on && /^$/ { exit } on && /^  [a-z]/ { print $1 }' \
  "$tmp/help" > "$tmp/listed"

the_manual_page_is_made_from_the_binary() {
  scripts/make-man.sh "$bin" man/emotune.1.in > "$page" 2> "$tmp/err" ||
    { echo "make-man.sh failed: $(cat "$tmp/err")"; return 1; }
  man -l "$page" 2> /dev/null | col -bx > "$tmp/page.txt"
  [[ -s $tmp/page.txt ]] || { echo "man -l renders nothing"; return 1; }
}

every_command_main_dispatches_is_in_help() {
  [[ -s $tmp/table ]] || { echo "no command found in src/cli/main.c's table"; return 1; }
  diff <(sort "$tmp/table") <(sort "$tmp/listed") > "$tmp/d" ||
    { echo "main.c's table (<) and emotune --help (>) differ:"; cat "$tmp/d"; return 1; }
}

every_command_has_its_own_help() {
  local c bad=0
  while read -r c; do
    "$bin" "$c" --help > "$tmp/h" 2>&1 || { echo "emotune $c --help: exit $?"; bad=1; continue; }
    grep -q "^usage: emotune $c" "$tmp/h" || { echo "emotune $c --help has no usage line"; bad=1; }
  done < "$tmp/table"
  return $bad
}

every_command_is_in_the_manual_page() {
  local c bad=0
  while read -r c; do
    grep -qx ".SS \"emotune $c\"" "$page" || { echo "no section for emotune $c"; bad=1; }
    grep -q "^   emotune $c\$" "$tmp/page.txt" || { echo "the rendered page has no emotune $c"; bad=1; }
    grep -q "^       emotune $c" "$tmp/page.txt" || { echo "SYNOPSIS lacks emotune $c"; bad=1; }
  done < "$tmp/table"
  return $bad
}

# every -x and --long-option a help text names (items, usage and prose)
options_of() { grep -oE -- '(^|[^A-Za-z0-9_-])--?[A-Za-z][A-Za-z0-9-]*' | sed 's/^[^-]*//' | sort -u; }

every_option_of_every_help_is_in_the_manual_page() {
  local c o bad=0 n=0
  { cat "$tmp/help"; while read -r c; do "$bin" "$c" --help; done < "$tmp/table"; } |
    options_of > "$tmp/options"
  options_of < "$tmp/page.txt" > "$tmp/page-options"
  while read -r o; do
    n=$((n+1))
    grep -qxF -- "$o" "$tmp/page-options" || { echo "the page lacks $o"; bad=1; }
  done < "$tmp/options"
  ((n > 30)) || { echo "only $n options found in the help texts"; return 1; }
  echo "$n options, each in the page"
  return $bad
}

every_environment_variable_of_help_is_in_the_manual_page() {
  local v bad=0
  awk '/^environment:$/ { on = 1; next } on && /^$/ { exit } on && /^  [A-Z]/ { print $1 }' \
    "$tmp/help" > "$tmp/env"
  [[ -s $tmp/env ]] || { echo "emotune --help names no environment variable"; return 1; }
  sed -n '/^ENVIRONMENT$/,/^[A-Z]/p' "$tmp/page.txt" > "$tmp/env-section"
  while read -r v; do
    grep -q "^       $v\$" "$tmp/env-section" || { echo "ENVIRONMENT lacks $v"; bad=1; }
  done < "$tmp/env"
  return $bad
}

the_manual_page_renders_without_warnings() {
  man --warnings -l "$page" 2>&1 > /dev/null | tee "$tmp/warn"
  [[ ! -s $tmp/warn ]]
}

the_manual_page_names_itself_for_whatis() {
  local got; got=$(lexgrog "$page") || { echo "lexgrog: $got"; return 1; }
  [[ $got == *'"emotune - '* ]] || { echo "lexgrog: $got"; return 1; }
}

help_tells_of_the_web_page_not_of_an_unbuilt_one() {
  if grep -qiE 'not built yet|first part' "$tmp/help"; then
    echo "emotune --help still says: $(grep -iE 'not built yet|first part' "$tmp/help")"; return 1
  fi
  grep -q '^  serve .*web page' "$tmp/help" || { echo "serve's summary names no web page"; return 1; }
}

# make's build/emotune.1 (make man, make install) is the page of the binary
# beside it: its rule's prerequisites remake it when a help text changes.
# Skipped for another binary than build/emotune.
the_built_manual_page_is_current() {
  [[ $(realpath "$bin") == "$(realpath build/emotune)" ]] ||
    { echo "$bin is not build/emotune: make's page not compared"; return 77; }
  make -s build/emotune.1 > "$tmp/make.log" 2>&1 || { echo "make build/emotune.1 failed"; return 1; }
  diff build/emotune.1 "$page" > "$tmp/d" || { echo "build/emotune.1 is stale:"; head "$tmp/d"; return 1; }
}

echo "[==========] Running ${#checks[@]} test(s)."
for c in "${checks[@]}"; do check "$c" "$c"; done
echo "[==========] ${#checks[@]} test(s) run."
exit "$failures"
