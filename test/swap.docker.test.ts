/**
 * A new game-server version, deployed under load: requests (GET and POST, over HTTP and HTTPS)
 * loop through the edge (real nginx in a container, with the nginx.conf the program generates) to
 * a region API and the nexus, while both
 * API containers are replaced in exactly the order and with exactly the settings the program
 * declares (test/support/containerSpec.ts), the edge reload it declares between the new
 * containers and the removal of the old ones included. The stand-in API refuses connections for
 * seconds before it listens, as a game server loading its world does. On both engines: the
 * modern one's start interval makes the swap quicker than nginx's name cache.
 *
 * Create-before-delete must fail no request. The same swap done delete-before-create must fail
 * some, or this test could not tell the two apart.
 *
 * With keepalive pools (what prod runs, on nginx 1.30), the reload installs pools that name each
 * new container, and the swap must fail no request either. Its control reloads pools of the
 * shared names alone, which keep the old container's address after it is gone: that must fail
 * some (504s, nginx waiting on the old address).
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { RESOLVER_VALID_SECONDS } from "../planning/edge/settings";
import { devConfigWith } from "./support/configs";
import { type RunAs, replaceDeclared, startDeclared, waitHealthy } from "./support/containerSpec";
import {
  type EngineOption,
  type TestRun,
  docker,
  ensureDockerd,
  newTestRun,
  reapDeadRuns,
  removeLabelled,
  run,
} from "./support/docker";
import { ensureModernDockerd, modernDockerd } from "./support/modernDocker";
import { containers, uploadOf } from "./support/graph";
import { TEST_IMAGES, ensureTestImages } from "./support/images";
import { labelArgs, upload } from "./support/platformContainers";
import { type Answer, type ProbeEcho, getAt, probeEchoOf } from "./support/net";
import { type SuiteTarget, describeEach } from "./support/engineSuites";
import { waitUntil } from "./support/process";
import { selfSignedPem } from "./support/tls";
import { NETWORK, type ProgramRun, type RegisteredResource, readStackFile, runProgram } from "./support/pulumi";
import { NGINX_CONF_PATH, TLS_CERT_PATH, TLS_KEY_PATH, edgeReloadInput } from "../planning/edge/plan";

const KIND = "swap";
/** The dev stack's edge settings, which the pooled variant adds its pools to. */
const DEV_EDGE = readStackFile("dev")["sectorwars:edge"] as Record<string, unknown>;
/** What Pulumi.prod.yaml sets edge.upstreamKeepalive to. */
const POOL_SIZE = 32;
/** How long the stand-in API refuses connections after it starts. */
const START_DELAY_MS = 4_000;
const REGION = "orion";
/** The provider's `wait` gives up after waitTimeout; the tests wait as long. */
const WAIT_MS = 180_000;

interface Variant extends SuiteTarget {
  /**
   * The default engine (Docker 20.10, API 1.41: health checks probe every interval) or the modern
   * one (26.1, API 1.45: the program gives them a 1 s start interval, so swaps are faster).
   */
  engine: "default" | "modern";
  /** edge.upstreamKeepalive: pools to the backends, on nginx 1.30 (1.22 has no `resolve` in upstreams). */
  pooled?: boolean;
}

/** The stack as the program declares it for one game-server version. */
function declare(prefix: string, variant: Variant, version: string, tls: ReturnType<typeof selfSignedPem>) {
  return runProgram({
    engine: variant.engine === "modern" ? "1.45" : "1.41",
    config: {
      ...devConfigWith([
        { id: "default", name: "Default Galaxy", type: "default", slot: 1 },
        { id: REGION, name: "Orion Reach", type: "player_owned", slot: 2 },
      ]),
      "sectorwars:namePrefix": prefix,
      "sectorwars:images": { gameserver: `registry.example/sectorwars/gameserver:${version}` },
      ...(variant.pooled ? { "sectorwars:edge": { ...DEV_EDGE, upstreamKeepalive: POOL_SIZE } } : {}),
    },
    secrets: { "sectorwars:tlsCertificate": tls.certificate, "sectorwars:tlsPrivateKey": tls.key },
    stack: "test",
  });
}

const apisOf = (run: ProgramRun): RegisteredResource[] => [run.byName("nexus-api"), run.byName(`region-${REGION}-api`)];

