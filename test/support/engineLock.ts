/**
 * Setup file of the engine projects (vitest.config.mts): one file at a time in each lane of this
 * machine's Docker engines and test swarms. A lane's files share engines, swarm clusters and
 * ports, and they time deploys; files of the other lane and the `host` project's files run beside
 * them. A lock rather than `fileParallelism: false`, because vitest runs a project of one worker
 * after the others instead of beside them.
 *
 * Each lane's lock is a directory holding its owner's pid: created atomically, taken over when its
 * owner is gone (a run killed midway), released when the file's tests are done. Another `npm test`
 * on the same machine waits for it too, which is what two runs sharing one swarm cluster need. A
 * file of several lanes takes their locks in one order (sorted), so two such files cannot deadlock.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll } from "vitest";
import { alive } from "./process";

const LANES = (process.env.SECTORWARS_ENGINE_LANES ?? "")
  .split(",")
  .filter((l) => l !== "")
  .sort();
if (LANES.length === 0) throw new Error("SECTORWARS_ENGINE_LANES is unset: run engine files through vitest.config.mts");
const POLL_MS = 250;

const lockDir = (lane: string) => path.join(os.tmpdir(), `sectorwars-engine-tests.${lane}.lock`);
const ownerFile = (lane: string) => path.join(lockDir(lane), "pid");

const ownerOf = (lane: string): number | undefined => {
  try {
    return Number(fs.readFileSync(ownerFile(lane), "utf8")) || undefined;
  } catch {
    return undefined;
  }
};

const mtimeMs = (file: string): number => {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
};

function tryTake(lane: string): boolean {
  try {
    fs.mkdirSync(lockDir(lane));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    const owner = ownerOf(lane);
    // A lock without a pid is being taken right now (mkdir, then the pid), unless that was long ago.
    if (owner === undefined ? Date.now() - mtimeMs(lockDir(lane)) < 10_000 : alive(owner)) return false;
    fs.rmSync(lockDir(lane), { recursive: true, force: true });
    return false;
  }
  fs.writeFileSync(ownerFile(lane), String(process.pid));
  return true;
}

function release(): void {
  for (const lane of LANES)
    if (ownerOf(lane) === process.pid) fs.rmSync(lockDir(lane), { recursive: true, force: true });
}

/** Sleeps without returning to the event loop: nothing else of this file may run before the lock is held. */
const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

// At import, before the test file is even imported: files start engines and swarms while they are
// collected (test/support/swarm.ts), which must not happen beside another file's tests. The wait
// can last as long as the longest file of the lane, beyond any hook's timeout.
for (const lane of LANES) while (!tryTake(lane)) sleep(POLL_MS);
afterAll(release);
process.on("exit", release);
