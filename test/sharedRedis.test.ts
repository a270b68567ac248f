/**
 * The generated redis.conf and the Redis health check, run with the real redis-server and
 * redis-cli from Debian's packages.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redisHealthcheck } from "../planning/stack/healthchecks";
import { renderRedisConf } from "../planning/stack/redis";
import { redisDatabasesFor } from "../planning/stack/topology";
import { freePort, sh, start, stop, waitUntil } from "./support/process";

const PASSWORD = "Abcdefghijklmnop0123456789XYZabc";

describe("redisDatabasesFor", () => {
  it.each([
    [[1], 16],
    [[15], 16],
    [[16], 32], // the seed's default of 16 breaks here
    [[3, 31], 32],
    [[32], 64],
    [[999], 1024],
  ])("slots %j → %i databases", (slots, expected) => {
    expect(redisDatabasesFor(slots)).toBe(expected);
  });

  it("always leaves the highest slot addressable", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 999 }), { minLength: 1 }), (slots) => {
        const databases = redisDatabasesFor(slots);
        expect(databases).toBeGreaterThan(Math.max(...slots));
        expect(databases).toBeGreaterThanOrEqual(16);
      }),
    );
  });
});

describe("renderRedisConf", () => {
  it.each(["short", "has space in it 123", 'quote"inside0123456789'])(
    "refuses a password it could not quote: %s",
    (password) => {
      expect(() =>
        renderRedisConf({
          password,
          maxmemory: "1mb",
          maxmemoryPolicy: "noeviction",
          databases: 16,
          port: 6379,
          dataDir: "/data",
        }),
      ).toThrow(/alphanumeric/);
    },
  );
});

describe("real redis-server with the generated config", () => {
  let dir: string;
  let port: number;
  let confPath: string;
  let server: ReturnType<typeof start>;
  const cli = (args: string, auth = PASSWORD) => sh(`REDISCLI_AUTH=${auth} redis-cli -p ${port} ${args}`);

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sw-redis-"));
    port = await freePort();
    confPath = path.join(dir, "redis.conf");
    const conf = renderRedisConf({
      password: PASSWORD,
      maxmemory: "64mb",
      maxmemoryPolicy: "allkeys-lru",
      databases: 32,
      port,
      dataDir: dir,
    });
    // The container listens on all its interfaces; on the test host, loopback only.
    fs.writeFileSync(confPath, conf.replace("bind 0.0.0.0", "bind 127.0.0.1"));
    server = start("redis-server", [confPath]);
    await waitUntil("redis-server to accept connections", () => cli("ping").stdout.trim() === "PONG");
  });

  afterAll(async () => {
    // Redis saves on SIGTERM and refuses to exit if it cannot, so its directory goes last.
    await stop(server);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("requires the password", () => {
    const anonymous = sh(`redis-cli -p ${port} ping`);
    expect(anonymous.stdout + anonymous.stderr).toMatch(/NOAUTH/);
    expect(cli("ping", "wrongpassword").stdout + cli("ping", "wrongpassword").stderr).toMatch(/WRONGPASS|invalid/i);
  });

  it("applies maxmemory, the policy and persistence", () => {
    expect(cli("config get maxmemory").stdout).toContain(String(64 * 1024 * 1024));
    expect(cli("config get maxmemory-policy").stdout).toContain("allkeys-lru");
    expect(cli("config get appendonly").stdout).toContain("yes");
  });

  it("addresses every database up to databases-1 and no further", () => {
    expect(cli("-n 31 set k v").stdout.trim()).toBe("OK");
    expect(cli("-n 32 ping").stdout + cli("-n 32 ping").stderr).toMatch(/DB index is out of range|ERR/);
  });

  it("the health check passes with the configured password", () => {
    const check = redisHealthcheck(port, confPath);
    expect(sh(check.tests[1] as string).status).toBe(0);
  });

  it("the health check fails when Redis answers NOAUTH, unlike a bare redis-cli ping", () => {
    const wrongConf = path.join(dir, "wrong.conf");
    fs.writeFileSync(wrongConf, "requirepass NotThePassword0000\n");
    expect(sh(`redis-cli -p ${port} ping`).status).toBe(0); // the trap the check avoids
    expect(sh(redisHealthcheck(port, wrongConf).tests[1] as string).status).not.toBe(0);
  });

  it("the health check fails when nothing listens", async () => {
    const closed = await freePort();
    expect(sh(redisHealthcheck(closed, confPath).tests[1] as string).status).not.toBe(0);
  });
});
