#!/usr/bin/env bash
# Builds the stand-ins for the official postgres:15 and redis:7 images that the backup tests run,
# from Debian bookworm's own packages, since no container registry is reachable:
#
#   sectorwars-test/postgres:15   POSTGRES_USER / POSTGRES_DB / POSTGRES_PASSWORD_FILE / PGDATA,
#                                 initdb on first start, listens on 0.0.0.0, trusts the local
#                                 socket, runs as the postgres user (as the official image does)
#   sectorwars-test/redis:7       `redis-server <conf>` as the redis user, WORKDIR /data
#
# Both come from one debootstrap'd root file system (minbase + postgresql-15 + redis-server),
# kept as a tarball in the cache directory and imported with `docker import`. Each step is skipped
# when its result is already there: images carrying the current build key, else the cached
# tarball, else debootstrap (about a minute). The key changes whenever this file changes.
#
# Usage: scripts/build-test-images.sh [--cache-dir DIR] [--mirror URL]
# Env:   SECTORWARS_TEST_IMAGE_CACHE (default /var/cache/sectorwars-test-images)
# Needs: root, debootstrap, a running Docker engine.
set -euo pipefail

cache_dir=${SECTORWARS_TEST_IMAGE_CACHE:-/var/cache/sectorwars-test-images}
mirror=""
while [ $# -gt 0 ]; do
  case $1 in
    --cache-dir) cache_dir=$2; shift 2 ;;
    --mirror) mirror=$2; shift 2 ;;
    *) echo "usage: $0 [--cache-dir DIR] [--mirror URL]" >&2; exit 2 ;;
  esac
done

SUITE=bookworm
PACKAGES=postgresql-15,redis-server
POSTGRES_IMAGE=sectorwars-test/postgres:15
REDIS_IMAGE=sectorwars-test/redis:7
KEY_LABEL=com.sectorwars.test-image-key
key=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)

image_key() { docker image inspect --format "{{index .Config.Labels \"$KEY_LABEL\"}}" "$1" 2>/dev/null || true; }

if [ "$(image_key "$POSTGRES_IMAGE")" = "$key" ] && [ "$(image_key "$REDIS_IMAGE")" = "$key" ]; then
  echo "test images are current ($key)"
  exit 0
fi

mkdir -p "$cache_dir"
# One build at a time per cache directory; the loser of a race finds the tarball ready.
exec 9>"$cache_dir/.lock"
flock -w 900 9
if [ "$(image_key "$POSTGRES_IMAGE")" = "$key" ] && [ "$(image_key "$REDIS_IMAGE")" = "$key" ]; then
  echo "test images are current ($key), imported by a concurrent build"
  exit 0
fi

tarball="$cache_dir/rootfs-$SUITE-$key.tar"

# The Debian mirror apt already uses on this machine (one-line and deb822 sources).
configured_mirror() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    sed -e 's/\[[^]]*\]//' "$f" | awk -v suite="$SUITE" '$1 == "deb" && $3 == suite { print $2; exit }'
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v suite="$SUITE" '
      function flush() { if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " suite " ")) { split(uris, u, " "); print u[1] } types = uris = suites = "" }
      /^[ \t]*$/ { flush(); next }
      /^Types:/ { sub(/^Types:[ \t]*/, ""); types = $0 }
      /^URIs:/ { sub(/^URIs:[ \t]*/, ""); uris = $0 }
      /^Suites:/ { sub(/^Suites:[ \t]*/, ""); suites = $0 }
      END { flush() }' "$f"
  done
}

