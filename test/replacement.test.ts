/**
 * How containers are replaced (planning/stack/replacement.ts): the fingerprint that names stateless
 * containers, and the program under mocks, where every stateless container is declared
 * create-before-delete under a fingerprinted name and every stateful one delete-before-replace
 * under its fixed name; an image change replaces exactly the services that run that image.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { GAME_SERVICES } from "../planning/stack/services";
import { IN_PLACE_INPUTS, STATELESS_ROLES, containerName, replacementFingerprint } from "../planning/stack/replacement";
import { ALL_ROLES, LABEL_ROLE, ROLES, type Role } from "../planning/roles";
import { blastConfig, BASE_REGIONS } from "./support/blastScenarios";
import { blastRadius } from "./support/diff";
import { containers, labelsOf, stableName } from "./support/graph";
import { type ProgramRun, isSecretValue, runProgram } from "./support/pulumi";

const INPUTS = {
  image: "sha256:aaaa",
  envs: ["PORT=8000", "DATABASE_URL=postgresql://u:secret@db:5432/x"],
  memory: 256,
  memorySwap: 256,
  cpuShares: 102,
  cpus: "0.5",
  healthcheck: { tests: ["CMD-SHELL", "true"], interval: "15s" },
  networksAdvanced: [{ name: "front", aliases: ["region-orion-api"] }],
};

describe("replacementFingerprint", () => {
  it("is eight hex digits, the same for the same inputs", () => {
    expect(replacementFingerprint(INPUTS)).toMatch(/^[0-9a-f]{8}$/);
    expect(replacementFingerprint({ ...INPUTS })).toBe(replacementFingerprint(INPUTS));
  });

  it("ignores the name itself and undefined inputs", () => {
    expect(replacementFingerprint({ ...INPUTS, name: "x-1234abcd", command: undefined })).toBe(
      replacementFingerprint(INPUTS),
    );
  });

  it("does not depend on the order of object keys", () => {
    fc.assert(
      fc.property(fc.shuffledSubarray(Object.keys(INPUTS), { minLength: 8, maxLength: 8 }), (order) => {
        const shuffled = Object.fromEntries(order.map((k) => [k, INPUTS[k as keyof typeof INPUTS]]));
        expect(replacementFingerprint(shuffled)).toBe(replacementFingerprint(INPUTS));
      }),
    );
  });

  it("stays the same when only inputs the provider updates in place change", () => {
    fc.assert(
      fc.property(fc.constantFrom(...IN_PLACE_INPUTS), fc.jsonValue(), (key, value) => {
        expect(replacementFingerprint({ ...INPUTS, [key]: value })).toBe(replacementFingerprint(INPUTS));
      }),
    );
  });

  it("changes when any other input changes, at any depth", () => {
    const other = fc.string({ minLength: 1 }).filter((k) => k !== "name" && !IN_PLACE_INPUTS.has(k));
    fc.assert(
      fc.property(other, fc.string(), (key, value) => {
        const changed = { ...INPUTS, [key]: { changed: value } };
        expect(replacementFingerprint(changed)).not.toBe(replacementFingerprint(INPUTS));
      }),
    );
    const deeper = { ...INPUTS, networksAdvanced: [{ name: "front", aliases: ["region-vega-api"] }] };
    expect(replacementFingerprint(deeper)).not.toBe(replacementFingerprint(INPUTS));
    expect(replacementFingerprint({ ...INPUTS, memoryReservation: 64 })).not.toBe(replacementFingerprint(INPUTS));
  });
});

describe("containerName", () => {
  it.each([
    ["region-api", "sectorwars_region_orion", /^sectorwars_region_orion-[0-9a-f]{8}$/],
    ["paypal", "sectorwars_paypal", /^sectorwars_paypal-[0-9a-f]{8}$/],
    ["region-db", "sectorwars_region_orion_db", /^sectorwars_region_orion_db$/],
    ["nginx", "sectorwars_nginx", /^sectorwars_nginx$/],
  ] as const)("%s: %s", (role, stable, pattern) => {
    expect(containerName(stable, role, INPUTS)).toMatch(pattern);
  });

  it("replaces exactly the game's services create-before-delete", () => {
    expect([...STATELESS_ROLES].sort()).toEqual([...GAME_SERVICES].sort());
    for (const role of ALL_ROLES) {
      expect(ROLES[role].replacement, role).toBe(
        (GAME_SERVICES as readonly string[]).includes(role) ? "create-before-delete" : "delete-before-replace",
      );
    }
  });
});

describe("the program under mocks", () => {
  let before: ProgramRun;
  beforeAll(async () => {
    before = await runProgram({ config: blastConfig(BASE_REGIONS), stack: "test" });
  });

  it("declares stateless containers create-before-delete under fingerprinted names, stateful ones fixed and delete-first", () => {
    for (const c of containers(before)) {
      const role = labelsOf(c)[LABEL_ROLE] as Role;
      const name = String(c.inputs.name);
      if (ROLES[role].replacement === "create-before-delete") {
        expect(c.deleteBeforeReplace, name).toBe(false);
        expect(name, role).toBe(`${stableName(c)}-${replacementFingerprint(c.inputs)}`);
      } else {
        expect(c.deleteBeforeReplace, name).toBe(true);
        expect(name, role).toBe(stableName(c));
      }
      expect(isSecretValue(c.rawInputs.name), `${name}: the name is not a secret`).toBe(false);
    }
  });

  it("gives the game's services their stop signal and grace, on stop and on delete", async () => {
    const tuned = await runProgram({
      config: { ...blastConfig(BASE_REGIONS), "sectorwars:services": { "region-api": { stopGraceSeconds: 90 } } },
      stack: "test",
    });
    for (const c of containers(tuned)) {
      const role = labelsOf(c)[LABEL_ROLE] as Role;
      const grace = role === "region-api" ? 90 : role === "admin-ui" || role === "player-ui" ? 10 : undefined;
      if (grace !== undefined)
        expect([c.inputs.stopTimeout, c.inputs.destroyGraceSeconds], role).toEqual([grace, grace]);
      expect(c.inputs.stopSignal, role).toBe(
        ROLES[role].replacement === "create-before-delete" ? "SIGTERM" : undefined,
      );
    }
    const radius = blastRadius(before.resources, tuned.resources);
    expect(radius.replaced.map((c) => c.name).sort()).toEqual(
      ["edge-reload", ...BASE_REGIONS.map((r) => `region-${r.id}-api`)].sort(),
    );
  });

  it("replaces exactly the nexus and region APIs when the gameserver image changes, each create-before-delete", async () => {
    const after = await runProgram({
      config: {
        ...blastConfig(BASE_REGIONS),
        "sectorwars:images": { gameserver: "registry.example/sectorwars/gameserver:1.4.2" },
      },
      stack: "test",
    });
    const radius = blastRadius(before.resources, after.resources);
    const apis = ["nexus-api", ...BASE_REGIONS.map((r) => `region-${r.id}-api`)].sort();
    expect(radius.replaced.map((c) => c.name).sort(), "replaced").toEqual(["edge-reload", ...apis].sort());
    for (const change of radius.replaced.filter((c) => c.name !== "edge-reload")) {
      expect(change.replaceKeys, change.name).toEqual(["image", "name"]);
    }
    expect(radius.created.map((c) => c.name)).toEqual(["images-registry-example-sectorwars-gameserver-1-4-2"]);
    expect(radius.deleted).toEqual([]);
    for (const name of apis) expect(after.byName(name).deleteBeforeReplace, name).toBe(false);
  });
});
