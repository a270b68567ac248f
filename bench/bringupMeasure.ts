/**
 * Real-engine measurements for the bring-up bench: one container as the program declares it,
 * from `docker create` until Docker reports it healthy, and the commands a deploy waits for,
 * timed as they run. Polls the Engine API over its socket (a `docker inspect` every 50 ms would
 * spawn 20 CLI processes a second on the cores it measures).
 */
import { spawnSync } from "node:child_process";
import { type RegisteredResource } from "../test/support/pulumi";
import { startDeclared } from "../test/support/containerSpec";
import { type EngineOption, type TestRun, docker, engineRequest, run } from "../test/support/docker";

/** How often the health status is read. */
export const POLL_MS = 50;
/** The provider gives up on `wait` after 180 s; so does the bench. */
const HEALTHY_TIMEOUT_MS = 180_000;

export interface Sample {
  /** From just before `docker create` until the first poll that sees "healthy" (client clock). */
  createToHealthyMs: number;
  /** From the engine's StartedAt to the end of the first passing health check (engine clock). */
  engineStartToHealthyMs: number;
}

interface InspectState {
  State: {
    Status: string;
    StartedAt: string;
    ExitCode: number;
    Health?: { Status: string; Log?: { Start: string; End: string; ExitCode: number; Output: string }[] };
  };
}

/** Docker's RFC 3339 timestamps carry nanoseconds; Date takes milliseconds. */
const parseTime = (text: string): number => Date.parse(text.replace(/(\.\d{3})\d*Z$/, "$1Z"));

async function inspect(name: string, on: EngineOption): Promise<InspectState> {
  const res = await engineRequest("GET", `/containers/${encodeURIComponent(name)}/json`, on);
  if (res.status !== 200) throw new Error(`GET /containers/${name}/json answered ${res.status}: ${res.body}`);
  return JSON.parse(res.body) as InspectState;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls until the container is healthy. Unlike the provider, fails at once when it turns
 * unhealthy or exits (a bench figure of a broken container means nothing), with its logs.
 */
async function untilHealthy(name: string, on: EngineOption): Promise<InspectState> {
  const deadline = Date.now() + HEALTHY_TIMEOUT_MS;
  for (;;) {
    const state = await inspect(name, on);
    const health = state.State.Health?.Status;
    if (health === "healthy") return state;
    if (health === "unhealthy" || state.State.Status === "exited" || Date.now() > deadline) {
      const logs = run("docker", ["logs", "--tail", "30", name], on);
      const checks = JSON.stringify(state.State.Health?.Log?.slice(-2) ?? []);
      throw new Error(
        `${name}: ${state.State.Status}, health ${health ?? "none"} (exit ${state.State.ExitCode})\n` +
          `last checks: ${checks}\n${logs.stdout}${logs.stderr}`,
      );
    }
    await pause(POLL_MS);
  }
}

/** The volumes a container mounts, created beforehand as the program's Volume resources are. */
const volumesOf = (c: RegisteredResource): string[] =>
  ((c.inputs.mounts as { source: string }[] | undefined) ?? []).map((m) => m.source);

export interface RunningContainer {
  name: string;
  sample: Sample;
  /** Removes the container and its volumes. */
  remove(): void;
}

/**
 * Creates the container from its declaration (test/support/containerSpec.ts: every input, the
 * uploads and networks before the start, host ports on free ones) and waits until it is healthy.
 */
export async function startUntilHealthy(
  c: RegisteredResource,
  as: { image: string; t: TestRun; on: EngineOption; extraEnv?: Record<string, string> },
): Promise<RunningContainer> {
  const volumes = volumesOf(c);
  for (const v of volumes) docker(["volume", "create", ...as.t.labels.flatMap((l) => ["--label", l]), v], as.on);
  const name = String(c.inputs.name);
  const remove = (): void => {
    run("docker", ["rm", "--force", "--volumes", name], as.on);
    if (volumes.length > 0) run("docker", ["volume", "rm", "--force", ...volumes], as.on);
  };
  const t0 = performance.now();
  try {
    startDeclared(c, {
      image: as.image,
      extraLabels: as.t.labels,
      engine: as.on,
      publish: "ephemeral",
      ...(as.extraEnv ? { extraEnv: as.extraEnv } : {}),
    });
    const state = await untilHealthy(name, as.on);
    const createToHealthyMs = performance.now() - t0;
    const passed = (state.State.Health?.Log ?? []).find((l) => l.ExitCode === 0);
    if (!passed) throw new Error(`${name} is healthy but keeps no passing check in its log`);
    return {
      name,
      sample: { createToHealthyMs, engineStartToHealthyMs: parseTime(passed.End) - parseTime(state.State.StartedAt) },
      remove,
    };
  } catch (error) {
    remove();
    throw error;
  }
}

/**
 * Runs a declared command:local:Command's `create` as the command provider does (`sh -c`, its
 * environment, its stdin) against the engine `on`, and returns how long it took.
 */
export function timeCommand(command: RegisteredResource, on: EngineOption): number {
  const create = String(command.inputs.create);
  const environment = (command.inputs.environment as Record<string, string> | undefined) ?? {};
  const stdin = command.inputs.stdin as string | undefined;
  const env = { ...process.env, ...environment, ...(on.host === undefined ? {} : { DOCKER_HOST: on.host }) };
  const t0 = performance.now();
  const result = spawnSync("sh", ["-c", create], { env, input: stdin, encoding: "utf8", timeout: 300_000 });
  const ms = performance.now() - t0;
  if (result.status !== 0) {
    throw new Error(`${command.name} failed (${result.status ?? result.signal}): ${result.stderr}${result.stdout}`);
  }
  return ms;
}

/** How long `docker <create...>` takes, removing what it made with `docker <remove...> <name>` afterwards. */
export function timeDocker(create: string[], remove: string[], on: EngineOption): number {
  const t0 = performance.now();
  docker(create, on);
  const ms = performance.now() - t0;
  docker([...remove, create[create.length - 1] as string], on);
  return ms;
}
