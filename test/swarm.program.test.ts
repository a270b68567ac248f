/**
 * The program in swarm mode under Pulumi's mocks, for the dev regions on three nodes: what it
 * declares (services only, overlay networks, secrets, pinned databases, no secret in plain text)
 * and what everyday edits touch (blast radius of adding a node, adding a region, a new
 * gameserver image).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { edgeLabelKey } from "../planning/swarm/config";
import { SWARM_UPDATE_DELAY } from "../planning/swarm/services";
import { type BlastRadius, blastRadius, describeRadius, namesOf } from "./support/diff";
import { plainStrings } from "./support/graph";
import {
  COMMAND,
  CONTAINER,
  NETWORK,
  type ProgramRun,
  type RegisteredResource,
  SECRET,
  SERVICE,
  SERVICE_CONFIG,
  VOLUME,
  isSecretValue,
  readStackFile,
  runProgram,
} from "./support/pulumi";
import { REGISTRY_IMAGES, THREE_NODES, swarmDevConfig } from "./support/swarmConfigs";

type Spec = {
  name: string;
  mode: { global?: boolean; replicated?: { replicas: number } };
  taskSpec: {
    containerSpec: {
      image: string;
      env?: Record<string, string>;
      secrets?: { fileName: string; secretName: string }[];
      configs?: { fileName: string; configName: string }[];
      readOnly: boolean;
      labels: { label: string; value: string }[];
    };
    placement: { constraints: string[] };
  };
  endpointSpec: { mode: string; ports?: { publishMode: string; publishedPort: number; targetPort: number }[] };
  updateConfig: { order: string; failureAction: string; delay: string };
  rollbackConfig: { order: string };
};
const spec = (r: RegisteredResource): Spec => r.inputs as unknown as Spec;
const services = (run: ProgramRun): Record<string, Spec> =>
  Object.fromEntries(run.ofType(SERVICE).map((s) => [s.name, spec(s)]));

const SEED_SERVICES = [
  "edge",
  "redis-server",
  "nexus-api",
  "nexus-db",
  "region-default-api",
  "region-default-db",
  "region-orion-api",
  "region-orion-db",
  "apps-admin",
  "apps-player",
  "apps-paypal",
];

let run: ProgramRun;
beforeAll(async () => {
  run = await runProgram({ config: swarmDevConfig(), engine: "1.45" });
}, 120_000);

describe("swarm mode, dev regions on three nodes", () => {
  it("declares every seed service as a swarm service and no plain container or provider volume", () => {
    expect(Object.keys(services(run)).sort()).toEqual([...SEED_SERVICES].sort());
    expect(run.ofType(CONTAINER).map((c) => c.name)).toEqual([]);
    // Volumes are created by the engine of the node that runs the task (see components/swarm/service.ts).
    expect(run.ofType(VOLUME).map((v) => v.name)).toEqual([]);
  });

  it("joins overlay networks only: internal for data, attachable where commands must reach", () => {
    const networks = Object.fromEntries(run.ofType(NETWORK).map((n) => [String(n.inputs.name), n.inputs]));
    expect(Object.keys(networks).sort()).toEqual(
      ["front", "nexus", "redis", "region_default", "region_orion"].map((n) => `sectorwars-dev_${n}`).sort(),
    );
    for (const [name, n] of Object.entries(networks)) {
      expect(n.driver, name).toBe("overlay");
      expect(n.internal, name).toBe(name !== "sectorwars-dev_front");
    }
    expect(networks["sectorwars-dev_redis"]?.attachable).toBe(false);
    expect(networks["sectorwars-dev_region_orion"]?.attachable).toBe(true);
  });

  it("pins each database and Redis to its node by host name, and spreads the stateless tasks", () => {
    const s = services(run);
    const constraints = (name: string) => s[name]?.taskSpec.placement.constraints;
    expect(constraints("nexus-db")).toEqual(["node.hostname == node-1"]);
    expect(constraints("redis-server")).toEqual(["node.hostname == node-1"]);
    expect(constraints("region-default-db")).toEqual(["node.hostname == node-2"]);
    expect(constraints("region-orion-db")).toEqual(["node.hostname == node-3"]);
    expect(constraints("region-orion-api")).toEqual([]);
    expect(s["region-orion-api"]?.mode).toEqual({ replicated: { replicas: 2 } });
    expect(s["region-orion-db"]?.mode).toEqual({ replicated: { replicas: 1 } });
    expect(run.outputs.placement).toEqual({
      nexus: "node-1",
      redis: "node-1",
      regions: { default: "node-2", orion: "node-3" },
    });
  });

  it("publishes the edge in host mode on the nodes labelled for it, and resolves task addresses (dnsrr)", () => {
    const edge = services(run).edge as Spec;
    expect(edge.mode).toEqual({ global: true });
    expect(edge.taskSpec.placement.constraints).toEqual([`node.labels.${edgeLabelKey("sectorwars-dev")} == true`]);
    expect(edge.endpointSpec.ports).toEqual([
      { targetPort: 80, publishedPort: 8080, publishMode: "host", protocol: "tcp" },
      { targetPort: 443, publishedPort: 8443, publishMode: "host", protocol: "tcp" },
    ]);
    for (const [name, s] of Object.entries(services(run))) expect(s.endpointSpec.mode, name).toBe("dnsrr");
    const label = run.byName("edge-node-node-1");
    expect(String(label.inputs.create)).toBe(
      `docker node update --label-add ${edgeLabelKey("sectorwars-dev")}=true --label-add zone=a node-1 >/dev/null`,
    );
    expect(String(run.byName("edge-node-node-2").inputs.create)).toBe(
      "docker node update --label-add zone=b node-2 >/dev/null",
    );
  });

  it("updates stateless services start-first with rollback, stateful ones and the edge stop-first", () => {
    for (const [name, s] of Object.entries(services(run))) {
      const stateless = /-api$|^apps-/.test(name);
      expect(s.updateConfig.order, name).toBe(stateless ? "start-first" : "stop-first");
      expect(s.updateConfig.failureAction, name).toBe("rollback");
      expect(s.updateConfig.delay, name).toBe(SWARM_UPDATE_DELAY);
      expect(s.rollbackConfig.order, name).toBe(s.updateConfig.order);
    }
  });

  it("backs up across the nodes: each database found on the node that runs it", () => {
    const create = String(run.byName("backups-run").inputs.create);
    // The script itself is told each node's engine (no docker wrapper on its PATH).
    expect(create).toMatch(/ --allow-empty --node default --node ssh:\/\/ops@node-2 --node ssh:\/\/ops@node-3$/);
    expect(create).not.toContain("PATH=");
  });

  it("waits for the backup before any database or Redis service changes", () => {
    const backup = run.byName("backups-run").urn;
    for (const name of ["nexus-db", "region-default-db", "region-orion-db", "redis-server"]) {
      expect(run.byName(name).dependencies, name).toContain(backup);
    }
  });

  it("hands passwords and URLs over as secret files, nginx.conf as a config; every root read-only", () => {
    const s = services(run);
    const files = (name: string) => (s[name]?.taskSpec.containerSpec.secrets ?? []).map((f) => f.fileName).sort();
    expect(files("nexus-db")).toEqual(["/run/secrets/postgres-password"]);
    expect(files("redis-server")).toEqual(["/usr/local/etc/redis/redis.conf"]);
    expect(files("region-orion-api")).toEqual(["/run/secrets/database-url", "/run/secrets/redis-url"]);
    expect(files("edge")).toEqual(["/etc/nginx/tls/server.key"]);
    expect((s.edge?.taskSpec.containerSpec.configs ?? []).map((f) => f.fileName).sort()).toEqual([
      "/etc/nginx/nginx.conf",
      "/etc/nginx/tls/server.crt",
    ]);
    expect(s["region-orion-api"]?.taskSpec.containerSpec.env).toMatchObject({
      DATABASE_URL_FILE: "/run/secrets/database-url",
      REDIS_URL_FILE: "/run/secrets/redis-url",
      REGION_ID: "orion",
    });
    for (const [name, service] of Object.entries(s)) expect(service.taskSpec.containerSpec.readOnly, name).toBe(true);
    for (const secret of run.ofType(SECRET)) {
      expect(isSecretValue(secret.rawInputs.data), `${secret.name}'s data is secret`).toBe(true);
      expect(String(secret.inputs.name)).toMatch(/^sectorwars-dev_[a-z_-]+_[0-9a-f]{12}$/);
    }
    expect(
      run
        .ofType(SERVICE_CONFIG)
        .map((c) => c.name)
        .sort(),
    ).toEqual(["edge-certificate", "edge-conf"]);
  });

  it("keeps every generated password and key out of plain inputs and outputs, base64 included", () => {
    expect(run.generatedSecrets.length).toBeGreaterThan(0);
    const forms = run.generatedSecrets.flatMap((s) => [s, Buffer.from(s).toString("base64")]);
    for (const resource of run.resources) {
      const plain = plainStrings(resource.rawInputs).join("\n");
      for (const secret of forms) {
        expect(plain.includes(secret), `${resource.type} ${resource.name} has a secret in a plain input`).toBe(false);
      }
    }
    const outputs = JSON.stringify(run.outputs);
    for (const secret of forms) expect(outputs.includes(secret), "a stack output carries a secret").toBe(false);
  });

  it("names images by reference, which every node resolves, never by a local image id", () => {
    const s = services(run);
    expect(s["nexus-api"]?.taskSpec.containerSpec.image).toBe(REGISTRY_IMAGES.gameserver);
    expect(s["nexus-db"]?.taskSpec.containerSpec.image).toBe("postgres:15-alpine");
  });
});

describe("container mode is untouched by the orchestrator switch", () => {
  it("declares with sectorwars:orchestrator docker exactly what it declares with it unset: same URNs, same inputs", async () => {
    const dev = readStackFile("dev");
    const [unset, docker] = [
      await runProgram({ config: dev }),
      await runProgram({ config: { ...dev, "sectorwars:orchestrator": "docker" } }),
    ];
    expect(docker.resources.map((r) => r.urn)).toEqual(unset.resources.map((r) => r.urn));
    const radius = blastRadius(unset.resources, docker.resources);
    expect(radius.unchanged, describeRadius(radius)).toBe(unset.resources.length);
    expect(unset.ofType(SERVICE)).toEqual([]);
  });
});

/** What a preview of `edit` would do to the three-node stack. */
async function radiusOf(config: Record<string, unknown>): Promise<BlastRadius> {
  const after = await runProgram({ config, engine: "1.45" });
  return blastRadius(run.resources, after.resources);
}

