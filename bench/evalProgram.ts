/**
 * Part 1: what evaluating the program costs under mocks (the share of `pulumi preview` that our
 * code drives), for growing region counts, each sample in a fresh process.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ROOT, log, median, round, isoNow } from "./common";
import type { EvalSample } from "./evalChild";
import { BENCH_HOST } from "./evalConfig";

export const REGION_COUNTS = [1, 10, 100, 500] as const;
/** The issue's target at 500 regions on the 2-core machine. */
export const TARGET = { regions: 500, seconds: 5, megabytes: 500 } as const;

export interface EvalRow extends EvalSample {
  runs: number;
}

export interface ProfileShare {
  category: string;
  ms: number;
  percent: number;
}

export interface EvalResult {
  date: string;
  host: typeof BENCH_HOST;
  rows: EvalRow[];
  /** Marginal cost of one more region between 100 and 500 regions. */
  perRegionMs: number;
  perRegionMb: number;
  /** time(500) / time(100), program evaluation only; 5 would be exactly linear. */
  timeRatio: number;
  /** Where the CPU time of one evaluation goes, by who owns the code (self time). */
  profile: { regions: number; shares: ProfileShare[]; top: { fn: string; ms: number }[] };
}

function child(regions: number, extraArgs: string[] = []): EvalSample {
  const result = spawnSync(
    process.execPath,
    ["--expose-gc", ...extraArgs, "--import", "tsx", path.join(__dirname, "evalChild.ts"), String(regions)],
    { cwd: ROOT, encoding: "utf8", maxBuffer: 16 * 1024 * 1024, env: { ...process.env, VITEST: "" } },
  );
  if (result.status !== 0) throw new Error(`evalChild ${regions} failed (${result.status}):\n${result.stderr}`);
  const line = result.stdout.trim().split("\n").pop() ?? "";
  return JSON.parse(line) as EvalSample;
}

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

function categoryOf(url: string, fn: string): string {
  if (url === "") return fn === "(garbage collector)" ? "garbage collection" : "V8 (parsing, compiling) and idle";
  const file = url.startsWith("file://") ? url.slice("file://".length) : url;
  if (file.startsWith("node:")) return "Node.js internals";
  if (file.includes("/node_modules/@pulumi/pulumi/")) return "Pulumi SDK (@pulumi/pulumi)";
  if (file.includes("/node_modules/@pulumi/")) return "provider SDKs (@pulumi/docker, command, ...)";
  if (file.includes("/node_modules/")) return "other dependencies (tsx, protobuf, grpc, ...)";
  if (file.startsWith(path.join(ROOT, "test"))) return "mock harness (test/support)";
  for (const own of ["index.ts", "components", "planning"]) {
    if (file.startsWith(path.join(ROOT, own))) return "our program (index.ts, components/, planning/)";
  }
  return "other";
}

/** One profiled evaluation: self time by owner, and the hottest functions. */
function profileOnce(regions: number): EvalResult["profile"] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-prof-"));
  try {
    child(regions, ["--cpu-prof", `--cpu-prof-dir=${dir}`]);
    const file = fs.readdirSync(dir).find((f) => f.endsWith(".cpuprofile"));
    if (!file) throw new Error("no CPU profile written");
    const profile = JSON.parse(fs.readFileSync(path.join(dir, file), "utf8")) as CpuProfile;
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const byCategory = new Map<string, number>();
    const byFunction = new Map<string, number>();
    let total = 0;
    profile.samples.forEach((id, i) => {
      const node = byId.get(id);
      const us = profile.timeDeltas[i] ?? 0;
      if (!node) return;
      total += us;
      const { url, functionName, lineNumber } = node.callFrame;
      const category = categoryOf(url, functionName);
      byCategory.set(category, (byCategory.get(category) ?? 0) + us);
      const where = url.replace(/^.*\/node_modules\//, "").replace(`file://${ROOT}/`, "");
      const fn = `${functionName || "(anonymous)"} ${where}${where ? `:${lineNumber + 1}` : ""}`;
      byFunction.set(fn, (byFunction.get(fn) ?? 0) + us);
    });
    const shares = [...byCategory]
      .sort((a, b) => b[1] - a[1])
      .map(([category, us]) => ({ category, ms: round(us / 1000), percent: round((100 * us) / total, 1) }));
    const top = [...byFunction]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 6)
      .map(([fn, us]) => ({ fn, ms: round(us / 1000) }));
    return { regions, shares, top };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function runEvalBench(runs: number): EvalResult {
  const rows: EvalRow[] = [];
  for (const regions of REGION_COUNTS) {
    // 500 regions take tens of seconds per run: three runs still give a median.
    const count = regions >= 500 ? Math.min(runs, 3) : runs;
    const samples: EvalSample[] = [];
    for (let i = 0; i < Math.max(count, 1); i++) {
      const sample = child(regions);
      log(
        `eval ${regions} regions, run ${i + 1}/${count}: ${round(sample.evalMs)} ms, peak ${round(sample.peakRssMb)} MB`,
      );
      samples.push(sample);
    }
    const med = (pick: (s: EvalSample) => number) => median(samples.map(pick));
    rows.push({
      regions,
      runs: samples.length,
      resources: samples[0]?.resources ?? 0,
      loadMs: med((s) => s.loadMs),
      evalMs: med((s) => s.evalMs),
      baselineRssMb: med((s) => s.baselineRssMb),
      peakRssMb: med((s) => s.peakRssMb),
      heapAfterGcMb: med((s) => s.heapAfterGcMb),
    });
  }
  const at = (n: number): EvalRow => {
    const row = rows.find((r) => r.regions === n);
    if (!row) throw new Error(`no row for ${n} regions`);
    return row;
  };
  log("eval: one profiled run at 100 regions");
  return {
    date: isoNow(),
    host: BENCH_HOST,
    rows,
    perRegionMs: (at(500).evalMs - at(100).evalMs) / 400,
    perRegionMb: (at(500).peakRssMb - at(100).peakRssMb) / 400,
    timeRatio: at(500).evalMs / at(100).evalMs,
    profile: profileOnce(100),
  };
}
