/**
 * The whole program under mocks, against the dev and prod stack files and generated configs:
 * every service, its limits, health check, labels and networks; isolation; secrets; stability.
 */
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { BUILT_IN_PROFILES, dockerCpus } from "../planning/stack/sizes";
import { ALL_ROLES, LABEL_REGION, LABEL_ROLE, LABEL_STACK } from "../planning/roles";
import { PROD_SECRETS, devConfigWith, generatedRegions } from "./support/configs";
import {
  childrenOf,
  containerNamed,
  containers,
  envOf,
  labelsOf,
  networkNamed,
  networksOf,
  plainStrings,
  portsOf,
  stableName,
  uploadOf,
} from "./support/graph";
import {
  PASSWORD,
  type ProgramRun,
  VOLUME,
  isSecretValue,
  programFailure,
  readStackFile,
  runProgram,
} from "./support/pulumi";

const CORE = ["nexus", "nexus_db", "redis", "nginx", "admin", "player", "paypal"];
/** sectorwars:monitoring's, on in prod. */
const MONITORING = [
  "prometheus",
  "alertmanager",
  "blackbox",
  "nexus_db_exporter",
  "redis_exporter",
  "node_exporter",
  "edge_log_exporter",
  "container_exporter",
];

function expectedContainerNames(prefix: string, regionIds: string[], monitoring: boolean): string[] {
  const region = (id: string) => [
    `region_${id}`,
    `region_${id}_db`,
    ...(monitoring ? [`region_${id}_db_exporter`] : []),
  ];
  return [...CORE, ...(monitoring ? MONITORING : []), ...regionIds.flatMap(region)].map((n) => `${prefix}_${n}`).sort();
}

interface Scenario {
  label: string;
  config: Record<string, unknown>;
  secrets?: Record<string, string>;
  prefix: string;
  regionIds: string[];
  /** Prometheus, Alertmanager and the prober are declared (monitoring.enabled, on in prod). */
  monitoring?: boolean;
}

const scenarios: Scenario[] = [
  { label: "dev stack file", config: readStackFile("dev"), prefix: "sectorwars-dev", regionIds: ["default", "orion"] },
  {
    label: "prod stack file",
    config: readStackFile("prod"),
    secrets: PROD_SECRETS,
    prefix: "sectorwars",
    regionIds: ["default"],
    monitoring: true,
  },
  ...[1, 5, 50].map((n) => ({
    label: `${n} generated regions`,
    config: devConfigWith(generatedRegions(n)),
    prefix: "sectorwars-dev",
    regionIds: generatedRegions(n).map((r) => r.id),
  })),
];

