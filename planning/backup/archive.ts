/**
 * Continuous archiving for point-in-time recovery (issue 22; the tool choice and its reasons are
 * in docs/research/pitr-tools.md): each PostgreSQL container pushes every WAL segment with
 * pgBackRest to a repository on another machine, encrypted with a key of the stack's, and
 * pgBackRest restores a database to any second its base backups and WAL cover.
 *
 * Pure: the repository URL's parse, pgBackRest's configuration file and the server flags that
 * turn archiving on. Nothing here reaches a repository; test/pitr.docker.test.ts runs what it
 * renders against a real S3 server and real PostgreSQL.
 */

import { shellQuote } from "../shell";

/** What `sectorwars:backup.repository` leaves unsaid: prod's RPO and the retention of issue 22. */
export const ARCHIVE_DEFAULTS = {
  /** At most this much committed work waits in an unfinished WAL segment (plus the push's seconds). */
  archiveTimeoutSeconds: 30,
  retention: { fullBackups: 5, pitrDays: 7 },
} as const;

/**
 * Each backup run (the schedule's, daily by default, and the one before a database changes) takes a
 * differential base backup of a database that archives, and a full one when its newest is this old:
 * a restore then replays at most a day of WAL, and the retention (full backups kept) counts weeks.
 */
export const FULL_BACKUP_DAYS = 7;

/** An S3-compatible bucket reached over HTTPS: `s3:https://host[:port]/bucket[/path]`. */
export interface S3Repository {
  kind: "s3";
  host: string;
  port: number;
  bucket: string;
  /** Where in the bucket, without a leading or trailing slash; "" for the bucket's root. */
  path: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

const HOST = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;
/** S3's bucket naming rules (lowercase, digits, dots and hyphens, 3 to 63 characters). */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const PATH_SEGMENT = /^[A-Za-z0-9._-]+$/;
const S3_FORM = "s3:https://<host>[:<port>]/<bucket>[/<path>]";

/**
 * The repository URL in restic's spelling (so one URL can serve restic too). Only S3 over HTTPS
 * for now: Debian's pgBackRest (2.45) speaks HTTPS only to S3, has SFTP only from 2.46 and has no
 * REST repository at all; each refusal says so.
 */
export function parseRepositoryUrl(url: string): Parsed<S3Repository> {
  const fail = (problem: string): Parsed<S3Repository> => ({ ok: false, problem });
  if (url.startsWith("rest:")) {
    return fail(`pgBackRest has no REST repository type; use ${S3_FORM}`);
  }
  if (url.startsWith("sftp:")) {
    return fail(
      `SFTP repositories need pgBackRest 2.46 or later, which the platform does not check for yet; use ${S3_FORM}`,
    );
  }
  if (url.startsWith("s3:http://")) {
    return fail(`pgBackRest speaks only HTTPS to S3: use ${S3_FORM}`);
  }
  const match = /^s3:https:\/\/([^/:]+)(?::(\d{1,5}))?\/([^/]+)((?:\/[^/]+)*)\/?$/.exec(url);
  if (!match) return fail(`must be ${S3_FORM}`);
  const [, host = "", port = "443", bucket = "", rest = ""] = match;
  if (!HOST.test(host)) return fail(`"${host}" is not a host name or IPv4 address`);
  const portNumber = Number(port);
  if (portNumber < 1 || portNumber > 65535) return fail(`port ${port} is not from 1 to 65535`);
  if (!BUCKET.test(bucket)) {
    return fail(`"${bucket}" is not an S3 bucket name (3 to 63 lowercase letters, digits, dots and hyphens)`);
  }
  const segments = rest.split("/").filter(Boolean);
  const bad = segments.find((s) => !PATH_SEGMENT.test(s) || s === "." || s === "..");
  if (bad !== undefined) return fail(`path segment "${bad}" must be letters, digits and ._- (not . or ..)`);
  return { ok: true, value: { kind: "s3", host, port: portNumber, bucket, path: segments.join("/") } };
}

/** A line break or other control character would end an option early in pgBackRest's file. */
const hasControlCharacter = (value: string): boolean =>
  [...value].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f);

