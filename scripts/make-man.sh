#!/usr/bin/env bash
# Writes emotune's manual page (troff, man macros) to stdout, from the built
# binary's help texts and the hand-written part:
#   scripts/make-man.sh BIN man/emotune.1.in > build/emotune.1
# `BIN --help` gives the synopsis, the commands (each with its one-line
# summary) and the OPTIONS, ENVIRONMENT and EXIT STATUS sections; each
# command's `BIN COMMAND --help` is printed whole under COMMANDS and its usage
# lines under SYNOPSIS. So a command added to the table in src/cli/main.c,
# with its --help in its own file, is in the page without touching it. The
# date is $SOURCE_DATE_EPOCH's (set by dpkg-buildpackage), else the last
# commit's, else today's, so the same sources give the same page.
set -euo pipefail
(($# == 2)) || { echo "usage: $0 BIN HAND_SOURCE" >&2; exit 2; }
bin=$1 src=$2
export LC_ALL=C
# the commands read a settings file: not this user's, whatever it holds
unset EMOTUNE_CONFIG
export XDG_CONFIG_HOME=/nonexistent/emotune-make-man

help=$("$bin" --help)
version=$("$bin" --version | awk '{ print $2 }')
[[ -n $version ]] || { echo "make-man: $bin --version says nothing" >&2; exit 1; }
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$(dirname "$src")" log -1 --format=%ct 2>/dev/null || date +%s)}
day=$(date -u -d "@$epoch" +%Y-%m-%d)

# The commands, as `emotune --help` lists them (its "commands:" section).
mapfile -t commands < <(awk '/^commands:$/ { on = 1; next } on && /^$/ { exit }
                             on && /^  [a-z]/ { print $1 }' <<< "$help")
((${#commands[@]})) || { echo "make-man: $bin --help lists no commands" >&2; exit 1; }

# troff's special characters: a backslash, a minus (an option's dash), and a
# line starting with a dot or an apostrophe (it would be a request).
ESC='function esc(s) {
       gsub(/\\/, "\\e", s); gsub(/-/, "\\-", s)
       if (s ~ /^[.\047]/) s = "\\&" s
       return s
     }'

# One section of a help text ("HEADER:" then items "  TAG  text", deeper
# lines continuing the item) as tagged paragraphs.
items() { # header, text
  awk -v header="$1" "$ESC"'
    function flush() { if (tag != "") printf ".TP\n.B %s\n%s\n", esc(tag), esc(text); tag = "" }
    $0 == header { on = 1; next }
    !on { next }
    /^$/ { exit }
    /^  [^ ]/ {
      flush(); line = substr($0, 3)
      if (match(line, /  +/)) { tag = substr(line, 1, RSTART - 1); text = substr(line, RSTART + RLENGTH) }
      else { tag = line; text = "" }
      next
    }
    { sub(/^ +/, ""); text = text " " $0 }
    END { flush() }' <<< "$2"
}

# A help text's usage lines (up to its first blank line), "usage: " removed.
usage_lines() {
  awk "$ESC"'/^$/ { exit } { if (NR == 1) sub(/^usage: /, ""); else sub(/^       /, ""); print esc($0) }' <<< "$1"
}

# A whole help text as it prints, in a block without filling.
verbatim() {
  printf '.PP\n.nf\n'
  awk "$ESC"'{ print esc($0) }' <<< "$1"
  printf '.fi\n'
}

synopsis() {
  printf '.nf\n'
  usage_lines "$help"
  for c in "${commands[@]}"; do usage_lines "$("$bin" "$c" --help)"; done
  printf '.fi\n'
}

commands_section() {
  items "commands:" "$help"
  for c in "${commands[@]}"; do
    local text
    text=$("$bin" "$c" --help) || { echo "make-man: $bin $c --help failed" >&2; exit 1; }
    printf '.SS "emotune %s"\n' "$c"
    verbatim "$text"
  done
}

while IFS= read -r line; do
  case $line in
    @TH@) printf '.TH EMOTUNE 1 "%s" "emotune %s" "User Commands"\n' "$day" "$version" ;;
    @SYNOPSIS@) synopsis ;;
    @COMMANDS@) commands_section ;;
    @OPTIONS@) items "options:" "$help" ;;
    @ENVIRONMENT@) items "environment:" "$help" ;;
    @EXIT_STATUS@) items "exit status:" "$help" ;;
    @*@) echo "make-man: unknown placeholder $line" >&2; exit 1 ;;
    *) printf '%s\n' "$line" ;;
  esac
done < "$src"
