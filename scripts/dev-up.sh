#!/usr/bin/env bash
# Deploys the dev stack: Pulumi's local file backend (state in ./.pulumi-state), the local Docker
# socket, the repo's probe standing in for the game's services. Safe to run again: a second run
# with nothing changed proposes no change. Extra arguments go to `pulumi up` (e.g. --yes).
set -euo pipefail
cd "$(dirname "$0")/.."

# The CLI on PATH, else an engine built from source where the real-engine tests look for it (DEVELOPERS.md).
engine_dir=${SECTORWARS_PULUMI_ENGINE:-/var/cache/pulumi-engine/bin}
if ! command -v pulumi >/dev/null && [ -x "$engine_dir/pulumi" ]; then export PATH="$engine_dir:$PATH"; fi
command -v pulumi >/dev/null || { echo "Install the Pulumi CLI first: https://www.pulumi.com/docs/install/" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "Docker is not reachable: start it, or set DOCKER_HOST" >&2; exit 1; }
[ -f node_modules/.package-lock.json ] && [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund --loglevel=error

mkdir -p .pulumi-state
export PULUMI_BACKEND_URL="file://$PWD/.pulumi-state"
# The dev stack's secrets are only its generated passwords; an empty passphrase keeps it one command.
# Set PULUMI_CONFIG_PASSPHRASE yourself to encrypt them with a real one.
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE-}"
pulumi stack select dev 2>/dev/null || pulumi stack init dev
pulumi up --stack dev "$@"
