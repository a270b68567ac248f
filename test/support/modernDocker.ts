/**
 * A second, modern Docker engine (Debian trixie's docker.io 26, API 1.45) beside the default one
 * (Debian bookworm's 20.10, API 1.41), for tests of what only API >= 1.44 can do: health checks
 * with `start_interval`. scripts/modern-dockerd.sh fetches and starts it (see DEVELOPERS.md); the
 * docker helpers of docker.ts reach it with `{ host }`.
 *
 * A test file that needs it asks modernDockerd() while vitest collects it and runs those tests
 * with `describe.runIf(modern.available)`: they are skipped, with the reason printed, only when
 * the machine cannot run a second engine at all (not root, no permission to create a bridge,
 * trixie's packages unreachable with nothing cached). Any other failure fails the file.
 */
import * as path from "node:path";
import { type EngineOption, engineRequest, ensureCommands, run } from "./docker";
import { IMAGE_CACHE_DIR } from "./images";
import type { Availability } from "./engineSuites";

const MODERN_DOCKERD_SCRIPT = path.resolve(__dirname, "../../scripts/modern-dockerd.sh");
const MODERN_DOCKERD_LOG = "/var/log/sectorwars-test-modern-dockerd.log";

/** The first Engine API version that takes a health check's start_interval. */
export const START_INTERVAL_API = "1.44";

/** The script's "this machine cannot run a second engine" exit status. */
const UNAVAILABLE = 3;

export interface Engine {
  /** DOCKER_HOST value: pass as `{ host }` to the docker.ts helpers. */
  host: string;
  /** Engine API version, e.g. "1.45". */
  apiVersion: string;
  /** Engine version, e.g. "26.1.5+dfsg1". */
  version: string;
}

export type ModernDockerd =
  | { available: true; host: string; /** the engine's own docker CLI (26.x) */ cli: string }
  | { available: false; reason: string };

let cached: ModernDockerd | undefined;

const script = (...args: string[]) =>
  run("bash", [MODERN_DOCKERD_SCRIPT, "--cache-dir", IMAGE_CACHE_DIR, ...args], { timeoutMs: 300_000 });

/**
 * Starts the modern engine unless it answers already (synchronous, so that a test file can decide
 * at collection time what runs). `available: false` carries the reason it cannot run here; a
 * failure of any other kind throws, so a broken engine is a failed test file, never a skip.
 */
export function modernDockerd(): ModernDockerd {
  if (cached) return cached;
  ensureCommands({ flock: "util-linux", ip: "iproute2", setsid: "util-linux" });
  const started = script();
  if (started.status === UNAVAILABLE) {
    cached = { available: false, reason: started.stderr.trim().split("\n").pop() ?? "unknown" };
    return cached;
  }
  const host = started.stdout.trim().split("\n").pop() ?? "";
  if (started.status !== 0 || !host.startsWith("unix://")) {
    throw new Error(
      `scripts/modern-dockerd.sh failed (${started.status}); see ${MODERN_DOCKERD_LOG}:\n${started.stdout}${started.stderr}`,
    );
  }
  const cli = script("--cli").stdout.trim();
  cached = { available: true, host, cli };
  return cached;
}

/** Whether Engine API `version` ("1.45") is `min` or later. */
export function apiAtLeast(version: string, min: string): boolean {
  const [major = 0, minor = 0] = version.split(".").map(Number);
  const [minMajor = 0, minMinor = 0] = min.split(".").map(Number);
  return major !== minMajor ? major > minMajor : minor >= minMinor;
}

/** The engine's own report of its versions (GET /version, which every API version answers). */
export async function engineVersion(engine: EngineOption = {}): Promise<Engine> {
  const res = await engineRequest("GET", "/version", engine);
  if (res.status !== 200) throw new Error(`GET /version answered ${res.status}: ${res.body}`);
  const { ApiVersion, Version } = JSON.parse(res.body) as { ApiVersion: string; Version: string };
  return {
    host: engine.host ?? process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock",
    apiVersion: ApiVersion,
    version: Version,
  };
}

/**
 * The modern engine, started when needed, checked to speak API >= 1.44. Throws when it cannot
 * run here (the reason in the message) or fails to start.
 */
export async function ensureModernDockerd(): Promise<Engine> {
  const modern = modernDockerd();
  if (!modern.available) throw new Error(`the modern Docker engine cannot run here: ${modern.reason}`);
  const engine = await engineVersion({ host: modern.host });
  if (!apiAtLeast(engine.apiVersion, START_INTERVAL_API)) {
    throw new Error(
      `the engine on ${modern.host} speaks API ${engine.apiVersion}, not >= ${START_INTERVAL_API}: is another dockerd on its socket?`,
    );
  }
  return engine;
}

/**
 * The modern engine for a real-Pulumi-engine file: started only when the Pulumi engine is there (a
 * skipped file starts nothing), else unavailable with the reason of whichever is missing.
 */
export function modernForEngine(pulumiEngine: Availability): { availability: Availability; host: string } {
  if (!pulumiEngine.available) return { availability: pulumiEngine, host: "" };
  const modern = modernDockerd();
  return modern.available
    ? { availability: { available: true }, host: modern.host }
    : { availability: { available: false, reason: `the modern Docker engine: ${modern.reason}` }, host: "" };
}
