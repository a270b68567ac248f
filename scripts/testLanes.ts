/**
 * `npm test`'s runner (after the type check and lint): two vitest processes side by side, each one
 * file at a time, so that this 2-core machine never runs more than two test files at once.
 *   one-host: the files that deploy on the default and modern Docker engines;
 *   swarm+host: the files that own the test swarms' dockerds, then the host files (mocks, planners,
 *             real servers on 127.0.0.1), which need no engine.
 * The lanes share nothing a test times (each owns its engines; the swarm files use the default
 * engine only for side servers under names of their own), and are about as long as each other:
 * side by side they take half of one after the other. Four workers in one vitest process did
 * worse here: the host files and two engine files at once on two cores slowed every deploy and
 * timed out a CPU-bound property test.
 *
 * Each line is prefixed with its lane; the exit code is the worse of the two. Extra arguments go
 * to both vitest processes (a file filter, -t).
 */
import { spawn } from "node:child_process";
import * as readline from "node:readline";

const LANES = [
  { name: "one-host", projects: ["engines:one-host"] },
  { name: "swarm+host", projects: ["engines:swarm", "engines:both", "host"] },
] as const;

function runLane(lane: (typeof LANES)[number], extra: string[]): Promise<number> {
  // A filter that leaves a lane no file is no failure of that lane.
  const args = [
    "vitest",
    "run",
    "--maxWorkers=1",
    "--passWithNoTests",
    ...lane.projects.flatMap((p) => ["--project", p]),
    ...extra,
  ];
  const child = spawn("npx", args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
  const prefix = `[${lane.name}] `;
  for (const [stream, out] of [
    [child.stdout, process.stdout],
    [child.stderr, process.stderr],
  ] as const) {
    readline.createInterface({ input: stream }).on("line", (line) => out.write(`${prefix}${line}\n`));
  }
  return new Promise((resolve) => child.on("close", (code) => resolve(code ?? 1)));
}

async function main(): Promise<void> {
  const started = Date.now();
  const extra = process.argv.slice(2);
  const codes = await Promise.all(LANES.map((lane) => runLane(lane, extra)));
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  const summary = LANES.map((lane, i) => `${lane.name} ${codes[i] === 0 ? "passed" : `failed (${codes[i]})`}`);
  console.log(`\ntest lanes: ${summary.join(", ")}; ${minutes} min`);
  process.exitCode = codes.some((c) => c !== 0) ? 1 : 0;
}

void main();
