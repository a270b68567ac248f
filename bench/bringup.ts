/**
 * Part 4: how long a bring-up waits, on real engines. Each container kind is started from the
 * program's own declaration (mocked run, translated by test/support/containerSpec.ts, test images
 * standing in for the official ones) and timed from `docker create` until Docker reports it
 * healthy: on the modern engine (API 1.45) as planned for it (1 s start interval) and as planned
 * for API 1.41 (none), and on the default engine (20.10) as planned for it. The commands a deploy
 * waits for run as declared. Those figures weight the program's dependency graph, whose longest
 * chain of waits is the best figure for a `pulumi up` that cannot run here (no Pulumi CLI), and
 * docker-compose brings the seed's topology up beside it (bench/compose.ts).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { blastRadius } from "../test/support/diff";
import {
  type EngineOption,
  type TestRun,
  docker,
  ensureDockerd,
  newTestRun,
  reapDeadRuns,
  removeLabelled,
} from "../test/support/docker";
import { TEST_IMAGES, ensureTestImages } from "../test/support/images";
import { engineVersion, ensureModernDockerd } from "../test/support/modernDocker";
import { type ProgramRun, readStackFile, runProgram } from "../test/support/pulumi";
import { selfSignedPem } from "../test/support/tls";
import { type Durations, type PathResult, bringupPath, declared, weightedNodes } from "./bringupGraph";
import { POLL_MS, type Sample, startUntilHealthy, timeCommand, timeDocker } from "./bringupMeasure";
import { isoNow, log, median } from "./common";
import { type ComposeResult, type Spread, runComposeBench, spread } from "./compose";

const KIND = "bench-bringup";
/** "A game server loading its world": the probe holds its listener back this long. */
const LOADING_DELAY_MS = 8_000;

type Engine = "modern" | "default";
type DeclaredFor = "1.45" | "1.41";
interface Variant {
  engine: Engine;
  declaredFor: DeclaredFor;
}
const VARIANTS: Variant[] = [
  { engine: "modern", declaredFor: "1.45" },
  { engine: "modern", declaredFor: "1.41" },
  { engine: "default", declaredFor: "1.41" },
];

/** What is measured per variant: the declaration it comes from, the image, extra environment. */
const MEASURED_KINDS = ["postgres", "redis", "edge", "probe", "probe, loading its world"] as const;
export type MeasuredKind = (typeof MEASURED_KINDS)[number];
const SUBJECTS: Record<MeasuredKind, { resource: string; image: string; env?: Record<string, string> }> = {
  postgres: { resource: "region-default-db", image: TEST_IMAGES.postgres },
  redis: { resource: "redis-server", image: TEST_IMAGES.redis },
  edge: { resource: "edge", image: TEST_IMAGES.nginx },
  probe: { resource: "region-default-api", image: TEST_IMAGES.probe },
  "probe, loading its world": {
    resource: "region-default-api",
    image: TEST_IMAGES.probe,
    env: { PROBE_START_DELAY_MS: String(LOADING_DELAY_MS) },
  },
};

export interface KindRow extends Variant {
  kind: MeasuredKind;
  /** The declared health check's start interval, or null (none declared). */
  startInterval: string | null;
  /** The declared health check's interval. */
  interval: string;
  runs: number;
  createToHealthy: Spread;
  /** Median, engine clock: StartedAt to the end of the first passing check. */
  engineStartToHealthyMs: number;
}

export const COMMAND_STEPS = [
  "network create",
  "volume create",
  "backups-run, empty stack",
  "backups-run, stack running",
  "password sync",
  "edge reload",
] as const;
export type CommandStep = (typeof COMMAND_STEPS)[number];
export interface CommandRow {
  engine: Engine;
  step: CommandStep;
  runs: number;
  timing: Spread;
}

export interface PathRow extends Variant {
  scenario: "bring-up from empty" | "add a region";
  /** The game APIs: the probe as it is, or loading its world first. */
  api: "probe" | "probe, loading its world";
  path: PathResult;
}

