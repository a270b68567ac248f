/**
 * Backups and restores against a real Docker engine: the exact command the Pulumi Command runs
 * (planning/backup/run.ts) with PostgreSQL 15 and Redis 7 containers named, labelled and
 * configured as the platform deploys them (two regions, the nexus, Redis), and the documented
 * restore command (scripts/restore.ts). backupScripts.test.ts checks the same text without Docker.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redisCliInContainer } from "../assets";
import {
  BACKUP_NAME_PATTERN,
  MANIFEST_FILE,
  PARTIAL_NAME_PATTERN,
  backupName,
  parseManifest,
} from "../planning/backup/manifest";
import { type BackupSettings, backupCommand, backupScript } from "../planning/backup/run";
import {
  DEFAULT_BACKUP_SCHEDULE,
  backupServiceUnit,
  backupTimerUnit,
  scheduleInstallCommand,
  scheduleRemoveCommand,
  scheduleUnitName,
} from "../planning/backup/schedule";
import { POSTGRES_PASSWORD_FILE } from "../planning/stack/postgres";
import { postgresHealthcheck, redisHealthcheck } from "../planning/stack/healthchecks";
import { REDIS_CONF_PATH, renderRedisConf } from "../planning/stack/redis";
import { PORTS, joinName, sqlIdentifier } from "../planning/stack/topology";
import { type Role, containerLabels } from "../planning/roles";
import { docker, ensureDockerd, newTestRun, reapDeadRuns, removeLabelled, run } from "./support/docker";
import { ensureTestImages } from "./support/images";
import {
  hardeningArgs,
  postgresArgs,
  labelArgs as runLabelArgs,
  upload as uploadInto,
} from "./support/platformContainers";
import { waitUntil } from "./support/process";

const ROOT = path.resolve(__dirname, "..");
const TSX = path.join(ROOT, "node_modules/.bin/tsx");
/** Labels every container and volume of this run; names and the stack carry its id. */
const RUN = newTestRun("backup");
const PREFIX = `swbk${RUN.id}`;
const STACK = `backuptest-${RUN.id}`;
const PG_PASSWORD = "PgBackupTestPassword0123456789ab";
const REDIS_PASSWORD = "RedisBackupTestPassword012345678";

interface Database {
  container: string;
  volume: string;
  db: string;
  user: string;
  role: Role;
  region?: string;
}

const nexus: Database = {
  container: joinName(PREFIX, "nexus_db"),
  volume: joinName(PREFIX, "nexus_db_data"),
  db: "nexus_db",
  user: "nexus_user",
  role: "nexus-db",
};
const regionDb = (id: string): Database => ({
  container: joinName(PREFIX, "region", id, "db"),
  volume: joinName(PREFIX, "region", id, "db", "data"),
  db: `region_${sqlIdentifier(id)}`,
  user: `region_${sqlIdentifier(id)}_user`,
  role: "region-db",
  region: id,
});
const alpha = regionDb("alpha");
const beta = regionDb("beta-2");
const REDIS = joinName(PREFIX, "redis");
const REDIS_VOLUME = joinName(PREFIX, "redis_data");

let work: string;
let images: { postgres: string; redis: string };

const settings = (backupDir: string, extra: Partial<BackupSettings> = {}): BackupSettings => ({
  stack: STACK,
  backupDir,
  parallelism: 2,
  retentionDays: 30,
  allowEmpty: true,
  ...extra,
});

/** The backup exactly as the Pulumi Command runs it: its create text, through /bin/sh -c. */
const runBackup = (s: BackupSettings, extraArgs = "") =>
  run("/bin/sh", ["-c", backupCommand(s) + extraArgs], { timeoutMs: 180_000 });

/** The documented restore command. */
const runRestore = (...args: string[]) =>
  run(TSX, [path.join(ROOT, "scripts/restore.ts"), "--stack", STACK, ...args], { timeoutMs: 180_000 });

const completeBackups = (dir: string): string[] =>
  fs.existsSync(dir)
    ? fs
        .readdirSync(dir)
        .filter((n) => BACKUP_NAME_PATTERN.test(n))
        .sort()
    : [];
const partials = (dir: string): string[] =>
  fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => PARTIAL_NAME_PATTERN.test(n)) : [];

const labelArgs = (labels: Record<string, string>): string[] => runLabelArgs(RUN, labels);
const upload = (container: string, file: string, content: string): void => uploadInto(work, container, file, content);

