/**
 * The program's mocked resource graph as a graph of waits for bench/criticalPath.ts: every custom
 * resource the program registers is a node, its recorded dependencies (dependsOn and the outputs
 * it uses) are its edges, and its duration is what the bench measured for its kind (a container:
 * create until healthy, since the provider waits for health; a command: its run) or an estimate
 * that says so. A resource of a kind the bench has no figure for is refused, so a new kind in
 * the program cannot silently count as free.
 */
import { LABEL_ROLE } from "../planning/topology";
import { labelsOf } from "../test/support/graph";
import {
  COMMAND,
  CONTAINER,
  NETWORK,
  PASSWORD,
  type ProgramRun,
  type RegisteredResource,
  VOLUME,
} from "../test/support/pulumi";
import { type CriticalPath, type PathNode, criticalPath } from "./criticalPath";

/** The custom resource of that name (a component may share it: the edge container and its EdgeProxy). */
export function declared(program: ProgramRun, name: string): RegisteredResource {
  const found = program.resources.filter((r) => r.custom && r.name === name);
  if (found.length !== 1) throw new Error(`expected one custom resource named "${name}", found ${found.length}`);
  return found[0] as RegisteredResource;
}

/** Container kinds with their own create-to-healthy figure. */
export const CONTAINER_KINDS = ["postgres", "redis", "edge", "game-api", "web-app"] as const;
export type ContainerKind = (typeof CONTAINER_KINDS)[number];

const KIND_OF_ROLE: Readonly<Record<string, ContainerKind>> = {
  "nexus-db": "postgres",
  "region-db": "postgres",
  redis: "redis",
  nginx: "edge",
  "nexus-api": "game-api",
  "region-api": "game-api",
  "admin-ui": "web-app",
  "player-ui": "web-app",
  paypal: "web-app",
};

export type StepKind =
  ContainerKind | "backup" | "password-sync" | "edge-reload" | "network" | "volume" | "image" | "generated";

export interface Duration {
  ms: number;
  /** Measured by this bench run, or an estimate (the note says what it rests on). */
  source: "measured" | "estimate";
  note?: string;
}

export type Durations = Record<StepKind, Duration>;

/** Which figure a registered resource takes; throws for a kind the bench has none for. */
function stepKindOf(r: RegisteredResource): StepKind {
  switch (r.type) {
    case CONTAINER: {
      const role = labelsOf(r)[LABEL_ROLE] ?? "";
      const kind = KIND_OF_ROLE[role];
      if (!kind) throw new Error(`container ${r.name} has role "${role}", which the bring-up bench has no figure for`);
      return kind;
    }
    case COMMAND:
      if (r.name === "backups-run") return "backup";
      if (r.name.endsWith("-db-password-sync")) return "password-sync";
      if (r.name === "edge-reload") return "edge-reload";
      throw new Error(`command ${r.name}: the bring-up bench has no figure for it (measure it in bench/bringup.ts)`);
    case NETWORK:
      return "network";
    case VOLUME:
      return "volume";
    case "docker:index/remoteImage:RemoteImage":
    case "docker:index/image:Image":
      return "image";
    case PASSWORD:
    case "tls:index/privateKey:PrivateKey":
    case "tls:index/selfSignedCert:SelfSignedCert":
      return "generated";
    default:
      throw new Error(`${r.type} ${r.name}: the bring-up bench has no figure for this type`);
  }
}

export interface WeightedNode extends PathNode {
  name: string;
  kind: StepKind;
  source: Duration["source"];
}

/**
 * The custom resources as weighted nodes. `changed` (URNs), when given, is what a deploy creates
 * or replaces: everything else exists already and costs nothing.
 */
export function weightedNodes(
  resources: readonly RegisteredResource[],
  durations: Durations,
  changed?: ReadonlySet<string>,
): WeightedNode[] {
  return resources
    .filter((r) => r.custom)
    .map((r) => {
      const kind = stepKindOf(r);
      const d = durations[kind];
      const runs = changed === undefined || changed.has(r.urn);
      return {
        id: r.urn,
        name: r.name,
        kind,
        durationMs: runs ? d.ms : 0,
        source: d.source,
        dependsOn: r.dependencies,
      };
    });
}

export interface ChainEntry {
  name: string;
  kind: StepKind;
  ms: number;
  finishMs: number;
  source: Duration["source"];
}

export interface PathResult {
  totalMs: number;
  chain: ChainEntry[];
}

/** The critical path with names and kinds; steps that cost nothing (already there) are left out. */
export function bringupPath(nodes: readonly WeightedNode[]): PathResult {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const path: CriticalPath = criticalPath(nodes);
  return {
    totalMs: path.totalMs,
    chain: path.chain
      .filter((s) => s.durationMs > 0)
      .map((s) => {
        const n = byId.get(s.id) as WeightedNode;
        return { name: n.name, kind: n.kind, ms: s.durationMs, finishMs: s.finishMs, source: n.source };
      }),
  };
}
