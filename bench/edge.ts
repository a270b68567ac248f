/**
 * Part 3: what the edge proxy costs per request. wrk against a small-response backend directly,
 * then through real nginx running the generated nginx.conf (the dev stack's routes, names
 * resolved at request time through a stand-in for Docker's DNS), all on 127.0.0.1. Two backends:
 * nginx returning a fixed body (costs next to nothing: the worst case for the ratio) and the
 * repo's probe (probe/server.js, the Node process the dev stack runs as the region API).
 * Edges: the default config (no pool) on Debian's nginx 1.22 and on nginx 1.30 (modernNginx(), the
 * version prod pins), and the pooled config (upstreamKeepalive 32: zone'd upstream blocks with
 * `server name:port resolve` + keepalive; what prod ran before deploys swapped containers) on nginx 1.30.
 * With taskset, wrk gets CPU 0 and the server side (backend, edge, this process) CPU 1.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseConfig } from "../planning/config";
import { edgeNginxSettings } from "../planning/edge/plan";
import { renderNginxConf } from "../planning/edge/nginx";
import type { NginxSettings } from "../planning/edge/settings";
import { type StackPlan, planStack } from "../planning/stack/topology";
import { rawOf } from "../test/support/configs";
import {
  NGINX_BIN,
  type RunningNginx,
  type Sandbox,
  makeSandbox,
  modernNginx,
  startNginx,
  sandboxPaths,
} from "../test/support/nginx";
import { type FakeDns, freePorts, httpRequest, pollUntil, startFakeDns } from "../test/support/net";
import { readStackFile } from "../test/support/pulumi";
import { waitUntil } from "../test/support/process";
import { ROOT, log, median, round, isoNow } from "./common";
import {
  CLIENT_CPU,
  WRK_CONNECTIONS,
  WRK_THREADS,
  SERVER_CPU,
  type WrkStats,
  childCount,
  ensureWrk,
  pinSelf,
  pinningWanted,
  restoreSelf,
  wrk,
} from "./wrk";

/** The route measured: a region API, the game's hot path. */
const PATH = "/api/regions/default/ping";
const BODY = '{"ok":true}';
/** The pool size the pooled rows measure (what Pulumi.prod.yaml set before deploys swapped containers). */
const PROD_UPSTREAM_KEEPALIVE = 32;

export type EdgeBackend = "nginx static" | "probe";

export interface EdgeRow {
  /** Which backend answers; ratio and addedUs compare with the direct row of the same backend. */
  backend: EdgeBackend;
  variant: string;
  description: string;
  runs: number;
  rps: number;
  /** Slowest and fastest run: how much the runs of this variant disagree. */
  rpsMin: number;
  rpsMax: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  /** rps relative to the direct baseline. */
  ratio: number;
  /** 1/rps − 1/rps(direct), in µs: what each request costs on top of the backend. */
  addedUs: number;
}

export interface EdgeResult {
  date: string;
  /** CPUs of the machine it ran on (absent in results older than the field: the machine header's). */
  cores?: number;
  /** The pool size of the pooled rows (absent in older results: read from their variant names). */
  upstreamKeepalive?: number;
  durationSeconds: number;
  wrk: string;
  nginxWorkers: string;
  /** nginx versions of the edges: Debian's (default config rows) and the >= 1.27.3 one (prod config rows). */
  edgeNginx: { debian: string; modern: string };
  /** Where wrk and the server side ran, e.g. "wrk on CPU 0; …on CPU 1", or "none". */
  pinning: string;
  /** Response body size of each backend on the measured route, direct (bytes). */
  bodyBytes: Record<EdgeBackend, number>;
  rows: EdgeRow[];
}

/** The backend: nginx answering every request with a small JSON body, one worker, no log. */
function backendConf(sandbox: Sandbox, ports: { http: number; https: number }): string {
  const tmp = sandbox.runtime.tempDir;
  return `worker_processes 1;
pid ${sandbox.runtime.pidFile};
error_log ${sandbox.runtime.errorLog} warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${tmp}/client_body;
  proxy_temp_path ${tmp}/proxy;
  fastcgi_temp_path ${tmp}/fastcgi;
  uwsgi_temp_path ${tmp}/uwsgi;
  scgi_temp_path ${tmp}/scgi;
  keepalive_requests 100000;
  server {
    listen 127.0.0.1:${ports.http};
    listen 127.0.0.1:${ports.https} ssl;
    ssl_certificate ${sandbox.tls.certificate};
    ssl_certificate_key ${sandbox.tls.certificateKey};
    default_type application/json;
    location / { return 200 '${BODY}'; }
  }
}
`;
}

