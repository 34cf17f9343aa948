#!/usr/bin/env bash
# Builds berth's test images locally (no registry can be reached):
#   berth-test-busybox: FROM scratch + Debian's static busybox (httpd, nc, sh, …)
#   berth-test-redis:   FROM scratch + Debian's redis-server and redis-cli with the
#                       shared libraries ldd lists for them
#   berth-test-prometheus, berth-test-alertmanager: FROM scratch + Debian's prometheus
#                       and prometheus-alertmanager binaries with their libraries, the
#                       files they read at runtime, a minimal config, a writable data
#                       directory, and the static busybox (sh, wget) for debugging
# Idempotent: an image that exists is rebuilt only with --force.
set -euo pipefail
cd "$(dirname "$0")"
force=${1:-}

need() {
  local missing=()
  for package in "$@"; do dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package"); done
  if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # policy-rc.d keeps the packages' services from starting on this host.
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    rm -f /usr/sbin/policy-rc.d
  fi
}

exists() { [ "$force" != "--force" ] && docker image inspect "$1" >/dev/null 2>&1; }

# with_libraries ROOTFS BINARY...: copies each binary to ROOTFS/usr/bin with the shared
# libraries ldd lists for it (at their own paths, symlinks resolved).
with_libraries() {
  local rootfs=$1 binary library
  shift
  mkdir -p "$rootfs/usr/bin"
  for binary in "$@"; do
    cp "$binary" "$rootfs/usr/bin/"
    ldd "$binary" | awk '/=>/ {print $3} /^\t\// {print $1}' | while read -r library; do
      [ -n "$library" ] && cp --parents -L "$library" "$rootfs/"
    done
  done
}

# busybox_dockerfile CONTEXT WORKDIR PORT PROGRAM ARGUMENTS_JSON: the Dockerfile of an image
# whose rootfs/ holds PROGRAM and the static busybox (installed as sh, wget, …), running
# PROGRAM with ARGUMENTS_JSON from WORKDIR.
busybox_dockerfile() {
  cat > "$1/Dockerfile" <<DOCKERFILE
FROM scratch
COPY rootfs/ /
RUN ["/bin/busybox", "mkdir", "-p", "/sbin", "/usr/sbin"]
RUN ["/bin/busybox", "--install", "-s"]
ENV PATH=/bin:/sbin:/usr/bin:/usr/sbin
WORKDIR $2
EXPOSE $3
ENTRYPOINT ["$4"]
CMD $5
DOCKERFILE
}

if ! exists berth-test-busybox; then
  need busybox-static
  context=$(mktemp -d)
  cp /bin/busybox "$context/busybox"
  cat > "$context/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "mkdir", "-p", "/usr/bin", "/sbin", "/usr/sbin", "/tmp", "/www", "/data"]
RUN ["/bin/busybox", "--install", "-s"]
ENV PATH=/bin:/sbin:/usr/bin:/usr/sbin
ENTRYPOINT []
CMD ["sh"]
DOCKERFILE
  docker build -q -t berth-test-busybox "$context" >/dev/null
  rm -rf "$context"
  echo "built berth-test-busybox"
fi

if ! exists berth-test-redis; then
  need redis-server redis-tools
  context=$(mktemp -d)
  mkdir -p "$context/rootfs/data" "$context/rootfs/tmp"
  with_libraries "$context/rootfs" /usr/bin/redis-server /usr/bin/redis-cli
  cat > "$context/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY rootfs/ /
WORKDIR /data
ENTRYPOINT ["/usr/bin/redis-server"]
DOCKERFILE
  docker build -q -t berth-test-redis "$context" >/dev/null
  rm -rf "$context"
  echo "built berth-test-redis"
fi

if ! exists berth-test-temporal; then
  # The official temporal CLI, a static binary, from the virtualenv scripts/ensure-test-tools.sh
  # makes; `temporal server start-dev` is the development server.
  temporal=../../.venv/bin/temporal
  [ -x "$temporal" ] || { echo "error: no $temporal: run scripts/ensure-test-tools.sh first" >&2; exit 2; }
  context=$(mktemp -d)
  mkdir -p "$context/rootfs/usr/bin" "$context/rootfs/tmp" "$context/rootfs/root"
  cp "$temporal" "$context/rootfs/usr/bin/temporal"
  chmod 1777 "$context/rootfs/tmp"
  cat > "$context/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY rootfs/ /
ENV HOME=/root USER=root
ENTRYPOINT ["/usr/bin/temporal"]
DOCKERFILE
  docker build -q -t berth-test-temporal "$context" >/dev/null
  rm -rf "$context"
  echo "built berth-test-temporal"
fi

if ! exists berth-test-prometheus; then
  need prometheus busybox-static
  context=$(mktemp -d)
  rootfs=$context/rootfs
  mkdir -p "$rootfs/bin" "$rootfs/etc/prometheus" "$rootfs/prometheus" "$rootfs/tmp" \
    "$rootfs/usr/share/prometheus"
  with_libraries "$rootfs" /usr/bin/prometheus
  cp /bin/busybox "$rootfs/bin/busybox"
  # The web UI's templates and static files (--web.local-assets): not needed to start or
  # for /-/ready and the API, only for UI pages; the symlinks into /usr/share/javascript
  # stay dangling (the UI's vendored scripts).
  cp -a /usr/share/prometheus/web "$rootfs/usr/share/prometheus/"
  cat > "$rootfs/etc/prometheus/prometheus.yml" <<'YAML'
global:
  scrape_interval: 15s
  evaluation_interval: 15s
YAML
  chmod 1777 "$rootfs/prometheus" "$rootfs/tmp"
  busybox_dockerfile "$context" /prometheus 9090 /usr/bin/prometheus \
    '["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus", "--web.listen-address=:9090"]'
  docker build -q -t berth-test-prometheus "$context" >/dev/null
  rm -rf "$context"
  echo "built berth-test-prometheus"
fi

if ! exists berth-test-alertmanager; then
  need prometheus-alertmanager busybox-static
  context=$(mktemp -d)
  rootfs=$context/rootfs
  mkdir -p "$rootfs/bin" "$rootfs/etc/alertmanager" "$rootfs/alertmanager" "$rootfs/tmp" \
    "$rootfs/usr/share/prometheus"
  with_libraries "$rootfs" /usr/bin/prometheus-alertmanager
  cp /bin/busybox "$rootfs/bin/busybox"
  # Debian's build reads its notification templates (default.tmpl: without it the
  # configuration fails to apply and it exits) and UI (--web.ui-path) from here.
  cp -a /usr/share/prometheus/alertmanager "$rootfs/usr/share/prometheus/"
  cat > "$rootfs/etc/alertmanager/alertmanager.yml" <<'YAML'
route:
  receiver: "null"
receivers:
  - name: "null"
YAML
  chmod 1777 "$rootfs/alertmanager" "$rootfs/tmp"
  busybox_dockerfile "$context" /alertmanager 9093 /usr/bin/prometheus-alertmanager \
    '["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager", "--web.listen-address=:9093", "--cluster.listen-address="]'
  docker build -q -t berth-test-alertmanager "$context" >/dev/null
  rm -rf "$context"
  echo "built berth-test-alertmanager"
fi