describe.each(scenarios)("$label", ({ config, secrets, prefix, regionIds, monitoring = false }) => {
  let run: ProgramRun;
  beforeAll(async () => {
    run = await runProgram({ config, secrets, stack: "test" });
  });

  it("declares every service under the seed's container names", () => {
    expect(
      containers(run)
        .map((c) => stableName(c))
        .sort(),
    ).toEqual(expectedContainerNames(prefix, regionIds, monitoring));
  });

  it("gives every container limits, a reservation, restart policy and stable swap", () => {
    for (const c of containers(run)) {
      const what = stableName(c);
      expect(c.inputs.restart, what).toBe("unless-stopped");
      expect(c.inputs.memory, what).toBeGreaterThan(0);
      expect(c.inputs.memorySwap, what).toBe(c.inputs.memory);
      expect(c.inputs.memoryReservation, what).toBeLessThanOrEqual(c.inputs.memory as number);
      expect(Number(c.inputs.cpus), what).toBeGreaterThan(0);
      expect(c.inputs.cpuShares, what).toBeGreaterThanOrEqual(2);
    }
  });

  it("gives every container a health check and waits for it", () => {
    for (const c of containers(run)) {
      const what = stableName(c);
      const hc = c.inputs.healthcheck as { tests: string[] };
      // mtail's image is FROM scratch: its check runs the binary itself, with no shell (edgeLog.ts).
      expect(hc.tests[0], what).toBe(what.endsWith("_edge_log_exporter") ? "CMD" : "CMD-SHELL");
      expect(c.inputs.wait, what).toBe(true);
      expect(c.replaceOnChanges, what).toContain("healthcheck");
      expect(c.inputs.destroyGraceSeconds, what).toBeGreaterThan(0);
      for (const key of ["interval", "timeout", "startPeriod"] as const) {
        // Go's Duration.String() form, which the provider reads back: "1m0s", never "60s".
        expect((c.inputs.healthcheck as Record<string, string>)[key], `${what} ${key}`).toMatch(
          /^(?:[1-9]\d*m)?(?:[1-5]?\d)s$/,
        );
      }
    }
    const db = containerNamed(run, `${prefix}_nexus_db`);
    expect((db.inputs.healthcheck as { tests: string[] }).tests[1]).toMatch(/^pg_isready .*-h 127\.0\.0\.1/);
    expect((containerNamed(run, `${prefix}_redis`).inputs.healthcheck as { tests: string[] }).tests[1]).toMatch(
      /redis-cli .*grep -qx PONG/,
    );
    expect((containerNamed(run, `${prefix}_nexus`).inputs.healthcheck as { tests: string[] }).tests[1]).toContain(
      "/health",
    );
  });

  it("hardens every container: no capabilities beyond its entrypoint's, no new privileges, read-only where nothing is uploaded", () => {
    const allowedAdds = new Set([
      "CAP_CHOWN",
      "CAP_DAC_OVERRIDE",
      "CAP_FOWNER",
      "CAP_SETGID",
      "CAP_SETUID",
      "CAP_NET_BIND_SERVICE",
    ]);
    for (const c of containers(run)) {
      const what = stableName(c);
      const caps = c.inputs.capabilities as { drops: string[]; adds?: string[] };
      expect(caps.drops, what).toEqual(["ALL"]);
      for (const cap of caps.adds ?? []) expect(allowedAdds.has(cap), `${what} adds ${cap}`).toBe(true);
      expect(c.inputs.securityOpts, what).toEqual(["no-new-privileges:true"]);
      const uploads = (c.inputs.uploads as unknown[] | undefined) ?? [];
      // Docker cannot copy uploads into a read-only root filesystem.
      expect(c.inputs.readOnly, what).toBe(uploads.length === 0);
      if (c.inputs.readOnly) expect(Object.keys(c.inputs.tmpfs as object), what).toEqual(["/tmp"]);
    }
    expect((containerNamed(run, `${prefix}_nexus`).inputs.capabilities as { adds?: string[] }).adds).toBeUndefined();
    expect((containerNamed(run, `${prefix}_nginx`).inputs.capabilities as { adds: string[] }).adds).toContain(
      "CAP_NET_BIND_SERVICE",
    );
  });

  it("labels every container with stack and role, and region containers with their region", () => {
    for (const c of containers(run)) {
      const labels = labelsOf(c);
      expect(labels[LABEL_STACK], stableName(c)).toBe("test");
      expect(ALL_ROLES, stableName(c)).toContain(labels[LABEL_ROLE]);
    }
    for (const id of regionIds) {
      const exporter = monitoring ? [`${prefix}_region_${id}_db_exporter`] : [];
      for (const name of [`${prefix}_region_${id}`, `${prefix}_region_${id}_db`, ...exporter]) {
        expect(labelsOf(containerNamed(run, name))[LABEL_REGION]).toBe(id);
      }
    }
  });

  it("puts each region's database on its own network, which only its API (and its exporter) shares", () => {
    for (const id of regionIds) {
      const db = containerNamed(run, `${prefix}_region_${id}_db`);
      const own = `${prefix}_region_${id}`;
      expect(networksOf(db)).toEqual([own]);
      const members = containers(run)
        .filter((c) => networksOf(c).includes(own))
        .map((c) => stableName(c));
      expect(members.sort()).toEqual([own, `${own}_db`, ...(monitoring ? [`${own}_db_exporter`] : [])].sort());
      expect(networkNamed(run, own).inputs.internal).toBe(true);
    }
  });

  it("connects the APIs and UIs to the front network and only the APIs (and Redis' exporter) to Redis", () => {
    const front = containers(run)
      .filter((c) => networksOf(c).includes(`${prefix}_front`))
      .map((c) => stableName(c));
    expect(front.sort()).toEqual(
      [
        `${prefix}_nginx`,
        `${prefix}_nexus`,
        `${prefix}_admin`,
        `${prefix}_player`,
        `${prefix}_paypal`,
        // The prober asks each of them for its health.
        ...(monitoring ? [`${prefix}_blackbox`] : []),
        ...regionIds.map((id) => `${prefix}_region_${id}`),
      ].sort(),
    );
    const redisUsers = containers(run)
      .filter((c) => networksOf(c).includes(`${prefix}_redis`))
      .map((c) => stableName(c));
    expect(redisUsers.sort()).toEqual(
      [
        `${prefix}_redis`,
        `${prefix}_nexus`,
        ...(monitoring ? [`${prefix}_redis_exporter`] : []),
        ...regionIds.map((id) => `${prefix}_region_${id}`),
      ].sort(),
    );
  });

  it("publishes no database or Redis port, and only 80/443 on nginx", () => {
    for (const c of containers(run)) {
      const ports = portsOf(c);
      if (stableName(c) === `${prefix}_nginx`) expect(ports.map((p) => p.internal).sort()).toEqual([443, 80]);
      else expect(ports, stableName(c)).toEqual([]);
    }
  });

  it("wires each API to its own database and its slot's Redis database", () => {
    const nexus = envOf(containerNamed(run, `${prefix}_nexus`));
    expect(nexus.REGION_TYPE).toBe("nexus");
    expect(nexus.DATABASE_URL).toMatch(/^postgresql:\/\/nexus_user:[A-Za-z0-9]{32,}@nexus-db:5432\/nexus_db$/);
    expect(nexus.REDIS_URL).toMatch(/^redis:\/\/:[A-Za-z0-9]+@redis:6379\/0$/);
    const regions = config["sectorwars:regions"] as { id: string; slot: number; type: string; name: string }[];
    for (const region of regions) {
      const env = envOf(containerNamed(run, `${prefix}_region_${region.id}`));
      expect(env).toMatchObject({ REGION_ID: region.id, REGION_NAME: region.name, REGION_TYPE: region.type });
      expect(env.REDIS_URL).toMatch(new RegExp(`@redis:6379/${region.slot}$`));
      expect(env.DATABASE_URL).toContain(`@region-${region.id}-db:5432/region_${region.id.replace(/-/g, "_")}`);
    }
  });

  it("keeps every password and key secret: generated, never in a plain input or output", () => {
    expect(run.ofType(PASSWORD)).toHaveLength(2 + regionIds.length);
    expect(run.generatedSecrets.length).toBeGreaterThan(0);
    for (const resource of run.resources) {
      const plain = plainStrings(resource.rawInputs).join("\n");
      for (const secret of run.generatedSecrets) {
        expect(plain.includes(secret), `${resource.type} ${resource.name} has a secret in a plain input`).toBe(false);
      }
    }
    const outputs = JSON.stringify(run.outputs);
    for (const secret of run.generatedSecrets)
      expect(outputs.includes(secret), "a stack output carries a secret").toBe(false);
  });

  it("sets each database role's password from the secret on every new container, via stdin", () => {
    for (const name of ["nexus", ...regionIds.map((id) => `region-${id}`)]) {
      const sync = run.byName(`${name}-db-password-sync`);
      const db = run.byName(`${name}-db`);
      expect(isSecretValue(sync.rawInputs.stdin), `${name} stdin is secret`).toBe(true);
      expect(String(sync.inputs.stdin)).toMatch(/^ALTER ROLE "[a-z0-9_]+" PASSWORD '[A-Za-z0-9]{32,}';\n$/);
      expect(String(sync.inputs.create)).toBe(
        `docker exec -i ${String(db.inputs.name)} psql -q -v ON_ERROR_STOP=1 -U ${envOf(db).POSTGRES_USER} -d ${envOf(db).POSTGRES_DB}`,
      );
      expect(sync.inputs.triggers).toEqual([`${name}-db-id`]);
      expect(run.byName(`${name}-api`).dependencies).toEqual(expect.arrayContaining([db.urn, sync.urn]));
    }
  });

  it("never uses a literal database password", () => {
    for (const c of containers(run)) expect(envOf(c).POSTGRES_PASSWORD, stableName(c)).toBeUndefined();
  });

  it("keeps every data volume on destroy, mounted where the data lives", () => {
    const volumes = run.ofType(VOLUME);
    expect(volumes.map((v) => v.inputs.name).sort()).toEqual(
      [
        `${prefix}_nexus_db_data`,
        `${prefix}_redis_data`,
        `${prefix}_static`,
        ...(monitoring ? [`${prefix}_prometheus_data`, `${prefix}_alertmanager_data`] : []),
        ...regionIds.map((id) => `${prefix}_region_${id}_db_data`),
      ].sort(),
    );
    for (const v of volumes) expect(v.retainOnDelete, String(v.inputs.name)).toBe(true);
    const mounts = containerNamed(run, `${prefix}_region_${regionIds[0]}_db`).inputs.mounts as {
      source: string;
      target: string;
    }[];
    expect(mounts).toEqual([
      expect.objectContaining({
        type: "volume",
        source: `${prefix}_region_${regionIds[0]}_db_data`,
        target: "/var/lib/postgresql/data",
      }),
    ]);
  });

  it("sizes Redis' databases above the highest slot", () => {
    const conf = uploadOf(containerNamed(run, `${prefix}_redis`), "/usr/local/etc/redis/redis.conf");
    const databases = Number(/^databases (\d+)$/m.exec(conf)?.[1]);
    const slots = (config["sectorwars:regions"] as { slot: number }[]).map((r) => r.slot);
    expect(databases).toBeGreaterThan(Math.max(...slots));
  });

  it("exports public URLs and container names per region, with nothing secret", () => {
    const urls = run.outputs.urls as {
      regions: Record<string, string>;
      player: string;
      admin: string;
      nexusApi: string;
      paypalWebhook: string;
    };
    expect(Object.keys(urls.regions).sort()).toEqual([...regionIds].sort());
    for (const id of regionIds) expect(urls.regions[id]).toMatch(new RegExp(`^https://[^/]+/api/regions/${id}/$`));
    expect(urls.admin).toMatch(/\/admin\/$/);
    // The route the edge sends to the PayPal service, on the public HTTPS origin.
    expect(urls.paypalWebhook).toBe(`${urls.player.replace(/\/$/, "")}/paypal/webhook`);
    expect(urls.paypalWebhook).toMatch(/^https:\/\/[^/]+\/paypal\/webhook$/);
    const names = run.outputs.containers as { regions: Record<string, { api: string; db: string }> };
    for (const id of regionIds) {
      expect(names.regions[id]).toEqual({
        state: "active",
        api: expect.stringMatching(new RegExp(`^${prefix}_region_${id}-[0-9a-f]{8}$`)),
        db: `${prefix}_region_${id}_db`,
      });
    }
    expect(JSON.stringify(run.outputs)).not.toContain('"secret":true');
  });
});

