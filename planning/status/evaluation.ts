/**
 * The health of a deployed stack, as plain data: what `npm run status` reports. The script
 * (scripts/status.ts) asks Docker and reads the backup directory; everything it decides is
 * here, as functions of what it read, so that tests can feed any answer Docker might give.
 *
 * A stack is healthy when every container its plan declares exists, runs and (when it has a
 * health check) reports healthy, every PostgreSQL container answers a query, and the newest
 * complete backup is younger than the threshold, and the Docker data root and the backup directory
 * have at least the minimum free space. Anything else that deserves a look (a container outside
 * the plan, memory near its limit, restarts, a backup directory without a valid manifest, a disk
 * that could not be measured) is a warning: shown, but the exit status stays 0.
 *
 * The parts are judged in planning/status/containerStats.ts, status/backups.ts and status/disk.ts.
 */
import { type BackupInput, type BackupReport, evaluateBackups, formatDuration } from "./backups";
import {
  type ContainerLimits,
  type CpuUse,
  MEMORY_WARNING_PERCENT,
  type MemoryUse,
  type RawStats,
  cpuUse,
  memoryUse,
} from "./containerStats";
import { type DiskInput, type DiskReport, evaluateDisks, renderDiskTable } from "./disk";
import { type ArchiveReport, type ObservedArchive, evaluateArchive, renderArchiveLines } from "./archive";
import { type Finding, type Severity, VERDICT_WORDS, type Verdict, verdictOf } from "./findings";
import { alignTable } from "../table";
import { type StackPlan, allContainers } from "../stack/topology";
import { LABEL_REGION, LABEL_ROLE, type Role } from "../roles";
import { formatBytes } from "../units";

// --- What the script reads ----------------------------------------------------------------

/** The outcome of counting a PostgreSQL container's client connections inside it. */
export type PostgresProbe = { connections: number } | { error: string };

/** One container carrying the stack's label, as `docker inspect` and `docker stats` saw it. */
export interface ObservedContainer {
  name: string;
  labels: Record<string, string>;
  /** State.Status: created, running, paused, restarting, removing, exited or dead. */
  state: string;
  exitCode: number;
  oomKilled: boolean;
  /** State.Health.Status (starting, healthy, unhealthy), or null without a health check. */
  health: string | null;
  restartCount: number;
  limits: ContainerLimits;
  /** Only taken of running containers. */
  stats: RawStats | null;
  /** Only for running PostgreSQL containers. */
  postgres?: PostgresProbe;
  /** A database of a stack that archives: what it and the repository said (planning/status/archive.ts). */
  archive?: ObservedArchive;
}

/** One volume carrying the stack's label, from `docker system df -v` (the API's /system/df). */
export interface ObservedVolume {
  name: string;
  labels: Record<string, string>;
  /** UsageData.Size; Docker reports -1 when it did not compute it. */
  size: number;
  /** UsageData.RefCount: containers that mount it; -1 when unknown. */
  refCount: number;
}

/** A container the plan says should exist. */
export interface ExpectedContainer {
  name: string;
  role: Role;
  region: string | null;
}

// --- The report ---------------------------------------------------------------------------

/** One row of the container table: an observed container, or a planned one that is missing. */
export interface ContainerStatus {
  name: string;
  role: string | null;
  region: string | null;
  /** Whether the stack's plan declares this container (by role and region). */
  planned: boolean;
  /** Docker's State.Status, or "missing" for a planned container that does not exist. */
  state: string;
  health: string | null;
  restarts: number | null;
  cpu: CpuUse | null;
  memory: MemoryUse | null;
  /** Client connections of a PostgreSQL container; null for other roles or when the query failed. */
  postgresConnections: number | null;
  verdict: Verdict;
}

/** A volume carrying the stack's label (data volumes are labelled like their container). */
export interface VolumeStatus {
  name: string;
  role: string | null;
  region: string | null;
  /** Null when Docker did not compute it. */
  sizeBytes: number | null;
  /** Containers that mount it; null when unknown. */
  containers: number | null;
}

/**
 * What `npm run status -- --json` prints (stable: fields are only ever added). Times are ISO
 * 8601 UTC, sizes bytes, durations seconds.
 */
export interface StatusReport {
  stack: string;
  checkedAt: string;
  healthy: boolean;
  /** Planned containers first, in plan order (missing ones with state "missing"), then the rest by name. */
  containers: ContainerStatus[];
  volumes: VolumeStatus[];
  backup: BackupReport;
  /** The continuous archive (backup.repository); null when the stack does not archive. */
  archive: ArchiveReport | null;
  findings: Finding[];
  /** Free space of the Docker data root and the backup directory (added with --min-free). */
  disk: DiskReport;
}

/** Everything evaluateStatus judges: the plan's containers and what Docker and the file system said. */
export interface StatusInput {
  stack: string;
  now: Date;
  expected: readonly ExpectedContainer[];
  containers: readonly ObservedContainer[];
  volumes: readonly ObservedVolume[];
  backup: BackupInput;
  disk: DiskInput;
  /** backup.repository's URL and archive timeout; unset: the stack does not archive. */
  archive?: { url: string; archiveTimeoutSeconds: number } | null;
}

