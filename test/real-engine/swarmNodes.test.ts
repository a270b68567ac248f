/**
 * Swarm mode through the real Pulumi engine on the three-node test swarm: the edge on the first
 * node, each region's database on the node its placement names (its volume there), the APIs
 * reaching them across nodes; a preview right after shows no change, an up with nothing changed
 * restarts no task on any node, and destroy keeps every volume on its node.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { LABEL_STACK } from "../../planning/roles";
import { docker, newTestRun } from "../support/docker";
import {
  DEV_REGIONS,
  removeStackVolumes,
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
import { ensureTestImages } from "../support/images";
import { getAt } from "../support/net";
import { waitUntil } from "../support/process";
import { EngineStack, changesOf, findPulumiEngine } from "../support/pulumiEngine";
import { type SwarmNodeEngine, engineSwarm } from "../support/swarm";

const pulumiEngine = findPulumiEngine();
const swarm = engineSwarm(pulumiEngine, { cluster: 3, nodes: 3, what: "the three-node test swarm" });

describeOn("pulumi", swarm.availability, "swarm mode through the real Pulumi engine, on three nodes", () => {
  const nodes = swarm.nodes;
  const [n1, n2, n3] = nodes as [SwarmNodeEngine, SwarmNodeEngine, SwarmNodeEngine];
  const engines = nodes.map((n) => ({ host: n.host }));
  const run = newTestRun("real-engine");
  const stackName = engineStackName(run.id, "swarm3");
  let place: StackPlace;
  let stack: EngineStack;
  let destroyed = false;
  const regions = DEV_REGIONS.map((r) => r.id);

  /** Every task's container on every node, as node/id → startedAt. */
  const tasks = () =>
    Object.fromEntries(
      nodes.flatMap((n) =>
        stackContainers(stackName, { host: n.host }).map((c) => [`${n.name}/${c.id.slice(0, 12)}`, c.startedAt]),
      ),
    );

  beforeAll(async () => {
    if (!pulumiEngine.available) return;
    let gameserver = "";
    for (const engine of engines) {
      reapDeadStacks(engine, engine === engines[0]);
      ensureTestImages(engine);
      gameserver = tagReleases(engine).v1;
    }
    place = await newStackPlace(run.id);
    stack = await EngineStack.create({
      engine: pulumiEngine,
      stackName,
      dockerHost: n1.host,
      config: stackConfig("dev", place, {
        gameserver,
        regions: DEV_REGIONS,
        "sectorwars:orchestrator": "swarm",
        "sectorwars:swarm": {
          nodes: [
            { name: n1.name, cpus: 4, memoryGb: 8, edge: true },
            { name: n2.name, cpus: 4, memoryGb: 8, dockerHost: n2.host },
            { name: n3.name, cpus: 4, memoryGb: 8, dockerHost: n3.host },
          ],
          homeNode: n1.name,
          placement: { regions: { default: n2.name, orion: n3.name } },
          // One task each: this test is about where things run.
          replicas: { "nexus-api": 1, "region-api": 1, "admin-ui": 1, "player-ui": 1, paypal: 1 },
        },
      }),
    });
  }, 900_000);

  afterAll(async () => {
    if (!stack) return;
    if (!destroyed) await stack.destroy().catch((error: unknown) => console.error(error));
    for (const engine of engines) {
      removeStackVolumes(stackName, engine);
    }
    stack.dispose();
  }, 600_000);

  it("brings the stack up from empty with each database on its node, every region answering with its id", async () => {
    await stack.up();
    const where = (role: string, region = "") =>
      nodes
        .filter((n) => stackContainers(stackName, { host: n.host }).some((c) => c.role === role && c.region === region))
        .map((n) => n.name);
    expect(where("region-db", "default")).toEqual([n2.name]);
    expect(where("region-db", "orion")).toEqual([n3.name]);
    expect(where("nexus-db")).toEqual([n1.name]);
    expect(where("nginx")).toEqual([n1.name]);
    const get = (urlPath: string) => getAt(n1.address, place.httpPort, urlPath);
    expect(await servingProblems({ stack: stackName, get, engines, regions })).toEqual([]);
  }, 900_000);

  it("previews no change right after the first up, and an up with nothing changed restarts no task on any node", async () => {
    expect(await stack.previewChanges(), "preview after the first up").toEqual([]);
    const before = tasks();
    const up = await stack.up();
    expect(changesOf(up.result.summary.resourceChanges as Record<string, number>), "what the up did").toEqual({});
    expect(tasks()).toEqual(before);
  }, 600_000);

  it("destroys every service and keeps each database's volume on its node", async () => {
    await stack.destroy();
    destroyed = true;
    await waitUntil("the tasks' containers to go", () => Object.keys(tasks()).length === 0, 120_000);
    const volumeOn = (n: SwarmNodeEngine) =>
      docker(["volume", "ls", "--filter", `label=${LABEL_STACK}=${stackName}`, "--format", "{{.Name}}"], {
        host: n.host,
      });
    expect(volumeOn(n2)).toContain(`${place.namePrefix}_region_default_db_data`);
    expect(volumeOn(n3)).toContain(`${place.namePrefix}_region_orion_db_data`);
    expect(volumeOn(n1)).toContain(`${place.namePrefix}_nexus_db_data`);
  }, 600_000);
});
