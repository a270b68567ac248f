#!/usr/bin/env bash
# A Docker Swarm of N engines on this machine, for tests of swarm mode, apart from the default
# engine and from the modern one: each node is Debian trixie's dockerd 26 (the root that
# scripts/modern-dockerd.sh unpacks; it is asked for it, and so also starts the modern engine)
# in its own network namespace and UTS namespace (its own host name, which placement constraints
# name), entered with nsenter (`ip netns exec` mounts a fresh /sys without the cgroup mounts
# dockerd needs), with its own socket, data root, exec root and pid file, --iptables=false and
# --dns 127.0.0.1 (see scripts/modern-dockerd.sh for both), and a registry proxy that refuses
# at once (NO_REGISTRY, below). A cluster's namespaces hang off one
# host bridge (veth pairs); node k has address .(10+k) on it. Node 1 initialises the swarm and is
# its manager; the others join as workers, and overlay traffic (vxlan) crosses that bridge.
#
# Idempotent: nodes that answer and are in the swarm are left as they are; the cluster is
# rebuilt only when it is not whole. Engines are left running, as the other test engines are.
#
# Several clusters can run side by side (--cluster C, 1 to 9): each has its own bridge
# swswarm<C>, subnet 10.214.<C>.0/24, overlay pool 10.215.<C*16>.0/20 and names; node k of
# cluster C is host name sw<C>-node-<k>. Tests that need different node counts use different
# clusters, so that one never rebuilds another's.
#
# Usage: scripts/swarm-dockerd.sh [--cluster C] [--nodes N] [--cache-dir DIR] [--stop]
#   prints one line per node: "<host name> <DOCKER_HOST> <address>"
# Logs:  /var/log/sectorwars-test-swarm-<C>-<k>.log
# Exit:  0 ready; 3 this machine cannot run them (the reason on stderr); 1 error.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_dir=${SECTORWARS_TEST_IMAGE_CACHE:-/var/cache/sectorwars-test-images}
nodes=1
cluster=1
action=start
while [ $# -gt 0 ]; do
  case $1 in
    --nodes) nodes=$2; shift 2 ;;
    --cluster) cluster=$2; shift 2 ;;
    --cache-dir) cache_dir=$2; shift 2 ;;
    --stop) action=stop; shift ;;
    *) echo "usage: $0 [--cluster C] [--nodes N] [--cache-dir DIR] [--stop]" >&2; exit 2 ;;
  esac
done
[[ $nodes =~ ^[1-9]$ ]] || { echo "--nodes must be 1 to 9" >&2; exit 2; }
[[ $cluster =~ ^[1-9]$ ]] || { echo "--cluster must be 1 to 9" >&2; exit 2; }

BRIDGE=swswarm$cluster
NET=10.214.$cluster
POOL=10.215.$((cluster * 16)).0/20
# The registry proxy (see whole_with_proxy): port 9 (discard) on the node's own loopback, where nothing listens.
NO_REGISTRY=http://127.0.0.1:9
# Frames bridged between two nodes (the swarm's control traffic, vxlan) pass the host's FORWARD
# chain, whose policy the default engine sets to DROP.
RULE=(FORWARD -s "$NET.0/24" -d "$NET.0/24" -m physdev --physdev-is-bridged
  -m comment --comment "sectorwars-swarm-$cluster: nodes on one bridge" -j ACCEPT)

unavailable() {
  echo "swarm-dockerd: this machine cannot run a test swarm: $*" >&2
  exit 3
}
[ "$(id -u)" = 0 ] || unavailable "it needs root (network namespaces, dockerd)"

name_of() { echo "sw$cluster-node-$1"; }
ns_of() { echo "sectorwars-swarm-$cluster-$1"; }
sock_of() { echo "/run/sectorwars-swarm-$cluster-$1.sock"; }
addr_of() { echo "$NET.$((10 + $1))"; }
pid_of() {
  local pid
  pid=$(cat "/run/$(ns_of "$1").pid" 2>/dev/null || true)
  if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ]; then echo "$pid"; fi
}

stop_node() {
  local k=$1 pid ns leftovers
  ns=$(ns_of "$k")
  pid=$(pid_of "$k")
  if [ -n "$pid" ]; then
    kill "$pid"
    for _ in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  # A node whose dockerd died without its children (a killed session) leaves its containerd and
  # shims in the namespace; they keep it, and the veth named for the node, alive after `ip netns
  # del`, and the next start fails with "RTNETLINK answers: File exists".
  leftovers=$(ip netns pids "$ns" 2>/dev/null || true)
  if [ -n "$leftovers" ]; then
    # shellcheck disable=SC2086 # one pid per word
    kill -9 $leftovers 2>/dev/null || true
  fi
  ip netns del "$ns" 2>/dev/null || true
  ip link del "swsw$cluster$k" 2>/dev/null || true
}

if [ "$action" = stop ]; then
  for k in $(seq 1 9); do stop_node "$k"; done
  ip link del "$BRIDGE" 2>/dev/null || true
  while iptables -D "${RULE[@]}" 2>/dev/null; do :; done
  exit 0
fi

command -v ip >/dev/null || unavailable "the ip command (Debian package iproute2) is missing"
command -v unshare >/dev/null || unavailable "unshare (Debian package util-linux) is missing"
cli=$(bash "$here/modern-dockerd.sh" --cache-dir "$cache_dir" --cli) || exit $?
root=$(dirname "$(dirname "$(dirname "$cli")")")
dk() { local k=$1; shift; "$cli" -H "unix://$(sock_of "$k")" "$@"; }

mkdir -p "$cache_dir"
exec 9>"$cache_dir/.swarm-docker-$cluster-lock"
flock -w 600 9

