/**
 * Where each stateful service of a swarm stack lives: the nexus database, Redis and every
 * region's database, retired regions included (their volume stays on its node, and the region
 * comes back there). A data volume is local to its node, so a database that moved would start
 * on an empty volume: placement must never change for a unit that has been placed.
 *
 * The rule: a unit's explicit swarm.placement entry, else swarm.homeNode (implied while the
 * cluster has one node). A unit's node therefore depends on its own entry and on one named node,
 * never on the other regions, their slots, sizes or states, nor on the order or number of nodes:
 * adding regions (in any slot order), retiring them, adding nodes or reordering them moves
 * nothing.
 *
 * Why no spreading planner: any rule that spreads unpinned databases over several nodes by
 * itself (first fit by slot, most headroom, hashing ids over nodes) makes one region's node depend
 * on the others or on the node list. A plan is made from the config alone, which does not say
 * which regions or nodes existed at the last deploy; so a region added with a lower slot than
 * existing ones, a resize, a retirement or a new node would move databases off their volumes,
 * and nothing could tell. Once a second node exists, the config must say where unpinned units
 * live (homeNode); spreading is done by pinning each new region where `npm run capacity` shows room.
 */
import type { PlatformConfig } from "../config/resolve";
import type { SwarmSettings } from "./config";

/** A unit of state: its volume lives on one node. */
export type StatefulUnit =
  { kind: "nexus" } | { kind: "redis" } | { kind: "monitoring" } | { kind: "region"; id: string };

export interface Placement {
  nexus: string;
  redis: string;
  /** Prometheus's and Alertmanager's node (their volumes); none without sectorwars:monitoring. */
  monitoring?: string;
  /** Every region of the config, retired ones included. */
  regions: Record<string, string>;
}

/** What the units of a stack depend on: its regions, and whether it runs monitoring. */
type UnitConfig = Pick<PlatformConfig, "regions"> & { monitoring?: { enabled: boolean } };

export const unitName = (u: StatefulUnit): string => (u.kind === "region" ? `region ${u.id}` : u.kind);

/** The units of a stack: the nexus database, Redis, the monitoring when on, and each region in config order. */
export function statefulUnits(config: UnitConfig): StatefulUnit[] {
  return [
    { kind: "nexus" },
    { kind: "redis" },
    ...(config.monitoring?.enabled ? [{ kind: "monitoring" as const }] : []),
    ...config.regions.map((r) => ({ kind: "region" as const, id: r.id })),
  ];
}

function pinOf(swarm: SwarmSettings, u: StatefulUnit): string | undefined {
  return u.kind === "region" ? swarm.placement.regions[u.id] : swarm.placement[u.kind];
}

/** The node that holds units without a placement entry: homeNode, or the only node. */
export function homeNodeOf(swarm: SwarmSettings): string | undefined {
  if (swarm.homeNode !== undefined) return swarm.homeNode;
  return swarm.nodes.length === 1 ? swarm.nodes[0]?.name : undefined;
}

/**
 * The node of every unit, or the problem that stops the plan: units without a placement entry
 * on a cluster of several nodes and no homeNode.
 */
export function placeUnits(
  config: UnitConfig,
  swarm: SwarmSettings,
): { placement: Placement } | { problem: { path: PropertyKey[]; message: string } } {
  const home = homeNodeOf(swarm);
  const units = statefulUnits(config);
  const unpinned = units.filter((u) => pinOf(swarm, u) === undefined);
  if (home === undefined && unpinned.length > 0) {
    return {
      problem: {
        path: ["swarm", "homeNode"],
        message:
          `required with ${swarm.nodes.length} nodes: ${unpinned.map(unitName).join(", ")} ` +
          `${unpinned.length === 1 ? "has" : "have"} no swarm.placement entry. Name the node their data volumes are on ` +
          "(while the cluster had one node, that node): a plan made from the config alone cannot tell which node " +
          "was there first, and a wrong guess starts a database on an empty volume",
      },
    };
  }
  const nodeOf = (u: StatefulUnit): string => pinOf(swarm, u) ?? (home as string);
  return {
    placement: {
      nexus: nodeOf({ kind: "nexus" }),
      redis: nodeOf({ kind: "redis" }),
      ...(config.monitoring?.enabled ? { monitoring: nodeOf({ kind: "monitoring" }) } : {}),
      regions: Object.fromEntries(config.regions.map((r) => [r.id, nodeOf({ kind: "region", id: r.id })])),
    },
  };
}

/** The node a unit was placed on; undefined for a region the config does not have. */
export const placedNode = (placement: Placement, u: StatefulUnit): string | undefined =>
  u.kind === "region" ? placement.regions[u.id] : placement[u.kind];

/**
 * The DOCKER_HOST that reaches a node's own engine: its dockerHost, or undefined for the node that
 * goes without one (the engine the caller's DOCKER_HOST reaches, the provider's).
 */
export const nodeDockerHost = (
  swarm: { nodes: readonly { name: string; dockerHost?: string }[] },
  node: string | undefined,
): string | undefined => swarm.nodes.find((n) => n.name === node)?.dockerHost;

/**
 * Each node's engine once, as DOCKER_HOST values: its dockerHost, or "default" (the engine the
 * caller's DOCKER_HOST reaches) for the node that may leave it unset (the provider's). What
 * backups and status ask to find every task's container on the node that runs it.
 */
export function nodeHosts(nodes: readonly { dockerHost?: string }[]): string[] {
  return [...new Set(nodes.map((n) => n.dockerHost ?? "default"))];
}

/** Placement constraint that pins a task to a node by its host name. */
export const pinConstraint = (node: string): string => `node.hostname == ${node}`;

/**
 * The cluster and its placement, for a config parseConfig has accepted: it refuses a swarm stack
 * without sectorwars:swarm or with a unit it cannot place, so either here is a program error.
 */
export function acceptedPlacement(config: UnitConfig & Pick<PlatformConfig, "swarm">): {
  swarm: SwarmSettings;
  placement: Placement;
} {
  const { swarm } = config;
  if (swarm === null) throw new Error("swarm mode without sectorwars:swarm: parseConfig lets none through");
  const placed = placeUnits(config, swarm);
  if ("problem" in placed) throw new Error(`placement: ${placed.problem.message}`);
  return { swarm, placement: placed.placement };
}
