#!/usr/bin/env bash
# The fleet, in one run on three simulated hosts (scripts/fleet.sh): a SpinUp of 30
# instances spread over 3 hosts against the same 30 on one host, and the time from a host's
# worker dying mid-SpinUp to the SpinUp failing with the host's name.
# Needs root, Docker with berth-test-busybox (docker/test-images/build.sh) and the temporal
# CLI (scripts/ensure-test-tools.sh). Everything it starts is removed on exit.
# Usage: bash bench/fleet.sh
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -q --bin berth
target="${CARGO_TARGET_DIR:-target}"
berth="$(realpath "$target/release/berth")"
work="$(mktemp -d)"
name="bench"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  bash scripts/fleet.sh down "$name" >/dev/null 2>&1 || true
  rm -rf "$work"
}
bash scripts/fleet.sh up "$name" 3 berth-test-busybox > "$work/fleet" || { rm -rf "$work"; exit 1; }
# Only once the fleet is this run's own: a fleet of the name made by someone else stays.
trap cleanup EXIT
hosts=($(awk 'NR > 1 {print $1}' "$work/fleet"))
root=$(awk 'NR == 1 {print $2}' "$work/fleet")
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("0.0.0.0", 0)); print(s.getsockname()[1])')
.venv/bin/temporal server start-dev --headless --ip 0.0.0.0 --port "$port" >/dev/null 2>&1 &
pids+=($!)
# Ready once it answers for its namespace; a worker that connects before that gives up.
for _ in $(seq 300); do
  .venv/bin/temporal operator namespace list --address "$root:$port" >/dev/null 2>&1 && break
  sleep 0.2
done
export TEMPORAL_ADDRESS="$root:$port" BERTH_REGISTRY="$work/registry.yaml"
cat > "$BERTH_REGISTRY" <<YAML
environments:
  bench: 0
web:
  port: 20000
  instance_increment: 1
  max_instances: 30
  container:
    image: berth-test-busybox
    command: [httpd, -f, -p, '{port}', -h, /tmp]
    host: 0.0.0.0
slow:
  port: 21000
  container:
    image: berth-test-busybox
    command: [sh, -c, 'sleep 300']
    host: 0.0.0.0
    timeout: 300s
YAML
# start_worker INDEX: the worker of host INDEX (0-based), its pid in worker_pids[INDEX].
worker_pids=()
start_worker() {
  local host=${hosts[$1]}
  mkdir -p "$work/state/$host"
  BERTH_STATE_DIR="$work/state/$host" bash scripts/fleet.sh run "$name" "$host" "$berth" worker \
    --address "$TEMPORAL_ADDRESS" --host-name "$host" --metrics-addr 127.0.0.1:9464 --drift-interval 0s \
    > "$work/worker.$host.log" 2>&1 &
  worker_pids[$1]=$!
  pids+=($!)
}
for index in 0 1 2; do start_worker "$index"; done
for _ in $(seq 120); do
  [ "$("$berth" fleet --format json 2>/dev/null | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["hosts"]))' 2>/dev/null)" = 3 ] && break
  sleep 0.5
done

# timed LABEL COMMAND...: seconds the command took, as a table row.
timed() {
  local label=$1 began ended
  shift
  began=$(date +%s.%N)
  "$@" > "$work/out" 2>&1 || { echo "failed: $label" >&2; cat "$work/out" >&2; exit 1; }
  ended=$(date +%s.%N)
  printf '| %s | %.1f s |\n' "$label" "$(echo "$ended - $began" | bc)"
}
spread=$(IFS=,; echo "${hosts[*]}")
echo "| what | time |"
echo "|---|---:|"
for round in 1 2; do
  timed "SpinUp web:0-29, spread over 3 hosts (round $round)" "$berth" up web:0-29 --env bench --temporal --spread "$spread" --parallel 10 --quiet
  timed "TearDown of the same (round $round)" "$berth" down web:0-29 --env bench --temporal --spread "$spread" --parallel 10
  timed "SpinUp web:0-29 on one host (round $round)" "$berth" up web:0-29 --env bench --temporal --host "${hosts[0]}" --parallel 10 --quiet
  timed "TearDown of the same (round $round)" "$berth" down web:0-29 --env bench --temporal --host "${hosts[0]}" --parallel 10
done

# Host loss: the third host's worker dies while its instance is starting.
"$berth" up "slow:0@${hosts[2]}" "web:0@${hosts[0]}" --env bench --temporal > "$work/loss" 2>&1 &
up=$!
for _ in $(seq 600); do
  bash scripts/fleet.sh run "$name" "${hosts[2]}" docker ps -q --filter name=slow-bench | grep -q . && break
  sleep 0.1
done
kill -9 "${worker_pids[2]}"
killed=$(date +%s.%N)
set +e
wait "$up"
code=$?
set -e
failed=$(date +%s.%N)
grep -q "on ${hosts[2]}" "$work/loss" || { echo "the failure does not name ${hosts[2]}:" >&2; cat "$work/loss" >&2; exit 1; }
printf '| from killing %s'"'"'s worker mid-SpinUp to the SpinUp failing with its name (exit %s) | %.1f s |\n' \
  "${hosts[2]}" "$code" "$(echo "$failed - $killed" | bc)"
grep -m1 "error:" "$work/loss" | cut -c1-200 >&2