/** The networks the program declares, created as it declares them (plus the run's labels). */
function createNetworks(run: ProgramRun, t: TestRun, on: EngineOption): void {
  for (const n of run.ofType(NETWORK)) {
    const internal = n.inputs.internal ? ["--internal"] : [];
    docker(["network", "create", "--driver", "bridge", ...internal, ...labelArgs(t, {}), String(n.inputs.name)], on);
  }
}

/** nginx with the program's own uploads (nginx.conf, certificate, key) on the front network; its address. */
async function startEdge(
  run: ProgramRun,
  t: TestRun,
  c: { image: string; workDir: string; prefix: string; on: EngineOption },
): Promise<{ ip: string; name: string }> {
  const { image, workDir, prefix, on } = c;
  const edge = containers(run).find((c) => c.name === "edge") as RegisteredResource;
  const front = (edge.inputs.networksAdvanced as { name: string; aliases: string[] }[])[0];
  if (!front) throw new Error("the edge joins no network");
  const name = `${prefix}-edge`;
  const network = ["--network", front.name, "--network-alias", "nginx"];
  docker(["create", "--name", name, ...labelArgs(t, {}), ...network, image], on);
  for (const file of ["/etc/nginx/nginx.conf", "/etc/nginx/tls/server.crt", "/etc/nginx/tls/server.key"]) {
    upload(workDir, name, file, uploadOf(edge, file), on);
  }
  docker(["start", name], on);
  const address = `{{(index .NetworkSettings.Networks "${front.name}").IPAddress}}`;
  const ip = docker(["inspect", "--format", address, name], on).trim();
  await waitUntil(`nginx in ${name} at ${ip}`, async () => (await get(ip, "/healthz")).status === 200, 30_000);
  return { ip, name };
}

/**
 * The program's edge-reload command, run against the test's nginx container on `on`; in the
 * background, as the engine runs it, so that the load goes on meanwhile. `stdin`: what it
 * installs, if not what the program declares.
 */
function runEdgeReload(run: ProgramRun, edgeName: string, on: EngineOption, stdin?: string): Promise<void> {
  const reload = run.byName("edge-reload");
  const declaredEdge = String(containers(run).find((c) => c.name === "edge")?.inputs.name);
  const command = String(reload.inputs.create).replace(` ${declaredEdge} `, ` ${edgeName} `);
  if (!command.includes(edgeName)) throw new Error(`the reload command names no container: ${command}`);
  const env = on.host === undefined ? process.env : { ...process.env, DOCKER_HOST: on.host };
  return new Promise((resolve, reject) => {
    const child = spawn("sh", ["-c", command], { env, stdio: ["pipe", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    child.on("error", reject);
    child.on("close", (status) =>
      status === 0 ? resolve() : reject(new Error(`the edge reload failed (${status}): ${stderr}`)),
    );
    child.stdin.end(stdin ?? String(reload.inputs.stdin));
  });
}

/** A GET to the edge's port 80. */
const get = (host: string, urlPath: string, agent?: http.Agent): Promise<Answer> =>
  getAt(host, 80, urlPath, agent ?? false);

/** What each route must answer: the probe's echo names the role and region that served it. */
const ROUTES: { path: string; served: (echo: ProbeEcho) => boolean }[] = [
  { path: `/api/regions/${REGION}/ships`, served: (e) => e.role === "region-api" && e.region?.id === REGION },
  { path: "/api/nexus/galaxy", served: (e) => e.role === "nexus-api" },
];

/**
 * One request on a kept-alive connection to the edge, as a browser sends it: once more if the
 * connection the client reused turns out closed before any answer (the client's side of
 * keep-alive, not the edge's upstream).
 */
function send(
  c: { host: string; path: string; method: "GET" | "POST"; agent: http.Agent; tls: boolean },
  retried = false,
): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    const body = c.method === "POST" ? JSON.stringify({ move: "warp" }) : undefined;
    const options = {
      host: c.host,
      port: c.tls ? 443 : 80,
      path: c.path,
      method: c.method,
      agent: c.agent,
      timeout: 15_000,
      headers: body ? { "content-type": "application/json", "content-length": Buffer.byteLength(body) } : {},
      ...(c.tls ? { rejectUnauthorized: false, servername: "localhost" } : {}),
    };
    const req = (c.tls ? https : http).request(options, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`${c.method} ${c.path}: no answer within 15 s`)));
    req.on("error", (error: NodeJS.ErrnoException) => {
      if (!retried && req.reusedSocket && (error.code === "ECONNRESET" || error.code === "EPIPE"))
        resolve(send(c, true));
      else reject(error);
    });
    req.end(body);
  });
}

