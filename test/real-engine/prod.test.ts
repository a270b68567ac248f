/**
 * The prod stack file through the real Pulumi engine on Docker 20.10 (API 1.41, what prod pins),
 * with the test images and small sizes: TLS certificate and PayPal credentials set as secrets,
 * plain HTTP redirecting to HTTPS, data volumes protected.
 *
 * - first up: every container healthy, each region answering over HTTPS with its own id,
 *   databases accepting a login; secrets nowhere in plain text in the state;
 * - a preview right after shows no change, and refresh finds no drift;
 * - a new game-server image under an HTTPS request loop through the edge's keepalive pools (which
 *   the prod file turns on, on nginx 1.30 as prod pins it): no request fails, no database restarts;
 * - monitoring, on by default in prod (test images of Prometheus, Alertmanager and the blackbox
 *   prober and the exporters, built from Debian's packages): every game service answers its probe,
 *   every database, Redis and the data root's disk are scraped, each labelled by stack, role and
 *   region; each region's requests at the edge are counted by status (mtail over the edge
 *   container's log); every container of the stack, and none of another, is measured (cAdvisor,
 *   CPU and memory) under its own role and region; each game API's own /metrics is scraped
 *   (monitoring.apiMetricsPath) and answers no player through the edge; no alert fires on the
 *   healthy stack; a region's API and database containers stopped reach the webhook (a receiver
 *   of the test's own, the secret monitoringAlertWebhook) as RegionApiDown and RegionDatabaseDown
 *   within two minutes, and their resolution once back, the API's restart counted;
 * - destroy as the README says (`--exclude-protected`): every container goes, the protected data
 *   volumes stay, on the engine and in the state.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { LABEL_STACK, MONITORING_ROLES } from "../../planning/roles";
import { docker, ensureDockerd, newTestRun } from "../support/docker";
import {
  DEV_REGIONS,
  type Releases,
  dataIdentities,
  removeStackVolumes,
  requestLoop,
  type StackPlace,
  engineStackName,
  newStackPlace,
  reapDeadStacks,
  servingProblems,
  stackConfig,
  stackContainers,
  tagReleases,
} from "../support/engineStacks";
import { describeOn } from "../support/engineSuites";
import { TEST_IMAGES, ensureTestImages } from "../support/images";
import { alertReceiver, jobRoleRegion, prometheusQuery, waitForSeries } from "../support/alerts";
import { EDGE_SERIES } from "../../planning/monitoring/edgeLog";
import { httpRequest, probeEchoOf } from "../support/net";
import { waitUntil } from "../support/process";
import { EngineStack, changesOf, findPulumiEngine } from "../support/pulumiEngine";
import { readStackFile } from "../support/pulumi";
import { selfSignedPem } from "../support/tls";

const pulumiEngine = findPulumiEngine();

describeOn("pulumi", pulumiEngine, "the prod stack file through the real Pulumi engine, on Docker 20.10", () => {
  const engine = {};
  const run = newTestRun("real-engine");
  const stackName = engineStackName(run.id, "prod");
  const tls = selfSignedPem("localhost");
  const receiver = alertReceiver(run, engine);
  const secrets = {
    "sectorwars:tlsCertificate": tls.certificate,
    "sectorwars:tlsPrivateKey": tls.key,
    "sectorwars:paypalClientId": "engine-test-paypal-client-id",
    "sectorwars:paypalClientSecret": "engine-test-paypal-client-secret",
    // Prod is watched by default: alerts go to the test's receiver, on the stack's monitoring network.
    "sectorwars:monitoringAlertWebhook": receiver.url,
  };
  let place: StackPlace;
  let stack: EngineStack;
  let destroyed = false;

  let releases: Releases;

  /**
   * Prod's own file (engine.apiVersion 1.41, httpsRedirect, keepalive pools, protected volumes),
   * with the dev file's small sizes (prod's CPU limits exceed what this machine has) and Redis to fit them.
   */
  const prodConfig = (gameserver: string) => {
    const dev = readStackFile("dev");
    return stackConfig("prod", place, {
      gameserver,
      regions: DEV_REGIONS,
      // The prod file's pools need nginx >= 1.27.3, as it pins (nginx:1.30-alpine).
      nginx: TEST_IMAGES.modernNginx,
      "sectorwars:sizeProfiles": dev["sectorwars:sizeProfiles"],
      "sectorwars:redis": dev["sectorwars:redis"],
      // The probe answers /metrics as a game server with metrics would.
      "sectorwars:monitoring": { apiMetricsPath: "/metrics" },
    });
  };

  const https = async (urlPath: string) => {
    const answer = await httpRequest({ port: place.httpsPort, path: urlPath, tls: true, timeoutMs: 15_000 });
    return { status: answer.status, body: answer.body };
  };

  beforeAll(async () => {
    if (!pulumiEngine.available) return;
    await ensureDockerd();
    reapDeadStacks(engine);
    ensureTestImages(engine);
    releases = tagReleases(engine);
    place = await newStackPlace(run.id);
    stack = await EngineStack.create({
      engine: pulumiEngine,
      stackName,
      dockerHost: process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock",
      config: prodConfig(releases.v1),
      secrets,
    });
  }, 600_000);

  afterAll(async () => {
    if (!stack) return;
    receiver.remove();
    if (!destroyed) await stack.destroy({ excludeProtected: true }).catch((error: unknown) => console.error(error));
    removeStackVolumes(stackName, engine);
    stack.dispose();
  }, 600_000);

  it("brings the stack up over HTTPS, plain HTTP redirecting, with no secret in plain text in the state", async () => {
    const up = await stack.up();
    expect(up.result.outputs.engineApiVersion?.value).toBe("1.41");
    const regions = DEV_REGIONS.map((r) => r.id);
    expect(await servingProblems({ stack: stackName, get: https, engines: [engine], regions })).toEqual([]);
    const plain = await httpRequest({ port: place.httpPort, path: "/api/regions/orion/ping" });
    expect(plain.status).toBe(301);
    expect(plain.headers.location).toBe(`https://localhost:${place.httpsPort}/api/regions/orion/ping`);
    for (const [key, value] of Object.entries(secrets)) {
      const firstLine = value.split("\n").find((line) => line.length > 20 && !line.startsWith("-----")) ?? value;
      expect(await stack.plainTextPaths(firstLine), `${key} in plain text in the state`).toEqual([]);
    }
  }, 600_000);

  it("previews no change right after the first up, and a refresh finds no drift", async () => {
    expect(await stack.previewChanges(), "preview after the first up").toEqual([]);
    const refresh = await stack.refresh();
    expect(changesOf(refresh.result.summary.resourceChanges as Record<string, number>), "drift").toEqual({});
    expect(await stack.previewChanges(), "preview after a refresh").toEqual([]);
  }, 600_000);

  it("rolls a new game-server image out under HTTPS load through the keepalive pools: no request fails", async () => {
    const data = dataIdentities(stackName, [engine]);
    const paths = ["/api/nexus/galaxy", ...DEV_REGIONS.map((r) => `/api/regions/${r.id}/ping`)];
    const target = { host: "127.0.0.1", port: place.httpsPort, tls: true };
    const loop = requestLoop(target, paths, (urlPath, answer) => {
      if (answer.status !== 200) return false;
      const echo = probeEchoOf(answer);
      return urlPath.startsWith("/api/nexus/") ? echo.role === "nexus-api" : urlPath.includes(`/${echo.region?.id}/`);
    });
    try {
      await waitUntil("the request loop to get going", () => loop.ok() > 30, 30_000);
      stack.writeConfig(prodConfig(releases.v2));
      await stack.up();
      const settled = loop.ok();
      await waitUntil("requests after the update", () => loop.ok() > settled + 30, 30_000);
    } finally {
      const { ok, failures } = await loop.stop();
      expect(failures, `${failures.length} of ${ok + failures.length} requests failed`).toEqual([]);
    }
    // nginx in force pools on each API's new container by its own name.
    const edge = stackContainers(stackName, engine).find((c) => c.role === "nginx");
    const conf = docker(["exec", String(edge?.name), "cat", "/etc/nginx/nginx.conf"], engine);
    expect(conf).toContain("keepalive 32;");
    const behindEdge = new Set(["nexus-api", "region-api", "admin-ui", "player-ui", "paypal"]);
    for (const api of stackContainers(stackName, engine).filter((c) => behindEdge.has(c.role))) {
      expect(conf, api.name).toMatch(new RegExp(`server ${api.name}:\\d+ resolve max_fails=0;`));
    }
    expect(dataIdentities(stackName, [engine]), "databases and Redis: id@startedAt").toEqual(data);
    expect(await stack.previewChanges(), "preview after the image update").toEqual([]);
  }, 600_000);

  it("probes every game service, scrapes every exporter, and tells the webhook within two minutes that a stopped region's API and database are down, and when they are back", async () => {
    const containerOf = (role: string, region?: string) =>
      stackContainers(stackName, engine).find((c) => c.role === role && (!region || c.region === region))?.name ?? "";
    const prometheus = containerOf("prometheus");
    const watchers = stackContainers(stackName, engine).filter((c) => (MONITORING_ROLES as string[]).includes(c.role));
    expect(watchers.map((c) => `${c.role} ${c.region || "-"} ${c.health}`).sort()).toEqual(
      [
        "prometheus - healthy",
        "alertmanager - healthy",
        "blackbox - healthy",
        "postgres-exporter - healthy",
        ...DEV_REGIONS.map((r) => `postgres-exporter ${r.id} healthy`),
        "redis-exporter - healthy",
        "node-exporter - healthy",
        "edge-log-exporter - healthy",
        "container-exporter - healthy",
      ].sort(),
    );
    const series = (what: string, promql: string, expected: readonly string[]) =>
      waitForSeries({ what, prometheus, engine, promql, expected });
    const ofStack = `stack="${stackName}"`;
    await series("every game service to answer its probe", `probe_success{job="health", ${ofStack}} == 1`, [
      ...["admin-ui -", "nexus-api -", "paypal -", "player-ui -"].map((s) => `health ${s}`),
      ...DEV_REGIONS.map((r) => `health region-api ${r.id}`),
    ]);
    // The exporters, scraped and labelled as what they watch; each reads its own target.
    const databases = ["postgres nexus-db -", ...DEV_REGIONS.map((r) => `postgres region-db ${r.id}`)];
    await series(
      "every exporter to reach what it watches",
      `pg_up{${ofStack}} == 1 or redis_up{${ofStack}} == 1 or node_filesystem_avail_bytes{${ofStack}, mountpoint="/"} > 0`,
      [...databases, "redis redis -", "host host -"],
    );
    // The database exporter's own query: no WAL waits to be archived (this stack does not archive).
    await series("each database's WAL checked", `pg_archive_oldest_waiting_seconds{${ofStack}} == 0`, databases);
    // Every container's CPU and memory as cAdvisor reads them: this stack's containers only, each
    // labelled with its own role and region.
    await series(
      "every container of the stack measured",
      `sum by (job, role, region) (container_memory_working_set_bytes{${ofStack}} > 0 ` +
        `and on (name) container_cpu_usage_seconds_total{${ofStack}} > 0)`,
      [
        ...new Set(
          stackContainers(stackName, engine)
            .filter((c) => c.state === "running")
            .map((c) => `containers ${c.role} ${c.region || "-"}`),
        ),
      ],
    );
    // The edge's requests per region, as mtail reads them from the edge container's log: each
    // region's own (the id in the answer's body proves the route), by status.
    for (const r of DEV_REGIONS) {
      const echo = probeEchoOf(await https(`/api/regions/${r.id}/ping`));
      expect(echo.region?.id, `the region answering /api/regions/${r.id}/ping`).toBe(r.id);
    }
    await series(
      "each region's requests counted at the edge",
      `sum by (job, role, region) (${EDGE_SERIES.requests}{${ofStack}, status="200"}) > 0`,
      DEV_REGIONS.map((r) => `edge-requests nginx ${r.id}`),
    );
    // The game APIs' own metrics, scraped at monitoring.apiMetricsPath and labelled as their
    // probes; players reach the path through no route of the edge.
    await series(
      "each game API's own metrics scraped",
      `sectorwars_probe_requests_total{${ofStack}, route="health"} > 0`,
      ["api nexus-api -", ...DEV_REGIONS.map((r) => `api region-api ${r.id}`)],
    );
    for (const path of ["/api/nexus/metrics", "/api/metrics"]) {
      const answer = await https(path);
      expect([answer.status, JSON.parse(answer.body)], path).toEqual([404, { error: "not_found", status: 404 }]);
    }
    // A healthy stack fires nothing (DiskSpaceLow included: this machine's disk is not that full).
    const firing = prometheusQuery(prometheus, 'ALERTS{alertstate="firing"}', engine).map((a) => a.metric.alertname);
    expect(firing, "alerts firing on a healthy stack").toEqual([]);

    receiver.start(`${place.namePrefix}_monitoring`);
    const stopped = [containerOf("region-api", "orion"), containerOf("region-db", "orion")];
    const about = (status: "firing" | "resolved", alertname: string) => () =>
      receiver
        .notifications()
        .some(
          (n) =>
            n.status === status &&
            n.alerts.some((a) => a.labels.alertname === alertname && a.labels.region === "orion"),
        );
    const stopCalled = Date.now();
    docker(["stop", ...stopped], engine);
    // From when both are down: `docker stop` returns once the API has drained and PostgreSQL shut down.
    const stoppedAt = Date.now();
    // PostgreSQL stops on SIGINT, as the official image says: under SIGTERM it would wait for its
    // clients (the exporter's connection) until the 60 s grace ends in SIGKILL.
    expect(stoppedAt - stopCalled, "ms docker stop took for orion's API and database").toBeLessThan(20_000);
    try {
      // Requests to the stopped region: the edge answers them 5xx, counted as orion's.
      for (let i = 0; i < 3; i++) await https("/api/regions/orion/ping");
      const arrival: Record<string, number> = {};
      await waitUntil(
        "RegionApiDown and RegionDatabaseDown for orion at the webhook",
        () => {
          for (const name of ["RegionApiDown", "RegionDatabaseDown"]) {
            if (arrival[name] === undefined && about("firing", name)()) arrival[name] = (Date.now() - stoppedAt) / 1000;
          }
          return Object.keys(arrival).length === 2;
        },
        180_000,
      ).catch((error: unknown) => {
        throw new Error(`${String(error)}; arrived: ${JSON.stringify(arrival)}`);
      });
      console.log(
        `docker stop took ${((stoppedAt - stopCalled) / 1000).toFixed(1)} s; then RegionApiDown reached the webhook ` +
          `after ${arrival.RegionApiDown?.toFixed(1)} s, RegionDatabaseDown after ${arrival.RegionDatabaseDown?.toFixed(1)} s`,
      );
      const seconds = Math.max(...Object.values(arrival));
      expect(seconds, "seconds from the stop to the webhook").toBeLessThanOrEqual(120);
      const alerts = receiver.notifications().flatMap((n) => n.alerts);
      expect(alerts.find((a) => a.labels.alertname === "RegionApiDown")?.annotations.summary).toBe(
        `The API of region orion in stack ${stackName} does not answer its health check`,
      );
      expect(alerts.find((a) => a.labels.alertname === "RegionDatabaseDown")?.annotations.summary).toBe(
        `The database of region orion in stack ${stackName} does not accept connections`,
      );
      const errors = `sum by (job, role, region) (${EDGE_SERIES.requests}{${ofStack}, status=~"5.."}) >= 3`;
      expect(
        prometheusQuery(prometheus, errors, engine).map(jobRoleRegion),
        "5xx counted per region at the edge while orion was stopped",
      ).toEqual(["edge-requests nginx orion"]);
      // Only orion's API and database were stopped: no other alert, its exporter kept answering.
      expect([...new Set(alerts.map((a) => `${a.labels.alertname} ${a.labels.region}`))].sort()).toEqual([
        "RegionApiDown orion",
        "RegionDatabaseDown orion",
      ]);
    } finally {
      docker(["start", ...stopped.reverse()], engine);
    }
    // Started again: cAdvisor sees orion's API's new start time, the figure ContainerRestartLoop counts.
    await series(
      "orion's API's restart counted",
      `changes(container_start_time_seconds{${ofStack}, role="region-api", region="orion"}[10m]) >= 1`,
      ["containers region-api orion"],
    );
    await waitUntil("RegionApiDown's resolution at the webhook", about("resolved", "RegionApiDown"), 180_000);
    await waitUntil("RegionDatabaseDown's resolution at the webhook", about("resolved", "RegionDatabaseDown"), 180_000);
    expect(await stack.plainTextPaths(receiver.token), "the webhook's URL in plain text in the state").toEqual([]);
  }, 600_000);

  it("destroys with --exclude-protected: every container goes, the protected data volumes stay", async () => {
    receiver.remove();
    await stack.destroy({ excludeProtected: true });
    destroyed = true;
    expect(stackContainers(stackName, engine)).toEqual([]);
    const volumes = docker(
      ["volume", "ls", "--filter", `label=${LABEL_STACK}=${stackName}`, "--format", "{{.Name}}"],
      engine,
    );
    const prefix = place.namePrefix;
    for (const name of ["nexus_db_data", "redis_data", "region_default_db_data", "region_orion_db_data"]) {
      expect(volumes, `${prefix}_${name}`).toContain(`${prefix}_${name}`);
    }
    const kept = Object.keys(await stack.resources()).filter((urn) => urn.includes("docker:index/volume:Volume"));
    expect(kept.length, "protected volumes still in the state").toBeGreaterThanOrEqual(4);
  }, 600_000);
});
