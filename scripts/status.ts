/**
 * The health of a deployed stack, from the Docker engine and the backup directory (it replaces
 * the seed's monitoring script):
 *
 *   npm run status -- --stack prod                         readable table
 *   npm run status -- --stack prod --json                  the StatusReport of planning/status/evaluation.ts
 *   npm run status -- --stack prod --max-backup-age 30h    another threshold ("off": none)
 *   npm run status -- --stack prod --min-free 20G          another free-space minimum ("off": none)
 *
 * It finds the stack's containers and volumes by the label com.sectorwars.stack=<stack> (never by
 * name), on the engine that DOCKER_HOST points at (else the local socket; a swarm stack: on every
 * node's engine, scripts/swarmStatus.ts), and compares them with
 * the plan of Pulumi.<stack>.yaml. Per container: state, health, restarts, CPU and memory against
 * its limits (one stats sample each), and for PostgreSQL the number of client connections,
 * counted by psql inside the container over its Unix socket (trusted there, so no password).
 * Per volume: its size, as `docker system df -v` reports it. And the age of the newest complete
 * backup in <backup.dir>/<stack>/ (the default threshold comes from backup.schedule, see
 * defaultMaxBackupAgeSeconds). And the free space of the engine's data root (DockerRootDir) and of
 * that backup directory, against --min-free (default DEFAULT_MIN_FREE): the backup directory by
 * statfs here, where backups land; the data root by statfs here only when the engine is this
 * machine's (dataRootSite), else by `df` in a throwaway container on the engine's host
 * (scripts/statusDisk.ts).
 *
 * Exit status: 0 healthy (warnings allowed), 1 something unhealthy (the findings say what),
 * 2 usage, a bad stack config, or no Docker engine answering.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { collectOutput } from "./dockerStream";
import Docker from "dockerode";
import { MANIFEST_FILE } from "../planning/backup/manifest";
import { type BackupDirEntry, defaultMaxBackupAgeSeconds, parseDuration } from "../planning/status/backups";
import { type RawStats } from "../planning/status/containerStats";
import {
  DEFAULT_MIN_FREE,
  type MinFree,
  type ObservedDisk,
  diskProbeImage,
  parseMinFree,
} from "../planning/status/disk";
import {
  type ObservedContainer,
  type ObservedVolume,
  type PostgresProbe,
  evaluateStatus,
  exitStatus,
  expectedContainers,
  isPostgresRole,
  postgresLogin,
  renderStatusTable,
} from "../planning/status/evaluation";
import { type StackPlan, planStack } from "../planning/stack/topology";
import { LABEL_REGION, LABEL_ROLE, LABEL_STACK } from "../planning/roles";
import { ARCHIVE_PROBE_SQL, type ObservedArchive } from "../planning/status/archive";
import { stanzaOf } from "../planning/backup/pointInTime";
import { type CliResult, ROOT, STACK_NAME_PATTERN, emit, parseCliArgs, readStackConfig, withTimeout } from "./cli";
import { measureDataRoot, measureHere } from "./statusDisk";
import { engineFor, isCurrent, swarmScope } from "./swarmStatus";

export const USAGE =
  "usage: tsx scripts/status.ts --stack <name> [--json] [--max-backup-age <duration>|off] [--min-free <10%|20G>|off]";

/** What runStatus reaches outside itself; tests replace any of it. */
export interface StatusDeps {
  /** Where Pulumi.<stack>.yaml is, and what a relative backup.dir is taken from. */
  root?: string;
  /** The engine to ask; by default DOCKER_HOST's, else the local socket. Swarm stacks ask their nodes'. */
  docker?: Docker;
  now?: () => Date;
  /**
   * This machine's host name (os.hostname()), compared with the engine's to tell whether the data
   * root is on this machine; a test passes another to have the engine's host measure it.
   */
  hostname?: string;
}

interface Args {
  stack: string;
  json: boolean;
  /** undefined: the schedule's default; null: no threshold. */
  maxBackupAge: number | null | undefined;
  /** null: no threshold. */
  minFree: MinFree | null;
}