ensure_bridge() {
  ip link show "$BRIDGE" >/dev/null 2>&1 || ip link add "$BRIDGE" type bridge ||
    unavailable "cannot create the bridge $BRIDGE"
  ip -4 addr show dev "$BRIDGE" | grep -qF "inet $NET.1/24 " || ip addr add "$NET.1/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  if command -v iptables >/dev/null && ! iptables -C "${RULE[@]}" 2>/dev/null; then
    iptables -I "${RULE[0]}" 1 "${RULE[@]:1}"
  fi
}

start_node() {
  local k=$1 ns host veth log
  ns=$(ns_of "$k")
  host=$(name_of "$k")
  veth=swsw$cluster$k # stop_node deletes it by this name too
  log=/var/log/sectorwars-test-swarm-$cluster-$k.log
  stop_node "$k"
  ip netns add "$ns" || unavailable "cannot create the network namespace $ns"
  ip link add "$veth" type veth peer name eth0 netns "$ns"
  ip link set "$veth" master "$BRIDGE" up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$(addr_of "$k")/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" route add default via "$NET.1"
  mkdir -p "/var/lib/$ns" "/run/$ns"
  echo "$(date -u +%FT%TZ) scripts/swarm-dockerd.sh: starting node $host in $ns" >>"$log"
  # PATH as in scripts/modern-dockerd.sh: trixie's containerd, bookworm's runc.
  PATH="$root/usr/bin:$root/usr/sbin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    setsid nsenter --net="/run/netns/$ns" unshare --uts sh -c "hostname $host && exec \"\$0\" \"\$@\"" \
    "$root/usr/sbin/dockerd" \
    --config-file "$root/daemon.json" \
    -H "unix://$(sock_of "$k")" \
    --data-root "/var/lib/$ns" \
    --exec-root "/run/$ns" \
    --pidfile "/run/$ns.pid" \
    --iptables=false \
    --dns 127.0.0.1 \
    --http-proxy "$NO_REGISTRY" \
    --https-proxy "$NO_REGISTRY" \
    </dev/null >>"$log" 2>&1 9>&- &
  local started=$!
  for _ in $(seq 1 600); do
    if dk "$k" version --format '{{.Server.APIVersion}}' >/dev/null 2>&1; then return 0; fi
    kill -0 "$started" 2>/dev/null || break
    sleep 0.1
  done
  tail -n 30 "$log" >&2
  echo "node $host did not answer within 60 s; the end of $log is above" >&2
  exit 1
}

# Whole: every node answers, node 1 manages a swarm with exactly these nodes, all ready.
whole() {
  local k
  for k in $(seq 1 "$nodes"); do
    [ -n "$(pid_of "$k")" ] && dk "$k" version >/dev/null 2>&1 || return 1
  done
  [ "$(dk 1 info --format '{{.Swarm.ControlAvailable}}' 2>/dev/null)" = true ] || return 1
  local listed
  listed=$(dk 1 node ls --format '{{.Hostname}} {{.Status}}' 2>/dev/null | sort | tr '\n' ' ')
  local want=""
  for k in $(seq 1 "$nodes"); do want+="$(name_of "$k") Ready "; done
  [ "$listed" = "$want" ]
}

# A service names an image that no registry here has (the test images are built on each node).
# The manager's digest lookup and each task's pull must fail at once, as a registry of a real
# cluster answers at once, and the node then runs its local image: a proxy on a port that nothing
# in the node's namespace listens on refuses them. Swarm's own traffic (2377, 7946, vxlan) does
# not go through it.
whole_with_proxy() {
  local k
  whole || return 1
  for k in $(seq 1 "$nodes"); do
    [ "$(dk "$k" info --format '{{.HTTPSProxy}}' 2>/dev/null)" = "$NO_REGISTRY" ] || return 1
  done
}

# Before it asks the proxy, dockerd looks the registry's name up (is it an insecure registry's
# address?) with the machine's resolv.conf, whose servers a node cannot reach: each lookup waited
# out the resolver's timeouts, 5 to 10 s, twice per service created or updated. A route that
# rejects them in the node's namespace makes each lookup fail at once (a REJECT rule on the host
# would answer with ICMP, which the kernel rate-limits: lookups still waited 5 s).
unreachable_nameservers() {
  local k server
  for k in $(seq 1 "$nodes"); do
    while read -r server; do
      case $server in
        127.* | ::1) ;; # the node's own loopback refuses at once
        *:*) ip -n "$(ns_of "$k")" -6 route replace unreachable "$server/128" ;;
        *) ip -n "$(ns_of "$k")" route replace unreachable "$server/32" ;;
      esac
    done < <(awk '$1 == "nameserver" { print $2 }' /etc/resolv.conf)
  done
}

if ! whole_with_proxy; then
  ensure_bridge
  for k in $(seq 1 9); do stop_node "$k"; done
  for k in $(seq 1 "$nodes"); do rm -rf "/var/lib/$(ns_of "$k")/swarm"; start_node "$k"; done
  dk 1 swarm init --advertise-addr "$(addr_of 1)" --listen-addr "$(addr_of 1):2377" \
    --default-addr-pool "$POOL" >/dev/null
  token=$(dk 1 swarm join-token -q worker)
  for k in $(seq 2 "$nodes"); do
    dk "$k" swarm join --token "$token" --advertise-addr "$(addr_of "$k")" "$(addr_of 1):2377" >/dev/null
  done
  for _ in $(seq 1 600); do whole && break; sleep 0.1; done
  whole || { dk 1 node ls >&2; echo "the swarm did not come together within 60 s" >&2; exit 1; }
fi
unreachable_nameservers
for k in $(seq 1 "$nodes"); do echo "$(name_of "$k") unix://$(sock_of "$k") $(addr_of "$k")"; done
