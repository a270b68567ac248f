#!/usr/bin/env bash
# Builds the images the Docker tests run, from Debian's own packages, since no container registry
# is reachable: stand-ins for the official images the platform deploys, importable into any
# engine (the docker CLI's DOCKER_HOST says which).
#
#   sectorwars-test/postgres:15   POSTGRES_USER / POSTGRES_DB / POSTGRES_PASSWORD_FILE / PGDATA,
#                                 initdb on first start, then /docker-entrypoint-initdb.d/*.sql
#                                 (and *.sh) against a socket-only server, stopping at the first
#                                 error; listens on 0.0.0.0, trusts the local socket, runs as the
#                                 postgres user, prints what the official entrypoint prints;
#                                 with pgBackRest (Debian's 2.45) and restic (0.14), as the
#                                 platform's derived database image has them, for WAL archiving,
#                                 point-in-time restore and Redis snapshots in the repository;
#                                 STOPSIGNAL SIGINT (fast shutdown), as the official image: under
#                                 SIGTERM PostgreSQL waits for every client (an exporter's, a
#                                 pool's) to leave, and `docker stop` ends in a SIGKILL
#   sectorwars-test/redis:7       `redis-server <conf>` as the redis user, WORKDIR /data
#   sectorwars-test/nginx:1.22    Debian bookworm's nginx-light, shaped like nginx:alpine for what
#                                 the edge relies on (planning/edge/plan.ts): `nginx -g 'daemon off;'`,
#                                 STOPSIGNAL SIGQUIT, a user nginx, /var/run/nginx.pid, the logs
#                                 linked to stdout/stderr, /var/cache/nginx, /etc/nginx/tls/, and
#                                 wget for the health check (GNU's, which takes busybox's flags)
#   sectorwars-test/nginx:1.30    the same from Debian testing's nginx (>= 1.27.3), whose root
#                                 scripts/build-test-nginx.sh debootstraps for the host tests too
#   sectorwars-test/probe         probe/server.js with its node_modules on bookworm's Node.js, curl
#                                 for the health check, `node /app/server.js` as the user node;
#                                 the code is root-owned, so a read-only root file system works
# >>> monitoring
#   sectorwars-test/prometheus:2.42
#                                 Debian bookworm's prometheus (2.42), shaped like prom/prometheus:
#                                 ENTRYPOINT /bin/prometheus, CMD --config.file=/etc/prometheus/
#                                 prometheus.yml --storage.tsdb.path=/prometheus, USER nobody
#                                 (65534:65534), WORKDIR and VOLUME /prometheus (owned by nobody),
#                                 a self-scraping /etc/prometheus/prometheus.yml, /bin/promtool
#   sectorwars-test/alertmanager:0.25
#                                 bookworm's prometheus-alertmanager (0.25), like
#                                 prom/alertmanager: ENTRYPOINT /bin/alertmanager, CMD
#                                 --config.file=/etc/alertmanager/alertmanager.yml
#                                 --storage.path=/alertmanager, USER nobody, WORKDIR and VOLUME
#                                 /alertmanager, a webhook-only default config, /bin/amtool
#   sectorwars-test/blackbox:0.23 bookworm's prometheus-blackbox-exporter (0.23), like
#                                 prom/blackbox-exporter: ENTRYPOINT /bin/blackbox_exporter, CMD
#                                 --config.file=/etc/blackbox_exporter/config.yml (upstream's example
#                                 modules: http_2xx, tcp_connect, icmp, ...), USER nobody
#   sectorwars-test/postgres-exporter:0.11
#                                 bookworm's prometheus-postgres-exporter (0.11.1), like
#                                 quay.io/prometheuscommunity/postgres-exporter: ENTRYPOINT
#                                 /bin/postgres_exporter and no CMD, USER nobody, EXPOSE 9187;
#                                 DATA_SOURCE_URI / DATA_SOURCE_USER / DATA_SOURCE_PASS_FILE
#   sectorwars-test/redis-exporter:1.45
#                                 bookworm's prometheus-redis-exporter (1.45.0), like
#                                 oliver006/redis_exporter's alpine variant: the binary at
#                                 /redis_exporter (a link to Debian's), ENTRYPOINT ["/redis_exporter"]
#                                 and no CMD, USER nobody, EXPOSE 9121; REDIS_PASSWORD_FILE
#                                 (--redis.password-file) is JSON, {"redis://HOST:PORT": "password"}
#   sectorwars-test/node-exporter:1.5
#                                 bookworm's prometheus-node-exporter (1.5.0), like
#                                 prom/node-exporter: ENTRYPOINT /bin/node_exporter and no CMD,
#                                 USER nobody, EXPOSE 9100 (the host's file systems given as
#                                 `-v /:/host:ro,rslave` and --path.rootfs=/host). Debian's build
#                                 enables the systemd collector, upstream's does not: in a
#                                 container it fails every scrape without --no-collector.systemd.
#   sectorwars-test/mtail:3.0     bookworm's mtail (3.0.0~rc50), like ghcr.io/google/mtail: the
#                                 binary at /usr/bin/mtail, ENTRYPOINT ["/usr/bin/mtail"], WORKDIR
#                                 /tmp, EXPOSE 3903, root (the official image sets no USER).
#                                 All seven have GNU wget for the health check (`wget -q -O /dev/null
#                                 http://127.0.0.1:9090/-/healthy`, the exporters' `/` on their
#                                 port) and ca-certificates, and run as nobody on a read-only root
#                                 file system, given a volume or tmpfs for a data directory.
# <<< monitoring
# >>> acme
#   sectorwars-test/lego:4.9      Debian bookworm's lego (4.9.1), shaped like goacme/lego: the binary
#                                 at /lego (a link to /usr/bin/lego), ENTRYPOINT ["/lego"] and no
#                                 CMD, run as root, with ca-certificates and /bin/sh
#   sectorwars-test/pebble:2.4    bookworm's pebble (2.4.0), Let's Encrypt's test ACME server:
#                                 /usr/bin/pebble and /usr/bin/pebble-challtestsrv, run as root,
#                                 CMD /usr/bin/pebble in WORKDIR / (so, as in letsencrypt/pebble,
#                                 the config is /test/config/pebble-config.json), EXPOSE 14000
#                                 15000, GNU wget for the health check. Debian packages neither
#                                 config nor certificates (the official image's /test/), so a test
#                                 copies in its own and the listener certificate its CA signed
#                                 (test/support/pebble.ts).
# <<< acme
#
# The bookworm images share one debootstrap'd root file system (minbase + the packages below),
# kept as a tarball in the cache directory and imported once per engine as
# sectorwars-test/base:bookworm; the images are that base with their own config (a created
# container committed with the changes: no new layer, and unlike `docker import --change` it can
# set STOPSIGNAL on Docker 20.10). The probe adds one layer, /app. Testing's root is imported as
# sectorwars-test/base:forky the same way.
#
# Every image carries a key of its inputs, and only images whose key changed are rebuilt: this
# file (all of them; it also keys the cached tarball), scripts/build-test-nginx.sh (nginx:1.30),
# probe/server.js, package.json and package-lock.json (the probe, in a second or two). When all
# are current the script returns at once. The first build takes one to three minutes.
# >>> monitoring
#
# The monitoring images share a second debootstrap'd root (minbase + MONITORING_PACKAGES), cached
# as its own tarball and imported as sectorwars-test/base:monitoring the same way; /bin/prometheus,
# /bin/promtool and /bin/amtool are Debian's (/bin is /usr/bin), /bin/alertmanager and
# /bin/{blackbox,postgres,redis,node}_exporter link to Debian's names (prometheus-<name>), and
# /redis_exporter too. It takes another minute or two the first time.
# Their key is this whole file's; the other images' keys leave out the monitoring blocks (the
# lines from a `# >>> monitoring` to the next `# <<< monitoring`, like these), so that the
# monitoring images can be added and changed without rebuilding any of the others.
# <<< monitoring
# >>> acme
#
# The ACME images share a third root (minbase + ACME_PACKAGES), cached as its own tarball and
# imported as sectorwars-test/base:acme. Their key is this whole file's; every other key, the
# monitoring images' included, reads this file without its acme blocks (from a `# >>> acme` to the
# next `# <<< acme`, like these), so that adding or changing them rebuilds nothing else. It takes
# a minute or so the first time.
# <<< acme
#
# Usage: scripts/build-test-images.sh [--cache-dir DIR] [--mirror URL] [--probe-dir DIR]
# Env:   SECTORWARS_TEST_IMAGE_CACHE (default /var/cache/sectorwars-test-images), DOCKER_HOST
# Needs: root, debootstrap, a running Docker engine, `npm ci --prefix probe` done.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_dir=${SECTORWARS_TEST_IMAGE_CACHE:-/var/cache/sectorwars-test-images}
mirror=""
probe_dir="$here/../probe"
while [ $# -gt 0 ]; do
  case $1 in
    --cache-dir) cache_dir=$2; shift 2 ;;
    --mirror) mirror=$2; shift 2 ;;
    --probe-dir) probe_dir=$2; shift 2 ;;
    *) echo "usage: $0 [--cache-dir DIR] [--mirror URL] [--probe-dir DIR]" >&2; exit 2 ;;
  esac
