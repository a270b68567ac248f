// @ts-check
/**
 * The probe: a stand-in for the game's gameserver, admin UI, player UI and PayPal service, so
 * the dev stack deploys with nothing but this repository.
 *
 *   GET /health       200 {status, role, region}: the process serves HTTP
 *   GET /health/deep  200 or 503: DATABASE_URL and REDIS_URL accept a real login
 *   both also under /api/regions/<REGION_ID>/, where the edge sends a region's requests
 *   GET /metrics      the game API roles only (nexus-api, region-api): Prometheus's text format,
 *                     sectorwars_probe_requests_total by route, as a game server that has metrics
 *                     answers them (monitoring.apiMetricsPath); the web apps answer it as anything else
 *   anything else     200 echo of role, region, method, path and the proxy headers
 *
 * PROBE_START_DELAY_MS holds the listener back, as a game server loading its world would.
 *
 * Credentials never leave the process: answers and log lines name a dependency by host, port and
 * database only, and error texts have the URL's password masked.
 */
"use strict";

const fs = require("node:fs");
const http = require("node:http");
const { Client } = require("pg");
const { Redis } = require("ioredis");

const DEFAULT_PORT = 8000;
const DEFAULT_HOST = "0.0.0.0";
const DEFAULT_CHECK_TIMEOUT_MS = 3000;

/**
 * One dependency's state in /health/deep. `target` is host:port/db, never credentials.
 * @typedef {{ configured: boolean, ok: boolean, target?: string, error?: string, detail?: string, ms?: number }} CheckResult
 */

/**
 * @typedef {{ role: string | null, region: { id: string | null, name: string | null, type: string | null } }} Identity
 */

/**
 * host:port/db of a URL, never its credentials.
 * @param {URL} url
 * @param {number} defaultPort
 */
function describeTarget(url, defaultPort) {
  const db = url.pathname.replace(/^\//, "");
  return `${url.hostname}:${url.port || defaultPort}${db ? `/${db}` : ""}`;
}

/**
 * An error's message with every given secret (raw and URL-encoded) and any URL userinfo masked.
 * @param {unknown} err
 * @param {string[]} secrets
 */
function safeMessage(err, secrets) {
  let text = err instanceof Error ? err.message : String(err);
  if (!text) text = err instanceof Error ? err.name : "unknown error";
  /** @type {Set<string>} */
  const all = new Set();
  for (const secret of secrets) {
    if (!secret) continue;
    all.add(secret);
    all.add(encodeURIComponent(secret));
  }
  // Longest first, so a secret that contains another is masked whole.
  for (const secret of [...all].sort((a, b) => b.length - a.length)) text = text.split(secret).join("***");
  return text.replace(/\/\/[^@/\s]*@/g, "//***@");
}

/**
 * Parses a dependency URL without ever putting the URL itself into an error.
 * @param {string} raw
 * @param {string} name the env var, for the error text
 * @param {string[]} protocols accepted schemes, with the colon
 * @returns {URL}
 */
function parseUrl(raw, name, protocols) {
  /** @type {URL} */
  let url;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`${name} is not a valid URL`);
  }
  if (!protocols.includes(url.protocol)) {
    throw new Error(`${name} has scheme ${JSON.stringify(url.protocol)}, expected one of ${protocols.join(" ")}`);
  }
  if (!url.hostname) throw new Error(`${name} has no host`);
  return url;
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
 * Runs `handshake` under one deadline for the whole exchange. `step.name` says which step was
 * waiting when the deadline passed; `abort` tears the connection down either way.
 * @param {string} what
 * @param {number} ms
 * @param {{ name: string }} step
 * @param {() => Promise<CheckResult>} handshake
 * @param {() => void} abort
 * @returns {Promise<CheckResult>}
 */