async function waitHealthy(container: string, check: string[]): Promise<void> {
  const command = check[1] as string;
  await waitUntil(
    `${container} to pass its health check`,
    () => run("docker", ["exec", container, "sh", "-c", command], { timeoutMs: 10_000 }).status === 0,
    90_000,
  );
}

async function createPostgres(d: Database): Promise<void> {
  docker(["volume", "create", ...labelArgs({}), d.volume]);
  docker([
    "create",
    "--name",
    d.container,
    ...labelArgs(containerLabels(STACK, d.role, d.region)),
    ...hardeningArgs(d.role),
    "--network",
    "none",
    ...postgresArgs({ database: d.db, user: d.user, volume: d.volume }),
    images.postgres,
  ]);
  upload(d.container, POSTGRES_PASSWORD_FILE, PG_PASSWORD);
  docker(["start", d.container]);
  await waitHealthy(d.container, postgresHealthcheck(d.user, d.db, PORTS.postgres).tests);
}

async function createRedis(): Promise<void> {
  docker(["volume", "create", ...labelArgs({}), REDIS_VOLUME]);
  docker([
    "create",
    "--name",
    REDIS,
    ...labelArgs(containerLabels(STACK, "redis")),
    ...hardeningArgs("redis"),
    "--network",
    "none",
    "--mount",
    `type=volume,source=${REDIS_VOLUME},target=/data`,
    images.redis,
    "redis-server",
    REDIS_CONF_PATH,
  ]);
  const conf = renderRedisConf({
    password: REDIS_PASSWORD,
    maxmemory: "128mb",
    maxmemoryPolicy: "noeviction",
    databases: 16,
    port: PORTS.redis,
    dataDir: "/data",
  });
  upload(REDIS, REDIS_CONF_PATH, conf);
  docker(["start", REDIS]);
  await waitHealthy(REDIS, redisHealthcheck(PORTS.redis).tests);
}

/** Removes a database container and its volume: the data is gone, as after losing the disk. */
async function recreatePostgres(d: Database): Promise<void> {
  docker(["rm", "-f", "-v", d.container]);
  docker(["volume", "rm", d.volume]);
  await createPostgres(d);
}

function psql(d: Database, sql: string): string {
  return docker(
    ["exec", "-i", d.container, "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-U", d.user, "-d", d.db],
    { input: sql },
  ).trim();
}

/** Redis commands, one per line, authenticated the way the platform does it. */
function redis(commands: string, db = 0): string {
  return docker(["exec", "-i", REDIS, "sh", "-c", redisCliInContainer(), "sh", REDIS_CONF_PATH, "-n", String(db)], {
    input: commands,
  }).replace(/\r/g, "");
}

/** Row count and checksum of every table, sequence positions, views, types and functions. */
function pgSnapshot(d: Database): string[] {
  const tables = psql(
    d,
    "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1;",
  )
    .split("\n")
    .filter(Boolean);
  const parts = [
    ...tables.map(
      (t) =>
        `SELECT '${t} ' || count(*) || ' ' || coalesce(md5(string_agg(x::text, E'\\n' ORDER BY x::text)), '-') FROM ${t} x`,
    ),
    "SELECT 'sequence ' || schemaname || '.' || sequencename || ' ' || coalesce(last_value::text, 'null') FROM pg_sequences",
    "SELECT 'view ' || schemaname || '.' || viewname FROM pg_views WHERE schemaname NOT IN ('pg_catalog', 'information_schema')",
    "SELECT 'type ' || t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'public' AND t.typtype = 'e'",
    "SELECT 'function ' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')",
  ];
  return psql(d, `SELECT line FROM (${parts.map((p) => `(${p})`).join(" UNION ALL ")}) AS s(line) ORDER BY 1;`).split(
    "\n",
  );
}

