/**
 * Part 4: deploys through the real Pulumi engine, timed as an operator waits for them (the CLI,
 * `pulumi up --yes --skip-preview`, until it exits), with docker-compose bringing the seed's
 * topology up in the same run as the peer (bench/compose.ts).
 *
 * Targets: one host on Docker 26 (planned for API 1.45: health checks with a 1 s start interval),
 * one host on Docker 20.10 (API 1.41: none), and swarm mode on a one-node test swarm (Docker 26).
 * Each run deploys the dev stack (the test images, the probe in every app role) from an empty
 * backend, then: an up with nothing changed, a region added, a new game-server image (a new
 * image id that starts at once: the figure is the platform's, not the game's), and destroy.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type EngineOption, docker, ensureDockerd, newTestRun } from "../test/support/docker";
import {
  DEV_REGIONS,
  removeStackVolumes,
  engineStackName,
  newStackPlace,
  reapDeadStacks,
  stackConfig,
  tagReleases,
} from "../test/support/engineStacks";
import { ensureTestImages } from "../test/support/images";
import { engineVersion, ensureModernDockerd } from "../test/support/modernDocker";
import { EngineStack, findPulumiEngine } from "../test/support/pulumiEngine";
import { readStackFile, runProgram } from "../test/support/pulumi";
import { testSwarm } from "../test/support/swarm";
import { isoNow, log } from "./common";
import { type ComposeResult, type Spread, runComposeBench, spread } from "./compose";

export const TARGETS = ["one host, Docker 26", "one host, Docker 20.10", "swarm, one node, Docker 26"] as const;
export type Target = (typeof TARGETS)[number];
export const OPERATIONS = ["up from empty", "no-change up", "add a region", "image update", "destroy"] as const;
export type Operation = (typeof OPERATIONS)[number];

export interface DeployRow {
  target: Target;
  operation: Operation;
  runs: number;
  timing: Spread;
  /** Resources the engine created, updated, replaced or deleted (the first run's). */
  steps: number;
}

export interface DeployResult {
  date: string;
  cores: number;
  /** 1-minute load average when the part started and ended: how quiet the machine was. */
  load: { before: number; after: number };
  pulumi: string;
  engines: Record<"modern" | "default", { version: string; apiVersion: string }>;
  rows: DeployRow[];
  compose: ComposeResult;
  /** The file the rounds' samples were read from (BENCH_DEPLOY_SAMPLES), when they were not measured in this process. */
  roundsFrom?: string;
}

interface Where {
  target: Target;
  /** DOCKER_HOST of the engine the provider deploys to. */
  host: string;
  /** Where the edge's HTTP port answers (a swarm publishes on its node's own address). */
  extra: Record<string, unknown>;
}

/** A new image id that behaves as v1: what a release that starts at once looks like. */
function nextRelease(engine: EngineOption, v1: string): string {
  const next = v1.replace(/:v1$/, ":next");
  const container = docker(["create", v1], engine).trim();
  try {
    docker(["commit", "--change", "LABEL com.sectorwars.bench.release=next", container, next], engine);
  } finally {
    docker(["rm", container], engine);
  }
  return next;
}

/** One round on one target: the five operations, timed, on a stack of its own. */
async function round(
  engine: Extract<ReturnType<typeof findPulumiEngine>, { available: true }>,
  where: Where,
  id: string,
): Promise<{ operation: Operation; ms: number; steps: number }[]> {
  const on = { host: where.host };
  const { v1 } = tagReleases(on);
  const next = nextRelease(on, v1);
  const place = await newStackPlace(id);
  const stackName = engineStackName(id, "bench");
  const config = (gameserver: string, regions = DEV_REGIONS) =>
    stackConfig("dev", place, { gameserver, regions, ...where.extra });
  const stack = await EngineStack.create({ engine, stackName, dockerHost: where.host, config: config(v1) });
  const times: { operation: Operation; ms: number; steps: number }[] = [];
  const timed = async (operation: Operation, run: () => Promise<{ seconds: number; steps: unknown[] }>) => {
    const result = await run();
    times.push({ operation, ms: result.seconds * 1000, steps: result.steps.length });
    log(`deploy ${where.target}: ${operation}: ${result.seconds.toFixed(1)} s, ${result.steps.length} steps`);
  };
  // The CLI as an operator runs it (`pulumi up --yes --skip-preview`), timed until it exits.
  const up = () => stack.cli("up");
  try {
    await timed("up from empty", up);
    await timed("no-change up", up);
    const vega = { id: "vega", name: "Vega", type: "player_owned" as const, slot: 3 };
    stack.writeConfig(config(v1, [...DEV_REGIONS, vega]));
    await timed("add a region", up);
    stack.writeConfig(config(next, [...DEV_REGIONS, vega]));
    await timed("image update", up);
    await timed("destroy", () => stack.cli("destroy"));
  } finally {
    removeStackVolumes(stackName, on);
    stack.dispose();
    fs.rmSync(place.backupDir, { recursive: true, force: true });
  }
  return times;
}

