/**
 * Restores one part of a stack from a backup made by the backup script (assets/backup.sh):
 *
 *   npx tsx scripts/restore.ts --backup DIR --target nexus|region:<id>|redis --stack STACK [--force]
 *
 * (With `--to <time>` instead of `--backup`, a database comes back to that second from its
 * continuous archive: scripts/pointInTime.ts. With `--from-repository` instead, Redis comes back
 * from its newest snapshot in the backup repository: scripts/redisFromRepository.ts fetches it
 * as a backup directory, restored from there as below.)
 *
 * 1. Verifies size and sha256 of every file the manifest lists, before touching anything.
 * 2. Finds the target container by its labels (com.sectorwars.stack/role/region), on the Docker
 *    engine the docker CLI reaches (DOCKER_HOST for a remote one); for a swarm stack whose file is
 *    here, on the engine of the node its database is pinned to (its running task).
 * 3. Refuses a target that holds data unless --force is given.
 * 4. PostgreSQL: in ONE transaction inside the container, drops every user schema (with --force)
 *    and replays the pg_dump archive; any error rolls all of it back.
 *    Redis: stops the container, puts the RDB in place with a throw-away container of the same
 *    image on the same volume (the previous files are moved to <dir>/pre-restore-<ts>/), has a
 *    temporary redis-server load it and, when the target runs with appendonly yes, rewrite the
 *    AOF from it (Redis loads the AOF, not dump.rdb, when AOF is on), then starts the container.
 * 5. Prints what it restored.
 *
 * See docs/backups.md. Exit status: 0 restored, 1 failed or refused, 2 usage.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  BACKUP_NAME_PATTERN,
  type BackupManifest,
  MANIFEST_FILE,
  type ManifestEntry,
  backupName,
  parseManifest,
} from "../planning/backup/manifest";
import {
  COUNT_OBJECTS_SQL,
  COUNT_TABLES_SQL,
  DROP_USER_SCHEMAS_SQL,
  type RestoreTarget,
  describeTarget,
  entryForTarget,
  keyspaceOf,
  restorableTargets,
  targetFilters,
  targetRole,
} from "../planning/backup/restore";
import { redisCliInContainer, redisRestoreHelper, restorePostgresInContainer } from "../assets";
import { REDIS_CONF_PATH } from "../planning/stack/redis";
import { LABEL_ROLE, LABEL_STACK } from "../planning/roles";
import { ROOT } from "./cli";
import { pointInTimeMain } from "./pointInTime";
import { type RestoreOptions, UsageError, parseRestoreArgs } from "./restoreArgs";
import { type TargetEngine, targetEngine } from "./targetEngine";
import { type FetchedBackup, fetchRedisBackup } from "./redisFromRepository";
import { type Docker, type DockerResult, dockerCli } from "./dockerCli";

class RestoreError extends Error {}

// --- Docker -------------------------------------------------------------------------------

/**
 * The engine that runs the target: the one DOCKER_HOST reaches, or in a swarm stack the target's
 * node's (set once by `restore` from the stack file, before the first docker call).
 */
let engine: TargetEngine = { env: process.env, runningOnly: false };

const docker: Docker = (args, call) => dockerCli(engine.env, (message) => new RestoreError(message))(args, call);

function findContainer(stack: string, target: RestoreTarget): string {
  const role = targetRole(target);
  const state = engine.runningOnly ? ["--filter", "status=running"] : ["-a"];
  const names = docker(["ps", ...state, ...targetFilters(stack, target), "--format", "{{.Names}}"])
    .stdout.split("\n")
    .filter(Boolean);
  const what = describeTarget(target);
  if (names.length === 0) {
    throw new RestoreError(
      `no ${role} container for ${what} in stack ${stack} (labels ${LABEL_STACK}=${stack}, ${LABEL_ROLE}=${role}); deploy it first`,
    );
  }
  if (names.length > 1)
    throw new RestoreError(`more than one container for ${what} in stack ${stack}: ${names.join(", ")}`);
  return names[0] as string;
}

function ensureRunning(container: string): void {
  const running = docker(["inspect", "--format", "{{.State.Running}}", container]).stdout.trim();
  if (running !== "true")
    throw new RestoreError(`container ${container} is not running; start it first (docker start ${container})`);
}

/** One variable of the container's configured environment; nothing else is read. */
function containerEnv(container: string, name: string): string | undefined {
  const env = docker(["inspect", "--format", "{{range .Config.Env}}{{println .}}{{end}}", container]).stdout;
  const line = env.split("\n").find((l) => l.startsWith(`${name}=`));
  return line?.slice(name.length + 1);
}

// --- Verification ---------------------------------------------------------------------------

function sha256(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    fs.createReadStream(file)
      .on("error", reject)
      .on("data", (chunk) => hash.update(chunk))
      .on("end", () => resolve(hash.digest("hex")));
  });
}

