#!/usr/bin/env bash
# Builds sectorwars-test/cadvisor:0.61, the tests' stand-in for ghcr.io/google/cadvisor:v0.61.1,
# on the engine DOCKER_HOST names; run after scripts/build-test-images.sh (its monitoring base).
#
#   bash scripts/build-cadvisor-image.sh --cache-dir DIR
#
# cAdvisor is not in Debian, and its command module (github.com/google/cadvisor/cmd) is not served
# by the Go module proxy; its library is (github.com/google/cadvisor and .../lib, v0.61.1). So
# test/support/cadvisor/main.go is a small main that mirrors upstream's cmd/cadvisor.go: the same
# flags, container plugins, metrics and /healthz; none of its web UI or REST API, which nothing
# here reads. The binary (static, Go from /usr/local/go) is cached in DIR by the key of its
# sources; the image is Debian's monitoring base (wget for the health check, as the official
# alpine image has), the binary at /usr/bin/cadvisor, ENTRYPOINT ["/usr/bin/cadvisor",
# "-logtostderr"] like upstream's, root, EXPOSE 8080.
set -euo pipefail

cache_dir=
while [ $# -gt 0 ]; do
  case $1 in
    --cache-dir) cache_dir=$2; shift 2 ;;
    *) echo "usage: $0 --cache-dir DIR" >&2; exit 2 ;;
  esac
done
[ -n "$cache_dir" ] || { echo "usage: $0 --cache-dir DIR" >&2; exit 2; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
src=$here/test/support/cadvisor
IMAGE=sectorwars-test/cadvisor:0.61
BASE=sectorwars-test/base:monitoring
VERSION=v0.61.1
KEY_LABEL=com.sectorwars.test-image-key
key=$(cat "${BASH_SOURCE[0]}" "$src/main.go" "$src/go.mod" "$src/go.sum" | sha256sum | cut -c1-16)

current=$(docker image inspect --format "{{index .Config.Labels \"$KEY_LABEL\"}}" "$IMAGE" 2>/dev/null || true)
if [ "$current" = "$key" ]; then
  echo "cadvisor image is current ($key)"
  exit 0
fi
docker image inspect "$BASE" >/dev/null 2>&1 || { echo "$BASE is missing: run scripts/build-test-images.sh first" >&2; exit 1; }

mkdir -p "$cache_dir"
exec 9>"$cache_dir/.cadvisor.lock"
flock -w 900 9
binary=$cache_dir/cadvisor-$key
if [ ! -x "$binary" ]; then
  # CI runs without a login shell's PATH: Go is where this machine installs it.
  export PATH=/usr/local/go/bin:$PATH
  command -v go >/dev/null || { echo "go is not installed (/usr/local/go/bin): cannot build cAdvisor" >&2; exit 1; }
  started=$(date +%s)
  (
    cd "$src"
    GOMODCACHE=$cache_dir/go/mod GOCACHE=$cache_dir/go/build GOTOOLCHAIN=local GOFLAGS="-modcacherw -buildvcs=false" \
      CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/google/cadvisor/lib/version.Version=$VERSION -X github.com/google/cadvisor/lib/version.Revision=sectorwars-test" \
      -o "$binary.tmp" .
  )
  mv "$binary.tmp" "$binary"
  echo "built cAdvisor $VERSION in $(($(date +%s) - started)) s"
fi

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
cp "$binary" "$context/cadvisor"
cat >"$context/Dockerfile" <<EOF
FROM $BASE
COPY cadvisor /usr/bin/cadvisor
LABEL $KEY_LABEL=$key
USER root
EXPOSE 8080
ENTRYPOINT ["/usr/bin/cadvisor", "-logtostderr"]
CMD []
EOF
# The classic builder: FROM a local image, nothing pulled, no buildx plugin needed.
DOCKER_BUILDKIT=0 docker build -q -t "$IMAGE" "$context" >/dev/null
echo "built $IMAGE ($key)"
