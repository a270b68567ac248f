/**
 * One backup of a stack's databases and Redis: its settings, the script it runs
 * (assets/backup.sh, with the platform's names set ahead of it) and the exact command line the
 * Pulumi Command runs; backup/schedule.ts installs the same script on a timer. Everything here is
 * a pure function of plain settings, so tests run the very text that `pulumi up` and the
 * schedule run.
 *
 * One run, on the machine that runs it (the deploy machine), against the Docker engine that the
 * docker CLI reaches there (DOCKER_HOST, so a remote host works too), or in swarm mode against
 * each node's engine (`nodes`):
 * - finds the stack's database and Redis containers by label at run time (and, across nodes, the
 *   node that runs each one, where it then works in it);
 * - streams pg_dump (custom format) of every database and pg_dumpall --globals-only of every
 *   PostgreSQL cluster out through `docker exec`, at most `parallelism` at a time;
 * - has Redis BGSAVE, waits until LASTSAVE advances, then copies dump.rdb;
 * - writes into `<dir>/.partial-<ts>-<pid>/`, adds manifest.json (size, sha256, container,
 *   region, server version of every file) and only then renames it to `<dir>/<ts>/`;
 * - prunes complete backups older than `retentionDays`, never the newest one, and nothing that
 *   is not a backup directory directly inside `<dir>`.
 * No password is ever on a command line or in the output: PostgreSQL trusts local socket
 * connections inside its container, and redis-cli reads the password from redis.conf in the
 * container into REDISCLI_AUTH.
 */
import { REDIS_CONF_PATH } from "../stack/redis";
import { FULL_BACKUP_DAYS, PGBACKREST_PATHS } from "./archive";
import { LABEL_REGION, LABEL_ROLE, LABEL_STACK } from "../roles";
import { MANIFEST_FORMAT } from "./manifest";
import { shellQuote } from "../shell";
import { backupSh, redisCliInContainer, repositoryRestic } from "../../assets";

export interface BackupSettings {
  /** Value of the com.sectorwars.stack label, i.e. the Pulumi stack name. */
  stack: string;
  /** Absolute directory on the machine that runs the backup; backups land in `<dir>/<ts>/`. */
  backupDir: string;
  /** How many databases are dumped at the same time (at least 1). */
  parallelism: number;
  /** Complete backups older than this many days are deleted after a successful run. */
  retentionDays: number;
  /**
   * Succeed without a backup when the stack has no database or Redis container yet. The Pulumi
   * Command sets it (its first run precedes the containers); the schedule does not, so a wrong
   * stack name fails there instead of silently backing up nothing.
   */
  allowEmpty?: boolean;
  /** How long to wait for Redis' BGSAVE to finish. */
  redisSaveTimeoutSeconds?: number;
  /**
   * Swarm mode: each node's engine once (planning/swarm/placement.ts nodeHosts), "default" for the
   * one DOCKER_HOST reaches. Unset: that one engine.
   */
  nodes?: readonly string[];
}

export const DEFAULT_BACKUP_SETTINGS = {
  parallelism: 2,
  retentionDays: 30,
  redisSaveTimeoutSeconds: 900,
} as const;

export const STACK_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** No spaces or quotes: the directory goes into systemd unit files and command lines. */
const DIR_PATTERN = /^\/[A-Za-z0-9._/+-]*$/;
/** What assets/backup.sh accepts for --node (and a unit file's ExecStart carries unquoted). */
const NODE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9:/@._+-]*$/;