function parseArgs(argv: readonly string[]): Args | string {
  const parsed = parseCliArgs(argv, {
    options: { stack: ["--stack", "-s"], maxBackupAge: ["--max-backup-age"], minFree: ["--min-free"] },
    flags: { json: ["--json"] },
  });
  if (typeof parsed === "string") return parsed;
  const { stack, maxBackupAge, minFree: minFreeText } = parsed.options;
  if (!stack) return "--stack is required";
  if (!STACK_NAME_PATTERN.test(stack)) return `${JSON.stringify(stack)} is not a stack name`;
  let maxAge: number | null | undefined;
  if (maxBackupAge === "off") maxAge = null;
  else if (maxBackupAge !== undefined) {
    try {
      maxAge = parseDuration(maxBackupAge);
    } catch (error) {
      return `--max-backup-age: ${(error as Error).message}`;
    }
  }
  let minFree: MinFree | null = DEFAULT_MIN_FREE;
  if (minFreeText !== undefined) {
    try {
      minFree = parseMinFree(minFreeText);
    } catch (error) {
      return `--min-free: ${(error as Error).message}`;
    }
  }
  return { stack, json: parsed.flags.json, maxBackupAge: maxAge, minFree };
}

const PING_TIMEOUT_MS = 10_000;
const PSQL_TIMEOUT_MS = 15_000;
/** pgbackrest info asks the repository over the network: a slow one gets longer than psql. */
const ARCHIVE_TIMEOUT_MS = 30_000;
/** Client connections only: pg_stat_activity also lists the server's own background workers. */
const CONNECTIONS_SQL = "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'";

const statusCode = (error: unknown): number | undefined =>
  typeof error === "object" && error !== null && "statusCode" in error && typeof error.statusCode === "number"
    ? error.statusCode
    : undefined;

/**
 * Runs a command in a container without a TTY; its output, split, and exit code. On timeout the
 * attached stream is destroyed, so that a hung command cannot keep the CLI from exiting.
 */
async function execIn(
  docker: Docker,
  container: Docker.Container,
  cmd: string[],
  timeoutMs: number,
  user?: string,
): Promise<{ exitCode: number | null; stdout: string; stderr: string }> {
  const exec = await container.exec({
    Cmd: cmd,
    AttachStdout: true,
    AttachStderr: true,
    Env: ["PGCONNECT_TIMEOUT=5"],
    ...(user === undefined ? {} : { User: user }),
  });
  const stream = await exec.start({ hijack: true, stdin: false });
  const output = collectOutput(docker, stream);
  // A hung command must not keep the CLI from exiting: its stream goes with the timeout.
  await withTimeout(output.ended, timeoutMs, cmd[0] ?? "command", () => stream.destroy());
  const info = await exec.inspect();
  return {
    exitCode: info.ExitCode,
    stdout: output.stdout(),
    stderr: output.stderr(),
  };
}

/** Counts client connections with psql inside the container; a failure is the probe's answer, not an exception. */
async function probePostgres(
  docker: Docker,
  container: Docker.Container,
  login: { user: string; database: string },
): Promise<PostgresProbe> {
  try {
    const result = await execIn(
      docker,
      container,
      ["psql", "-X", "-q", "-A", "-t", "-U", login.user, "-d", login.database, "-c", CONNECTIONS_SQL],
      PSQL_TIMEOUT_MS,
    );
    const text = result.stdout.trim();
    if (result.exitCode === 0 && /^\d+$/.test(text)) return { connections: Number(text) };
    const why = (result.stderr.trim() || text || "no output").split("\n")[0] ?? "";
    return { error: `psql -U ${login.user} -d ${login.database} exited ${result.exitCode ?? "?"}: ${why}` };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/** The database's archive state and the repository's answer (planning/status/archive.ts); failures are answers too. */
async function probeArchive(
  docker: Docker,
  container: Docker.Container,
  name: string,
  login: { user: string; database: string },
  labels: Record<string, string>,
): Promise<ObservedArchive> {
  const regionId = labels[LABEL_REGION];
  const stanza = stanzaOf(regionId === undefined ? { kind: "nexus" } : { kind: "region", regionId });
  const answer = async (cmd: string[], user?: string): Promise<{ text: string } | { error: string }> => {
    try {
      const r = await execIn(docker, container, cmd, ARCHIVE_TIMEOUT_MS, user);
      if (r.exitCode === 0) return { text: r.stdout };
      return {
        error: `${cmd[0] ?? ""} exited ${r.exitCode ?? "?"}: ${(r.stderr.trim() || r.stdout.trim()).split("\n")[0] ?? ""}`,
      };
    } catch (error) {
      return { error: (error as Error).message };
    }
  };
  const [probe, info] = await Promise.all([
    answer(["psql", "-X", "-q", "-A", "-t", "-U", login.user, "-d", login.database, "-c", ARCHIVE_PROBE_SQL]),
    answer(["pgbackrest", `--stanza=${stanza}`, "info", "--output=json"], "postgres"),
  ]);
  return {
    container: name,
    stanza,
    probe: "text" in probe ? { line: probe.text } : probe,
    info: "text" in info ? { json: info.text } : info,
  };
}

function envOf(list: readonly string[] | undefined): Record<string, string> {
  return Object.fromEntries(
    (list ?? []).filter((e) => e.includes("=")).map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]),
  );
}