/** `KEY_ID:SECRET`, as sectorwars:backupRepositoryCredentials holds them for S3. */
export function parseS3Credentials(value: string): Parsed<{ keyId: string; secret: string }> {
  const at = value.indexOf(":");
  if (hasControlCharacter(value)) return { ok: false, problem: "must not contain line breaks or control characters" };
  if (at <= 0 || at === value.length - 1) return { ok: false, problem: "must be KEY_ID:SECRET" };
  return { ok: true, value: { keyId: value.slice(0, at), secret: value.slice(at + 1) } };
}

/** The shortest encryption key accepted: pgBackRest derives the AES key from it. */
export const MIN_PASSWORD_LENGTH = 20;

export function checkRepositoryPassword(value: string): Parsed<string> {
  if (hasControlCharacter(value)) return { ok: false, problem: "must not contain line breaks or control characters" };
  if (value.length < MIN_PASSWORD_LENGTH) {
    return { ok: false, problem: `must be at least ${MIN_PASSWORD_LENGTH} characters (e.g. openssl rand -base64 32)` };
  }
  return { ok: true, value };
}

/** A secret's parsed value, or an error naming its key (`sectorwars:<key>: <problem>`). */
export function checkedSecret<T>(key: string, parsed: Parsed<T>): T {
  if (!parsed.ok) throw new Error(`${key}: ${parsed.problem}`);
  return parsed.value;
}

export interface ArchiveSettings {
  repository: S3Repository;
  credentials: { keyId: string; secret: string };
  /** The repository's encryption key (aes-256-cbc): without it nothing in the repository can be read. */
  password: string;
  /**
   * fullBackups: full backups kept (weekly ones: 5 keep five weeks). pitrDays: differential
   * backups (daily) whose WAL is kept, so the days any second of which can be restored.
   */
  retention: { fullBackups: number; pitrDays: number };
  /** A CA certificate file in the container to trust for the repository (a private S3, the tests). */
  caFile?: string;
}

/** One database: its pgBackRest stanza (`nexus`, `region-<id>`) and where its cluster is. */
export interface Stanza {
  name: string;
  /** PGDATA in the container. */
  dataDirectory: string;
  /** The superuser pgBackRest logs in as over the local socket (POSTGRES_USER). */
  user: string;
}

/** Where pgBackRest keeps its configuration and locks in the database container. */
export const PGBACKREST_PATHS = {
  /** pgBackRest's directory: its default configuration file and the repository's CA. */
  dir: "/etc/pgbackrest",
  conf: "/etc/pgbackrest/pgbackrest.conf",
  ca: "/etc/pgbackrest/repository-ca.crt",
  // Under /tmp: in swarm mode a database's root filesystem is read-only but for /tmp (a tmpfs).
  lock: "/tmp/pgbackrest/lock",
  socket: "/var/run/postgresql",
} as const;

const STANZA = /^[a-z0-9][a-z0-9-]{0,62}$/;

/**
 * pgbackrest.conf for the stanzas of one container (a secret: it holds the key and the
 * credentials). Pushes are synchronous: archive_command returns once the segment is in the
 * repository. The asynchronous mode forks a process that outlives archive_command; postgres, PID 1
 * of its container, adopts it and takes its failing exit (a repository that does not answer) for a
 * crashed backend, and restarts the whole database, every time (test/pitr.docker.test.ts shows
 * it). A game's WAL comes a segment per archive timeout, which one push at a time keeps up with.
 */
