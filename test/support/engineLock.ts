/**
 * Setup file of the `engines` project (vitest.config.mts): one file at a time on this machine's
 * Docker engines and test swarms. The files of that project share engines, swarm clusters and the
 * real Pulumi engine's plugins, and they time deploys; the `host` project's files share nothing and
 * run beside them in the second worker. A lock rather than `fileParallelism: false`, because vitest
 * runs a project of one worker after the others instead of beside them.
 *
 * The lock is a directory holding its owner's pid: created atomically, taken over when its owner is
 * gone (a run killed midway), released when the file's tests are done. Another `npm test` on the
 * same machine waits for it too, which is what two runs sharing one swarm cluster need.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll } from "vitest";
import { alive } from "./process";

const LOCK = path.join(os.tmpdir(), "sectorwars-engine-tests.lock");
const OWNER = path.join(LOCK, "pid");
const POLL_MS = 250;

const ownerOf = (): number | undefined => {
  try {
    return Number(fs.readFileSync(OWNER, "utf8")) || undefined;
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

function tryTake(): boolean {
  try {
    fs.mkdirSync(LOCK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    const owner = ownerOf();
    // A lock without a pid is being taken right now (mkdir, then the pid), unless that was long ago.
    if (owner === undefined ? Date.now() - mtimeMs(LOCK) < 10_000 : alive(owner)) return false;
    fs.rmSync(LOCK, { recursive: true, force: true });
    return false;
  }
  fs.writeFileSync(OWNER, String(process.pid));
  return true;
}

function release(): void {
  if (ownerOf() === process.pid) fs.rmSync(LOCK, { recursive: true, force: true });
}

/** Sleeps without returning to the event loop: nothing else of this file may run before the lock is held. */
const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

// At import, before the test file is even imported: files start engines and swarms while they are
// collected (test/support/swarm.ts), which must not happen beside another file's tests. The wait
// can last as long as the longest engine file, beyond any hook's timeout.
while (!tryTake()) sleep(POLL_MS);
afterAll(release);
process.on("exit", release);
