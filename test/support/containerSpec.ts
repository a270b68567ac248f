/**
 * A container as the program declares it (a docker.Container registered under the mocks), run on
 * a real engine with the docker CLI, and replaced in the order its resource options say: what
 * `pulumi up` would make the provider do, without the provider.
 *
 * The provider's replacement of a container, create-before-delete (deleteBeforeReplace false):
 * create and start the new container, wait until it reports healthy (`wait: true`), then delete
 * the old one: `docker stop` with destroyGraceSeconds (the container's stop signal, then SIGKILL)
 * and a forced remove. Delete-before-replace: the same delete first, then the create and wait.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { HealthcheckPlan } from "../../planning/stack/healthchecks";
import { type RegisteredResource } from "./pulumi";
import { type EngineOption, docker } from "./docker";
import { waitUntil } from "./process";

type KeyValue = { label: string; value: string };

export interface RunAs {
  /** The image to run instead of the declared image id (the mocks' ids exist nowhere). */
  image: string;
  /** Labels added to the declared ones, so the test's cleanup finds the container. */
  extraLabels: string[];
  /** Environment added to the declared one (a stand-in's own settings). */
  extraEnv?: Record<string, string>;
  /** The engine to run on (DOCKER_HOST); unset, the environment's. */
  engine?: EngineOption;
  /**
   * Declared host ports, published on a free host port of the same address instead (the declared
   * ones may be taken on a test machine). Unset, a container that declares ports is refused.
   */
  publish?: "ephemeral";
}

interface Upload {
  file: string;
  content: string;
  permissions?: string;
}

interface Mount {
  type: string;
  source: string;
  target: string;
  readOnly?: boolean;
}

interface Port {
  internal: number;
  ip?: string;
  protocol?: string;
}

/**
 * `docker create` arguments for every declared input the CLI can express, the networks to
 * connect before the start (`docker create` joins one network only) and the files to upload
 * before it. Fails on an input it does not know, so a new input in the program cannot silently
 * go untested.
 */
function createArgs(
  c: RegisteredResource,
  as: RunAs,
): { args: string[]; networks: { name: string; aliases: string[] }[]; uploads: Upload[] } {
  const i = c.inputs;
  const known = new Set([
    "name", "image", "restart", "memory", "memorySwap", "memoryReservation", "cpus", "cpuShares", "labels", "envs",
    "command", "healthcheck", "networksAdvanced", "mounts", "uploads", "ports", "logDriver", "logOpts",
    "securityOpts", "capabilities", "readOnly", "tmpfs", "stopSignal", "stopTimeout", "destroyGraceSeconds",
    "mustRun", "wait", "waitTimeout",
  ]); // prettier-ignore
  const unknown = Object.keys(i).filter((k) => !known.has(k) && i[k] !== undefined);
  if (unknown.length > 0) throw new Error(`${String(i.name)}: no docker create flag for ${unknown.join(", ")}`);
  const ports = (i.ports as Port[] | undefined) ?? [];
  if (ports.length > 0 && as.publish !== "ephemeral")
    throw new Error(`${String(i.name)} publishes host ports: run it with \`publish: "ephemeral"\``);
  const mounts = (i.mounts as Mount[] | undefined) ?? [];
  const notVolumes = mounts.filter((m) => m.type !== "volume");
  if (notVolumes.length > 0) throw new Error(`${String(i.name)}: only volume mounts, not ${notVolumes[0]?.type}`);

  const hc = i.healthcheck as HealthcheckPlan;
  const [kind, command] = hc.tests;
  if (kind !== "CMD-SHELL" || command === undefined) throw new Error(`unsupported health check ${hc.tests.join(" ")}`);
  const caps = i.capabilities as { drops: string[]; adds?: string[] };
  const networks = (i.networksAdvanced as { name: string; aliases: string[] }[]).map((n) => ({
    name: n.name,
    aliases: n.aliases,
  }));
  const [first] = networks;
  if (!first) throw new Error(`${String(i.name)} joins no network`);
  const args = [
    ...["--name", String(i.name), "--restart", String(i.restart)],
    ...["--memory", `${Number(i.memory)}m`, "--memory-swap", `${Number(i.memorySwap)}m`],
    ...["--memory-reservation", `${Number(i.memoryReservation)}m`],
    ...["--cpus", String(i.cpus), "--cpu-shares", String(i.cpuShares)],
    ...(i.labels as KeyValue[]).flatMap((l) => ["--label", `${l.label}=${l.value}`]),
    ...as.extraLabels.flatMap((l) => ["--label", l]),
    ...((i.envs as string[] | undefined) ?? []).flatMap((e) => ["--env", e]),
    ...Object.entries(as.extraEnv ?? {}).flatMap(([k, v]) => ["--env", `${k}=${v}`]),
    ...["--health-cmd", command, "--health-interval", hc.interval, "--health-timeout", hc.timeout],
    ...["--health-retries", String(hc.retries), "--health-start-period", hc.startPeriod],
    ...(hc.startInterval === undefined ? [] : ["--health-start-interval", hc.startInterval]),
    ...["--network", first.name, ...first.aliases.flatMap((a) => ["--network-alias", a])],
    ...mounts.flatMap((m) => [
      "--mount",
      `type=volume,source=${m.source},target=${m.target}${m.readOnly ? ",readonly" : ""}`,
    ]),
    // ip::port publishes on a free host port of that address.
    ...ports.flatMap((p) => ["--publish", `${p.ip ? `${p.ip}::` : ""}${p.internal}/${p.protocol ?? "tcp"}`]),
    ...["--log-driver", String(i.logDriver)],
    ...Object.entries(i.logOpts as Record<string, string>).flatMap(([k, v]) => ["--log-opt", `${k}=${v}`]),
    ...(i.securityOpts as string[]).flatMap((o) => ["--security-opt", o]),
    ...caps.drops.flatMap((d) => ["--cap-drop", d]),
    ...(caps.adds ?? []).flatMap((a) => ["--cap-add", a]),
    ...(i.readOnly ? ["--read-only"] : []),
    ...Object.entries((i.tmpfs as Record<string, string> | undefined) ?? {}).flatMap(([p, o]) => [
      "--tmpfs",
      `${p}:${o}`,
    ]),
    ...(typeof i.stopSignal === "string" ? ["--stop-signal", i.stopSignal] : []),
    ...["--stop-timeout", String(i.stopTimeout)],
    as.image,
    ...((i.command as string[] | undefined) ?? []),
  ];
  return { args, networks: networks.slice(1), uploads: (i.uploads as Upload[] | undefined) ?? [] };
}

