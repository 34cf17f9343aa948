#!/usr/bin/env bash
# Ledger allocation throughput and latency, berth's SQLite ledger side by side with the
# seeds' approach (a JSON file rewritten under a file lock per allocation), with 1 and 8
# processes, at 100 and 10,000 existing leases. Every configuration allocates TOTAL ports
# and checks that none was handed out twice.
# Usage: bash bench/ledger_throughput.sh [TOTAL]
set -euo pipefail
cd "$(dirname "$0")/.."
total=${1:-2000}

cargo build --release -q --example ledger_load
load=target/release/examples/ledger_load
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

printf '| store | existing leases | processes | allocations/s | p50 | p99 | duplicates |\n|---|---:|---:|---:|---:|---:|---:|\n'
for existing in 100 10000; do
  for mode in berth json; do
    for processes in 1 8; do
      dir="$work/$mode-$existing-$processes"
      mkdir -p "$dir"
      "$load" preload --mode "$mode" --dir "$dir" --leases "$existing"
      per=$((total / processes))
      start=$(date +%s.%N)
      for worker in $(seq 1 "$processes"); do
        "$load" run --mode "$mode" --dir "$dir" --count "$per" --worker "$worker" --latencies "$dir/latency-$worker" &
      done
      wait
      end=$(date +%s.%N)
      python3 - "$mode" "$existing" "$processes" "$start" "$end" "$dir"/latency-* <<'PY'
import sys
mode, existing, processes, start, end, *files = sys.argv[1:]
ports, micros = [], []
for name in files:
    for line in open(name):
        port, latency = line.split()
        ports.append(int(port)); micros.append(int(latency))
micros.sort()
pick = lambda q: micros[min(len(micros) - 1, int(q * len(micros)))]
rate = len(micros) / (float(end) - float(start))
dupes = len(ports) - len(set(ports))
label = "berth (SQLite WAL)" if mode == "berth" else "JSON file + flock (seeds)"
print(f"| {label} | {existing} | {processes} | {rate:,.0f} | {pick(0.5)/1000:.2f} ms | {pick(0.99)/1000:.2f} ms | {dupes} |")
PY
    done
  done
done
