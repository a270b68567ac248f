/**
 * The docker CLI across a swarm's nodes, for the tools that find containers by label and then
 * work in them (the backup script, `npm run restore`): a `docker` wrapper put first on their PATH.
 * They run unchanged, with the same manifests and exit codes, while each container is reached on
 * the node that runs it:
 *
 * - `docker ps ...` asks every node's engine (SECTORWARS_SWARM_NODES: their DOCKER_HOST values,
 *   space-separated) and prints the answers one after the other. It lists running containers
 *   only: a service's earlier tasks linger as exited containers (swarm keeps a task history),
 *   and they are not the service. It remembers which node each container is on.
 * - Any other command goes to the node of the first argument that names a listed container, else
 *   to the first node (the manager: `docker version`, say).
 *
 * The wrapper is bash text (installed into a temporary directory by the command that uses it);
 * it reads nothing but its arguments and those two variables, and writes only its map file.
 */
import { shellQuote } from "../shell";

export const NODES_ENV = "SECTORWARS_SWARM_NODES";

export function swarmDockerWrapper(): string {
  return `#!/usr/bin/env bash
# docker across the swarm's nodes (planning/swarm/nodeDocker.ts).
set -euo pipefail
real=\${SECTORWARS_REAL_DOCKER:?}
map=\${SECTORWARS_SWARM_MAP:?}
read -r -a nodes <<<"\${${NODES_ENV}:?}"
# "default": the engine the caller's own DOCKER_HOST (or the local socket) reaches.
on() {
  local host=$1; shift
  if [ "$host" = default ]; then host=\${SECTORWARS_DEFAULT_DOCKER_HOST:-}; fi
  DOCKER_HOST=$host "$real" "$@"
}
if [ "\${1:-}" = ps ]; then
  shift
  args=()
  for a in "$@"; do
    case $a in -a|--all) ;; *) args+=("$a") ;; esac
  done
  : >"$map.new"
  for host in "\${nodes[@]}"; do
    on "$host" ps --filter status=running --format '{{.ID}} {{.Names}}' | while read -r id name; do
      printf '%s %s\\n%s %s\\n' "$id" "$host" "$name" "$host" >>"$map.new"
    done
    on "$host" ps --filter status=running "\${args[@]}"
  done
  cat "$map.new" >>"$map"
  rm -f "$map.new"
  exit 0
fi
target=\${nodes[0]}
for a in "$@"; do
  found=$(awk -v n="$a" '$1 == n { print $2; exit }' "$map")
  if [ -n "$found" ]; then target=$found; break; fi
done
on "$target" "$@"
`;
}

/**
 * Each node's engine once, as the wrapper takes them: its dockerHost, or "default" (the engine
 * the caller reaches) for the one node that may leave it unset (the provider's).
 */
export function nodeHosts(nodes: readonly { dockerHost?: string }[]): string[] {
  return [...new Set(nodes.map((n) => n.dockerHost ?? "default"))];
}

/**
 * `command` run with the wrapper first on its PATH, across `hosts` (each node's DOCKER_HOST).
 * The wrapper and its map live in a temporary directory removed afterwards; the exit status is
 * the command's.
 */
export function acrossNodes(command: string, hosts: readonly string[]): string {
  if (hosts.length === 0) throw new Error("acrossNodes needs at least one node");
  return [
    "set -e",
    "w=$(mktemp -d); trap 'rm -rf \"$w\"' EXIT",
    `printf '%s' ${shellQuote(swarmDockerWrapper())} >"$w/docker"`,
    'chmod 755 "$w/docker"; : >"$w/map"',
    'SECTORWARS_REAL_DOCKER=$(command -v docker) || { echo "docker is not on PATH" >&2; exit 1; }',
    'export SECTORWARS_DEFAULT_DOCKER_HOST="${DOCKER_HOST:-}"',
    `${NODES_ENV}=${shellQuote(hosts.join(" "))} SECTORWARS_SWARM_MAP="$w/map" SECTORWARS_REAL_DOCKER="$SECTORWARS_REAL_DOCKER" PATH="$w:$PATH" ${command}`,
  ].join("\n");
}
