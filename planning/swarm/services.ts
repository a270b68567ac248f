/**
 * The stack's containers as Docker Swarm services, as plain data: mode and replicas, placement,
 * update and rollback policy, endpoint mode, published ports, resources in the units the Engine
 * API takes. Components turn these into docker.Service resources; the real-swarm test turns the
 * same resources into `docker service create` flags.
 *
 * Everything a container plan says (image key, labels, health check, hardening, stop signal and
 * grace, sizes) is kept, but for no-new-privileges (see swarmService); what swarm mode decides
 * differently is here, each with its reason.
 */
import { EDGE_LOG_LABELS } from "../monitoring/edgeLog";
import { ROLES } from "../roles";
import { swarmHardening } from "./hardening";
import { type ContainerPlan, type MonitoringPlan, type StackPlan, activeRegions } from "../stack/topology";
import type { SwarmSettings } from "./config";
import { edgeLabelKey } from "./config";
import { type Placement, pinConstraint } from "./placement";

/**
 * How long the edge trusts a resolved task address in swarm mode. A rolling update stops one old
 * task right after its successor is healthy; an address cached longer than the pause between two
 * such steps could be the only one nginx knows when its task goes. Short validity costs a DNS
 * query per name and worker every couple of seconds, on a resolver inside the node.
 */
export const SWARM_RESOLVER_VALID_SECONDS = 2;

/**
 * Pause between two tasks' updates: longer than the edge's resolver validity, so that before an
 * old task stops, every nginx worker has resolved the name again since the previous step and
 * knows a task that keeps running (with two or more replicas). That is what lets a start-first
 * update lose no request, where container mode reloads nginx between the swap's two halves.
 */
export const SWARM_UPDATE_DELAY = `${2 * SWARM_RESOLVER_VALID_SECONDS + 1}s`;

/**
 * Failures of an updated task within this time after it became healthy fail the update. Each
 * update step waits it out, so for the stateless services, whose image updates are the common
 * deploy, it is Docker's own default. Databases, Redis and the edge keep the 15 s they were
 * deployed with: a changed update policy would update (restart) every database service.
 */
export const SWARM_UPDATE_MONITOR = "5s";
export const SWARM_STOP_FIRST_MONITOR = "15s";

/**
 * How often a task of a service without data (the game services, the edge) is probed. A service's
 * health check has no start interval in @pulumi/docker 5.2, so a task's first probe comes one
 * whole interval after its start, and every `pulumi up` and every update step waits for it (one
 * host probes every START_INTERVAL while starting). The retries grow to match: a task is still
 * declared unhealthy after as long as its role's check allows (planning/stack/healthchecks.ts).
 * Services with data keep their role's interval (roles.ts holdsData).
 */
export const SWARM_PROBE_INTERVAL_MS = 2000;

export type UpdateOrder = "start-first" | "stop-first";

export interface UpdatePolicy {
  parallelism: number;
  order: UpdateOrder;
  delay: string;
  monitor: string;
  /** On the update: roll back to the previous spec. On a rollback that fails: stop and wait for a person. */
  failureAction: "rollback" | "pause";
  maxFailureRatio: string;
}

export interface SwarmServicePlan {
  /** The container plan it comes from: name, labels, sizes, health check, hardening, stop. */
  container: ContainerPlan;
  /** Docker service name: the seed's container name, stable; swarm updates a service in place. */
  serviceName: string;
  /** The node a pinned service (a database, Redis) runs on: where commands in its task run. */
  node?: string;
  /** Replicated, or one task on each of the `nodes` its constraints select (by name). */
  mode: { kind: "replicated"; replicas: number } | { kind: "global"; nodes: readonly string[] };
  constraints: string[];
  /**
   * Container labels Docker writes with each line of the task's json-file log (its `labels` log
   * option): the edge's, when the monitoring counts its requests (planning/monitoring/edgeLog.ts).
   */
  logLabels?: readonly string[];
  /** Spread the tasks of a replicated service over the nodes. */
  spread: boolean;
  update: UpdatePolicy;
  rollback: UpdatePolicy;
  /**
   * dnsrr: the service name and its aliases resolve to the running tasks' own addresses. A
   * virtual IP (vip) would need IPVS in the kernel of every node to route; task addresses need
   * nothing but the overlay, and the edge resolves them at request time anyway.
   */
  endpointMode: "dnsrr";
  /** Host-mode ports (the edge only): published on the address of the node that runs the task. */
  ports: { target: number; published: number }[];
  /** The stop grace period, as the provider reads it back (serviceDuration). */
  stopGracePeriod: string;
  /** Restart a task that exits, whatever its exit code; `window` as the engine fills it in. */
  restart: { condition: "any"; delay: string; window: string };
}

