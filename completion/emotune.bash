# bash completion for emotune. The commands come from `emotune --help` and
# each command's options from `emotune COMMAND --help`, so it follows the
# binary it completes for.
_emotune() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
  local bin=${COMP_WORDS[0]} cmd="" i
  for ((i = 1; i < COMP_CWORD; i++)); do
    if [[ ${COMP_WORDS[i]} != -* ]]; then cmd=${COMP_WORDS[i]}; break; fi
  done
  COMPREPLY=()
  if [[ -z $cmd ]]; then
    if [[ $cur == -* ]]; then
      mapfile -t COMPREPLY < <(compgen -W '--verbose --help --version' -- "$cur")
    else
      mapfile -t COMPREPLY < <(compgen -W "$("$bin" --help 2> /dev/null |
        awk '/^commands:$/ { on = 1; next } on && /^$/ { exit } on && /^  [a-z]/ { print $1 }')" \
        -- "$cur")
    fi
    return
  fi
  case $prev in
    --music | --models | --web) mapfile -t COMPREPLY < <(compgen -d -- "$cur"); return ;;
  esac
  if [[ $cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$("$bin" "$cmd" --help 2> /dev/null |
      grep -oE -- '--[a-z][a-z0-9-]*' | sort -u)" -- "$cur")
  else
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")
  fi
}
complete -o filenames -o bashdefault -F _emotune emotune
