/**
 * The probe (probe/server.js): /health, the echo, and /health/deep against a real PostgreSQL 15
 * (SCRAM login) and a real Redis (requirepass), plus the ways a dependency can be unhealthy.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, stop, waitUntil } from "./support/process";
import { type RealPostgres, type RealRedis, startPostgres, startRedis } from "./support/realServers";
import type * as ProbeModule from "../probe/server";

const PROBE_DIR = path.join(__dirname, "..", "probe");
for (const dep of ["pg", "ioredis"]) {
  if (!fs.existsSync(path.join(PROBE_DIR, "node_modules", dep, "package.json"))) {
    throw new Error(
      `probe/node_modules/${dep} is missing: run \`npm ci --prefix probe\` first (npm test does it for you)`,
    );
  }
}
// Loaded after the check above, so a missing install reads as that, not as a module error.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const probeModule = require("../probe/server") as typeof ProbeModule;

/** The timeout the in-process probes get for each dependency check. */
const TIMEOUT_MS = 1500;

interface Check {
  configured: boolean;
  ok: boolean;
  target?: string;
  error?: string;
}
interface Answer {
  status: number;
  text: string;
  body: {
    status?: string;
    role?: string | null;
    region?: unknown;
    method?: string;
    path?: string;
    headers?: Record<string, unknown>;
    checks?: { database: Check; redis: Check };
  };
}

/** A plain HTTP request with exactly these headers (fetch would not let us set Host). */
function request(port: number, urlPath: string, headers: Record<string, string> = {}, method = "GET"): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: urlPath, method, headers, agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (text += chunk));
      res.on("end", () => {
        try {
          resolve({ status: res.statusCode ?? 0, text, body: text ? (JSON.parse(text) as Answer["body"]) : {} });
        } catch (err) {
          reject(new Error(`not JSON (${res.statusCode}): ${text}`, { cause: err }));
        }
      });
    });
    req.on("error", reject);
    req.end();
  });
}

