/**
 * One-host mode through the real Pulumi engine, as an operator runs it: the dev stack deployed
 * with `pulumi up` on Docker 26 (API 1.45) from an empty backend, then the changes operators
 * make, each followed by a preview that must show no change:
 *
 * - first up: every container healthy, each region answering through the edge with its own id,
 *   databases accepting a login with the generated password; refresh finds no drift;
 * - a config error fails the preview, naming the key, before anything changes;
 * - a new game-server image (8 s before it listens) under a request loop: no request fails, no
 *   database or Redis restarts;
 * - a region added, retired (410, its volume and data kept), re-activated on the same data;
 * - destroy: every container goes, the data volumes stay.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { LABEL_STACK } from "../../planning/roles";
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
import { modernForEngine } from "../support/modernDocker";
import { getAt, probeEchoOf } from "../support/net";
import { waitUntil } from "../support/process";
import { EngineStack, changesOf, findPulumiEngine } from "../support/pulumiEngine";

const pulumiEngine = findPulumiEngine();
const { availability, host } = modernForEngine(pulumiEngine);

describeOn("pulumi", availability, "one-host mode through the real Pulumi engine, on Docker 26", () => {
  const engine = { host };
  const run = newTestRun("real-engine");
  const stackName = engineStackName(run.id, "dev");
  let place: StackPlace;
  let releases: Releases;
  let stack: EngineStack;
  let destroyed = false;

  const configWith = (extra: Parameters<typeof stackConfig>[2]) => stackConfig("dev", place, extra);
  const get = (path: string) => getAt("127.0.0.1", place.httpPort, path);

  /** The preview right after an up: nothing to do, else each step it would take, with its diff. */
  const expectNoChange = async (after: string) =>
    expect(await stack.previewChanges(), `preview after ${after}`).toEqual([]);

  beforeAll(async () => {
    if (!pulumiEngine.available) return;
    reapDeadStacks(engine);
    ensureTestImages(engine);
    releases = tagReleases(engine);
    place = await newStackPlace(run.id);
    stack = await EngineStack.create({
      engine: pulumiEngine,
      stackName,
      dockerHost: host,
      config: configWith({ gameserver: releases.v1, regions: DEV_REGIONS }),
    });
  }, 600_000);

  afterAll(async () => {
    if (!stack) return;
    if (!destroyed) await stack.destroy().catch((error: unknown) => console.error(error));
    removeStackVolumes(stackName, engine);
    stack.dispose();
  }, 600_000);

  it("brings the stack up from empty: every container healthy, each region answers with its id, databases log in", async () => {
    await stack.up();
    expect(
      stackContainers(stackName, engine)
        .map((c) => c.role)
        .sort(),
    ).toEqual(
      ["admin-ui", "nexus-api", "nexus-db", "nginx", "paypal", "player-ui", "redis"]
        .concat(DEV_REGIONS.flatMap(() => ["region-api", "region-db"]))
        .sort(),
    );
    const regions = DEV_REGIONS.map((r) => r.id);
    expect(await servingProblems({ stack: stackName, get, engines: [engine], regions })).toEqual([]);
  }, 600_000);

  it("previews no change right after the first up, and a refresh finds no drift", async () => {
    await expectNoChange("the first up");
    const refresh = await stack.refresh();
    expect(
      changesOf(refresh.result.summary.resourceChanges as Record<string, number>),
      "drift found by refresh",
    ).toEqual({});
    await expectNoChange("a refresh");
  }, 600_000);

  it("fails the preview of a bad config naming the key, and changes nothing", async () => {
    const before = await stack.resources();
    const good = stack.currentConfig;
    stack.writeConfig({ ...good, "sectorwars:regions": [...DEV_REGIONS, { ...DEV_REGIONS[1], id: "vega" }] });
    try {
      await expect(stack.preview()).rejects.toThrow(
        /sectorwars:regions\[2\]\.slot: 2 is already used by region "orion"/,
      );
      await expect(stack.up()).rejects.toThrow(/sectorwars:regions\[2\]\.slot/);
    } finally {
      stack.writeConfig(good);
    }
    expect(await stack.resources(), "every resource's state after the failed up").toEqual(before);
  }, 600_000);

  it("rolls a new game-server image out under a request loop: no request fails, no database or Redis restarts", async () => {
    const data = dataIdentities(stackName, [engine]);
    const paths = ["/api/nexus/galaxy", ...DEV_REGIONS.map((r) => `/api/regions/${r.id}/ping`)];
    const loop = requestLoop({ host: "127.0.0.1", port: place.httpPort }, paths, (path, answer) => {
      if (answer.status !== 200) return false;
      const echo = probeEchoOf(answer);
      return path.startsWith("/api/nexus/") ? echo.role === "nexus-api" : path.includes(`/${echo.region?.id}/`);
    });
    let up;
    try {
      await waitUntil("the request loop to get going", () => loop.ok() > 30, 30_000);
      stack.writeConfig(configWith({ gameserver: releases.v2, regions: DEV_REGIONS }));
      up = await stack.up();
      const settled = loop.ok();
      await waitUntil("requests after the update", () => loop.ok() > settled + 30, 30_000);
    } finally {
      const { ok, failures } = await loop.stop();
      expect(failures, `${failures.length} of ${ok + failures.length} requests failed`).toEqual([]);
    }
    const replaced = up.steps
      .filter((s) => s.op === "create-replacement" && s.urn.includes("docker:index/container:Container"))
      .map((s) => s.urn.split("::").pop());
    expect(replaced.sort(), "containers replaced").toEqual(["nexus-api", "region-default-api", "region-orion-api"]);
    expect(dataIdentities(stackName, [engine]), "databases and Redis: id@startedAt").toEqual(data);
    await expectNoChange("the image update");
  }, 600_000);

  it("adds a region, retires it (410, volume and data kept) and brings it back on the same data", async () => {
    const vega = { id: "vega", name: "Vega Drift", type: "player_owned" as const, slot: 3 };
    const data = dataIdentities(stackName, [engine]);
    stack.writeConfig(configWith({ gameserver: releases.v2, regions: [...DEV_REGIONS, vega] }));
    await stack.up();
    expect(probeEchoOf(await get("/api/regions/vega/ping")).region?.id).toBe("vega");
    const unchanged = { ...dataIdentities(stackName, [engine]) };
    delete unchanged["region-db/vega"];
    expect(unchanged, "the other databases and Redis").toEqual(data);
    await expectNoChange("adding a region");

    const vegaDb = () => stackContainers(stackName, engine).find((c) => c.role === "region-db" && c.region === "vega");
    const psql = (sql: string) =>
      docker(
        ["exec", vegaDb()?.id ?? "", "psql", "-U", "region_vega_user", "-d", "region_vega", "-XAtqc", sql],
        engine,
      ).trim();
    psql("CREATE TABLE ships (name text); INSERT INTO ships VALUES ('before-retirement')");

    stack.writeConfig(
      configWith({ gameserver: releases.v2, regions: [...DEV_REGIONS, { ...vega, state: "retired" }] }),
    );
    await stack.up();
    const gone = await get("/api/regions/vega/ping");
    expect(gone.status, gone.body).toBe(410);
    expect(vegaDb(), "vega's database container").toBeUndefined();
    const volume = docker(
      [
        "volume",
        "ls",
        "-q",
        "--filter",
        `label=${LABEL_STACK}=${stackName}`,
        "--filter",
        "label=com.sectorwars.region=vega",
      ],
      engine,
    );
    expect(volume.trim(), "vega's data volume").not.toBe("");
    await expectNoChange("retiring a region");

    stack.writeConfig(configWith({ gameserver: releases.v2, regions: [...DEV_REGIONS, vega] }));
    await stack.up();
    expect(probeEchoOf(await get("/api/regions/vega/ping")).region?.id).toBe("vega");
    expect(psql("SELECT name FROM ships")).toBe("before-retirement");
    await expectNoChange("re-activating a region");
  }, 900_000);

  it("destroys every container and keeps the data volumes", async () => {
    await stack.destroy();
    destroyed = true;
    expect(stackContainers(stackName, engine)).toEqual([]);
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
        `${prefix}_region_default_db_data`,
        `${prefix}_region_orion_db_data`,
        `${prefix}_region_vega_db_data`,
        `${prefix}_static`,
      ].sort(),
    );
  }, 600_000);
});