describe("prod", () => {
  let run: ProgramRun;
  beforeAll(async () => {
    run = await runProgram({ config: readStackFile("prod"), secrets: PROD_SECRETS, stack: "test" });
  });

  it("exports the PayPal webhook URL to register with PayPal, on the public host", () => {
    expect((run.outputs.urls as { paypalWebhook: string }).paypalWebhook).toBe(
      "https://play.sectorwars.example/paypal/webhook",
    );
  });

  it("uses the seed's resource numbers", () => {
    const expectMb = (name: string, profile: string) => {
      const c = containerNamed(run, name);
      const spec = BUILT_IN_PROFILES[profile];
      expect(c.inputs.memory, name).toBe(spec?.limits.memoryMb);
      expect(c.inputs.memoryReservation, name).toBe(spec?.reservations.memoryMb);
      expect(c.inputs.cpus, name).toBe(dockerCpus(spec?.limits.cpus ?? 0));
    };
    expectMb("sectorwars_nexus", "nexus-api");
    expectMb("sectorwars_nexus_db", "nexus-db");
    expectMb("sectorwars_redis", "redis");
    expectMb("sectorwars_nginx", "nginx");
    expectMb("sectorwars_region_default", "region-api");
    expectMb("sectorwars_region_default_db", "region-db");
    expect(containerNamed(run, "sectorwars_nexus").inputs.memory).toBe(8192);
    expect(containerNamed(run, "sectorwars_nexus_db").inputs.memory).toBe(16384);
  });

  it("protects the data volumes", () => {
    for (const v of run.ofType(VOLUME).filter((v) => String(v.inputs.name).endsWith("_data"))) {
      expect(v.protect, String(v.inputs.name)).toBe(true);
    }
  });

  it("passes PayPal credentials only as secrets and sets the live environment", () => {
    const paypal = containerNamed(run, "sectorwars_paypal");
    expect(envOf(paypal)).toMatchObject({
      PAYPAL_ENVIRONMENT: "live",
      PAYPAL_CLIENT_ID: PROD_SECRETS["sectorwars:paypalClientId"],
      PAYPAL_CLIENT_SECRET: PROD_SECRETS["sectorwars:paypalClientSecret"],
    });
    expect(plainStrings(paypal.rawInputs).join()).not.toContain(PROD_SECRETS["sectorwars:paypalClientSecret"]);
  });

  it("serves the configured certificate, with the key kept secret", () => {
    const nginx = containerNamed(run, "sectorwars_nginx");
    expect(uploadOf(nginx, "/etc/nginx/tls/server.crt")).toBe(PROD_SECRETS["sectorwars:tlsCertificate"]);
    expect(uploadOf(nginx, "/etc/nginx/tls/server.key")).toBe(PROD_SECRETS["sectorwars:tlsPrivateKey"]);
    expect(run.ofType("tls:index/selfSignedCert:SelfSignedCert")).toEqual([]);
  });

  it("refuses to deploy without its secrets, before declaring anything", async () => {
    await expect(runProgram({ config: readStackFile("prod"), stack: "test" })).rejects.toThrow(
      /sectorwars:paypalClientSecret: prod refuses to deploy without it/,
    );
  });
});

