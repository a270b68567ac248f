/**
 * `npm run restore -- --to` for a database that runs as a swarm task (scripts/pointInTime.ts has
 * checked the time, the archive and the window through the running task). A swarm answers a
 * stopped task with a new one, so the services are scaled instead of containers stopped:
 *
 * 1. the API's service, then the database's, scale to 0 (their replica counts are kept);
 * 2. a one-off job service (`--mode replicated-job`), pinned to the node that holds the volume,
 *    with the database service's image, volume mounts, secrets (pgbackrest.conf), configs and
 *    networks, runs `pgbackrest restore --delta --type=time` as postgres;
 * 3. the database's service scales back: its new task replays WAL to that second and promotes;
 *    then a CHECKPOINT (checkpointCommand), and the API's service scales back.
 *
 * A failure from the first scale on (the job's log when the restore failed) names the services it
 * may leave scaled down and the command that scales them back. Service commands
 * go to the engine DOCKER_HOST reaches (a manager, as for `pulumi up`); container commands to
 * the engine of the node that runs the database (`node`).
 */
import { spawnSync } from "node:child_process";
import { dockerCli } from "./dockerCli";
import { checkpointCommand } from "../planning/backup/archive";
import { LABEL_STACK } from "../planning/roles";
import { SWARM_NODE_LABEL, SWARM_SERVICE_LABEL, type ServiceSpec, jobFlags } from "../planning/backup/swarmJob";

export class SwarmRestoreError extends Error {}

interface Engines {
  /** A manager's engine: services are scaled and created there. */
  manager: NodeJS.ProcessEnv;
  /** The engine of the node that runs the database's task. */
  node: NodeJS.ProcessEnv;
}

/** A docker call's output on `env`'s engine ("" when it failed and `allowFailure`). pgbackrest.conf
 *  reaches the job as the service's own secret, never as an argument. */
function docker(env: NodeJS.ProcessEnv, args: string[], allowFailure = false): string {
  const r = dockerCli(env, (message) => new SwarmRestoreError(message))(args, { allowFailure, timeoutMs: 3600_000 });
  return r.status === 0 ? r.stdout : "";
}

const specOf = (env: NodeJS.ProcessEnv, service: string): ServiceSpec =>
  JSON.parse(docker(env, ["service", "inspect", "--format", "{{json .Spec}}", service])) as ServiceSpec;

/**
 * Scales `service` to `replicas` and waits until exactly that many of its tasks run (a health
 * check passed, where it has one) and no other is still stopping. Not `--detach=false`: that also
 * waits out the service's update monitor period after converging, for each scale.
 */
function scale(env: NodeJS.ProcessEnv, service: string, replicas: number, timeoutMs = 600_000): void {
  docker(env, ["service", "scale", "--detach", `${service}=${replicas}`]);
  const until = Date.now() + timeoutMs;
  for (;;) {
    const states = docker(env, ["service", "ps", "--format", "{{.DesiredState}} {{.CurrentState}}", service])
      .split("\n")
      .filter(Boolean);
    const running = states.filter((s) => /^Running Running/.test(s)).length;
    const stopping = states.filter((s) => /^(Shutdown|Remove) (Running|Starting)/.test(s)).length;
    if (running === replicas && stopping === 0) return;
    if (Date.now() > until) {
      throw new SwarmRestoreError(
        `${service} did not scale to ${replicas} within ${timeoutMs / 1000} s:\n${states.join("\n")}`,
      );
    }
    spawnSync("sleep", ["0.5"]);
  }
}

/** The running task container of `service` on the node, once there is one. */
function runningTask(env: NodeJS.ProcessEnv, service: string, timeoutMs: number): string {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const filters = ["--filter", `label=${SWARM_SERVICE_LABEL}=${service}`, "--filter", "status=running"];
    const name = docker(env, ["ps", ...filters, "--format", "{{.Names}}"])
      .split("\n")
      .filter(Boolean)[0];
    if (name) return name;
    if (Date.now() > until) throw new SwarmRestoreError(`no running task of ${service} within ${timeoutMs / 1000} s`);
    spawnSync("sleep", ["1"]);
  }
}

/** Runs the job to its end: "Complete", or the swarm's error with the job's log. */
function runJob(env: NodeJS.ProcessEnv, name: string, timeoutMs: number): { ok: boolean; log: string } {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const state = docker(env, ["service", "ps", "--format", "{{.CurrentState}}|{{.Error}}", name]).split("\n")[0] ?? "";
    if (/^(Complete|Failed|Rejected|Shutdown|Orphaned)/.test(state) || Date.now() > until) {
      const log = docker(env, ["service", "logs", "--raw", name], true);
      return { ok: state.startsWith("Complete"), log: `${state}\n${log}`.trim() };
    }
    spawnSync("sleep", ["1"]);
  }
}

