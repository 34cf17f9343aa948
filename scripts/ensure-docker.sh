#!/usr/bin/env bash
# Makes sure a Docker engine answers: use the running one; else start dockerd if it is
# installed; else install Debian's docker.io and start it. Also installs Debian's
# docker-compose, which the development stack's test drives. Tests and CI share this script.
set -euo pipefail

answers() { docker info >/dev/null 2>&1; }

if ! command -v docker-compose >/dev/null 2>&1; then
  echo "ensure-docker: installing docker-compose" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
fi
if answers; then exit 0; fi
if ! command -v dockerd >/dev/null 2>&1; then
  echo "ensure-docker: installing docker.io" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends docker.io iptables >/dev/null
fi
if ! answers; then
  echo "ensure-docker: starting dockerd" >&2
  nohup dockerd > /tmp/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    answers && break
    sleep 1
  done
fi
answers || { echo "ensure-docker: the engine did not come up; see /tmp/dockerd.log" >&2; exit 1; }
