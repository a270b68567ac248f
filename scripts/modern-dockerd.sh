#!/usr/bin/env bash
# A second Docker engine beside the default one, for tests that need Docker Engine API >= 1.44:
# health checks with `start_interval` (Debian bookworm's docker.io 20.10 speaks API 1.41, and a
# client refuses the setting with '"specify health-check start interval" requires API version
# 1.44'). The engine is Debian trixie's docker.io 26 (API 1.45) with its containerd 1.7, unpacked
# from the .debs (no install: the host's apt and dpkg state stay as they are) and run with
# bookworm's own runc, since trixie's runc needs a newer glibc than bookworm's; trixie's dockerd,
# containerd and docker CLI run on bookworm's glibc 2.36. Nothing is shared with the default
# engine: own socket, data root, exec root (and so its own managed containerd), pid file, bridge
# and address pool, and no iptables rules of its own (--iptables=false), so the default engine's
# NAT and networks stay as they are. One FORWARD rule is added instead (see SAME_NETWORK_RULE).
#
# Idempotent: the .debs are fetched and unpacked once into the cache directory, keyed by this
# file's hash; the engine is started in the background only when its socket does not answer (or
# answers from an engine this file's earlier version started, which is stopped first), and left
# running. Prints the DOCKER_HOST value once the engine answers.
#
# Usage: scripts/modern-dockerd.sh [--cache-dir DIR] [--mirror URL] [--cli | --stop]
#   --cli   print the path of the engine's own docker CLI (26.x) instead of DOCKER_HOST
#   --stop  stop the engine (and its containers) and exit
# Env:   SECTORWARS_TEST_IMAGE_CACHE (default /var/cache/sectorwars-test-images)
# Log:   /var/log/sectorwars-test-modern-dockerd.log
# Exit:  0 ready; 3 this machine cannot run a second engine (the reason on stderr: not root, no
#        permission to create a bridge, trixie's packages unreachable with nothing cached); 1 error.
set -euo pipefail

cache_dir=${SECTORWARS_TEST_IMAGE_CACHE:-/var/cache/sectorwars-test-images}
mirror=http://deb.debian.org/debian
action=host
while [ $# -gt 0 ]; do
  case $1 in
    --cache-dir) cache_dir=$2; shift 2 ;;
    --mirror) mirror=$2; shift 2 ;;
    --cli) action=cli; shift ;;
    --stop) action=stop; shift ;;
    *) echo "usage: $0 [--cache-dir DIR] [--mirror URL] [--cli | --stop]" >&2; exit 2 ;;
  esac
done

SUITE=trixie
PACKAGES=(docker.io docker-cli containerd)
NAME=sectorwars-modern-docker
SOCK=/run/$NAME.sock
EXEC_ROOT=/run/$NAME
DATA_ROOT=/var/lib/$NAME
PIDFILE=/run/$NAME.pid
# Which version of this file started the running engine: another one restarts it with its flags.
KEYFILE=/run/$NAME.key
LOG=/var/log/sectorwars-test-modern-dockerd.log
# Its own bridge and pool, away from docker0 (172.17/16) and the pools the default engine
# allocates user-defined networks from (172.18-31/16, 192.168/16).
BRIDGE=swmodern0
BRIDGE_ADDR=10.213.0.1/24
ADDRESS_POOL=10.213.128.0/17
# The default engine sets the FORWARD policy to DROP, and with br_netfilter bridged traffic passes
# FORWARD too, so containers on one network of this engine could not reach each other. This
# accepts exactly that (frames bridged between two of its addresses), as the default engine's own
# per-network rules do for its networks; traffic routed between its networks stays dropped.
SAME_NETWORK_RULE=(FORWARD -s 10.213.0.0/16 -d 10.213.0.0/16 -m physdev --physdev-is-bridged
  -m comment --comment "$NAME: containers on one network" -j ACCEPT)
key=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)
root="$cache_dir/docker-$SUITE-$key"
cli="$root/usr/bin/docker"

unavailable() {
  echo "modern-dockerd: this machine cannot run a second Docker engine: $*" >&2
  exit 3
}

