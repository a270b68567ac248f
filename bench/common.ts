/**
 * What the bench parts share: statistics, the machine description, shell helpers.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { NGINX_BIN } from "../test/support/nginx";

export const ROOT = path.resolve(__dirname, "..");

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** The parts of `npm run bench`, in the order BENCHMARKS.md shows them. */
export const PARTS = ["eval", "blast", "edge", "deploy", "recovery"] as const;
export type Part = (typeof PARTS)[number];

export interface Machine {
  date: string;
  cpu: string;
  cores: number;
  memoryGb: number;
  kernel: string;
  node: string;
  nginx: string;
  wrk: string;
}

/** First line of a tool's version output (nginx and wrk print it on stderr; wrk exits 1). */
function versionOf(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: "utf8" });
  if (result.error) return "not installed";
  return `${result.stdout}${result.stderr}`.split("\n")[0]?.trim() ?? "unknown";
}

export function describeMachine(): Machine {
  const cpuinfo = fs.existsSync("/proc/cpuinfo") ? fs.readFileSync("/proc/cpuinfo", "utf8") : "";
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? "unknown";
  return {
    date: isoNow(),
    cpu: model.trim(),
    cores: os.cpus().length,
    memoryGb: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    nginx: versionOf(NGINX_BIN, ["-v"]).replace(/^nginx version:\s*/, ""),
    wrk: versionOf("wrk", ["--version"]).replace(/\s+Copyright.*$/, ""),
  };
}

/** Now, to the second, as the report's timestamps show it. */
export const isoNow = (): string => new Date().toISOString().replace(/\.\d+Z$/, "Z");

export const log = (message: string): void => {
  process.stderr.write(`[bench] ${message}\n`);
};

export const round = (value: number, digits = 0): number => {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
};