export function pgbackrestConf(settings: ArchiveSettings, stanzas: readonly Stanza[]): string {
  const { repository: r, credentials, retention } = settings;
  for (const s of stanzas) {
    if (!STANZA.test(s.name)) throw new Error(`stanza "${s.name}" must be lowercase letters, digits and -`);
  }
  const repoPath = `/${[r.path, "pgbackrest"].filter(Boolean).join("/")}`;
  const global = [
    "[global]",
    "repo1-type=s3",
    `repo1-s3-endpoint=${r.host}`,
    `repo1-storage-port=${r.port}`,
    `repo1-s3-bucket=${r.bucket}`,
    // Not AWS: path-style URLs work with every S3-compatible server; the region is only signed.
    "repo1-s3-uri-style=path",
    "repo1-s3-region=us-east-1",
    `repo1-s3-key=${credentials.keyId}`,
    `repo1-s3-key-secret=${credentials.secret}`,
    ...(settings.caFile ? [`repo1-storage-ca-file=${settings.caFile}`] : []),
    `repo1-path=${repoPath}`,
    "repo1-cipher-type=aes-256-cbc",
    `repo1-cipher-pass=${settings.password}`,
    "repo1-retention-full-type=count",
    `repo1-retention-full=${retention.fullBackups}`,
    "repo1-retention-archive-type=diff",
    `repo1-retention-archive=${retention.pitrDays}`,
    // Without it pgBackRest warns and keeps differential backups until their full one expires.
    `repo1-retention-diff=${retention.pitrDays}`,
    // A backup starts with an immediate checkpoint. pgBackRest's default waits for the next spread
    // one: up to checkpoint_timeout plus its spread (minutes) while a deploy's backup holds it up.
    "start-fast=y",
    "process-max=2",
    "compress-type=zst",
    `lock-path=${PGBACKREST_PATHS.lock}`,
    "log-level-console=warn",
    // No log files (they would only grow, in a tmpfs in swarm mode): what goes wrong reaches
    // PostgreSQL's log, and so `docker logs`, through the commands' console output.
    "log-level-file=off",
  ];
  const sections = stanzas.map((s) =>
    [
      `[${s.name}]`,
      `pg1-path=${s.dataDirectory}`,
      `pg1-user=${s.user}`,
      `pg1-socket-path=${PGBACKREST_PATHS.socket}`,
    ].join("\n"),
  );
  return `${[global.join("\n"), ...sections].join("\n\n")}\n`;
}

/**
 * The postgres server flags that archive every WAL segment of `stanza`: archive_timeout switches
 * to a new segment at least that often while anything is written, which bounds what a lost host
 * can take with it (plus the push's own seconds).
 */
export function archiveFlags(stanza: string, archiveTimeoutSeconds: number): string[] {
  if (!STANZA.test(stanza)) throw new Error(`stanza "${stanza}" must be lowercase letters, digits and -`);
  return [
    "-c",
    "archive_mode=on",
    "-c",
    `archive_command=pgbackrest --stanza=${stanza} archive-push %p`,
    "-c",
    `archive_timeout=${archiveTimeoutSeconds}`,
  ];
}

/**
 * Runs as root in the database container before the image's entrypoint (which it then becomes,
 * with the postgres command after the stanza). When the data directory is empty (a new volume: a
 * fresh engine, a lost disk, a stack rebuilt elsewhere) and the repository holds a backup of the
 * stanza, the database is restored from it, to the last archived WAL segment, instead of being
 * initialised empty: a new, empty cluster would hide the data and could not archive anyway (its
 * system id is not the stanza's). With no stanza yet (pgbackrest info's status 1, missing stanza
 * path, or 3, missing stanza data: a new stack or region) the image initialises as usual. Any
 * other answer (the repository does not answer, a stanza without a complete backup, a key that
 * does not fit) fails the container rather than guess: Docker restarts it, and `pulumi up`
 * reports the database unhealthy, with the reason in its logs. pgBackRest retries an unreachable
 * repository for about four times --io-timeout (60 s by default): 15 s makes that a minute.
 *
 * hot_standby=off: the recovering database refuses connections, so its health check (pg_isready)
 * passes only once recovery is over and it is writable, which is what everything after it needs.
 * The setting stays in postgresql.auto.conf, where it matters only to a later recovery.
 */