/** Starts an in-process probe with `env`, asks it one thing, closes it. Log lines are kept in `logs`. */
async function ask(
  env: NodeJS.ProcessEnv,
  urlPath: string,
  headers: Record<string, string> = {},
  logs: string[] = [],
): Promise<Answer> {
  const { server, port } = await probeModule.listen(
    { PROBE_CHECK_TIMEOUT_MS: String(TIMEOUT_MS), ...env, PORT: "0", HOST: "127.0.0.1" },
    { log: (line) => logs.push(line) },
  );
  try {
    return await request(port, urlPath, headers);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

const REGION = {
  SECTORWARS_ROLE: "region-api",
  REGION_ID: "orion",
  REGION_NAME: "Orion Reach",
  REGION_TYPE: "player_owned",
};

describe("probe without dependencies", () => {
  it("answers /health with 200, its role and its region", async () => {
    const answer = await ask(REGION, "/health");
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      status: "ok",
      role: "region-api",
      region: { id: "orion", name: "Orion Reach", type: "player_owned" },
    });
  });

  it("answers health under its own region prefix, where the edge sends a region's requests", async () => {
    const health = await ask(REGION, "/api/regions/orion/health");
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: "ok", role: "region-api", region: { id: "orion" } });
    const deep = await ask(REGION, "/api/regions/orion/health/deep?verbose=1");
    expect(deep.body).toMatchObject({
      status: "ok",
      region: { id: "orion" },
      checks: { database: { configured: false } },
    });
  });

  it.each([
    ["another region's prefix", REGION, "/api/regions/vega/health"],
    ["a region prefix without REGION_ID", { SECTORWARS_ROLE: "nexus-api" }, "/api/regions/orion/health"],
    ["a longer path", REGION, "/api/regions/orion/health/x"],
  ])("echoes (is no health answer) for %s", async (_, env, urlPath) => {
    const answer = await ask(env, urlPath);
    expect(answer.body.path, "a health answer has no path field").toBe(urlPath);
    expect(answer.body.status).toBeUndefined();
  });

  it("reports role and region as null when unset", async () => {
    const answer = await ask({}, "/health");
    expect(answer.body).toEqual({ status: "ok", role: null, region: { id: null, name: null, type: null } });
  });

  it("echoes role, region, method, path and the proxy headers on any other path", async () => {
    const sent = {
      host: "orion.sectorwars.test",
      "x-region-id": "orion",
      "x-real-ip": "203.0.113.7",
      "x-forwarded-for": "203.0.113.7, 10.0.0.2",
      "x-forwarded-proto": "https",
    };
    const answer = await ask(REGION, "/api/regions/orion/ships?page=2", { ...sent, "x-other": "not echoed" });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({
      role: "region-api",
      region: { id: "orion", name: "Orion Reach", type: "player_owned" },
      method: "GET",
      path: "/api/regions/orion/ships?page=2",
      headers: sent,
    });
  });

  it("echoes absent proxy headers as null", async () => {
    const answer = await ask({ SECTORWARS_ROLE: "player-ui" }, "/", { host: "play.test" });
    expect(answer.body.headers).toEqual({
      host: "play.test",
      "x-region-id": null,
      "x-real-ip": null,
      "x-forwarded-for": null,
      "x-forwarded-proto": null,
    });
  });

  it("treats unset (and empty) DATABASE_URL / REDIS_URL as not configured and stays 200", async () => {
    for (const env of [
      { SECTORWARS_ROLE: "admin-ui" },
      { SECTORWARS_ROLE: "admin-ui", DATABASE_URL: "", REDIS_URL: "" },
    ]) {
      const answer = await ask(env, "/health/deep");
      expect(answer.status, answer.text).toBe(200);
      expect(answer.body).toEqual({
        status: "ok",
        role: "admin-ui",
        region: { id: null, name: null, type: null },
        checks: { database: { configured: false, ok: true }, redis: { configured: false, ok: true } },
      });
    }
  });

  it("refuses a malformed URL without echoing it", async () => {
    const answer = await ask(
      { DATABASE_URL: "mysql://u:Secr3tMalformed@db:3306/x", REDIS_URL: "redis://:Secr3tMalformed@cache:notaport/0" },
      "/health/deep",
    );
    expect(answer.status).toBe(503);
    expect(answer.body.checks?.database.error).toMatch(/DATABASE_URL has scheme "mysql:"/);
    expect(answer.body.checks?.redis.error).toMatch(/REDIS_URL is not a valid URL/);
    expect(answer.text).not.toContain("Secr3tMalformed");
  });
});

