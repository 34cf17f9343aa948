#!/usr/bin/env bash
# Whether undo-on-failure costs a successful `berth up` anything: 10 instances up (and
# down) with this checkout's berth, side by side in one hyperfine run with the berth of a
# baseline revision that had no journal, no ownership checks and no undo.
# Needs the test images (bash docker/test-images/build.sh) and hyperfine.
# Usage: bash bench/rollback_cost.sh BASELINE_REV [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
baseline_rev=${1:?usage: bash bench/rollback_cost.sh BASELINE_REV [RUNS]}
runs=${2:-10}

command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine; }
bash scripts/ensure-docker.sh
bash docker/test-images/build.sh
work=$(mktemp -d)
# The baseline builds in a worktree with a target directory of its own (kept for the next
# run): sharing this checkout's would let one build take the other's crates of the same name.
git worktree add -q --detach "$work/baseline" "$baseline_rev"
trap 'git worktree remove --force "$work/baseline" || true; docker rm -f $(docker ps -aq --filter label=io.berth.env=rollbackbench) >/dev/null 2>&1 || true; docker volume rm $(docker volume ls -q --filter label=io.berth.env=rollbackbench) >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
cargo build --release -q --manifest-path "$work/baseline/Cargo.toml" --target-dir "$PWD/target/baseline"
cp target/baseline/release/berth "$work/baseline-berth"
cargo build --release -q
cp target/release/berth "$work/current"

cat > "$work/registry.yaml" <<'YAML'
environments:
  rollbackbench: 0
web:
  port: 27300
  instance_increment: 1
  max_instances: 10
  container:
    image: berth-test-busybox
    command: [httpd, -f, -p, '{port}', -h, /tmp]
    volumes:
      data: /data
YAML
# Each binary keeps its own ledger: the baseline cannot open a ledger of a newer schema.
baseline="env BERTH_STATE_DIR=$work/baseline-state $work/baseline-berth --registry $work/registry.yaml"
current="env BERTH_STATE_DIR=$work/state $work/current --registry $work/registry.yaml"
clean="docker rm -f \$(docker ps -aq --filter label=io.berth.env=rollbackbench) >/dev/null 2>&1 || true"
hyperfine --runs "$runs" --export-json "$work/up.json" --prepare "$clean" \
  -n "berth up, baseline $baseline_rev" "$baseline up web:0-9 --parallel 10" \
  -n "berth up, this checkout" "$current up web:0-9 --parallel 10" >/dev/null
hyperfine --runs "$runs" --export-json "$work/down.json" \
  -n "berth down, baseline $baseline_rev" --prepare "$baseline up web:0-9 --parallel 10 >/dev/null 2>&1" "$baseline down web:0-9 --parallel 10" \
  -n "berth down, this checkout" --prepare "$current up web:0-9 --parallel 10 >/dev/null 2>&1" "$current down web:0-9 --parallel 10" >/dev/null

python3 - "$work/up.json" "$work/down.json" <<'PY'
import json, sys
print("| command | median | mean | min | max |")
print("|---|---:|---:|---:|---:|")
for name in sys.argv[1:]:
    results = json.load(open(name))["results"]
    for r in results:
        print(f"| {r['command']} | {r['median']:.2f} s | {r['mean']:.2f} s | {r['min']:.2f} s | {r['max']:.2f} s |")
    print(f"this checkout / baseline: {results[1]['median'] / results[0]['median']:.2f}")
PY