export interface BringupResult {
  date: string;
  cores: number;
  /** 1-minute load average when the part started and ended: how quiet the machine was. */
  load: { before: number; after: number };
  /** Containers of others running on each engine when the part started. */
  otherContainers: Record<Engine, number>;
  engines: Record<Engine, { version: string; apiVersion: string }>;
  pollMs: number;
  loadingDelayMs: number;
  kinds: KindRow[];
  commands: CommandRow[];
  /** How each step kind of the graph was weighted (measured or estimated, and on what). */
  estimates: { kind: string; ms: number; note: string }[];
  paths: PathRow[];
  compose: ComposeResult;
}

/** The dev stack under the bench's own names, stack label and backup directory. */
function benchConfig(t: TestRun, backupDir: string, extraRegion: boolean): Record<string, unknown> {
  const dev = readStackFile("dev");
  const regions = dev["sectorwars:regions"] as { slot: number }[];
  const added = { id: "vega", name: "Vega", type: "player_owned", slot: Math.max(...regions.map((r) => r.slot)) + 1 };
  return {
    ...dev,
    ...(extraRegion ? { "sectorwars:regions": [...regions, added] } : {}),
    "sectorwars:namePrefix": `swb${t.id}`,
    "sectorwars:backup": { dir: backupDir, schedule: "off" },
  };
}

export async function runBringupBench(runs: number): Promise<BringupResult> {
  const loadBefore = os.loadavg()[0] ?? 0;
  await ensureDockerd();
  const modern = await ensureModernDockerd();
  const engines: Record<Engine, EngineOption> = { default: {}, modern: { host: modern.host } };
  const t = newTestRun(KIND);
  const otherContainers = {} as Record<Engine, number>;
  for (const engine of ["default", "modern"] as Engine[]) {
    ensureTestImages(engines[engine]);
    reapDeadRuns(KIND, engines[engine]);
    otherContainers[engine] = docker(["ps", "-q"], engines[engine]).split("\n").filter(Boolean).length;
  }
  const backupDir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-backups-"));
  const tls = selfSignedPem("localhost");
  const secrets = { "sectorwars:tlsCertificate": tls.certificate, "sectorwars:tlsPrivateKey": tls.key };
  const declare = (declaredFor: DeclaredFor, extraRegion = false) =>
    runProgram({ engine: declaredFor, config: benchConfig(t, backupDir, extraRegion), secrets, stack: `bench${t.id}` });
  const programs: Record<DeclaredFor, ProgramRun> = { "1.45": await declare("1.45"), "1.41": await declare("1.41") };
  try {
    for (const engine of ["default", "modern"] as Engine[]) {
      for (const n of programs["1.41"].ofType("docker:index/network:Network")) {
        const internal = n.inputs.internal ? ["--internal"] : [];
        docker(["network", "create", ...internal, ...t.labels.flatMap((l) => ["--label", l]), String(n.inputs.name)], engines[engine]); // prettier-ignore
      }
    }
    const { kinds, commandSamples } = await measureKinds(programs, engines, t, runs);
    const commands = [
      ...(await measureCommands(programs, engines, t, Math.min(runs, 3))),
      ...commandRows(commandSamples),
    ];
    log("bringup: compose");
    const compose = await runComposeBench(programs["1.41"], t, engines, Math.min(runs, 3));
    const grown = { "1.45": await declare("1.45", true), "1.41": await declare("1.41", true) };
    const { estimates, paths } = criticalPaths(programs, grown, kinds, commands);
    const engineFacts = {} as BringupResult["engines"];
    for (const engine of ["default", "modern"] as Engine[]) {
      const v = await engineVersion(engines[engine]);
      engineFacts[engine] = { version: v.version, apiVersion: v.apiVersion };
    }
    return {
      date: isoNow(),
      cores: os.cpus().length,
      load: { before: loadBefore, after: os.loadavg()[0] ?? 0 },
      otherContainers,
      engines: engineFacts,
      pollMs: POLL_MS,
      loadingDelayMs: LOADING_DELAY_MS,
      kinds,
      commands,
      estimates,
      paths,
      compose,
    };
  } finally {
    for (const engine of ["default", "modern"] as Engine[]) removeLabelled(t.runLabel, engines[engine]);
    fs.rmSync(backupDir, { recursive: true, force: true });
  }
}

