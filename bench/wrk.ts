/**
 * wrk, the load generator of the edge bench (bench/edge.ts): installing it, running it (pinned to
 * its own CPU when there are two), and reading its report; plus the /proc and taskset helpers the
 * bench uses to pin the server side and count nginx workers.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import { log } from "./common";

export const WRK_THREADS = 2;
export const WRK_CONNECTIONS = 64;

export interface WrkStats {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Non-2xx answers plus socket errors: must be 0 for the numbers to count. */
  errors: number;
}

/** Installs Debian's wrk when it is missing and we are root; otherwise says how. */
export function ensureWrk(): void {
  if (!spawnSync("wrk", ["--version"]).error) return;
  if (process.getuid?.() !== 0) throw new Error("wrk is not installed: apt-get install -y wrk (as root)");
  log("installing wrk (apt-get install -y wrk)");
  let install = spawnSync("apt-get", ["install", "-y", "wrk"], { encoding: "utf8", stdio: "inherit" });
  if (install.status !== 0) {
    spawnSync("apt-get", ["update"], { stdio: "inherit" });
    install = spawnSync("apt-get", ["install", "-y", "wrk"], { encoding: "utf8", stdio: "inherit" });
  }
  if (install.status !== 0) throw new Error("apt-get install -y wrk failed");
}

function toMs(value: string, unit: string): number {
  const n = Number(value);
  return unit === "us" ? n / 1000 : unit === "s" ? n * 1000 : n;
}

function parseWrk(output: string): WrkStats {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(output);
  const p50 = /^\s+50%\s+([\d.]+)(us|ms|s)$/m.exec(output);
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s)$/m.exec(output);
  const requests = /(\d+) requests in/.exec(output);
  if (!rps || !p50 || !p99 || !requests) throw new Error(`unexpected wrk output:\n${output}`);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const socketErrors = socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  return {
    rps: Number(rps[1]),
    p50Ms: toMs(p50[1] as string, p50[2] as string),
    p99Ms: toMs(p99[1] as string, p99[2] as string),
    requests: Number(requests[1]),
    errors: non2xx + socketErrors,
  };
}

/**
 * CPU pinning: wrk on CLIENT_CPU, everything that serves (the backends, the edges, and this
 * process, which answers the edges' DNS queries) on SERVER_CPU, so the load generator does not
 * compete with what it measures. Off when taskset is missing, with fewer than 2 CPUs, or with
 * BENCH_EDGE_PIN=0.
 */
export const CLIENT_CPU = 0;
export const SERVER_CPU = 1;

export function pinningWanted(): boolean {
  if (process.env.BENCH_EDGE_PIN === "0") return false;
  if (os.cpus().length < 2) return false;
  return !spawnSync("taskset", ["--version"]).error;
}

/** Pins every thread of this process to `cpus` (children inherit it); returns the previous mask. */
export function pinSelf(cpus: string): string {
  const current = spawnSync("taskset", ["-p", String(process.pid)], { encoding: "utf8" });
  const mask = /mask:\s*([0-9a-f]+)/i.exec(current.stdout)?.[1];
  if (current.status !== 0 || !mask) throw new Error(`taskset -p failed: ${current.stderr}`);
  const set = spawnSync("taskset", ["-a", "-p", "-c", cpus, String(process.pid)], { encoding: "utf8" });
  if (set.status !== 0) throw new Error(`taskset -a -p -c ${cpus} failed: ${set.stderr}`);
  return mask;
}

export function restoreSelf(mask: string): void {
  spawnSync("taskset", ["-a", "-p", mask, String(process.pid)], { encoding: "utf8" });
}

/** nginx worker processes under a master: children found through /proc. */
export function childCount(pid: number): number {
  let count = 0;
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      // pid (comm) state ppid …; comm may contain spaces, so split after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) count++;
    } catch {
      // the process exited meanwhile
    }
  }
  return count;
}

/** Asynchronous on purpose: the fake DNS answers nginx from this process's event loop. */
export function wrk(url: string, seconds: number, pinned: boolean): Promise<WrkStats> {
  return new Promise((resolve, reject) => {
    const args = [`-t${WRK_THREADS}`, `-c${WRK_CONNECTIONS}`, `-d${seconds}s`, "--latency", url];
    const child = pinned
      ? spawn("taskset", ["-c", String(CLIENT_CPU), "wrk", ...args], { stdio: ["ignore", "pipe", "pipe"] })
      : spawn("wrk", args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.on("error", reject);
    child.on("exit", (code) => {
      if (code !== 0) reject(new Error(`wrk exited ${code}:\n${output}`));
      else {
        try {
          resolve(parseWrk(output));
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      }
    });
  });
}
