/**
 * Continuous archiving through the real Pulumi engine, on Docker 20.10: the dev stack with
 * `sectorwars:backup.repository` set to an S3 server of the test (test/support/s3Server.ts, over
 * HTTPS with its own CA) and the two repository secrets, the test's postgres image (which has
 * pgBackRest, as the platform's database image must).
 *
 * - first up: each database's stanza is created, a full backup taken and `pgbackrest check`
 *   passes (a segment reached the repository); the databases keep archiving what they write, and
 *   nothing secret shows in plain text in the state;
 * - a preview right after shows no change;
 * - `npm run restore -- --target region:orion --to <time>` brings that database back to a second
 *   between two writes (refusing a time before the first backup, touching nothing), the nexus
 *   keeps what it wrote since, the region's API answers again, and a preview shows no change;
 * - a backup run (backup.generation bumped) adds a differential base backup to each repository
 *   and Redis's snapshot, which `npm run restore -- --target redis --from-repository` restores;
 * - the disaster-recovery drill: the host is lost (every database killed), the repository's server
 *   moves with its objects to a fresh engine (Docker 26), and a new stack there with the same
 *   repository and keys comes up with every database restored from the repository alone: the
 *   same rows, table by table (counts and checksums), the APIs answering, archiving going on;
 *   then Redis from its snapshot in the same repository.
 *
 * Restoring to a point in time from what this configuration archives is test/pitr.docker.test.ts.
 */
import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, expect, it } from "vitest";
import { PROJECT_DIR } from "../../components/config/stackFile";
import type { StatusReport } from "../../planning/status/evaluation";
import { runStatus } from "../../scripts/status";
import { type EngineOption, docker, ensureDockerd, newTestRun, removeLabelled } from "../support/docker";
import { redisCliInContainer } from "../../assets";
import { REDIS_CONF_PATH } from "../../planning/stack/redis";
import {
  DEV_DATABASES,
  DEV_REGIONS,
  backupTypesOf,
  type StackPlace,
  engineStackName,
  newStackPlace,
  reapDeadStacks,
  removeStackVolumes,
  stackConfig,
  stackContainers,
  tagReleases,
} from "../support/engineStacks";
import { describeOn } from "../support/engineSuites";
import { ensureTestImages } from "../support/images";
import { getAt, probeEchoOf } from "../support/net";
import { labelArgs } from "../support/platformContainers";
import { waitUntil } from "../support/process";
import { EngineStack, findPulumiEngine } from "../support/pulumiEngine";
import { type S3Server, startS3Server } from "../support/s3Server";
import { archivingBackup, joinDatabaseNetworks, repositorySecrets } from "../support/archivingStack";
import { modernDockerd } from "../support/modernDocker";

const pulumiEngine = findPulumiEngine();
/** The drill's fresh engine; without it the drill is skipped, with the reason. */
const modern = pulumiEngine.available ? modernDockerd() : undefined;
const KEY = "archive engine test repository key 0123456789";

/**
 * Per table of the public schema, its row count and an md5 of its rows in order: what the drill
 * compares between the lost host and the rebuilt one (query_to_xml runs the per-table query).
 */
const DIGEST_SQL = `select string_agg(format('%s=%s', c.relname,
  (xpath('/row/d/text()', query_to_xml(format(
    'select count(*) || '':'' || md5(coalesce(string_agg(t::text, '','' order by t::text), '''')) as d from public.%I t',
    c.relname), false, true, '')))[1]::text), ' ' order by c.relname)
  from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public' and c.relkind = 'r'`;

/** A key set in Redis before a backup run, and changed after it. */
const MARKER = "sectorwars:test:snapshot-marker";

/** redis-cli in `stack`'s Redis container on `on`, authenticated as the platform does it. */
const redisOf =
  (stack: string, on: EngineOption) =>
  (...args: string[]): string => {
    const name = stackContainers(stack, on).find((c) => c.role === "redis")?.name ?? "";
    return docker(["exec", name, "sh", "-c", redisCliInContainer(), "sh", REDIS_CONF_PATH, ...args], on).trim();
  };

/** `npm run restore -- --target redis --from-repository --force` on the engine `env` names. */
const restoreRedisFromRepository = (stack: string, env: NodeJS.ProcessEnv, extra: string[] = []) =>
  spawnSync(
    "npx",
    ["tsx", "scripts/restore.ts", "--stack", stack, "--target", "redis", "--from-repository", "--force", ...extra],
    { cwd: PROJECT_DIR, env, encoding: "utf8", timeout: 600_000 },
  );