describe("dev", () => {
  it("does not protect volumes, so `pulumi destroy` works, but still retains them", async () => {
    const run = await runProgram({ config: readStackFile("dev"), stack: "test" });
    for (const v of run.ofType(VOLUME)) {
      expect(v.protect, String(v.inputs.name)).toBe(false);
      expect(v.retainOnDelete, String(v.inputs.name)).toBe(true);
    }
    expect(run.ofType("tls:index/selfSignedCert:SelfSignedCert")).toHaveLength(1);
  });

  it("builds the probe once and points every container at an image id", async () => {
    const run = await runProgram({ config: readStackFile("dev"), stack: "test" });
    expect(run.ofType("docker:index/image:Image")).toHaveLength(1);
    for (const c of containers(run)) expect(c.inputs.image, stableName(c)).toMatch(/^sha256:[a-f0-9]{64}$/);
  });

  it("binds debug ports to 127.0.0.1 only, at the slot's port", async () => {
    const config = {
      ...readStackFile("dev"),
      "sectorwars:debugPorts": { publish: true, postgresBase: 25432, redis: 26379 },
    };
    const run = await runProgram({ config, stack: "test" });
    expect(portsOf(containerNamed(run, "sectorwars-dev_region_orion_db"))).toEqual([
      expect.objectContaining({ internal: 5432, external: 25434, ip: "127.0.0.1" }),
    ]);
    expect(portsOf(containerNamed(run, "sectorwars-dev_nexus_db"))).toEqual([
      expect.objectContaining({ external: 25432, ip: "127.0.0.1" }),
    ]);
    expect(portsOf(containerNamed(run, "sectorwars-dev_redis"))).toEqual([
      expect.objectContaining({ external: 26379, ip: "127.0.0.1" }),
    ]);
  });
});

