#!/usr/bin/env bash
# Orchestration overhead: SpinUp of 10 instances through Temporal (dev server + berth
# worker on this host) vs `berth up` of the same 10 directly, side by side in one run;
# then 100 sequential one-instance SpinUp/TearDown workflows with p50/p99 latency.
# Needs the test images, the temporal CLI (scripts/ensure-test-tools.sh) and hyperfine.
# Usage: bash bench/temporal.sh [RUNS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
rounds=${2:-100}

command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine; }
bash scripts/ensure-docker.sh
bash docker/test-images/build.sh
bash scripts/ensure-test-tools.sh
cargo build --release -q --bin berth --example workflow_latency
berth=$PWD/target/release/berth
work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
ui_port=$(free_port)
address=127.0.0.1:$port

cat > "$work/registry.yaml" <<'YAML'
environments:
  bench: 0
web:
  port: 27300
  instance_increment: 1
  max_instances: 10
  container:
    image: berth-test-busybox
    command: [httpd, -f, -p, '{port}', -h, /tmp]
YAML
export BERTH_REGISTRY=$work/registry.yaml BERTH_STATE_DIR=$work/state

.venv/bin/temporal server start-dev --headless --ip 127.0.0.1 --port "$port" --ui-port "$ui_port" --log-level error >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; "$berth" down web:0-9 --volumes >/dev/null 2>&1; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do .venv/bin/temporal operator namespace list --address "$address" >/dev/null 2>&1 && break; sleep 0.2; done
"$berth" worker --address "$address" --metrics-addr 127.0.0.1:0 --grace 1s >"$work/worker.log" 2>&1 &
worker=$!
trap 'kill $worker $server 2>/dev/null; "$berth" down web:0-9 --volumes >/dev/null 2>&1; rm -rf "$work"' EXIT
sleep 2
kill -0 $worker || { cat "$work/worker.log"; exit 1; }

hyperfine --runs "$runs" --export-json "$work/spinup.json" --prepare "$berth down web:0-9 >/dev/null 2>&1" \
  -n "berth up (direct)" "$berth up web:0-9 --parallel 10" \
  -n "berth up --temporal (SpinUp)" "$berth up web:0-9 --temporal $address" >/dev/null 2>&1
"$berth" down web:0-9 >/dev/null 2>&1
target/release/examples/workflow_latency --address "$address" --spec web:0 --rounds "$rounds" > "$work/latency.txt"

python3 - "$work/spinup.json" "$work/latency.txt" <<'PY'
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
print("| command | median | mean | min | max |")
print("|---|---:|---:|---:|---:|")
for name, r in results.items():
    print(f"| {name} | {r['median']:.2f} s | {r['mean']:.2f} s | {r['min']:.2f} s | {r['max']:.2f} s |")
direct, temporal = results["berth up (direct)"]["median"], results["berth up --temporal (SpinUp)"]["median"]
print(f"overhead: {100 * (temporal - direct) / direct:.1f} %")
samples = {"spinup": [], "teardown": []}
for line in open(sys.argv[2]):
    kind, ms = line.split()
    samples[kind].append(float(ms))
print("| workflow | runs | p50 | p99 | max |")
print("|---|---:|---:|---:|---:|")
for kind, values in samples.items():
    values.sort()
    pick = lambda q: values[min(len(values) - 1, int(q * len(values)))]
    print(f"| {kind} | {len(values)} | {pick(0.5):.0f} ms | {pick(0.99):.0f} ms | {values[-1]:.0f} ms |")
PY
