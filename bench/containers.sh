#!/usr/bin/env bash
# 10 instances up and down: berth concurrent vs berth sequential (--parallel 1), side by
# side with docker-compose up -d / down of the file `berth export compose` writes for the
# same 10 containers. berth's up waits until each instance answers on its port (TCP to the
# container); `docker-compose up -d` returns once the containers are started.
# Needs the test images (bash docker/test-images/build.sh) and hyperfine.
# Usage: bash bench/containers.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}

command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine; }
bash scripts/ensure-docker.sh
bash docker/test-images/build.sh
cargo build --release -q
berth=$PWD/target/release/berth
work=$(mktemp -d)
trap '"$berth" --registry "$work/registry.yaml" down web:0-9 --volumes >/dev/null 2>&1 || true; docker-compose -f "$work/compose.yaml" -p berthbench down -v >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

cat > "$work/registry.yaml" <<'YAML'
environments:
  bench: 0
web:
  port: 27100
  instance_increment: 1
  max_instances: 10
  container:
    image: berth-test-busybox
    command: [httpd, -f, -p, '{port}', -h, /tmp]
    volumes:
      data: /data
YAML
export BERTH_STATE_DIR=$work/state
b="$berth --registry $work/registry.yaml"
$b export compose web:0-9 -o "$work/compose.yaml"
compose="docker-compose -f $work/compose.yaml -p berthbench"

# --prepare runs before every timed run: each up starts from no containers.
clean="$b down web:0-9 >/dev/null 2>&1; $compose down >/dev/null 2>&1"
hyperfine --runs "$runs" --export-json "$work/up.json" --prepare "$clean" \
  -n "berth up (concurrent)" "$b up web:0-9 --parallel 10" \
  -n "berth up (sequential)" "$b up web:0-9 --parallel 1" \
  -n "docker-compose up -d" "$compose up -d" >/dev/null 2>&1
hyperfine --runs "$runs" --export-json "$work/down.json" \
  -n "berth down (concurrent)" --prepare "$b up web:0-9 --parallel 10 >/dev/null 2>&1" "$b down web:0-9 --parallel 10" \
  -n "berth down (sequential)" --prepare "$b up web:0-9 --parallel 10 >/dev/null 2>&1" "$b down web:0-9 --parallel 1" \
  -n "docker-compose down" --prepare "$compose up -d >/dev/null 2>&1" "$compose down" >/dev/null 2>&1

python3 - "$work/up.json" "$work/down.json" <<'PY'
import json, sys
print("| command | median | mean | min | max |")
print("|---|---:|---:|---:|---:|")
medians = {}
for name in sys.argv[1:]:
    for r in json.load(open(name))["results"]:
        medians[r["command"]] = r["median"]
        print(f"| {r['command']} | {r['median']:.2f} s | {r['mean']:.2f} s | {r['min']:.2f} s | {r['max']:.2f} s |")
for verb in ("up", "down"):
    c, s = medians[f"berth {verb} (concurrent)"], medians[f"berth {verb} (sequential)"]
    print(f"{verb}: concurrent/sequential = {c / s:.2f}; berth concurrent / compose = {c / medians[f'docker-compose {verb}' + (' -d' if verb == 'up' else '')]:.2f}")
PY