type CommandSamples = Partial<Record<`${Engine}:${CommandStep}`, number[]>>;

/**
 * Every kind on every variant, `runs` rounds interleaved (so a busy moment of the machine spreads
 * over all of them). Without a start interval a check waits whole intervals, which runs do not
 * change: those variants get at most 3 runs. After a PostgreSQL or nginx container is healthy,
 * the declared password sync or edge reload runs on it, timed.
 */
async function measureKinds(
  programs: Record<DeclaredFor, ProgramRun>,
  engines: Record<Engine, EngineOption>,
  t: TestRun,
  runs: number,
): Promise<{ kinds: KindRow[]; commandSamples: CommandSamples }> {
  const samples = new Map<string, Sample[]>();
  const commandSamples: CommandSamples = {};
  const note = (engine: Engine, step: CommandStep, ms: number) => (commandSamples[`${engine}:${step}`] ??= []).push(ms);
  for (let round = 0; round < runs; round++) {
    for (const variant of VARIANTS) {
      if (variant.declaredFor === "1.41" && round >= 3) continue;
      const program = programs[variant.declaredFor];
      const on = engines[variant.engine];
      for (const kind of MEASURED_KINDS) {
        const subject = SUBJECTS[kind];
        const c = declared(program, subject.resource);
        const running = await startUntilHealthy(c, { image: subject.image, t, on, ...(subject.env ? { extraEnv: subject.env } : {}) }); // prettier-ignore
        try {
          if (kind === "postgres") note(variant.engine, "password sync", timeCommand(declared(program, "region-default-db-password-sync"), on)); // prettier-ignore
          if (kind === "edge") note(variant.engine, "edge reload", timeCommand(declared(program, "edge-reload"), on));
        } finally {
          running.remove();
        }
        const key = `${variant.engine}:${variant.declaredFor}:${kind}`;
        samples.set(key, [...(samples.get(key) ?? []), running.sample]);
        log(`bringup round ${round + 1}: ${key}: ${Math.round(running.sample.createToHealthyMs)} ms to healthy`);
      }
    }
  }
  const kinds = VARIANTS.flatMap((variant) =>
    MEASURED_KINDS.map((kind): KindRow => {
      const s = samples.get(`${variant.engine}:${variant.declaredFor}:${kind}`) ?? [];
      const hc = declared(programs[variant.declaredFor], SUBJECTS[kind].resource).inputs.healthcheck as {
        interval: string;
        startInterval?: string;
      };
      return {
        ...variant,
        kind,
        startInterval: hc.startInterval ?? null,
        interval: hc.interval,
        runs: s.length,
        createToHealthy: spread(s.map((x) => x.createToHealthyMs)),
        engineStartToHealthyMs: median(s.map((x) => x.engineStartToHealthyMs)),
      };
    }),
  );
  return { kinds, commandSamples };
}

function commandRows(samples: CommandSamples): CommandRow[] {
  return Object.entries(samples).map(([key, values]) => {
    const [engine, step] = key.split(":") as [Engine, CommandStep];
    return { engine, step, runs: values.length, timing: spread(values) };
  });
}

/**
 * Per engine: creating a network and a volume (what the graph's Network and Volume resources
 * do), and the declared backup command over an empty stack (a first deploy) and over the dev
 * stack's databases and Redis running (what a deploy that adds a region backs up first).
 */
