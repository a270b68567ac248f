/**
 * The blast radius of everyday config edits, counted exactly over the mocked resource graph:
 * which resources `pulumi preview` would create, delete, update in place or replace. Every
 * resource of the stack is accounted for, so anything that starts to depend on the region list
 * (or stops being stable under an edit) fails here with its name.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  ADDED_REGION,
  BASELINE_CONFIG,
  BASE_REGIONS,
  BLAST_SCENARIOS,
  EDITED_REGION,
  MIGRATE_COMMAND,
  NEW_GAMESERVER,
  SCHEMA_FILES,
  blastConfig,
  withDatabase,
} from "./support/blastScenarios";
import { type BlastRadius, type Change, blastRadius, describeRadius, namesOf, parsePropertyPath } from "./support/diff";
import { PROD_SECRETS } from "./support/configs";
import { CONTAINER, type ProgramRun, type RegisteredResource, readStackFile, runProgram } from "./support/pulumi";

/** Everything one active region declares, by logical name. */
function regionResources(id: string): string[] {
  const r = `region-${id}`;
  return [r, `${r}-api`, `${r}-db`, `${r}-db-data`, `${r}-db-password`, `${r}-db-password-sync`, `${r}-net`].sort();
}

interface Expected {
  created?: string[];
  deleted?: string[];
  retained?: string[];
  /** Name → the inputs that change. */
  updated?: Record<string, string[]>;
  /** Name → the inputs that force the replacement. */
  replaced?: Record<string, string[]>;
}

const keyed = (changes: readonly Change[], pick: (c: Change) => string[]): Record<string, string[]> =>
  Object.fromEntries(changes.map((c) => [c.name, pick(c)]));

/** Compares all five sets at once, so a failure shows every unexpected or missing resource. */
function expectRadius(radius: BlastRadius, expected: Expected, what: string): void {
  const actual = {
    created: namesOf(radius.created),
    deleted: namesOf(radius.deleted),
    retained: namesOf(radius.retained),
    updated: keyed(radius.updated, (c) => c.keys),
    replaced: keyed(radius.replaced, (c) => c.replaceKeys),
  };
  const wanted = {
    created: [...(expected.created ?? [])].sort(),
    deleted: [...(expected.deleted ?? [])].sort(),
    retained: [...(expected.retained ?? [])].sort(),
    updated: expected.updated ?? {},
    replaced: expected.replaced ?? {},
  };
  expect(actual, `${what}: the preview would be\n${describeRadius(radius)}\n`).toEqual(wanted);
}

/**
 * The edge reload Command re-sends nginx.conf (its trigger is the config's hash), and reloads
 * nginx after any new container behind the edge, before its predecessor is removed.
 */
const EDGE_RELOAD = { "edge-reload": ["triggers"] };
/**
 * The backup that `pulumi up` runs before stateful containers change. Its trigger fingerprints
 * the set of active region databases, so that removing or retiring one backs it up first; a
 * fingerprint of the new config alone cannot tell an added region from a removed one, so adding
 * one takes a backup too. Accepted: one extra backup per added region, no container touched.
 */
const BACKUP_RUN = { "backups-run": ["triggers"] };

let baseline: ProgramRun;
const after = new Map<string, ProgramRun>();

beforeAll(async () => {
  baseline = await runProgram({ config: BASELINE_CONFIG, stack: "test" });
  for (const scenario of BLAST_SCENARIOS)
    after.set(scenario.key, await runProgram({ config: scenario.config, stack: "test" }));
});

function radiusOf(key: string): BlastRadius {
  const run = after.get(key);
  if (!run) throw new Error(`no scenario ${key}`);
  return blastRadius(baseline.resources, run.resources);
}