const EMPTY_DATA_START = `set -eu
stanza=$1; shift
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  # Whichever of the official images' tools is there: gosu (Debian), su-exec (Alpine), else util-linux.
  if command -v gosu >/dev/null; then as_postgres="gosu postgres"
  elif command -v su-exec >/dev/null; then as_postgres="su-exec postgres"
  else as_postgres="setpriv --reuid=postgres --regid=postgres --init-groups"; fi
  mkdir -p "$PGDATA"; chown postgres:postgres "$PGDATA"; chmod 700 "$PGDATA"
  info=$($as_postgres pgbackrest --stanza="$stanza" --io-timeout=15 info --output=json) || info=""
  # The stanza's own status is the last one in the answer (each repository's comes before it).
  code=$(printf %s "$info" | sed -n 's/.*"status":{"code":\\([0-9]*\\).*/\\1/p')
  if printf %s "$info" | grep -q '"backup":\\[{'; then
    echo "sectorwars: $PGDATA is empty: restoring $stanza from the backup repository, up to its last archived WAL"
    $as_postgres pgbackrest --stanza="$stanza" --target-timeline=latest --recovery-option=hot_standby=off restore
  elif [ "$code" != 1 ] && [ "$code" != 3 ]; then
    echo "sectorwars: $PGDATA is empty and the backup repository cannot restore $stanza: not starting an empty database over what it may hold (a new, empty one starts when backup.repository.url names a new path)" >&2
    printf '%s\\n' "\${info:-pgbackrest info failed}" >&2
    exit 1
  fi
fi
exec docker-entrypoint.sh "$@"`;

/**
 * The command of a database container that archives as `stanza`: EMPTY_DATA_START, then the
 * image's entrypoint with postgres and the archive flags. The image's entrypoint runs any command
 * that is not `postgres` as it is, so the script runs first, as root, as the entrypoint would.
 */
export function archivingDatabaseCommand(stanza: string, archiveTimeoutSeconds: number): string[] {
  return [
    "sh",
    "-c",
    EMPTY_DATA_START,
    "sectorwars-db",
    stanza,
    "postgres",
    ...archiveFlags(stanza, archiveTimeoutSeconds),
  ];
}

/**
 * The command, inside a database's container, that wakes its checkpointer after a recovery: it
 * can have planned a sleep of checkpoint_timeout (5 min) while recovery was still on, when
 * archive_timeout does not count, so WAL would wait minutes, not seconds (bench/recovery.ts found
 * it). A checkpoint request wakes it, and it plans by archive_timeout from then on. Both ends of
 * a recovery run it: the stanza step after a deploy, `npm run restore -- --to` after promotion.
 */
export const checkpointCommand = (user: string, database = "postgres"): string[] => [
  "psql",
  "-X",
  "-q",
  "-U",
  user,
  "-d",
  database,
  "-c",
  "CHECKPOINT",
];

/**
 * A shell command (run by a Command after the database is up) that creates the stanza (idempotent),
 * takes a first full backup when the repository has none, and runs `pgbackrest check`, which
 * switches to a new WAL segment and waits until it is in the repository: a deploy whose archive
 * does not work fails here rather than letting WAL pile up in the container. Then
 * checkpointCommand: the database may have just recovered (the empty-volume restore).
 */
export function stanzaCommand(db: { container: string; stanza: string; user: string }): string {
  const { container, stanza, user } = db;
  if (!STANZA.test(stanza)) throw new Error(`stanza "${stanza}" must be lowercase letters, digits and -`);
  // `container` is a shell word already (Deployed.command): a Docker name, or in swarm mode the
  // variable that the task lookup sets.
  const inDb = `docker exec -u postgres ${container}`;
  const pgbackrest = `${inDb} pgbackrest --stanza=${stanza}`;
  return [
    "set -e",
    `${pgbackrest} stanza-create`,
    `if ${pgbackrest} info --output=json | grep -q '"backup":\\[\\]'; then ${pgbackrest} backup --type=full; fi`,
    `${pgbackrest} check`,
    `${inDb} ${checkpointCommand(user).map(shellQuote).join(" ")}`,
  ].join("\n");
}

/**
 * Fails, saying what to do, when the postgres image has no pgBackRest (WAL and base backups) or
 * no restic (Redis's snapshots, which backup runs put in the repository from the nexus database's
 * container: assets/repository-restic.sh).
 */
export function imageCheckCommand(image: string): string {
  const quoted = shellQuote(image);
  return ["pgbackrest", "restic"]
    .map(
      (tool) =>
        `docker run --rm --network none --entrypoint ${tool} ${quoted} version >/dev/null || ` +
        `{ echo "sectorwars: images.postgres (${image}) has no ${tool}, which sectorwars:backup.repository needs ` +
        `(docs/backups.md, Continuous archiving)" >&2; exit 1; }`,
    )
    .join("; ");
}
