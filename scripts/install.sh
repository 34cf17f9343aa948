#!/usr/bin/env bash
# Installs berth for the current user: the binary (cargo install, into ~/.cargo/bin), then
# its manual pages and the completions for the user's shell (scripts/install-docs.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo install --locked --path .
bash scripts/install-docs.sh "${CARGO_INSTALL_ROOT:-${CARGO_HOME:-$HOME/.cargo}}/bin/berth"
