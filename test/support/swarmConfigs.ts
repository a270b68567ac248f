/**
 * Swarm stack configs for tests: the dev stack file's regions and sizes on a cluster of nodes.
 */
import { readStackFile } from "./pulumi";

export type TestNode = {
  name: string;
  cpus: number;
  memoryGb: number;
  edge?: boolean;
  labels?: Record<string, string>;
  dockerHost?: string;
};

/**
 * Three nodes: the first (the provider's engine, so no dockerHost) runs the edge; the dev
 * regions' databases go on the other two, reached over ssh.
 */
export const THREE_NODES: TestNode[] = [
  { name: "node-1", cpus: 8, memoryGb: 16, edge: true, labels: { zone: "a" } },
  { name: "node-2", cpus: 8, memoryGb: 16, labels: { zone: "b" }, dockerHost: "ssh://ops@node-2" },
  { name: "node-3", cpus: 8, memoryGb: 16, labels: { zone: "c" }, dockerHost: "ssh://ops@node-3" },
];

/** Registry images: a local build exists on the manager only, which a cluster refuses. */
export const REGISTRY_IMAGES = {
  gameserver: "registry.example/sectorwars/gameserver:1.0.0",
  adminUi: "registry.example/sectorwars/admin-ui:1.0.0",
  playerUi: "registry.example/sectorwars/player-client:1.0.0",
  paypal: "registry.example/sectorwars/paypal-service:1.0.0",
};

/** The dev stack in swarm mode on `nodes`, with its own extra swarm settings. */
export function swarmDevConfig(
  nodes: readonly TestNode[] = THREE_NODES,
  swarm: Record<string, unknown> = {
    homeNode: "node-1",
    placement: { regions: { default: "node-2", orion: "node-3" } },
  },
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    ...readStackFile("dev"),
    "sectorwars:orchestrator": "swarm",
    "sectorwars:images": REGISTRY_IMAGES,
    "sectorwars:swarm": { nodes, ...swarm },
    ...extra,
  };
}