build_rootfs() {
  if [ -z "$mirror" ]; then
    mirror=$(configured_mirror | head -n1)
    mirror=${mirror:-http://deb.debian.org/debian}
  fi
  local root
  root=$(mktemp -d "$cache_dir/rootfs-build.XXXXXX")
  # Removes the half-built tree whatever happens; the tarball only appears once complete.
  trap 'rm -rf "$root" "$tarball.tmp"' EXIT
  echo "debootstrap $SUITE from $mirror (packages: $PACKAGES)"
  local started=$SECONDS
  if ! debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root" "$mirror" >"$root.log" 2>&1; then
    tail -n 30 "$root.log" >&2
    rm -f "$root.log"
    echo "debootstrap failed" >&2
    exit 1
  fi
  rm -f "$root.log"
  echo "debootstrap took $((SECONDS - started)) s"

  # The package's default cluster, apt's caches and documentation are dead weight in an image.
  rm -rf "$root/var/lib/postgresql/15/main" "$root/etc/postgresql/15/main" \
    "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/* "$root"/usr/share/info/*
  mkdir -p "$root/run/secrets" "$root/usr/local/etc/redis" "$root/data" "$root/var/lib/postgresql/data"
  chroot "$root" chown redis:redis /data
  chroot "$root" chown postgres:postgres /var/lib/postgresql/data
  : >"$root/etc/resolv.conf"
  echo sectorwars-test >"$root/etc/hostname"

  cat >"$root/usr/local/bin/docker-entrypoint.sh" <<'ENTRYPOINT'
#!/bin/bash
# Stand-in for the official postgres image's entrypoint, with the same contract.
set -Eeuo pipefail
export PGDATA=${PGDATA:-/var/lib/postgresql/data}

first=${1:-}
if [ "${first:0:1}" = - ]; then set -- postgres "$@"; fi
if [ "${1:-}" != postgres ]; then exec "$@"; fi

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
  chmod 700 "$PGDATA"
  chown postgres:postgres /var/run/postgresql
  chmod 2775 /var/run/postgresql
  exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  user=${POSTGRES_USER:-postgres}
  db=${POSTGRES_DB:-$user}
  if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
    password=$(<"$POSTGRES_PASSWORD_FILE")
  else
    password=${POSTGRES_PASSWORD:-}
  fi
  if [ -z "$password" ]; then
    echo "error: set POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE" >&2
    exit 1
  fi
  initdb -D "$PGDATA" --username="$user" --pwfile=<(printf '%s\n' "$password") \
    --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  unset password
  echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  if [ "$db" != postgres ]; then
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
    createdb -U "$user" -- "$db"
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  fi
  echo "PostgreSQL init process complete; ready for start up."
fi
exec "$@"
ENTRYPOINT

  cat >"$root/usr/local/bin/redis-entrypoint.sh" <<'ENTRYPOINT'
#!/bin/bash
# Stand-in for the official redis image's entrypoint: redis-server runs as the redis user.
set -euo pipefail
first=${1:-}
if [ "${first:0:1}" = - ] || [ "${first##*.}" = conf ]; then set -- redis-server "$@"; fi
if [ "${1:-}" = redis-server ] && [ "$(id -u)" = 0 ]; then
  find . \! -user redis -exec chown redis:redis '{}' +
  exec setpriv --reuid=redis --regid=redis --init-groups "${BASH_SOURCE[0]}" "$@"
fi
exec "$@"
ENTRYPOINT
  chmod 755 "$root/usr/local/bin/docker-entrypoint.sh" "$root/usr/local/bin/redis-entrypoint.sh"

  tar -C "$root" --numeric-owner -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  rm -rf "$root"
  trap - EXIT
  # Tarballs of earlier keys are never used again.
  find "$cache_dir" -maxdepth 1 -name "rootfs-$SUITE-*.tar" ! -name "rootfs-$SUITE-$key.tar" -delete
}

if [ -s "$tarball" ]; then
  echo "using cached root file system $tarball"
else
  build_rootfs
fi

BASE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
docker import \
  --change "ENV PATH=/usr/lib/postgresql/15/bin:$BASE_PATH" \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV PGDATA=/var/lib/postgresql/data' \
  --change 'ENTRYPOINT ["docker-entrypoint.sh"]' \
  --change 'CMD ["postgres"]' \
  --change 'EXPOSE 5432' \
  --change "LABEL $KEY_LABEL=$key" \
  "$tarball" "$POSTGRES_IMAGE" >/dev/null
docker import \
  --change "ENV PATH=$BASE_PATH" \
  --change 'ENV LANG=C.UTF-8' \
  --change 'WORKDIR /data' \
  --change 'ENTRYPOINT ["redis-entrypoint.sh"]' \
  --change 'CMD ["redis-server"]' \
  --change 'EXPOSE 6379' \
  --change "LABEL $KEY_LABEL=$key" \
  "$tarball" "$REDIS_IMAGE" >/dev/null
echo "imported $POSTGRES_IMAGE and $REDIS_IMAGE ($key)"
