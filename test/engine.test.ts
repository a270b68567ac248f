/**
 * The Docker engine's API version (planning/stack/engine.ts): what each version lets the plan use,
 * the check against a pinned sectorwars:engine.apiVersion, and the program under mocks, which
 * asks the engine once per run and fails before declaring anything when the engine is too old.
 */
import { describe, expect, it } from "vitest";
import { API_VERSION_COMMAND } from "../components/config/dockerEngine";
import { type EngineCheck, compareApiVersions, engineFeatures, resolveEngine } from "../planning/stack/engine";
import { containers, stableName } from "./support/graph";
import { blastRadius } from "./support/diff";
import { programFailure, readStackFile, runProgram } from "./support/pulumi";

const check = (configured: string | undefined, reported: EngineCheck["reported"]): EngineCheck => ({
  configured,
  reported,
  where: "unix:///var/run/docker.sock",
});

describe("engine API versions", () => {
  it.each([
    ["1.41", "1.44", -1],
    ["1.9", "1.41", -1],
    ["1.45", "1.44", 1],
    ["1.44", "1.44", 0],
  ] as const)("%s vs %s", (a, b, sign) => {
    expect(Math.sign(compareApiVersions(a, b))).toBe(sign);
  });

  it.each([
    ["1.41", false],
    ["1.43", false],
    ["1.44", true],
    ["1.45", true],
    ["1.51", true],
  ] as const)("API %s: health check start interval %s", (version, expected) => {
    expect(engineFeatures(version).healthStartInterval).toBe(expected);
  });
});

describe("resolveEngine", () => {
  it.each([
    ["unpinned, Docker 20.10", check(undefined, { apiVersion: "1.41" }), "1.41", false],
    ["unpinned, Docker 26.1", check(undefined, { apiVersion: "1.45\n" }), "1.45", true],
    ["pinned below a newer engine (an upgrade changes nothing)", check("1.41", { apiVersion: "1.45" }), "1.41", false],
    ["pinned at the engine's version", check("1.45", { apiVersion: "1.45" }), "1.45", true],
  ])("%s", (_, engineCheck, apiVersion, startInterval) => {
    expect(resolveEngine(engineCheck)).toEqual({ features: { apiVersion, healthStartInterval: startInterval } });
  });

  it.each([
    [
      "pinned above the engine",
      check("1.45", { apiVersion: "1.41" }),
      "the stack is planned for Docker Engine API 1.45, but the engine at unix:///var/run/docker.sock speaks 1.41 " +
        "(health check start intervals need 1.44, Docker 25.0 or later). Upgrade the engine, or set it to 1.41",
    ],
    [
      "no engine answering",
      check(undefined, { error: "Cannot connect to the Docker daemon at unix:///var/run/docker.sock" }),
      "cannot ask the Docker engine at unix:///var/run/docker.sock for its API version (Cannot connect to the Docker daemon",
    ],
    ["a garbled answer", check(undefined, { apiVersion: "banana" }), 'reported API version "banana"'],
  ])("refuses %s", (_, engineCheck, message) => {
    const resolved = resolveEngine(engineCheck);
    expect("problem" in resolved ? resolved.problem : "no problem").toContain(message);
  });
});

describe("the program under mocks", () => {
  const dev = readStackFile("dev");

  it("asks the engine once, with the provider's DOCKER_HOST", async () => {
    const local = await runProgram({ config: dev, stack: "test" });
    expect(local.invokes).toEqual([expect.objectContaining({ command: API_VERSION_COMMAND, environment: {} })]);
    const remote = await runProgram({ config: { ...dev, "docker:host": "ssh://ops@game-host" }, stack: "test" });
    expect(remote.invokes).toEqual([expect.objectContaining({ environment: { DOCKER_HOST: "ssh://ops@game-host" } })]);
    expect(remote.outputs.engineApiVersion).toBe("1.41");
  });

  it("gives every health check a 1 s start interval on API 1.45 and none on 1.41", async () => {
    const [old, modern] = [
      await runProgram({ config: dev, engine: "1.41" }),
      await runProgram({ config: dev, engine: "1.45" }),
    ];
    for (const c of containers(old)) {
      expect((c.inputs.healthcheck as Record<string, unknown>).startInterval, stableName(c)).toBeUndefined();
    }
    for (const c of containers(modern)) {
      expect((c.inputs.healthcheck as Record<string, unknown>).startInterval, stableName(c)).toBe("1s");
    }
    expect(containers(modern)).toHaveLength(containers(old).length);
  });

  it("keeps a pinned version's plan when the engine is upgraded", async () => {
    const pinned = { ...dev, "sectorwars:engine": { apiVersion: "1.41" } };
    const before = await runProgram({ config: pinned, engine: "1.41" });
    const after = await runProgram({ config: pinned, engine: "1.45" });
    const radius = blastRadius(before.resources, after.resources);
    expect([...radius.replaced, ...radius.updated, ...radius.created, ...radius.deleted]).toEqual([]);
  });

  it("replaces every container, after a backup, when an unpinned stack meets a newer engine", async () => {
    const radius = blastRadius(
      (await runProgram({ config: dev, engine: "1.41" })).resources,
      (await runProgram({ config: dev, engine: "1.45" })).resources,
    );
    const replaced = radius.replaced.map((c) => c.name);
    for (const c of containers(await runProgram({ config: dev }))) expect(replaced, c.name).toContain(c.name);
    expect(replaced).toContain("backups-run");
  });

  it.each([
    [
      "a pinned version above the engine's",
      { ...dev, "sectorwars:engine": { apiVersion: "1.45" } },
      "1.41",
      /sectorwars:engine\.apiVersion: the stack is planned for Docker Engine API 1\.45, but the engine at the local Docker socket speaks 1\.41/,
    ],
    [
      "no engine answering",
      dev,
      { error: "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" },
      /sectorwars:engine\.apiVersion: cannot ask the Docker engine at the local Docker socket for its API version \(.*Cannot connect/,
    ],
  ] as const)("fails on %s before declaring anything", async (_, config, engine, message) => {
    const failure = await programFailure({ config, engine });
    expect(failure.message).toMatch(message);
    expect(
      failure.registered.map((r) => r.name),
      "declared before the check",
    ).toEqual([]);
  });
});