done

given_mirror=$mirror
SUITE=bookworm
PACKAGES=postgresql-15,pgbackrest,restic,redis-server,nginx-light,wget,curl,nodejs
BUILD_NGINX="$here/build-test-nginx.sh"
BASE_IMAGE=sectorwars-test/base:bookworm
POSTGRES_IMAGE=sectorwars-test/postgres:15
REDIS_IMAGE=sectorwars-test/redis:7
NGINX_IMAGE=sectorwars-test/nginx:1.22
FORKY_BASE_IMAGE=sectorwars-test/base:forky
MODERN_NGINX_IMAGE=sectorwars-test/nginx:1.30
PROBE_IMAGE=sectorwars-test/probe
KEY_LABEL=com.sectorwars.test-image-key
BASE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# >>> monitoring
# debootstrap takes the first of alternatives: the postgres exporter's `daemon | systemd-sysv` brings
# the small daemon, not systemd; it installs no Recommends (the node exporter's dbus, collectors).
MONITORING_PACKAGES=prometheus,prometheus-alertmanager,prometheus-blackbox-exporter,prometheus-postgres-exporter
MONITORING_PACKAGES+=,prometheus-redis-exporter,prometheus-node-exporter,mtail,wget,ca-certificates
MONITORING_BASE_IMAGE=sectorwars-test/base:monitoring
PROMETHEUS_IMAGE=sectorwars-test/prometheus:2.42
ALERTMANAGER_IMAGE=sectorwars-test/alertmanager:0.25
BLACKBOX_IMAGE=sectorwars-test/blackbox:0.23
POSTGRES_EXPORTER_IMAGE=sectorwars-test/postgres-exporter:0.11
REDIS_EXPORTER_IMAGE=sectorwars-test/redis-exporter:1.45
NODE_EXPORTER_IMAGE=sectorwars-test/node-exporter:1.5
MTAIL_IMAGE=sectorwars-test/mtail:3.0
# <<< monitoring
# >>> acme
ACME_PACKAGES=lego,pebble,wget,ca-certificates
ACME_BASE_IMAGE=sectorwars-test/base:acme
LEGO_IMAGE=sectorwars-test/lego:4.9
PEBBLE_IMAGE=sectorwars-test/pebble:2.4
# <<< acme

