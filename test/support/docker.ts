/**
 * A real Docker engine for tests: Debian's docker.io, with dockerd started in the background
 * when nothing answers yet, and helpers that run the docker CLI and remove what a test labelled.
 * Every helper takes an optional `host` (a DOCKER_HOST value) for a second engine (see
 * modernDocker.ts); without it, the engine the environment names, as the docker CLI picks it.
 */
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import { alive, waitUntil } from "./process";

/** Which engine: a DOCKER_HOST value such as "unix:///run/x.sock"; unset, the environment's. */
export interface EngineOption {
  host?: string;
}

export interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs a program without a shell; never throws, the caller reads `status`. `host` sets DOCKER_HOST. */
export function run(
  command: string,
  args: string[],
  opts: { input?: string | Buffer; env?: NodeJS.ProcessEnv; timeoutMs?: number } & EngineOption = {},
): Run {
  const env = opts.env ?? process.env;
  const result = spawnSync(command, args, {
    input: opts.input,
    env: opts.host === undefined ? env : { ...env, DOCKER_HOST: opts.host },
    encoding: "utf8",
    timeout: opts.timeoutMs ?? 120_000,
    maxBuffer: 256 * 1024 * 1024,
  });
  return {
    status: result.status ?? -1,
    stdout: result.stdout ?? "",
    stderr: (result.stderr ?? "") + (result.error ? String(result.error) : ""),
  };
}

/** `docker ...` on the engine `host` names; throws with its stderr when it fails. */
export function docker(
  args: string[],
  opts: { input?: string | Buffer; timeoutMs?: number } & EngineOption = {},
): string {
  const result = run("docker", args, opts);
  if (result.status !== 0) {
    const on = opts.host === undefined ? "" : ` (on ${opts.host})`;
    throw new Error(`docker ${args.join(" ")}${on} failed (${result.status}): ${result.stderr.trim()}`);
  }
  return result.stdout;
}

/** The Engine API socket of `host` (a unix:// DOCKER_HOST), else of the environment's engine. */
function socketOf(host: string | undefined): string {
  const value = host ?? process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock";
  if (!value.startsWith("unix://")) throw new Error(`only unix:// Docker hosts are supported here, not ${value}`);
  return value.slice("unix://".length);
}

/**
 * One request to the Docker Engine API over its socket, for what the docker CLI cannot say: a
 * request at an exact API version (`/v1.44/...`), as a client library such as the Pulumi
 * provider's sends it. Never throws for an HTTP error status; the caller reads `status`.
 */