export async function runDeployBench(runs: number): Promise<DeployResult> {
  const loadBefore = os.loadavg()[0] ?? 0;
  const engine = findPulumiEngine();
  if (!engine.available) throw new Error(`the deploy part needs the real Pulumi engine: ${engine.reason}`);
  await ensureDockerd();
  const modern = await ensureModernDockerd();
  const swarm = testSwarm(1, 1);
  if (!swarm.available) throw new Error(`the deploy part needs a one-node test swarm: ${swarm.reason}`);
  const node = swarm.nodes[0] as { name: string; host: string };
  const defaultHost = process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock";
  const targets: Where[] = [
    { target: "one host, Docker 26", host: modern.host, extra: {} },
    { target: "one host, Docker 20.10", host: defaultHost, extra: {} },
    {
      target: "swarm, one node, Docker 26",
      host: node.host,
      extra: {
        "sectorwars:orchestrator": "swarm",
        "sectorwars:swarm": { nodes: [{ name: node.name, cpus: 8, memoryGb: 16, edge: true }] },
      },
    },
  ];
  for (const where of targets) {
    ensureTestImages({ host: where.host });
    reapDeadStacks({ host: where.host }, where.target.startsWith("swarm"));
  }
  const samples = new Map<string, { ms: number[]; steps: number }>();
  // The rounds take half an hour: kept in a file, so that a failure after them (the compose peer)
  // can be rerun alone on them (BENCH_DEPLOY_SAMPLES=<that file>).
  const kept = process.env.BENCH_DEPLOY_SAMPLES;
  const keepFile = kept ?? path.join(os.tmpdir(), `sectorwars-bench-deploy-${process.pid}.json`);
  if (kept) {
    for (const [key, value] of Object.entries(JSON.parse(fs.readFileSync(kept, "utf8")) as Record<string, never>)) {
      samples.set(key, value);
    }
    log(`deploy: the rounds' samples from ${kept}`);
  }
  for (let r = 0; r < (kept ? 0 : runs); r++) {
    // Interleaved, so a busy moment of the machine spreads over every target.
    for (const where of targets) {
      for (const t of await round(engine, where, newTestRun("bench-deploy").id)) {
        const key = `${where.target}\0${t.operation}`;
        const entry = samples.get(key) ?? { ms: [], steps: t.steps };
        entry.ms.push(t.ms);
        samples.set(key, entry);
      }
    }
  }
  if (!kept) {
    fs.writeFileSync(keepFile, JSON.stringify(Object.fromEntries(samples)));
    log(`deploy: the rounds' samples are in ${keepFile}`);
  }
  log("deploy: compose");
  const t = newTestRun("bench-deploy");
  const program = await runProgram({ engine: "1.45", config: readStackFile("dev"), stack: `bench${t.id}` });
  const compose = await runComposeBench(program, t, { modern: { host: modern.host }, default: {} }, runs);
  const facts = async (on: EngineOption) => {
    const v = await engineVersion(on);
    return { version: v.version, apiVersion: v.apiVersion };
  };
  return {
    date: isoNow(),
    cores: os.cpus().length,
    load: { before: loadBefore, after: os.loadavg()[0] ?? 0 },
    pulumi: engine.version,
    engines: { modern: await facts({ host: modern.host }), default: await facts({}) },
    rows: targets.flatMap(({ target }) =>
      OPERATIONS.map((operation) => {
        const s = samples.get(`${target}\0${operation}`) ?? { ms: [], steps: 0 };
        return { target, operation, runs: s.ms.length, timing: spread(s.ms), steps: s.steps };
      }),
    ),
    compose,
    ...(kept ? { roundsFrom: path.basename(kept) } : {}),
  };
}
