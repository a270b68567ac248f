/**
 * The capacity check of a swarm stack, per node: every node's budget is its own CPUs and memory
 * minus sectorwars:capacity.reserve, with the same overcommit rules as a single host.
 *
 * - Pinned tasks (each database and Redis on its placement node, an edge task on every edge
 *   node) count on their node.
 * - Floating tasks (the stateless services, `replicas` each) go wherever the scheduler finds
 *   room for their reservation. The check packs them first-fit-decreasing onto the nodes'
 *   remaining budget: a packing that fits proves the scheduler has room, and the report shows it
 *   as an example. Swarm's scheduler spreads by its own rules (fewest tasks of the service) and
 *   measures the node's full resources, not the reserve-adjusted budget; it never overcommits
 *   reservations, so the reserve is the part it may still use.
 *
 * Each node's report is capacity.ts's report for that node's tasks, so numbers, tables and
 * problems read as they do for one host.
 */
import { type CapacityReport, capacityOf, regionSizeSpecs } from "../capacity/check";
import { capacityProblems, renderCapacityTable } from "../capacity/text";
import { type ConfigProblem, type PlatformConfig, problemAt } from "../config";
import type { ResourceSpec } from "../stack/sizes";
import { type ContainerPlan, type StackPlan, activeRegions } from "../stack/topology";
import { LABEL_REGION } from "../roles";
import type { SwarmSettings } from "./config";
import type { Placement } from "./placement";
import { type SwarmServicePlan, planSwarmMonitoring } from "./services";

/** One task as the check sees it: pinned to a node, or floating. */
export interface SwarmTask {
  /** Service name, with the task's number when the service has several (sectorwars_admin.2). */
  name: string;
  role: string;
  region: string | null;
  sizeProfile: string;
  size: ResourceSpec;
  /** The node it must run on; null: wherever it fits. */
  node: string | null;
}

export interface NodeCapacity {
  node: string;
  report: CapacityReport;
  /** Floating tasks the example packing put here. */
  floating: string[];
}

export interface SwarmCapacityReport {
  stack: string;
  nodes: NodeCapacity[];
  /** Floating tasks no node has room for. */
  unplaced: SwarmTask[];
  withinBudget: boolean;
}

const task = (c: ContainerPlan, name: string, node: string | null): SwarmTask => ({
  name,
  role: c.role,
  region: c.labels[LABEL_REGION] ?? null,
  sizeProfile: c.sizeProfile,
  size: c.size,
  node,
});

const replicated = (c: ContainerPlan, replicas: number): SwarmTask[] =>
  Array.from({ length: replicas }, (_, i) =>
    task(c, replicas === 1 ? c.containerName : `${c.containerName}.${i + 1}`, null),
  );

/** Every task the stack runs (retired regions run none; their volume keeps its node). */
export function swarmTasks(plan: StackPlan, swarm: SwarmSettings, placement: Placement): SwarmTask[] {
  const r = swarm.replicas;
  return [
    task(plan.nexus.db, plan.nexus.db.containerName, placement.nexus),
    task(plan.redis, plan.redis.containerName, placement.redis),
    ...swarm.nodes.filter((n) => n.edge).map((n) => task(plan.edge, `${plan.edge.containerName}@${n.name}`, n.name)),
    ...replicated(plan.nexus.api, r["nexus-api"]),
    ...replicated(plan.admin, r["admin-ui"]),
    ...replicated(plan.player, r["player-ui"]),
    ...replicated(plan.paypal, r.paypal),
    ...activeRegions(plan).flatMap((region) => [
      task(region.db, region.db.containerName, placement.regions[region.id] ?? null),
      ...replicated(region.api, r["region-api"]),
    ]),
    ...(plan.monitoring ? planSwarmMonitoring(plan.monitoring, swarm, placement, plan.prefix).flatMap(tasksOf) : []),
  ];
}

/** A service's tasks: one per node it is global on, its replicas on its node or floating. */
function tasksOf(s: SwarmServicePlan): SwarmTask[] {
  if (s.mode.kind === "global") return s.mode.nodes.map((node) => task(s.container, `${s.serviceName}@${node}`, node));
  if (s.node !== undefined) return [task(s.container, s.serviceName, s.node)];
  return replicated(s.container, s.mode.replicas);
}

// Exact units, as capacity.ts counts them: nano-CPUs and whole MB.
const nano = (cpus: number): number => Math.round(cpus * 1e9);
interface Room {
  resCpu: number;
  resMem: number;
  limCpu: number;
  limMem: number;
}