/**
 * Requests in a loop from a few clients (keep-alive to the edge, as browsers do) until stopped:
 * half of them over HTTPS, and every other request a POST, which nginx passes to another server
 * only if it never reached the first.
 */
class Load {
  ok = 0;
  readonly failures: string[] = [];
  private running = true;
  private readonly workers: Promise<void>[];

  constructor(host: string, clients: number) {
    this.workers = Array.from({ length: clients }, (_, i) => this.client(host, i));
  }

  private async client(host: string, index: number): Promise<void> {
    const tls = index % 2 === 1;
    const agent = tls
      ? new https.Agent({ keepAlive: true, maxSockets: 1 })
      : new http.Agent({ keepAlive: true, maxSockets: 1 });
    for (let n = index; this.running; n++) {
      const route = ROUTES[n % ROUTES.length] as (typeof ROUTES)[number];
      const method = Math.floor(n / ROUTES.length) % 2 === 0 ? "GET" : "POST";
      const what = `${method} ${tls ? "https" : "http"} ${route.path}`;
      const at = new Date().toISOString();
      try {
        const answer = await send({ host, path: route.path, method, agent, tls });
        const echo = answer.status === 200 ? probeEchoOf(answer) : {};
        if (answer.status === 200 && route.served(echo) && echo.method === method) this.ok++;
        else this.failures.push(`${at} ${what}: ${answer.status} ${answer.body.slice(0, 120)}`);
      } catch (error) {
        this.failures.push(`${at} ${what}: ${(error as Error).message}`);
      }
    }
    agent.destroy();
  }

  /** Waits until `more` further requests have succeeded (or failed: a stalled load is a failure too). */
  async progress(more: number, what: string): Promise<void> {
    const target = this.ok + this.failures.length + more;
    await waitUntil(what, () => this.ok + this.failures.length >= target, 60_000);
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.workers);
  }
}

const modern = modernDockerd();

const VARIANTS: Variant[] = [
  { name: "Docker 20.10 (no start interval)", engine: "default" },
  { name: "Docker 26.1 (1 s start interval)", engine: "modern", suite: "modern", availability: modern },
  {
    name: "Docker 26.1, keepalive pools on nginx 1.30",
    engine: "modern",
    pooled: true,
    suite: "modern",
    availability: modern,
  },
];

/**
 * How the swap is done: as the program declares it; deleting the old containers first; or as
 * declared, but with the reload installing pools of the shared names alone (the config the edge
 * container is created with, and what the program rendered before pools named each container).
 */
type How = "as declared" | "delete-before-create" | "pools on shared names";

/** The reload's stdin with the edge container's own files: pools on the shared names alone. */
function sharedNamePools(run: ProgramRun): string {
  const edge = containers(run).find((c) => c.name === "edge") as RegisteredResource;
  const conf = uploadOf(edge, NGINX_CONF_PATH);
  if (!conf.includes(`keepalive ${POOL_SIZE};`) || conf.includes(" backup ")) {
    throw new Error("the edge container's nginx.conf is not a config of pools on the shared names");
  }
  return edgeReloadInput({
    conf,
    certificate: uploadOf(edge, TLS_CERT_PATH),
    certificateKey: uploadOf(edge, TLS_KEY_PATH),
  });
}