describe("stability of other regions", () => {
  const five = generatedRegions(5);
  const others = five.filter((_, i) => i !== 2);

  it("removing the middle region or reordering leaves every other region's inputs identical", async () => {
    const baseline = await runProgram({ config: devConfigWith(five), stack: "test" });
    const removed = await runProgram({ config: devConfigWith(others), stack: "test" });
    const reordered = await runProgram({ config: devConfigWith([...five].reverse()), stack: "test" });
    for (const region of others) {
      const component = `region-${region.id}`;
      const before = childrenOf(baseline, component);
      expect(Object.keys(before).length).toBeGreaterThan(0);
      expect(childrenOf(removed, component), `${component} after removing ${five[2]?.id}`).toEqual(before);
      expect(childrenOf(reordered, component), `${component} after reordering`).toEqual(before);
    }
    expect(removed.resources.some((r) => r.name === `region-${five[2]?.id}`)).toBe(false);
  });
});

describe("removing a region from config", () => {
  it("drops its containers and leaves its volume, which state marks retainOnDelete", async () => {
    const three = generatedRegions(3);
    const before = await runProgram({ config: devConfigWith(three), stack: "test" });
    const after = await runProgram({ config: devConfigWith(three.slice(0, 2)), stack: "test" });
    const gone = "sector-002";
    expect(containers(after).filter((c) => stableName(c).includes(gone))).toEqual([]);
    // Pulumi deletes what the program no longer declares, using the options recorded in state:
    // the volume was registered with retainOnDelete, so it is dropped from state, not deleted.
    const volume = before.byName(`region-${gone}-db-data`);
    expect(volume.retainOnDelete).toBe(true);
    expect(after.resources.some((r) => r.name === volume.name)).toBe(false);
  });
});