hash16() { cat "$@" | sha256sum | cut -c1-16; }
# >>> monitoring
# The monitoring images' key is this whole file's; every other key reads this file without its
# monitoring blocks (such as this one), so that adding or changing them leaves those keys as they are.
monitoring_key=$(hash16 "${BASH_SOURCE[0]}")
hash16() {
  local f
  for f in "$@"; do
    if [ "$f" = "${BASH_SOURCE[0]}" ]; then
      sed -e '/^[[:space:]]*# >>> monitoring$/,/^[[:space:]]*# <<< monitoring$/d' "$f"
    else
      cat "$f"
    fi
  done | sha256sum | cut -c1-16
}
# <<< monitoring
# >>> acme
# The ACME images' key is this whole file's; every other key, the monitoring images' too, reads this
# file without its acme blocks (such as this one), so that adding or changing them leaves those
# keys as they are: this monitoring_key and hash16 replace the ones above.
acme_key=$(sha256sum <"${BASH_SOURCE[0]}" | cut -c1-16)
without_acme() { sed -e '/^[[:space:]]*# >>> acme$/,/^[[:space:]]*# <<< acme$/d' "$1"; }
monitoring_key=$(without_acme "${BASH_SOURCE[0]}" | sha256sum | cut -c1-16)
hash16() {
  local f
  for f in "$@"; do
    if [ "$f" = "${BASH_SOURCE[0]}" ]; then
      without_acme "$f" | sed -e '/^[[:space:]]*# >>> monitoring$/,/^[[:space:]]*# <<< monitoring$/d'
    else
      cat "$f"
    fi
  done | sha256sum | cut -c1-16
}
# <<< acme
key=$(hash16 "${BASH_SOURCE[0]}")
forky_key=$(hash16 "${BASH_SOURCE[0]}" "$BUILD_NGINX")
for f in server.js package.json package-lock.json node_modules/.package-lock.json; do
  if [ ! -f "$probe_dir/$f" ]; then
    echo "$probe_dir/$f is missing: the probe image needs the probe installed (npm ci --prefix probe)" >&2
    exit 1
  fi
done
probe_key=$(hash16 "${BASH_SOURCE[0]}" "$probe_dir/server.js" "$probe_dir/package.json" "$probe_dir/package-lock.json")

