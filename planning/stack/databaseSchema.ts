/**
 * The game's database schema, as text: the init SQL that the PostgreSQL image runs once, on an
 * empty data directory, and the one-shot migration container that brings every database up to
 * the gameserver image's version before any API of that version starts.
 *
 * - Init SQL is uploaded into the database container at /docker-entrypoint-initdb.d/, the
 *   official image's mechanism: its entrypoint runs the file only while it initialises an empty
 *   PGDATA. An existing volume never sees it, whatever the file says now.
 * - The migration runs `docker run --rm` of the gameserver image on the database's private
 *   network, with the API's environment taken from the docker CLI's own (`-e NAME`), so that no
 *   value, the database password least of all, is on a command line.
 */
import { ENV_NAME_PATTERN, shellQuote } from "../shell";
import type { HardeningPlan } from "./hardening";
import type { ResourceSpec } from "./sizes";
import { LABEL_ROLE } from "../roles";

/** Databases the stack config may give init SQL for: the nexus, and every region alike. */
export const INIT_SQL_KINDS = ["nexus", "region"] as const;
export type InitSqlKind = (typeof INIT_SQL_KINDS)[number];

/** Where the image's entrypoint looks for init files on first start. */
export const INIT_SQL_DIR = "/docker-entrypoint-initdb.d";
export const INIT_SQL_PATH = `${INIT_SQL_DIR}/init.sql`;

/**
 * The file travels as a container input, so it is stored in the Pulumi state once per database;
 * a schema (DDL and reference rows) is far below this, a data dump belongs in a restore.
 */
export const MAX_INIT_SQL_BYTES = 1024 * 1024;

/** What the entrypoint prints: on running an init file, and once initialisation has completed. */
export const INIT_FILE_STARTED = `running ${INIT_SQL_DIR}/`;
export const INIT_COMPLETE = "PostgreSQL init process complete";

/** The init SQL as text, or why it cannot be used. Size is checked by whoever reads the file. */
export function initSqlText(bytes: Uint8Array): { sql: string } | { problem: string } {
  let sql: string;
  try {
    sql = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return { problem: "is not UTF-8 text" };
  }
  if (sql.includes("\0")) return { problem: "contains a NUL byte; it is not SQL text" };
  if (sql.trim() === "") return { problem: "is empty" };
  return { sql };
}

/** Prints everything a container has logged, its restarts included. */
export const containerLogsCommand = (containerName: string): string => `docker logs ${shellQuote(containerName)}`;

/**
 * Fails when the database's entrypoint started the init files but never completed its
 * initialisation. The official image (and the test image) then exits; Docker restarts it (swarm
 * starts a new task on the same volume), and the second start finds a data directory and serves
 * it without the rest of the schema, healthy. A database that found an existing data directory
 * ran no init file and passes. `printLogs` prints the logs of every start: the container's by
 * default, a service's tasks' in swarm mode (planning/swarm/commands.ts serviceLogsCommand).
 */
export function initCheckCommand(containerName: string, printLogs = containerLogsCommand(containerName)): string {
  return [
    "set -eu",
    "log=$(mktemp); trap 'rm -f \"$log\"' EXIT",
    `${printLogs} >"$log" 2>&1`,
    `if grep -qF ${shellQuote(INIT_FILE_STARTED)} "$log" && ! grep -qF ${shellQuote(INIT_COMPLETE)} "$log"; then`,
    `  sed -n '\\#${INIT_FILE_STARTED}#,$p' "$log" | head -n 40 >&2`,
    `  echo "sectorwars: the init SQL failed in ${containerName}: its database runs without (part of) the schema, and the file never runs again on this data directory; see README, Database schema" >&2`,
    "  exit 1",
    "fi",
  ].join("\n");
}

/** One migration container: who it runs as, where, with what. */
export interface MigrationRun {
  /** Docker name; a second run while one is still going fails on it, never runs twice at once. */
  containerName: string;
  labels: Record<string, string>;
  /** The database's private network, where the API finds its database under the same name. */
  network: string;
  /** Image id of the gameserver. */
  image: string;
  /** Replaces the image's command; its entrypoint still applies. */
  command: readonly string[];
  /** Environment variables passed through from the docker CLI's environment, by name. */
  envNames: readonly string[];
  /** The API's limits: a runaway migration cannot take the host. */
  size: ResourceSpec;
  /** The API's hardening. */
  hardening: HardeningPlan;
}

/** `docker run --rm ...`: attached, so its output is the Command's and its exit status the migration's. */
export function migrationRunCommand(run: MigrationRun): string {
  for (const name of run.envNames) {
    if (!ENV_NAME_PATTERN.test(name)) throw new Error(`refusing environment variable name "${name}"`);
  }
  const h = run.hardening;
  const words = [
    "docker",
    "run",
    "--rm",
    "--name",
    run.containerName,
    ...Object.entries(run.labels).flatMap(([k, v]) => ["--label", `${k}=${v}`]),
    "--network",
    run.network,
    ...["--memory", `${run.size.limits.memoryMb}m`, "--memory-swap", `${run.size.limits.memoryMb}m`],
    ...["--cpus", String(run.size.limits.cpus)],
    ...h.capabilityDrops.flatMap((c) => ["--cap-drop", c]),
    ...h.capabilityAdds.flatMap((c) => ["--cap-add", c]),
    ...h.securityOpts.flatMap((o) => ["--security-opt", o]),
    ...(h.readOnlyRootfs ? ["--read-only"] : []),
    ...Object.entries(h.tmpfs).flatMap(([dir, options]) => ["--tmpfs", `${dir}:${options}`]),
    ...run.envNames.flatMap((name) => ["-e", name]),
    run.image,
    ...run.command,
  ];
  return words.map(shellQuote).join(" ");
}

/** The role label of migration containers; they keep the API's stack and region labels. */
export const MIGRATION_ROLE = "migration";

export function migrationLabels(apiLabels: Readonly<Record<string, string>>): Record<string, string> {
  return { ...apiLabels, [LABEL_ROLE]: MIGRATION_ROLE };
}