describeEach(VARIANTS, "a game-server update under load, $name", (variant) => {
  let t: TestRun;
  let workDir: string;
  let as: RunAs;
  let tls: ReturnType<typeof selfSignedPem>;
  let on: EngineOption;
  beforeAll(async () => {
    await ensureDockerd();
    on = variant.engine === "modern" ? { host: (await ensureModernDockerd()).host } : {};
    ensureTestImages(on);
    reapDeadRuns(KIND, on);
    t = newTestRun(KIND);
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), "swap-"));
    tls = selfSignedPem("localhost");
    as = {
      image: TEST_IMAGES.probe,
      extraLabels: t.labels,
      extraEnv: { PROBE_START_DELAY_MS: String(START_DELAY_MS) },
      engine: on,
    };
  }, 600_000);
  afterAll(() => {
    if (t) removeLabelled(t.runLabel, on);
    if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
  });

  /**
   * Starts version 1.0.0 behind the edge, puts the routes under load, replaces both APIs with
   * version 1.1.0 as `how` says, and keeps the load on until nginx has had to re-resolve the
   * names (its resolver cache outlived), then stops.
   */
  async function deploy(how: How): Promise<{ load: Load; steps: string[]; story: string }> {
    // Each run gets its own prefix: names, networks and aliases of two runs never meet.
    const prefix = `sw${t.id}${{ "as declared": "a", "delete-before-create": "d", "pools on shared names": "s" }[how]}`;
    const [v1, v2] = [await declare(prefix, variant, "1.0.0", tls), await declare(prefix, variant, "1.1.0", tls)];
    createNetworks(v1, t, on);
    await Promise.all(apisOf(v1).map((api) => waitHealthy(startDeclared(api, as), WAIT_MS, on)));
    const image = variant.pooled ? TEST_IMAGES.modernNginx : TEST_IMAGES.nginx;
    const edge = await startEdge(v1, t, { image, workDir, prefix, on });
    const events: string[] = [];
    const mark = (what: string) => events.push(`${new Date().toISOString()} ${what}`);

    const load = new Load(edge.ip, 4);
    await load.progress(40, "the load to get going");
    const next = apisOf(v2).map((api) =>
      how === "delete-before-create" ? { ...api, deleteBeforeReplace: true } : api,
    );
    mark("swap starts");
    const pairs = apisOf(v1).map((old, i) => [old, next[i]] as [RegisteredResource, RegisteredResource]);
    const steps = await replaceDeclared(pairs, as, {
      waitTimeoutMs: WAIT_MS,
      mark,
      // The program's edge reload, which depends on the new containers (test/edgeProxy.test.ts).
      dependents: () =>
        runEdgeReload(v2, edge.name, on, how === "pools on shared names" ? sharedNamePools(v2) : undefined),
    });
    const replacedAt = Date.now();
    // Past the resolver's cache: addresses of removed containers cannot be in use any more.
    await waitUntil(
      "nginx's resolver cache to expire under load",
      () => Date.now() > replacedAt + (RESOLVER_VALID_SECONDS + 2) * 1000,
      (RESOLVER_VALID_SECONDS + 10) * 1000,
    );
    await load.progress(40, "the load after the swap");
    await load.stop();
    // When each step happened, and what the edge logged besides answers that went well (upstream
    // errors, retries), for a failure's message.
    const logs = run("docker", ["logs", edge.name], on);
    const log = `${logs.stdout}${logs.stderr}`
      .split("\n")
      .filter((line) => line !== "" && !line.includes('"status":"200"'))
      .slice(-60)
      .join("\n");
    return { load, steps, story: `${events.join("\n")}\n${log}` };
  }

  it("fails no request when the program's containers are replaced as it declares them", async () => {
    const { load, steps, story } = await deploy("as declared");
    const kinds = steps.map((step) => step.replace(/^.*: /, ""));
    // Both successors up before anything is stopped, the edge reloaded, then the old ones go.
    expect([...kinds.slice(0, 4)].sort(), "the program declares the APIs create-before-delete").toEqual([
      "create new",
      "create new",
      "new healthy",
      "new healthy",
    ]);
    expect(kinds.slice(4)).toEqual(["dependents", "delete old", "delete old"]);
    expect(
      load.failures,
      `${load.failures.length} of ${load.ok + load.failures.length} requests failed\n${story}`,
    ).toEqual([]);
    expect(load.ok).toBeGreaterThan(80);
  }, 600_000);

  // Without pools, the control deletes first; with them, it pools on the shared names.
  if (!variant.pooled) {
    it("fails requests when the same swap deletes first (the test can tell the difference)", async () => {
      const { load, steps } = await deploy("delete-before-create");
      const kinds = steps.map((step) => step.replace(/^.*: /, ""));
      expect(kinds.lastIndexOf("delete old"), "both old containers go before a new one serves").toBeLessThan(
        kinds.indexOf("new healthy"),
      );
      expect(load.failures.length, "requests failed during the outage").toBeGreaterThan(0);
      expect(load.failures.join("\n")).toMatch(/502/);
    }, 600_000);
  } else {
    it("fails requests when the reload pools on the shared names alone (the test can tell the difference)", async () => {
      const { load } = await deploy("pools on shared names");
      expect(load.failures.length, "requests sent to a removed container's address").toBeGreaterThan(0);
      expect(load.failures.join("\n")).toMatch(/504/);
    }, 600_000);
  }
});