# Each image with the key it must carry, bases before the images made from them.
IMAGES=("$BASE_IMAGE" "$POSTGRES_IMAGE" "$REDIS_IMAGE" "$NGINX_IMAGE" "$FORKY_BASE_IMAGE" "$MODERN_NGINX_IMAGE" "$PROBE_IMAGE")
# >>> monitoring
IMAGES+=("$MONITORING_BASE_IMAGE" "$PROMETHEUS_IMAGE" "$ALERTMANAGER_IMAGE" "$BLACKBOX_IMAGE")
IMAGES+=("$POSTGRES_EXPORTER_IMAGE" "$REDIS_EXPORTER_IMAGE" "$NODE_EXPORTER_IMAGE" "$MTAIL_IMAGE")
# <<< monitoring
# >>> acme
IMAGES+=("$ACME_BASE_IMAGE" "$LEGO_IMAGE" "$PEBBLE_IMAGE")
# <<< acme
wanted_key() {
  case $1 in
    "$FORKY_BASE_IMAGE" | "$MODERN_NGINX_IMAGE") echo "$forky_key" ;;
    "$PROBE_IMAGE") echo "$probe_key" ;;
    # >>> monitoring
    "$MONITORING_BASE_IMAGE" | "$PROMETHEUS_IMAGE" | "$ALERTMANAGER_IMAGE" | "$BLACKBOX_IMAGE" | \
      "$POSTGRES_EXPORTER_IMAGE" | "$REDIS_EXPORTER_IMAGE" | "$NODE_EXPORTER_IMAGE" | "$MTAIL_IMAGE") echo "$monitoring_key" ;;
    # <<< monitoring
    # >>> acme
    "$ACME_BASE_IMAGE" | "$LEGO_IMAGE" | "$PEBBLE_IMAGE") echo "$acme_key" ;;
    # <<< acme
    *) echo "$key" ;;
  esac
}
image_key() { docker image inspect --format "{{index .Config.Labels \"$KEY_LABEL\"}}" "$1" 2>/dev/null || true; }
stale_images() {
  local image
  for image in "${IMAGES[@]}"; do
    [ "$(image_key "$image")" = "$(wanted_key "$image")" ] || echo "$image"
  done
}
is_stale() { grep -qxF "$1" <<<"$stale"; }

stale=$(stale_images)
if [ -z "$stale" ]; then
  echo "test images are current ($key, $forky_key, probe $probe_key)"
  exit 0
fi

mkdir -p "$cache_dir"
# One build at a time per cache directory; the loser of a race finds the images ready.
exec 9>"$cache_dir/.lock"
flock -w 900 9
stale=$(stale_images)
if [ -z "$stale" ]; then
  echo "test images are current ($key, $forky_key, probe $probe_key), imported by a concurrent build"
  exit 0
fi

tarball="$cache_dir/rootfs-$SUITE-$key.tar"
# >>> monitoring
# Not rootfs-$SUITE-*: the clean-up of the other root's old tarballs leaves it alone.
monitoring_tarball="$cache_dir/rootfs-monitoring-$SUITE-$monitoring_key.tar"
# <<< monitoring
# >>> acme
acme_tarball="$cache_dir/rootfs-acme-$SUITE-$acme_key.tar"
# <<< acme

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