/** What swarm fills in when a restart policy names no window; declared, so that no diff shows. */
const RESTART = { condition: "any", delay: "5s", window: "0s" } as const;

const rolling = (order: UpdateOrder, failureAction: UpdatePolicy["failureAction"]): UpdatePolicy => ({
  parallelism: 1,
  order,
  delay: SWARM_UPDATE_DELAY,
  monitor: order === "start-first" ? SWARM_UPDATE_MONITOR : SWARM_STOP_FIRST_MONITOR,
  failureAction,
  maxFailureRatio: "0",
});

/**
 * Stateless services start the new task first and stop the old one once it is healthy; a task
 * that fails its health check (or dies within the monitor time) rolls the whole service back.
 */
const STATELESS = { update: rolling("start-first", "rollback"), rollback: rolling("start-first", "pause") };

/**
 * Databases and Redis stop first: two tasks must never open one data volume. The backup runs
 * before (the service waits for the backup command, whose trigger covers the service's spec).
 * The edge too: two tasks cannot bind one host port on the same node.
 */
const STOP_FIRST = { update: rolling("stop-first", "rollback"), rollback: rolling("stop-first", "pause") };

function service(
  plan: ContainerPlan,
  c: Pick<SwarmServicePlan, "mode" | "constraints"> & Partial<SwarmServicePlan>,
): SwarmServicePlan {
  const stateless = plan.replacement === "create-before-delete";
  // No start interval: @pulumi/docker 5.2's service health check has no such field.
  const { startInterval: _unused, ...check } = plan.healthcheck;
  const roleInterval = goDurationMs(check.interval);
  const probe = ROLES[plan.role].holdsData
    ? { interval: roleInterval, retries: check.retries }
    : {
        interval: SWARM_PROBE_INTERVAL_MS,
        retries: Math.ceil((check.retries * roleInterval) / SWARM_PROBE_INTERVAL_MS),
      };
  const healthcheck = {
    ...check,
    retries: probe.retries,
    interval: serviceDuration(probe.interval),
    timeout: serviceDuration(goDurationMs(check.timeout)),
    startPeriod: serviceDuration(goDurationMs(check.startPeriod)),
  };
  const container = { ...plan, healthcheck, hardening: swarmHardening(plan.role, plan.hardening) };
  return {
    container,
    serviceName: container.containerName,
    spread: c.mode.kind === "replicated" && c.mode.replicas > 1,
    ...(stateless ? STATELESS : STOP_FIRST),
    endpointMode: "dnsrr",
    ports: [],
    stopGracePeriod: serviceDuration(plan.stop.graceSeconds * 1000),
    restart: RESTART,
    ...c,
  };
}

const pinned = (container: ContainerPlan, node: string): SwarmServicePlan =>
  service(container, { mode: { kind: "replicated", replicas: 1 }, constraints: [pinConstraint(node)], node });

const floating = (container: ContainerPlan, replicas: number): SwarmServicePlan =>
  service(container, { mode: { kind: "replicated", replicas }, constraints: [] });

export interface SwarmStackServices {
  edge: SwarmServicePlan;
  redis: SwarmServicePlan;
  nexus: { api: SwarmServicePlan; db: SwarmServicePlan };
  /** Active regions only; a retired region keeps its volume on its node and runs nothing. */
  regions: Record<string, { api: SwarmServicePlan; db: SwarmServicePlan }>;
  admin: SwarmServicePlan;
  player: SwarmServicePlan;
  paypal: SwarmServicePlan;
  /** sectorwars:monitoring's services; none when it is off. */
  monitoring: SwarmServicePlan[];
}

/** One task on each node marked `edge: true` (the label the program sets on them): the edge's placement. */
const onEdgeNodes = (swarm: SwarmSettings, namePrefix: string): Pick<SwarmServicePlan, "mode" | "constraints"> => ({
  mode: { kind: "global", nodes: swarm.nodes.filter((n) => n.edge).map((n) => n.name) },
  constraints: [`node.labels.${edgeLabelKey(namePrefix)} == true`],
});

