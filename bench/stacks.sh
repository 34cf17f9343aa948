#!/usr/bin/env bash
# Stacks and pulls, each side by side in one run:
#  1. `berth up` of 3 copies of a 3-service stack (db <- app <- proxy, wired by name, each
#     waiting for its dependency) vs `docker-compose up -d` of the file `berth export
#     compose` writes for the same 9 containers, with its networks and depends_on;
#  2. pulling one image (a fresh 20 MB layer, from a real registry on loopback) for 10
#     instances: `berth up` with the image missing (pull + 10 starts) vs `docker pull` of it
#     followed by `berth up` with the image present; the registry's log counts the pulls.
# Needs the test images (bash docker/test-images/build.sh), docker-registry and hyperfine.
# Usage: bash bench/stacks.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}

command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine; }
bash scripts/ensure-docker.sh
bash docker/test-images/build.sh
bash scripts/ensure-test-tools.sh >/dev/null
cargo build --release -q
berth=$PWD/target/release/berth
work=$(mktemp -d)
registry_pid=
cleanup() {
  "$berth" --registry "$work/stack.yaml" down trio:0-2 --volumes >/dev/null 2>&1 || true
  "$berth" --registry "$work/pull.yaml" down web:0-9 >/dev/null 2>&1 || true
  docker-compose -f "$work/compose.yaml" -p berthstack down -v >/dev/null 2>&1 || true
  [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null || true
  docker rmi -f "${image:-none}" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
export BERTH_STATE_DIR=$work/state

# 1. A three-service stack, three copies.
cat > "$work/stack.yaml" <<'YAML'
environments:
  benchstack: 0
stacks:
  trio: [db, app, proxy]
db:
  port: 27300
  instance_increment: 1
  max_instances: 3
  container:
    image: berth-test-busybox
    command: [httpd, -f, -p, '{port}', -h, /tmp]
app:
  port: 27310
  instance_increment: 1
  max_instances: 3
  container:
    image: berth-test-busybox
    depends_on: [db]
    env:
      DB: '{db.port.address}'
    command: [httpd, -f, -p, '{port}', -h, /tmp]
proxy:
  port: 27320
  instance_increment: 1
  max_instances: 3
  container:
    image: berth-test-busybox
    depends_on: [app]
    env:
      APP: '{app.port.address}'
    command: [httpd, -f, -p, '{port}', -h, /tmp]
YAML
b="$berth --registry $work/stack.yaml"
$b export compose trio:0-2 -o "$work/compose.yaml"
compose="docker-compose -f $work/compose.yaml -p berthstack"
clean="$b down trio:0-2 >/dev/null 2>&1; $compose down >/dev/null 2>&1"
hyperfine --runs "$runs" --export-json "$work/stack.json" --prepare "$clean" \
  -n "berth up trio:0-2 (9 containers, 3 steps)" "$b up trio:0-2" \
  -n "docker-compose up -d (same file, depends_on)" "$compose up -d" >/dev/null 2>&1
eval "$clean"

# 2. One image for ten instances.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/registry"
cat > "$work/registry/config.yml" <<YAML
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $work/registry/data
http:
  addr: 127.0.0.1:$port
YAML
docker-registry serve "$work/registry/config.yml" > "$work/registry/log" 2>&1 &
registry_pid=$!
until curl -sf "http://127.0.0.1:$port/v2/" >/dev/null; do sleep 0.1; done
mkdir -p "$work/image"
head -c 20000000 /dev/urandom > "$work/image/blob"
printf 'FROM berth-test-busybox\nCOPY blob /blob\n' > "$work/image/Dockerfile"
image=127.0.0.1:$port/bench/pulled:1
docker build -q -t "$image" "$work/image" >/dev/null
docker push -q "$image" >/dev/null
docker rmi -f "$image" >/dev/null
cat > "$work/pull.yaml" <<YAML
environments:
  benchpull: 0
web:
  port: 27400
  instance_increment: 1
  max_instances: 10
  container:
    image: $image
    command: [httpd, -f, -p, '{port}', -h, /tmp]
YAML
p="$berth --registry $work/pull.yaml"
drop="$p down web:0-9 >/dev/null 2>&1; docker rmi -f $image >/dev/null 2>&1"
before=$(grep -c "GET /v2/bench/pulled/blobs/" "$work/registry/log" || true)
hyperfine --runs "$runs" --export-json "$work/pull.json" --prepare "$drop" \
  -n "berth up web:0-9 (pulls the missing image)" "$p up web:0-9" \
  -n "docker pull, then berth up web:0-9" "docker pull -q $image >/dev/null && $p up web:0-9" \
  -n "docker pull alone" "docker pull -q $image" >/dev/null 2>&1
after=$(grep -c "GET /v2/bench/pulled/blobs/" "$work/registry/log" || true)

python3 - "$work/stack.json" "$work/pull.json" "$runs" "$((after - before))" <<'PY'
import json, sys
stack, pull, runs, blob_gets = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
print("| command | median | mean | min | max |")
print("|---|---:|---:|---:|---:|")
medians = {}
for name in (stack, pull):
    for r in json.load(open(name))["results"]:
        medians[r["command"]] = r["median"]
        print(f"| {r['command']} | {r['median']:.2f} s | {r['mean']:.2f} s | {r['min']:.2f} s | {r['max']:.2f} s |")
names = list(medians)
print(f"berth stack up / compose up -d = {medians[names[0]] / medians[names[1]]:.2f}")
print(f"berth up pulling / (docker pull + berth up) = {medians[names[2]] / medians[names[3]]:.2f}")
# One pull per timed command: a berth up for ten instances must fetch the blobs once, as a
# docker pull does (the new layer and the image config).
print(f"blob downloads from the registry: {blob_gets} over {3 * runs} pulls ({blob_gets / (3 * runs):.1f} per pull)")
PY
