/**
 * Throwaway real PostgreSQL 15 and Redis servers on 127.0.0.1, from Debian's packages
 * (postgresql-15, redis-server), each on a free port with its files in a temp dir.
 *
 *   const pg = await startPostgres();   // SCRAM-SHA-256 login with pg.user / pg.password
 *   const redis = await startRedis();   // requirepass redis.password
 *   ... pg.url(), redis.url(0) ...
 *   await Promise.all([pg.stop(), redis.stop()]);
 *
 * initdb and postgres refuse to run as root, so as root (CI) they run as the `postgres` OS user
 * that the Debian package creates, in a temp dir owned by it. Readiness is a real authenticated
 * login (psql SELECT 1, redis-cli AUTH + PING), polled, never a fixed sleep.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { freePort, stop as stopProcess, waitUntil } from "./process";

export const PG_BIN = "/usr/lib/postgresql/15/bin";
export const REDIS_SERVER = "/usr/bin/redis-server";
export const REDIS_CLI = "/usr/bin/redis-cli";
export const HOST = "127.0.0.1";

export interface RealPostgres {
  host: string;
  port: number;
  /** The bootstrap superuser. */
  user: string;
  password: string;
  database: string;
  /** The temp dir holding the cluster (removed by stop()). */
  dir: string;
  /** postgresql://user:password@127.0.0.1:port/database, with another password or database if given. */
  url(password?: string, database?: string): string;
  /** Runs SQL through psql as the superuser over TCP (password login); returns stdout; throws on error. */
  psql(sql: string, database?: string): string;
  /** The server's log so far, for failure messages. */
  output(): string;
  /** Stops the server (waits for it to exit) and removes its files. Safe to call twice. */
  stop(): Promise<void>;
}

export interface RealRedis {
  host: string;
  port: number;
  /** The requirepass password (the default user's). */
  password: string;
  dir: string;
  /** redis://:password@127.0.0.1:port/db, with another password if given ("" for none). */
  url(db?: number, password?: string): string;
  /** Runs one command through redis-cli with the password; returns its raw reply text. */
  cli(...args: string[]): string;
  output(): string;
  stop(): Promise<void>;
}

export interface StartPostgresOptions {
  user?: string;
  password?: string;
  database?: string;
  /** Extra `-c name=value` server settings. */
  settings?: Record<string, string>;
}

export interface StartRedisOptions {
  password?: string;
  /** Extra redis-server arguments, e.g. ["--databases", "4"]. */
  args?: string[];
}

type Started = ChildProcess & { output: () => string };

const isRoot = process.getuid?.() === 0;

