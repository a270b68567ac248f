import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type PlatformConfig, SECRET_KEYS, type SecretKey, parseConfig } from "../planning/config";
import { allContainers, joinName, planRegion, planStack, publicUrl, sqlIdentifier } from "../planning/stack/topology";
import { devConfigWith, generatedRegions, rawOf } from "./support/configs";

const configWith = (regions: unknown[], extra: Record<string, unknown> = {}): PlatformConfig =>
  parseConfig({ ...rawOf(devConfigWith([])), regions, ...extra }, { presentSecrets: new Set() });

const regionArb = fc
  .uniqueArray(
    fc.record({
      id: fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?$/),
      slot: fc.integer({ min: 1, max: 999 }),
    }),
    { selector: (r) => r.id, minLength: 1, maxLength: 40 },
  )
  .filter((list) => new Set(list.map((r) => r.slot)).size === list.length)
  .map((list) => list.map((r, i) => ({ ...r, name: `Region ${r.id}`, type: i === 0 ? "default" : "player_owned" })));

describe("planStack", () => {
  it("names containers, volumes and networks as the seed does", () => {
    const plan = planStack(configWith(generatedRegions(2)), "dev");
    expect(plan.nexus.api.containerName).toBe("sectorwars-dev_nexus");
    expect(plan.nexus.db.containerName).toBe("sectorwars-dev_nexus_db");
    expect(plan.regions[1]?.api.containerName).toBe("sectorwars-dev_region_sector-001");
    expect(plan.regions[1]?.db.containerName).toBe("sectorwars-dev_region_sector-001_db");
    expect(plan.regions[1]?.db.database).toBe("region_sector_001");
    expect(plan.regions[1]?.db.volumeName).toBe("sectorwars-dev_region_sector-001_db_data");
    expect(plan.redis.containerName).toBe("sectorwars-dev_redis");
    expect(plan.edge.containerName).toBe("sectorwars-dev_nginx");
    expect([plan.admin.containerName, plan.player.containerName, plan.paypal.containerName]).toEqual([
      "sectorwars-dev_admin",
      "sectorwars-dev_player",
      "sectorwars-dev_paypal",
    ]);
  });

  it("carries everything the components are declared from, so index.ts reads no config of its own", () => {
    const app = (name: string) => `registry.example/${name}:1.0`;
    const config = parseConfig(
      {
        ...rawOf(devConfigWith(generatedRegions(2))),
        environment: "prod",
        edge: {
          hostname: "play.example",
          httpPort: 8080,
          httpsPort: 8443,
          staticFrom: { playerUiPath: "/app/static" },
        },
        redis: { maxmemory: "128mb", maxmemoryPolicy: "volatile-lru" },
        paypal: { environment: "live" },
        backup: {
          dir: "backups",
          schedule: "off",
          generation: 3,
          parallelism: 4,
          retentionDays: 7,
          repository: { url: "s3:https://s3.example/bkp", retention: { pitrDays: 3 } },
        },
        database: { migration: { command: ["migrate"] } },
        images: { gameserver: app("game"), adminUi: app("admin"), playerUi: app("player"), paypal: app("paypal") },
      },
      { presentSecrets: new Set(Object.keys(SECRET_KEYS) as SecretKey[]) },
    );
    const plan = planStack(config, "prod", { projectDir: "/srv/platform" });
    expect(plan.protectData).toBe(true);
    expect(plan.images.gameserver).toEqual({ kind: "ref", ref: app("game") });
    expect(plan.images.nginx).toEqual({ kind: "ref", ref: "nginx:alpine" });
    expect(plan.edge.ports).toEqual({
      http: { internal: 80, external: 8080 },
      https: { internal: 443, external: 8443 },
    });
    expect(plan.edge.publicHostname).toBe("play.example");
    expect(plan.edge.staticFrom).toEqual({ kind: "playerUiImage", path: "/app/static" });
    expect([plan.redis.maxmemory, plan.redis.maxmemoryPolicy]).toEqual(["128mb", "volatile-lru"]);
    expect(plan.paypal.environment).toBe("live");
    expect(plan.backup).toEqual({
      settings: { stack: "prod", backupDir: "/srv/platform/backups/prod", parallelism: 4, retentionDays: 7 },
      schedule: "off",
      generation: 3,
      archive: {
        url: "s3:https://s3.example/bkp",
        archiveTimeoutSeconds: 30,
        retention: { fullBackups: 5, pitrDays: 3 },
      },
    });
    expect([plan.nexus.db.stanza, plan.regions[1]?.db.stanza]).toEqual(["nexus", "region-sector-001"]);
    expect(plan.database).toEqual({ initSql: {}, migration: { command: ["migrate"] } });
    expect(planStack(configWith(generatedRegions(1)), "dev").protectData).toBe(false);
  });

  it("plans a region from its own entry only, wherever it sits in the list", () => {
    fc.assert(
      fc.property(regionArb, fc.nat(), (regions, pick) => {
        const config = configWith(regions);
        const reversed = configWith(
          [...regions]
            .reverse()
            .map((r, i, all) => ({ ...r, type: i === all.length - 1 ? "default" : "player_owned" })),
        );
        const target = config.regions[pick % config.regions.length];
        if (!target) return;
        const other = reversed.regions.find((r) => r.id === target.id);
        if (!other || other.type !== target.type) return;
        expect(planRegion(other, { config: reversed, stack: "s" })).toEqual(planRegion(target, { config, stack: "s" }));
      }),
    );
  });

  it("gives every container, volume and database a unique name", () => {
    fc.assert(
      fc.property(regionArb, (regions) => {
        const plan = planStack(configWith(regions), "s");
        const names = allContainers(plan).map((c) => c.containerName);
        expect(new Set(names).size).toBe(names.length);
        const hostnames = allContainers(plan).map((c) => c.hostname);
        expect(new Set(hostnames).size).toBe(hostnames.length);
        const databases = plan.regions.map((r) => r.db.database);
        expect(new Set(databases).size).toBe(databases.length);
        for (const name of names) expect(name).toMatch(/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/);
        for (const db of databases) expect(db.length).toBeLessThanOrEqual(63);
      }),
    );
  });

  it("uses the slot as the Redis database and the debug port offset", () => {
    const config = configWith(generatedRegions(3), {
      debugPorts: { publish: true, postgresBase: 20000, redis: 19999 },
    });
    const plan = planStack(config, "s");
    expect(plan.regions.map((r) => [r.redisDb, r.db.debugPort])).toEqual([
      [1, 20001],
      [2, 20002],
      [3, 20003],
    ]);
    expect(plan.nexus.db.debugPort).toBe(20000);
    expect(plan.redis.debugPort).toBe(19999);
    expect(planStack(configWith(generatedRegions(3)), "s").regions.every((r) => r.db.debugPort === null)).toBe(true);
  });
});

describe("helpers", () => {
  it.each([
    [{ hostname: "play.example", httpPort: 80, httpsPort: 443 }, "https://play.example"],
    [{ hostname: "localhost", httpPort: 8080, httpsPort: 8443 }, "https://localhost:8443"],
  ])("publicUrl(%j) = %s", (edge, expected) => {
    expect(publicUrl(edge)).toBe(expected);
  });

  it("joins names with the seed's underscore and maps ids to SQL identifiers", () => {
    expect(joinName("sw", "region", "a-b", "db")).toBe("sw_region_a-b_db");
    expect(sqlIdentifier("6f1c-22ab")).toBe("6f1c_22ab");
  });
});