describe("blast radius of config edits", () => {
  it("is empty between two runs of the same config (the mocks are deterministic)", async () => {
    const again = await runProgram({ config: BASELINE_CONFIG, stack: "test" });
    expectRadius(blastRadius(baseline.resources, again.resources), {}, "same config");
  });

  it("adding a region creates only its resources, reloads nginx and takes a backup: no container replaced", () => {
    expectRadius(
      radiusOf("add"),
      { created: regionResources("sector-004"), replaced: { ...EDGE_RELOAD, ...BACKUP_RUN } },
      "adding sector-004",
    );
  });

  it("adding a region past Redis' 16 databases also replaces Redis (after the backup)", () => {
    expectRadius(
      radiusOf("addPastRedisDatabases"),
      {
        created: regionResources("sector-015"),
        replaced: { ...EDGE_RELOAD, ...BACKUP_RUN, "redis-server": ["uploads"] },
      },
      "adding sector-015 on slot 16",
    );
  });

  it("removing a region deletes its resources, keeps its volume, reloads nginx and backs up first", () => {
    const region = regionResources(EDITED_REGION);
    const volume = `region-${EDITED_REGION}-db-data`;
    expectRadius(
      radiusOf("remove"),
      {
        deleted: region.filter((n) => n !== volume),
        retained: [volume],
        replaced: { ...EDGE_RELOAD, ...BACKUP_RUN },
      },
      `removing ${EDITED_REGION}`,
    );
  });

  it("reordering the regions changes nothing", () => {
    expectRadius(radiusOf("reorder"), {}, "reordering");
  });

  it("bumping backup.generation only runs the backup", () => {
    expectRadius(radiusOf("backupGeneration"), { replaced: BACKUP_RUN }, "bumping the generation");
  });

  it("resizing a region's memory and CPU reservation updates its database in place and swaps its API", () => {
    const inPlace = ["cpuShares", "memory", "memoryReservation", "memorySwap"];
    // memoryReservation is not proven to update in place (planning/stack/replacement.ts), so it is in
    // every fingerprint: the API is replaced create-before-delete, without downtime, rather than
    // updated, and the database's change takes a backup first although it is updated in place.
    expectRadius(
      radiusOf("resizeMemory"),
      {
        updated: { [`region-${EDITED_REGION}-db`]: inPlace },
        replaced: { [`region-${EDITED_REGION}-api`]: ["name"], ...BACKUP_RUN, ...EDGE_RELOAD },
      },
      `resizing ${EDITED_REGION} (memory)`,
    );
  });

  it("changing a region's CPU limit replaces its two containers, after a backup, and re-syncs the password", () => {
    const r = `region-${EDITED_REGION}`;
    const radius = radiusOf("resizeCpus");
    expectRadius(
      radius,
      {
        replaced: {
          [`${r}-api`]: ["cpus", "name"],
          [`${r}-db`]: ["cpus"],
          [`${r}-db-password-sync`]: ["triggers"],
          ...BACKUP_RUN,
          ...EDGE_RELOAD,
        },
      },
      `resizing ${EDITED_REGION} (CPU limit)`,
    );
    // The other inputs of the replaced containers change as well, but only because of `cpus`.
    const db = radius.replaced.find((c) => c.name === `${r}-db`);
    expect(db?.keys).toEqual(["cpuShares", "cpus", "memory", "memoryReservation", "memorySwap"]);
    expect(radius.replaced.find((c) => c.name === `${r}-db-password-sync`)?.unknownFrom).toEqual([`${r}-db`]);
  });

  it("a new gameserver image swaps exactly the nexus and region APIs, each create-first", () => {
    const radius = radiusOf("gameserverImage");
    const apis = ["nexus-api", ...BASE_REGIONS.map((r) => `region-${r.id}-api`)];
    expectRadius(
      radius,
      {
        created: ["images-registry-example-sectorwars-gameserver-1-4-2"],
        replaced: { ...Object.fromEntries(apis.map((name) => [name, ["image", "name"]])), ...EDGE_RELOAD },
      },
      "a new gameserver image",
    );
    expect(
      radius.replaced.filter((c) => c.deleteFirst).map((c) => c.name),
      "deleted before their successor",
    ).toEqual([]);
  });

  it("a longer stop grace for region APIs swaps them, create-first, and nothing else", () => {
    const radius = radiusOf("stopGrace");
    const grace = ["destroyGraceSeconds", "name", "stopTimeout"];
    expectRadius(
      radius,
      { replaced: { ...Object.fromEntries(BASE_REGIONS.map((r) => [`region-${r.id}-api`, grace])), ...EDGE_RELOAD } },
      "services.region-api.stopGraceSeconds",
    );
    expect(radius.replaced.filter((c) => c.deleteFirst)).toEqual([]);
  });

  it("changing a stateful container deletes it first (its fixed name, its data)", () => {
    const db = radiusOf("resizeCpus").replaced.find((c) => c.name === `region-${EDITED_REGION}-db`);
    expect(db?.deleteFirst).toBe(true);
  });

  it("turning on the edge's upstream keepalive only reloads nginx", () => {
    expectRadius(radiusOf("edgeKeepalive"), { replaced: EDGE_RELOAD }, "upstreamKeepalive 0 → 32");
  });

  it("setting edge.httpsRedirect to dev's default changes nothing; turning it on only reloads nginx", () => {
    expectRadius(radiusOf("httpsRedirectDefault"), {}, "httpsRedirect: false in dev");
    expectRadius(radiusOf("httpsRedirect"), { replaced: EDGE_RELOAD }, "httpsRedirect false → true");
  });

  it("filling /static/ only adds the fill command: nginx, its volume and the player UI stay", () => {
    expectRadius(radiusOf("staticFromImage"), { created: ["edge-static-fill"] }, "edge.staticFrom.playerUiPath");
  });

  it("a rebuilt static directory re-runs only the fill", async () => {
    const build = fs.mkdtempSync(path.join(os.tmpdir(), "sw-static-build-"));
    try {
      const run = async (content: string) => {
        fs.writeFileSync(path.join(build, "main.js"), content);
        const edge = { ...(BASELINE_CONFIG["sectorwars:edge"] as object), staticFrom: { directory: build } };
        return runProgram({ config: { ...BASELINE_CONFIG, "sectorwars:edge": edge }, stack: "test" });
      };
      const [before, after] = [await run("1"), await run("2")];
      expectRadius(blastRadius(baseline.resources, before.resources), { created: ["edge-static-fill"] }, "a directory");
      expectRadius(
        blastRadius(before.resources, after.resources),
        { replaced: { "edge-static-fill": ["triggers"] } },
        "a rebuilt directory",
      );
    } finally {
      fs.rmSync(build, { recursive: true, force: true });
    }
  });

  it("setting edge.httpsRedirect to prod's default changes nothing in prod", async () => {
    const prod = readStackFile("prod");
    const [unset, set] = [
      await runProgram({ config: prod, secrets: PROD_SECRETS, stack: "test" }),
      await runProgram({
        config: { ...prod, "sectorwars:edge": { ...(prod["sectorwars:edge"] as object), httpsRedirect: true } },
        secrets: PROD_SECRETS,
        stack: "test",
      }),
    ];
    expectRadius(blastRadius(unset.resources, set.resources), {}, "httpsRedirect: true in prod");
  });
});

