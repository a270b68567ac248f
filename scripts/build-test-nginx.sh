#!/usr/bin/env bash
# Builds the nginx >= 1.27.3 that the upstream-keepalive tests run (test/nginx.keepalive.test.ts):
# `server name:port resolve` in an upstream block needs it, and Debian bookworm ships 1.22.
# The same root is the file system of the test image sectorwars-test/nginx:1.30
# (scripts/build-test-images.sh), hence wget, which the edge's container health check runs.
# Debian testing's (forky) nginx package is installed into a debootstrap'd root file system (testing,
# not sid: a package reaches testing only once it installs cleanly); its binary
# needs that glibc, so it is started through the root's own dynamic loader and libraries
# (<root>/nginx, a wrapper) rather than in a chroot: the tests' config, certificate and log
# paths stay the host's, as they are for Debian's nginx.
#
# The root is kept in the cache directory, keyed by this file's hash, and built once (about a
# minute); concurrent runs wait on a lock and reuse it. Prints the wrapper's path.
#
# Usage: scripts/build-test-nginx.sh [--cache-dir DIR] [--mirror URL]
# Env:   SECTORWARS_TEST_IMAGE_CACHE (default /var/cache/sectorwars-test-images)
# Needs: root, debootstrap, network access to the Debian mirror (on the first run).
set -euo pipefail

cache_dir=${SECTORWARS_TEST_IMAGE_CACHE:-/var/cache/sectorwars-test-images}
mirror=http://deb.debian.org/debian
while [ $# -gt 0 ]; do
  case $1 in
    --cache-dir) cache_dir=$2; shift 2 ;;
    --mirror) mirror=$2; shift 2 ;;
    *) echo "usage: $0 [--cache-dir DIR] [--mirror URL]" >&2; exit 2 ;;
  esac
done

SUITE=forky
key=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)
root="$cache_dir/nginx-$SUITE-$key"
wrapper="$root/nginx"

if [ -x "$wrapper" ]; then
  touch "$root"
  echo "$wrapper"
  exit 0
fi

mkdir -p "$cache_dir"
# One build at a time per cache directory; the loser of a race finds the root ready.
exec 9>"$cache_dir/.nginx-lock"
flock -w 900 9
if [ -x "$wrapper" ]; then
  echo "$wrapper"
  exit 0
fi

build=$(mktemp -d "$cache_dir/nginx-build.XXXXXX")
# Removes the half-built tree whatever happens; the root only appears, by rename, once complete.
trap 'rm -rf "$build" "$build.log"' EXIT
echo "debootstrap $SUITE from $mirror (packages: nginx, wget)" >&2
started=$SECONDS
# bookworm's debootstrap has no script named forky; sid's is the one every newer suite uses.
if ! debootstrap --variant=minbase --include=nginx,wget "$SUITE" "$build" "$mirror" /usr/share/debootstrap/scripts/sid >"$build.log" 2>&1; then
  tail -n 30 "$build.log" >&2
  echo "debootstrap of Debian $SUITE failed: the keepalive tests need nginx >= 1.27.3 from it" >&2
  exit 1
fi
echo "debootstrap took $((SECONDS - started)) s" >&2
# Only the binary and its libraries are used: apt's caches, documentation and the device nodes
# debootstrap made (which a CI cache of this directory could not restore) are dead weight.
rm -rf "${build:?}"/var/cache/apt/archives/*.deb "${build:?}"/var/lib/apt/lists/* \
  "${build:?}"/usr/share/doc/* "${build:?}"/usr/share/man/* "${build:?}"/usr/share/locale/* "${build:?}"/dev/*
# mktemp made it 0700: the loader and libraries must be readable by whoever runs the tests.
chmod 755 "$build"

# The loader and library directory by their real paths inside the root: merged-/usr symlinks
# such as /lib64 may be absolute and would lead back to the host's (older) glibc.
libdir=$(find "$build/usr/lib" -mindepth 1 -maxdepth 1 -type d -name '*-linux-gnu*' -printf '%f\n' | head -n1)
arch=$libdir
loader=""
[ -n "$arch" ] && loader=$(find "$build/usr/lib/$arch" -mindepth 1 -maxdepth 1 -name 'ld-linux*.so.*' -printf '%f\n' | head -n1)
if [ -z "$arch" ] || [ -z "$loader" ]; then
  echo "no dynamic loader under $build/usr/lib" >&2
  exit 1
fi
final_lib="$root/usr/lib/$arch"
cat >"$build/nginx" <<WRAPPER
#!/bin/sh
# Debian $SUITE's nginx with its own glibc and libraries (built by scripts/build-test-nginx.sh).
exec "$final_lib/$loader" --library-path "$final_lib" "$root/usr/sbin/nginx" "\$@"
WRAPPER
chmod 755 "$build/nginx"
mv "$build" "$root"
trap - EXIT
rm -f "$build.log"
# Roots of other keys are left for a day: another checkout sharing the cache may still run one.
find "$cache_dir" -maxdepth 1 -name "nginx-$SUITE-*" ! -name "nginx-$SUITE-$key" -mmin +1440 -exec rm -rf {} +
"$wrapper" -v >&2
echo "$wrapper"