/** Writes the declared files into a created container, as the provider's `uploads` do before the start. */
function uploadDeclared(name: string, uploads: readonly Upload[], on: EngineOption): void {
  if (uploads.length === 0) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "container-upload-"));
  try {
    uploads.forEach((u, n) => {
      // docker cp keeps the local file's mode: the declared permissions, else the provider's 0644.
      const local = path.join(dir, `${n}-${path.basename(u.file)}`);
      fs.writeFileSync(local, u.content, { mode: Number.parseInt(u.permissions ?? "0644", 8) });
      docker(["cp", local, `${name}:${u.file}`], on);
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Creates the container, writes its uploads, connects its other networks and starts it; returns its name. */
export function startDeclared(c: RegisteredResource, as: RunAs): string {
  const { args, networks, uploads } = createArgs(c, as);
  const name = String(c.inputs.name);
  const on = as.engine ?? {};
  docker(["create", ...args], on);
  uploadDeclared(name, uploads, on);
  for (const n of networks) {
    docker(["network", "connect", ...n.aliases.flatMap((a) => ["--alias", a]), n.name, name], on);
  }
  docker(["start", name], on);
  return name;
}

/** Polls until the container reports healthy, as the provider's `wait` does; fails if it turns unhealthy. */
export async function waitHealthy(name: string, timeoutMs: number, engine: EngineOption = {}): Promise<void> {
  await waitUntil(
    `${name} to report healthy`,
    () => {
      const status = docker(["inspect", "--format", "{{.State.Health.Status}}", name], engine).trim();
      if (status === "unhealthy") throw new Error(`${name} reported unhealthy`);
      return status === "healthy";
    },
    timeoutMs,
  );
}

/** What the provider does to delete a container: stop with its grace (destroyGraceSeconds), then a forced remove. */
function deleteDeclared(c: RegisteredResource, engine: EngineOption = {}): void {
  const name = String(c.inputs.name);
  docker(["stop", "--time", String(Number(c.inputs.destroyGraceSeconds ?? 0)), name], {
    timeoutMs: 600_000,
    ...engine,
  });
  docker(["rm", "--force", name], engine);
}

/**
 * Replaces each `[old, next]` pair as `pulumi up` would, from `next`'s resource options:
 * delete-before-replace pairs delete the old container, then create the new one and wait for
 * its health; create-before-delete pairs create and wait first. Then `dependents` runs (the
 * resources that depend on the new containers, such as the edge reload), and only after it
 * the old containers of create-first pairs are deleted: Pulumi deletes replaced resources last.
 * Returns each step in order, as "<container>: <step>".
 */
export async function replaceDeclared(
  pairs: readonly [RegisteredResource, RegisteredResource][],
  as: RunAs,
  options: { waitTimeoutMs: number; dependents?: () => void | Promise<void>; mark?: (step: string) => void },
): Promise<string[]> {
  const steps: string[] = [];
  const step = (c: RegisteredResource, what: string) => {
    const line = `${String(c.inputs.name)}: ${what}`;
    steps.push(line);
    options.mark?.(line);
  };
  const create = async (next: RegisteredResource) => {
    const name = startDeclared(next, as);
    step(next, "create new");
    await waitHealthy(name, options.waitTimeoutMs, as.engine);
    step(next, "new healthy");
  };
  const remove = (old: RegisteredResource) => {
    deleteDeclared(old, as.engine);
    step(old, "delete old");
  };
  for (const [old, next] of pairs) {
    if (!next.deleteBeforeReplace && next.inputs.name === old.inputs.name) {
      throw new Error(`${String(next.inputs.name)}: create-before-delete needs a new name, or the create fails`);
    }
  }
  await Promise.all(
    pairs.map(async ([old, next]) => {
      if (next.deleteBeforeReplace) remove(old);
      await create(next);
    }),
  );
  if (options.dependents) {
    await options.dependents();
    steps.push("dependents");
    options.mark?.("dependents (edge reload)");
  }
  for (const [old, next] of pairs) if (!next.deleteBeforeReplace) remove(old);
  return steps;
}