/**
 * The monitoring's services: Prometheus and Alertmanager on the node that holds their volumes,
 * the prober and the database and Redis exporters wherever they fit (they reach what they watch
 * over its overlay), the host exporter on every node (each node's own disk; Prometheus finds its
 * tasks by the name's DNS answer, planning/monitoring/prometheus.ts), the edge's request counter
 * on every edge node (it reads that node's edge task's log).
 */
export function planSwarmMonitoring(
  monitoring: MonitoringPlan,
  swarm: SwarmSettings,
  placement: Placement,
  namePrefix: string,
): SwarmServicePlan[] {
  const node = placement.monitoring;
  if (node === undefined) throw new Error("monitoring has no node: placeUnits places it whenever monitoring is on");
  const { exporters } = monitoring;
  const onEveryNode = (c: ContainerPlan) =>
    service(c, { mode: { kind: "global", nodes: swarm.nodes.map((n) => n.name) }, constraints: [] });
  return [
    pinned(monitoring.prometheus, node),
    pinned(monitoring.alertmanager, node),
    floating(monitoring.blackbox, 1),
    ...exporters.databases.map((e) => floating(e, 1)),
    floating(exporters.redis, 1),
    // Each node's disk and containers are read on that node.
    onEveryNode(exporters.host),
    onEveryNode(exporters.containers),
    service(exporters.edgeRequests, onEdgeNodes(swarm, namePrefix)),
  ];
}

/** The service of every container of the plan. */
export function planSwarmServices(
  plan: StackPlan,
  swarm: SwarmSettings,
  placement: Placement,
  namePrefix: string,
): SwarmStackServices {
  const r = swarm.replicas;
  return {
    edge: service(plan.edge, {
      ...onEdgeNodes(swarm, namePrefix),
      // Each line names the edge and its stack: the request counter reads every container's log on its node.
      ...(plan.monitoring ? { logLabels: EDGE_LOG_LABELS } : {}),
      ports: [
        { target: plan.edge.ports.http.internal, published: plan.edge.ports.http.external },
        { target: plan.edge.ports.https.internal, published: plan.edge.ports.https.external },
      ],
    }),
    redis: pinned(plan.redis, placement.redis),
    nexus: { api: floating(plan.nexus.api, r["nexus-api"]), db: pinned(plan.nexus.db, placement.nexus) },
    regions: Object.fromEntries(
      activeRegions(plan).map((region) => [
        region.id,
        {
          api: floating(region.api, r["region-api"]),
          db: pinned(region.db, placement.regions[region.id] as string),
        },
      ]),
    ),
    admin: floating(plan.admin, r["admin-ui"]),
    player: floating(plan.player, r["player-ui"]),
    paypal: floating(plan.paypal, r.paypal),
    monitoring: plan.monitoring ? planSwarmMonitoring(plan.monitoring, swarm, placement, namePrefix) : [],
  };
}

/** Every service of the stack, for checks and tests. */
export function allSwarmServices(s: SwarmStackServices): SwarmServicePlan[] {
  return [
    s.edge,
    s.redis,
    s.nexus.api,
    s.nexus.db,
    s.admin,
    s.player,
    s.paypal,
    ...Object.values(s.regions).flatMap((r) => [r.api, r.db]),
    ...s.monitoring,
  ];
}

const GO_UNITS_MS: Readonly<Record<string, number>> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

/** A Go duration ("1m0s", "15s", "500ms") in milliseconds; throws on anything else (a planner's own constant). */
export function goDurationMs(text: string): number {
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text) throw new Error(`"${text}" is not a Go duration`);
  return parts.reduce((ms, [, n, unit]) => ms + Number(n) * (GO_UNITS_MS[unit as string] as number), 0);
}

/**
 * A duration as the docker provider reads a service's back from the engine: Go's
 * time.Duration.String() without a trailing "0s" after minutes or "0m" after hours ("1m",
 * "1h", "1m30s", "15s", "0s"; its shortDur). Declared in any other spelling ("1m0s"), the
 * service shows a diff on every preview and every `pulumi up` updates, so restarts, it.
 */
export function serviceDuration(ms: number): string {
  if (ms < 1000) return `${ms}${ms === 0 ? "s" : "ms"}`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = (ms % 60_000) / 1000;
  const text = h > 0 ? `${h}h${m}m${s}s` : m > 0 ? `${m}m${s}s` : `${s}s`;
  return text.replace(/m0s$/, "m").replace(/h0m$/, "h");
}
