#!/usr/bin/env bash
# A fleet of simulated hosts on this machine, for berth's fleet tests and benchmark: each
# host is a network namespace with its own address and its own Docker engine, joined by a
# bridge in a "switch" namespace that the root namespace reaches at 10.213.N.1.
#
# Usage: scripts/fleet.sh up NAME COUNT [IMAGE...]
#          makes hosts NAME-h1 … NAME-hCOUNT (COUNT ≤ 9) and loads IMAGEs from this
#          machine's engine into each; prints one line per host:
#          `HOST ADDRESS DOCKER_HOST NETNS`, and the fleet's root address first:
#          `root ADDRESS`
#        scripts/fleet.sh down NAME
#          removes everything `up` made for NAME (also after a failed `up`)
#        scripts/fleet.sh run NAME HOST COMMAND...
#          runs COMMAND on HOST: in its network namespace, with DOCKER_HOST set to its engine
# NAME is a short word (letters and digits, at most 6): it names the namespaces, links and
# directories. Needs root, iproute2 and dockerd (scripts/ensure-docker.sh installs it).
set -euo pipefail

fail() { echo "fleet: $*" >&2; exit "${code:-1}"; }

action=${1:-}
name=${2:-}
[[ "$name" =~ ^[a-z0-9]{1,6}$ ]] || code=2 fail "NAME must be 1 to 6 lowercase letters or digits, not \`$name\`"
base="/run/berth-fleet/$name"
data="/var/lib/berth-fleet/$name"

