// @ts-check
/**
 * The probe: a stand-in for the game's gameserver, admin UI, player UI and PayPal service, so
 * the dev stack deploys with nothing but this repository.
 *
 *   GET /health       200 {status, role, region}: the process serves HTTP
 *   GET /health/deep  200 or 503: DATABASE_URL and REDIS_URL accept a real login
 *   anything else     200 echo of role, region, method, path and the proxy headers
 */
"use strict";

const http = require("node:http");
const { Client } = require("pg");
const { Redis } = require("ioredis");

/** @typedef {{ configured: boolean, ok: boolean, target?: string, error?: string, detail?: string }} CheckResult */

/**
 * host:port/db of a URL, never its credentials.
 * @param {string} raw
 */
function describeTarget(raw) {
  try {
    const url = new URL(raw);
    return `${url.hostname}:${url.port || "default"}${url.pathname && url.pathname !== "/" ? url.pathname : ""}`;
  } catch {
    return "unparseable URL";
  }
}

/**
 * Removes anything that looks like a secret from an error message.
 * @param {unknown} err
 * @param {string[]} secrets
 */
function safeMessage(err, secrets) {
  let text = err instanceof Error ? err.message : String(err);
  for (const secret of secrets) if (secret) text = text.split(secret).join("***");
  return text.replace(/\/\/[^@/\s]*@/g, "//***@");
}

/** @param {string} raw */
function passwordOf(raw) {
  try {
    return decodeURIComponent(new URL(raw).password);
  } catch {
    return "";
  }
}

/**
 * @template T
 * @param {Promise<T>} promise
 * @param {number} ms
 * @param {string} what
 * @returns {Promise<T>}
 */
function withTimeout(promise, ms, what) {
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return /** @type {Promise<T>} */ (Promise.race([promise, timeout])).finally(() => clearTimeout(timer));
}

/**
 * Logs in to PostgreSQL and runs SELECT 1.
 * @param {string | undefined} url
 * @param {number} timeoutMs
 * @returns {Promise<CheckResult>}
 */
async function checkPostgres(url, timeoutMs) {
  if (!url) return { configured: false, ok: true };
  const target = describeTarget(url);
  const client = new Client({ connectionString: url, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
  // A server that drops the connection later must not crash the probe.
  client.on("error", () => {});
  try {
    await withTimeout(client.connect(), timeoutMs, "PostgreSQL login");
    const result = await withTimeout(client.query("SELECT 1 AS ok, current_setting('server_version') AS version"), timeoutMs, "SELECT 1");
    const row = result.rows[0];
    return { configured: true, ok: row?.ok === 1, target, detail: `PostgreSQL ${row?.version}` };
  } catch (err) {
    return { configured: true, ok: false, target, error: safeMessage(err, [passwordOf(url)]) };
  } finally {
    client.end().catch(() => {});
  }
}

/**
 * Connects to Redis and runs the handshake step by step (AUTH, SELECT of the URL's database,
 * PING → PONG), so a NOAUTH, WRONGPASS or out-of-range database fails the check and says why.
 * @param {string | undefined} url
 * @param {number} timeoutMs
 * @returns {Promise<CheckResult>}
 */
async function checkRedis(url, timeoutMs) {
  if (!url) return { configured: false, ok: true };
  const target = describeTarget(url);
  const password = passwordOf(url);
  /** @type {Redis | undefined} */
  let redis;
  try {
    const parsed = new URL(url);
    const db = Number(parsed.pathname.replace(/^\//, "") || "0");
    redis = new Redis({
      host: parsed.hostname,
      port: Number(parsed.port || 6379),
      lazyConnect: true,
      connectTimeout: timeoutMs,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      // RESP2: ioredis would otherwise open with HELLO 3, which an unauthenticated connection to a
      // password-protected server rejects before AUTH can report what is wrong. The ready check
      // (INFO) would fail the same way.
      protocol: 2,
      enableReadyCheck: false,
      retryStrategy: () => null,
    });
    redis.on("error", () => {});
    const client = redis;
    await withTimeout(client.connect(), timeoutMs, "Redis connect");
    if (password) await withTimeout(client.auth(password), timeoutMs, "Redis AUTH");
    await withTimeout(client.select(db), timeoutMs, "Redis SELECT");
    const pong = await withTimeout(client.ping(), timeoutMs, "Redis PING");
    return pong === "PONG"
      ? { configured: true, ok: true, target }
      : { configured: true, ok: false, target, error: `unexpected reply to PING: ${pong}` };
  } catch (err) {
    return { configured: true, ok: false, target, error: safeMessage(err, [password]) };
  } finally {
    redis?.disconnect();
  }
}

/** @param {NodeJS.ProcessEnv} env */
function identity(env) {
  return {
    role: env.SECTORWARS_ROLE ?? null,
    region: { id: env.REGION_ID ?? null, name: env.REGION_NAME ?? null, type: env.REGION_TYPE ?? null },
  };
}

/**
 * @param {http.ServerResponse} res
 * @param {number} status
 * @param {unknown} body
 */
function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

const ECHOED_HEADERS = ["host", "x-region-id", "x-real-ip", "x-forwarded-for", "x-forwarded-proto"];

/**
 * @param {NodeJS.ProcessEnv} env
 * @returns {http.Server}
 */
function createServer(env = process.env) {
  const timeoutMs = Number(env.PROBE_CHECK_TIMEOUT_MS ?? 3000);
  return http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "GET" && path === "/health") {
      sendJson(res, 200, { status: "ok", ...identity(env) });
      return;
    }
    if (req.method === "GET" && path === "/health/deep") {
      Promise.all([checkPostgres(env.DATABASE_URL, timeoutMs), checkRedis(env.REDIS_URL, timeoutMs)]).then(
        ([database, redis]) => {
          const ok = database.ok && redis.ok;
          sendJson(res, ok ? 200 : 503, { status: ok ? "ok" : "degraded", ...identity(env), checks: { database, redis } });
        },
        (err) => sendJson(res, 500, { status: "error", error: safeMessage(err, [passwordOf(env.DATABASE_URL ?? ""), passwordOf(env.REDIS_URL ?? "")]) }),
      );
      return;
    }
    /** @type {Record<string, string | string[] | undefined>} */
    const headers = {};
    for (const name of ECHOED_HEADERS) headers[name] = req.headers[name];
    sendJson(res, 200, { ...identity(env), method: req.method, path: req.url, headers });
  });
}

if (require.main === module) {
  const server = createServer();
  const port = Number(process.env.PORT ?? 8000);
  server.listen(port, process.env.HOST ?? "0.0.0.0", () => {
    console.log(`probe (${process.env.SECTORWARS_ROLE ?? "no role"}) listening on ${port}`);
  });
  const shutdown = () => server.close(() => process.exit(0));
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
}

module.exports = { createServer, checkPostgres, checkRedis, describeTarget };
