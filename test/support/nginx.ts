/**
 * Runs the real nginx binary on generated configs: a sandbox directory with a throwaway
 * certificate and writable runtime paths, `nginx -t`, and a foreground nginx on free ports.
 */
import { writeSelfSigned } from "./tls";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import type { NginxRegionRoute, NginxSettings } from "../../planning/edge/settings";
import { REGION_ID_PATTERN } from "../../planning/config/regions";
import { ensureCommands } from "./docker";
import {
  type EchoBackend,
  type FakeDns,
  type HttpResult,
  echoOf,
  freePorts,
  httpRequest,
  pollUntil,
  startEchoBackend,
} from "./net";
import { start, stop } from "./process";

export const NGINX_BIN = process.env.NGINX_BIN ?? "/usr/sbin/nginx";

const BUILD_MODERN_NGINX = path.join(__dirname, "..", "..", "scripts", "build-test-nginx.sh");

/**
 * An nginx >= 1.27.3 (Debian testing's, see scripts/build-test-nginx.sh), for configs that Debian
 * bookworm's 1.22 cannot run: `server name:port resolve` in upstream blocks. Builds it on the
 * first call (debootstrap, about half a minute; cached afterwards) and throws, never skips, when
 * that fails, so a missing nginx is a failed test rather than an untested feature.
 */
export function modernNginx(): { bin: string; version: string } {
  ensureCommands({ debootstrap: "debootstrap", flock: "util-linux" });
  const build = spawnSync("bash", [BUILD_MODERN_NGINX], { encoding: "utf8", timeout: 600_000 });
  const bin = build.stdout.trim().split("\n").pop() ?? "";
  if (build.status !== 0 || !bin) {
    throw new Error(
      `could not build the nginx >= 1.27.3 that these tests need (scripts/build-test-nginx.sh needs root, ` +
        `debootstrap and access to deb.debian.org on its first run):\n${build.stderr}${build.error ?? ""}`,
    );
  }
  const probe = spawnSync(bin, ["-v"], { encoding: "utf8", timeout: 30_000 });
  const version = /nginx\/(\d+\.\d+\.\d+)/.exec(probe.stderr)?.[1];
  if (probe.status !== 0 || version === undefined) throw new Error(`${bin} -v failed: ${probe.stderr}`);
  return { bin, version };
}

export interface Sandbox {
  dir: string;
  tls: NginxSettings["tls"];
  /** Contains static/ (the sandbox's staticRoot). */
  staticRoot: string;
  runtime: NginxSettings["runtime"];
  /** Where startNginx keeps the config in force. */
  confPath: string;
  /** Writes a file under staticRoot/static/. */
  writeStatic(relative: string, content: string | Buffer): void;
  remove(): void;
}

/**
 * A temp directory for one nginx: a self-signed certificate, logs, temp files, static root.
 * World-readable, so that workers (user nobody when the tests run as root) can serve from it.
 */