describe("blast radius of the database keys", () => {
  /** The databases of the baseline, by component name. */
  const OWNERS = ["nexus", ...BASE_REGIONS.map((r) => `region-${r.id}`)];
  const each = (suffix: string, keys: string[]) => Object.fromEntries(OWNERS.map((o) => [`${o}${suffix}`, keys]));
  const initSql = { nexus: SCHEMA_FILES.nexus, region: SCHEMA_FILES.region };
  const migration = { command: MIGRATE_COMMAND };
  const radius = async (before: Record<string, unknown>, after: Record<string, unknown>): Promise<BlastRadius> =>
    blastRadius(
      (await runProgram({ config: before, stack: "test" })).resources,
      (await runProgram({ config: after, stack: "test" })).resources,
    );

  it("setting their defaults explicitly changes nothing", async () => {
    for (const database of [{}, { initSql: {} }]) {
      expectRadius(await radius(BASELINE_CONFIG, withDatabase(database)), {}, JSON.stringify(database));
    }
  });

  it("setting init SQL on a deployed stack replaces no database: it only adds the init checks", async () => {
    expectRadius(
      await radius(BASELINE_CONFIG, withDatabase({ initSql })),
      { created: OWNERS.map((o) => `${o}-db-init-check`) },
      "setting database.initSql",
    );
  });

  it("editing the init SQL file changes nothing deployed", async () => {
    const edited = { nexus: SCHEMA_FILES.nexus, region: SCHEMA_FILES.regionEdited };
    expectRadius(
      await radius(withDatabase({ initSql }), withDatabase({ initSql: edited })),
      {},
      "editing the region init SQL",
    );
  });

  it("a region added with init SQL is created with it, like any region, plus its check", async () => {
    const added = blastConfig([...BASE_REGIONS, ADDED_REGION]);
    expectRadius(
      await radius(withDatabase({ initSql }), withDatabase({ initSql }, added)),
      {
        created: [...regionResources(ADDED_REGION.id), `region-${ADDED_REGION.id}-db-init-check`],
        replaced: { ...EDGE_RELOAD, ...BACKUP_RUN },
      },
      "adding a region with init SQL",
    );
  });

  it("turning on migrations adds one per database and takes a backup, no container touched", async () => {
    expectRadius(
      await radius(BASELINE_CONFIG, withDatabase({ migration })),
      { created: OWNERS.map((o) => `${o}-migrate`), replaced: BACKUP_RUN },
      "setting database.migration",
    );
  });

  it("a new gameserver image with migrations: backup, every migration, then the APIs create-first", async () => {
    const before = withDatabase({ migration });
    const after = withDatabase(
      { migration },
      { ...BASELINE_CONFIG, "sectorwars:images": { gameserver: NEW_GAMESERVER } },
    );
    const result = await radius(before, after);
    expectRadius(
      result,
      {
        created: ["images-registry-example-sectorwars-gameserver-1-4-2"],
        replaced: {
          ...BACKUP_RUN,
          ...EDGE_RELOAD,
          ...each("-migrate", ["triggers"]),
          ...each("-api", ["image", "name"]),
        },
      },
      "a new gameserver image with migrations",
    );
    expect(result.replaced.filter((c) => c.deleteFirst).map((c) => c.name)).toEqual([]);
  });

  it("a new migration command reruns every migration after a backup", async () => {
    const after = withDatabase({ migration: { command: ["alembic", "upgrade", "head"] } });
    expectRadius(
      await radius(withDatabase({ migration }), after),
      { replaced: { ...BACKUP_RUN, ...each("-migrate", ["triggers"]) } },
      "a new migration command",
    );
  });

  it("renaming a region with migrations swaps its API and updates its migration without running it", async () => {
    const renamed = blastConfig(BASE_REGIONS.map((r) => (r.id === EDITED_REGION ? { ...r, name: "Renamed" } : r)));
    expectRadius(
      await radius(withDatabase({ migration }), withDatabase({ migration }, renamed)),
      {
        updated: { [`region-${EDITED_REGION}-migrate`]: ["environment"] },
        replaced: { [`region-${EDITED_REGION}-api`]: ["envs", "name"], ...EDGE_RELOAD },
      },
      "renaming a region",
    );
  });
});