answers() {
  [ -S "$SOCK" ] && [ -x "$cli" ] && "$cli" -H "unix://$SOCK" version --format '{{.Server.APIVersion}}' >/dev/null 2>&1
}

# Without iptables there is no firewall to get through.
forwarding() { ! command -v iptables >/dev/null || iptables -C "${SAME_NETWORK_RULE[@]}" 2>/dev/null; }

# The engine's pid, if it runs: a pid file left by a dead engine may name another process by now.
running_pid() {
  local pid
  pid=$(cat "$PIDFILE" 2>/dev/null || true)
  if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ]; then echo "$pid"; fi
}

stop_engine() {
  local pid
  pid=$(running_pid)
  [ -n "$pid" ] || return 0
  echo "stopping the modern Docker engine (dockerd $pid)" >&2
  kill "$pid"
  # dockerd stops its containers (10 s grace each, in parallel) and its containerd first.
  for _ in $(seq 1 600); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  echo "dockerd $pid did not stop within 60 s; see $LOG" >&2
  exit 1
}

if [ "$(id -u)" != 0 ]; then
  unavailable "it needs root (dockerd, a bridge, overlay mounts)"
fi

if [ "$action" = stop ]; then
  stop_engine
  rm -f "$KEYFILE"
  if command -v iptables >/dev/null; then
    while iptables -D "${SAME_NETWORK_RULE[@]}" 2>/dev/null; do :; done
  fi
  exit 0
fi

print_result() {
  if [ "$action" = cli ]; then echo "$cli"; else echo "unix://$SOCK"; fi
}

current() { answers && [ "$(cat "$KEYFILE" 2>/dev/null)" = "$key" ]; }

if current && forwarding; then
  print_result
  exit 0
fi

mkdir -p "$cache_dir"
# One fetch and one start at a time; the loser of a race finds the engine answering. The lock's
# descriptor is closed for dockerd below, or the engine would hold the lock for as long as it runs.
exec 9>"$cache_dir/.modern-docker-lock"
flock -w 300 9

