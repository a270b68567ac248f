/**
 * Swarm mode through the real Pulumi engine on a one-node test swarm (Docker 26 in its own
 * network namespace), from an empty backend:
 *
 * - first up: every task healthy, each region answering through the edge with its own id,
 *   databases accepting a login, new databases with the init SQL's schema and its check passed
 *   (from the services' logs); monitoring on (test images of Prometheus, Alertmanager, the prober
 *   and the exporters): every game service probed, every database, Redis and the node's disk
 *   scraped (the host exporter's tasks found by DNS), every task's container measured by cAdvisor
 *   (a global service reading the node's engine) under its own role and region, each game API
 *   task's own /metrics scraped (monitoring.apiMetricsPath), each region's requests counted by
 *   mtail on the edge's node from the edge task's log, nothing firing; a preview right
 *   after shows no change and refresh no drift (the provider reads durations, images and the restart policy
 *   back in its own spelling);
 * - a no-change up changes nothing: no task restarts, no backup runs;
 * - a new game-server image under a request loop: no request fails, no database or Redis task
 *   restarts; each API slot's two tasks counted as ContainerRestartLoop counts them;
 * - a change that restarts the databases (a bigger size) takes a backup first;
 * - destroy: every service goes, the data volumes stay on the node.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { MANIFEST_FILE } from "../../planning/backup/manifest";
import { EDGE_SERIES } from "../../planning/monitoring/edgeLog";
import { LABEL_STACK, MONITORING_ROLES } from "../../planning/roles";
import { docker, newTestRun } from "../support/docker";
import {
  DEV_REGIONS,
  removeStackVolumes,
  type Releases,
  type StackPlace,
  dataIdentities,
  engineStackName,
  newStackPlace,
  reapDeadStacks,
  requestLoop,
  servingProblems,
  stackConfig,
  stackContainers,
  tagReleases,
} from "../support/engineStacks";
import { describeOn } from "../support/engineSuites";
import { ensureTestImages } from "../support/images";
import { getAt, probeEchoOf } from "../support/net";
import { prometheusQuery, waitForSeries } from "../support/alerts";
import { waitUntil } from "../support/process";
import { EngineStack, changesOf, findPulumiEngine } from "../support/pulumiEngine";
import { type SwarmNodeEngine, engineSwarm } from "../support/swarm";

const pulumiEngine = findPulumiEngine();

/**
 * The watchers' sizes, small: the test node has two real CPUs, from which swarm's scheduler
 * reserves, and the defaults would leave the game's tasks pending.
 */
const MONITORING_SIZES = Object.fromEntries(
  MONITORING_ROLES.map((role) => [
    role,
    { limits: { cpus: 0.25, memory: "256M" }, reservations: { cpus: 0.01, memory: "16M" } },
  ]),
);
const swarm = engineSwarm(pulumiEngine, { cluster: 1, nodes: 1, what: "the one-node test swarm" });

