/**
 * The two Docker engines the tests run on, and the images built for them (DEVELOPERS.md):
 *
 * - health-check start_interval needs Docker Engine API >= 1.44: the default engine (Debian
 *   bookworm's 20.10, API 1.41) refuses it through a client and silently drops it when sent at its
 *   own API version; the modern engine (scripts/modern-dockerd.sh) takes it, and a container
 *   whose checks run every 30 s is healthy within seconds of its start;
 * - on each engine, the nginx images run the edge's generated nginx.conf as the platform runs it
 *   (user-defined network, Docker's DNS, uploads, hardening, health check), and the probe image
 *   runs hardened as a region API: healthy, its identity from env, PROBE_START_DELAY_MS, a clean
 *   exit on `docker stop`;
 * - on each engine, Docker's DNS keeps a stopping container's name until its process has exited:
 *   a proxy that resolves it meanwhile still gets the address of a server that no longer listens.
 *
 * The modern engine's tests are reported as skipped, with the reason, only where no second engine
 * can run at all (see test/support/modernDocker.ts and engineSuites.ts).
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../planning/config";
import { NGINX_CONF_PATH, TLS_CERT_PATH, TLS_KEY_PATH, edgeNginxSettings } from "../planning/edge/plan";
import { httpHealthcheck, nginxHealthcheck } from "../planning/stack/healthchecks";
import { renderNginxConf } from "../planning/edge/nginx";
import { PORTS, type StackPlan, planStack } from "../planning/stack/topology";
import { DEFAULT_PORTS } from "../planning/stack/services";
import { rawOf } from "./support/configs";
import {
  type EngineOption,
  type Run,
  docker,
  engineRequest,
  ensureDockerd,
  newTestRun,
  reapDeadRuns,
  removeLabelled,
  run,
} from "./support/docker";
import { TEST_IMAGES, ensureTestImages } from "./support/images";
import {
  START_INTERVAL_API,
  apiAtLeast,
  engineVersion,
  ensureModernDockerd,
  modernDockerd,
} from "./support/modernDocker";
import { pollUntil } from "./support/net";
import { makeSandbox } from "./support/nginx";
import { hardeningArgs, healthcheckArgs, labelArgs, upload } from "./support/platformContainers";
import { readStackFile } from "./support/pulumi";
import { type SuiteTarget, describeEach, describeOn, runnable } from "./support/engineSuites";

const RUN = newTestRun("engines");
const PREFIX = `sweng${RUN.id}`;
const SECOND = 1_000_000_000; // the Engine API's durations are nanoseconds

const modern = modernDockerd();

interface Target extends SuiteTarget {
  engine: EngineOption;
}
const TARGETS: Target[] = [
  { name: "the default engine", engine: {} },
  {
    name: "the modern engine",
    engine: { host: modern.available ? modern.host : "" },
    suite: "modern",
    availability: modern,
  },
];
/** The targets this machine runs: the modern engine's tests are reported as skipped where it cannot. */
const RUNNABLE = TARGETS.filter(runnable);

/** A small stack: one region, its API container named and aliased as the plan says. */
const plan: StackPlan = planStack(
  parseConfig(
    {
      ...rawOf(readStackFile("dev")),
      namePrefix: PREFIX,
      regions: [{ id: "orion", name: "Orion Reach", type: "default", slot: 1 }],
    },
    { presentSecrets: new Set() },
  ),
  `enginetest-${RUN.id}`,
);
const region = plan.regions[0]!;

let work: string;
let tls: { certificate: string; key: string };

beforeAll(async () => {
  await ensureDockerd();
  for (const { engine } of RUNNABLE) {
    reapDeadRuns("engines", engine); // leftovers of earlier runs that were killed
    ensureTestImages(engine);
  }
  work = fs.mkdtempSync(path.join(os.tmpdir(), "sw-engines-"));
  const sandbox = makeSandbox();
  tls = {
    certificate: fs.readFileSync(sandbox.tls.certificate, "utf8"),
    key: fs.readFileSync(sandbox.tls.certificateKey, "utf8"),
  };
  sandbox.remove();
});

