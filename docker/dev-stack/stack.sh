#!/usr/bin/env bash
# berth's development stack (compose.yaml beside this script): a Temporal dev server, the
# berth worker and Prometheus with berth's alert rules, on the ports the registry's `berth`
# service gives them.
#
# Usage: docker/dev-stack/stack.sh up|down|status
#   up      checks the ports are free, starts the stack, and waits (at most 120 s) until
#           Temporal answers, the worker is healthy and Prometheus is ready
#   down    stops and removes the stack's containers (the ledger and registry stay)
#   status  the stack's containers
# Environment:
#   BERTH              the berth binary [default: berth on PATH]
#   BERTH_REGISTRY     the registry [default: dynamicconfig/port_registry.yaml]
#   BERTH_STATE_DIR    berth's state directory, shared with the worker [default: berth's own]
#   BERTH_DEV_PROJECT  the compose project name [default: berth-dev]
#   BERTH_DEV_TEMPORAL_IMAGE, BERTH_DEV_WORKER_IMAGE, BERTH_DEV_PROMETHEUS_IMAGE
#                      the images [default: temporalio/temporal:1.1.0, berth-worker
#                      (docker/worker/build.sh), prom/prometheus:v2.53.0]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
action=${1:-}
berth=${BERTH:-berth}
registry=$(realpath "${BERTH_REGISTRY:-dynamicconfig/port_registry.yaml}")
project=${BERTH_DEV_PROJECT:-berth-dev}
fail() { echo "error: $*" >&2; exit "${code:-1}"; }

command -v docker-compose >/dev/null || code=2 fail "docker-compose is not installed; install Debian's docker-compose package"
[ -f "$registry" ] || code=2 fail "no registry at $registry; set BERTH_REGISTRY"
state=${BERTH_STATE_DIR:-$("$berth" --registry "$registry" doctor --format json 2>/dev/null |
  python3 -c 'import json, sys; print(next(c["detail"].split(":")[0] for c in json.load(sys.stdin) if c["check"] == "state"))')}
[ -n "$state" ] || code=2 fail "berth names no state directory; set BERTH_STATE_DIR"
config="$state/dev-stack/$project"
compose() {
  COMPOSE_PROJECT_NAME="$project" BERTH_DEV_STATE_DIR="$state" BERTH_DEV_REGISTRY="$registry" BERTH_DEV_CONFIG_DIR="$config" \
    docker-compose --project-name "$project" --file "$here/compose.yaml" --env-file "$config/ports.env" "$@"
}

case "$action" in
  up)
    mkdir -p "$config"
    "$berth" --registry "$registry" ports berth --instance 0 --format env > "$config/ports.env" ||
      code=2 fail "the registry $registry has no \`berth\` service ports; see the shipped registry's \`berth:\` entry"
    set -a
    # shellcheck disable=SC1091
    . "$config/ports.env"
    set +a
    for key in TEMPORAL_PORT TEMPORAL_UI_PORT TEMPORAL_METRICS_PORT PROMETHEUS_PORT METRICS_PORT SDK_METRICS_PORT; do
      variable="BERTH_$key"
      [ -n "${!variable:-}" ] || code=2 fail "the registry's \`berth\` service has no $(echo "$key" | tr 'A-Z' 'a-z'); add it as the shipped registry does"
      if (exec 3<>"/dev/tcp/127.0.0.1/${!variable}") 2>/dev/null; then
        fail "port ${!variable} (berth.$(echo "$key" | tr 'A-Z' 'a-z')) is in use: $("$berth" --registry "$registry" who "${!variable}" 2>&1 | head -1); stop that or run the stack from another registry"
      fi
    done
    cat > "$config/prometheus.yml" <<YAML
# Written by docker/dev-stack/stack.sh from the registry's berth ports.
global:
  scrape_interval: 5s
  evaluation_interval: 5s
rule_files: [/etc/prometheus/berth-alerts.yml]
scrape_configs:
  - job_name: berth-worker
    static_configs: [{targets: ["127.0.0.1:$BERTH_METRICS_PORT"]}]
  - job_name: berth-worker-sdk
    static_configs: [{targets: ["127.0.0.1:$BERTH_SDK_METRICS_PORT"]}]
  - job_name: temporal
    static_configs: [{targets: ["127.0.0.1:$BERTH_TEMPORAL_METRICS_PORT"]}]
YAML
    compose up --detach --quiet-pull >&2 ||
      fail "docker-compose could not start the stack (said above); \`$0 down\` removes what it made"
    echo "waiting for Temporal (127.0.0.1:$BERTH_TEMPORAL_PORT), the worker (/healthz on $BERTH_METRICS_PORT) and Prometheus ($BERTH_PROMETHEUS_PORT), at most 120 s" >&2
    waiting=""
    for _ in $(seq 240); do
      waiting=""
      (exec 3<>"/dev/tcp/127.0.0.1/$BERTH_TEMPORAL_PORT") 2>/dev/null || waiting="$waiting Temporal"
      [ "$(curl -fsS "http://127.0.0.1:$BERTH_METRICS_PORT/healthz" 2>/dev/null)" = "ok" ] || waiting="$waiting worker"
      curl -fsS "http://127.0.0.1:$BERTH_PROMETHEUS_PORT/-/ready" >/dev/null 2>&1 || waiting="$waiting Prometheus"
      [ -z "$waiting" ] && break
      sleep 0.5
    done
    if [ -n "$waiting" ]; then
      compose logs --tail 20 >&2 || true
      fail "not ready after 120 s:$waiting; the stack is left running for a look: \`$0 down\` removes it"
    fi
    cat <<TEXT
berth dev stack $project is up:
  Temporal      127.0.0.1:$BERTH_TEMPORAL_PORT (UI http://127.0.0.1:$BERTH_TEMPORAL_UI_PORT)
  worker        http://127.0.0.1:$BERTH_METRICS_PORT/ (port map, /metrics, /healthz)
  Prometheus    http://127.0.0.1:$BERTH_PROMETHEUS_PORT/ (berth's alert rules loaded)
  spin up       berth up redis:1 --temporal 127.0.0.1:$BERTH_TEMPORAL_PORT
TEXT
    ;;
  down)
    [ -f "$config/ports.env" ] || { echo "no dev stack $project here (nothing in $config)"; exit 0; }
    compose down --timeout 30 >&2
    rm -rf "$config"
    echo "berth dev stack $project removed"
    ;;
  status)
    [ -f "$config/ports.env" ] || { echo "no dev stack $project here"; exit 0; }
    compose ps
    ;;
  *)
    code=2 fail "usage: $0 up|down|status"
    ;;
esac