export interface SwarmRestore {
  stack: string;
  /** The database's running task container, on `engines.node`. */
  db: string;
  /** The API's service (region-api or nexus-api), if the stack has one. */
  apiService?: string;
  /** PostgreSQL's user and database, for the promotion check and the CHECKPOINT. */
  user: string;
  database: string;
  /** pgbackrest's arguments (restoreArguments). */
  restoreArgs: string[];
  engines: Engines;
  log: (line: string) => void;
}

export function restoreSwarmTask(r: SwarmRestore): string {
  const { manager, node } = r.engines;
  const label = (key: string) =>
    docker(node, ["inspect", "--format", `{{index .Config.Labels "${key}"}}`, r.db]).trim();
  const dbService = label(SWARM_SERVICE_LABEL);
  const nodeId = label(SWARM_NODE_LABEL);
  const spec = specOf(manager, dbService);
  const apiReplicas = r.apiService ? (specOf(manager, r.apiService).Mode?.Replicated?.Replicas ?? 1) : 0;

  const started = Date.now();
  const step = (what: string) => r.log(`${what} [${((Date.now() - started) / 1000).toFixed(1)} s]`);
  // From the first scale on, a failure says what it leaves at 0 and how to bring it back.
  const left = [`${dbService}=1`, ...(r.apiService ? [`${r.apiService}=${apiReplicas}`] : [])];
  try {
    return restoreScaledDown({ ...r, dbService, nodeId, spec, apiReplicas, step });
  } catch (error) {
    throw new SwarmRestoreError(
      `${(error as Error).message}\nthe services may stay scaled down: once mended, docker service scale ${left.join(" ")}`,
    );
  }
}

function restoreScaledDown(
  r: SwarmRestore & {
    dbService: string;
    nodeId: string;
    spec: ServiceSpec;
    apiReplicas: number;
    step: (what: string) => void;
  },
): string {
  const { manager, node } = r.engines;
  const { dbService, spec, step } = r;
  if (r.apiService) {
    scale(manager, r.apiService, 0);
    step(`scaled ${r.apiService} to 0`);
  }
  scale(manager, dbService, 0);
  step(`scaled ${dbService} to 0`);
  const job = `${dbService}-pitr-${Date.now()}`;
  docker(manager, [
    "service",
    "create",
    "--detach",
    "--name",
    job,
    "--mode",
    "replicated-job",
    "--restart-condition",
    "none",
    "--label",
    `${LABEL_STACK}=${r.stack}`,
    "--label",
    "com.sectorwars.restore-helper=true",
    "--constraint",
    `node.id==${r.nodeId}`,
    "--user",
    "postgres",
    ...jobFlags(spec),
    "--entrypoint",
    "pgbackrest",
    spec.TaskTemplate.ContainerSpec.Image,
    ...r.restoreArgs,
  ]);
  let outcome: { ok: boolean; log: string };
  try {
    outcome = runJob(manager, job, 6 * 3600_000);
  } finally {
    docker(manager, ["service", "rm", job], true);
  }
  step(`the restore job on the volume's node ended: ${outcome.ok ? "complete" : "failed"}`);
  if (!outcome.ok) {
    throw new SwarmRestoreError(`pgbackrest restore failed, the job's log:\n${outcome.log}`);
  }

  scale(manager, dbService, 1);
  const db = runningTask(node, dbService, 120_000);
  step(`scaled ${dbService} back to 1: ${db} replays WAL to the time`);
  const until = Date.now() + 30 * 60_000;
  const sql = ["psql", "-qAt", "-U", r.user, "-d", r.database, "-c", "select pg_is_in_recovery()"];
  while (docker(node, ["exec", db, ...sql], true).trim() !== "f") {
    if (Date.now() > until) throw new SwarmRestoreError(`${db} did not finish recovery within 30 min`);
    spawnSync("sleep", ["1"]);
  }
  docker(node, ["exec", db, ...checkpointCommand(r.user, r.database)]);
  step(`${db} promoted`);
  if (r.apiService) {
    scale(manager, r.apiService, r.apiReplicas);
    step(`scaled ${r.apiService} back to ${r.apiReplicas}`);
  }
  return db;
}