afterAll(() => {
  for (const { engine } of RUNNABLE) removeLabelled(RUN.runLabel, engine);
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Helpers

const inspect = (container: string, format: string, engine: EngineOption): string =>
  docker(["inspect", "--format", format, container], engine).trim();

const healthOf = (container: string, engine: EngineOption): string =>
  inspect(container, "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}", engine);

/** What a failure message needs: the state, the last health check outputs and the logs. */
function diagnose(container: string, engine: EngineOption): string {
  const health = run("docker", ["inspect", "--format", "{{json .State}}", container], engine).stdout.trim();
  const logs = run("docker", ["logs", "--tail", "30", container], engine);
  return `state: ${health}\nlogs:\n${logs.stdout}${logs.stderr}`;
}

/** Waits until the container reports healthy; fails at once, with its state and logs, if it dies or turns unhealthy. */
async function untilHealthy(container: string, engine: EngineOption, timeoutMs = 30_000): Promise<void> {
  const outcome = await pollUntil(
    `${container} to become healthy`,
    () => {
      const [state, health] = healthOf(container, engine).split(" ");
      if (state !== "running" || health === "unhealthy") return `${state} ${health ?? ""}`;
      return health === "healthy" ? "healthy" : undefined;
    },
    { timeoutMs, intervalMs: 100 },
  ).catch((err: Error) => err.message);
  if (outcome !== "healthy")
    throw new Error(`${container} did not become healthy (${outcome})\n${diagnose(container, engine)}`);
}

/** The run's labels as the Engine API takes them. */
const apiLabels = (): Record<string, string> =>
  Object.fromEntries(RUN.labels.map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));

/** A region API on `network` as the platform runs one: the probe, hardened, with its health check. */
function startRegionApi(engine: EngineOption, network: string, name: string, env: Record<string, string> = {}): void {
  docker(
    [
      "run",
      "-d",
      "--name",
      name,
      ...labelArgs(RUN, region.api.labels),
      ...hardeningArgs("region-api"),
      "--network",
      network,
      "--network-alias",
      region.api.hostname,
      "--stop-timeout",
      "15",
      ...healthcheckArgs(httpHealthcheck(DEFAULT_PORTS["region-api"], "/health"), "1s"),
      ...["-e", "SECTORWARS_ROLE=region-api", "-e", `REGION_ID=${region.id}`, "-e", `REGION_NAME=${region.name}`],
      ...["-e", `REGION_TYPE=${region.type}`],
      ...Object.entries(env).flatMap(([k, v]) => ["-e", `${k}=${v}`]),
      TEST_IMAGES.probe,
    ],
    engine,
  );
}

const networkFor = (engine: EngineOption, name: string): string => {
  docker(["network", "create", ...RUN.labels.flatMap((l) => ["--label", l]), name], engine);
  return name;
};

/** `docker ...` without waiting for it, for what a test watches while it runs (a `docker stop`). */
function dockerInBackground(args: string[], engine: EngineOption): Promise<Run> {
  return new Promise((resolve) => {
    const env = engine.host === undefined ? process.env : { ...process.env, DOCKER_HOST: engine.host };
    const child = spawn("docker", args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (status) => resolve({ status: status ?? -1, stdout, stderr }));
  });
}

const logsOf = (container: string, engine: EngineOption): string => run("docker", ["logs", container], engine).stdout;

/** `curl` inside a container: exit status (7 = connection refused) and body. */
const curlIn = (container: string, url: string, engine: EngineOption) =>
  run("docker", ["exec", container, "curl", "-sS", "--max-time", "5", url], engine);

// ---------------------------------------------------------------------------------------------

describe("health-check start_interval needs Docker API >= 1.44", () => {
  const check = httpHealthcheck(DEFAULT_PORTS["region-api"], "/health");
  const startIntervalHealthcheck = {
    Test: check.tests,
    Interval: 30 * SECOND,
    Timeout: 5 * SECOND,
    Retries: 3,
    StartPeriod: 60 * SECOND,
    StartInterval: SECOND,
  };

  it("the default engine speaks API < 1.44: refuses start_interval at 1.44 and drops it silently at its own version", async () => {
    const engine = await engineVersion();
    expect(
      apiAtLeast(engine.apiVersion, START_INTERVAL_API),
      `the default engine (Docker ${engine.version}, API ${engine.apiVersion}) is Debian bookworm's 20.10`,
    ).toBe(false);
    const body = { Image: TEST_IMAGES.probe, Labels: apiLabels(), Healthcheck: startIntervalHealthcheck };
    const atNew = await engineRequest("POST", `/v${START_INTERVAL_API}/containers/create`, { body });
    expect(atNew.status, atNew.body).toBe(400);
    expect(atNew.body).toMatch(/client version 1\.44 is too new/);
    // A client that does not check the version itself gets a container without start_interval.
    const atOwn = await engineRequest("POST", `/v${engine.apiVersion}/containers/create?name=${PREFIX}_dropped`, {
      body,
    });
    expect(atOwn.status, atOwn.body).toBe(201);
    const kept = JSON.parse(inspect(`${PREFIX}_dropped`, "{{json .Config.Healthcheck}}", {})) as Record<
      string,
      unknown
    >;
    expect(kept, "what the old engine kept of the health check").toEqual({
      Test: check.tests,
      Interval: 30 * SECOND,
      Timeout: 5 * SECOND,
      Retries: 3,
      StartPeriod: 60 * SECOND,
    });
  });

  describeOn("modern", modern, "on the modern engine", () => {
    const host = modern.available ? modern.host : "";
    const cli = modern.available ? modern.cli : "";
    const flags = (name: string) => [
      "--name",
      name,
      ...labelArgs(RUN, region.api.labels),
      ...hardeningArgs("region-api"),
      "--health-cmd",
      check.tests[1]!,
      "--health-interval",
      "30s",
      "--health-timeout",
      "5s",
      "--health-retries",
      "3",
      "--health-start-period",
      "60s",
      "--health-start-interval",
      "1s",
      TEST_IMAGES.probe,
    ];

    it("speaks API >= 1.44; the docker create the default engine refuses is accepted there", async () => {
      const engine = await ensureModernDockerd();
      expect(apiAtLeast(engine.apiVersion, START_INTERVAL_API), `modern engine: API ${engine.apiVersion}`).toBe(true);
      const old = await engineVersion();
      const refused = run(cli, ["create", ...flags(`${PREFIX}_refused`)]);
      expect(refused.status, "the default engine accepted --health-start-interval").not.toBe(0);
      expect(refused.stderr).toMatch(
        new RegExp(`requires API version 1\\.44, but the Docker daemon API version is ${old.apiVersion}`),
      );
      const accepted = run(cli, ["create", ...flags(`${PREFIX}_accepted`)], { host });
      expect(accepted.status, accepted.stderr).toBe(0);
      expect(inspect(`${PREFIX}_accepted`, "{{.Config.Healthcheck.StartInterval}}", { host })).toBe("1s");
    });

    it("start_interval 1s makes a container healthy within seconds, though its checks run every 30 s", async () => {
      const name = `${PREFIX}_start_interval`;
      const started = Date.now();
      const created = run(cli, ["run", "-d", ...flags(name)], { host });
      expect(created.status, created.stderr).toBe(0);
      await untilHealthy(name, { host }, 28_000);
      const seconds = (Date.now() - started) / 1000;
      // Without start_interval the first check would run 30 s after the start. Usually 2 to 3 s;
      // the bound leaves room for a machine busy with other tests' deploys.
      expect(seconds, "seconds from start to healthy").toBeLessThan(25);
    });
  });
});

describeEach(TARGETS, "the nginx images on $name", ({ engine }) => {
  const variants = [
    { label: "nginx 1.22", image: TEST_IMAGES.nginx, keepalive: 0 },
    { label: "nginx 1.30", image: TEST_IMAGES.modernNginx, keepalive: 0 },
    { label: "nginx 1.30 with upstream keepalive", image: TEST_IMAGES.modernNginx, keepalive: 32 },
  ];

  it.each(variants)(
    "$label runs the generated edge config: nginx -t, healthy, /healthz and a region through Docker's DNS",
    async ({ image, keepalive }) => {
      const id = `${keepalive ? "ka" : "nk"}${image.endsWith("1.22") ? "122" : "130"}`;
      const network = networkFor(engine, `${PREFIX}_${id}`);
      const api = `${PREFIX}_${id}_api`;
      const edge = `${PREFIX}_${id}_edge`;
      startRegionApi(engine, network, api);

      const settings = { ...edgeNginxSettings(plan), upstreamKeepalive: keepalive };
      const conf = renderNginxConf(settings);
      expect(settings.resolver).toBe("127.0.0.11");
      if (keepalive > 0) expect(conf).toContain(`keepalive ${keepalive};`);
      docker(
        [
          "create",
          "--name",
          edge,
          ...labelArgs(RUN, plan.edge.labels),
          ...hardeningArgs("nginx"),
          "--network",
          network,
          "--network-alias",
          plan.edge.hostname,
          ...healthcheckArgs(nginxHealthcheck(PORTS.http), "1s"),
          image,
        ],
        engine,
      );
      upload(work, edge, NGINX_CONF_PATH, conf, engine);
      upload(work, edge, TLS_CERT_PATH, tls.certificate, engine);
      upload(work, edge, TLS_KEY_PATH, tls.key, engine);
      docker(["start", edge], engine);

      await untilHealthy(edge, engine);
      const test = run("docker", ["exec", edge, "nginx", "-t"], engine);
      expect(test.status, test.stderr).toBe(0);
      expect(test.stderr).toMatch(/test is successful/);

      await untilHealthy(api, engine);
      const healthz = curlIn(api, `http://${plan.edge.hostname}/healthz`, engine);
      expect(healthz.status, healthz.stderr).toBe(0);
      expect(healthz.stdout).toBe("ok\n");
      // The region's route: nginx resolves region-orion-api through 127.0.0.11 at request time.
      const routed = curlIn(api, `http://${plan.edge.hostname}/api/regions/${region.id}/health`, engine);
      expect(routed.status, `${routed.stderr}\n${diagnose(edge, engine)}`).toBe(0);
      expect(JSON.parse(routed.stdout)).toMatchObject({ status: "ok", role: "region-api", region: { id: region.id } });
      docker(["rm", "-f", edge, api], engine);
      docker(["network", "rm", network], engine);
    },
  );
});

describeEach(TARGETS, "the probe image on $name, hardened as a region API", ({ engine }) => {
  let network: string;
  beforeAll(() => {
    network = networkFor(engine, `${PREFIX}_probe`);
  });

  it("turns healthy, answers /health with its role and region from env, and stops with exit 0 at once", async () => {
    const name = `${PREFIX}_probe_plain`;
    startRegionApi(engine, network, name);
    await untilHealthy(name, engine);
    expect(inspect(name, "{{.Config.User}} {{.HostConfig.ReadonlyRootfs}} {{json .HostConfig.Tmpfs}}", engine)).toBe(
      'node true {"/tmp":"rw,noexec,nosuid,size=64m"}',
    );
    const health = curlIn(name, `http://127.0.0.1:${DEFAULT_PORTS["region-api"]}/health`, engine);
    expect(health.status, health.stderr).toBe(0);
    expect(JSON.parse(health.stdout)).toEqual({
      status: "ok",
      role: "region-api",
      region: { id: region.id, name: region.name, type: region.type },
    });

    const stopping = Date.now();
    docker(["stop", name], engine);
    const seconds = (Date.now() - stopping) / 1000;
    expect(inspect(name, "{{.State.ExitCode}}", engine), diagnose(name, engine)).toBe("0");
    expect(seconds, "seconds docker stop took (grace period: 15)").toBeLessThan(5);
  });

  it("with PROBE_START_DELAY_MS refuses connections and is not healthy until the delay has passed", async () => {
    const name = `${PREFIX}_probe_delayed`;
    // Long enough that the first request lands inside it even when docker run is slow under load.
    const delayMs = 15_000;
    const started = Date.now();
    startRegionApi(engine, network, name, { PROBE_START_DELAY_MS: String(delayMs) });
    const early = curlIn(name, `http://127.0.0.1:${DEFAULT_PORTS["region-api"]}/health`, engine);
    const earlyMs = Date.now() - started;
    expect(earlyMs, "the first request came too late to be inside the delay").toBeLessThan(delayMs);
    expect(early.status, `curl inside the delay: ${early.stdout}${early.stderr}`).toBe(7); // connection refused
    expect(healthOf(name, engine)).toBe("running starting");
    await untilHealthy(name, engine);
    expect(Date.now() - started, "ms from start to healthy").toBeGreaterThanOrEqual(delayMs);
    docker(["rm", "-f", name], engine);
  });

  it("stopped inside its start delay, exits 0 at once", async () => {
    const name = `${PREFIX}_probe_stopped_early`;
    startRegionApi(engine, network, name, { PROBE_START_DELAY_MS: "60000" });
    // Logged once its SIGTERM handler is in place: node as PID 1 ignores a SIGTERM before that.
    await pollUntil(
      `${name} to start its delay`,
      () => (/listening in 60000 ms/.test(run("docker", ["logs", name], engine).stdout) ? true : undefined),
      { timeoutMs: 15_000, intervalMs: 100 },
    );
    const stopping = Date.now();
    docker(["stop", name], engine);
    expect(inspect(name, "{{.State.ExitCode}}", engine), diagnose(name, engine)).toBe("0");
    expect((Date.now() - stopping) / 1000, "seconds docker stop took (grace period: 15)").toBeLessThan(5);
  });
});

describeEach(TARGETS, "Docker's DNS on $name", ({ engine }) => {
  it("keeps a stopping container's name while it handles SIGTERM, and drops it once its process has exited", async () => {
    const network = networkFor(engine, `${PREFIX}_dns`);
    const stopping = `${PREFIX}_dns_stopping`;
    const watcher = `${PREFIX}_dns_watcher`;
    const labels = labelArgs(RUN, {});
    // Shuts down only when the test says so (/tmp/release), like a server draining its requests.
    const drain = 'trap "echo TERM; until [ -e /tmp/release ]; do sleep 0.05; done; exit 0" TERM';
    const start = (name: string, command: string) => {
      const flags = ["--name", name, ...labels, "--network", network, "--entrypoint", "bash"];
      docker(["run", "-d", ...flags, TEST_IMAGES.probe, "-c", command], engine);
    };
    start(stopping, `${drain}; echo ready; while :; do sleep 0.05; done`);
    start(watcher, "exec sleep 300");
    const resolves = () => run("docker", ["exec", watcher, "getent", "hosts", stopping], engine).status === 0;
    await pollUntil("the container to trap SIGTERM", () => (/ready/.test(logsOf(stopping, engine)) ? true : undefined));
    expect(resolves(), "the name of a running container").toBe(true);

    const stop = dockerInBackground(["stop", "--time", "30", stopping], engine);
    await pollUntil("SIGTERM to arrive", () => (/TERM/.test(logsOf(stopping, engine)) ? true : undefined));
    expect(resolves(), "the name while its process handles SIGTERM").toBe(true);
    // Copied in, not `docker exec touch`: when the trap sees the file, PID 1 exits and the kernel
    // kills every process left in the container, an exec'd touch still on its way out included (137).
    upload(work, stopping, "/tmp/release", "", engine);
    const stopped = await stop;
    expect(stopped.status, stopped.stderr).toBe(0);
    expect(inspect(stopping, "{{.State.Status}} {{.State.ExitCode}}", engine)).toBe("exited 0");
    await pollUntil("the name to be dropped", () => (resolves() ? undefined : true), { timeoutMs: 5_000 });
  });
});