export function engineRequest(
  method: string,
  path: string,
  opts: { body?: unknown; timeoutMs?: number } & EngineOption = {},
): Promise<{ status: number; body: string }> {
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        socketPath: socketOf(opts.host),
        method,
        path,
        headers: payload === undefined ? {} : { "content-type": "application/json" },
        timeout: opts.timeoutMs ?? 30_000,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no answer from the Docker engine`)));
    req.on("error", reject);
    req.end(payload);
  });
}

const has = (command: string): boolean => run("sh", ["-c", `command -v ${command}`]).status === 0;

/**
 * Installs Debian packages the tests need when their commands are missing (as root only; the
 * message says what to install otherwise).
 */
export function ensureCommands(packagesByCommand: Record<string, string>): void {
  const missing = Object.entries(packagesByCommand)
    .filter(([command]) => !has(command) && !fs.existsSync(`/usr/sbin/${command}`))
    .map(([, pkg]) => pkg);
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new Error(
      `these tests need the Debian packages ${missing.join(", ")}: sudo apt-get install -y ${missing.join(" ")}`,
    );
  }
  const update = run("apt-get", ["update", "-qq"], { timeoutMs: 300_000 });
  if (update.status !== 0) throw new Error(`apt-get update failed: ${update.stderr}`);
  const install = run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing], {
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    timeoutMs: 600_000,
  });
  if (install.status !== 0) throw new Error(`apt-get install ${missing.join(" ")} failed: ${install.stderr}`);
}

export const DOCKERD_LOG = "/var/log/sectorwars-test-dockerd.log";

/**
 * Makes sure a Docker engine answers: uses the one `docker info` reaches (DOCKER_HOST or the
 * local socket), else starts Debian's dockerd in the background and polls until it is ready.
 * The engine is left running for the next test file and the next run.
 */
export async function ensureDockerd(timeoutMs = 90_000): Promise<void> {
  ensureCommands({ docker: "docker.io", dockerd: "docker.io" });
  if (run("docker", ["info", "--format", "{{.ServerVersion}}"], { timeoutMs: 20_000 }).status === 0) return;
  if (process.env.DOCKER_HOST) {
    throw new Error(`DOCKER_HOST=${process.env.DOCKER_HOST} is set but no Docker engine answers there`);
  }
  if (process.getuid?.() !== 0) throw new Error("no Docker engine answers, and starting dockerd needs root");
  const log = fs.openSync(DOCKERD_LOG, "a");
  const dockerd = spawn("dockerd", [], { detached: true, stdio: ["ignore", log, log] });
  dockerd.unref();
  fs.closeSync(log);
  try {
    await waitUntil(
      "dockerd to answer",
      () => run("docker", ["info", "--format", "{{.ServerVersion}}"], { timeoutMs: 5_000 }).status === 0,
      timeoutMs,
    );
  } catch (error) {
    const tail = fs.readFileSync(DOCKERD_LOG, "utf8").split("\n").slice(-20).join("\n");
    throw new Error(`${(error as Error).message}; the end of ${DOCKERD_LOG}:\n${tail}`, { cause: error });
  }
}

/** Removes every container (with its anonymous volumes), volume and network carrying `label` (k=v). */
export function removeLabelled(label: string, engine: EngineOption = {}): void {
  const list = (args: string[]) =>
    docker([...args, "--filter", `label=${label}`], engine)
      .split("\n")
      .filter(Boolean);
  const containers = list(["ps", "-aq"]);
  if (containers.length > 0) docker(["rm", "-f", "-v", ...containers], engine);
  const volumes = list(["volume", "ls", "-q"]);
  if (volumes.length > 0) docker(["volume", "rm", "-f", ...volumes], engine);
  const networks = list(["network", "ls", "-q"]);
  if (networks.length > 0) docker(["network", "rm", ...networks], engine);
}

const KIND_LABEL = "com.sectorwars.test";
const RUN_LABEL = "com.sectorwars.test-run";
const OWNER_LABEL = "com.sectorwars.test-owner";

export interface TestRun {
  /** Short random id: part of the run's container names, so concurrent runs never collide. */
  id: string;
  /** `--label` values for everything the run creates. */
  labels: string[];
  /** The label (k=v) that selects exactly this run's containers, volumes and networks. */
  runLabel: string;
}

/**
 * Labels for one run of a test file. Two runs of the same file (a developer's and a clean
 * checkout's, say) may share one Docker engine: each removes only its own things, and the
 * leftovers of runs whose process has died (see reapDeadRuns).
 */
export function newTestRun(kind: string): TestRun {
  const id = randomBytes(3).toString("hex");
  const runLabel = `${RUN_LABEL}=${id}`;
  return {
    id,
    runLabel,
    labels: [`${KIND_LABEL}=${kind}`, runLabel, `${OWNER_LABEL}=${os.hostname()}:${process.pid}`],
  };
}

/** Removes containers, volumes and networks of `kind` whose owning process on this machine is gone. */
export function reapDeadRuns(kind: string, engine: EngineOption = {}): void {
  const dead = (owner: string): boolean => {
    const [host, pid] = owner.split(":");
    if (!host || !pid) return true; // made before runs were labelled with their owner
    return host === os.hostname() && !alive(Number(pid));
  };
  const filter = ["--filter", `label=${KIND_LABEL}=${kind}`];
  const deadOnes = (args: string[], field: string): string[] =>
    docker([...args, ...filter, "--format", `${field} {{.Label "${OWNER_LABEL}"}}`], engine)
      .split("\n")
      .filter(Boolean)
      .map((l) => l.split(" ") as [string, string | undefined])
      .filter(([, owner]) => dead(owner ?? ""))
      .map(([id]) => id);
  const containers = deadOnes(["ps", "-a"], "{{.ID}}");
  if (containers.length > 0) docker(["rm", "-f", "-v", ...containers], engine);
  const volumes = deadOnes(["volume", "ls"], "{{.Name}}");
  if (volumes.length > 0) docker(["volume", "rm", "-f", ...volumes], engine);
  const networks = deadOnes(["network", "ls"], "{{.ID}}");
  if (networks.length > 0) docker(["network", "rm", ...networks], engine);
}

/**
 * Calls `join` with each network in `names` as soon as Docker creates it (`docker events`): the
 * way a test's side server (S3, Pebble) joins networks that `pulumi up` creates, before any
 * container on them needs it. Resolves once the subscription is listening.
 */
export async function onNetworksCreated(
  names: readonly string[],
  join: (network: string) => void,
  engine: EngineOption = {},
): Promise<{ stop(): void; joined: string[] }> {
  const env = engine.host === undefined ? process.env : { ...process.env, DOCKER_HOST: engine.host };
  const since = Math.floor(Date.now() / 1000) - 1;
  const events = ["events", "--since", String(since), "--filter", "type=network", "--filter", "event=create"];
  const child = spawn("docker", [...events, "--format", "{{.Actor.Attributes.name}}"], { env });
  const joined: string[] = [];
  let buffered = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const name of lines.filter((l) => names.includes(l) && !joined.includes(l))) {
      join(name);
      joined.push(name);
    }
  });
  // `docker events` prints nothing until an event; a moment lets it subscribe before the caller goes on.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  return { stop: () => child.kill(), joined };
}

/**
 * Removes a test's side server (its container, volumes and host directory) once, however often it
 * is called. A promise, though nothing in it waits: callers write `await server.stop()`.
 */
export function sideServerStop(container: string, dir: string, engine: EngineOption): () => Promise<void> {
  let stopped = false;
  return () => {
    if (!stopped) {
      stopped = true;
      run("docker", ["rm", "-f", "-v", container], engine);
      fs.rmSync(dir, { recursive: true, force: true });
    }
    return Promise.resolve();
  };
}