/** Roles whose containers run PostgreSQL, and so get their connections counted. */
export const isPostgresRole = (role: string | null | undefined): boolean => role === "nexus-db" || role === "region-db";

/** The containers a stack's plan declares (retired regions have none). */
export function expectedContainers(plan: StackPlan): ExpectedContainer[] {
  return allContainers(plan).map((c) => ({
    name: c.containerName,
    role: c.role,
    region: c.labels[LABEL_REGION] ?? null,
  }));
}

/**
 * Database and user to count connections with: the plan's for a planned database container,
 * else what the container was created with (POSTGRES_DB/POSTGRES_USER), else the image's
 * defaults.
 */
export function postgresLogin(
  plan: StackPlan,
  labels: Record<string, string>,
  env: Record<string, string>,
): { user: string; database: string } {
  const region = labels[LABEL_REGION];
  const role = labels[LABEL_ROLE];
  const planned =
    role === "nexus-db"
      ? plan.nexus.db
      : role === "region-db"
        ? plan.regions.find((r) => r.id === region)?.db
        : undefined;
  if (planned) return { user: planned.user, database: planned.database };
  const user = env.POSTGRES_USER ?? "postgres";
  return { user, database: env.POSTGRES_DB ?? user };
}

const matchKey = (role: string | null, region: string | null): string => `${role ?? ""}\u0000${region ?? ""}`;

function evaluateContainer(
  c: ObservedContainer,
  { planned, stack }: { planned: boolean; stack: string },
): [ContainerStatus, Finding[]] {
  const role = c.labels[LABEL_ROLE] ?? null;
  const findings: Finding[] = [];
  const add = (severity: Severity, message: string) => findings.push({ severity, subject: c.name, message });

  if (!planned) add("warning", `not in the plan of stack ${stack} (a leftover, or a duplicate of its role)`);
  const running = c.state === "running";
  if (!running) {
    const detail =
      c.state === "exited" || c.state === "dead"
        ? ` (exit code ${c.exitCode}${c.oomKilled ? ", killed for running out of memory" : ""})`
        : "";
    add("unhealthy", `is ${c.state}${detail}, not running`);
  } else if (c.health !== null && c.health !== "healthy") {
    add("unhealthy", c.health === "starting" ? "health check has not passed yet (starting)" : `health is ${c.health}`);
  }
  if (c.restartCount > 0)
    add("warning", `restarted ${c.restartCount} time${c.restartCount === 1 ? "" : "s"} by Docker`);

  const cpu = running && c.stats ? cpuUse(c.stats, c.limits) : null;
  const memory = running && c.stats ? memoryUse(c.stats, c.limits) : null;
  if (memory && memory.percentOfLimit >= MEMORY_WARNING_PERCENT) {
    add(
      "warning",
      `memory at ${memory.percentOfLimit.toFixed(0)}% of its ${memory.limitSource} limit (${formatBytes(memory.limitBytes)})`,
    );
  }

  let postgresConnections: number | null = null;
  if (running && isPostgresRole(role) && c.postgres) {
    if ("connections" in c.postgres) postgresConnections = c.postgres.connections;
    else add("unhealthy", `counting PostgreSQL connections failed: ${c.postgres.error}`);
  }

  const status: ContainerStatus = {
    name: c.name,
    role,
    region: c.labels[LABEL_REGION] ?? null,
    planned,
    state: c.state,
    health: c.health,
    restarts: c.restartCount,
    cpu,
    memory,
    postgresConnections,
    verdict: verdictOf(findings),
  };
  return [status, findings];
}

/**
 * Judges everything the script observed: each planned container is matched to an observed one
 * by its role and region labels (not its name, which the prefix changes), planned ones missing
 * become rows with state "missing", and observed ones outside the plan are listed with a
 * warning.
 */
export function evaluateStatus(input: StatusInput): StatusReport {
  const findings: Finding[] = [];
  const unmatched = [...input.containers].sort((a, b) => a.name.localeCompare(b.name));
  const rows: ContainerStatus[] = [];

  for (const e of input.expected) {
    const index = unmatched.findIndex(
      (c) => matchKey(c.labels[LABEL_ROLE] ?? null, c.labels[LABEL_REGION] ?? null) === matchKey(e.role, e.region),
    );
    const observed = index >= 0 ? unmatched.splice(index, 1)[0] : undefined;
    if (observed) {
      const [row, found] = evaluateContainer(observed, { planned: true, stack: input.stack });
      rows.push(row);
      findings.push(...found);
    } else {
      rows.push({
        name: e.name,
        role: e.role,
        region: e.region,
        planned: true,
        state: "missing",
        health: null,
        restarts: null,
        cpu: null,
        memory: null,
        postgresConnections: null,
        verdict: "unhealthy",
      });
      findings.push({
        severity: "unhealthy",
        subject: e.name,
        message: `the plan declares it (role ${e.role}${e.region === null ? "" : `, region ${e.region}`}) but no such container exists`,
      });
    }
  }
  for (const c of unmatched) {
    const [row, found] = evaluateContainer(c, { planned: false, stack: input.stack });
    rows.push(row);
    findings.push(...found);
  }

  const volumes = [...input.volumes]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((v): VolumeStatus => ({
      name: v.name,
      role: v.labels[LABEL_ROLE] ?? null,
      region: v.labels[LABEL_REGION] ?? null,
      sizeBytes: v.size >= 0 ? v.size : null,
      containers: v.refCount >= 0 ? v.refCount : null,
    }));

  const [backup, backupFindings] = evaluateBackups(input.backup, input.stack, input.now);
  findings.push(...backupFindings);
  const [disk, diskFindings] = evaluateDisks(input.disk);
  findings.push(...diskFindings);
  const observedArchives = input.containers.flatMap((c) => (c.archive ? [c.archive] : []));
  const [archive, archiveFindings] = evaluateArchive(input.archive ?? null, observedArchives);
  findings.push(...archiveFindings);

  return {
    stack: input.stack,
    checkedAt: input.now.toISOString(),
    healthy: !findings.some((f) => f.severity === "unhealthy"),
    containers: rows,
    volumes,
    backup,
    archive,
    findings,
    disk,
  };
}

