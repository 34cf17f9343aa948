#!/usr/bin/env bash
# Builds the berth-worker image (docker/worker/Dockerfile) from a berth binary, without any
# base image or registry: the binary, the shared libraries ldd lists for it, the registry
# and the host's CA certificates are copied into a scratch image.
# Usage: bash docker/worker/build.sh [BINARY [REGISTRY [TAG]]]
#   BINARY   default target/release/berth (build it with `cargo build --release`)
#   REGISTRY default dynamicconfig/port_registry.yaml
#   TAG      default berth-worker
set -euo pipefail
cd "$(dirname "$0")/../.."
binary=${1:-target/release/berth}
registry=${2:-dynamicconfig/port_registry.yaml}
tag=${3:-berth-worker}
[ -x "$binary" ] || { echo "error: no berth binary at $binary; build one with \`cargo build --release\`" >&2; exit 2; }
[ -f "$registry" ] || { echo "error: no registry at $registry" >&2; exit 2; }

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
rootfs="$context/rootfs"
mkdir -p "$rootfs/usr/bin" "$rootfs/etc/berth" "$rootfs/etc/ssl/certs" "$rootfs/var/lib/berth" "$rootfs/tmp"
cp "$binary" "$rootfs/usr/bin/berth"
ldd "$binary" | awk '/=>/ {print $3} /^\t\// {print $1}' | while read -r library; do
  [ -n "$library" ] && cp --parents -L "$library" "$rootfs/"
done
cp "$registry" "$rootfs/etc/berth/port_registry.yaml"
[ -f /etc/ssl/certs/ca-certificates.crt ] && cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/"
cp docker/worker/Dockerfile "$context/"
docker build -q -t "$tag" "$context" >/dev/null
echo "built $tag ($(docker image inspect --format '{{.Size}}' "$tag" | awk '{printf "%.1f MB", $1 / 1e6}'))"
