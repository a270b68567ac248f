/**
 * Brings one database of a stack back to a second of the past, from its continuous archive
 * (sectorwars:backup.repository; docs/backups.md):
 *
 *   npm run restore -- --stack prod --target region:orion --to 2026-12-05T22:59:30Z
 *
 * Before anything is touched: the time is checked (a zone, not in the future), the database's
 * container is found by its labels and must archive, and the repository must hold a backup
 * finished before the time. Then `pgbackrest check` archives everything up to now (so the present
 * stays a point to come back to), the API and the database are stopped, a throw-away container of
 * the database's image restores into its data volume (pgbackrest restore --delta --type=time,
 * promote), the database starts and finishes recovery, and the API starts again. Every other
 * database, Redis and the edge are untouched. In swarm mode the services are scaled instead of
 * containers stopped, and a job service restores (scripts/pointInTimeSwarm.ts).
 *
 * Exit status: 0 restored, 1 failed or refused, 2 usage.
 */
import { spawnSync } from "node:child_process";
import { PGBACKREST_PATHS, checkpointCommand } from "../planning/backup/archive";
import { checkWindow, parseRecoveryTime, restoreArguments, stanzaOf } from "../planning/backup/pointInTime";
import { type RestoreTarget, parseRestoreTarget } from "../planning/backup/restore";
import { labelFilters } from "../planning/roles";
import { SWARM_SERVICE_LABEL } from "../planning/backup/swarmJob";
import { shellQuote } from "../planning/shell";
import { ROOT } from "./cli";
import { restoreSwarmTask } from "./pointInTimeSwarm";
import { type Docker, dockerCli } from "./dockerCli";
import { targetEngine } from "./targetEngine";

export const POINT_IN_TIME_USAGE =
  "usage: restore --stack STACK --target nexus|region:<id> --to <ISO 8601 time with zone>";

class UsageError extends Error {}
class RestoreError extends Error {}

type DatabaseTarget = Exclude<RestoreTarget, { kind: "redis" }>;

