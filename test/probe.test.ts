/**
 * The probe's /health and /health/deep against a real PostgreSQL 15 and Redis.
 */
import * as fs from "node:fs";
import type * as http from "node:http";
import * as net from "node:net";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "./support/process";
import { type RealPostgres, type RealRedis, startPostgres, startRedis } from "./support/realServers";

if (!fs.existsSync(path.join(__dirname, "..", "probe", "node_modules", "pg"))) {
  throw new Error("probe/node_modules is missing: run `npm ci --prefix probe` (npm test does it for you)");
}
// Loaded after the check above, so a missing install reads as that, not as a module error.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createServer } = require("../probe/server") as typeof import("../probe/server");

interface Answer {
  status: number;
  body: Record<string, unknown> & { checks?: Record<string, { configured: boolean; ok: boolean; error?: string }> };
  text: string;
}

const servers: http.Server[] = [];

async function probe(env: NodeJS.ProcessEnv, urlPath: string, headers: Record<string, string> = {}): Promise<Answer> {
  const server = createServer({ PROBE_CHECK_TIMEOUT_MS: "1500", ...env });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  const response = await fetch(`http://127.0.0.1:${port}${urlPath}`, { headers });
  const text = await response.text();
  server.close();
  return { status: response.status, body: JSON.parse(text) as Answer["body"], text };
}

describe("probe", () => {
  let pg: RealPostgres;
  let redis: RealRedis;
  let silent: net.Server;
  let silentPort: number;

  beforeAll(async () => {
    [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
    // Accepts TCP connections and never says a word: a bare connect check would call it healthy.
    silent = net.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    silentPort = (silent.address() as net.AddressInfo).port;
  });

  afterAll(async () => {
    for (const s of servers) s.close();
    silent?.close();
    await Promise.all([pg?.stop(), redis?.stop()]);
  });

  const region = { SECTORWARS_ROLE: "region-api", REGION_ID: "orion", REGION_NAME: "Orion Reach", REGION_TYPE: "player_owned" };

  it("answers /health with its role and region", async () => {
    const answer = await probe(region, "/health");
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ status: "ok", role: "region-api", region: { id: "orion", name: "Orion Reach", type: "player_owned" } });
  });

  it("echoes role, region, path and the proxy headers elsewhere", async () => {
    const answer = await probe(region, "/api/regions/orion/ships?x=1", { "x-region-id": "orion", "x-forwarded-proto": "https" });
    expect(answer.body).toMatchObject({ role: "region-api", path: "/api/regions/orion/ships?x=1", headers: { "x-region-id": "orion", "x-forwarded-proto": "https" } });
  });

  it("reports both dependencies reachable after a real login", async () => {
    const answer = await probe({ ...region, DATABASE_URL: pg.url(), REDIS_URL: redis.url(3) }, "/health/deep");
    expect(answer.status, answer.text).toBe(200);
    expect(answer.body.checks?.database).toMatchObject({ configured: true, ok: true });
    expect(answer.body.checks?.redis).toMatchObject({ configured: true, ok: true });
  });

  it("fails on a wrong PostgreSQL password without revealing it", async () => {
    const wrong = "WrongPgPassword123";
    const answer = await probe({ DATABASE_URL: pg.url(wrong), REDIS_URL: redis.url(0) }, "/health/deep");
    expect(answer.status).toBe(503);
    expect(answer.body.checks?.database).toMatchObject({ ok: false });
    expect(answer.body.checks?.database?.error).toMatch(/password authentication failed/);
    expect(answer.body.checks?.redis?.ok).toBe(true);
    expect(answer.text).not.toContain(wrong);
    expect(answer.text).not.toContain(pg.password);
  });

  it("fails on a wrong Redis password (NOAUTH/WRONGPASS is not healthy)", async () => {
    const wrong = "WrongRedisPassword123";
    const answer = await probe({ DATABASE_URL: pg.url(), REDIS_URL: redis.url(0, wrong) }, "/health/deep");
    expect(answer.status).toBe(503);
    expect(answer.body.checks?.redis).toMatchObject({ ok: false });
    expect(answer.body.checks?.redis?.error).toMatch(/WRONGPASS|NOAUTH|invalid/i);
    expect(answer.text).not.toContain(wrong);
  });

  it("fails on a Redis database index beyond the server's databases", async () => {
    const answer = await probe({ REDIS_URL: redis.url(16) }, "/health/deep");
    expect(answer.status).toBe(503);
    expect(answer.body.checks?.redis?.error).toMatch(/DB index is out of range/);
  });

  it("fails when nothing listens", async () => {
    const closed = await freePort();
    const answer = await probe(
      { DATABASE_URL: `postgresql://u:p@127.0.0.1:${closed}/db`, REDIS_URL: `redis://:p@127.0.0.1:${closed}/0` },
      "/health/deep",
    );
    expect(answer.status).toBe(503);
    expect(answer.body.checks?.database?.ok).toBe(false);
    expect(answer.body.checks?.redis?.ok).toBe(false);
  });

  it("fails on a port that accepts TCP but speaks neither protocol", async () => {
    const started = Date.now();
    const answer = await probe(
      { DATABASE_URL: `postgresql://u:p@127.0.0.1:${silentPort}/db`, REDIS_URL: `redis://:p@127.0.0.1:${silentPort}/0` },
      "/health/deep",
    );
    expect(answer.status).toBe(503);
    expect(answer.body.checks?.database?.ok).toBe(false);
    expect(answer.body.checks?.redis?.ok).toBe(false);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("treats unset URLs as not configured", async () => {
    const answer = await probe({ SECTORWARS_ROLE: "admin-ui" }, "/health/deep");
    expect(answer.status).toBe(200);
    expect(answer.body.checks).toEqual({ database: { configured: false, ok: true }, redis: { configured: false, ok: true } });
  });
});
