/**
 * The seed's way of bringing the platform up, timed on the same engine and test images: Debian
 * bookworm's docker-compose (v1.29) runs `up -d` on the seed's topology
 * (/work/shared/seed/docker-compose-architecture.md: nginx, nexus-api and -db, redis, two
 * regions' api and db, admin, player and PayPal on one network, the seed's depends_on and
 * published ports). What each container runs comes from the program's own declarations, so both
 * sides start the same processes with the same health checks: the probe in the app roles with
 * their environment, the generated nginx.conf and TLS files, the generated redis.conf, the
 * PostgreSQL database and user. Compose 1.29 has no start_interval: where the program's check
 * has one (planned for API >= 1.44), compose's checks run at that pace instead, its nearest
 * equivalent. Like the seed, no resource limits (compose ignores `deploy` outside swarm).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { envOf, labelsOf } from "../test/support/graph";
import { type EngineOption, type TestRun, engineRequest, run } from "../test/support/docker";
import { TEST_IMAGES } from "../test/support/images";
import { selfSignedPem } from "../test/support/tls";
import { TLS_CERT_PATH, TLS_KEY_PATH } from "../planning/edge/plan";
import type { HealthcheckPlan } from "../planning/stack/healthchecks";
import { type ProgramRun, type RegisteredResource } from "../test/support/pulumi";
import { log, median } from "./common";

/** How often the bring-up is polled. */
const POLL_MS = 50;

/** The custom resource the program declared under `name`. */
function declared(program: ProgramRun, name: string): RegisteredResource {
  const found = program.resources.filter((r) => r.custom && r.name === name);
  if (found.length !== 1) throw new Error(`expected one custom resource named "${name}", found ${found.length}`);
  return found[0] as RegisteredResource;
}

/** The seed's services, each run as the program's container of the same role. */
const SEED_SERVICES: { service: string; resource: string; dependsOn: string[] }[] = [
  { service: "nginx", resource: "edge", dependsOn: ["nexus-api", "region-1-api", "region-2-api"] },
  { service: "nexus-api", resource: "nexus-api", dependsOn: ["nexus-db", "redis"] },
  { service: "nexus-db", resource: "nexus-db", dependsOn: [] },
  { service: "region-1-api", resource: "region-default-api", dependsOn: ["region-1-db", "redis"] },
  { service: "region-1-db", resource: "region-default-db", dependsOn: [] },
  // The seed's region generator: a region API depends on its database only.
  { service: "region-2-api", resource: "region-orion-api", dependsOn: ["region-2-db"] },
  { service: "region-2-db", resource: "region-orion-db", dependsOn: [] },
  { service: "redis", resource: "redis-server", dependsOn: [] },
  { service: "admin-ui", resource: "apps-admin", dependsOn: [] },
  { service: "player-ui", resource: "apps-player", dependsOn: [] },
  { service: "paypal-service", resource: "apps-paypal", dependsOn: [] },
];

export interface Spread {
  medianMs: number;
  minMs: number;
  maxMs: number;
}

export interface ComposeResult {
  /** `docker-compose version`'s first line. */
  version: string;
  /** The engine it ran on, and why not the modern one when it could not. */
  engine: "modern" | "default";
  fallbackReason?: string;
  services: number;
  healthChecked: number;
  /** The health checks' intervals, as compose ran them (sorted, distinct). */
  checkIntervals: string[];
  runs: number;
  /** Until `up -d` returned. */
  upReturned: Spread;
  /** Until every container was running (polled). */
  allRunning: Spread;
  /** Until every container with a health check was healthy (polled). */
  allHealthy: Spread;
}

/** Median and range of a set of timings. */
export const spread = (values: number[]): Spread => ({
  medianMs: median(values),
  minMs: Math.min(...values),
  maxMs: Math.max(...values),
});

/** Installs Debian's docker-compose when it is missing and we are root; otherwise says how. */
function ensureCompose(): string {
  const version = () => spawnSync("docker-compose", ["version", "--short"], { encoding: "utf8" });
  let found = version();
  if (found.error || found.status !== 0) {
    if (process.getuid?.() !== 0) throw new Error("docker-compose is missing: apt-get install -y docker-compose");
    log("installing docker-compose (apt-get install -y docker-compose)");
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    let install = spawnSync("apt-get", ["install", "-y", "-qq", "docker-compose"], { env, stdio: "inherit" });
    if (install.status !== 0) {
      spawnSync("apt-get", ["update", "-qq"], { stdio: "inherit" });
      install = spawnSync("apt-get", ["install", "-y", "-qq", "docker-compose"], { env, stdio: "inherit" });
    }
    if (install.status !== 0) throw new Error("apt-get install -y docker-compose failed");
    found = version();
  }
  return `docker-compose ${found.stdout.trim()}`;
}