/** 0 when nothing is unhealthy (warnings allowed), 1 otherwise. */
export function exitStatus(report: StatusReport): 0 | 1 {
  return report.findings.some((f) => f.severity === "unhealthy") ? 1 : 0;
}

// --- The table ----------------------------------------------------------------------------

const formatCpuCount = (cpus: number): string => String(Number(cpus.toFixed(2)));

/** The report for people: containers, volumes, disks, backups, then every finding and the verdict. */
export function renderStatusTable(report: StatusReport): string {
  const out: string[] = [`Stack "${report.stack}" at ${report.checkedAt}`, ""];
  out.push(
    ...alignTable(
      [
        "CONTAINER",
        "ROLE",
        "REGION",
        "STATE",
        "HEALTH",
        "CPU (of limit)",
        "MEMORY (of limit)",
        "RESTARTS",
        "PG CONNS",
        "STATUS",
      ],
      report.containers.map((c) => [
        c.name,
        c.role ?? "-",
        c.region ?? "-",
        c.state,
        c.health ?? "-",
        c.cpu
          ? `${formatCpuCount(c.cpu.cpus)}/${formatCpuCount(c.cpu.limitCpus)} (${c.cpu.percentOfLimit.toFixed(0)}%)`
          : "-",
        c.memory
          ? `${formatBytes(c.memory.usageBytes)}/${formatBytes(c.memory.limitBytes)} (${c.memory.percentOfLimit.toFixed(0)}%)`
          : "-",
        c.restarts === null ? "-" : String(c.restarts),
        c.postgresConnections === null ? "-" : String(c.postgresConnections),
        VERDICT_WORDS[c.verdict],
      ]),
      ["left", "left", "left", "left", "left", "right", "right", "right", "right", "left"],
    ),
    "",
  );
  if (report.volumes.length === 0) out.push("No volumes carry the stack's label.", "");
  else {
    out.push(
      ...alignTable(
        ["VOLUME", "ROLE", "REGION", "SIZE", "CONTAINERS"],
        report.volumes.map((v) => [
          v.name,
          v.role ?? "-",
          v.region ?? "-",
          v.sizeBytes === null ? "?" : formatBytes(v.sizeBytes),
          v.containers === null ? "?" : String(v.containers),
        ]),
        ["left", "left", "left", "right", "right"],
      ),
      "",
    );
  }
  out.push(...renderDiskTable(report.disk));

  const b = report.backup;
  const threshold = b.maxAgeSeconds === null ? "no maximum age" : `at most ${formatDuration(b.maxAgeSeconds)} old`;
  out.push(
    `Backups in ${b.dir} (schedule ${b.schedule}, ${threshold}): ` +
      (b.newest
        ? `newest ${b.newest.name}, ${formatDuration(b.newest.ageSeconds)} old; ${b.complete} complete, ${b.partial} partial`
        : b.dirExists
          ? `none complete; ${b.partial} partial`
          : "the directory does not exist"),
    "",
  );
  out.push(...renderArchiveLines(report.archive, new Date(report.checkedAt)));

  if (report.findings.length > 0) {
    out.push("Findings:");
    for (const f of report.findings)
      out.push(`  ${f.severity === "unhealthy" ? "UNHEALTHY" : "warning"}  ${f.subject}: ${f.message}`);
    out.push("");
  }
  const unhealthy = report.findings.filter((f) => f.severity === "unhealthy").length;
  const warnings = report.findings.length - unhealthy;
  out.push(
    unhealthy === 0
      ? `Healthy${warnings > 0 ? ` (${warnings} warning${warnings === 1 ? "" : "s"})` : ""}.`
      : `UNHEALTHY: ${unhealthy} problem${unhealthy === 1 ? "" : "s"}${warnings > 0 ? `, ${warnings} warning${warnings === 1 ? "" : "s"}` : ""}.`,
  );
  return `${out.join("\n")}\n`;
}