/** Per-node reports, with the floating tasks packed first-fit-decreasing by reservation. */
export function swarmCapacity(
  plan: StackPlan,
  config: Pick<PlatformConfig, "capacity" | "regionSizes" | "sizeProfiles">,
  swarm: SwarmSettings,
  placement: Placement,
): SwarmCapacityReport {
  const tasks = swarmTasks(plan, swarm, placement);
  const { reserve, overcommit } = config.capacity;
  const assigned = new Map<string, SwarmTask[]>(
    swarm.nodes.map((n) => [n.name, tasks.filter((t) => t.node === n.name)]),
  );
  const room = new Map<string, Room>(
    swarm.nodes.map((n) => {
      const budgetCpu = nano(n.cpus) - nano(reserve.cpus);
      const budgetMem = Math.round(n.memoryGb * 1024) - Math.round(reserve.memoryMb);
      const pinned = assigned.get(n.name) ?? [];
      const sum = (pick: (t: SwarmTask) => number) => pinned.reduce((s, t) => s + pick(t), 0);
      return [
        n.name,
        {
          resCpu: budgetCpu - sum((t) => nano(t.size.reservations.cpus)),
          resMem: budgetMem - sum((t) => Math.round(t.size.reservations.memoryMb)),
          limCpu: Math.floor(budgetCpu * overcommit.cpus) - sum((t) => nano(t.size.limits.cpus)),
          limMem: Math.floor(budgetMem * overcommit.memory) - sum((t) => Math.round(t.size.limits.memoryMb)),
        },
      ];
    }),
  );

  // Largest memory reservation first (then CPU, then name): the classic decreasing order, made
  // total so that the example packing is the same on every run.
  const floating = tasks
    .filter((t) => t.node === null)
    .sort(
      (a, b) =>
        b.size.reservations.memoryMb - a.size.reservations.memoryMb ||
        b.size.reservations.cpus - a.size.reservations.cpus ||
        (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
    );
  const unplaced: SwarmTask[] = [];
  const packed = new Map<string, string[]>(swarm.nodes.map((n) => [n.name, []]));
  for (const t of floating) {
    const need = {
      resCpu: nano(t.size.reservations.cpus),
      resMem: Math.round(t.size.reservations.memoryMb),
      limCpu: nano(t.size.limits.cpus),
      limMem: Math.round(t.size.limits.memoryMb),
    };
    const node = swarm.nodes.find((n) => {
      const r = room.get(n.name) as Room;
      return r.resCpu >= need.resCpu && r.resMem >= need.resMem && r.limCpu >= need.limCpu && r.limMem >= need.limMem;
    });
    if (!node) {
      unplaced.push(t);
      continue;
    }
    const r = room.get(node.name) as Room;
    room.set(node.name, {
      resCpu: r.resCpu - need.resCpu,
      resMem: r.resMem - need.resMem,
      limCpu: r.limCpu - need.limCpu,
      limMem: r.limMem - need.limMem,
    });
    assigned.get(node.name)?.push(t);
    packed.get(node.name)?.push(t.name);
  }

  const regionSizes = regionSizeSpecs(config as PlatformConfig);
  const nodes = swarm.nodes.map((n) => ({
    node: n.name,
    report: capacityOf({
      stack: `${plan.stack}, node ${n.name}`,
      host: { cpus: n.cpus, memoryMb: Math.round(n.memoryGb * 1024) },
      reserve,
      overcommit,
      containers: (assigned.get(n.name) ?? []).map((t) => ({ ...t })),
      regionSizes,
    }),
    floating: packed.get(n.name) ?? [],
  }));
  return {
    stack: plan.stack,
    nodes,
    unplaced,
    withinBudget: unplaced.length === 0 && nodes.every((n) => n.report.withinBudget),
  };
}

/** One problem per node and resource over budget, on that node's config path; one per task no node fits. */
export function swarmCapacityProblems(report: SwarmCapacityReport, swarm: SwarmSettings): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  report.nodes.forEach((n) => {
    const index = swarm.nodes.findIndex((node) => node.name === n.node);
    problems.push(
      ...capacityProblems(n.report, { at: (field) => ["swarm", "nodes", index, field], prefix: `node ${n.node}: ` }),
    );
  });
  for (const t of report.unplaced) {
    const service = t.role as keyof SwarmSettings["replicas"];
    problems.push(
      problemAt(
        ["swarm", "replicas", service],
        `no node has room for task ${t.name} (reserves ${t.size.reservations.cpus} CPUs / ${t.size.reservations.memoryMb}M, ` +
          `limits ${t.size.limits.cpus} / ${t.size.limits.memoryMb}M) next to the databases and the other tasks: ` +
          "add a node, or run fewer tasks",
      ),
    );
  }
  return problems;
}

/** The per-node tables, each as `npm run capacity` prints one host's, with the example packing. */
export function renderSwarmCapacity(report: SwarmCapacityReport, swarm: SwarmSettings): string {
  const parts = report.nodes.map((n) => {
    const packed = n.floating.length > 0 ? `Floating tasks in the example packing: ${n.floating.join(", ")}\n` : "";
    return `${renderCapacityTable(n.report)}${packed}`;
  });
  const problems = swarmCapacityProblems(report, swarm);
  const verdict =
    problems.length === 0
      ? `Every node within budget (${report.nodes.length} node${report.nodes.length === 1 ? "" : "s"}).`
      : ["OVER BUDGET:", ...problems.map((p) => `  - ${p.path}: ${p.message}`)].join("\n");
  return `${parts.join("\n")}\n${verdict}\n`;
}