/** Every key of every database: type, whether it expires, and its value. */
const REDIS_SNAPSHOT = `
REDISCLI_AUTH=$(sed -n 's/^requirepass //p' ${REDIS_CONF_PATH}); export REDISCLI_AUTH
r() { redis-cli "$@" | tr -d '\\r'; }
for db in $(r INFO keyspace | sed -n 's/^db\\([0-9]*\\):.*/\\1/p'); do
  r -n "$db" --scan | sort | while IFS= read -r k; do
    t=$(r -n "$db" TYPE "$k")
    case $t in
      string) v=$(r -n "$db" GET "$k") ;;
      hash) v=$(r -n "$db" HGETALL "$k" | paste -d= - - | sort) ;;
      list) v=$(r -n "$db" LRANGE "$k" 0 -1) ;;
      set) v=$(r -n "$db" SMEMBERS "$k" | sort) ;;
      zset) v=$(r -n "$db" ZRANGE "$k" 0 -1 WITHSCORES) ;;
      *) v=unknown ;;
    esac
    ttl=$(r -n "$db" TTL "$k"); if [ "$ttl" -gt 0 ]; then ttl=expires; fi
    printf '%s|%s|%s|%s|%s\\n' "$db" "$k" "$t" "$ttl" "$(printf '%s' "$v" | tr '\\n' ',')"
  done
done`;
const redisSnapshot = (): string[] => docker(["exec", REDIS, "sh", "-c", REDIS_SNAPSHOT]).split("\n").filter(Boolean);

function seed(): void {
  psql(
    nexus,
    `CREATE TYPE faction AS ENUM ('terran', 'zorg', 'free');
     CREATE TABLE players (id bigserial PRIMARY KEY, name text NOT NULL UNIQUE, faction faction NOT NULL, credits numeric(14, 2) NOT NULL, joined timestamptz NOT NULL);
     INSERT INTO players (name, faction, credits, joined)
       SELECT 'player-' || g, (ARRAY['terran', 'zorg', 'free'])[1 + g % 3]::faction, g * 10.5, timestamptz '2024-01-01 00:00Z' + g * interval '1 hour'
       FROM generate_series(1, 500) g;
     CREATE TABLE regions (id text PRIMARY KEY, slot int NOT NULL UNIQUE);
     INSERT INTO regions VALUES ('alpha', 1), ('beta-2', 2);
     CREATE VIEW rich_players AS SELECT * FROM players WHERE credits > 1000;
     CREATE FUNCTION credits_of(p text) RETURNS numeric LANGUAGE sql AS $$ SELECT credits FROM players WHERE name = p $$;
     CREATE SCHEMA audit;
     CREATE TABLE audit.events (id serial PRIMARY KEY, payload jsonb NOT NULL);
     INSERT INTO audit.events (payload) SELECT jsonb_build_object('n', g, 'kind', 'login') FROM generate_series(1, 50) g;`,
  );
  for (const [d, sectors] of [
    [alpha, 300],
    [beta, 120],
  ] as const) {
    psql(
      d,
      `CREATE TABLE sectors (id int PRIMARY KEY, name text NOT NULL, x int NOT NULL, y int NOT NULL, resources jsonb NOT NULL);
       INSERT INTO sectors SELECT g, '${d.region}-' || g, g % 17, g % 23, jsonb_build_object('ore', g * 3, 'gas', g % 7) FROM generate_series(1, ${sectors}) g;
       CREATE TABLE ships (id serial PRIMARY KEY, sector int NOT NULL REFERENCES sectors (id), hull bytea NOT NULL, launched date NOT NULL);
       INSERT INTO ships (sector, hull, launched) SELECT 1 + g % ${sectors}, decode(md5(g::text), 'hex'), date '2024-06-01' + g FROM generate_series(1, ${sectors * 2}) g;`,
    );
  }
  redis(
    [
      "SET nexus:motd welcome",
      "HSET nexus:player:1 name alice credits 10",
      "RPUSH nexus:queue a b c",
      "SADD nexus:online alice bob",
      "ZADD nexus:leaderboard 10 alice 20 bob",
      "SET nexus:session:abc token EX 86400",
    ].join("\n"),
    0,
  );
  redis(["SET region:alpha:tick 42", "HSET region:alpha:sector:1 owner alice"].join("\n"), 1);
  redis(["SET region:beta-2:tick 7", "RPUSH region:beta-2:events spawn dock"].join("\n"), 2);
  // Enough keys that a BGSAVE slowed by rdb-key-save-delay takes seconds (interruption test).
  redis(Array.from({ length: 60 }, (_, i) => `SET bulk:${i} ${"x".repeat(64)}`).join("\n"), 3);
}