/** The uid/gid the PostgreSQL binaries run as: the postgres OS user when we are root, else ourselves. */
function postgresIdentity(): { uid: number; gid: number } | undefined {
  if (!isRoot) return undefined;
  const uid = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" });
  const gid = spawnSync("id", ["-g", "postgres"], { encoding: "utf8" });
  if (uid.status !== 0 || gid.status !== 0) {
    throw new Error(
      "running as root, but there is no `postgres` OS user to run initdb/postgres as: apt-get install postgresql-15",
    );
  }
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

function requireBinary(file: string, pkg: string): void {
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: apt-get install ${pkg}`);
}

/** Spawns a long-running server, keeping its output; runs as `as` (uid/gid) when given. */
function spawnServer(command: string, args: string[], as?: { uid: number; gid: number }): Started {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], ...(as ?? {}) });
  let output = "";
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  child.on("error", (err) => (output += `\nspawn error: ${err.message}`));
  return Object.assign(child, { output: () => output });
}

const exited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;

/**
 * Starts a server on a free port and polls `ready` until it answers. If the server exits first
 * (the port was taken between freePort() and bind), tries another port, up to 3 times.
 */
async function startOnFreePort(
  what: string,
  launch: (port: number) => Started,
  ready: (port: number) => boolean,
): Promise<{ port: number; server: Started }> {
  let lastOutput = "";
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await freePort();
    const server = launch(port);
    let gone = false;
    await waitUntil(
      `${what} on ${HOST}:${port} to accept a login`,
      () => {
        if (exited(server)) {
          gone = true;
          return true;
        }
        return ready(port);
      },
      30_000,
    ).catch(async (err: Error) => {
      await stopProcess(server);
      throw new Error(`${err.message}\n${server.output()}`);
    });
    if (!gone) return { port, server };
    lastOutput = server.output();
  }
  throw new Error(`${what} exited before it was ready, 3 times:\n${lastOutput}`);
}

export async function startPostgres(options: StartPostgresOptions = {}): Promise<RealPostgres> {
  requireBinary(`${PG_BIN}/initdb`, "postgresql-15");
  const user = options.user ?? "admin";
  const password = options.password ?? "RealPgPassw0rd4Tests";
  const database = options.database ?? "postgres";
  const as = postgresIdentity();

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sw-pg-"));
  if (as) fs.chownSync(dir, as.uid, as.gid);
  const data = path.join(dir, "data");
  const pwfile = path.join(dir, "pwfile");
  fs.writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (as) fs.chownSync(pwfile, as.uid, as.gid);

  const init = spawnSync(
    `${PG_BIN}/initdb`,
    [
      "-D",
      data,
      "-U",
      user,
      `--pwfile=${pwfile}`,
      "--auth-host=scram-sha-256",
      "--auth-local=scram-sha-256",
      "-E",
      "UTF8",
      "--locale=C",
      "--no-sync",
      "--no-instructions",
    ],
    { encoding: "utf8", timeout: 120_000, ...(as ?? {}) },
  );
  fs.rmSync(pwfile, { force: true });
  if (init.status !== 0) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(
      `initdb failed (${init.status ?? init.signal}): ${init.stderr}${init.stdout}${init.error ? ` ${init.error.message}` : ""}`,
    );
  }

  const settings: Record<string, string> = {
    listen_addresses: HOST,
    unix_socket_directories: dir,
    password_encryption: "scram-sha-256",
    fsync: "off",
    synchronous_commit: "off",
    full_page_writes: "off",
    shared_buffers: "32MB",
    max_connections: "50",
    ...options.settings,
  };
  const settingArgs = Object.entries(settings).flatMap(([k, v]) => ["-c", `${k}=${v}`]);

  const psqlAt = (port: number, sql: string, db: string, pw = password) =>
    spawnSync(
      `${PG_BIN}/psql`,
      ["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", HOST, "-p", String(port), "-U", user, "-d", db],
      {
        input: sql,
        encoding: "utf8",
        timeout: 30_000,
        env: { ...process.env, PGPASSWORD: pw, PGCONNECT_TIMEOUT: "5", PGSSLMODE: "disable" },
      },
    );

  let started: { port: number; server: Started };
  try {
    started = await startOnFreePort(
      "PostgreSQL 15",
      (port) => spawnServer(`${PG_BIN}/postgres`, ["-D", data, "-p", String(port), ...settingArgs], as),
      (port) => psqlAt(port, "SELECT 1", "postgres").stdout.trim() === "1",
    );
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const { port, server } = started;

  const psql = (sql: string, db = database) => {
    const result = psqlAt(port, sql, db);
    if (result.status !== 0) throw new Error(`psql failed (${result.status ?? result.signal}): ${result.stderr}`);
    return result.stdout;
  };
  if (database !== "postgres") psql(`CREATE DATABASE "${database.replace(/"/g, '""')}";`, "postgres");

  let stopped = false;
  return {
    host: HOST,
    port,
    user,
    password,
    database,
    dir,
    url: (pw = password, db = database) =>
      `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(pw)}@${HOST}:${port}/${encodeURIComponent(db)}`,
    psql,
    output: () => server.output(),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await stopProcess(server); // SIGTERM: postgres's smart shutdown, SIGKILL after 10 s
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function startRedis(options: StartRedisOptions = {}): Promise<RealRedis> {
  requireBinary(REDIS_SERVER, "redis-server");
  const password = options.password ?? "RealRedisPassw0rd4Tests";
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sw-redis-"));

  const cliAt = (port: number, args: string[], pw = password) =>
    spawnSync(REDIS_CLI, ["--no-auth-warning", "-h", HOST, "-p", String(port), ...args], {
      encoding: "utf8",
      timeout: 30_000,
      env: { ...process.env, REDISCLI_AUTH: pw },
    });

  let started: { port: number; server: Started };
  try {
    started = await startOnFreePort(
      "Redis",
      (port) =>
        spawnServer(REDIS_SERVER, [
          "--port",
          String(port),
          "--bind",
          HOST,
          "--requirepass",
          password,
          "--dir",
          dir,
          "--save",
          "",
          "--appendonly",
          "no",
          "--daemonize",
          "no",
          "--databases",
          "16",
          "--logfile",
          "",
          ...(options.args ?? []),
        ]),
      // An authenticated PING: a NOAUTH answer is not "ready".
      (port) => cliAt(port, ["PING"]).stdout.trim() === "PONG",
    );
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const { port, server } = started;

  let stopped = false;
  return {
    host: HOST,
    port,
    password,
    dir,
    url: (db = 0, pw = password) => `redis://${pw ? `:${encodeURIComponent(pw)}@` : ""}${HOST}:${port}/${db}`,
    cli: (...args: string[]) => {
      const result = cliAt(port, args);
      if (result.status !== 0) throw new Error(`redis-cli ${args.join(" ")} failed: ${result.stderr}`);
      return result.stdout;
    },
    output: () => server.output(),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await stopProcess(server);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