/** Reads the manifest and checks every file it lists; throws listing every problem. */
export async function verifyBackup(dir: string): Promise<BackupManifest> {
  const manifestPath = path.join(dir, MANIFEST_FILE);
  if (!fs.existsSync(manifestPath)) {
    const backups = fs.existsSync(dir)
      ? fs
          .readdirSync(dir)
          .filter((n) => BACKUP_NAME_PATTERN.test(n) && fs.existsSync(path.join(dir, n, MANIFEST_FILE)))
          .sort()
      : [];
    if (backups.length > 0) {
      throw new RestoreError(
        `${dir} is a backup directory, not one backup; the newest are: ${backups.slice(-5).reverse().join(", ")}`,
      );
    }
    throw new RestoreError(`${dir} is not a complete backup: it has no ${MANIFEST_FILE}`);
  }
  const manifest = parseManifest(fs.readFileSync(manifestPath, "utf8"));
  const problems: string[] = [];
  for (const entry of manifest.files) {
    const file = path.join(dir, entry.file);
    if (!fs.existsSync(file)) {
      problems.push(`${entry.file} is missing`);
      continue;
    }
    const size = fs.statSync(file).size;
    if (size !== entry.size) problems.push(`${entry.file} has ${size} bytes, the manifest says ${entry.size}`);
    const digest = await sha256(file);
    if (digest !== entry.sha256) problems.push(`${entry.file} has sha256 ${digest}, the manifest says ${entry.sha256}`);
  }
  if (problems.length > 0) {
    throw new RestoreError(`backup ${dir} failed verification, nothing was restored:\n  ${problems.join("\n  ")}`);
  }
  return manifest;
}

// --- PostgreSQL ---------------------------------------------------------------------------

/** A database inside its container, as psql reaches it. */
interface Database {
  container: string;
  user: string;
  db: string;
}

/** What one restore works with: the options, the verified backup, the target's file in it. */
interface RestoreJob {
  opts: RestoreOptions;
  manifest: BackupManifest;
  entry: ManifestEntry;
  log: (line: string) => void;
}

function psql({ container, user, db }: Database, sql: string): string {
  return docker(["exec", container, "psql", "-X", "-w", "-A", "-t", "-U", user, "-d", db, "-c", sql]).stdout.trim();
}

function restorePostgres({ opts, manifest, entry, log }: RestoreJob): void {
  const container = findContainer(opts.stack, opts.target);
  ensureRunning(container);
  const user = containerEnv(container, "POSTGRES_USER") || "postgres";
  const db = containerEnv(container, "POSTGRES_DB") || user;
  const database = { container, user, db };
  const objects = Number(psql(database, COUNT_OBJECTS_SQL));
  if (objects > 0 && !opts.force) {
    throw new RestoreError(
      `database ${db} in ${container} is not empty (${objects} objects); nothing was restored. ` +
        `Pass --force to replace its contents with the backup.`,
    );
  }
  if (entry.database && entry.database !== db) {
    log(`note: the backup is of database ${entry.database}; restoring it into ${db}`);
  }
  const r = docker(
    [
      "exec",
      "-i",
      container,
      "sh",
      "-c",
      restorePostgresInContainer(),
      "restore",
      user,
      db,
      objects > 0 ? DROP_USER_SCHEMAS_SQL : "",
    ],
    {
      stdinFile: path.join(opts.backup, entry.file),
      allowFailure: true,
    },
  );
  if (r.status !== 0) {
    throw new RestoreError(
      `restoring ${entry.file} into database ${db} (${container}) failed; it was rolled back:\n${r.stderr.trim()}`,
    );
  }
  const tables = psql(database, COUNT_TABLES_SQL);
  log(
    `restored ${describeTarget(opts.target)}: database ${db} in container ${container} from ${entry.file} ` +
      `of backup ${manifest.name} (stack ${manifest.stack}, PostgreSQL ${entry.serverVersion}, sha256 ${entry.sha256.slice(0, 12)}…)` +
      `${objects > 0 ? `, replacing ${objects} existing objects` : ""}; it now has ${tables} tables`,
  );
}

// --- Redis --------------------------------------------------------------------------------

function redisCli(container: string, args: string[], { allowFailure = false } = {}): DockerResult {
  const r = docker(["exec", container, "sh", "-c", redisCliInContainer(), "sh", REDIS_CONF_PATH, ...args], {
    allowFailure,
  });
  return { ...r, stdout: r.stdout.replace(/\r/g, "") };
}

function redisConfig(container: string, name: string): string {
  const lines = redisCli(container, ["CONFIG", "GET", name]).stdout.split("\n");
  return lines[1] ?? "";
}

