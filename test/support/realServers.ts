/**
 * Throwaway real PostgreSQL 15 and Redis servers on 127.0.0.1, from Debian's packages.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { freePort, sh, start, stop, waitUntil } from "./process";

export const PG_BIN = "/usr/lib/postgresql/15/bin";

export interface RealPostgres {
  port: number;
  /** The bootstrap superuser. */
  user: string;
  password: string;
  database: string;
  /** postgresql:// URL, with another password if given. */
  url(password?: string): string;
  /** Runs psql as the superuser over TCP with the given SQL; returns stdout. */
  psql(sql: string): string;
  stop(): Promise<void>;
}

export interface RealRedis {
  port: number;
  password: string;
  url(db: number, password?: string): string;
  stop(): Promise<void>;
}

const isRoot = process.getuid?.() === 0;

/** initdb and postgres refuse to run as root, so as root they run as the postgres OS user. */
function asPostgres(command: string, args: string[]): [string, string[]] {
  return isRoot ? ["runuser", ["-u", "postgres", "--", command, ...args]] : [command, args];
}

export async function startPostgres(): Promise<RealPostgres> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sw-pg-"));
  if (isRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString());
    fs.chownSync(dir, uid, gid);
  }
  const user = "admin";
  const password = "RealPgPassw0rd4Tests";
  const pwfile = path.join(dir, "pw");
  fs.writeFileSync(pwfile, password, { mode: 0o644 });
  const data = path.join(dir, "data");
  const [initCmd, initArgs] = asPostgres(`${PG_BIN}/initdb`, [
    "-D", data, "-U", user, `--pwfile=${pwfile}`, "--auth=scram-sha-256", "-E", "UTF8", "--no-sync",
  ]);
  execFileSync(initCmd, initArgs, { stdio: "pipe" });
  const port = await freePort();
  const [cmd, args] = asPostgres(`${PG_BIN}/postgres`, [
    "-D", data, "-p", String(port), "-c", "listen_addresses=127.0.0.1", "-c", `unix_socket_directories=${dir}`, "-c", "fsync=off",
  ]);
  const server = start(cmd, args);
  const env = { ...process.env, PGPASSWORD: password };
  await waitUntil(`PostgreSQL on ${port}\n${server.output()}`, () => sh(`${PG_BIN}/pg_isready -q -h 127.0.0.1 -p ${port}`).status === 0);
  return {
    port,
    user,
    password,
    database: "postgres",
    url: (pw = password) => `postgresql://${user}:${encodeURIComponent(pw)}@127.0.0.1:${port}/postgres`,
    psql: (sql) => {
      const result = sh(`psql -X -q -t -A -v ON_ERROR_STOP=1 -h 127.0.0.1 -p ${port} -U ${user} -d postgres`, env, sql);
      if (result.status !== 0) throw new Error(`psql failed: ${result.stderr}`);
      return result.stdout;
    },
    stop: async () => {
      await stop(server);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function startRedis(): Promise<RealRedis> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sw-redis-"));
  const port = await freePort();
  const password = "RealRedisPassw0rd4Tests";
  const server = start("redis-server", [
    "--port", String(port), "--bind", "127.0.0.1", "--requirepass", password, "--save", "", "--appendonly", "no", "--dir", dir,
  ]);
  await waitUntil(`Redis on ${port}\n${server.output()}`, () => sh(`REDISCLI_AUTH=${password} redis-cli -p ${port} ping`).stdout.trim() === "PONG");
  return {
    port,
    password,
    url: (db, pw = password) => `redis://:${encodeURIComponent(pw)}@127.0.0.1:${port}/${db}`,
    stop: async () => {
      await stop(server);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
