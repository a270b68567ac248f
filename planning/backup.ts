/**
 * Backups of a stack's databases and Redis, as text: the bash script one backup run executes,
 * the exact command line the Pulumi Command runs, the systemd units of the daily schedule and
 * the commands that install and remove them. Everything here is a pure function of plain
 * settings, so tests run the very text that `pulumi up` and the schedule run.
 *
 * One run, on the machine that runs it (the deploy machine), against the Docker engine that the
 * docker CLI reaches there (DOCKER_HOST, so a remote host works too):
 * - finds the stack's database and Redis containers by label at run time;
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
import { REDIS_CONF_PATH } from "./redis";
import { LABEL_REGION, LABEL_ROLE, LABEL_STACK } from "./topology";

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
}

/** Directory names of complete backups: UTC, ISO 8601 basic format, sorts chronologically. */
export const BACKUP_NAME_PATTERN = /^[0-9]{8}T[0-9]{6}Z$/;

/** A time in that form, to the second: 2026-11-25T14:00:00.123Z → 20261125T140000Z. */
export const backupName = (time: Date): string =>
  time
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
/** Directories of runs in progress or killed; never taken for a backup, removed by the next run. */
export const PARTIAL_NAME_PATTERN = /^\.partial-[0-9]{8}T[0-9]{6}Z-[0-9]+$/;
export const MANIFEST_FILE = "manifest.json";
export const MANIFEST_FORMAT = "sectorwars-backup/1";

export const DEFAULT_BACKUP_SETTINGS = {
  parallelism: 2,
  retentionDays: 30,
  redisSaveTimeoutSeconds: 900,
} as const;

export type BackupFileKind = "pg_dump" | "pg_globals" | "redis_rdb";

export interface ManifestEntry {
  /** File name inside the backup directory. */
  file: string;
  kind: BackupFileKind;
  /** com.sectorwars.role of the source container. */
  role: "nexus-db" | "region-db" | "redis";
  container: string;
  regionId: string | null;
  database: string | null;
  user: string | null;
  serverVersion: string;
  size: number;
  sha256: string;
}

export interface BackupManifest {
  format: typeof MANIFEST_FORMAT;
  stack: string;
  name: string;
  createdAt: string;
  files: ManifestEntry[];
}