describeOn("pulumi", swarm.availability, "swarm mode through the real Pulumi engine, on one node", () => {
  const node = swarm.nodes[0] as SwarmNodeEngine;
  const engine = { host: node?.host };
  const run = newTestRun("real-engine");
  const stackName = engineStackName(run.id, "swarm");
  let place: StackPlace;
  let releases: Releases;
  let stack: EngineStack;
  let destroyed = false;

  // New databases get their schema, and the init SQL's check reads the services' logs.
  const initSql = { nexus: "test/fixtures/schema/nexus-init.sql", region: "test/fixtures/schema/region-init.sql" };
  const configWith = (gameserver: string, extra: Record<string, unknown> = {}) => {
    const config = stackConfig("dev", place, {
      gameserver,
      regions: DEV_REGIONS,
      "sectorwars:orchestrator": "swarm",
      "sectorwars:swarm": { nodes: [{ name: node.name, cpus: 8, memoryGb: 16, edge: true }] },
      "sectorwars:database": { initSql },
      // The probe answers /metrics as a game server with metrics would.
      "sectorwars:monitoring": { enabled: true, apiMetricsPath: "/metrics" },
      ...extra,
    });
    const sizes = config["sectorwars:sizeProfiles"] as Record<string, unknown>;
    return { ...config, "sectorwars:sizeProfiles": { ...sizes, ...MONITORING_SIZES } };
  };
  const edge = () => ({ host: node.address, port: place.httpPort });
  const expectNoChange = async (after: string) =>
    expect(await stack.previewChanges(), `preview after ${after}`).toEqual([]);
  /** Every task's container of the stack as id@startedAt: a restarted or replaced task shows. */
  const tasks = () =>
    Object.fromEntries(stackContainers(stackName, engine).map((c) => [c.id.slice(0, 12), c.startedAt]));
  const backups = () =>
    fs.existsSync(path.join(place.backupDir, stackName))
      ? fs.readdirSync(path.join(place.backupDir, stackName)).filter((d) => /^\d{8}T\d{6}Z$/.test(d))
      : [];

  beforeAll(async () => {
    if (!pulumiEngine.available) return;
    reapDeadStacks(engine, true);
    ensureTestImages(engine);
    releases = tagReleases(engine);
    place = await newStackPlace(run.id);
    stack = await EngineStack.create({
      engine: pulumiEngine,
      stackName,
      dockerHost: node.host,
      config: configWith(releases.v1),
    });
  }, 600_000);

  afterAll(async () => {
    if (!stack) return;
    if (!destroyed) await stack.destroy().catch((error: unknown) => console.error(error));
    removeStackVolumes(stackName, engine);
    stack.dispose();
    fs.rmSync(place.backupDir, { recursive: true, force: true });
  }, 600_000);

  it("brings the stack up from empty: every task healthy, each region answers with its id, databases log in", async () => {
    const up = await stack.up();
    const checks = up.steps.filter((s) => s.op === "create" && s.urn.endsWith("-db-init-check"));
    expect(checks.map((s) => s.urn.split("::").pop()).sort(), "the init SQL's checks").toEqual([
      "nexus-db-init-check",
      "region-default-db-init-check",
      "region-orion-db-init-check",
    ]);
    // The edge, Redis and three databases; two tasks of each stateless service; the monitoring's
    // Prometheus, Alertmanager, prober, three database exporters, Redis', the node's, cAdvisor and mtail.
    // A task that failed once under load leaves its container behind (swarm starts another):
    // count the running ones and name the others, so a run shows which service it was.
    const containers = stackContainers(stackName, engine);
    const running = containers.filter((c) => c.state === "running");
    const others = containers.filter((c) => c.state !== "running").map((c) => `${c.name} ${c.state}`);
    if (others.length > 0) console.log("tasks' containers not running:", others);
    expect(running).toHaveLength(5 + 2 * 6 + 10);
    const regions = DEV_REGIONS.map((r) => r.id);
    const get = (urlPath: string) => getAt(node.address, place.httpPort, urlPath);
    expect(await servingProblems({ stack: stackName, get, engines: [engine], regions })).toEqual([]);
    const orion = stackContainers(stackName, engine).find((c) => c.role === "region-db" && c.region === "orion");
    const sql = "SELECT string_agg(name, ',' ORDER BY id) FROM sectors";
    const psql = ["psql", "-U", "region_orion_user", "-d", "region_orion", "-XAtqc", sql];
    expect(docker(["exec", orion?.id ?? "", ...psql], engine).trim(), "the init SQL's schema").toBe("Sol,Vega");

    const prometheus = stackContainers(stackName, engine).find((c) => c.role === "prometheus")?.name ?? "";
    await waitForSeries({
      what: "every game service probed and every exporter reaching what it watches",
      prometheus,
      engine,
      promql: `probe_success{job="health"} == 1 or pg_up == 1 or redis_up == 1 or node_filesystem_avail_bytes{mountpoint="/"} > 0`,
      expected: [
        ...["admin-ui -", "nexus-api -", "paypal -", "player-ui -"].map((s) => `health ${s}`),
        ...regions.map((id) => `health region-api ${id}`),
        "host host -",
        "postgres nexus-db -",
        ...regions.map((id) => `postgres region-db ${id}`),
        "redis redis -",
      ],
      timeoutMs: 120_000,
    });
    // Every task's container, as cAdvisor on the node reads it: labelled with its own role and region.
    await waitForSeries({
      what: "every task's container measured",
      prometheus,
      engine,
      promql: `sum by (job, role, region) (container_memory_working_set_bytes{stack="${stackName}"} > 0)`,
      expected: [...new Set(running.map((c) => `containers ${c.role} ${c.region || "-"}`))],
    });
    // The game APIs' own metrics (monitoring.apiMetricsPath): each of the two tasks scraped on its own.
    await waitForSeries({
      what: "every API task's own metrics scraped",
      prometheus,
      engine,
      promql: `count by (role, region) (sectorwars_probe_requests_total{job="api", route="health"} > 0)`,
      expected: ["nexus-api - 2", ...regions.map((id) => `region-api ${id} 2`)],
      name: (s) => `${s.metric.role} ${s.metric.region ?? "-"} ${s.value[1]}`,
    });
    // Each region's requests through the edge (its id in the answer proves the route), as mtail on
    // the edge's node counts them from the edge task's log.
    for (const id of regions) expect(probeEchoOf(await get(`/api/regions/${id}/ping`)).region?.id).toBe(id);
    await waitForSeries({
      what: "each region's requests counted at the edge",
      prometheus,
      engine,
      promql: `sum by (job, role, region) (${EDGE_SERIES.requests}{stack="${stackName}", status="200"}) > 0`,
      expected: regions.map((id) => `edge-requests nginx ${id}`),
    });
    const firing = prometheusQuery(prometheus, 'ALERTS{alertstate="firing"}', engine).map((a) => a.metric.alertname);
    expect(firing, "alerts firing on a healthy stack").toEqual([]);
  }, 600_000);

  it("previews no change right after the first up, and a refresh finds no drift", async () => {
    await expectNoChange("the first up");
    const refresh = await stack.refresh();
    expect(changesOf(refresh.result.summary.resourceChanges as Record<string, number>), "drift").toEqual({});
    await expectNoChange("a refresh");
  }, 600_000);

  it("changes nothing on an up with nothing changed: no task restarts, no backup runs", async () => {
    const before = { tasks: tasks(), backups: backups() };
    const up = await stack.up();
    expect(changesOf(up.result.summary.resourceChanges as Record<string, number>), "what the up did").toEqual({});
    expect({ tasks: tasks(), backups: backups() }).toEqual(before);
  }, 600_000);

  it("rolls a new game-server image out under a request loop: no request fails, no database or Redis task restarts", async () => {
    const data = dataIdentities(stackName, [engine]);
    const paths = ["/api/nexus/galaxy", ...DEV_REGIONS.map((r) => `/api/regions/${r.id}/ping`)];
    const loop = requestLoop(edge(), paths, (urlPath, answer) => {
      if (answer.status !== 200) return false;
      const echo = probeEchoOf(answer);
      return urlPath.startsWith("/api/nexus/") ? echo.role === "nexus-api" : urlPath.includes(`/${echo.region?.id}/`);
    });
    let updated: string[] | undefined;
    try {
      await waitUntil("the request loop to get going", () => loop.ok() > 30, 30_000);
      stack.writeConfig(configWith(releases.v2));
      const up = await stack.up();
      updated = up.steps.filter((s) => s.op === "update").map((s) => s.urn.split("::").pop() ?? "");
      const settled = loop.ok();
      await waitUntil("requests after the update", () => loop.ok() > settled + 30, 30_000);
    } finally {
      const { ok, failures } = await loop.stop();
      expect(failures, `${failures.length} of ${ok + failures.length} requests failed`).toEqual([]);
    }
    expect(updated?.sort(), "services updated").toEqual(["nexus-api", "region-default-api", "region-orion-api"]);
    expect(dataIdentities(stackName, [engine]), "databases and Redis: id@startedAt").toEqual(data);
    // Each API slot now ran two tasks, as cAdvisor saw them: what ContainerRestartLoop counts per
    // slot in swarm mode (a restart there is a new task), here one start short of a restart.
    await waitForSeries({
      what: "each API slot's two tasks, counted as ContainerRestartLoop counts them",
      prometheus: stackContainers(stackName, engine).find((c) => c.role === "prometheus")?.name ?? "",
      engine,
      promql:
        `count by (role, region, task) (max_over_time(container_start_time_seconds{stack="${stackName}", ` +
        `role=~"nexus-api|region-api"}[15m]) > time() - 900)`,
      expected: ["nexus-api -", ...DEV_REGIONS.map((r) => `region-api ${r.id}`)].flatMap((api) => [
        `${api} slot 1: 2`,
        `${api} slot 2: 2`,
      ]),
      name: (s) => `${s.metric.role} ${s.metric.region ?? "-"} slot ${s.metric.task?.split(".").pop()}: ${s.value[1]}`,
    });
    await expectNoChange("the image update");
  }, 900_000);

  it("takes a backup before an update restarts the databases, and the data survives it", async () => {
    const regionDb = () =>
      stackContainers(stackName, engine).find((c) => c.role === "region-db" && c.region === "orion");
    const psql = (sql: string) =>
      docker(
        ["exec", regionDb()?.id ?? "", "psql", "-U", "region_orion_user", "-d", "region_orion", "-XAtqc", sql],
        engine,
      ).trim();
    // Not ships: the init SQL made that table.
    psql("CREATE TABLE pilots (name text); INSERT INTO pilots VALUES ('before-resize')");
    const before = backups();
    const profiles = stackConfig("dev", place, { gameserver: releases.v2 })["sectorwars:sizeProfiles"] as Record<
      string,
      { limits: object }
    >;
    const bigger = { ...profiles, "region-db": { ...profiles["region-db"], limits: { cpus: 0.5, memory: "640M" } } };
    stack.writeConfig(configWith(releases.v2, { "sectorwars:sizeProfiles": bigger }));
    await stack.up();
    const taken = backups().filter((b) => !before.includes(b));
    expect(taken, "backups taken by the up").toHaveLength(1);
    const manifest = JSON.parse(
      fs.readFileSync(path.join(place.backupDir, stackName, taken[0] as string, MANIFEST_FILE), "utf8"),
    ) as { createdAt: string; files: { regionId: string | null }[] };
    expect(
      manifest.files.some((f) => f.regionId === "orion"),
      "orion in the backup",
    ).toBe(true);
    const restarted = regionDb();
    expect(Date.parse(restarted?.startedAt ?? ""), "the new task started after the backup").toBeGreaterThan(
      Date.parse(manifest.createdAt),
    );
    expect(psql("SELECT name FROM pilots")).toBe("before-resize");
    await expectNoChange("the resize");
  }, 900_000);

  it("retires a region (410, its database's volume kept on the node) and brings it back on the same data", async () => {
    const retired = DEV_REGIONS.map((r) => (r.id === "orion" ? { ...r, state: "retired" as const } : r));
    const sizes = stack.currentConfig["sectorwars:sizeProfiles"];
    stack.writeConfig(configWith(releases.v2, { "sectorwars:regions": retired, "sectorwars:sizeProfiles": sizes }));
    await stack.up();
    const gone = await getAt(node.address, place.httpPort, "/api/regions/orion/ping");
    expect(gone.status, gone.body).toBe(410);
    expect(stackContainers(stackName, engine).filter((c) => c.region === "orion")).toEqual([]);
    await expectNoChange("retiring a region");

    stack.writeConfig(configWith(releases.v2, { "sectorwars:sizeProfiles": sizes }));
    await stack.up();
    const back = await getAt(node.address, place.httpPort, "/api/regions/orion/ping");
    expect(probeEchoOf(back).region?.id, back.body).toBe("orion");
    const db = stackContainers(stackName, engine).find((c) => c.role === "region-db" && c.region === "orion");
    const pilots = docker(
      [
        "exec",
        db?.id ?? "",
        "psql",
        "-U",
        "region_orion_user",
        "-d",
        "region_orion",
        "-XAtqc",
        "SELECT name FROM pilots",
      ],
      engine,
    );
    expect(pilots.trim()).toBe("before-resize");
    await expectNoChange("re-activating a region");
  }, 900_000);

  it("runs the migration step: a backup, then each database's migration on its overlay, no task restarted", async () => {
    // The probe stands in for the gameserver; pg is in its image. Each run adds one row.
    const migrate = [
      "node",
      "-e",
      'const { Client } = require("pg"); const c = new Client({ connectionString: process.env.DATABASE_URL }); ' +
        'c.connect().then(() => c.query("CREATE TABLE IF NOT EXISTS migrated (role text)"))' +
        '.then(() => c.query("INSERT INTO migrated VALUES ($1)", [process.env.SECTORWARS_ROLE]))' +
        ".then(() => c.end()).catch((e) => { console.error(e.message); process.exit(1); });",
    ];
    const before = { tasks: tasks(), backups: backups() };
    const sizes = stack.currentConfig["sectorwars:sizeProfiles"];
    stack.writeConfig(
      configWith(releases.v2, {
        "sectorwars:sizeProfiles": sizes,
        "sectorwars:database": { initSql, migration: { command: migrate } },
      }),
    );
    const up = await stack.up();
    expect(
      up.steps.map((s) => `${s.op} ${s.urn.split("::").pop() ?? ""}`).sort(),
      "what turning the step on does",
    ).toEqual(
      ["create nexus-migrate", "create region-default-migrate", "create region-orion-migrate"]
        .concat(["replace backups-run", "create-replacement backups-run", "delete-replaced backups-run"])
        .sort(),
    );
    expect(tasks(), "no task restarted").toEqual(before.tasks);
    expect(
      backups().filter((b) => !before.backups.includes(b)),
      "a backup first",
    ).toHaveLength(1);
    const migrated = (role: string, region: string | null, user: string, db: string) => {
      const c = stackContainers(stackName, engine).find(
        (c) => c.role === role && (region === null || c.region === region),
      );
      return docker(["exec", c?.id ?? "", "psql", "-U", user, "-d", db, "-XAtqc", "SELECT role FROM migrated"], engine);
    };
    expect(migrated("nexus-db", null, "nexus_user", "nexus_db").trim()).toBe("nexus-api");
    expect(migrated("region-db", "orion", "region_orion_user", "region_orion").trim()).toBe("region-api");
    await expectNoChange("turning the migration step on");
  }, 900_000);

  it("destroys every service, secret and config and keeps the data volumes on the node", async () => {
    await stack.destroy();
    destroyed = true;
    await waitUntil("the tasks' containers to go", () => stackContainers(stackName, engine).length === 0, 120_000);
    for (const kind of ["secret", "config"]) {
      const left = docker(
        [kind, "ls", "--filter", `label=${LABEL_STACK}=${stackName}`, "--format", "{{.Name}}"],
        engine,
      );
      expect(left.trim(), `${kind}s left`).toBe("");
    }
    const volumes = docker(
      ["volume", "ls", "--filter", `label=${LABEL_STACK}=${stackName}`, "--format", "{{.Name}}"],
      engine,
    )
      .split("\n")
      .filter(Boolean)
      .sort();
    const prefix = place.namePrefix;
    expect(volumes).toEqual(
      [
        `${prefix}_nexus_db_data`,
        `${prefix}_redis_data`,
        // The monitoring's series and silences, kept as the databases' are.
        `${prefix}_prometheus_data`,
        `${prefix}_alertmanager_data`,
        `${prefix}_region_default_db_data`,
        `${prefix}_region_orion_db_data`,
        `${prefix}_static`,
      ].sort(),
    );
  }, 600_000);
});