describe("the diff model", () => {
  // "edge" names both the EdgeProxy component and its nginx container.
  const edge = (): RegisteredResource =>
    baseline.ofType(CONTAINER).find((r) => r.name === "edge") as RegisteredResource;
  const edited = (r: RegisteredResource, inputs: Record<string, unknown>): RegisteredResource => ({
    ...r,
    inputs: { ...r.inputs, ...inputs },
  });
  const uploads = (): { file: string; content: string }[] =>
    edge().inputs.uploads as { file: string; content: string }[];

  it("reads ignoreChanges paths", () => {
    expect(parsePropertyPath("uploads[0]")).toEqual(["uploads", 0]);
    expect(parsePropertyPath('labels["com.x"].value')).toEqual(["labels", "com.x", "value"]);
  });

  it("honours the edge's ignoreChanges on its uploads (nginx.conf, certificate, key), not on its other inputs", () => {
    const [conf, cert, key] = uploads();
    expect([conf?.file, cert?.file, key?.file]).toEqual([
      "/etc/nginx/nginx.conf",
      "/etc/nginx/tls/server.crt",
      "/etc/nginx/tls/server.key",
    ]);
    for (const index of [0, 1, 2]) {
      const changed = uploads().map((u, i) => (i === index ? { ...u, content: "changed" } : u));
      expect(blastRadius([edge()], [edited(edge(), { uploads: changed })]).unchanged, `upload ${index}`).toBe(1);
    }
    const image = edited(edge(), { image: "sha256:other" });
    expect(namesOf(blastRadius([edge()], [image]).replaced)).toEqual(["edge"]);
  });

  it("replaces a container on a health check change (replaceOnChanges) and on an image change", () => {
    const nexus = baseline.byName("nexus-api");
    expect(nexus.type).toBe(CONTAINER);
    const health = edited(nexus, { healthcheck: { ...(nexus.inputs.healthcheck as object), retries: 99 } });
    expect(blastRadius([nexus], [health]).replaced.map((c) => c.replaceKeys)).toEqual([["healthcheck"]]);
    const image = edited(nexus, { image: "sha256:other" });
    expect(blastRadius([nexus], [image]).replaced.map((c) => c.replaceKeys)).toEqual([["image"]]);
    const restart = edited(nexus, { restart: "always" });
    expect(blastRadius([nexus], [restart]).updated.map((c) => c.keys)).toEqual([["restart"]]);
  });
});
