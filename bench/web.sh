#!/usr/bin/env bash
# The web view and /metrics under load, in one run:
#   - the port map page (and /api/map) for the shipped registry and for a 2,000-service
#     registry, with 1,000 leases in the ledger: server time and page weight;
#   - the worker's /metrics scrape with those 1,000 leases and 100 running instances
#     (4 services x 25 instances).
# Needs Docker with berth-test-busybox (docker/test-images/build.sh) and the temporal CLI
# (scripts/ensure-test-tools.sh). Everything it starts is removed on exit.
# Usage: bash bench/web.sh [requests per figure, default 50]
set -euo pipefail
cd "$(dirname "$0")/.."
requests="${1:-50}"

cargo build --release -q --bin berth
target="${CARGO_TARGET_DIR:-target}"
berth="$(realpath "$target/release/berth")"
work="$(mktemp -d)"
pids=()
environment="bench$$"
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  BERTH_REGISTRY="$work/instances.yaml" BERTH_STATE_DIR="$work/state" \
    "$berth" down web:0-24 api:0-24 db:0-24 cache:0-24 --env "$environment" --parallel 10 >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
export BERTH_STATE_DIR="$work/state"

python3 - "$work/large.yaml" <<'PY'
import sys
with open(sys.argv[1], "w") as out:
    for index in range(2000):
        out.write(f"s{index}:\n  port: {10000 + index * 2}\n  max_instances: 1\n")
PY
# 100 instances as 4 services x 25: each instance's stack has a network of its own, and
# Docker's default address pools hold about 30 networks.
{
  echo "environments:"
  echo "  $environment: 0"
  base=46000
  for service in web api db cache; do
    base=$((base + 100))
    printf '%s:\n  port: %s\n  instance_increment: 1\n  max_instances: 25\n' "$service" "$base"
    printf "  container:\n    image: berth-test-busybox\n    command: [httpd, -f, -p, '{port}', -h, /tmp]\n"
  done
} > "$work/instances.yaml"
"$berth" alloc --project bench --service filler --count 1000 --range 50000-52000 >/dev/null

# serve REGISTRY NAME: starts `berth serve` on a free port; its address is then in $address.
serve() {
  "$berth" --registry "$1" serve --addr 127.0.0.1:0 --drift-interval 0s >/dev/null 2> "$work/serve.$2" &
  pids+=($!)
  address=""
  for _ in $(seq 100); do
    address=$(sed -n 's#.*http://\([^/]*\)/.*#\1#p' "$work/serve.$2")
    [ -n "$address" ] && return
    sleep 0.1
  done
  echo "berth serve did not start: $(cat "$work/serve.$2")" >&2
  exit 1
}

# measure LABEL URL...: median and p95 time of $requests GETs of each URL as a browser asks
# (gzip accepted), the body's bytes plain and gzipped, and the time of a poll of the page's
# fragment that the server answers 304 (unchanged, ETag) where the URL is a page.
measure() {
  python3 - "$requests" "$@" <<'PY'
import statistics, sys, time, urllib.error, urllib.request
count, label, urls = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
def timed(url, headers):
    times, body, answer = [], b"", None
    for _ in range(count):
        began = time.perf_counter()
        try:
            answer = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60)
            body = answer.read()
        except urllib.error.HTTPError as unchanged:
            answer, body = unchanged, b""
        times.append(time.perf_counter() - began)
    times.sort()
    return statistics.median(times) * 1000, times[int(len(times) * 0.95) - 1] * 1000, body, answer
for url in urls:
    path = "/" + url.split("/", 3)[3]
    plain = urllib.request.urlopen(url, timeout=60).read()
    median, p95, zipped, answer = timed(url, {"Accept-Encoding": "gzip"})
    print(f"| {label} | `{path}` | {median:.1f} ms | {p95:.1f} ms | {len(plain) / 1024:.1f} KiB | {len(zipped) / 1024:.1f} KiB |")
    tag = answer.headers.get("ETag")
    if tag:
        fragment = url + "?fragment=1"
        tag = urllib.request.urlopen(fragment, timeout=60).headers.get("ETag")
        median, p95, _, answer = timed(fragment, {"If-None-Match": tag})
        print(f"| {label} | `{path}?fragment=1`, unchanged ({answer.status if hasattr(answer, 'status') else answer.code}) | {median:.1f} ms | {p95:.1f} ms | 0 | 0 |")
PY
}

echo "| registry | path | median | p95 | bytes | gzip |"
echo "|---|---|---:|---:|---:|---:|"
serve dynamicconfig/port_registry.yaml shipped
shipped=$address
measure "shipped (134 slots), 1,000 leases" "http://$shipped/" "http://$shipped/api/map"
serve "$work/large.yaml" large
large=$address
measure "2,000 services, 1,000 leases" "http://$large/" "http://$large/api/map"
for asset in berth.css berth.js berth.svg; do
  printf '| assets | `/static/%s` | | | %s bytes | |\n' "$asset" "$(curl -s "http://$shipped/static/$asset" | wc -c)"
done

BERTH_REGISTRY="$work/instances.yaml" "$berth" up web:0-24 api:0-24 db:0-24 cache:0-24 --env "$environment" --parallel 10 --quiet >/dev/null
temporal_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
.venv/bin/temporal server start-dev --headless --ip 127.0.0.1 --port "$temporal_port" \
  --db-filename "$work/temporal.db" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 300); do
  (exec 3<>"/dev/tcp/127.0.0.1/$temporal_port") 2>/dev/null && break
  sleep 0.1
done
BERTH_REGISTRY="$work/instances.yaml" "$berth" worker --address "127.0.0.1:$temporal_port" \
  --metrics-addr 127.0.0.1:19464 --sdk-metrics-addr 127.0.0.1:19465 --drift-interval 0s >/dev/null 2>"$work/worker.log" &
pids+=($!)
for _ in $(seq 300); do
  [ "$(curl -s 127.0.0.1:19464/healthz)" = "ok" ] && break
  sleep 0.1
done
running=$(curl -s 127.0.0.1:19464/metrics | awk '/^berth_running_instances\{service="(web|api|db|cache)"/ {sum += $2} END {print sum}')
leases=$(curl -s 127.0.0.1:19464/metrics | awk '/^berth_ledger_leases[ {]/ {print $2}')
echo
echo "worker /metrics with $leases leases and $running running instances:"
echo "| registry | path | median | p95 | bytes | gzip |"
echo "|---|---|---:|---:|---:|---:|"
measure "100 instances, $leases leases" "http://127.0.0.1:19464/metrics"