describe("backup and restore against real PostgreSQL 15 and Redis 7 containers", () => {
  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "sw-backup-"));
    await ensureDockerd();
    images = ensureTestImages();
    reapDeadRuns("backup"); // leftovers of earlier runs that were killed
    await Promise.all([createPostgres(nexus), createPostgres(alpha), createPostgres(beta), createRedis()]);
    seed();
  });

  afterAll(() => {
    if (images) removeLabelled(RUN.runLabel);
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  let backup: string; // the round trip's backup, reused by later tests

  it("round-trips two regions, the nexus and Redis through backup, wipe and restore", async () => {
    const before = {
      nexus: pgSnapshot(nexus),
      alpha: pgSnapshot(alpha),
      beta: pgSnapshot(beta),
      redis: redisSnapshot(),
    };
    expect(before.nexus.some((l) => l.startsWith("public.players 500 "))).toBe(true);
    expect(before.alpha.some((l) => l.startsWith("public.sectors 300 "))).toBe(true);
    expect(before.redis).toHaveLength(70);

    const dir = path.join(work, "roundtrip");
    const result = runBackup(settings(dir));
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/backup complete/);
    const names = completeBackups(dir);
    expect(names).toHaveLength(1);
    backup = path.join(dir, names[0] as string);

    // The manifest lists every file with its size, digest, source, region and server version.
    const manifest = parseManifest(fs.readFileSync(path.join(backup, MANIFEST_FILE), "utf8"));
    expect(manifest.stack).toBe(STACK);
    expect(manifest.files.map((f) => f.file).sort()).toEqual(
      [
        "nexus.dump",
        "nexus.globals.sql",
        "redis.rdb",
        "region-alpha.dump",
        "region-alpha.globals.sql",
        "region-beta-2.dump",
        "region-beta-2.globals.sql",
      ].sort(),
    );
    for (const f of manifest.files) {
      const content = fs.readFileSync(path.join(backup, f.file));
      expect(f.size).toBe(content.length);
      expect(f.sha256).toBe(createHash("sha256").update(content).digest("hex"));
      expect(f.serverVersion).toMatch(f.kind === "redis_rdb" ? /^7\./ : /^15\./);
      // No password in any file: globals are dumped without role passwords.
      expect(content.includes(PG_PASSWORD) || content.includes(REDIS_PASSWORD)).toBe(false);
    }
    const beta2 = manifest.files.find((f) => f.file === "region-beta-2.dump");
    expect(beta2).toMatchObject({
      container: beta.container,
      regionId: "beta-2",
      database: "region_beta_2",
      role: "region-db",
      kind: "pg_dump",
    });
    expect(manifest.files.find((f) => f.file === "redis.rdb")).toMatchObject({
      container: REDIS,
      regionId: null,
      kind: "redis_rdb",
    });
    expect(result.stdout + result.stderr).not.toContain(PG_PASSWORD);
    expect(result.stdout + result.stderr).not.toContain(REDIS_PASSWORD);

    // Wipe: the nexus and alpha lose their volumes, beta its schema, Redis its keys.
    await Promise.all([recreatePostgres(nexus), recreatePostgres(alpha)]);
    psql(beta, "DROP SCHEMA public CASCADE; CREATE SCHEMA public;");
    redis("FLUSHALL");
    expect(pgSnapshot(alpha)).not.toEqual(before.alpha);
    expect(redisSnapshot()).toEqual([]);

    for (const target of ["nexus", "region:alpha", "region:beta-2", "redis"]) {
      const restored = runRestore("--backup", backup, "--target", target);
      expect(restored.status, `${target}: ${restored.stderr}`).toBe(0);
      expect(restored.stdout).toMatch(/^verified 7 files of backup/m);
      expect(restored.stdout).toMatch(/^restored /m);
    }
    expect(pgSnapshot(nexus)).toEqual(before.nexus);
    expect(pgSnapshot(alpha)).toEqual(before.alpha);
    expect(pgSnapshot(beta)).toEqual(before.beta);
    expect(redisSnapshot()).toEqual(before.redis);

    // Redis keeps the restored data across a restart: it was written to the AOF it loads.
    docker(["restart", REDIS]);
    await waitHealthy(REDIS, redisHealthcheck(PORTS.redis).tests);
    expect(redisSnapshot()).toEqual(before.redis);
  }, 240_000);

  it("refuses to restore over data without --force, and replaces it with --force", () => {
    const expected = { beta: pgSnapshot(beta), redis: redisSnapshot() };
    psql(beta, "INSERT INTO sectors VALUES (100000, 'extra', 0, 0, '{}'); CREATE TABLE added_later (x int);");
    redis("SET nexus:added-later 1");
    const changed = { beta: pgSnapshot(beta), redis: redisSnapshot() };

    for (const [target, pattern] of [
      ["region:beta-2", /database region_beta_2 .* is not empty/],
      ["redis", /Redis .* is not empty/],
    ] as const) {
      const refused = runRestore("--backup", backup, "--target", target);
      expect(refused.status).toBe(1);
      expect(refused.stderr).toMatch(pattern);
      expect(refused.stderr).toMatch(/nothing was restored.*--force/);
    }
    expect(pgSnapshot(beta)).toEqual(changed.beta);
    expect(redisSnapshot()).toEqual(changed.redis);

    // No backup repository (the stack does not archive): nothing to fetch Redis from, nothing touched.
    const noRepository = runRestore("--from-repository", "--target", "redis", "--force");
    expect(noRepository.status).toBe(1);
    expect(noRepository.stderr).toMatch(
      /does not archive \(no \/etc\/pgbackrest\/pgbackrest.conf\): the stack has no backup repository to restore Redis from \(sectorwars:backup.repository\)/,
    );
    expect(redisSnapshot()).toEqual(changed.redis);

    // An archive that breaks off halfway (its manifest rewritten to match, so it passes the
    // checksums): the wipe and the partial load roll back together, the data stays as it was.
    const broken = path.join(work, "broken", path.basename(backup));
    fs.cpSync(backup, broken, { recursive: true });
    const dumpPath = path.join(broken, "region-beta-2.dump");
    fs.truncateSync(dumpPath, Math.floor(fs.statSync(dumpPath).size * 0.6));
    const content = fs.readFileSync(dumpPath);
    const manifest = parseManifest(fs.readFileSync(path.join(broken, MANIFEST_FILE), "utf8"));
    for (const f of manifest.files.filter((e) => e.file === "region-beta-2.dump")) {
      f.size = content.length;
      f.sha256 = createHash("sha256").update(content).digest("hex");
    }
    fs.writeFileSync(path.join(broken, MANIFEST_FILE), JSON.stringify(manifest));
    const failed = runRestore("--backup", broken, "--target", "region:beta-2", "--force");
    expect(failed.status).toBe(1);
    expect(failed.stderr).toMatch(/failed; it was rolled back/);
    expect(failed.stderr).toMatch(/failed: pg_restore/);
    expect(pgSnapshot(beta)).toEqual(changed.beta);

    for (const target of ["region:beta-2", "redis"]) {
      const forced = runRestore("--backup", backup, "--target", target, "--force");
      expect(forced.status, forced.stderr).toBe(0);
    }
    // Exactly the backup: the row and the table added since are gone.
    expect(pgSnapshot(beta)).toEqual(expected.beta);
    expect(redisSnapshot()).toEqual(expected.redis);
  }, 120_000);

  it("detects a corrupted backup before restoring anything", () => {
    psql(alpha, "INSERT INTO sectors VALUES (100001, 'after-backup', 1, 1, '{}');");
    const current = {
      alpha: pgSnapshot(alpha),
      redisStarted: docker(["inspect", "--format", "{{.State.StartedAt}}", REDIS]).trim(),
    };
    const copy = (name: string): string => {
      const dir = path.join(work, "corrupt", name, path.basename(backup));
      fs.cpSync(backup, dir, { recursive: true });
      return dir;
    };

    // One flipped byte in the middle of the dump.
    const flipped = copy("flipped");
    const dump = path.join(flipped, "region-alpha.dump");
    const bytes = fs.readFileSync(dump);
    const middle = Math.floor(bytes.length / 2);
    bytes[middle] = (bytes[middle] as number) ^ 0xff;
    fs.writeFileSync(dump, bytes);
    let r = runRestore("--backup", flipped, "--target", "region:alpha", "--force");
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/failed verification, nothing was restored/);
    expect(r.stderr).toMatch(/region-alpha\.dump has sha256 [0-9a-f]{64}, the manifest says/);

    // Every file is checked, not only the target's.
    const otherFile = copy("other-file");
    fs.appendFileSync(path.join(otherFile, "nexus.globals.sql"), "-- edited\n");
    r = runRestore("--backup", otherFile, "--target", "region:alpha", "--force");
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/nexus\.globals\.sql has \d+ bytes, the manifest says/);

    // A truncated RDB: Redis is not even stopped.
    const truncated = copy("truncated");
    fs.truncateSync(path.join(truncated, "redis.rdb"), 10);
    r = runRestore("--backup", truncated, "--target", "redis", "--force");
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/redis\.rdb has 10 bytes/);

    // A missing file.
    const missing = copy("missing");
    fs.rmSync(path.join(missing, "region-alpha.dump"));
    r = runRestore("--backup", missing, "--target", "region:alpha", "--force");
    expect(r.stderr).toMatch(/region-alpha\.dump is missing/);

    expect(pgSnapshot(alpha)).toEqual(current.alpha);
    expect(docker(["inspect", "--format", "{{.State.StartedAt}}", REDIS]).trim()).toBe(current.redisStarted);
  }, 120_000);

  it("fails naming the database whose dump failed, and leaves no backup", () => {
    const dir = path.join(work, "failing");
    docker(["pause", beta.container]);
    let result: ReturnType<typeof runBackup>;
    try {
      result = runBackup(settings(dir));
    } finally {
      docker(["unpause", beta.container]);
    }
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(
      `backup of database region_beta_2 (region beta-2, container ${beta.container}) failed`,
    );
    expect(result.stderr).toMatch(/paused/);
    expect(result.stderr).toMatch(/no backup was written/);
    expect(completeBackups(dir)).toEqual([]);
    expect(partials(dir)).toEqual([]);
  }, 120_000);

  it("leaves nothing that looks complete when a backup is killed halfway", async () => {
    const dir = path.join(work, "interrupted");
    // Each key now costs the BGSAVE 100 ms, so the run is still waiting for Redis when the
    // databases are dumped: that is when it is killed.
    redis("CONFIG SET rdb-key-save-delay 100000");
    const killHalfway = async (signal: NodeJS.Signals): Promise<{ code: number | null; signal: string | null }> => {
      const child: ChildProcess = spawn("/bin/sh", ["-c", backupCommand(settings(dir))], {
        detached: true,
        stdio: "ignore",
      });
      const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
        child.once("exit", (code, sig) => resolve({ code, signal: sig })),
      );
      await waitUntil(
        "the databases to be dumped into the partial directory",
        () =>
          partials(dir).some(
            (p) => fs.existsSync(path.join(dir, p, ".meta")) && fs.readdirSync(path.join(dir, p, ".meta")).length === 3,
          ),
        60_000,
      );
      expect(child.exitCode).toBeNull(); // still running: halfway
      process.kill(-(child.pid as number), signal); // the whole process group, as Ctrl-C or a service manager would
      return exited;
    };
    try {
      // SIGTERM: the run cleans up after itself.
      const terminated = await killHalfway("SIGTERM");
      expect(terminated.code ?? terminated.signal).not.toBe(0);
      await waitUntil("the run to remove its partial directory", () => partials(dir).length === 0, 30_000);
      expect(completeBackups(dir)).toEqual([]);

      // SIGKILL: no cleanup runs; what is left is hidden, incomplete and refused by restore.
      await killHalfway("SIGKILL");
      expect(completeBackups(dir)).toEqual([]);
      const [left] = partials(dir);
      expect(left).toBeDefined();
      expect(fs.existsSync(path.join(dir, left as string, MANIFEST_FILE))).toBe(false);
      const refused = runRestore("--backup", path.join(dir, left as string), "--target", "nexus", "--force");
      expect(refused.status).toBe(1);
      expect(refused.stderr).toMatch(/not a complete backup/);
    } finally {
      redis("CONFIG SET rdb-key-save-delay 0");
    }

    // The next run waits out the save still in progress, takes its own, and removes the leftover.
    const next = runBackup(settings(dir));
    expect(next.status, next.stderr).toBe(0);
    expect(next.stdout).toMatch(/removed .*\.partial-.*left by an interrupted run/);
    expect(partials(dir)).toEqual([]);
    expect(completeBackups(dir)).toHaveLength(1);
  }, 180_000);

  it("succeeds with nothing to back up before the first deploy, but the scheduled run fails", () => {
    const dir = path.join(work, "empty-stack");
    const first = runBackup({ ...settings(dir), stack: "no-such-stack" });
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/no database or Redis container yet; nothing to back up/);
    const scheduled = runBackup({ ...settings(dir), stack: "no-such-stack", allowEmpty: false });
    expect(scheduled.status).toBe(1);
    expect(scheduled.stderr).toMatch(/no container labelled com\.sectorwars\.stack=no-such-stack/);
    expect(completeBackups(dir)).toEqual([]);
  });

  it("never runs more docker execs at once than the parallelism allows", () => {
    const bin = path.join(work, "docker-shim");
    const log = path.join(work, "docker-shim.log");
    fs.mkdirSync(bin, { recursive: true });
    const real = run("sh", ["-c", "command -v docker"]).stdout.trim();
    // Logs the start and end of every `docker exec`; everything else passes straight through.
    fs.writeFileSync(
      path.join(bin, "docker"),
      `#!/bin/sh\nif [ "$1" != exec ]; then exec ${real} "$@"; fi\necho "start $(date +%s%N)" >>${log}\n${real} "$@"\nrc=$?\necho "end $(date +%s%N)" >>${log}\nexit $rc\n`,
      { mode: 0o755 },
    );
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
    const maxConcurrent = (): number => {
      const events = fs
        .readFileSync(log, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => l.split(" ") as [string, string]);
      events.sort((a, b) =>
        BigInt(a[1]) < BigInt(b[1]) ? -1 : BigInt(a[1]) > BigInt(b[1]) ? 1 : a[0] === "end" ? -1 : 1,
      );
      let now = 0;
      let max = 0;
      for (const [kind] of events) max = Math.max(max, (now += kind === "start" ? 1 : -1));
      return max;
    };
    for (const parallelism of [1, 2]) {
      fs.rmSync(log, { force: true });
      const r = run(
        "/bin/sh",
        ["-c", backupCommand(settings(path.join(work, `parallel-${parallelism}`), { parallelism }))],
        { env, timeoutMs: 120_000 },
      );
      expect(r.status, r.stderr).toBe(0);
      expect(maxConcurrent()).toBeLessThanOrEqual(parallelism);
      expect(maxConcurrent()).toBeGreaterThanOrEqual(1);
    }
  }, 120_000);

  /** The engine's socket, when it is a local one this test can relay. */
  const engineSocket = process.env.DOCKER_HOST
    ? process.env.DOCKER_HOST.startsWith("unix://")
      ? process.env.DOCKER_HOST.slice("unix://".length)
      : undefined
    : "/var/run/docker.sock";

  it.skipIf(engineSocket === undefined)(
    "moves every byte through the Docker API that DOCKER_HOST names, so a remote engine works",
    async () => {
      // A relay between a socket of our own and the engine: the backup only sees DOCKER_HOST.
      const socket = path.join(work, "relay.sock");
      let relayed = 0;
      // Half-open: docker closes its sending side when stdin ends and still reads the output.
      const server = net.createServer({ allowHalfOpen: true }, (client) => {
        const engine = net.connect({ path: engineSocket as string, allowHalfOpen: true });
        client.pipe(engine);
        engine.on("data", (chunk: Buffer) => (relayed += chunk.length));
        engine.pipe(client);
        client.on("error", () => engine.destroy());
        engine.on("error", () => client.destroy());
      });
      await new Promise<void>((resolve) => server.listen(socket, resolve));
      try {
        const dir = path.join(work, "relayed");
        const child = spawn("/bin/sh", ["-c", backupCommand(settings(dir))], {
          env: { ...process.env, DOCKER_HOST: `unix://${socket}` },
          stdio: ["ignore", "pipe", "pipe"],
        });
        let stderr = "";
        child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
        const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
        expect(code, stderr).toBe(0);
        const [name] = completeBackups(dir);
        const manifest = parseManifest(fs.readFileSync(path.join(dir, name as string, MANIFEST_FILE), "utf8"));
        expect(relayed).toBeGreaterThan(manifest.files.reduce((sum, f) => sum + f.size, 0));
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    },
    120_000,
  );

  it("prunes exactly the complete backups older than the retention, never the newest", () => {
    const dir = path.join(work, "retention");
    const outside = path.join(work, "outside-the-backup-dir");
    fs.mkdirSync(path.join(outside, "precious"), { recursive: true });
    fs.writeFileSync(path.join(outside, "precious", "data"), "keep");
    const name = (daysAgo: number): string => backupName(new Date(Date.now() - daysAgo * 86_400_000));
    const fake = (n: string, complete = true): void => {
      fs.mkdirSync(path.join(dir, n), { recursive: true });
      if (complete) fs.writeFileSync(path.join(dir, n, MANIFEST_FILE), "{}");
    };
    const [d400, d40, d31, d29, d1] = [400, 40, 31, 29, 1].map(name) as [string, string, string, string, string];
    for (const n of [d400, d40, d31, d29, d1]) fake(n);
    const noManifest = name(50);
    fake(noManifest, false); // not a backup this tool made complete: not its to delete
    const staleRun = `.partial-${name(3)}-12345`;
    fake(staleRun, false);
    fs.writeFileSync(path.join(dir, "notes.txt"), "operator notes");
    fs.mkdirSync(path.join(dir, "keep-me"));
    const link = name(90);
    fs.symlinkSync(outside, path.join(dir, link)); // named like an old backup, pointing elsewhere

    const result = runBackup(settings(dir, { retentionDays: 30 }));
    expect(result.status, result.stderr).toBe(0);
    const fresh = completeBackups(dir).filter((n) => n > d1);
    expect(fresh).toHaveLength(1);
    expect(fs.readdirSync(dir).sort()).toEqual(
      [".lock", d1, d29, fresh[0], noManifest, link, "keep-me", "notes.txt"].sort(),
    );
    expect(result.stdout.match(/pruned /g)).toHaveLength(3);
    expect(fs.readFileSync(path.join(outside, "precious", "data"), "utf8")).toBe("keep");

    // When every complete backup is old, the newest of them stays.
    const old = path.join(work, "retention-old");
    fs.mkdirSync(old);
    const olds = [name(100), name(60), name(50)];
    for (const n of olds) {
      fs.mkdirSync(path.join(old, n));
      fs.writeFileSync(path.join(old, n, MANIFEST_FILE), "{}");
    }
    const pruneOnly = runBackup(settings(old, { retentionDays: 30 }), " --prune-only");
    expect(pruneOnly.status, pruneOnly.stderr).toBe(0);
    expect(completeBackups(old)).toEqual([olds[2]]);
  }, 120_000);

  it("installs a schedule whose service runs the same backup, and removes it", () => {
    const root = path.join(work, "install-root");
    const bin = path.join(work, "fake-bin");
    const calls = path.join(work, "systemctl-calls");
    fs.mkdirSync(path.join(root, "run/systemd/system"), { recursive: true });
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, "systemctl"), `#!/bin/sh\necho "$*" >>${calls}\n`, { mode: 0o755 });
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, SECTORWARS_INSTALL_ROOT: root };
    const dir = path.join(work, "scheduled");
    const s = settings(dir, { allowEmpty: false });
    const unit = scheduleUnitName(STACK);

    const bad = run("/bin/sh", ["-c", scheduleInstallCommand(s, { onCalendar: "dialy" })], { env });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/not a systemd calendar expression/);

    const installed = run("/bin/sh", ["-c", scheduleInstallCommand(s, DEFAULT_BACKUP_SCHEDULE)], { env });
    expect(installed.status, installed.stderr).toBe(0);
    const scriptPath = path.join(root, `usr/local/lib/sectorwars/backup-${STACK}.sh`);
    expect(fs.readFileSync(scriptPath, "utf8")).toBe(backupScript());
    const service = fs.readFileSync(path.join(root, `etc/systemd/system/${unit}.service`), "utf8");
    expect(service).toBe(backupServiceUnit(s, DEFAULT_BACKUP_SCHEDULE, "/usr/local/lib/sectorwars"));
    expect(fs.readFileSync(path.join(root, `etc/systemd/system/${unit}.timer`), "utf8")).toBe(
      backupTimerUnit(s, DEFAULT_BACKUP_SCHEDULE),
    );
    expect(fs.readFileSync(calls, "utf8")).toContain(`enable --now ${unit}.timer`);

    // What the timer starts: the service's ExecStart (its script under the install root).
    const execStart = /^ExecStart=(.*)$/m.exec(service)?.[1] as string;
    const scheduled = run("/bin/sh", ["-c", execStart.replace("/usr/local/lib/sectorwars", path.dirname(scriptPath))], {
      timeoutMs: 180_000,
    });
    expect(scheduled.status, scheduled.stderr).toBe(0);
    expect(completeBackups(dir)).toHaveLength(1);

    const removed = run("/bin/sh", ["-c", scheduleRemoveCommand(STACK)], { env });
    expect(removed.status, removed.stderr).toBe(0);
    expect(fs.existsSync(scriptPath)).toBe(false);
    expect(fs.existsSync(path.join(root, `etc/systemd/system/${unit}.timer`))).toBe(false);
    expect(fs.readFileSync(calls, "utf8")).toContain(`disable --now ${unit}.timer`);
    expect(completeBackups(dir)).toHaveLength(1); // the backups stay
  }, 180_000);
});
