/**
 * `npm run bench`: the benchmarks (one part each), kept out of `npm test`. Results are kept in
 * bench/results.json, so `--only` re-measures one part and BENCHMARKS.md is still rendered whole.
 *
 *   npm run bench                      # everything (about an hour on 2 cores)
 *   npm run bench -- --only eval       # eval | blast | edge | deploy | recovery, comma-separated
 *   npm run bench -- --runs 5 --duration 10
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { runBlastBench } from "./blast";
import { runDeployBench } from "./deploy";
import { PARTS, type Part, ROOT, describeMachine, log } from "./common";
import { runEdgeBench } from "./edge";
import { runRecoveryBench } from "./recovery";
import { runEvalBench } from "./evalProgram";
import { type Results, renderReport } from "./report";

const RESULTS = path.join(__dirname, "results.json");
const REPORT = path.join(ROOT, "BENCHMARKS.md");

function positive(value: string | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${what} must be a positive integer, got ${value}`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      only: { type: "string" },
      runs: { type: "string" },
      duration: { type: "string" },
      // Re-renders BENCHMARKS.md from bench/results.json without measuring anything.
      render: { type: "boolean" },
    },
  });
  const only = values.render ? [] : (values.only ?? PARTS.join(",")).split(",").map((p) => p.trim());
  const unknown = only.filter((p) => !(PARTS as readonly string[]).includes(p));
  if (unknown.length > 0) throw new Error(`--only takes ${PARTS.join(", ")}; got ${unknown.join(", ")}`);
  const wanted = new Set(only as Part[]);
  const runs = positive(values.runs, 5, "--runs");
  const duration = positive(values.duration, 10, "--duration");

  const previous: Partial<Results> = fs.existsSync(RESULTS)
    ? (JSON.parse(fs.readFileSync(RESULTS, "utf8")) as Partial<Results>)
    : {};
  // The machine block describes where a run of every part ran; a run of some parts records its
  // machine for those parts only, so the block never claims a machine the other parts did not run on.
  const machine = describeMachine();
  const measured = PARTS.filter((p) => wanted.has(p));
  const results: Results =
    values.render && previous.machine
      ? (previous as Results)
      : measured.length === PARTS.length || !previous.machine
        ? { ...previous, machine, machines: {} }
        : {
            ...previous,
            machine: previous.machine,
            machines: { ...previous.machines, ...Object.fromEntries(measured.map((p) => [p, machine])) },
          };
  const save = (): void => {
    fs.writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
    fs.writeFileSync(REPORT, renderReport(results));
  };

  // The real-engine parts first: they are the ones most disturbed by a machine still busy with the others.
  if (wanted.has("deploy")) {
    const rounds = Math.min(runs, 3);
    log(`deploy: ${rounds} rounds of real pulumi up on each target, then compose`);
    results.deploy = await runDeployBench(rounds);
    // The part it replaced (a critical-path estimate of the bring-up) is gone, with its machine.
    delete (results as { bringup?: unknown }).bringup;
    delete (results.machines as Record<string, unknown> | undefined)?.bringup;
    save();
  }
  if (wanted.has("recovery")) {
    const rounds = Math.min(runs, 3);
    log(`recovery: a 1 GB database, then ${rounds} losses and restores`);
    results.recovery = await runRecoveryBench(rounds);
    save();
  }
  if (wanted.has("edge")) {
    log(`edge: ${Math.max(1, Math.min(runs, 5))} runs of ${duration} s per variant`);
    results.edge = await runEdgeBench(Math.max(1, Math.min(runs, 5)), duration);
    save();
  }
  if (wanted.has("blast")) {
    log("blast: mocked runs of the scenarios");
    results.blast = await runBlastBench();
    save();
  }
  if (wanted.has("eval")) {
    log(`eval: ${runs} runs per size (3 at 500 regions), each in a fresh process`);
    results.eval = runEvalBench(runs);
    save();
  }
  if (values.render) save();
  // Both files are committed; `npm run lint` checks the JSON, and *.md is only ignored by the
  // repo's .prettierignore, so format them with no ignore file.
  const prettier = spawnSync(
    path.join(ROOT, "node_modules", ".bin", "prettier"),
    ["--write", "--ignore-path", "/dev/null", RESULTS, REPORT],
    { encoding: "utf8" },
  );
  if (prettier.status !== 0) throw new Error(`prettier failed: ${prettier.stderr}`);
  log(`wrote ${path.relative(ROOT, REPORT)} and ${path.relative(ROOT, RESULTS)}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