const PROBE_SERVER = path.join(ROOT, "probe", "server.js");

interface RunningProbe {
  port: number;
  stop(): Promise<void>;
}

/**
 * The probe as the dev stack runs it for the default region (node probe/server.js, the region
 * API's env), without DATABASE_URL/REDIS_URL: the measured route is its echo, which touches
 * neither. Logs nothing per request.
 */
async function startProbe(port: number, env: Record<string, string>): Promise<RunningProbe> {
  for (const dep of ["pg", "ioredis"]) {
    if (!fs.existsSync(path.join(ROOT, "probe", "node_modules", dep, "package.json"))) {
      throw new Error(`probe/node_modules/${dep} is missing: run \`npm ci --prefix probe\` first`);
    }
  }
  const child: ChildProcess = spawn(process.execPath, [PROBE_SERVER], {
    env: { PATH: process.env.PATH, ...env, PORT: String(port), HOST: "127.0.0.1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await waitUntil(
      `the probe on ${port}`,
      async () => {
        if (child.exitCode !== null) throw new Error(`probe exited ${child.exitCode}:\n${output}`);
        return (await httpRequest({ port, path: "/health", timeoutMs: 1_000 })).status === 200;
      },
      15_000,
    );
  } catch (err) {
    await stop();
    throw new Error(`probe did not start: ${err instanceof Error ? err.message : String(err)}\n${output}`, {
      cause: err,
    });
  }
  return { port, stop };
}

const withPort = (upstream: string, port: number): string => `${upstream.slice(0, upstream.lastIndexOf(":"))}:${port}`;

/** The dev stack as the program plans it. */
function devPlan(): StackPlan {
  const config = parseConfig(rawOf(readStackFile("dev")), {
    presentSecrets: new Set(),
    directoryExists: (dir) => fs.existsSync(dir) && fs.statSync(dir).isDirectory(),
  });
  return planStack(config, "bench");
}

/** The dev stack's edge settings, with every upstream on the backend's port and the sandbox's paths. */
function edgeSettings(
  plan: StackPlan,
  sandbox: Sandbox,
  dns: FakeDns,
  backendPort: number,
  ports: { http: number; https: number },
): NginxSettings {
  const generated = edgeNginxSettings(plan);
  return {
    ...generated,
    regions: generated.regions.map((r) => ({ ...r, upstream: withPort(r.upstream, backendPort) })),
    upstreams: {
      nexus: withPort(generated.upstreams.nexus, backendPort),
      admin: withPort(generated.upstreams.admin, backendPort),
      player: withPort(generated.upstreams.player, backendPort),
      paypal: withPort(generated.upstreams.paypal, backendPort),
    },
    resolver: dns.address,
    listen: { address: "127.0.0.1", http: ports.http, https: ports.https },
    ...sandboxPaths(sandbox),
  };
}

function nginxVersion(bin: string): string {
  const out = spawnSync(bin, ["-v"], { encoding: "utf8", timeout: 30_000 });
  const version = /nginx\/(\d+\.\d+\.\d+)/.exec(out.stderr)?.[1];
  if (version === undefined) throw new Error(`${bin} -v failed: ${out.stderr}`);
  return version;
}

interface Variant {
  backend: EdgeBackend;
  variant: string;
  description: string;
  url: () => string;
}

export async function runEdgeBench(runs: number, seconds: number): Promise<EdgeResult> {
  ensureWrk();
  const sandboxes: Sandbox[] = [];
  const servers: RunningNginx[] = [];
  let probe: RunningProbe | undefined;
  let dns: FakeDns | undefined;
  const pinned = pinningWanted();
  // Before anything is started: the servers inherit the mask from this process.
  const previousMask = pinned ? pinSelf(String(SERVER_CPU)) : undefined;
  try {
    const sandbox = (): Sandbox => {
      const s = makeSandbox();
      sandboxes.push(s);
      return s;
    };
    const plan = devPlan();
    const backendBox = sandbox();
    const backend = await startNginx(backendBox, (ports) => backendConf(backendBox, ports));
    servers.push(backend);

    const region = plan.regions.find((r) => r.id === "default");
    if (!region) throw new Error("the dev stack has no default region");
    const [probePort] = (await freePorts(1)) as [number];
    probe = await startProbe(probePort, {
      SECTORWARS_ROLE: region.api.role,
      REGION_ID: region.id,
      REGION_NAME: region.name,
      REGION_TYPE: region.type,
    });

    const fake = await startFakeDns();
    dns = fake;
    const modern = modernNginx();
    /**
     * An edge running the generated config with every upstream on `backendPort`, its names
     * resolved through the fake DNS; `upstreamKeepalive` above 0 is the pooled (prod) config.
     */
    const startEdge = async (backendPort: number, bin: string, upstreamKeepalive = 0): Promise<RunningNginx> => {
      const box = sandbox();
      const edge = await startNginx(
        box,
        (ports) => {
          const settings = edgeSettings(plan, box, fake, backendPort, ports);
          for (const upstream of [...settings.regions.map((r) => r.upstream), ...Object.values(settings.upstreams)]) {
            fake.set(upstream.slice(0, upstream.lastIndexOf(":")), "127.0.0.1");
          }
          const conf = renderNginxConf({ ...settings, upstreamKeepalive });
          if (upstreamKeepalive > 0 && !/^\s*server \S+:\d+ resolve /m.test(conf)) {
            throw new Error(
              "the pooled config has no `server name:port resolve` line: the bench would not exercise it",
            );
          }
          return conf;
        },
        bin,
      );
      servers.push(edge);
      return edge;
    };
    const edge = await startEdge(backend.http, NGINX_BIN);
    const modernEdge = await startEdge(backend.http, modern.bin);
    const prodEdge = await startEdge(backend.http, modern.bin, PROD_UPSTREAM_KEEPALIVE);
    const probeEdge = await startEdge(probe.port, NGINX_BIN);
    const probeModernEdge = await startEdge(probe.port, modern.bin);
    const probeProdEdge = await startEdge(probe.port, modern.bin, PROD_UPSTREAM_KEEPALIVE);

    // The route must really reach the backend through the resolver, or the numbers mean nothing.
    // Polled: with `resolve`, nginx looks the upstream names up after it starts serving.
    const reaches = async (e: RunningNginx, check: (answer: { status: number; body: string }) => boolean) => {
      let last = { status: 0, body: "" };
      try {
        await pollUntil(
          `the edge on ${e.http} to reach its backend`,
          async () => {
            last = await httpRequest({ port: e.http, path: PATH, timeoutMs: 1_000 });
            return check(last) ? true : undefined;
          },
          { timeoutMs: 15_000, intervalMs: 100 },
        );
      } catch (err) {
        throw new Error(`edge on ${e.http} did not reach its backend: ${last.status} ${last.body}\n${e.errorLog()}`, {
          cause: err,
        });
      }
    };
    for (const e of [edge, modernEdge, prodEdge]) {
      await reaches(e, (answer) => answer.status === 200 && answer.body === BODY);
    }
    for (const e of [probeEdge, probeModernEdge, probeProdEdge]) {
      await reaches(e, (answer) => {
        const echo =
          answer.status === 200
            ? (JSON.parse(answer.body) as { path?: string; headers?: Record<string, unknown> })
            : {};
        return echo.path === PATH && echo.headers?.["x-region-id"] === region.id;
      });
    }
    const probeDirect = await httpRequest({ port: probe.port, path: PATH });
    if (probeDirect.status !== 200) throw new Error(`probe answered ${probeDirect.status} ${probeDirect.body}`);
    const bodyBytes: Record<EdgeBackend, number> = {
      "nginx static": Buffer.byteLength(BODY),
      probe: Buffer.byteLength(probeDirect.body),
    };

    const modernMinor = modern.version.split(".").slice(0, 2).join(".");
    const variants: Variant[] = [
      {
        backend: "nginx static",
        variant: "direct",
        description: "wrk → backend nginx (baseline)",
        url: () => `http://127.0.0.1:${backend.http}${PATH}`,
      },
      {
        backend: "nginx static",
        variant: "edge, HTTP",
        description: "wrk → generated edge config → backend",
        url: () => `http://127.0.0.1:${edge.http}${PATH}`,
      },
      {
        backend: "nginx static",
        variant: "edge, HTTPS",
        description: "same, TLS from wrk to the edge",
        url: () => `https://127.0.0.1:${edge.https}${PATH}`,
      },
      {
        backend: "nginx static",
        variant: `edge, HTTP, default config on nginx ${modernMinor}`,
        description: `same config (no pool), nginx ${modern.version} as the edge`,
        url: () => `http://127.0.0.1:${modernEdge.http}${PATH}`,
      },
      {
        backend: "nginx static",
        variant: `edge, HTTP, prod config (upstreamKeepalive ${PROD_UPSTREAM_KEEPALIVE}, nginx ${modernMinor})`,
        description: "generated config with keepalive pools (`server name:port resolve`) → backend",
        url: () => `http://127.0.0.1:${prodEdge.http}${PATH}`,
      },
      {
        backend: "probe",
        variant: "direct",
        description: "wrk → probe (baseline)",
        url: () => `http://127.0.0.1:${probe?.port}${PATH}`,
      },
      {
        backend: "probe",
        variant: "edge, HTTP",
        description: "wrk → generated edge config → probe",
        url: () => `http://127.0.0.1:${probeEdge.http}${PATH}`,
      },
      {
        backend: "probe",
        variant: `edge, HTTP, default config on nginx ${modernMinor}`,
        description: `same config (no pool), nginx ${modern.version} as the edge`,
        url: () => `http://127.0.0.1:${probeModernEdge.http}${PATH}`,
      },
      {
        backend: "probe",
        variant: `edge, HTTP, prod config (upstreamKeepalive ${PROD_UPSTREAM_KEEPALIVE}, nginx ${modernMinor})`,
        description: "generated config with keepalive pools (`server name:port resolve`) → probe",
        url: () => `http://127.0.0.1:${probeProdEdge.http}${PATH}`,
      },
    ];
    const key = (v: { backend: string; variant: string }): string => `${v.backend}: ${v.variant}`;
    const samples = new Map<string, WrkStats[]>(variants.map((v) => [key(v), []]));
    for (const v of variants) await wrk(v.url(), 2, pinned); // warm-up: caches, TLS sessions, DNS, JIT
    // Rounds interleave the variants, so drift on a shared machine hits them all alike.
    for (let round = 1; round <= runs; round++) {
      for (const v of variants) {
        const stats = await wrk(v.url(), seconds, pinned);
        log(
          `edge ${key(v)}, run ${round}/${runs}: ${Math.round(stats.rps)} req/s, p99 ${stats.p99Ms} ms, errors ${stats.errors}`,
        );
        samples.get(key(v))?.push(stats);
      }
    }
    const rowOf = (v: Variant): Omit<EdgeRow, "ratio" | "addedUs"> => {
      const s = samples.get(key(v)) ?? [];
      const rps = s.map((x) => x.rps);
      return {
        backend: v.backend,
        variant: v.variant,
        description: v.description,
        runs: s.length,
        rps: median(rps),
        rpsMin: Math.min(...rps),
        rpsMax: Math.max(...rps),
        p50Ms: median(s.map((x) => x.p50Ms)),
        p99Ms: median(s.map((x) => x.p99Ms)),
        errors: s.reduce((sum, x) => sum + x.errors, 0),
      };
    };
    const rows = variants.map(rowOf);
    const directOf = (b: EdgeBackend): number =>
      rows.find((r) => r.backend === b && r.variant === "direct")?.rps ?? Number.NaN;
    const edgeWorkers = childCount(edge.pid);
    return {
      date: isoNow(),
      cores: os.cpus().length,
      upstreamKeepalive: PROD_UPSTREAM_KEEPALIVE,
      durationSeconds: seconds,
      wrk: `-t${WRK_THREADS} -c${WRK_CONNECTIONS} -d${seconds}s --latency`,
      edgeNginx: { debian: nginxVersion(NGINX_BIN), modern: modern.version },
      nginxWorkers: `worker_processes auto (generated) = ${edgeWorkers} workers on this machine; backend nginx: 1 worker; probe: one Node.js process`,
      pinning: pinned
        ? `taskset: wrk on CPU ${CLIENT_CPU}; backend, edge and the bench process (fake DNS) on CPU ${SERVER_CPU}`
        : "none",
      bodyBytes,
      rows: rows.map((r) => {
        const direct = directOf(r.backend);
        return { ...r, ratio: round(r.rps / direct, 3), addedUs: round(1e6 / r.rps - 1e6 / direct, 1) };
      }),
    };
  } finally {
    for (const s of servers.reverse()) await s.stop();
    await probe?.stop();
    await dns?.stop();
    for (const s of sandboxes) s.remove();
    if (previousMask) restoreSelf(previousMask);
  }
}