# The fleet's subnet number, 1-250, fixed for NAME once up runs.
subnet() {
  if [ -f "$base/subnet" ]; then cat "$base/subnet"; return; fi
  local used number
  used=$(cat /run/berth-fleet/*/subnet 2>/dev/null || true)
  for number in $(seq 1 250); do
    if ! grep -qx "$number" <<<"$used" && ! ip -o addr show | grep -q " 10\.213\.$number\."; then
      echo "$number"
      return
    fi
  done
  fail "no free 10.213.N.0/24 subnet for a fleet; remove old fleets with \`$0 down NAME\`"
}

host_namespace() { echo "bf-$name-h$1"; }

down() {
  local pidfile
  for pidfile in "$base"/h*/docker.pid; do
    [ -f "$pidfile" ] || continue
    local directory socket pid
    directory=$(dirname "$pidfile")
    socket="unix://$directory/docker.sock"
    # Containers first: a daemon stopping with running containers waits on each.
    DOCKER_HOST=$socket timeout 60 docker ps -aq 2>/dev/null | xargs -r env DOCKER_HOST="$socket" timeout 60 docker rm -f >/dev/null 2>&1 || true
    pid=$(cat "$pidfile")
    # Only the dockerd this fleet started: a stale pidfile's number may belong to another
    # process by now.
    tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "--config-file $directory/daemon.json" || continue
    if kill "$pid" 2>/dev/null; then
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  # containerd and its shims outlive dockerd for a moment; whatever still runs from the
  # fleet's directories goes too.
  local leftover
  for _ in $(seq 50); do
    leftover=$(pgrep -f "containerd.*$base/" || true)
    [ -z "$leftover" ] && break
    kill $leftover 2>/dev/null || true
    sleep 0.1
  done
  [ -z "$leftover" ] || kill -9 $leftover 2>/dev/null || true
  local namespace
  for namespace in $(ip netns list | awk '{print $1}' | grep -E "^bf-$name-(h[0-9]+|switch)$" || true); do
    ip netns delete "$namespace" 2>/dev/null || true
  done
  ip link delete "bf${name}r" 2>/dev/null || true
  # dockerd leaves its mounts under the data directory and its cgroups behind.
  if [ -d "$data" ]; then
    { grep " $data/" /proc/mounts || true; } | awk '{print $2}' | sort -r | while read -r mount; do umount -l "$mount" 2>/dev/null || true; done
  fi
  if [ -d "$base" ]; then
    { grep " $base/" /proc/mounts || true; } | awk '{print $2}' | sort -r | while read -r mount; do umount -l "$mount" 2>/dev/null || true; done
  fi
  local cgroup
  for cgroup in /sys/fs/cgroup/"fleet-$name"-h* /sys/fs/cgroup/*/"fleet-$name"-h*; do
    [ -d "$cgroup" ] && find "$cgroup" -depth -type d -exec rmdir {} \; 2>/dev/null || true
  done
  rm -rf "$base" "$data"
  [ ! -e "$base" ] || echo "fleet: could not remove $base entirely; remove it by hand" >&2
}

up() {
  local count=${3:-}
  [[ "$count" =~ ^[1-9]$ ]] || code=2 fail "COUNT must be 1 to 9, not \`$count\`"
  shift 3
  [ "$(id -u)" = 0 ] || code=2 fail "making hosts needs root (network namespaces, dockerd)"
  command -v dockerd >/dev/null || code=2 fail "no dockerd: run scripts/ensure-docker.sh"
  mkdir -p /run/berth-fleet
  # Made at once or refused: a second `up NAME` must never tear down the first one's fleet.
  mkdir "$base" 2>/dev/null || fail "fleet $name exists already: \`$0 down $name\` removes it"
  trap 'status=$?; if [ $status -ne 0 ]; then echo "fleet: up failed; removing what it made" >&2; down; fi' EXIT
  mkdir -p "$data"
  local number
  # Fleets made at the same moment must not pick the same subnet.
  exec 9> /run/berth-fleet/.subnets.lock
  flock 9
  number=$(subnet)
  echo "$number" > "$base/subnet"
  flock -u 9
  exec 9>&-
  local switch="bf-$name-switch" root_address="10.213.$number.1"
  ip netns add "$switch"
  ip netns exec "$switch" ip link add br0 type bridge
  ip netns exec "$switch" ip link set br0 up
  ip netns exec "$switch" ip link set lo up
  ip link add "bf${name}r" type veth peer name "bf${name}rs"
  ip link set "bf${name}rs" netns "$switch"
  ip netns exec "$switch" ip link set "bf${name}rs" master br0 up
  ip addr add "$root_address/24" dev "bf${name}r"
  ip link set "bf${name}r" up
  echo "root $root_address"
  local index
  for index in $(seq 1 "$count"); do
    local namespace directory address
    namespace=$(host_namespace "$index")
    directory="$base/h$index"
    address="10.213.$number.1$index"
    mkdir -p "$directory" "$data/h$index"
    ip netns add "$namespace"
    ip link add "bf${name}$index" type veth peer name "bf${name}${index}s"
    ip link set "bf${name}${index}s" netns "$switch"
    ip netns exec "$switch" ip link set "bf${name}${index}s" master br0 up
    ip link set "bf${name}$index" netns "$namespace"
    ip netns exec "$namespace" ip link set lo up
    ip netns exec "$namespace" ip link set "bf${name}$index" name eth0
    ip netns exec "$namespace" ip addr add "$address/24" dev eth0
    ip netns exec "$namespace" ip link set eth0 up
    ip netns exec "$namespace" ip route add default via "$root_address"
    cat > "$directory/daemon.json" <<JSON
{
  "data-root": "$data/h$index/docker",
  "exec-root": "$directory/exec",
  "pidfile": "$directory/docker.pid",
  "hosts": ["unix://$directory/docker.sock"],
  "storage-driver": "vfs",
  "bip": "10.$((213 + index)).$number.1/24",
  "default-address-pools": [{"base": "10.$((223 + index)).0.0/16", "size": 24}],
  "cgroup-parent": "/fleet-$name-h$index",
  "exec-opts": ["native.cgroupdriver=cgroupfs"],
  "containerd-namespace": "fleet-$name-h$index",
  "containerd-plugins-namespace": "fleet-$name-h$index-plugins",
  "iptables": true
}
JSON
    # nsenter, not `ip netns exec`, which remounts /sys and hides the cgroup mounts.
    nsenter --net="/run/netns/$namespace" dockerd --config-file "$directory/daemon.json" > "$directory/dockerd.log" 2>&1 &
  done
  for index in $(seq 1 "$count"); do
    local directory="$base/h$index" socket
    socket="unix://$base/h$index/docker.sock"
    for _ in $(seq 300); do DOCKER_HOST=$socket docker info >/dev/null 2>&1 && break; sleep 0.1; done
    DOCKER_HOST=$socket docker info >/dev/null 2>&1 ||
      fail "the engine of $name-h$index did not answer within 30 s; see $directory/dockerd.log"
    local image
    for image in "$@"; do
      docker save "$image" | DOCKER_HOST=$socket docker load >/dev/null ||
        fail "cannot load image $image into $name-h$index"
    done
    echo "$name-h$index 10.213.$number.1$index $socket /run/netns/$(host_namespace "$index")"
  done
  trap - EXIT
}

case "$action" in
  up) up "$@" ;;
  down) down ;;
  run)
    host=${3:-}
    [[ "$host" =~ ^$name-h([1-9])$ ]] || code=2 fail "HOST must be one of $name's hosts ($name-h1 …), not \`$host\`"
    index=${BASH_REMATCH[1]}
    shift 3
    [ -S "$base/h$index/docker.sock" ] || fail "host $host is not up"
    exec nsenter --net="/run/netns/$(host_namespace "$index")" env DOCKER_HOST="unix://$base/h$index/docker.sock" "$@"
    ;;
  *) code=2 fail "usage: $0 up NAME COUNT [IMAGE...] | down NAME | run NAME HOST COMMAND..." ;;
esac
