#!/usr/bin/env bash
# Runs every check and test berth has: formatting, lints, unit, integration and CLI tests.
# This is the README's test command and what .ci/run runs; it installs what the tests need.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== Docker engine, test images, temporal CLI, promtool"
bash scripts/ensure-docker.sh
bash scripts/ensure-test-tools.sh
bash docker/test-images/build.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== cargo test"
cargo test --workspace --all-targets --locked
