/**
 * What runs inside the PostgreSQL containers, run here with Debian's PostgreSQL 15: the health
 * check and the statement that keeps a retained volume's role password in step with the secret.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { postgresHealthcheck } from "../planning/stack/healthchecks";
import { alterRolePasswordSql, psqlFromStdin } from "../planning/stack/postgres";
import { freePort, sh } from "./support/process";
import { PG_BIN, type RealPostgres, startPostgres } from "./support/realServers";

describe("alterRolePasswordSql", () => {
  it.each([
    ["Region_User", "Abcdefghij0123456789"],
    ['x"; DROP ROLE admin; --', "Abcdefghij0123456789"],
    ["region_orion_user", "short"],
    ["region_orion_user", "Abcdefghij0123456789'; DROP TABLE t; --"],
  ])("refuses to quote %j / %j", (user, password) => {
    expect(() => alterRolePasswordSql(user, password)).toThrow(/refusing|alphanumeric/);
  });

  it("reads statements from stdin through the container's local socket", () => {
    expect(psqlFromStdin("sw_region_orion_db", "region_orion_user", "region_orion")).toBe(
      "docker exec -i sw_region_orion_db psql -q -v ON_ERROR_STOP=1 -U region_orion_user -d region_orion",
    );
  });
});

describe("with a real PostgreSQL 15", () => {
  let pg: RealPostgres;
  beforeAll(async () => {
    pg = await startPostgres();
  });
  afterAll(async () => {
    await pg?.stop();
  });

  const login = (user: string, password: string) =>
    sh(`psql -X -q -t -A -h 127.0.0.1 -p ${pg.port} -U ${user} -d postgres -c 'select 1'`, {
      ...process.env,
      PGPASSWORD: password,
    });

  it("moves a role from the password a retained volume remembers to the current secret", () => {
    const old = "OldPasswordFromLastStack1";
    const current = "NewPasswordFromThisStack2";
    pg.psql(`CREATE ROLE region_orion_user LOGIN PASSWORD '${old}';`);
    expect(login("region_orion_user", current).status).not.toBe(0);
    pg.psql(alterRolePasswordSql("region_orion_user", current));
    expect(login("region_orion_user", current).stdout.trim()).toBe("1");
    expect(login("region_orion_user", old).status).not.toBe(0);
  });

  it("the health check passes against the real server over TCP", () => {
    const check = postgresHealthcheck(pg.user, "postgres", pg.port);
    expect(sh(`PATH=${PG_BIN}:$PATH; ${check.tests[1]}`).status).toBe(0);
  });

  it("the health check fails when nothing answers on TCP, as during the image's socket-only init server", async () => {
    const nothing = await freePort();
    expect(sh(`PATH=${PG_BIN}:$PATH; ${postgresHealthcheck(pg.user, "postgres", nothing).tests[1]}`).status).not.toBe(
      0,
    );
  });
});