async function measureCommands(
  programs: Record<DeclaredFor, ProgramRun>,
  engines: Record<Engine, EngineOption>,
  t: TestRun,
  runs: number,
): Promise<CommandRow[]> {
  const rows: CommandRow[] = [];
  const labels = t.labels.flatMap((l) => ["--label", l]);
  for (const engine of ["modern", "default"] as Engine[]) {
    const on = engines[engine];
    const program = programs[engine === "modern" ? "1.45" : "1.41"];
    const times = (step: CommandStep, once: (i: number) => number) => {
      const values = Array.from({ length: runs }, (_, i) => once(i));
      log(`bringup ${engine}: ${step}: ${values.map(Math.round).join(", ")} ms`);
      rows.push({ engine, step, runs, timing: spread(values) });
    };
    times("network create", (i) => timeDocker(["network", "create", ...labels, `swb${t.id}-n${i}`], ["network", "rm"], on)); // prettier-ignore
    times("volume create", (i) => timeDocker(["volume", "create", ...labels, `swb${t.id}-v${i}`], ["volume", "rm"], on)); // prettier-ignore
    const backup = declared(program, "backups-run");
    times("backups-run, empty stack", () => timeCommand(backup, on));
    const data = ["nexus-db", "region-default-db", "region-orion-db", "redis-server"].map((n) => declared(program, n));
    const image = (name: string) => (name === "redis-server" ? TEST_IMAGES.redis : TEST_IMAGES.postgres);
    const running = await Promise.all(data.map((c) => startUntilHealthy(c, { image: image(c.name), t, on })));
    try {
      times("backups-run, stack running", () => timeCommand(backup, on));
    } finally {
      for (const r of running) r.remove();
    }
  }
  return rows;
}

/** The bring-up's critical paths from the measured figures, for every variant and both APIs. */
function criticalPaths(
  programs: Record<DeclaredFor, ProgramRun>,
  grown: Record<DeclaredFor, ProgramRun>,
  kinds: readonly KindRow[],
  commands: readonly CommandRow[],
): { estimates: BringupResult["estimates"]; paths: PathRow[] } {
  const kindMs = (v: Variant, kind: MeasuredKind): number => {
    const row = kinds.find((k) => k.engine === v.engine && k.declaredFor === v.declaredFor && k.kind === kind);
    if (!row) throw new Error(`no figure for ${kind} on ${v.engine} (declared for ${v.declaredFor})`);
    return row.createToHealthy.medianMs;
  };
  const commandMs = (engine: Engine, step: CommandStep): number => {
    const row = commands.find((c) => c.engine === engine && c.step === step);
    if (!row) throw new Error(`no figure for ${step} on ${engine}`);
    return row.timing.medianMs;
  };
  const estimates = [
    { kind: "images", ms: 0, note: "already on the host on both sides (the test images)" },
    { kind: "passwords and TLS material", ms: 0, note: "generated in-process by their providers" },
  ];
  const measured = (ms: number) => ({ ms, source: "measured" as const });
  const paths: PathRow[] = [];
  for (const v of VARIANTS) {
    for (const api of ["probe", "probe, loading its world"] as const) {
      const durations = (backup: CommandStep): Durations => ({
        postgres: measured(kindMs(v, "postgres")),
        redis: measured(kindMs(v, "redis")),
        edge: measured(kindMs(v, "edge")),
        "game-api": measured(kindMs(v, api)),
        "web-app": measured(kindMs(v, "probe")),
        backup: measured(commandMs(v.engine, backup)),
        "password-sync": measured(commandMs(v.engine, "password sync")),
        "edge-reload": measured(commandMs(v.engine, "edge reload")),
        network: measured(commandMs(v.engine, "network create")),
        volume: measured(commandMs(v.engine, "volume create")),
        image: { ms: 0, source: "estimate" },
        generated: { ms: 0, source: "estimate" },
      });
      const base = programs[v.declaredFor];
      const fromEmpty = bringupPath(weightedNodes(base.resources, durations("backups-run, empty stack")));
      paths.push({ ...v, scenario: "bring-up from empty", api, path: fromEmpty });
      const after = grown[v.declaredFor];
      const radius = blastRadius(base.resources, after.resources);
      const changed = new Set([...radius.created, ...radius.replaced].map((c) => c.urn));
      const added = bringupPath(weightedNodes(after.resources, durations("backups-run, stack running"), changed));
      paths.push({ ...v, scenario: "add a region", api, path: added });
    }
  }
  return { estimates, paths };
}
