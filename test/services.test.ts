/**
 * Per-service settings of the game's services (planning/stack/services.ts): what a real image may be
 * given beyond the secure defaults, planned and declared; the defaults declaring exactly what a
 * stack without the key does; extra environment set with --secret kept secret.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { hardeningFor } from "../planning/stack/hardening";
import {
  DEFAULT_HEALTH_PATHS,
  DEFAULT_PORTS,
  GAME_SERVICES,
  serviceHealthcheck,
  withOverrides,
} from "../planning/stack/services";
import { devConfigWith, generatedRegions } from "./support/configs";
import { blastRadius } from "./support/diff";
import { containerNamed, containers, envOf, stableName, uploadOf } from "./support/graph";
import { type ProgramRun, isSecretValue, runProgram } from "./support/pulumi";

describe("serviceHealthcheck", () => {
  it.each(GAME_SERVICES)("%s: by default curls its own path on its port", (service) => {
    const check = serviceHealthcheck(service, {}, DEFAULT_PORTS[service]);
    expect(check.tests).toEqual([
      "CMD-SHELL",
      `curl -fsS -o /dev/null http://127.0.0.1:${DEFAULT_PORTS[service]}${DEFAULT_HEALTH_PATHS[service]} || exit 1`,
    ]);
  });

  it.each([
    [{ path: "/status" }, ["CMD-SHELL", "curl -fsS -o /dev/null http://127.0.0.1:9000/status || exit 1"]],
    [{ command: "wget -qO- http://127.0.0.1:9000/health" }, ["CMD-SHELL", "wget -qO- http://127.0.0.1:9000/health"]],
    [{ command: ["node", "health.js"] }, ["CMD", "node", "health.js"]],
  ])("%j", (healthcheck, tests) => {
    expect(serviceHealthcheck("region-api", { healthcheck }, 9000).tests).toEqual(tests);
  });
});

describe("withOverrides", () => {
  const base = hardeningFor("region-api");

  it("changes nothing without overrides", () => {
    expect(withOverrides(base, {})).toEqual(base);
  });

  it("adds allowed capabilities as Docker names them, writable directories, or a writable root", () => {
    const h = withOverrides(base, {
      capabilities: ["NET_BIND_SERVICE", "CAP_KILL"],
      writablePaths: { "/app/cache": "128m" },
    });
    expect(h.capabilityAdds).toEqual(["CAP_NET_BIND_SERVICE", "CAP_KILL"]);
    expect(h.capabilityDrops).toEqual(["ALL"]);
    expect(h.securityOpts).toEqual(["no-new-privileges:true"]);
    expect(h.tmpfs).toEqual({ "/tmp": "rw,noexec,nosuid,size=64m", "/app/cache": "rw,noexec,nosuid,size=128m" });
    expect(withOverrides(base, { readOnlyRootfs: false })).toMatchObject({ readOnlyRootfs: false, tmpfs: {} });
  });
});

describe("the program under mocks", () => {
  const regions = generatedRegions(2);
  const base = devConfigWith(regions);
  let defaults: ProgramRun;
  let tuned: ProgramRun;
  beforeAll(async () => {
    defaults = await runProgram({ config: base });
    tuned = await runProgram({
      config: {
        ...base,
        "sectorwars:services": {
          "region-api": {
            port: 9000,
            healthcheck: { command: ["/app/healthcheck"] },
            env: { LOG_LEVEL: "debug" },
            writablePaths: { "/app/cache": "128m" },
            capabilities: ["NET_BIND_SERVICE"],
          },
          "player-ui": { readOnlyRootfs: false },
        },
      },
    });
  });

  it("declares exactly what a stack without sectorwars:services declares when every field is its default", async () => {
    const explicit = await runProgram({
      config: {
        ...base,
        "sectorwars:services": { "region-api": { stopSignal: "SIGTERM", stopGraceSeconds: 30 }, paypal: {} },
      },
    });
    const radius = blastRadius(defaults.resources, explicit.resources);
    expect([...radius.created, ...radius.deleted, ...radius.updated, ...radius.replaced]).toEqual([]);
  });

  it("gives every region API its port, health check, environment, writable path and capability", () => {
    for (const region of regions) {
      const api = containerNamed(tuned, `sectorwars-dev_region_${region.id}`);
      expect(envOf(api)).toMatchObject({ PORT: "9000", LOG_LEVEL: "debug", REGION_ID: region.id });
      expect((api.inputs.healthcheck as { tests: string[] }).tests).toEqual(["CMD", "/app/healthcheck"]);
      expect(api.inputs.tmpfs).toEqual({
        "/tmp": "rw,noexec,nosuid,size=64m",
        "/app/cache": "rw,noexec,nosuid,size=128m",
      });
      expect((api.inputs.capabilities as { adds?: string[] }).adds).toEqual(["CAP_NET_BIND_SERVICE"]);
      expect(api.inputs.readOnly).toBe(true);
    }
  });

  it("routes the edge to the region APIs' port, and leaves every other service as it was", () => {
    const conf = uploadOf(containerNamed(tuned, "sectorwars-dev_nginx"), "/etc/nginx/nginx.conf");
    expect(conf).toContain('set $backend "region-sector-001-api:9000";');
    expect(conf).toContain('set $backend "nexus-api:8000";');
    const changed = blastRadius(defaults.resources, tuned.resources).replaced.map((c) => c.name);
    expect(changed.sort()).toEqual(["apps-player", "edge-reload", ...regions.map((r) => `region-${r.id}-api`)].sort());
    const player = containerNamed(tuned, "sectorwars-dev_player");
    expect([player.inputs.readOnly, player.inputs.tmpfs]).toEqual([false, undefined]);
  });

  it("keeps every service's environment secret when sectorwars:services was set with --secret", async () => {
    const secret = await runProgram({
      config: base,
      secrets: { "sectorwars:services": JSON.stringify({ "player-ui": { env: { ANALYTICS_TOKEN: "TopSecret123" } } }) },
    });
    const player = containerNamed(secret, "sectorwars-dev_player");
    expect(isSecretValue(player.rawInputs.envs), "the player UI's environment").toBe(true);
    expect(envOf(player).ANALYTICS_TOKEN).toBe("TopSecret123");
    for (const c of containers(secret))
      expect(JSON.stringify(c.rawInputs.name), stableName(c)).not.toContain("TopSecret");
    expect(isSecretValue(containerNamed(defaults, "sectorwars-dev_player").rawInputs.envs)).toBe(false);
  });
});
