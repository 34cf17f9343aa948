#!/usr/bin/env bash
# Installs what goes with a berth binary for the current user: the manual pages (berth.1 and
# one per command) in $XDG_DATA_HOME/man/man1, and the completions for $SHELL where that
# shell finds them. Prints every path it writes.
#   usage: install-docs.sh PATH-TO-BERTH
set -euo pipefail
berth="${1:?usage: install-docs.sh PATH-TO-BERTH}"
data="${XDG_DATA_HOME:-$HOME/.local/share}"
"$berth" man --dir "$data/man/man1"
case "$(basename "${SHELL:-bash}")" in
  bash)
    target="$data/bash-completion/completions/berth"
    mkdir -p "$(dirname "$target")"
    "$berth" completions bash > "$target"
    echo "wrote $target (bash-completion loads it; without that package: source it from ~/.bashrc)"
    ;;
  fish)
    target="${XDG_CONFIG_HOME:-$HOME/.config}/fish/completions/berth.fish"
    mkdir -p "$(dirname "$target")"
    "$berth" completions fish > "$target"
    echo "wrote $target"
    ;;
  zsh)
    echo "zsh: add 'source <(berth completions zsh)' to ~/.zshrc for completions"
    ;;
  *)
    echo "no completions installed for $SHELL: see 'berth completions --help'"
    ;;
esac
case ":${MANPATH:-}:" in
  *":$data/man:"*) ;;
  *) echo "man finds these pages through ~/.local/bin on PATH or MANPATH=$data/man:\$MANPATH" ;;
esac