const uploadOf = (c: RegisteredResource, file: string): { content: string; permissions?: string } | undefined =>
  ((c.inputs.uploads as { file: string; content: string; permissions?: string }[] | undefined) ?? []).find(
    (u) => u.file === file,
  );

/** Compose interpolates `$NAME` in every value; the health checks' shell needs its `$` as written. */
function escapeDollars(value: unknown): unknown {
  if (typeof value === "string") return value.replace(/\$/g, "$$$$");
  if (Array.isArray(value)) return value.map(escapeDollars);
  if (typeof value === "object" && value !== null)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, escapeDollars(v)]));
  return value;
}

/** The compose file and the files it mounts, in `dir`; how many services have a check, at which intervals. */
function writeProject(program: ProgramRun, dir: string, t: TestRun): { healthChecked: number; intervals: string[] } {
  const labels = Object.fromEntries(t.labels.map((l) => l.split("=") as [string, string]));
  const services: Record<string, unknown> = {};
  const volumes: Record<string, unknown> = {};
  let healthChecked = 0;
  const intervals = new Set<string>();
  // Pulumi's mocks sign nothing: the edge gets a real self-signed pair in place of the mock's.
  const pem = selfSignedPem("localhost");
  const realTls: Record<string, { content: string; permissions?: string }> = {
    [TLS_CERT_PATH]: { content: pem.certificate, permissions: "0444" },
    [TLS_KEY_PATH]: { content: pem.key, permissions: "0400" },
  };
  for (const s of SEED_SERVICES) {
    const c = declared(program, s.resource);
    const role = labelsOf(c)["com.sectorwars.role"] ?? "";
    const hc = c.inputs.healthcheck as HealthcheckPlan;
    if (hc) healthChecked++;
    intervals.add(hc.startInterval ?? hc.interval);
    const env = envOf(c);
    const service: Record<string, unknown> = {
      restart: "unless-stopped",
      labels,
      depends_on: s.dependsOn,
      healthcheck: { test: hc.tests, interval: hc.startInterval ?? hc.interval, timeout: hc.timeout, retries: hc.retries, start_period: hc.startPeriod },
    }; // prettier-ignore
    const mountFile = (file: string) => {
      const upload = realTls[file] ?? uploadOf(c, file);
      if (!upload) throw new Error(`${s.resource} uploads no ${file}`);
      const local = path.join(dir, `${s.service}-${path.basename(file)}`);
      fs.writeFileSync(local, upload.content, { mode: Number.parseInt(upload.permissions ?? "0644", 8) });
      return `${local}:${file}:ro`;
    };
    const dataVolume = (name: string, target: string) => {
      volumes[name] = { labels };
      return `${name}:${target}`;
    };
    const mountTarget = (c.inputs.mounts as { target: string }[] | undefined)?.[0]?.target ?? "";
    if (role === "nginx") {
      const files = ((c.inputs.uploads as { file: string }[]) ?? []).map((u) => u.file);
      Object.assign(service, { image: TEST_IMAGES.nginx, volumes: files.map(mountFile), ports: ["80", "443"] });
    } else if (role === "redis") {
      const command = c.inputs.command as string[];
      Object.assign(service, {
        image: TEST_IMAGES.redis,
        command,
        volumes: [mountFile(command[command.length - 1] as string), dataVolume("redis_data", mountTarget)],
        ports: ["6379"],
      });
    } else if (role.endsWith("-db")) {
      const passwordFile = env.POSTGRES_PASSWORD_FILE ?? "";
      const { POSTGRES_PASSWORD_FILE: _, ...rest } = env;
      Object.assign(service, {
        image: TEST_IMAGES.postgres,
        // The seed's plain POSTGRES_PASSWORD.
        environment: { ...rest, POSTGRES_PASSWORD: uploadOf(c, passwordFile)?.content ?? "" },
        volumes: [dataVolume(`${s.service.replace(/-/g, "_")}_data`, mountTarget)],
        ports: ["5432"],
      });
    } else {
      Object.assign(service, { image: TEST_IMAGES.probe, environment: env, ports: [env.PORT ?? "8000"] });
    }
    services[s.service] = service;
  }
  const file = { version: "3.8", services, volumes, networks: { default: { labels } } };
  fs.writeFileSync(path.join(dir, "docker-compose.yml"), stringify(escapeDollars(file)));
  return { healthChecked, intervals: [...intervals].sort() };
}

interface Listed {
  State: string;
  Status: string;
}