# Downloads trixie's packages with a private apt configuration (sources, lists, cache and an empty
# dpkg status in a temp directory) and unpacks them with dpkg -x.
fetch() {
  local build
  build=$(mktemp -d "$cache_dir/docker-build.XXXXXX")
  # Removes the half-built tree whatever happens; the root only appears, by rename, once complete.
  trap 'rm -rf "$build"' EXIT
  mkdir -p "$build/lists/partial" "$build/archives/partial" "$build/debs"
  echo "deb $mirror $SUITE main" >"$build/sources.list"
  : >"$build/status"
  local apt=(apt-get -q
    -o "Dir::Etc::sourcelist=$build/sources.list" -o Dir::Etc::sourceparts=-
    -o "Dir::State::Lists=$build/lists" -o "Dir::Cache=$build" -o "Dir::State::status=$build/status"
    -o APT::Sandbox::User=root)
  echo "fetching ${PACKAGES[*]} from Debian $SUITE ($mirror)" >&2
  if ! "${apt[@]}" update >"$build/apt.log" 2>&1 ||
    ! (cd "$build/debs" && "${apt[@]}" download "${PACKAGES[@]}") >>"$build/apt.log" 2>&1; then
    tail -n 20 "$build/apt.log" >&2
    unavailable "could not download ${PACKAGES[*]} from Debian $SUITE at $mirror, and nothing is cached"
  fi
  local deb
  for deb in "$build"/debs/*.deb; do dpkg -x "$deb" "$build/root"; done
  rm -rf "$build/root/usr/share/doc" "$build/root/usr/share/man" "$build/root/etc/init.d"
  if [ -e "$build/root/usr/sbin/runc" ] || [ -e "$build/root/usr/bin/runc" ]; then
    echo "trixie's packages now carry a runc: it would shadow bookworm's, which this engine needs" >&2
    exit 1
  fi
  local binary
  for binary in usr/sbin/dockerd usr/bin/containerd usr/bin/docker; do
    if ! "$build/root/$binary" --version >/dev/null 2>"$build/version.log"; then
      cat "$build/version.log" >&2
      echo "trixie's $binary does not run on this machine" >&2
      exit 1
    fi
  done
  # An empty daemon config, so that an /etc/docker/daemon.json meant for the default engine
  # never reaches this one.
  echo '{}' >"$build/root/daemon.json"
  chmod 755 "$build/root"
  mv "$build/root" "$root"
  rm -rf "$build"
  trap - EXIT
}

ensure_bridge() {
  command -v ip >/dev/null || unavailable "the ip command (Debian package iproute2) is missing"
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    local error
    if ! error=$(ip link add "$BRIDGE" type bridge 2>&1); then
      unavailable "cannot create the bridge $BRIDGE: $error"
    fi
  fi
  if ! ip -4 addr show dev "$BRIDGE" | grep -qF "inet $BRIDGE_ADDR "; then
    ip addr add "$BRIDGE_ADDR" dev "$BRIDGE"
  fi
  ip link set "$BRIDGE" up
}

# bookworm's runc: every Debian docker.io depends on it, so it is normally there already.
ensure_runc() {
  [ -x /usr/sbin/runc ] && return 0
  echo "installing Debian's runc" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends runc >&2 ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends runc >&2; }
}

start_engine() {
  mkdir -p "$DATA_ROOT" "$EXEC_ROOT" "$(dirname "$LOG")"
  echo "$(date -u +%FT%TZ) scripts/modern-dockerd.sh ($key): starting $root/usr/sbin/dockerd" >>"$LOG"
  # PATH: dockerd starts the containerd (and containerd its shim, and docker-proxy) it finds on
  # PATH, so trixie's come first; runc is found in /usr/sbin, bookworm's. setsid: the engine
  # outlives the test process that started it, like the default one.
  # --dns 127.0.0.1: without NAT, Docker's DNS would forward every name it does not know (a
  # stopped container's, say) from the container to the host's resolver, unreachable, and the
  # lookup would hang until it times out (4 to 16 s) where the default engine answers "not found"
  # at once. A loopback server is asked from the host instead (Docker >= 26), and with nothing
  # listening there the lookup fails at once, and nothing leaves the host.
  PATH="$root/usr/bin:$root/usr/sbin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    setsid "$root/usr/sbin/dockerd" \
    --config-file "$root/daemon.json" \
    -H "unix://$SOCK" \
    --data-root "$DATA_ROOT" \
    --exec-root "$EXEC_ROOT" \
    --pidfile "$PIDFILE" \
    -b "$BRIDGE" \
    --default-address-pool "base=$ADDRESS_POOL,size=24" \
    --iptables=false \
    --dns 127.0.0.1 \
    </dev/null >>"$LOG" 2>&1 9>&- &
  local pid=$!
  echo "$key" >"$KEYFILE"
  for _ in $(seq 1 600); do
    if answers; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$LOG" >&2
      echo "the modern dockerd exited while starting; the end of $LOG is above" >&2
      exit 1
    fi
    sleep 0.1
  done
  tail -n 30 "$LOG" >&2
  echo "the modern dockerd did not answer on $SOCK within 60 s; the end of $LOG is above" >&2
  exit 1
}

[ -x "$cli" ] || fetch
if ! current; then
  # Not running, or started by another version of this file, or died and left its pid file.
  stop_engine
  ensure_runc
  ensure_bridge
  start_engine
  echo "modern Docker engine: $("$cli" -H "unix://$SOCK" version --format 'Docker {{.Server.Version}}, API {{.Server.APIVersion}}') on unix://$SOCK" >&2
  # Roots of earlier keys: their engine, if any, was stopped above.
  find "$cache_dir" -maxdepth 1 -name "docker-$SUITE-*" ! -name "docker-$SUITE-$key" -exec rm -rf {} +
fi
forwarding || iptables -I "${SAME_NETWORK_RULE[0]}" 1 "${SAME_NETWORK_RULE[@]:1}"
print_result