describe("retiring a region", () => {
  const regions = generatedRegions(3);
  const retired = regions.map((r) => (r.id === "sector-001" ? { ...r, state: "retired" } : r));
  let active: ProgramRun;
  let run: ProgramRun;
  beforeAll(async () => {
    active = await runProgram({ config: devConfigWith(regions), stack: "test" });
    run = await runProgram({ config: devConfigWith(retired), stack: "test" });
  });

  it("removes its containers, network and password but keeps its volume exactly as it was", () => {
    const names = containers(run).map((c) => stableName(c));
    expect(names.filter((n) => n.includes("sector-001"))).toEqual([]);
    expect(Object.keys(childrenOf(run, "region-sector-001"))).toEqual(["region-sector-001-db-data"]);
    expect(childrenOf(run, "region-sector-001")["region-sector-001-db-data"]).toEqual(
      childrenOf(active, "region-sector-001")["region-sector-001-db-data"],
    );
  });

  it("keeps its slot reserved for Redis and the other regions untouched", () => {
    for (const id of ["default", "sector-002"]) {
      expect(childrenOf(run, `region-${id}`), id).toEqual(childrenOf(active, `region-${id}`));
    }
    const slotTaken = runProgram({
      config: devConfigWith([
        ...(retired as typeof regions),
        { id: "newcomer", name: "New", type: "player_owned", slot: 2 },
      ]),
      stack: "test",
    });
    return expect(slotTaken).rejects.toThrow(/sectorwars:regions\[3\]\.slot: 2 is already used by region "sector-001"/);
  });

  it("reports the region as retired in the outputs and routes it to 410", () => {
    const names = run.outputs.containers as { regions: Record<string, unknown> };
    expect(names.regions["sector-001"]).toEqual({ state: "retired", api: null, db: null });
    const conf = uploadOf(containerNamed(run, "sectorwars-dev_nginx"), "/etc/nginx/nginx.conf");
    expect(conf).not.toEqual(uploadOf(containerNamed(active, "sectorwars-dev_nginx"), "/etc/nginx/nginx.conf"));
    expect(conf).toMatch(/410/);
    expect(conf).not.toContain("region-sector-001-api");
  });
});

describe("invalid config", () => {
  it("fails as a RunError (no stack trace) listing every problem with its path", async () => {
    const config = devConfigWith([
      { id: "default", name: "Default", type: "default", slot: 1 },
      { id: "orion", name: "Orion", type: "player_owned", slot: 1 },
    ]);
    const attempt = runProgram({ config: { ...config, "sectorwars:namePrefix": "Bad_Prefix" }, stack: "test" });
    await expect(attempt).rejects.toThrow(
      /sectorwars:namePrefix: .*\n.*sectorwars:regions\[1\]\.slot: 1 is already used by region "default"/s,
    );
    const failure = await programFailure({
      config: { ...config, "sectorwars:namePrefix": "Bad_Prefix" },
      stack: "test",
    });
    expect(pulumi.RunError.isInstance(failure.error), "a RunError is printed without a stack trace").toBe(true);
    expect(
      failure.registered.map((r) => r.name),
      "nothing is declared before the config is valid",
    ).toEqual([]);
  });
});