async function waitForRedis(container: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = redisCli(container, ["PING"], { allowFailure: true });
    if (r.status === 0 && r.stdout.trim() === "PONG") return;
    if (Date.now() > deadline)
      throw new RestoreError(
        `Redis in ${container} did not answer PING within ${timeoutMs / 1000} s: ${r.stdout}${r.stderr}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function restoreRedis({ opts, manifest, entry, log }: RestoreJob): Promise<void> {
  const container = findContainer(opts.stack, opts.target);
  ensureRunning(container);
  const keyspace = keyspaceOf(redisCli(container, ["INFO", "keyspace"]).stdout);
  if (keyspace.length > 0 && !opts.force) {
    throw new RestoreError(
      `Redis in ${container} is not empty (${keyspace.join("; ")}); nothing was restored. Pass --force to replace all of its data with the backup.`,
    );
  }
  const settings = {
    dir: redisConfig(container, "dir"),
    dbfilename: redisConfig(container, "dbfilename"),
    appendonly: redisConfig(container, "appendonly"),
    appenddirname: redisConfig(container, "appenddirname"),
    appendfilename: redisConfig(container, "appendfilename"),
    databases: redisConfig(container, "databases"),
  };
  for (const [name, value] of Object.entries(settings)) {
    if (!value) throw new RestoreError(`CONFIG GET ${name} gave no answer in ${container} (restore needs Redis 7)`);
  }
  const image = docker(["inspect", "--format", "{{.Image}}", container]).stdout.trim();
  const aside = `pre-restore-${backupName(new Date())}`;

  log(`stopping ${container}`);
  docker(["stop", "--time", "60", container]);
  let helper: DockerResult;
  try {
    helper = docker(
      [
        "run",
        "--rm",
        "-i",
        "--network",
        "none",
        "--volumes-from",
        container,
        "--user",
        "0:0",
        "--label",
        `${LABEL_STACK}=${opts.stack}`,
        "--label",
        "com.sectorwars.restore-helper=true",
        "--entrypoint",
        "sh",
        image,
        "-c",
        redisRestoreHelper(),
        "restore",
        settings.dir,
        settings.dbfilename,
        settings.appendonly,
        settings.appenddirname,
        settings.appendfilename,
        settings.databases,
        aside,
      ],
      { stdinFile: path.join(opts.backup, entry.file), allowFailure: true },
    );
  } finally {
    log(`starting ${container}`);
    docker(["start", container]);
  }
  if (helper.status !== 0) {
    await waitForRedis(container, 120_000).catch(() => undefined);
    throw new RestoreError(
      `restoring ${entry.file} into ${container} failed; its previous data is back in place:\n${helper.stderr.trim()}`,
    );
  }
  await waitForRedis(container, 600_000);
  const now = keyspaceOf(redisCli(container, ["INFO", "keyspace"]).stdout);
  log(
    `restored Redis: container ${container} from ${entry.file} of backup ${manifest.name} (stack ${manifest.stack}, ` +
      `Redis ${entry.serverVersion}, sha256 ${entry.sha256.slice(0, 12)}…); keyspace now: ${now.length > 0 ? now.join("; ") : "empty"}` +
      (settings.appendonly === "yes" ? "; AOF rewritten from it" : ""),
  );
  log(
    `the previous Redis files are kept in ${settings.dir}/${aside} on the container's volume; delete them once satisfied`,
  );
}

// --- Main ---------------------------------------------------------------------------------

/** The engine that runs the target (scripts/targetEngine.ts). */
const engineFor = (opts: RestoreOptions, root: string): TargetEngine =>
  targetEngine(opts, root, (problem) => new RestoreError(problem));

export async function restore(
  opts: RestoreOptions,
  log: (line: string) => void = console.log,
  root: string = ROOT,
): Promise<void> {
  if (opts.fromRepository) {
    // The snapshot comes through the nexus database's container, on its own engine in swarm mode.
    engine = engineFor({ ...opts, target: { kind: "nexus" } }, root);
    const nexus = findContainer(opts.stack, { kind: "nexus" });
    ensureRunning(nexus);
    let fetched: FetchedBackup;
    try {
      fetched = fetchRedisBackup({ stack: opts.stack, nexus, env: engine.env });
    } catch (error) {
      throw new RestoreError((error as Error).message);
    }
    log(`fetched Redis's newest snapshot from the backup repository through ${nexus}`);
    try {
      return await restore({ ...opts, fromRepository: false, backup: fetched.dir }, log, root);
    } finally {
      fetched.remove();
    }
  }
  engine = engineFor(opts, root);
  const manifest = await verifyBackup(opts.backup);
  log(
    `verified ${manifest.files.length} files of backup ${manifest.name} (stack ${manifest.stack}, ${manifest.createdAt})`,
  );
  if (manifest.stack !== opts.stack && !opts.allowOtherStack) {
    throw new RestoreError(
      `the backup is of stack ${manifest.stack}, not ${opts.stack}; pass --allow-other-stack to restore it there anyway`,
    );
  }
  const entry = entryForTarget(manifest, opts.target);
  if (!entry) {
    throw new RestoreError(
      `backup ${manifest.name} holds no data for ${describeTarget(opts.target)}; it can restore: ${restorableTargets(manifest).join(", ") || "nothing"}`,
    );
  }
  const job = { opts, manifest, entry, log };
  if (entry.kind === "redis_rdb") await restoreRedis(job);
  else restorePostgres(job);
}

export async function main(argv: readonly string[], root: string = ROOT): Promise<number> {
  // To a point in time, from the continuous archive: scripts/pointInTime.ts.
  if (argv.includes("--to")) return pointInTimeMain(argv, root);
  try {
    await restore(parseRestoreArgs(argv), console.log, root);
    return 0;
  } catch (error) {
    console.error(`restore: ${(error as Error).message}`);
    return error instanceof UsageError ? 2 : 1;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => process.exit(code));
}