# What the official nginx image has and the edge's config relies on (planning/edge/plan.ts): a user
# nginx for the workers (`user nginx;`), the logs on the container's stdout and stderr,
# /var/cache/nginx for temp files, /etc/nginx/tls/ for the uploaded certificate. The pid file,
# /var/run/nginx.pid, needs nothing: Debian's /var/run is /run.
finish_nginx() {
  local root=$1
  chroot "$root" useradd --system --user-group --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin nginx
  mkdir -p "$root/var/cache/nginx" "$root/etc/nginx/tls" "$root/var/log/nginx"
  ln -sf /dev/stdout "$root/var/log/nginx/access.log"
  ln -sf /dev/stderr "$root/var/log/nginx/error.log"
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
  mkdir -p "$root/run/secrets" "$root/usr/local/etc/redis" "$root/data" "$root/var/lib/postgresql/data" \
    "$root/docker-entrypoint-initdb.d"
  chroot "$root" chown redis:redis /data
  chroot "$root" chown postgres:postgres /var/lib/postgresql/data
  finish_nginx "$root"
  # The probe's user, as in the official node image the probe's Dockerfile starts from.
  chroot "$root" useradd --uid 1000 --user-group --create-home --shell /bin/sh node
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
  # As the official image: a server on the socket only while the database and init files are
  # made, so nothing over TCP (the health check) sees a half-initialised cluster. A failing file
  # ends the entrypoint here, before "init process complete".
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  if [ "$db" != postgres ]; then
    createdb -U "$user" -- "$db"
  fi
  shopt -s nullglob
  for f in /docker-entrypoint-initdb.d/*; do
    case $f in
      *.sql)
        echo "$0: running $f"
        psql -v ON_ERROR_STOP=1 --username "$user" --no-password --no-psqlrc --dbname "$db" -f "$f"
        echo
        ;;
      *.sh)
        if [ -x "$f" ]; then
          echo "$0: running $f"
          "$f"
        else
          echo "$0: sourcing $f"
          # shellcheck disable=SC1090
          . "$f"
        fi
        ;;
      *) echo "$0: ignoring $f" ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
  echo "PostgreSQL init process complete; ready for start up."
else
  echo "PostgreSQL Database directory appears to contain a database; Skipping initialization"
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
}

# derive IMAGE BASE KEY [--stop-signal SIGNAL] [--app DIR] CHANGE...: IMAGE is BASE with the
# Dockerfile-style CHANGEs (CMD, ENV, USER, ...) and the label KEY, plus DIR's content as /app.
derive() {
  local image=$1 base=$2 image_key=$3
  shift 3
  local create=() app="" changes=()
  while [ $# -gt 0 ]; do
    case $1 in
      --stop-signal) create+=(--stop-signal "$2"); shift 2 ;;
      --app) app=$2; shift 2 ;;
      *) changes+=(--change "$1"); shift ;;
    esac
  done
  local helper
  helper=$(docker create "${create[@]}" "$base" true)
  if { [ -z "$app" ] || docker cp "$app/." "$helper:/app"; } &&
    docker commit "${changes[@]}" --change "LABEL $KEY_LABEL=$image_key" "$helper" "$image" >/dev/null; then
    docker rm "$helper" >/dev/null
  else
    docker rm -f "$helper" >/dev/null
    echo "building $image failed" >&2
    exit 1
  fi
}

# >>> monitoring
# The monitoring root: Debian's packages with the layout of the official Prometheus images (their
# binaries in /bin, configs in /etc/<name>/, data directories owned by nobody). Debian's systemd
# units, init scripts and the prometheus user its postinsts create stay unused. The blackbox
# exporter's file capability (cap_net_raw, set by its postinst) does not survive the tarball, as
# the official image has none: its ICMP prober uses unprivileged ping sockets.
build_monitoring_rootfs() {
  if [ -z "$mirror" ]; then
    mirror=$(configured_mirror | head -n1)
    mirror=${mirror:-http://deb.debian.org/debian}
  fi
  monitoring_root=$(mktemp -d "$cache_dir/rootfs-build.XXXXXX")
  trap 'rm -rf "$monitoring_root" "$monitoring_root.log" "$monitoring_tarball.tmp"' EXIT
  echo "debootstrap $SUITE from $mirror (packages: $MONITORING_PACKAGES)"
  local started=$SECONDS root=$monitoring_root
  if ! debootstrap --variant=minbase --include="$MONITORING_PACKAGES" "$SUITE" "$root" "$mirror" >"$root.log" 2>&1; then
    tail -n 30 "$root.log" >&2
    echo "debootstrap failed" >&2
    exit 1
  fi
  rm -f "$root.log"
  echo "debootstrap took $((SECONDS - started)) s"

  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/* "$root"/usr/share/info/*
  # bookworm's /bin is /usr/bin, so prometheus, promtool and amtool are there already.
  local name target
  for name in prometheus:prometheus promtool:promtool amtool:amtool alertmanager:prometheus-alertmanager \
    blackbox_exporter:prometheus-blackbox-exporter postgres_exporter:prometheus-postgres-exporter \
    node_exporter:prometheus-node-exporter redis_exporter:prometheus-redis-exporter mtail:mtail; do
    target=/usr/bin/${name#*:}
    name=${name%%:*}
    [ -x "$root$target" ] || { echo "$target is missing from the monitoring root" >&2; exit 1; }
    [ -e "$root/bin/$name" ] || ln -s "$target" "$root/bin/$name"
  done
  # oliver006/redis_exporter has its binary at the root.
  ln -s /usr/bin/prometheus-redis-exporter "$root/redis_exporter"
  [ -x "$root/usr/bin/wget" ] || { echo "/usr/bin/wget is missing from the monitoring root" >&2; exit 1; }
  mkdir -p "$root/prometheus" "$root/alertmanager" "$root/etc/prometheus" "$root/etc/alertmanager" \
    "$root/etc/blackbox_exporter"
  # As the official images' examples: Prometheus scrapes itself, Alertmanager has one webhook receiver.
  cat >"$root/etc/prometheus/prometheus.yml" <<'CONFIG'
global:
  scrape_interval: 15s
  evaluation_interval: 15s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ["localhost:9090"]
CONFIG
  cat >"$root/etc/alertmanager/alertmanager.yml" <<'CONFIG'
route:
  group_by: ["alertname"]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 1h
  receiver: web.hook
receivers:
  - name: web.hook
    webhook_configs:
      - url: http://127.0.0.1:5001/
CONFIG
  # Debian's example is upstream's blackbox.yml, the official image's config.yml.
  cp "$root/etc/prometheus/blackbox.yml" "$root/etc/blackbox_exporter/config.yml"
  grep -q '^  http_2xx:' "$root/etc/blackbox_exporter/config.yml"
  chown -R 65534:65534 "$root/prometheus" "$root/alertmanager" "$root/etc/prometheus" "$root/etc/alertmanager"
  : >"$root/etc/resolv.conf"
  echo sectorwars-test >"$root/etc/hostname"

  tar -C "$root" --numeric-owner -cf "$monitoring_tarball.tmp" .
  mv "$monitoring_tarball.tmp" "$monitoring_tarball"
  rm -rf "$root"
  trap - EXIT
}

# <<< monitoring
# >>> acme
# The ACME root: Debian's lego and pebble, whose binaries need nothing but libc (and lego the CA
# certificates). /lego links to Debian's /usr/bin/lego, where goacme/lego has its binary; /test/
# is where letsencrypt/pebble keeps its config and certificates, empty here.
build_acme_rootfs() {
  if [ -z "$mirror" ]; then
    mirror=$(configured_mirror | head -n1)
    mirror=${mirror:-http://deb.debian.org/debian}
  fi
  acme_root=$(mktemp -d "$cache_dir/rootfs-build.XXXXXX")
  trap 'rm -rf "$acme_root" "$acme_root.log" "$acme_tarball.tmp"' EXIT
  echo "debootstrap $SUITE from $mirror (packages: $ACME_PACKAGES)"
  local started=$SECONDS root=$acme_root
  if ! debootstrap --variant=minbase --include="$ACME_PACKAGES" "$SUITE" "$root" "$mirror" >"$root.log" 2>&1; then
    tail -n 30 "$root.log" >&2
    echo "debootstrap failed" >&2
    exit 1
  fi
  rm -f "$root.log"
  echo "debootstrap took $((SECONDS - started)) s"

  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/* "$root"/usr/share/info/*
  local binary
  for binary in /usr/bin/lego /usr/bin/pebble /usr/bin/pebble-challtestsrv /usr/bin/wget /etc/ssl/certs/ca-certificates.crt; do
    [ -e "$root$binary" ] || { echo "$binary is missing from the acme root" >&2; exit 1; }
  done
  ln -s /usr/bin/lego "$root/lego"
  mkdir -p "$root/test/config" "$root/test/certs"
  : >"$root/etc/resolv.conf"
  echo sectorwars-test >"$root/etc/hostname"

  tar -C "$root" --numeric-owner -cf "$acme_tarball.tmp" .
  mv "$acme_tarball.tmp" "$acme_tarball"
  rm -rf "$root"
  trap - EXIT
}

# <<< acme
nginx_changes=('CMD ["nginx", "-g", "daemon off;"]' 'EXPOSE 80 443')
built=()
# The versions about to be replaced, newest layers first: removed at the end if nothing uses them
# any more, or every rebuild would leave an untagged copy behind on the engine.
replaced=()
while read -r image; do
  id=$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null) && replaced=("$id" "${replaced[@]}")
done <<<"$stale"

if is_stale "$BASE_IMAGE"; then
  if [ -s "$tarball" ]; then
    echo "using cached root file system $tarball"
  else
    build_rootfs
    # Tarballs of other keys are left for a day: another checkout sharing the cache may use one.
    find "$cache_dir" -maxdepth 1 -name "rootfs-$SUITE-*.tar" ! -name "rootfs-$SUITE-$key.tar" -mmin +1440 -delete
  fi
  touch "$tarball"
  docker import --change "ENV PATH=$BASE_PATH" --change 'ENV LANG=C.UTF-8' --change "LABEL $KEY_LABEL=$key" \
    "$tarball" "$BASE_IMAGE" >/dev/null
  built+=("$BASE_IMAGE")
fi
if is_stale "$POSTGRES_IMAGE"; then
  derive "$POSTGRES_IMAGE" "$BASE_IMAGE" "$key" --stop-signal SIGINT \
    "ENV PATH=/usr/lib/postgresql/15/bin:$BASE_PATH" 'ENV PGDATA=/var/lib/postgresql/data' \
    'ENTRYPOINT ["docker-entrypoint.sh"]' 'CMD ["postgres"]' 'EXPOSE 5432'
  built+=("$POSTGRES_IMAGE")
fi
if is_stale "$REDIS_IMAGE"; then
  derive "$REDIS_IMAGE" "$BASE_IMAGE" "$key" \
    'WORKDIR /data' 'ENTRYPOINT ["redis-entrypoint.sh"]' 'CMD ["redis-server"]' 'EXPOSE 6379'
  built+=("$REDIS_IMAGE")
fi
if is_stale "$NGINX_IMAGE"; then
  derive "$NGINX_IMAGE" "$BASE_IMAGE" "$key" --stop-signal SIGQUIT "${nginx_changes[@]}"
  built+=("$NGINX_IMAGE")
fi

if is_stale "$FORKY_BASE_IMAGE"; then
  # The root the host tests run Debian testing's nginx from (built there once), copied, so that
  # the image's changes never touch it.
  # Its own default mirror unless one was given: the one configured for bookworm may not carry testing.
  nginx_args=(--cache-dir "$cache_dir")
  [ -z "$given_mirror" ] || nginx_args+=(--mirror "$given_mirror")
  wrapper=$(bash "$BUILD_NGINX" "${nginx_args[@]}" | tail -n1)
  copy=$(mktemp -d "$cache_dir/forky-image.XXXXXX")
  trap 'rm -rf "$copy"' EXIT
  cp -a "$(dirname "$wrapper")/." "$copy/"
  rm -f "$copy/nginx"
  finish_nginx "$copy"
  tar -C "$copy" --numeric-owner -c . |
    docker import --change "ENV PATH=$BASE_PATH" --change 'ENV LANG=C.UTF-8' \
      --change "LABEL $KEY_LABEL=$forky_key" - "$FORKY_BASE_IMAGE" >/dev/null
  rm -rf "$copy"
  trap - EXIT
  built+=("$FORKY_BASE_IMAGE")
fi
if is_stale "$MODERN_NGINX_IMAGE"; then
  derive "$MODERN_NGINX_IMAGE" "$FORKY_BASE_IMAGE" "$forky_key" --stop-signal SIGQUIT "${nginx_changes[@]}"
  built+=("$MODERN_NGINX_IMAGE")
fi

if is_stale "$PROBE_IMAGE"; then
  # The probe's files only: the repo's other files and the host's caches stay out of the image.
  app=$(mktemp -d)
  trap 'rm -rf "$app"' EXIT
  cp -a "$probe_dir/server.js" "$probe_dir/package.json" "$probe_dir/package-lock.json" "$probe_dir/node_modules" "$app/"
  chmod -R a+rX,go-w "$app"
  derive "$PROBE_IMAGE" "$BASE_IMAGE" "$probe_key" --app "$app" \
    'USER node' 'WORKDIR /app' 'ENV NODE_ENV=production' 'ENV PORT=8000' 'ENV HOST=0.0.0.0' 'EXPOSE 8000' \
    'CMD ["node", "/app/server.js"]'
  rm -rf "$app"
  trap - EXIT
  built+=("$PROBE_IMAGE")
fi
# >>> monitoring
if is_stale "$MONITORING_BASE_IMAGE"; then
  if [ -s "$monitoring_tarball" ]; then
    echo "using cached root file system $monitoring_tarball"
  else
    build_monitoring_rootfs
    find "$cache_dir" -maxdepth 1 -name "rootfs-monitoring-$SUITE-*.tar" \
      ! -name "rootfs-monitoring-$SUITE-$monitoring_key.tar" -mmin +1440 -delete
  fi
  touch "$monitoring_tarball"
  docker import --change "ENV PATH=$BASE_PATH" --change 'ENV LANG=C.UTF-8' \
    --change "LABEL $KEY_LABEL=$monitoring_key" "$monitoring_tarball" "$MONITORING_BASE_IMAGE" >/dev/null
  built+=("$MONITORING_BASE_IMAGE")
fi
if is_stale "$PROMETHEUS_IMAGE"; then
  derive "$PROMETHEUS_IMAGE" "$MONITORING_BASE_IMAGE" "$monitoring_key" \
    'USER nobody' 'WORKDIR /prometheus' 'EXPOSE 9090' 'VOLUME ["/prometheus"]' 'ENTRYPOINT ["/bin/prometheus"]' \
    'CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]'
  built+=("$PROMETHEUS_IMAGE")
fi
if is_stale "$ALERTMANAGER_IMAGE"; then
  derive "$ALERTMANAGER_IMAGE" "$MONITORING_BASE_IMAGE" "$monitoring_key" \
    'USER nobody' 'WORKDIR /alertmanager' 'EXPOSE 9093' 'VOLUME ["/alertmanager"]' \
    'ENTRYPOINT ["/bin/alertmanager"]' \
    'CMD ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"]'
  built+=("$ALERTMANAGER_IMAGE")
fi
if is_stale "$BLACKBOX_IMAGE"; then
  derive "$BLACKBOX_IMAGE" "$MONITORING_BASE_IMAGE" "$monitoring_key" \
    'USER nobody' 'EXPOSE 9115' 'ENTRYPOINT ["/bin/blackbox_exporter"]' \
    'CMD ["--config.file=/etc/blackbox_exporter/config.yml"]'
  built+=("$BLACKBOX_IMAGE")
fi
# The exporters have no CMD, as upstream's images: `docker run IMAGE --flag ...` gives the flags.
if is_stale "$POSTGRES_EXPORTER_IMAGE"; then
  derive "$POSTGRES_EXPORTER_IMAGE" "$MONITORING_BASE_IMAGE" "$monitoring_key" \
    'USER nobody' 'EXPOSE 9187' 'ENTRYPOINT ["/bin/postgres_exporter"]' 'CMD []'
  built+=("$POSTGRES_EXPORTER_IMAGE")
fi
if is_stale "$REDIS_EXPORTER_IMAGE"; then
  derive "$REDIS_EXPORTER_IMAGE" "$MONITORING_BASE_IMAGE" "$monitoring_key" \
    'USER nobody' 'EXPOSE 9121' 'ENTRYPOINT ["/redis_exporter"]' 'CMD []'
  built+=("$REDIS_EXPORTER_IMAGE")
fi
if is_stale "$NODE_EXPORTER_IMAGE"; then
  derive "$NODE_EXPORTER_IMAGE" "$MONITORING_BASE_IMAGE" "$monitoring_key" \
    'USER nobody' 'EXPOSE 9100' 'ENTRYPOINT ["/bin/node_exporter"]' 'CMD []'
  built+=("$NODE_EXPORTER_IMAGE")
fi
if is_stale "$MTAIL_IMAGE"; then
  derive "$MTAIL_IMAGE" "$MONITORING_BASE_IMAGE" "$monitoring_key" \
    'WORKDIR /tmp' 'EXPOSE 3903' 'ENTRYPOINT ["/usr/bin/mtail"]' 'CMD []'
  built+=("$MTAIL_IMAGE")
fi
# <<< monitoring
# >>> acme
if is_stale "$ACME_BASE_IMAGE"; then
  if [ -s "$acme_tarball" ]; then
    echo "using cached root file system $acme_tarball"
  else
    build_acme_rootfs
    find "$cache_dir" -maxdepth 1 -name "rootfs-acme-$SUITE-*.tar" \
      ! -name "rootfs-acme-$SUITE-$acme_key.tar" -mmin +1440 -delete
  fi
  touch "$acme_tarball"
  docker import --change "ENV PATH=$BASE_PATH" --change 'ENV LANG=C.UTF-8' \
    --change "LABEL $KEY_LABEL=$acme_key" "$acme_tarball" "$ACME_BASE_IMAGE" >/dev/null
  built+=("$ACME_BASE_IMAGE")
fi
if is_stale "$LEGO_IMAGE"; then
  # No CMD, as goacme/lego: `docker run IMAGE --help`, `docker run IMAGE run ...`.
  derive "$LEGO_IMAGE" "$ACME_BASE_IMAGE" "$acme_key" 'ENTRYPOINT ["/lego"]' 'CMD []'
  built+=("$LEGO_IMAGE")
fi
if is_stale "$PEBBLE_IMAGE"; then
  derive "$PEBBLE_IMAGE" "$ACME_BASE_IMAGE" "$acme_key" \
    'WORKDIR /' 'EXPOSE 14000 15000' 'CMD ["/usr/bin/pebble"]'
  built+=("$PEBBLE_IMAGE")
fi
# <<< acme
for id in "${replaced[@]}"; do
  if [ "$(docker image inspect --format '{{len .RepoTags}}' "$id" 2>/dev/null)" = 0 ]; then
    docker rmi "$id" >/dev/null 2>&1 || true
  fi
done
echo "built ${built[*]} ($key, $forky_key, probe $probe_key)"
