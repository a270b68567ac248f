/**
 * The role catalog (planning/roles.ts): the facts the planners derive from it agree with each
 * other, so that a new role or a changed record cannot leave a planner half-informed.
 */
import { describe, expect, it } from "vitest";
import { hardeningFor } from "../planning/stack/hardening";
import { ALL_ROLES, ROLES, containerLabels, labelFilters } from "../planning/roles";
import { DEFAULT_STOP, GAME_SERVICES, stopPlan } from "../planning/stack/services";
import { swarmHardening } from "../planning/swarm/hardening";

describe("the role catalog", () => {
  it("has game defaults exactly for the game's services, which are the ones replaced create-before-delete", () => {
    const game = ALL_ROLES.filter((r) => ROLES[r].game !== null).sort();
    expect(game).toEqual([...GAME_SERVICES].sort());
    for (const role of ALL_ROLES) {
      expect(ROLES[role].replacement, role).toBe(ROLES[role].game ? "create-before-delete" : "delete-before-replace");
    }
  });

  it("gives every role that keeps a writable root in container mode the directories it writes in swarm mode", () => {
    for (const role of ALL_ROLES) {
      const { receivesUploads, writes } = ROLES[role];
      expect(hardeningFor(role).readOnlyRootfs, role).toBe(!receivesUploads);
      const swarm = swarmHardening(role, hardeningFor(role));
      expect(swarm.readOnlyRootfs, role).toBe(true);
      if (receivesUploads) expect(Object.keys(swarm.tmpfs).sort(), role).toEqual([...writes].sort());
    }
  });

  it("stops a game service by the config's defaults and a platform container by its record", () => {
    for (const role of ALL_ROLES) {
      expect(stopPlan(role, DEFAULT_STOP).graceSeconds, role).toBe(ROLES[role].stopGraceSeconds);
    }
  });

  it("labels a region's containers with the region and the others without", () => {
    expect(containerLabels("dev", "region-db", "orion")).toEqual({
      "com.sectorwars.stack": "dev",
      "com.sectorwars.role": "region-db",
      "com.sectorwars.region": "orion",
    });
    expect(Object.keys(containerLabels("dev", "redis"))).not.toContain("com.sectorwars.region");
  });

  it("finds a role's containers and services by exactly those labels", () => {
    expect(labelFilters("dev", "region-db", "orion")).toEqual([
      "--filter",
      "label=com.sectorwars.stack=dev",
      "--filter",
      "label=com.sectorwars.role=region-db",
      "--filter",
      "label=com.sectorwars.region=orion",
    ]);
    expect(labelFilters("dev", "nexus-db").join(" ")).not.toContain("com.sectorwars.region");
  });
});
