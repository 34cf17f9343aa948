#!/usr/bin/env bash
# Builds berth's test images locally (no registry can be reached):
#   berth-test-busybox: FROM scratch + Debian's static busybox (httpd, nc, sh, …)
#   berth-test-redis:   FROM scratch + Debian's redis-server and redis-cli with the
#                       shared libraries ldd lists for them
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
  mkdir -p "$context/rootfs/usr/bin" "$context/rootfs/data" "$context/rootfs/tmp"
  for binary in /usr/bin/redis-server /usr/bin/redis-cli; do
    cp "$binary" "$context/rootfs/usr/bin/"
    ldd "$binary" | awk '/=>/ {print $3} /^\t\// {print $1}' | while read -r library; do
      [ -n "$library" ] && cp --parents -L "$library" "$context/rootfs/"
    done
  done
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