const STACK_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** No spaces or quotes: the directory goes into systemd unit files and command lines. */
const DIR_PATTERN = /^\/[A-Za-z0-9._/+-]*$/;
const ENV_NAME_PATTERN = /^[A-Z_][A-Z0-9_]*$/;
const ENV_VALUE_PATTERN = /^[^\s"'\\$%`]*$/;

/** Quotes one word for sh and bash. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

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
}

/**
 * `sh -c` text that runs redis-cli inside the Redis container, authenticated with the password
 * from its redis.conf (read there into REDISCLI_AUTH, never on a command line or in output):
 * docker exec C sh -c REDIS_CLI_IN_CONTAINER sh CONF_PATH [redis-cli arguments...]
 */
export const REDIS_CLI_IN_CONTAINER = `conf=$1; shift
pw=$(sed -n "s/^requirepass //p" "$conf")
if [ -n "$pw" ]; then REDISCLI_AUTH=$pw; export REDISCLI_AUTH; fi
port=$(sed -n "s/^port //p" "$conf")
exec redis-cli -p "\${port:-6379}" "$@"`;

/**
 * The backup script. It takes its settings as arguments, so the same text serves the Pulumi
 * Command, the schedule and a manual run:
 *
 *   --stack NAME --dir DIR [--parallelism N] [--retention-days N] [--allow-empty]
 *   [--redis-save-timeout SECONDS] [--prune-only]
 */
export function backupScript(): string {
  return `#!/usr/bin/env bash
# SectorWars backup: every PostgreSQL database (pg_dump, custom format), every cluster's globals
# and Redis (BGSAVE, then dump.rdb) of one stack, into <dir>/<UTC timestamp>/ with a manifest.
# Generated by planning/backup.ts; docs/backups.md describes it.
set -euo pipefail
shopt -s nullglob
export LC_ALL=C
umask 077

LABEL_STACK=${LABEL_STACK}
LABEL_ROLE=${LABEL_ROLE}
LABEL_REGION=${LABEL_REGION}
REDIS_CONF=${shellQuote(REDIS_CONF_PATH)}
FORMAT=${MANIFEST_FORMAT}

say() { printf 'sectorwars-backup: %s\\n' "$*"; }
die() { printf 'sectorwars-backup: error: %s\\n' "$*" >&2; exit 1; }
usage() { die "usage: sectorwars-backup --stack NAME --dir DIR [--parallelism N] [--retention-days N] [--allow-empty] [--redis-save-timeout S] [--prune-only]"; }

stack="" dir="" parallelism=${DEFAULT_BACKUP_SETTINGS.parallelism} retention_days=${DEFAULT_BACKUP_SETTINGS.retentionDays}
redis_timeout=${DEFAULT_BACKUP_SETTINGS.redisSaveTimeoutSeconds} allow_empty=0 prune_only=0
while [ $# -gt 0 ]; do
  case $1 in
    --stack|--dir|--parallelism|--retention-days|--redis-save-timeout)
      [ $# -ge 2 ] || usage
      case $1 in
        --stack) stack=$2 ;;
        --dir) dir=$2 ;;
        --parallelism) parallelism=$2 ;;
        --retention-days) retention_days=$2 ;;
        --redis-save-timeout) redis_timeout=$2 ;;
      esac
      shift 2 ;;
    --allow-empty) allow_empty=1; shift ;;
    --prune-only) prune_only=1; shift ;;
    *) usage ;;
  esac
done
[[ $stack =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || die "--stack must name the stack, got '$stack'"
[[ $dir == /* ]] || die "--dir must be an absolute path, got '$dir'"
[[ $parallelism =~ ^[1-9][0-9]*$ ]] || die "--parallelism must be a positive integer"
[[ $retention_days =~ ^[1-9][0-9]*$ ]] || die "--retention-days must be a positive integer"
[[ $redis_timeout =~ ^[1-9][0-9]*$ ]] || die "--redis-save-timeout must be a positive integer"
for tool in docker flock sha256sum date sync mv; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is needed on the machine that runs the backup"
done

mkdir -p -- "$dir"
dir=$(cd -- "$dir" && pwd -P)
[ "$dir" != / ] || die "--dir cannot be /"

# One run at a time per backup directory (the schedule and pulumi up may coincide).
exec 8>>"$dir/.lock"
flock -w 3600 8 || die "another backup of $dir has held its lock for an hour"

# Deletes complete backups older than the retention, never the newest complete one, and the
# leftovers of killed runs (no run is in progress: we hold the lock). Only names that match the
# backup patterns exactly, directly inside $dir, are ever deleted.
prune() {
  local now cutoff newest="" name path
  local complete=()
  now=$(date -u +%s)
  cutoff=$(date -u -d "@$((now - retention_days * 86400))" +%Y%m%dT%H%M%SZ)
  for path in "$dir"/*; do
    name=\${path##*/}
    if [[ $name =~ ^[0-9]{8}T[0-9]{6}Z$ ]] && [ -d "$path" ] && [ ! -L "$path" ] && [ -f "$path/manifest.json" ]; then
      complete+=("$name")
    fi
  done
  if [ \${#complete[@]} -gt 0 ]; then newest=\${complete[\${#complete[@]}-1]}; fi
  for name in "\${complete[@]}"; do
    if [[ $name < $cutoff ]] && [ "$name" != "$newest" ]; then
      rm -rf -- "\${dir:?}/$name"
      say "pruned $dir/$name (older than $retention_days days)"
    fi
  done
  for path in "$dir"/.partial-*; do
    name=\${path##*/}
    if [[ $name =~ ^\\.partial-[0-9]{8}T[0-9]{6}Z-[0-9]+$ ]] && [ -d "$path" ] && [ ! -L "$path" ]; then
      rm -rf -- "\${dir:?}/$name"
      say "removed $dir/$name, left by an interrupted run"
    fi
  done
}

if [ "$prune_only" = 1 ]; then
  prune
  exit 0
fi

docker version --format '{{.Server.Version}}' >/dev/null || die "cannot reach the Docker engine\${DOCKER_HOST:+ at $DOCKER_HOST}"

# --- Discovery: the stack's containers, by label -------------------------------------------
containers_with_role() {
  docker ps -a --filter "label=$LABEL_STACK=$stack" --filter "label=$LABEL_ROLE=$1" --format '{{.Names}}' | sort
}
# One variable of a container's configured environment; the rest never leaves the pipe.
container_env() {
  docker inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$1" |
    awk -v key="$2=" 'index($0, key) == 1 && !found { print substr($0, length(key) + 1); found = 1 }'
}
label_of() { docker inspect --format "{{index .Config.Labels \\"$2\\"}}" "$1"; }

tasks=()  # "name|container|region|database|user|role"
nexus=$(containers_with_role nexus-db)
regions=$(containers_with_role region-db)
redis=$(containers_with_role redis)
[ "$(printf '%s\\n' "$nexus" | grep -c .)" -le 1 ] || die "more than one nexus-db container in stack $stack: $nexus"
[ "$(printf '%s\\n' "$redis" | grep -c .)" -le 1 ] || die "more than one redis container in stack $stack: $redis"
for c in $nexus $regions; do
  role=$(label_of "$c" "$LABEL_ROLE")
  region=""
  name=nexus
  if [ "$role" = region-db ]; then
    region=$(label_of "$c" "$LABEL_REGION")
    [[ $region =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || die "container $c has no usable $LABEL_REGION label: '$region'"
    name=region-$region
  fi
  user=$(container_env "$c" POSTGRES_USER)
  user=\${user:-postgres}
  db=$(container_env "$c" POSTGRES_DB)
  db=\${db:-$user}
  tasks+=("$name|$c|$region|$db|$user|$role")
done
if [ \${#tasks[@]} -eq 0 ] && [ -z "$redis" ]; then
  if [ "$allow_empty" = 1 ]; then
    say "stack $stack has no database or Redis container yet; nothing to back up"
    exit 0
  fi
  die "no container labelled $LABEL_STACK=$stack with role nexus-db, region-db or redis; is the stack name right?"
fi
[ -n "$nexus" ] || say "warning: stack $stack has no nexus-db container"
[ -n "$redis" ] || say "warning: stack $stack has no redis container"

# --- The run's directory --------------------------------------------------------------------
while :; do
  now=$(date -u +%s)
  ts=$(date -u -d "@$now" +%Y%m%dT%H%M%SZ)
  [ -e "$dir/$ts" ] || break
  sleep 1
done
created_at=$(date -u -d "@$now" +%Y-%m-%dT%H:%M:%SZ)
tmp="$dir/.partial-$ts-$$"

on_exit() {
  local rc=$?
  trap - EXIT INT TERM
  local p
  for p in $(jobs -p); do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ -n "$tmp" ] && [ -d "$tmp" ]; then rm -rf -- "$tmp"; fi
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -- "$tmp" "$tmp/.meta" "$tmp/.log"
say "backing up stack $stack into $dir/$ts (\${#tasks[@]} database(s)\${redis:+ and Redis}, $parallelism at a time)"

# --- Jobs: each runs in the background; its stderr is its error message ----------------------
child=""
# Runs "$@" with stdout into $1 in the background, so that a TERM to the job stops it at once.
run_into() {
  local out=$1
  shift
  "$@" >"$out" &
  child=$!
  wait "$child"
}
job_traps() { trap 'if [ -n "$child" ]; then kill -TERM "$child" 2>/dev/null || true; fi; exit 143' TERM; }
fail() { printf '%s\\n' "$*" >&2; exit 1; }
has_magic() { [ "$(head -c \${#2} -- "$1")" = "$2" ]; }
# meta NAME FIELD...: one manifest row (without size and digest) of job NAME, fields separated
# by US (\\x1f): unlike a tab, it keeps empty fields apart when read back.
meta() {
  local name=$1 IFS=$'\\x1f'
  shift
  printf '%s\\n' "$*" >>"$tmp/.meta/$name.tsv"
}

dump_postgres() {
  local name=$1 c=$2 region=$3 db=$4 user=$5 role=$6 version
  job_traps
  version=$(docker exec "$c" psql -X -w -A -t -U "$user" -d "$db" -c 'SHOW server_version') ||
    fail "cannot connect to the database"
  run_into "$tmp/$name.dump" docker exec "$c" pg_dump -w -U "$user" -d "$db" --format=custom ||
    fail "pg_dump failed"
  has_magic "$tmp/$name.dump" PGDMP || fail "pg_dump wrote no custom-format archive"
  run_into "$tmp/$name.globals.sql" docker exec "$c" pg_dumpall -w -U "$user" -l "$db" --globals-only --no-role-passwords ||
    fail "pg_dumpall --globals-only failed"
  meta "$name" "$name.dump" pg_dump "$role" "$c" "$region" "$db" "$user" "$version"
  meta "$name" "$name.globals.sql" pg_globals "$role" "$c" "$region" "$db" "$user" "$version"
}

# redis-cli inside the Redis container, authenticated with the password from its redis.conf
# (read there into REDISCLI_AUTH, never on a command line).
# shellcheck disable=SC2016 # expanded by sh inside the container
REDIS_CLI=${shellQuote(REDIS_CLI_IN_CONTAINER)}
rcli() { docker exec "$redis" sh -c "$REDIS_CLI" sh "$REDIS_CONF" "$@" | tr -d '\\r'; }
info_field() { rcli INFO persistence | sed -n "s/^$1://p"; }
# The first line of a reply that must be a number (LASTSAVE, TIME); anything else fails the job.
number() {
  local n
  n=$(rcli "$@" | head -n1) || true
  [[ $n =~ ^[0-9]+$ ]] || fail "Redis answered $* with '$n'"
  printf '%s' "$n"
}

backup_redis() {
  local version rdir rfile before reply deadline now last
  job_traps
  version=$(rcli INFO server | sed -n 's/^redis_version://p')
  [ -n "$version" ] || fail "cannot talk to Redis (INFO server gave no version)"
  rdir=$(rcli CONFIG GET dir | sed -n 2p)
  rfile=$(rcli CONFIG GET dbfilename | sed -n 2p)
  { [ -n "$rdir" ] && [ -n "$rfile" ]; } || fail "CONFIG GET dir/dbfilename gave no answer"
  deadline=$((SECONDS + redis_timeout))
  while :; do
    [ $SECONDS -lt $deadline ] || fail "Redis did not start a BGSAVE within $redis_timeout s"
    before=$(number LASTSAVE)
    # LASTSAVE counts whole seconds: start only once a save finishing now would advance it.
    while :; do
      now=$(number TIME)
      [ "$now" -le "$before" ] || break
      sleep 0.2
    done
    reply=$(rcli BGSAVE SCHEDULE)
    case $reply in
      "Background saving started"|"Background saving scheduled") break ;;
      *"already in progress"*)
        # That save began before this run; wait for it, then take our own.
        while [ "$(info_field rdb_bgsave_in_progress)" = 1 ]; do
          [ $SECONDS -lt $deadline ] || fail "a BGSAVE already in progress did not finish within $redis_timeout s"
          sleep 0.2
        done ;;
      *) fail "BGSAVE was refused: $reply" ;;
    esac
  done
  while :; do
    last=$(number LASTSAVE)
    [ "$last" -le "$before" ] || break
    if [ "$(info_field rdb_bgsave_in_progress)" = 0 ] && [ "$(info_field aof_rewrite_in_progress)" = 0 ] &&
      [ "$(info_field rdb_last_bgsave_status)" = err ]; then
      fail "BGSAVE failed (rdb_last_bgsave_status:err; see the Redis log)"
    fi
    [ $SECONDS -lt $deadline ] || fail "BGSAVE did not finish within $redis_timeout s"
    sleep 0.2
  done
  # The save is complete and renamed into place; a later save would replace it just as atomically.
  run_into "$tmp/redis.rdb" docker exec "$redis" cat -- "$rdir/$rfile" || fail "copying $rdir/$rfile failed"
  has_magic "$tmp/redis.rdb" REDIS || fail "$rdir/$rfile is not an RDB file"
  meta redis redis.rdb redis_rdb redis "$redis" "" "" "" "$version"
}

pids=()
labels=()
logs=()
start_job() {
  while [ "$(jobs -rp | wc -l)" -ge "$parallelism" ]; do sleep 0.2; done
  local label=$1 log=$tmp/.log/$2
  shift 2
  "$@" 2>"$log" &
  pids+=($!)
  labels+=("$label")
  logs+=("$log")
}
if [ -n "$redis" ]; then start_job "Redis (container $redis)" redis backup_redis; fi
for task in "\${tasks[@]}"; do
  IFS='|' read -r name c region db user role <<<"$task"
  start_job "database $db (\${region:+region $region, }container $c)" "$name" dump_postgres "$name" "$c" "$region" "$db" "$user" "$role"
done

failed=()
for i in "\${!pids[@]}"; do
  if ! wait "\${pids[$i]}"; then
    failed+=("\${labels[$i]}")
    printf 'sectorwars-backup: error: backup of %s failed:\\n' "\${labels[$i]}" >&2
    sed 's/^/    /' -- "\${logs[$i]}" >&2 || true
  fi
done
if [ \${#failed[@]} -gt 0 ]; then
  die "backup of stack $stack failed ($(printf '%s; ' "\${failed[@]}")no backup was written)"
fi

# --- Manifest, then the rename that makes the backup visible --------------------------------
# Every value is a name, a version or a digest; quotes, backslashes and control characters,
# which none of them should contain, are dropped rather than escaped.
json() { printf '"%s"' "$(printf '%s' "$1" | tr -d '\\000-\\037"\\134')"; }
json_or_null() { if [ -n "$1" ]; then json "$1"; else printf null; fi; }
{
  printf '{\\n  "format": %s,\\n  "stack": %s,\\n  "name": %s,\\n  "createdAt": %s,\\n  "files": [' \\
    "$(json "$FORMAT")" "$(json "$stack")" "$(json "$ts")" "$(json "$created_at")"
  sep=""
  while IFS=$'\\x1f' read -r file kind role c region db user version; do
    size=$(wc -c <"$tmp/$file" | tr -d ' ')
    sum=$(sha256sum -- "$tmp/$file" | cut -d' ' -f1)
    printf '%s\\n    {"file": %s, "kind": %s, "role": %s, "container": %s, "regionId": %s, "database": %s, "user": %s, "serverVersion": %s, "size": %s, "sha256": %s}' \\
      "$sep" "$(json "$file")" "$(json "$kind")" "$(json "$role")" "$(json "$c")" "$(json_or_null "$region")" \\
      "$(json_or_null "$db")" "$(json_or_null "$user")" "$(json "$version")" "$size" "$(json "$sum")"
    sep=,
  done < <(cat "$tmp/.meta"/*.tsv | sort)
  printf '\\n  ]\\n}\\n'
} >"$tmp/manifest.json.tmp"
rm -rf -- "$tmp/.meta" "$tmp/.log"
mv -- "$tmp/manifest.json.tmp" "$tmp/manifest.json"
sync -- "$tmp"/* "$tmp"
mv -T -- "$tmp" "$dir/$ts"
tmp=""
sync -- "$dir"
for path in "$dir/$ts"/*; do say "  $(wc -c <"$path" | tr -d ' ') bytes  \${path##*/}"; done
say "backup complete: $dir/$ts"
prune
`;
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

// --- The schedule -------------------------------------------------------------------------

export interface BackupSchedule {
  /** systemd calendar expression (systemd.time(7)), e.g. "daily" or "*-*-* 03:30:00 UTC". */
  onCalendar: string;
  /** Spreads the start over this many seconds, so that many stacks do not start at once. */
  randomizedDelaySeconds?: number;
  /**
   * Environment for the docker CLI of the scheduled run, e.g. { DOCKER_HOST: "ssh://ops@db1" }:
   * the same engine `pulumi up` deploys to. No secrets: unit files are world-readable.
   */
  environment?: Record<string, string>;
}

export const DEFAULT_BACKUP_SCHEDULE: BackupSchedule = { onCalendar: "daily", randomizedDelaySeconds: 900 };

/** Name of the systemd service and timer of a stack's schedule (without .service/.timer). */
export const scheduleUnitName = (stack: string): string => `sectorwars-backup-${stack}`;

/** Where the installer puts the script: system units (root) and user units (anyone else). */
export const SYSTEM_SCRIPT_DIR = "/usr/local/lib/sectorwars";
export const USER_SCRIPT_DIR = "%h/.local/lib/sectorwars";
export const scheduleScriptFile = (stack: string): string => `backup-${stack}.sh`;

function validateSchedule(schedule: BackupSchedule): void {
  if (!/^[A-Za-z0-9*.,:/~ +_-]+$/.test(schedule.onCalendar) || schedule.onCalendar.trim() === "") {
    throw new Error(`schedule "${schedule.onCalendar}" is not a systemd calendar expression`);
  }
  const delay = schedule.randomizedDelaySeconds ?? 0;
  if (!Number.isInteger(delay) || delay < 0)
    throw new Error(`randomizedDelaySeconds must be a whole number ≥ 0, got ${delay}`);
  for (const [name, value] of Object.entries(schedule.environment ?? {})) {
    if (!ENV_NAME_PATTERN.test(name)) throw new Error(`environment variable name "${name}" is not valid`);
    if (!ENV_VALUE_PATTERN.test(value))
      throw new Error(`environment variable ${name} has characters a unit file would mangle`);
  }
}

/** The oneshot service the timer starts: the backup script with the stack's arguments. */
export function backupServiceUnit(s: BackupSettings, schedule: BackupSchedule, scriptDir: string): string {
  validateSchedule(schedule);
  const args = backupArguments({ ...s, allowEmpty: false });
  return [
    "# Generated by the SectorWars Pulumi program (planning/backup.ts); see docs/backups.md.",
    "[Unit]",
    `Description=SectorWars backup of stack ${s.stack}`,
    "Wants=network-online.target",
    "After=network-online.target docker.service",
    "",
    "[Service]",
    "Type=oneshot",
    ...Object.entries(schedule.environment ?? {}).map(([k, v]) => `Environment=${k}=${v}`),
    `ExecStart=/bin/bash ${scriptDir}/${scheduleScriptFile(s.stack)} ${args.join(" ")}`,
    "Nice=10",
    "IOSchedulingClass=best-effort",
    "IOSchedulingPriority=7",
    "PrivateTmp=yes",
    "NoNewPrivileges=yes",
    "TimeoutStartSec=6h",
    "",
  ].join("\n");
}

export function backupTimerUnit(s: BackupSettings, schedule: BackupSchedule): string {
  validateSchedule(schedule);
  validateBackupSettings(s);
  return [
    "# Generated by the SectorWars Pulumi program (planning/backup.ts); see docs/backups.md.",
    "[Unit]",
    `Description=Scheduled SectorWars backup of stack ${s.stack}`,
    "",
    "[Timer]",
    `OnCalendar=${schedule.onCalendar}`,
    `RandomizedDelaySec=${schedule.randomizedDelaySeconds ?? 0}`,
    // A run missed while the machine was off happens at the next boot.
    "Persistent=true",
    `Unit=${scheduleUnitName(s.stack)}.service`,
    "",
    "[Install]",
    "WantedBy=timers.target",
    "",
  ].join("\n");
}

/**
 * Installs (or updates) the schedule on the machine that runs it: the script, the service and
 * the timer, then enables and starts the timer. As root: system units in /etc/systemd/system;
 * otherwise the user's units (`systemctl --user`, which need `loginctl enable-linger` to run
 * while the user is logged out). SECTORWARS_INSTALL_ROOT, when set, is prefixed to every path it
 * writes or checks (like DESTDIR), for packaging and tests.
 */
export function scheduleInstallCommand(s: BackupSettings, schedule: BackupSchedule): string {
  const unit = scheduleUnitName(s.stack);
  const script = `set -euo pipefail
root=\${SECTORWARS_INSTALL_ROOT:-}
die() { printf 'sectorwars-backup-schedule: error: %s\\n' "$*" >&2; exit 1; }
command -v systemctl >/dev/null 2>&1 ||
  die "the backup schedule needs systemd on the machine that runs pulumi up; set the schedule to off there"
[ -d "$root/run/systemd/system" ] ||
  die "systemd is not running on this machine; set the backup schedule to off and schedule the backup elsewhere (docs/backups.md)"
if command -v systemd-analyze >/dev/null 2>&1; then
  systemd-analyze calendar -- ${shellQuote(schedule.onCalendar)} >/dev/null ||
    die ${shellQuote(`the schedule "${schedule.onCalendar}" is not a systemd calendar expression`)}
fi
if [ "$(id -u)" = 0 ]; then
  ctl=(systemctl)
  unit_dir=$root/etc/systemd/system
  script_dir=$root${SYSTEM_SCRIPT_DIR}
  service=${shellQuote(backupServiceUnit(s, schedule, SYSTEM_SCRIPT_DIR))}
else
  ctl=(systemctl --user)
  unit_dir=$root\${XDG_CONFIG_HOME:-$HOME/.config}/systemd/user
  script_dir=$root$HOME/.local/lib/sectorwars
  service=${shellQuote(backupServiceUnit(s, schedule, USER_SCRIPT_DIR))}
fi
timer=${shellQuote(backupTimerUnit(s, schedule))}
backup_script=${shellQuote(backupScript())}
# Each file is written beside its final name and renamed, so a unit never sees half a file.
put() { printf '%s' "$2" >"$1.tmp" && chmod "$3" "$1.tmp" && mv -f -- "$1.tmp" "$1"; }
mkdir -p -- "$unit_dir" "$script_dir"
put "$script_dir/${scheduleScriptFile(s.stack)}" "$backup_script" 0755
put "$unit_dir/${unit}.service" "$service" 0644
put "$unit_dir/${unit}.timer" "$timer" 0644
"\${ctl[@]}" daemon-reload
"\${ctl[@]}" enable --now ${unit}.timer
"\${ctl[@]}" list-timers --all --no-pager ${unit}.timer || true
echo "sectorwars-backup-schedule: installed ${unit}.timer (${schedule.onCalendar.replace(/'/g, "")})"
`;
  return ["bash", "-c", shellQuote(script), "sectorwars-backup-schedule"].join(" ");
}

/** Stops and removes what scheduleInstallCommand installed; the backups stay. */
export function scheduleRemoveCommand(stack: string): string {
  if (!STACK_PATTERN.test(stack)) throw new Error(`stack name "${stack}" must match ${STACK_PATTERN}`);
  const unit = scheduleUnitName(stack);
  const script = `set -euo pipefail
root=\${SECTORWARS_INSTALL_ROOT:-}
if [ "$(id -u)" = 0 ]; then
  ctl=(systemctl)
  unit_dir=$root/etc/systemd/system
  script_dir=$root${SYSTEM_SCRIPT_DIR}
else
  ctl=(systemctl --user)
  unit_dir=$root\${XDG_CONFIG_HOME:-$HOME/.config}/systemd/user
  script_dir=$root$HOME/.local/lib/sectorwars
fi
if command -v systemctl >/dev/null 2>&1 && [ -d "$root/run/systemd/system" ]; then
  "\${ctl[@]}" disable --now ${unit}.timer 2>/dev/null || true
fi
rm -f -- "$unit_dir/${unit}.timer" "$unit_dir/${unit}.service" "$script_dir/${scheduleScriptFile(stack)}"
if command -v systemctl >/dev/null 2>&1 && [ -d "$root/run/systemd/system" ]; then
  "\${ctl[@]}" daemon-reload || true
fi
echo "sectorwars-backup-schedule: removed ${unit}.timer; the backups themselves are kept"
`;
  return ["bash", "-c", shellQuote(script), "sectorwars-backup-schedule"].join(" ");
}

// --- Manifests ----------------------------------------------------------------------------

const KINDS: readonly BackupFileKind[] = ["pg_dump", "pg_globals", "redis_rdb"];
const ROLES: readonly ManifestEntry["role"][] = ["nexus-db", "region-db", "redis"];

/** Parses and checks manifest.json; throws with what is wrong. */
export function parseManifest(text: string): BackupManifest {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new Error(`manifest.json is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  const m = data as Partial<BackupManifest>;
  if (typeof m !== "object" || m === null || m.format !== MANIFEST_FORMAT) {
    throw new Error(`manifest.json is not a ${MANIFEST_FORMAT} manifest`);
  }
  if (
    typeof m.stack !== "string" ||
    typeof m.name !== "string" ||
    typeof m.createdAt !== "string" ||
    !Array.isArray(m.files)
  ) {
    throw new Error("manifest.json lacks stack, name, createdAt or files");
  }
  const seen = new Set<string>();
  for (const [i, f] of m.files.entries()) {
    const where = `manifest.json files[${i}]`;
    if (typeof f !== "object" || f === null) throw new Error(`${where} is not an object`);
    if (typeof f.file !== "string" || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(f.file))
      throw new Error(`${where}.file is not a plain file name`);
    if (seen.has(f.file)) throw new Error(`${where}: ${f.file} is listed twice`);
    seen.add(f.file);
    if (!KINDS.includes(f.kind)) throw new Error(`${where}.kind "${String(f.kind)}" is unknown`);
    if (!ROLES.includes(f.role)) throw new Error(`${where}.role "${String(f.role)}" is unknown`);
    if (typeof f.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(f.sha256))
      throw new Error(`${where}.sha256 is not a sha256`);
    if (typeof f.size !== "number" || !Number.isInteger(f.size) || f.size < 0)
      throw new Error(`${where}.size is not a size`);
    if (typeof f.container !== "string") throw new Error(`${where}.container is missing`);
  }
  return m as BackupManifest;
}

/** What restore can target: the nexus, one region, or Redis. */
export type RestoreTarget = { kind: "nexus" } | { kind: "region"; regionId: string } | { kind: "redis" };

export function parseRestoreTarget(text: string): RestoreTarget {
  if (text === "nexus" || text === "redis") return { kind: text };
  const match = /^region:([A-Za-z0-9][A-Za-z0-9._-]*)$/.exec(text);
  if (match?.[1]) return { kind: "region", regionId: match[1] };
  throw new Error(`--target must be nexus, redis or region:<id>, got "${text}"`);
}

/** The manifest entry holding the data of a target (its pg_dump, or the RDB). */
export function entryForTarget(manifest: BackupManifest, target: RestoreTarget): ManifestEntry | undefined {
  return manifest.files.find((f) => {
    switch (target.kind) {
      case "nexus":
        return f.kind === "pg_dump" && f.role === "nexus-db";
      case "region":
        return f.kind === "pg_dump" && f.role === "region-db" && f.regionId === target.regionId;
      case "redis":
        return f.kind === "redis_rdb";
    }
  });
}

/** Targets a manifest can restore, e.g. ["nexus", "region:orion", "redis"]. */
export function restorableTargets(manifest: BackupManifest): string[] {
  return manifest.files.flatMap((f) =>
    f.kind === "redis_rdb"
      ? ["redis"]
      : f.kind !== "pg_dump"
        ? []
        : f.role === "nexus-db"
          ? ["nexus"]
          : [`region:${f.regionId}`],
  );
}
