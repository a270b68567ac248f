#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian/Ubuntu machine, and nothing when it is there:
# the real nginx, PostgreSQL 15 and Redis the tests run, and the npm packages (root and probe).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
[ -x /usr/lib/postgresql/15/bin/postgres ] || missing+=(postgresql-15)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# Backup tests: a real Docker engine, images built from Debian packages, the schedule's units
# checked by systemd-analyze, the generated scripts by shellcheck.
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
command -v flock >/dev/null 2>&1 || missing+=(util-linux)
# The second, modern Docker engine (scripts/modern-dockerd.sh): its bridge, and bookworm's runc.
command -v ip >/dev/null 2>&1 || [ -x /usr/sbin/ip ] || missing+=(iproute2)
[ -x /usr/sbin/runc ] || missing+=(runc)
# The static fill's script runs on busybox in nginx:alpine: the tests run it on busybox's applets too.
command -v busybox >/dev/null 2>&1 || missing+=(busybox)
# Monitoring tests: the generated Prometheus and Alertmanager configs and rules, validated by
# promtool and amtool (Debian's prometheus and prometheus-alertmanager ship them).
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v amtool >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
# The edge's request counts: the mtail program run over log lines as Docker writes them.
command -v mtail >/dev/null 2>&1 || missing+=(mtail)
# The prober's TLS module over a certificate like the program's self-signed one (CertificateNotIssued).
command -v prometheus-blackbox-exporter >/dev/null 2>&1 || missing+=(prometheus-blackbox-exporter)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "The tests need these Debian packages: ${missing[*]}" >&2
    echo "Install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "Installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm ci only when the lockfile changed since the last install.
install_if_stale() {
  local dir=$1
  if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}
install_if_stale .
[ -f probe/package-lock.json ] && install_if_stale probe
exit 0