function positiveInteger(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${what} must be a whole number of at least 1, got ${value}`);
}

/** Throws on settings the script or the unit files could not carry safely. */
export function validateBackupSettings(s: BackupSettings): void {
  if (!STACK_PATTERN.test(s.stack)) throw new Error(`stack name "${s.stack}" must match ${STACK_PATTERN}`);
  if (!DIR_PATTERN.test(s.backupDir) || s.backupDir.split("/").some((p) => p === "..")) {
    throw new Error(
      `backup directory "${s.backupDir}" must be an absolute path of letters, digits and ._+-/ without ..`,
    );
  }
  if (s.backupDir.replace(/\/+$/, "") === "") throw new Error("the backup directory cannot be /");
  positiveInteger(s.parallelism, "parallelism");
  positiveInteger(s.retentionDays, "retentionDays");
  positiveInteger(
    s.redisSaveTimeoutSeconds ?? DEFAULT_BACKUP_SETTINGS.redisSaveTimeoutSeconds,
    "redisSaveTimeoutSeconds",
  );
  if (s.nodes?.length === 0) throw new Error("nodes, when given, must name at least one engine");
  for (const node of s.nodes ?? []) {
    if (!NODE_PATTERN.test(node)) throw new Error(`node "${node}" must be a DOCKER_HOST value or default`);
  }
}

/**
 * What assets/backup.sh takes from whoever runs it (the list at its top): the platform's names
 * and the defaults of its flags, from the constants the rest of the program uses.
 */
export function backupScriptInputs(): Record<string, string> {
  return {
    LABEL_STACK,
    LABEL_ROLE,
    LABEL_REGION,
    REDIS_CONF: REDIS_CONF_PATH,
    FORMAT: MANIFEST_FORMAT,
    DEFAULT_PARALLELISM: String(DEFAULT_BACKUP_SETTINGS.parallelism),
    DEFAULT_RETENTION_DAYS: String(DEFAULT_BACKUP_SETTINGS.retentionDays),
    DEFAULT_REDIS_SAVE_TIMEOUT: String(DEFAULT_BACKUP_SETTINGS.redisSaveTimeoutSeconds),
    REDIS_CLI: redisCliInContainer(),
    PGBACKREST_CONF: PGBACKREST_PATHS.conf,
    FULL_BACKUP_DAYS: String(FULL_BACKUP_DAYS),
    REPOSITORY_RESTIC: repositoryRestic(),
  };
}

/**
 * The backup script as the Pulumi Command runs it and the schedule installs it: assets/backup.sh
 * with its inputs set in a block after its first line. One self-contained text, so that the
 * installed file runs alone (from systemd, or by hand) exactly as `pulumi up` runs it. It takes
 * its settings as arguments:
 *
 *   --stack NAME --dir DIR [--parallelism N] [--retention-days N] [--allow-empty]
 *   [--redis-save-timeout SECONDS] [--prune-only] [--node DOCKER_HOST]...
 */
export function backupScript(): string {
  const [shebang, ...rest] = backupSh().split("\n");
  const inputs = Object.entries(backupScriptInputs()).flatMap(([name, value]) => [
    // These are sh for a container, single-quoted here: their "$" are not this script's.
    ...(name === "REDIS_CLI" || name === "REPOSITORY_RESTIC"
      ? ["# shellcheck disable=SC2016 # expanded by sh inside the container"]
      : []),
    `${name}=${shellQuote(value)}`,
  ]);
  return [
    shebang,
    // The path before planning/ had folders, kept: the text is the backup Command's input, and
    // changing it would rerun the backup on every stack's next up.
    "# Set by the SectorWars Pulumi program (planning/backupRun.ts); assets/backup.sh follows.",
    ...inputs,
    ...rest,
  ].join("\n");
}

/** The arguments that carry the settings to the script (see backupScript). */
export function backupArguments(s: BackupSettings): string[] {
  validateBackupSettings(s);
  return [
    "--stack",
    s.stack,
    "--dir",
    s.backupDir,
    "--parallelism",
    String(s.parallelism),
    "--retention-days",
    String(s.retentionDays),
    ...(s.redisSaveTimeoutSeconds === undefined ? [] : ["--redis-save-timeout", String(s.redisSaveTimeoutSeconds)]),
    ...(s.allowEmpty ? ["--allow-empty"] : []),
    ...(s.nodes ?? []).flatMap((node) => ["--node", node]),
  ];
}

/**
 * The command line the Pulumi Command runs (its provider hands it to /bin/sh -c): the script
 * inline as bash's -c argument, the settings as its arguments. It carries no secret.
 */
export function backupCommand(s: BackupSettings): string {
  return ["bash", "-c", shellQuote(backupScript()), "sectorwars-backup", ...backupArguments(s).map(shellQuote)].join(
    " ",
  );
}