describe("swarm mode, blast radius", () => {
  it("adding a node declares its label command, tells the backup command, and changes nothing else", async () => {
    const node4 = { name: "node-4", cpus: 8, memoryGb: 16, dockerHost: "ssh://ops@node-4" };
    const radius = await radiusOf(swarmDevConfig([...THREE_NODES, node4]));
    expect(namesOf(radius.created), describeRadius(radius)).toEqual(["edge-node-node-4"]);
    // The backup command learns the new node's engine; an update of it runs nothing.
    expect(radius.updated.map((c) => `${c.name}: ${c.keys.join(",")}`)).toEqual(["backups-run: create"]);
    expect([...radius.deleted, ...radius.replaced], describeRadius(radius)).toEqual([]);
  });

  it("adding a region creates its own resources, re-renders the edge and backs up first; no database moves", async () => {
    const config = swarmDevConfig(undefined, {
      homeNode: "node-1",
      placement: { regions: { default: "node-2", orion: "node-3", vega: "node-3" } },
    });
    const dev = config["sectorwars:regions"] as unknown[];
    config["sectorwars:regions"] = [...dev, { id: "vega", name: "Vega", type: "player_owned", slot: 3 }];
    const radius = await radiusOf(config);
    const r = "region-vega";
    expect(namesOf(radius.created), describeRadius(radius)).toEqual(
      [r, `${r}-api`, `${r}-api-converged`, `${r}-database-url`, `${r}-db`, `${r}-db-converged`, `${r}-db-password`]
        .concat([`${r}-db-password-secret`, `${r}-db-password-sync`, `${r}-net`, `${r}-redis-url`])
        .sort(),
    );
    expect(namesOf(radius.deleted)).toEqual([]);
    // The new nginx.conf is a new config object; the edge service rolls onto it, and the up
    // waits for its tasks.
    expect(radius.replaced.map((c) => `${c.name}: ${c.replaceKeys.join(",")}`).sort()).toEqual([
      "backups-run: triggers",
      "edge-conf: data,name",
      "edge-converged: triggers",
    ]);
    expect(radius.updated.map((c) => c.name)).toEqual(["edge"]);
  });

  it("a new gameserver image rolls the API services in place and touches no database", async () => {
    const config = swarmDevConfig();
    config["sectorwars:images"] = { ...REGISTRY_IMAGES, gameserver: "registry.example/sectorwars/gameserver:1.1.0" };
    const radius = await radiusOf(config);
    expect(radius.updated.map((c) => `${c.name}: ${c.keys.join(",")}`).sort(), describeRadius(radius)).toEqual([
      "nexus-api: taskSpec",
      "region-default-api: taskSpec",
      "region-orion-api: taskSpec",
    ]);
    expect(namesOf(radius.created)).toEqual(["images-registry-example-sectorwars-gameserver-1-1-0"]);
    expect(namesOf(radius.deleted)).toEqual(["images-registry-example-sectorwars-gameserver-1-0-0"]);
    // The up waits for each API's tasks at the new image; no database's wait runs again.
    expect(radius.replaced.map((c) => `${c.name}: ${c.replaceKeys.join(",")}`).sort()).toEqual([
      "nexus-api-converged: triggers",
      "region-default-api-converged: triggers",
      "region-orion-api-converged: triggers",
    ]);
    expect(run.ofType(COMMAND).length).toBeGreaterThan(0);
  });
});