describe("probe /metrics, as a game server with metrics (monitoring.apiMetricsPath)", () => {
  /** GETs each path in turn on one probe, then its /metrics: the status and the text. */
  async function metricsAfter(env: NodeJS.ProcessEnv, paths: string[]): Promise<{ status: number; text: string }> {
    const { server, port } = await probeModule.listen({ ...env, PORT: "0", HOST: "127.0.0.1" }, { log: () => {} });
    try {
      for (const p of paths) await (await fetch(`http://127.0.0.1:${port}${p}`)).arrayBuffer();
      const answer = await fetch(`http://127.0.0.1:${port}/metrics`);
      return { status: answer.status, text: await answer.text() };
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  it.each(["region-api", "nexus-api"])("%s counts the requests it answered, by route", async (role) => {
    const { status, text } = await metricsAfter({ ...REGION, SECTORWARS_ROLE: role }, [
      "/health",
      "/health",
      "/api/regions/orion/health",
      "/anything",
    ]);
    expect(status).toBe(200);
    expect(text).toContain("# TYPE sectorwars_probe_requests_total counter\n");
    expect(text).toContain('sectorwars_probe_requests_total{route="health"} 3\n');
    expect(text).toContain('sectorwars_probe_requests_total{route="other"} 1\n');
    expect(text, "this scrape is counted").toContain('sectorwars_probe_requests_total{route="metrics"} 1\n');
    expect(text, "role and region are the scrape's target labels").not.toMatch(/role=|region=/);
  });

  it.each(["admin-ui", "player-ui", "paypal"])("%s has none: /metrics is echoed as any other path", async (role) => {
    const { text } = await metricsAfter({ SECTORWARS_ROLE: role }, []);
    expect(JSON.parse(text)).toMatchObject({ role, path: "/metrics" });
  });
});

describe("probe /health/deep against real PostgreSQL 15 and Redis", () => {
  let pg: RealPostgres;
  let redis: RealRedis;
  let silent: net.Server;
  let silentPort: number;
  const silentSockets = new Set<net.Socket>();
  let silentAccepted = 0;

  beforeAll(async () => {
    [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
    // Accepts TCP connections and never says a word: a bare TCP connect check would call it healthy.
    silent = net.createServer((socket) => {
      silentAccepted++;
      silentSockets.add(socket);
      socket.on("error", () => {});
      socket.on("close", () => silentSockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    silentPort = (silent.address() as net.AddressInfo).port;
  });

  afterAll(async () => {
    for (const socket of silentSockets) socket.destroy();
    silent?.close();
    await Promise.all([pg?.stop(), redis?.stop()]);
  });

  it("(the servers really demand a password: SCRAM-SHA-256 and requirepass)", () => {
    expect(pg.psql("SHOW password_encryption").trim()).toBe("scram-sha-256");
    expect(pg.psql(`SELECT left(rolpassword, 14) FROM pg_authid WHERE rolname = '${pg.user}'`).trim()).toBe(
      "SCRAM-SHA-256$",
    );
    expect(pg.psql("SELECT DISTINCT auth_method FROM pg_hba_file_rules ORDER BY 1").trim().split("\n")).toEqual([
      "scram-sha-256",
    ]);
    expect(redis.cli("CONFIG", "GET", "requirepass")).toContain(redis.password);
  });

  it("is 200 with both dependencies ok after a real login", async () => {
    const answer = await ask({ ...REGION, DATABASE_URL: pg.url(), REDIS_URL: redis.url(3) }, "/health/deep");
    expect(answer.status, answer.text).toBe(200);
    expect(answer.body.status).toBe("ok");
    expect(answer.body.role).toBe("region-api");
    expect(answer.body.checks?.database).toMatchObject({
      configured: true,
      ok: true,
      target: `127.0.0.1:${pg.port}/postgres`,
    });
    expect(answer.body.checks?.redis).toMatchObject({
      configured: true,
      ok: true,
      target: `127.0.0.1:${redis.port}/3`,
    });
    expect(answer.text).not.toContain(pg.password);
    expect(answer.text).not.toContain(redis.password);
  });

  it("is 503 on a wrong PostgreSQL password, says so, and never shows the password", async () => {
    const wrong = "WrongPgPassw0rd-Zq7";
    const logs: string[] = [];
    const answer = await ask({ DATABASE_URL: pg.url(wrong), REDIS_URL: redis.url(0) }, "/health/deep", {}, logs);
    expect(answer.status, answer.text).toBe(503);
    expect(answer.body.status).toBe("degraded");
    expect(answer.body.checks?.database).toMatchObject({ configured: true, ok: false });
    expect(answer.body.checks?.database.error).toMatch(/password authentication failed for user "admin"/);
    expect(answer.body.checks?.redis.ok, "Redis was fine and must say so").toBe(true);
    for (const text of [answer.text, ...logs]) {
      expect(text).not.toContain(wrong);
      expect(text).not.toContain(pg.password);
      expect(text).not.toContain(redis.password);
    }
    expect(logs.join("\n"), "a degraded deep check is logged").toMatch(/degraded.*password authentication failed/);
  });

  it("is 503 on a wrong Redis password (WRONGPASS)", async () => {
    const wrong = "WrongRedisPassw0rd-Zq7";
    const answer = await ask({ DATABASE_URL: pg.url(), REDIS_URL: redis.url(0, wrong) }, "/health/deep");
    expect(answer.status, answer.text).toBe(503);
    expect(answer.body.checks?.redis).toMatchObject({ configured: true, ok: false });
    expect(answer.body.checks?.redis.error).toMatch(/WRONGPASS/);
    expect(answer.body.checks?.database.ok).toBe(true);
    expect(answer.text).not.toContain(wrong);
    expect(answer.text).not.toContain(redis.password);
  });

  it("is 503 when the Redis URL has no password but the server requires one (NOAUTH is not healthy)", async () => {
    const answer = await ask({ REDIS_URL: redis.url(0, "") }, "/health/deep");
    expect(answer.status, answer.text).toBe(503);
    expect(answer.body.checks?.redis.ok).toBe(false);
    expect(answer.body.checks?.redis.error).toMatch(/NOAUTH/);
  });

  it("is 503 when the Redis URL names a database the server does not have", async () => {
    const answer = await ask({ REDIS_URL: redis.url(16) }, "/health/deep");
    expect(answer.status, answer.text).toBe(503);
    expect(answer.body.checks?.redis.error).toMatch(/DB index is out of range/);
  });

  it("is 503 when the URLs name a database or port with nothing there", async () => {
    const closed = await freePort();
    const started = Date.now();
    const answer = await ask(
      { DATABASE_URL: pg.url(undefined, "no_such_db"), REDIS_URL: `redis://:${redis.password}@127.0.0.1:${closed}/0` },
      "/health/deep",
    );
    expect(answer.status, answer.text).toBe(503);
    expect(answer.body.checks?.database.error).toMatch(/database "no_such_db" does not exist/);
    expect(answer.body.checks?.redis.error).toMatch(/ECONNREFUSED/);
    expect(Date.now() - started, "a refused connection fails at once, not at the timeout").toBeLessThan(TIMEOUT_MS);
  });

  it("is 503 when nothing listens on the PostgreSQL port", async () => {
    const closed = await freePort();
    const answer = await ask(
      { DATABASE_URL: `postgresql://admin:${pg.password}@127.0.0.1:${closed}/postgres` },
      "/health/deep",
    );
    expect(answer.status, answer.text).toBe(503);
    expect(answer.body.checks?.database).toMatchObject({
      configured: true,
      ok: false,
      target: `127.0.0.1:${closed}/postgres`,
    });
    expect(answer.body.checks?.database.error).toMatch(/ECONNREFUSED/);
    expect(answer.text).not.toContain(pg.password);
  });

  it("is 503 within the timeout on a port that accepts TCP but speaks neither protocol", async () => {
    const acceptedBefore = silentAccepted;
    const started = Date.now();
    const answer = await ask(
      {
        DATABASE_URL: `postgresql://admin:${pg.password}@127.0.0.1:${silentPort}/postgres`,
        REDIS_URL: `redis://:${redis.password}@127.0.0.1:${silentPort}/0`,
      },
      "/health/deep",
    );
    const elapsed = Date.now() - started;
    expect(answer.status, answer.text).toBe(503);
    expect(
      silentAccepted - acceptedBefore,
      "both checks got a TCP connection, so a bare connect check would have passed",
    ).toBe(2);
    expect(answer.body.checks?.database.ok).toBe(false);
    expect(answer.body.checks?.database.error).toMatch(/timeout|no answer/i);
    expect(answer.body.checks?.redis.ok).toBe(false);
    // The TCP connect succeeded; the wait was for the Redis protocol's answer to AUTH.
    expect(answer.body.checks?.redis.error).toMatch(/no answer to AUTH within 1500 ms/);
    expect(elapsed, "both checks run in parallel and stop at their timeout").toBeLessThan(TIMEOUT_MS + 1500);
    expect(answer.text).not.toContain(pg.password);
    expect(answer.text).not.toContain(redis.password);
  });
});

describe("probe as a process (node probe/server.js)", () => {
  it("serves on PORT/HOST, logs no credentials, and exits 0 on SIGTERM", async () => {
    const [pg, redis] = await Promise.all([
      startPostgres({ password: "ProcPgPassw0rd" }),
      startRedis({ password: "ProcRedisPassw0rd" }),
    ]);
    const port = await freePort();
    const child = spawn(process.execPath, [path.join(PROBE_DIR, "server.js")], {
      env: {
        PATH: process.env.PATH,
        PORT: String(port),
        HOST: "127.0.0.1",
        SECTORWARS_ROLE: "nexus-api",
        REGION_TYPE: "nexus",
        DATABASE_URL: pg.url("NotTheRightOne1"),
        REDIS_URL: redis.url(1),
        PROBE_CHECK_TIMEOUT_MS: "2000",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      await waitUntil(
        `the probe process on ${port}\n${output}`,
        async () => (await request(port, "/health")).status === 200,
        15_000,
      );
      expect((await request(port, "/health")).body).toMatchObject({ role: "nexus-api", region: { type: "nexus" } });
      const deep = await request(port, "/health/deep");
      expect(deep.status, deep.text).toBe(503);
      expect(deep.body.checks?.database.error).toMatch(/password authentication failed/);
      expect(deep.body.checks?.redis.ok).toBe(true);

      child.kill("SIGTERM");
      expect(await exit, `exit code after SIGTERM; output:\n${output}`).toBe(0);
      expect(output).toMatch(/listening on 127\.0\.0\.1:/);
      expect(output).toMatch(/degraded/);
      for (const secret of ["NotTheRightOne1", pg.password, redis.password]) expect(output).not.toContain(secret);
    } finally {
      await stop(child);
      await Promise.all([pg.stop(), redis.stop()]);
    }
  });
});

describe("probe start delay (PROBE_START_DELAY_MS), as a game server loading its world", () => {
  /** The probe as a process with `env`; output collected, exit code awaited. */
  function spawnProbe(env: Record<string, string>) {
    const child = spawn(process.execPath, [path.join(PROBE_DIR, "server.js")], {
      env: { PATH: process.env.PATH, HOST: "127.0.0.1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out = { text: "" };
    child.stdout.on("data", (d: Buffer) => (out.text += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out.text += d.toString()));
    const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    return { child, out, exit };
  }

  const refused = (port: number): Promise<boolean> =>
    new Promise((resolve) => {
      const socket = net.connect({ host: "127.0.0.1", port });
      socket.once("connect", () => (socket.destroy(), resolve(false)));
      socket.once("error", (err: NodeJS.ErrnoException) => resolve(err.code === "ECONNREFUSED"));
    });

  it("refuses connections until the delay has passed, then serves", async () => {
    const port = await freePort();
    const started = Date.now();
    const probe = spawnProbe({ PORT: String(port), PROBE_START_DELAY_MS: "1500" });
    try {
      await waitUntil(
        `the delay announcement\n${probe.out.text}`,
        () => /listening in 1500 ms/.test(probe.out.text),
        10_000,
      );
      expect(await refused(port), "a connection during the delay is refused").toBe(true);
      await waitUntil(`/health after the delay\n${probe.out.text}`, async () => !(await refused(port)), 15_000);
      expect(Date.now() - started, "listening before the delay ended").toBeGreaterThanOrEqual(1500);
      expect((await request(port, "/health")).status).toBe(200);
    } finally {
      await stop(probe.child);
    }
  });

  it("exits 0 at once on SIGTERM during the delay", async () => {
    const probe = spawnProbe({ PORT: String(await freePort()), PROBE_START_DELAY_MS: "600000" });
    try {
      await waitUntil(`the delay announcement\n${probe.out.text}`, () => /listening in/.test(probe.out.text), 10_000);
      probe.child.kill("SIGTERM");
      expect(await probe.exit, probe.out.text).toBe(0);
    } finally {
      await stop(probe.child);
    }
  });

  it.each(["soon", "-5", "1.5"])("refuses PROBE_START_DELAY_MS=%s with a message naming it", async (value) => {
    const probe = spawnProbe({ PORT: "0", PROBE_START_DELAY_MS: value });
    expect(await probe.exit).toBe(1);
    expect(probe.out.text).toContain(`PROBE_START_DELAY_MS "${value}" is not a number of milliseconds`);
  });
});
