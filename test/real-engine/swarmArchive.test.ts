/**
 * Continuous archiving in swarm mode through the real Pulumi engine, on the one-node test swarm
 * (Docker 26): the dev stack with `sectorwars:backup.repository` set to an S3 server of the test
 * on the node's engine, joined to each database's overlay network as `pulumi up` creates it.
 *
 * - first up: each database's task archives (stanza, full backup, WAL pushed, none failed), its
 *   network reaches out while the others stay internal, no repository secret in plain text in
 *   the state; `npm run status` shows each archive; a preview right after shows no change;
 * - a backup run (backup.generation bumped) takes a differential backup of every database, on
 *   the node that runs it;
 * - `npm run restore -- --to` brings region orion's task back to a second between two writes,
 *   the nexus untouched, and a preview shows no change after it.
 *
 * The one-host path, the empty-volume restore and the drill are test/real-engine/archive.test.ts.
 */
import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, expect, it } from "vitest";
import { PROJECT_DIR } from "../../components/config/stackFile";
import type { StatusReport } from "../../planning/status/evaluation";
import { runStatus } from "../../scripts/status";
import { docker, newTestRun, removeLabelled, run as runCommand } from "../support/docker";
import { LABEL_STACK } from "../../planning/roles";
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
import { labelArgs } from "../support/platformContainers";
import { waitUntil } from "../support/process";
import { EngineStack, findPulumiEngine } from "../support/pulumiEngine";
import { type S3Server, startS3Server } from "../support/s3Server";
import { archivingBackup, joinDatabaseNetworks, redisSnapshotsOf, repositorySecrets } from "../support/archivingStack";
import { type SwarmNodeEngine, engineSwarm } from "../support/swarm";

const pulumiEngine = findPulumiEngine();
// A cluster of its own: another file's stack on cluster 1 would race it for the node's labels.
const swarm = engineSwarm(pulumiEngine, { cluster: 2, nodes: 1, what: "the one-node test swarm" });
const KEY = "swarm archive test repository key 0123456789";