export function makeSandbox(): Sandbox {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "nginx-test-"));
  fs.chmodSync(dir, 0o755);
  for (const sub of ["logs", "tmp", "html/static"]) fs.mkdirSync(path.join(dir, sub), { recursive: true, mode: 0o755 });
  const certificate = path.join(dir, "server.crt");
  const certificateKey = path.join(dir, "server.key");
  writeSelfSigned({ certificate, certificateKey }, "localhost", "DNS:localhost,IP:127.0.0.1");
  const staticRoot = path.join(dir, "html");
  return {
    dir,
    tls: { certificate, certificateKey },
    staticRoot,
    runtime: {
      pidFile: path.join(dir, "nginx.pid"),
      errorLog: path.join(dir, "logs", "error.log"),
      accessLog: path.join(dir, "logs", "access.log"),
      tempDir: path.join(dir, "tmp"),
      user: null,
    },
    confPath: path.join(dir, "nginx.conf"),
    writeStatic(relative, content) {
      const file = path.join(staticRoot, "static", relative);
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
      fs.writeFileSync(file, content, { mode: 0o644 });
    },
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** `nginx -t` on `conf`, written next to the sandbox's config. */
export function nginxTest(
  sandbox: Sandbox,
  conf: string,
  name = "test.conf",
  bin = NGINX_BIN,
): { ok: boolean; output: string } {
  const file = path.join(sandbox.dir, name);
  fs.writeFileSync(file, conf);
  const result = spawnSync(bin, ["-t", "-c", file, "-p", sandbox.dir], { encoding: "utf8", timeout: 30_000 });
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}` };
}

export interface RunningNginx {
  http: number;
  https: number;
  pid: number;
  /** Checks `conf` with nginx -t, puts it in force and sends the reload signal (returns before new workers serve). */
  reload(conf: string): void;
  /** The error log so far, for failure messages. */
  errorLog(): string;
  /** Fast shutdown; waits until the master has exited. */
  stop(): Promise<void>;
}

/**
 * Starts nginx in the foreground with the config `confFor` renders for two free ports, and waits
 * until it answers /healthz on both. Retries with other ports if one was taken meanwhile.
 */
export async function startNginx(
  sandbox: Sandbox,
  confFor: (ports: { http: number; https: number }) => string,
  bin = NGINX_BIN,
): Promise<RunningNginx> {
  const readLog = () =>
    fs.existsSync(sandbox.runtime.errorLog) ? fs.readFileSync(sandbox.runtime.errorLog, "utf8") : "";
  for (let attempt = 1; ; attempt++) {
    const [http, https] = (await freePorts(2)) as [number, number];
    fs.writeFileSync(sandbox.confPath, confFor({ http, https }));
    const child = start(bin, ["-c", sandbox.confPath, "-p", sandbox.dir, "-g", "daemon off;"]);
    try {
      const outcome = await pollUntil(
        "nginx to answer /healthz on HTTP and HTTPS",
        async () => {
          // Fails at once, with nginx's own words, if nginx exits instead of serving.
          if (child.exitCode !== null || child.signalCode !== null) return "exited";
          const plain = await httpRequest({ port: http, path: "/healthz", timeoutMs: 1_000 });
          const secure = await httpRequest({ port: https, path: "/healthz", tls: true, timeoutMs: 1_000 });
          return plain.status === 200 && secure.status === 200 ? "serving" : undefined;
        },
        { timeoutMs: 15_000 },
      );
      if (outcome === "exited")
        throw new Error(`nginx exited (${child.exitCode}) before serving:\n${child.output()}${readLog()}`);
    } catch (err) {
      await stop(child);
      if (attempt < 3 && /Address already in use/.test(child.output() + readLog())) continue;
      throw err;
    }
    return {
      http,
      https,
      pid: child.pid ?? -1,
      reload(conf) {
        const check = nginxTest(sandbox, conf, "next.conf", bin);
        if (!check.ok) throw new Error(`nginx -t rejected the new config:\n${check.output}`);
        fs.renameSync(path.join(sandbox.dir, "next.conf"), sandbox.confPath);
        const signal = spawnSync(bin, ["-s", "reload", "-c", sandbox.confPath, "-p", sandbox.dir], {
          encoding: "utf8",
          timeout: 30_000,
        });
        if (signal.status !== 0) throw new Error(`nginx -s reload failed: ${signal.stderr}`);
      },
      errorLog: readLog,
      stop: () => stop(child),
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Arbitraries for property tests

/** Slugs and UUIDs, as the stack config produces them. */
export const regionIdArb = fc.oneof(fc.stringMatching(REGION_ID_PATTERN), fc.uuid({ version: 4 }));

/** "host:port" with a Docker-style name or an IPv4 address. */
export const upstreamArb = fc
  .tuple(fc.oneof(fc.stringMatching(/^[a-z][a-z0-9-]{0,20}[a-z0-9]$/), fc.ipV4()), fc.integer({ min: 1, max: 65535 }))
  .map(([host, port]) => `${host}:${port}`);

/** 1 to `maxLength` regions with distinct ids, and an active one of them as the default. */
export function regionListArb(maxLength = 30): fc.Arbitrary<{ regions: NginxRegionRoute[]; defaultRegionId: string }> {
  return fc
    .uniqueArray(
      fc.record({
        id: regionIdArb,
        upstream: upstreamArb,
        state: fc.constantFrom<NginxRegionRoute["state"]>("active", "retired"),
      }),
      {
        minLength: 1,
        maxLength,
        selector: (r) => r.id,
      },
    )
    .chain((drawn) => {
      const regions = drawn.map((r, i) => (i === 0 ? { ...r, state: "active" as const } : r));
      return fc
        .constantFrom(...regions.filter((r) => r.state === "active").map((r) => r.id))
        .map((defaultRegionId) => ({ regions, defaultRegionId }));
    });
}

/** A sandbox's files in place of the image's paths. */
export function sandboxPaths(sandbox: Sandbox): Pick<NginxSettings, "tls" | "staticRoot" | "runtime"> {
  return { tls: sandbox.tls, staticRoot: sandbox.staticRoot, runtime: sandbox.runtime };
}

/** sandboxPaths for `nginx -t` of a config that names a user: www-data exists on every Debian. */
export function inSandbox(sandbox: Sandbox): Pick<NginxSettings, "tls" | "staticRoot" | "runtime"> {
  return { ...sandboxPaths(sandbox), runtime: { ...sandbox.runtime, user: "www-data" } };
}

/**
 * Settings as the edge container gets them: Docker names that do not resolve here, Docker's DNS
 * address, the container's ports, with the sandbox's files. The first region is the default.
 */
export function containerLike(
  sandbox: Sandbox,
  regions: NginxRegionRoute[],
  extra: Partial<NginxSettings> = {},
): NginxSettings {
  return {
    regions,
    defaultRegionId: regions[0]?.id ?? "",
    upstreams: {
      nexus: "nexus-api:8000",
      admin: "admin-ui:3000",
      player: "player-ui:3000",
      paypal: "paypal-service:8080",
    },
    resolver: "127.0.0.11",
    listen: { http: 80, https: 443 },
    ...inSandbox(sandbox),
    ...extra,
  };
}

/** A region route as the edge sees one: its API container's Docker name. */
export const dockerRegion = (id: string, state: NginxRegionRoute["state"] = "active"): NginxRegionRoute => ({
  id,
  upstream: `region-${id}-api:8000`,
  state,
});

/**
 * The DNS changes a running edge must follow without a reload: "ghost" (a region whose container
 * did not exist) gets a name, and "orion" is recreated at another address (127.0.0.2, same
 * port). Waits until nginx routes to both; returns ghost's first answer for the caller to check,
 * and the recreated orion for it to stop.
 */
export async function followDnsChanges(
  get: (path: string) => Promise<HttpResult>,
  dns: FakeDns,
  orionPort: number,
): Promise<{ ghost: HttpResult; movedOrion: EchoBackend }> {
  dns.set("ghost.sw.test", "127.0.0.1");
  const ghost = await pollUntil(
    "ghost's name to be picked up",
    async () => {
      const res = await get("/api/regions/ghost/x");
      return res.status === 200 ? res : undefined;
    },
    { timeoutMs: 15_000, intervalMs: 100 },
  );
  const movedOrion = await startEchoBackend("orion-recreated", { host: "127.0.0.2", port: orionPort });
  dns.set("orion.sw.test", "127.0.0.2");
  await pollUntil(
    "orion's new address to be used",
    async () => {
      const res = await get("/api/regions/orion/x");
      return res.status === 200 && echoOf(res).backend === "orion-recreated" ? true : undefined;
    },
    { timeoutMs: 15_000, intervalMs: 100 },
  );
  return { ghost, movedOrion };
}