async function underDeadline(what, ms, step, handshake, abort) {
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer to ${step.name} within ${ms} ms`)), ms);
  });
  try {
    return await /** @type {Promise<CheckResult>} */ (Promise.race([handshake(), deadline]));
  } finally {
    clearTimeout(timer);
    abort();
  }
}

/**
 * Logs in to PostgreSQL (the server's own authentication, e.g. SCRAM) and runs SELECT 1.
 * @param {string | undefined} raw DATABASE_URL
 * @param {number} timeoutMs for the whole check
 * @returns {Promise<CheckResult>}
 */
async function checkPostgres(raw, timeoutMs) {
  if (!raw) return { configured: false, ok: true };
  const secrets = [passwordOf(raw)];
  const started = Date.now();
  /** @type {string | undefined} */
  let target;
  const step = { name: "the connection" };
  try {
    const url = parseUrl(raw, "DATABASE_URL", ["postgres:", "postgresql:"]);
    target = describeTarget(url, 5432);
    const pg = new Client({ connectionString: raw, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
    // A server that drops the connection later must not crash the probe.
    pg.on("error", () => {});
    return await underDeadline(
      "PostgreSQL",
      timeoutMs,
      step,
      async () => {
        step.name = "the startup and login";
        await pg.connect();
        step.name = "SELECT 1";
        /** @type {import("pg").QueryResult<{ one: number, version: string }>} */
        const result = await pg.query("SELECT 1 AS one, current_setting('server_version') AS version");
        const row = result.rows[0];
        if (row?.one !== 1)
          return { configured: true, ok: false, target, error: `SELECT 1 returned ${JSON.stringify(row?.one)}` };
        return { configured: true, ok: true, target, detail: `PostgreSQL ${row.version}`, ms: Date.now() - started };
      },
      () => {
        pg.end().catch(() => {});
      },
    );
  } catch (err) {
    return {
      configured: true,
      ok: false,
      ...(target ? { target } : {}),
      error: safeMessage(err, secrets),
      ms: Date.now() - started,
    };
  }
}

/**
 * Connects to Redis and runs the handshake step by step: AUTH (when the URL has a password),
 * SELECT of the URL's database, PING → PONG. A NOAUTH, WRONGPASS or out-of-range database fails
 * the check and says why; so does a server that accepts TCP and never answers.
 * @param {string | undefined} raw REDIS_URL
 * @param {number} timeoutMs for the whole check
 * @returns {Promise<CheckResult>}
 */
async function checkRedis(raw, timeoutMs) {
  if (!raw) return { configured: false, ok: true };
  const password = passwordOf(raw);
  const started = Date.now();
  /** @type {string | undefined} */
  let target;
  const step = { name: "the connection" };
  /** @type {unknown} */
  let socketError;
  try {
    const url = parseUrl(raw, "REDIS_URL", ["redis:", "rediss:"]);
    target = describeTarget(url, 6379);
    const dbText = url.pathname.replace(/^\//, "") || "0";
    if (!/^\d+$/.test(dbText)) throw new Error(`REDIS_URL database ${JSON.stringify(dbText)} is not a number`);
    const db = Number(dbText);
    const username = decodeURIComponent(url.username);
    const redis = new Redis({
      host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
      port: Number(url.port || 6379),
      ...(url.protocol === "rediss:" ? { tls: { servername: url.hostname } } : {}),
      lazyConnect: true,
      connectTimeout: timeoutMs,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
      // RESP2 and no implicit commands: ioredis would otherwise open with HELLO 3, CLIENT SETINFO
      // and an INFO ready check, sent before the AUTH below could report what is wrong.
      protocol: 2,
      enableReadyCheck: false,
      disableClientInfo: true,
    });
    // Socket errors (ECONNREFUSED, EHOSTUNREACH...) arrive as 'error' events while the command
    // only sees "Connection is closed."; keep the first to report it. Unlistened, it would crash us.
    redis.on("error", (/** @type {unknown} */ err) => {
      socketError ??= err;
    });
    return await underDeadline(
      "Redis",
      timeoutMs,
      step,
      async () => {
        step.name = "the TCP connection";
        await redis.connect();
        if (password) {
          step.name = "AUTH";
          await (username ? redis.auth(username, password) : redis.auth(password));
        }
        step.name = `SELECT ${db}`;
        await redis.select(db);
        step.name = "PING";
        const pong = await redis.ping();
        if (pong !== "PONG")
          return { configured: true, ok: false, target, error: `PING answered ${JSON.stringify(pong)}, not PONG` };
        return { configured: true, ok: true, target, ms: Date.now() - started };
      },
      () => redis.disconnect(),
    );
  } catch (err) {
    const cause = socketError && err instanceof Error && /Connection is closed/.test(err.message) ? socketError : err;
    return {
      configured: true,
      ok: false,
      ...(target ? { target } : {}),
      error: safeMessage(cause, [password]),
      ms: Date.now() - started,
    };
  }
}

/**
 * @param {NodeJS.ProcessEnv} env
 * @returns {Identity}
 */
function identity(env) {
  return {
    role: env.SECTORWARS_ROLE || null,
    region: { id: env.REGION_ID || null, name: env.REGION_NAME || null, type: env.REGION_TYPE || null },
  };
}

/** @param {NodeJS.ProcessEnv} env */
function checkTimeoutMs(env) {
  const ms = Number(env.PROBE_CHECK_TIMEOUT_MS);
  return Number.isFinite(ms) && ms > 0 ? ms : DEFAULT_CHECK_TIMEOUT_MS;
}

/**
 * A connection URL from the environment, or from the file its `_FILE` variable names (swarm mode
 * hands URLs over as Docker secret files: a URL carries a password, and a service's environment
 * is plain text in its spec). The variable itself wins, as with the official images.
 * @param {NodeJS.ProcessEnv} env
 * @param {"DATABASE_URL" | "REDIS_URL"} name
 * @returns {string | undefined}
 */
function urlFrom(env, name) {
  if (env[name]) return env[name];
  const file = env[`${name}_FILE`];
  return file ? fs.readFileSync(file, "utf8").trim() : undefined;
}

/**
 * The deep check's answer: 200 when every configured dependency accepted a real login.
 * @param {NodeJS.ProcessEnv} env
 * @returns {Promise<{ status: number, body: Identity & { status: "ok" | "degraded", checks: { database: CheckResult, redis: CheckResult } } }>}
 */
async function deepHealth(env) {
  const timeoutMs = checkTimeoutMs(env);
  const [database, redis] = await Promise.all([
    checkPostgres(urlFrom(env, "DATABASE_URL"), timeoutMs),
    checkRedis(urlFrom(env, "REDIS_URL"), timeoutMs),
  ]);
  const ok = database.ok && redis.ok;
  return {
    status: ok ? 200 : 503,
    body: { status: ok ? "ok" : "degraded", ...identity(env), checks: { database, redis } },
  };
}

/**
 * @param {http.ServerResponse} res
 * @param {number} status
 * @param {unknown} body
 */
function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
  });
  res.end(text);
}

/**
 * The health path a request asks for, or null. The edge passes a region's requests on with their
 * full URI (/api/regions/<id>/health), so a region answers there too, for its own id only.
 * @param {string} path
 * @param {NodeJS.ProcessEnv} env
 * @returns {"/health" | "/health/deep" | null}
 */
function healthPath(path, env) {
  const prefix = env.REGION_ID ? `/api/regions/${env.REGION_ID}` : "";
  for (const candidate of /** @type {const} */ (["/health", "/health/deep"])) {
    if (path === candidate || (prefix && path === `${prefix}${candidate}`)) return candidate;
  }
  return null;
}

/** The roles that play a game API, and answer /metrics as one would. */
const API_ROLES = ["nexus-api", "region-api"];

/**
 * Prometheus's text exposition of the requests answered so far. No role or region label: the
 * scrape's target labels carry them, and a label of the same name here would be renamed.
 * @param {Map<string, number>} counts by route
 */
function metricsText(counts) {
  const lines = [
    "# HELP sectorwars_probe_requests_total Requests the probe answered, by route.",
    "# TYPE sectorwars_probe_requests_total counter",
    ...[...counts].map(([route, n]) => `sectorwars_probe_requests_total{route="${route}"} ${n}`),
  ];
  return `${lines.join("\n")}\n`;
}

/** Request headers the edge proxy sets or passes on; echoed so its tests can see what arrives. */
const ECHOED_HEADERS = ["host", "x-region-id", "x-real-ip", "x-forwarded-for", "x-forwarded-proto"];

/**
 * The probe's HTTP server, not yet listening.
 * @param {NodeJS.ProcessEnv} [env] where role, region, URLs and timeout come from
 * @param {{ log?: (line: string) => void }} [options] where log lines go (stderr by default)
 * @returns {http.Server}
 */
function createServer(env = process.env, options = {}) {
  const log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
  const hasMetrics = API_ROLES.includes(env.SECTORWARS_ROLE ?? "");
  /** @type {Map<string, number>} */
  const counts = new Map([
    ["health", 0],
    ["deep", 0],
    ["metrics", 0],
    ["other", 0],
  ]);
  /** @param {string} route */
  const count = (route) => counts.set(route, (counts.get(route) ?? 0) + 1);
  return http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const isGet = req.method === "GET" || req.method === "HEAD";
    const health = isGet ? healthPath(path, env) : null;
    const metrics = isGet && hasMetrics && path === "/metrics";
    count(health === "/health" ? "health" : health === "/health/deep" ? "deep" : metrics ? "metrics" : "other");
    if (metrics) {
      const text = metricsText(counts);
      res.writeHead(200, {
        "content-type": "text/plain; version=0.0.4",
        "content-length": Buffer.byteLength(text),
        "cache-control": "no-store",
      });
      res.end(text);
      return;
    }
    if (health === "/health") {
      sendJson(res, 200, { status: "ok", ...identity(env) });
      return;
    }
    if (health === "/health/deep") {
      deepHealth(env).then(
        ({ status, body }) => {
          if (status !== 200) log(`probe: /health/deep degraded ${JSON.stringify(body.checks)}`);
          sendJson(res, status, body);
        },
        (err) => {
          const urls = [urlFrom(env, "DATABASE_URL") ?? "", urlFrom(env, "REDIS_URL") ?? ""];
          const message = safeMessage(err, urls.map(passwordOf));
          log(`probe: /health/deep failed: ${message}`);
          sendJson(res, 500, { status: "error", ...identity(env), error: message });
        },
      );
      return;
    }
    /** @type {Record<string, string | string[] | null>} */
    const headers = {};
    for (const name of ECHOED_HEADERS) headers[name] = req.headers[name] ?? null;
    sendJson(res, 200, { ...identity(env), method: req.method ?? null, path: req.url ?? "/", headers });
  });
}

/**
 * Starts the probe on env.PORT (8000) and env.HOST (0.0.0.0); PORT=0 picks a free port.
 * @param {NodeJS.ProcessEnv} [env]
 * @param {{ log?: (line: string) => void }} [options]
 * @returns {Promise<{ server: http.Server, port: number }>}
 */
function listen(env = process.env, options = {}) {
  const server = createServer(env, options);
  const port = env.PORT === undefined || env.PORT === "" ? DEFAULT_PORT : Number(env.PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    return Promise.reject(new Error(`PORT ${JSON.stringify(env.PORT)} is not a port number`));
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, env.HOST || DEFAULT_HOST, () => {
      server.off("error", reject);
      const address = server.address();
      resolve({ server, port: typeof address === "object" && address ? address.port : port });
    });
  });
}

/**
 * PROBE_START_DELAY_MS as a number of milliseconds (0 when unset).
 * @param {NodeJS.ProcessEnv} env
 */
function startDelayMs(env) {
  const text = env.PROBE_START_DELAY_MS ?? "";
  if (text === "") return 0;
  const ms = Number(text);
  if (!Number.isInteger(ms) || ms < 0)
    throw new Error(`PROBE_START_DELAY_MS ${JSON.stringify(text)} is not a number of milliseconds`);
  return ms;
}

/** Runs the probe as a process: logs to stdout/stderr, stops cleanly on SIGTERM and SIGINT. */
async function main() {
  const env = process.env;
  const delay = startDelayMs(env);
  /** @type {http.Server | null} */
  let server = null;
  let stopping = false;
  // Installed first: as PID 1 in a container, node ignores a SIGTERM it has no handler for, and
  // the stop would wait out the whole grace period.
  /** @param {NodeJS.Signals} signal */
  const shutdown = (signal) => {
    if (stopping) return;
    stopping = true;
    console.log(`probe: ${signal}, shutting down`);
    if (server === null) process.exit(0);
    // Stops accepting (new connections are refused, so a proxy tries another address), lets the
    // requests in flight finish, then exits.
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    // Requests still open after a few seconds (a deep check under its timeout) are cut.
    setTimeout(() => server?.closeAllConnections(), checkTimeoutMs(env) + 1000).unref();
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
  if (delay > 0) {
    // A game server loads its world before it listens: nothing answers (connections are refused)
    // until then, which is what a deploy must wait out.
    console.log(`probe: listening in ${delay} ms (PROBE_START_DELAY_MS)`);
    await new Promise((resolve) => setTimeout(resolve, delay));
    if (stopping) return;
  }
  const listening = await listen(env);
  server = listening.server;
  const who = identity(env);
  console.log(
    `probe: ${who.role ?? "no role"} (region ${who.region.id ?? "none"}) listening on ${env.HOST || DEFAULT_HOST}:${listening.port}; ` +
      `DATABASE_URL ${urlFrom(env, "DATABASE_URL") ? "set" : "unset"}, REDIS_URL ${urlFrom(env, "REDIS_URL") ? "set" : "unset"}`,
  );
}

if (require.main === module) {
  main().catch((err) => {
    console.error(`probe: cannot start: ${safeMessage(err, [])}`);
    process.exit(1);
  });
}

module.exports = { createServer, listen, deepHealth, checkPostgres, checkRedis, safeMessage };