describeOn("pulumi", pulumiEngine, "continuous archiving through the real Pulumi engine, on Docker 20.10", () => {
  const engine = {};
  const run = newTestRun("real-engine");
  const stackName = engineStackName(run.id, "archive");
  const network = `swarch${run.id}_s3`;
  let place: StackPlace;
  let stack: EngineStack;
  let s3: S3Server;
  let networks: { stop(): void; joined: string[] };
  /** The drill's stack, repository server and place on the fresh engine. */
  let drill: EngineStack | undefined;
  let drillS3: S3Server | undefined;
  let drillNetworks: { stop(): void } | undefined;
  let drillPlace: StackPlace;

  /** The dev stack archiving to the test's repository; `generation` bumped takes a backup at the next up. */
  const configWith = (c: { v1: string; generation: number }) =>
    stackConfig("dev", place, {
      gameserver: c.v1,
      regions: DEV_REGIONS,
      "sectorwars:backup": archivingBackup(s3, { place, prefix: stackName, generation: c.generation }),
    });
  let v1 = "";
  const dbOf = (role: string, region?: string) =>
    stackContainers(stackName, engine).find((c) => c.role === role && (region === undefined || c.region === region));
  const psql = (container: string, user: string, db: string, sql: string) =>
    docker(["exec", container, "psql", "-qAt", "-U", user, "-d", db, "-c", sql], engine).trim();

  beforeAll(async () => {
    if (!pulumiEngine.available) return;
    await ensureDockerd();
    reapDeadStacks(engine);
    ensureTestImages(engine);
    ({ v1 } = tagReleases(engine));
    place = await newStackPlace(run.id);
    docker(["network", "create", ...labelArgs(run, {}), network], engine);
    s3 = await startS3Server({ run, network, alias: "backups.archive.test" });
    networks = await joinDatabaseNetworks(s3, place);
    stack = await EngineStack.create({
      engine: pulumiEngine,
      stackName,
      dockerHost: process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock",
      config: configWith({ v1, generation: 0 }),
      secrets: repositorySecrets(s3, KEY),
    });
  }, 600_000);

  afterAll(async () => {
    if (modern?.available) {
      const fresh = { host: modern.host };
      drillNetworks?.stop();
      await drillS3?.stop();
      if (drill) {
        await drill.destroy().catch((error: unknown) => console.error(error));
        removeStackVolumes(`${stackName}-drill`, fresh);
        drill.dispose();
      }
      removeLabelled(run.runLabel, fresh);
    }
    networks?.stop();
    // First: a network with a container the stack does not know of cannot be removed by destroy.
    await s3?.stop();
    if (stack) {
      await stack.destroy().catch((error: unknown) => console.error(error));
      removeStackVolumes(stackName, engine);
      stack.dispose();
    }
    removeLabelled(run.runLabel);
  }, 600_000);

  it("archives every database from the first up: stanza, full backup, WAL in the repository", async () => {
    await stack.up();
    expect(networks.joined.sort(), "database networks joined to the repository").toHaveLength(3);
    for (const [role, region, stanza, user, database] of [
      ["nexus-db", undefined, "nexus", "nexus_user", "nexus_db"],
      ["region-db", "orion", "region-orion", "region_orion_user", "region_orion"],
    ] as const) {
      const container = dbOf(role, region)?.name ?? "";
      expect(backupTypesOf(container, stanza, engine), `${stanza}: backups`).toEqual(["full"]);
      // What the database writes now reaches the repository within the archive timeout.
      psql(
        container,
        user,
        database,
        "create table archived_marker (at timestamptz default now()); insert into archived_marker default values",
      );
      const archivedBefore = psql(container, user, database, "select archived_count from pg_stat_archiver");
      await waitUntil(
        `${stanza}: a new segment archived`,
        () =>
          Number(psql(container, user, database, "select archived_count from pg_stat_archiver")) >
          Number(archivedBefore),
        // archive_timeout is 10 s; the rest is room for a machine busy with other test files.
        90_000,
      );
      expect(
        psql(container, user, database, "select failed_count from pg_stat_archiver"),
        `${stanza}: failed pushes`,
      ).toBe("0");
    }
    for (const secret of [KEY, s3.secretKey]) {
      expect(await stack.plainTextPaths(secret), "a repository secret in plain text in the state").toEqual([]);
    }
  }, 900_000);

  it("shows each database's archive in npm run status, and a repository that stops answering as unhealthy", async () => {
    const status = async () => {
      const result = await runStatus(["--stack", stackName, "--json"], { root: stack.dir });
      return { status: result.status, report: JSON.parse(result.stdout) as StatusReport };
    };
    const healthy = await status();
    expect(
      healthy.report.findings.filter((f) => f.severity === "unhealthy"),
      "findings",
    ).toEqual([]);
    const archive = healthy.report.archive;
    expect(archive?.databases.map((d) => d.stanza).sort()).toEqual(["nexus", "region-default", "region-orion"]);
    for (const d of archive?.databases ?? []) {
      expect(d.repositoryReachable, d.stanza).toBe(true);
      expect(d.newestBackup?.type, d.stanza).toBe("full");
    }
    // The repository goes away: WAL waits, and status fails naming the repository.
    docker(["pause", s3.container], engine);
    try {
      const down = await status();
      expect(down.status).toBe(1);
      expect(down.report.findings.map((f) => f.message).join("\n")).toMatch(/the repository did not answer/);
    } finally {
      docker(["unpause", s3.container], engine);
    }
  }, 600_000);

  it("previews no change right after", async () => {
    expect(await stack.previewChanges(), "preview after the first up").toEqual([]);
  }, 600_000);

  it("brings region orion back to a second between two writes (npm run restore --to), the nexus untouched", async () => {
    const orion = dbOf("region-db", "orion")?.name ?? "";
    const nexus = dbOf("nexus-db")?.name ?? "";
    const inOrion = (sql: string) => psql(orion, "region_orion_user", "region_orion", sql);
    const inNexus = (sql: string) => psql(nexus, "nexus_user", "nexus_db", sql);
    inOrion("create table moves (id int primary key)");
    inNexus("create table untouched (id int primary key)");
    for (let i = 1; i <= 5; i++) inOrion(`insert into moves values (${i})`);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const target = inOrion(`select to_char(clock_timestamp() at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    for (let i = 6; i <= 10; i++) inOrion(`insert into moves values (${i})`);
    inNexus("insert into untouched select generate_series(1, 10)");
    const restore = (to: string) =>
      spawnSync("npx", ["tsx", "scripts/restore.ts", "--stack", stackName, "--target", "region:orion", "--to", to], {
        cwd: PROJECT_DIR,
        encoding: "utf8",
        timeout: 600_000,
      });

    // Before the repository's first backup: refused, and nothing stopped.
    const startedAt = dbOf("region-db", "orion")?.startedAt;
    const early = restore("2020-01-01T00:00:00Z");
    expect(early.status, early.stderr).toBe(1);
    expect(early.stderr).toMatch(/--to 2020-01-01T00:00:00.000Z is before the oldest backup of region-orion/);
    expect(dbOf("region-db", "orion")?.startedAt, "the database kept running").toBe(startedAt);

    const result = restore(target);
    expect(result.status, `${result.stdout}${result.stderr}`).toBe(0);
    expect(inOrion("select string_agg(id::text, ',' order by id) from moves"), `rows at ${target}`).toBe("1,2,3,4,5");
    expect(inNexus("select count(*) from untouched"), "the nexus is untouched").toBe("10");
    await waitUntil(
      "region orion's API to answer again",
      async () =>
        (await getAt("127.0.0.1", place.httpPort, "/api/regions/orion/ping").catch(() => ({ status: 0, body: "" })))
          .status === 200,
      60_000,
    );
    expect(await stack.previewChanges(), "preview after the restore").toEqual([]);
  }, 900_000);

  it("adds a differential base backup to every database's repository and Redis's snapshot with each backup run", async () => {
    const redis = redisOf(stackName, engine);
    expect(redis("SET", MARKER, "before the backup run")).toBe("OK");
    stack.writeConfig(configWith({ v1, generation: 1 }));
    await stack.up();
    for (const [role, region, stanza] of [
      ["nexus-db", undefined, "nexus"],
      ["region-db", "orion", "region-orion"],
    ] as const) {
      const container = dbOf(role, region)?.name ?? "";
      expect(backupTypesOf(container, stanza, engine), `${stanza}: backups`).toEqual(["full", "diff"]);
    }

    // Redis comes back from the repository's snapshot, not from the local backup directory.
    expect(redis("SET", MARKER, "after the backup run")).toBe("OK");
    const restored = restoreRedisFromRepository(stackName, process.env);
    expect(restored.status, `${restored.stdout}${restored.stderr}`).toBe(0);
    expect(restored.stdout).toContain("fetched Redis's newest snapshot from the backup repository");
    expect(redis("GET", MARKER), "the key as the backup run saw it").toBe("before the backup run");
  }, 600_000);

  it.skipIf(!modern?.available)(
    `rebuilds every database onto a fresh engine from the repository alone (the drill)${modern?.available === false ? `: skipped, ${modern.reason}` : ""}`,
    async () => {
      if (!modern?.available) return;
      const fresh = { host: modern.host };
      // The source: every database's newest write in the repository (pgbackrest check switches
      // WAL and waits for it), then what each holds.
      const source: Record<string, string> = {};
      for (const [role, region, stanza, user, database] of DEV_DATABASES) {
        const container = dbOf(role, region)?.name ?? "";
        psql(
          container,
          user,
          database,
          "create table drill_rows as select i, md5(i::text) as v from generate_series(1, 500) i",
        );
        docker(["exec", "-u", "postgres", container, "pgbackrest", `--stanza=${stanza}`, "check"], engine);
        source[stanza] = psql(container, user, database, DIGEST_SQL);
      }
      // The host is lost: its databases die where they stand. The repository, on a machine of
      // its own, goes on serving: here its server moves, objects and all, to the fresh engine.
      for (const [role, region] of DEV_DATABASES) docker(["kill", dbOf(role, region)?.name ?? ""], engine);
      networks.stop();
      const handover = await s3.handOver();

      ensureTestImages(fresh);
      const { v1: freshV1 } = tagReleases(fresh);
      drillPlace = await newStackPlace(`${run.id}d`);
      docker(["network", "create", ...labelArgs(run, {}), network], fresh);
      drillS3 = await startS3Server({ run, network, host: fresh.host, continues: handover });
      drillNetworks = await joinDatabaseNetworks(drillS3, drillPlace, fresh);
      drill = await EngineStack.create({
        engine: pulumiEngine as Extract<typeof pulumiEngine, { available: true }>,
        stackName: `${stackName}-drill`,
        dockerHost: fresh.host,
        // The same repository, keys and regions; nothing else of the lost host's.
        config: stackConfig("dev", drillPlace, {
          gameserver: freshV1,
          regions: DEV_REGIONS,
          "sectorwars:backup": archivingBackup(drillS3, { place: drillPlace, prefix: stackName }),
        }),
        secrets: repositorySecrets(drillS3, KEY),
      });
      await drill.up();

      for (const [role, region, stanza, user, database] of DEV_DATABASES) {
        const container =
          stackContainers(`${stackName}-drill`, fresh).find(
            (c) => c.role === role && (region === undefined || c.region === region),
          )?.name ?? "";
        expect(docker(["logs", container], fresh), `${stanza}: started from the repository`).toContain(
          `restoring ${stanza} from the backup repository`,
        );
        const rebuilt = docker(
          ["exec", container, "psql", "-qAt", "-U", user, "-d", database, "-c", DIGEST_SQL],
          fresh,
        );
        expect(rebuilt.trim(), `${stanza}: tables, row counts and checksums`).toBe(source[stanza]);
      }
      expect(source["region-orion"], "the drill compares the tables written before the loss").toMatch(
        /drill_rows=500:.*moves=5:/,
      );
      const ping = await getAt("127.0.0.1", drillPlace.httpPort, "/api/regions/orion/ping");
      expect(ping.status, "region orion's API on the fresh engine").toBe(200);
      expect(probeEchoOf(ping).region?.id, "the region that answered").toBe("orion");
      expect(await drill.previewChanges(), "preview after the drill's up").toEqual([]);

      // Redis, from its snapshot in the same repository (taken by the lost stack: another name).
      const redis = restoreRedisFromRepository(`${stackName}-drill`, { ...process.env, DOCKER_HOST: fresh.host }, [
        "--allow-other-stack",
      ]);
      expect(redis.status, `${redis.stdout}${redis.stderr}`).toBe(0);
      expect(redisOf(`${stackName}-drill`, fresh)("GET", MARKER), "Redis on the fresh engine").toBe(
        "before the backup run",
      );
    },
    1_200_000,
  );
});