async function listProject(project: string, on: EngineOption): Promise<Listed[]> {
  const filters = encodeURIComponent(JSON.stringify({ label: [`com.docker.compose.project=${project}`] }));
  const res = await engineRequest("GET", `/containers/json?all=1&filters=${filters}`, on);
  if (res.status !== 200) throw new Error(`GET /containers/json answered ${res.status}: ${res.body}`);
  return JSON.parse(res.body) as Listed[];
}

function compose(args: string[], dir: string, project: string, on: EngineOption) {
  return run("docker-compose", ["--project-name", project, "--file", path.join(dir, "docker-compose.yml"), ...args], {
    timeoutMs: 300_000,
    ...on,
  });
}

/** One `up -d` from nothing, timed until it returns, until all run and until all are healthy. */
async function upOnce(dir: string, project: string, on: EngineOption, services: number, checked: number) {
  const env = on.host === undefined ? process.env : { ...process.env, DOCKER_HOST: on.host };
  const t0 = performance.now();
  const child: ChildProcess = spawn(
    "docker-compose",
    ["--project-name", project, "--file", path.join(dir, "docker-compose.yml"), "up", "-d"],
    { env, stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  let upReturnedMs: number | undefined;
  let exitCode: number | null = null;
  child.on("exit", (code) => {
    upReturnedMs = performance.now() - t0;
    exitCode = code;
  });
  let allRunningMs: number | undefined;
  const deadline = Date.now() + 180_000;
  for (;;) {
    const listed = await listProject(project, on);
    const now = performance.now() - t0;
    if (allRunningMs === undefined && listed.length === services && listed.every((c) => c.State === "running"))
      allRunningMs = now;
    if (listed.length === services && listed.filter((c) => c.Status.includes("(healthy)")).length === checked) {
      // Every container is healthy: running too, if the poll before missed the moment.
      allRunningMs ??= now;
      if (upReturnedMs === undefined) await new Promise((resolve) => child.once("exit", resolve));
      if (exitCode !== 0) throw new Error(`docker-compose up -d failed (${exitCode}): ${stderr}`);
      return { upReturnedMs: upReturnedMs as number, allRunningMs, allHealthyMs: now };
    }
    if (upReturnedMs !== undefined && exitCode !== 0) throw new Error(`docker-compose up -d failed: ${stderr}`);
    if (Date.now() > deadline) throw new Error(`compose project ${project} not healthy after 180 s: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/**
 * `runs` bring-ups from nothing (`down -v` between them, so PostgreSQL initialises every time,
 * as it does for the program), on the modern engine when compose can talk to it, else on the
 * default one.
 */
export async function runComposeBench(
  program: ProgramRun,
  t: TestRun,
  engines: { modern: EngineOption; default: EngineOption },
  runs: number,
): Promise<ComposeResult> {
  const version = ensureCompose();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-compose-"));
  fs.chmodSync(dir, 0o755);
  const project = `swc${t.id}`;
  try {
    const { healthChecked, intervals } = writeProject(program, dir, t);
    // A file compose rejects is a bug here, not a reason to change engines.
    const valid = compose(["config", "--quiet"], dir, project, engines.default);
    if (valid.status !== 0) throw new Error(`docker-compose rejects the generated file: ${valid.stderr}`);
    let engine: "modern" | "default" = "modern";
    let fallbackReason: string | undefined;
    const probe = compose(["ps"], dir, project, engines.modern);
    if (probe.status !== 0) {
      fallbackReason = `${probe.stderr.trim().split("\n").pop() ?? ""}`.slice(0, 300);
      engine = "default";
      log(`compose: cannot use the modern engine (${fallbackReason}); using the default one`);
    }
    const on = engines[engine];
    const samples: { upReturnedMs: number; allRunningMs: number; allHealthyMs: number }[] = [];
    for (let i = 0; i < runs; i++) {
      compose(["down", "--volumes", "--remove-orphans"], dir, project, on);
      const sample = await upOnce(dir, project, on, SEED_SERVICES.length, healthChecked);
      log(
        `compose run ${i + 1}/${runs}: up -d returned ${Math.round(sample.upReturnedMs)} ms, ` +
          `all running ${Math.round(sample.allRunningMs)} ms, all healthy ${Math.round(sample.allHealthyMs)} ms`,
      );
      samples.push(sample);
    }
    compose(["down", "--volumes", "--remove-orphans"], dir, project, on);
    return {
      version,
      engine,
      ...(fallbackReason === undefined ? {} : { fallbackReason }),
      services: SEED_SERVICES.length,
      healthChecked,
      checkIntervals: intervals,
      runs: samples.length,
      upReturned: spread(samples.map((s) => s.upReturnedMs)),
      allRunning: spread(samples.map((s) => s.allRunningMs)),
      allHealthy: spread(samples.map((s) => s.allHealthyMs)),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