export function parsePointInTimeArgs(argv: readonly string[]): { stack: string; target: DatabaseTarget; to: string } {
  const values: Record<string, string> = {};
  for (let i = 0; i < argv.length; i += 2) {
    const [key, value] = [argv[i] ?? "", argv[i + 1]];
    if (!["--stack", "--target", "--to"].includes(key))
      throw new UsageError(`unknown argument ${key}\n${POINT_IN_TIME_USAGE}`);
    if (value === undefined || value.startsWith("--"))
      throw new UsageError(`${key} needs a value\n${POINT_IN_TIME_USAGE}`);
    values[key] = value;
  }
  const { "--stack": stack, "--target": targetText, "--to": to } = values;
  if (!stack || !targetText || !to) throw new UsageError(POINT_IN_TIME_USAGE);
  let target: RestoreTarget;
  try {
    target = parseRestoreTarget(targetText);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (target.kind === "redis")
    throw new UsageError("--to restores a database (nexus or region:<id>); Redis has no archive yet");
  return { stack, target, to };
}

/** The engine that runs the database (scripts/targetEngine.ts), as a docker CLI. */
interface Engine {
  docker: Docker;
  /** In a swarm, the node also keeps a service's earlier tasks as exited containers: only running ones count. */
  runningOnly: boolean;
}

const fail = (message: string) => new RestoreError(message);

function containerOf(
  engine: Engine,
  stack: string,
  role: "nexus-db" | "region-db" | "nexus-api" | "region-api",
  regionId?: string,
) {
  const state = engine.runningOnly ? [] : ["-a"];
  const names = engine
    .docker(["ps", ...state, ...labelFilters(stack, role, regionId), "--format", "{{.Names}}"])
    .stdout.split("\n")
    .filter(Boolean);
  if (names.length > 1)
    throw new RestoreError(`more than one ${role} container in stack ${stack}: ${names.join(", ")}`);
  return names[0];
}

/** Waits until the database accepts connections and has left recovery (promoted at the time). */
function waitPromoted(docker: Docker, db: string, user: string, database: string, timeoutMs: number): void {
  const until = Date.now() + timeoutMs;
  const sql = "select pg_is_in_recovery()";
  while (Date.now() < until) {
    const psql = ["exec", db, "psql", "-qAt", "-U", user, "-d", database, "-c", sql];
    const answer = docker(psql, { allowFailure: true }).stdout.trim();
    if (answer === "f") return;
    spawnSync("sleep", ["1"]);
  }
  throw new RestoreError(`${db} did not finish recovery within ${timeoutMs / 1000} s; see docker logs ${db}`);
}

/** The swarm service of `role` in the stack, found by its labels on the engine DOCKER_HOST reaches (a manager). */
function serviceOf(stack: string, role: "nexus-api" | "region-api", regionId?: string): string | undefined {
  const manager = dockerCli(process.env, fail);
  return manager(["service", "ls", ...labelFilters(stack, role, regionId), "--format", "{{.Name}}"])
    .stdout.split("\n")
    .filter(Boolean)[0];
}

export function pointInTime(
  opts: { stack: string; target: DatabaseTarget; to: string },
  log = console.log,
  root: string = ROOT,
): void {
  const parsed = parseRecoveryTime(opts.to, new Date());
  if (!parsed.ok) throw new RestoreError(parsed.problem);
  const { env: nodeEnv, runningOnly } = targetEngine(opts, root, fail);
  const docker = dockerCli(nodeEnv, fail);
  const engine: Engine = { docker, runningOnly };
  const out = (args: string[]) => docker(args).stdout;
  const regionId = opts.target.kind === "region" ? opts.target.regionId : undefined;
  const what = regionId === undefined ? "the nexus" : `region ${regionId}`;
  const db = containerOf(engine, opts.stack, regionId === undefined ? "nexus-db" : "region-db", regionId);
  if (!db) throw new RestoreError(`no database container for ${what} in stack ${opts.stack}; deploy it first`);
  if (out(["inspect", "--format", "{{.State.Running}}", db]).trim() !== "true") {
    throw new RestoreError(
      `${db} is not running; start it first (docker start ${db}): the repository is read through it`,
    );
  }
  if (docker(["exec", db, "test", "-f", PGBACKREST_PATHS.conf], { allowFailure: true }).status !== 0) {
    throw new RestoreError(`${db} does not archive: set sectorwars:backup.repository and deploy (docs/backups.md)`);
  }
  const stanza = stanzaOf(opts.target);
  const pgbackrest = (args: string[]) =>
    out(["exec", "-u", "postgres", db, "pgbackrest", `--stanza=${stanza}`, ...args]);
  const window = checkWindow(pgbackrest(["info", "--output=json"]), stanza, parsed.time);
  if (!window.ok) throw new RestoreError(window.problem);

  const env = out(["inspect", "--format", "{{range .Config.Env}}{{println .}}{{end}}", db]).split("\n");
  const envOf = (name: string) => env.find((l) => l.startsWith(`${name}=`))?.slice(name.length + 1) ?? "";
  const apiRole = regionId === undefined ? "nexus-api" : "region-api";
  const swarmService = out(["inspect", "--format", `{{index .Config.Labels "${SWARM_SERVICE_LABEL}"}}`, db]).trim();
  // Everything written until now reaches the repository: the present stays restorable.
  pgbackrest(["check"]);
  log(
    `restoring ${what} (stanza ${stanza}) to ${parsed.time.toISOString()}; the window starts ${window.from.toISOString()}`,
  );
  if (swarmService !== "") {
    // A swarm answers a stopped task with a new one: its services are scaled instead.
    const apiService = serviceOf(opts.stack, apiRole, regionId);
    try {
      const task = restoreSwarmTask({
        stack: opts.stack,
        db,
        apiService,
        user: envOf("POSTGRES_USER"),
        database: envOf("POSTGRES_DB"),
        restoreArgs: restoreArguments(stanza, parsed.time),
        engines: { manager: process.env, node: nodeEnv },
        log,
      });
      log(
        `restored ${what} to ${parsed.time.toISOString()}: ${task} runs on a new timeline and archives on${apiService ? `; ${apiService} scaled back` : ""}`,
      );
    } catch (error) {
      throw new RestoreError((error as Error).message);
    }
    return;
  }
  const api = containerOf(engine, opts.stack, apiRole, regionId);
  if (api) docker(["stop", api]);
  docker(["stop", db]);

  const image = out(["inspect", "--format", "{{.Image}}", db]).trim();
  const network = out([
    "inspect",
    "--format",
    "{{range $name, $_ := .NetworkSettings.Networks}}{{println $name}}{{end}}",
    db,
  ])
    .split("\n")
    .filter(Boolean)[0];
  const helper = `${db}-pitr-${Date.now()}`;
  docker([
    "create",
    "--name",
    helper,
    "--user",
    "postgres",
    "--volumes-from",
    db,
    ...(network ? ["--network", network] : []),
    "--entrypoint",
    "pgbackrest",
    image,
    ...restoreArguments(stanza, parsed.time),
  ]);
  try {
    // pgbackrest.conf travels container to container as a tar stream, never through a file here.
    const { dir } = PGBACKREST_PATHS;
    const parent = dir.slice(0, dir.lastIndexOf("/") + 1);
    const copy = `docker cp ${shellQuote(`${db}:${dir}`)} - | docker cp - ${shellQuote(`${helper}:${parent}`)}`;
    const copied = spawnSync("sh", ["-c", copy], { env: nodeEnv, encoding: "utf8" });
    if (copied.status !== 0) throw new RestoreError(`copying ${dir} into ${helper} failed: ${copied.stderr.trim()}`);
    const restored = docker(["start", "-a", helper], { allowFailure: true });
    if (restored.status !== 0) {
      const logs = docker(["logs", "--tail", "20", db], { allowFailure: true });
      throw new RestoreError(
        `pgbackrest restore failed (${restored.status}); ${db} and ${api ?? "its API"} stay stopped:\n${restored.stdout}${restored.stderr}\n` +
          `the last of ${db}'s log:\n${logs.stdout}${logs.stderr}`,
      );
    }
  } finally {
    docker(["rm", "-f", helper], { allowFailure: true });
  }
  docker(["start", db]);
  waitPromoted(docker, db, envOf("POSTGRES_USER"), envOf("POSTGRES_DB"), 30 * 60_000);
  docker(["exec", db, ...checkpointCommand(envOf("POSTGRES_USER"), envOf("POSTGRES_DB"))]);
  if (api) docker(["start", api]);
  log(
    `restored ${what} to ${parsed.time.toISOString()}: ${db} runs on a new timeline and archives on${api ? `; ${api} started` : ""}`,
  );
}

export function pointInTimeMain(argv: readonly string[], root: string = ROOT): number {
  try {
    pointInTime(parsePointInTimeArgs(argv), console.log, root);
    return 0;
  } catch (error) {
    console.error(`restore: ${(error as Error).message}`);
    return error instanceof UsageError ? 2 : 1;
  }
}