/** One container as planning/status/evaluation.ts wants it, or undefined when it vanished meanwhile. */
async function observeContainer(docker: Docker, id: string, plan: StackPlan): Promise<ObservedContainer | undefined> {
  const container = docker.getContainer(id);
  let info: Docker.ContainerInspectInfo;
  try {
    info = await container.inspect();
  } catch (error) {
    if (statusCode(error) === 404) return undefined;
    throw error;
  }
  const labels = info.Config.Labels ?? {};
  const running = info.State.Status === "running";
  let stats: RawStats | null = null;
  if (running) {
    try {
      // Not one-shot: Docker then waits for a second sample, so precpu_stats gives a CPU delta.
      stats = await container.stats({ stream: false });
    } catch {
      stats = null; // stopped between inspect and stats: the state already says so
    }
  }
  const observed: ObservedContainer = {
    name: info.Name.replace(/^\//, ""),
    labels,
    state: info.State.Status,
    exitCode: info.State.ExitCode,
    oomKilled: info.State.OOMKilled,
    health: info.State.Health?.Status ?? null,
    restartCount: info.RestartCount,
    limits: {
      nanoCpus: info.HostConfig.NanoCpus ?? 0,
      cpuQuota: info.HostConfig.CpuQuota ?? 0,
      cpuPeriod: info.HostConfig.CpuPeriod ?? 0,
      memoryBytes: info.HostConfig.Memory ?? 0,
    },
    stats,
  };
  if (running && isPostgresRole(labels[LABEL_ROLE])) {
    const login = postgresLogin(plan, labels, envOf(info.Config.Env));
    observed.postgres = await probePostgres(docker, container, login);
    if (plan.backup.archive !== null)
      observed.archive = await probeArchive(docker, container, observed.name, login, labels);
  }
  return observed;
}

/** The fields of /system/df's Volumes read here; the typings leave df() untyped. */
interface DfVolume {
  Name?: unknown;
  Labels?: unknown;
  UsageData?: { Size?: unknown; RefCount?: unknown } | null;
}

async function observeVolumes(docker: Docker, stack: string): Promise<ObservedVolume[]> {
  const df = (await docker.df()) as { Volumes?: DfVolume[] | null };
  return (df.Volumes ?? []).flatMap((v): ObservedVolume[] => {
    const labels =
      typeof v.Labels === "object" && v.Labels !== null
        ? (v.Labels as Record<string, string>)
        : ({} as Record<string, string>);
    if (typeof v.Name !== "string" || labels[LABEL_STACK] !== stack) return [];
    const size = v.UsageData?.Size;
    const refs = v.UsageData?.RefCount;
    return [
      {
        name: v.Name,
        labels,
        size: typeof size === "number" ? size : -1,
        refCount: typeof refs === "number" ? refs : -1,
      },
    ];
  });
}

/** The backup directory's entries with their manifests; null when it does not exist. */
function readBackupDir(dir: string): BackupDirEntry[] | null {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  return entries.map((e) => {
    let manifestText: string | null = null;
    if (e.isDirectory()) {
      try {
        manifestText = fs.readFileSync(path.join(dir, e.name, MANIFEST_FILE), "utf8");
      } catch {
        manifestText = null;
      }
    }
    return { name: e.name, isDirectory: e.isDirectory(), manifestText };
  });
}

/** Everything but the process: testable without spawning. */
export async function runStatus(argv: readonly string[], deps: StatusDeps = {}): Promise<CliResult> {
  const args = parseArgs(argv);
  if (typeof args === "string") return { status: 2, stdout: "", stderr: `${args}\n${USAGE}\n` };
  const root = deps.root ?? ROOT;
  const config = readStackConfig(root, args.stack);
  if ("error" in config) return { status: 2, stdout: "", stderr: `${config.error}\n` };
  // A relative backup.dir starts at `root`, as the program's starts at the project directory.
  const plan = planStack(config, args.stack, { projectDir: root });
  // The same directory the Backups component writes to.
  const backupDir = plan.backup.settings.backupDir;

  // A swarm stack: every node's engine (scripts/swarmStatus.ts); the first is the provider's.
  const swarm = swarmScope(config, plan);
  const engines = swarm
    ? swarm.hosts.map((host) => ({ host, docker: engineFor(host, 120_000) }))
    : [{ host: "default", docker: deps.docker ?? new Docker({ timeout: 120_000 }) }];
  const docker = (engines[0] as (typeof engines)[number]).docker;
  for (const engine of engines) {
    try {
      await withTimeout(engine.docker.ping() as Promise<unknown>, PING_TIMEOUT_MS, "ping");
    } catch (error) {
      const where = engine.host === "default" ? (process.env.DOCKER_HOST ?? "the local socket") : engine.host;
      return { status: 2, stdout: "", stderr: `no Docker engine answers at ${where}: ${(error as Error).message}\n` };
    }
  }

  let containers: ObservedContainer[];
  let volumes: ObservedVolume[];
  let dataRoot: ObservedDisk;
  try {
    const listed = await docker.listContainers({ all: true, filters: { label: [`${LABEL_STACK}=${plan.stack}`] } });
    const info = (await docker.info()) as { DockerRootDir?: unknown; Name?: unknown };
    if (typeof info.DockerRootDir !== "string") throw new Error("docker info gave no DockerRootDir");
    const root = info.DockerRootDir;
    const others = engines.slice(1);
    const [observed, vols, rootMeasurement, elsewhere] = await Promise.all([
      Promise.all(listed.map((c) => observeContainer(docker, c.Id, plan))),
      observeVolumes(docker, plan.stack),
      measureDataRoot(docker, {
        root,
        engineName: typeof info.Name === "string" ? info.Name : "",
        hostname: deps.hostname ?? os.hostname(),
        probeImage: diskProbeImage(listed.map((c) => ({ role: c.Labels?.[LABEL_ROLE] ?? null, imageId: c.ImageID }))),
        stack: plan.stack,
      }),
      Promise.all(
        others.map(async ({ docker: other }) => {
          const found = await other.listContainers({ all: true, filters: { label: [`${LABEL_STACK}=${plan.stack}`] } });
          const seen = await Promise.all(found.map((c) => observeContainer(other, c.Id, plan)));
          return { containers: seen, volumes: await observeVolumes(other, plan.stack) };
        }),
      ),
    ]);
    containers = [...observed, ...elsewhere.flatMap((e) => e.containers)]
      .filter((c): c is ObservedContainer => c !== undefined)
      .filter(isCurrent);
    volumes = [...vols, ...elsewhere.flatMap((e) => e.volumes)];
    dataRoot = { purpose: "docker-data-root", path: root, measurement: rootMeasurement };
  } catch (error) {
    return { status: 2, stdout: "", stderr: `asking Docker failed: ${(error as Error).message}\n` };
  }

  let entries: BackupDirEntry[] | null;
  try {
    entries = readBackupDir(backupDir);
  } catch (error) {
    return {
      status: 2,
      stdout: "",
      stderr: `cannot read the backup directory ${backupDir}: ${(error as Error).message}\n`,
    };
  }

  // Where backups land: on this machine, like the directory read above.
  const backupDisk: ObservedDisk = {
    purpose: "backups",
    path: backupDir,
    measurement: await measureHere(backupDir, { parentIfMissing: true }),
  };

  const report = evaluateStatus({
    stack: plan.stack,
    now: (deps.now ?? (() => new Date()))(),
    expected: swarm ? swarm.expected : expectedContainers(plan),
    containers,
    volumes,
    backup: {
      dir: backupDir,
      schedule: config.backup.schedule,
      maxAgeSeconds:
        args.maxBackupAge === undefined ? defaultMaxBackupAgeSeconds(config.backup.schedule) : args.maxBackupAge,
      entries,
    },
    disk: { minFree: args.minFree, observed: [dataRoot, backupDisk] },
    archive: plan.backup.archive,
  });
  const status = exitStatus(report);
  return {
    status,
    stdout: args.json ? `${JSON.stringify(report, null, 2)}\n` : renderStatusTable(report),
    stderr:
      status === 0 || !args.json
        ? ""
        : `Stack "${plan.stack}" is unhealthy:\n${report.findings
            .filter((f) => f.severity === "unhealthy")
            .map((f) => `  - ${f.subject}: ${f.message}`)
            .join("\n")}\n`,
  };
}

if (require.main === module) {
  runStatus(process.argv.slice(2)).then(emit, (error: unknown) => {
    emit({
      status: 2,
      stdout: "",
      stderr: `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    });
  });
}