describeOn("pulumi", swarm.availability, "continuous archiving in swarm mode through the real Pulumi engine", () => {
  const node = swarm.nodes[0] as SwarmNodeEngine;
  const engine = { host: node?.host };
  const run = newTestRun("real-engine");
  const stackName = engineStackName(run.id, "swarmarchive");
  const network = `swsarch${run.id}_s3`;
  let place: StackPlace;
  let stack: EngineStack;
  let s3: S3Server;
  let networks: { stop(): void; joined: string[] };
  let v1 = "";

  const configWith = (generation: number) =>
    stackConfig("dev", place, {
      gameserver: v1,
      regions: DEV_REGIONS,
      "sectorwars:orchestrator": "swarm",
      "sectorwars:swarm": { nodes: [{ name: node.name, cpus: 8, memoryGb: 16, edge: true }] },
      "sectorwars:backup": archivingBackup(s3, { place, prefix: stackName, generation }),
    });
  const taskOf = (role: string, region?: string) =>
    stackContainers(stackName, engine).find(
      // A swarm keeps a service's earlier tasks as exited containers.
      (c) => c.state === "running" && c.role === role && (region === undefined || c.region === region),
    )?.name ?? "";
  const psql = (container: string, user: string, db: string, sql: string) =>
    docker(["exec", container, "psql", "-qAt", "-U", user, "-d", db, "-c", sql], engine).trim();

  beforeAll(async () => {
    if (!pulumiEngine.available) return;
    reapDeadStacks(engine, true);
    ensureTestImages(engine);
    ({ v1 } = tagReleases(engine));
    place = await newStackPlace(run.id);
    docker(["network", "create", ...labelArgs(run, {}), network], engine);
    s3 = await startS3Server({ run, network, alias: "backups.swarm.test", host: node.host });
    networks = await joinDatabaseNetworks(s3, place, engine);
    stack = await EngineStack.create({
      engine: pulumiEngine,
      stackName,
      dockerHost: node.host,
      config: configWith(0),
      secrets: repositorySecrets(s3, KEY),
    });
  }, 600_000);

  afterAll(async () => {
    networks?.stop();
    // The tasks stop while the repository still answers: at shutdown each database pushes its last
    // WAL, which against a repository already gone outlasts the provider's wait in destroy.
    const services = docker(["service", "ls", "-q", "--filter", `label=${LABEL_STACK}=${stackName}`], engine)
      .split("\n")
      .filter(Boolean);
    if (services.length > 0) runCommand("docker", ["service", "scale", ...services.map((s) => `${s}=0`)], engine);
    await s3?.stop();
    if (stack) {
      await stack.destroy().catch((error: unknown) => console.error(error));
      removeStackVolumes(stackName, engine);
      stack.dispose();
    }
    removeLabelled(run.runLabel, engine);
  }, 600_000);

  it("archives every database's task from the first up, its network the only one that reaches out", async () => {
    await stack.up();
    expect(networks.joined.sort(), "database networks joined to the repository").toHaveLength(3);
    // Each database writes, then each one's segment must reach the repository: the archive
    // timeouts run side by side.
    const writes = DEV_DATABASES.map(([role, region, stanza, user, database]) => {
      const task = taskOf(role, region);
      expect(backupTypesOf(task, stanza, engine), `${stanza}: backups`).toEqual(["full"]);
      const archived = () => Number(psql(task, user, database, "select archived_count from pg_stat_archiver"));
      const before = archived();
      psql(task, user, database, "create table archived_marker as select 1 as id");
      return { task, stanza, user, database, archived, before };
    });
    for (const { task, stanza, user, database, archived, before } of writes) {
      await waitUntil(`${stanza}: a new segment archived`, () => archived() > before, 40_000);
      expect(psql(task, user, database, "select failed_count from pg_stat_archiver"), `${stanza}: failed`).toBe("0");
    }
    const internal = (name: string) =>
      docker(["network", "inspect", "--format", "{{.Internal}}", `${place.namePrefix}_${name}`], engine).trim();
    expect(internal("nexus"), "a database's network").toBe("false");
    expect(internal("redis"), "Redis's network").toBe("true");
    for (const secret of [KEY, s3.secretKey]) {
      expect(await stack.plainTextPaths(secret), "a repository secret in plain text in the state").toEqual([]);
    }
  }, 900_000);

  it("shows each database's archive in npm run status, from the node that runs it", async () => {
    // The node's engine, as an operator's DOCKER_HOST names it (the config's node has no dockerHost).
    const before = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = node.host;
    const result = await runStatus(["--stack", stackName, "--json"], { root: stack.dir }).finally(() => {
      if (before === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = before;
    });
    const report = JSON.parse(result.stdout) as StatusReport;
    const databases = report.archive?.databases ?? [];
    expect(databases.map((d) => d.stanza).sort()).toEqual(["nexus", "region-default", "region-orion"]);
    for (const d of databases) {
      expect([d.stanza, d.repositoryReachable, d.newestBackup?.type]).toEqual([d.stanza, true, "full"]);
    }
    expect(report.findings.filter((f) => f.severity === "unhealthy" && /archiv|repositor/i.test(f.message))).toEqual(
      [],
    );
  }, 300_000);

  it("previews no change right after", async () => {
    expect(await stack.previewChanges(), "preview after the first up").toEqual([]);
  }, 600_000);

  it("adds a differential base backup of every database and Redis's snapshot with a backup run, on its node", async () => {
    stack.writeConfig(configWith(1));
    await stack.up();
    for (const [role, region, stanza] of DEV_DATABASES) {
      expect(backupTypesOf(taskOf(role, region), stanza, engine), `${stanza}: backups`).toEqual(["full", "diff"]);
    }
    const snapshots = redisSnapshotsOf(taskOf("nexus-db"), engine);
    expect(
      snapshots.map((s) => [s.hostname, s.tags]),
      "Redis's snapshots in the repository",
    ).toEqual([[stackName, ["redis"]]]);
  }, 600_000);

  it("brings region orion's task back to a second between two writes (npm run restore --to), the nexus untouched", async () => {
    const orion = taskOf("region-db", "orion");
    const nexus = taskOf("nexus-db");
    const inNexus = (sql: string) => psql(nexus, "nexus_user", "nexus_db", sql);
    psql(orion, "region_orion_user", "region_orion", "create table moves (id int primary key)");
    for (let i = 1; i <= 5; i++) psql(orion, "region_orion_user", "region_orion", `insert into moves values (${i})`);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const target = psql(
      orion,
      "region_orion_user",
      "region_orion",
      `select to_char(clock_timestamp() at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
    );
    await new Promise((resolve) => setTimeout(resolve, 1500));
    for (let i = 6; i <= 10; i++) psql(orion, "region_orion_user", "region_orion", `insert into moves values (${i})`);
    inNexus("create table untouched as select generate_series(1, 10) as id");

    const restore = spawnSync(
      "npx",
      ["tsx", "scripts/restore.ts", "--stack", stackName, "--target", "region:orion", "--to", target],
      { cwd: PROJECT_DIR, encoding: "utf8", timeout: 900_000, env: { ...process.env, DOCKER_HOST: node.host } },
    );
    expect(restore.status, `${restore.stdout}${restore.stderr}`).toBe(0);
    console.log(restore.stdout); // each step with its time
    const restored = taskOf("region-db", "orion");
    expect(restored, "a new task runs the restored database").not.toBe(orion);
    expect(
      psql(restored, "region_orion_user", "region_orion", "select string_agg(id::text, ',' order by id) from moves"),
      `rows at ${target}`,
    ).toBe("1,2,3,4,5");
    expect(inNexus("select count(*) from untouched"), "the nexus is untouched").toBe("10");
    expect(taskOf("nexus-db"), "the nexus's task kept running").toBe(nexus);
    await waitUntil("region orion's API task to run again", () => taskOf("region-api", "orion") !== "", 120_000);
    expect(docker(["service", "ls", "--filter", "label=com.sectorwars.restore-helper", "-q"], engine).trim()).toBe("");
    expect(await stack.previewChanges(), "preview after the restore").toEqual([]);
  }, 900_000);
});
