/**
 * The database schema on a real Docker engine, with the PostgreSQL 15 test image (built from
 * Debian's packages, with the official image's entrypoint contract, /docker-entrypoint-initdb.d
 * included): init SQL as components/stack/gameApi.ts uploads it, the init check (on one host, and
 * in swarm mode on a one-node test swarm), and the migration step exactly as its Pulumi Command
 * runs it (`/bin/sh -c <create>` with its environment).
 */
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { POSTGRES_PASSWORD_FILE } from "../planning/stack/postgres";
import { hardeningFor } from "../planning/stack/hardening";
import { postgresHealthcheck } from "../planning/stack/healthchecks";
import {
  INIT_SQL_PATH,
  initCheckCommand,
  migrationLabels,
  migrationRunCommand,
} from "../planning/stack/databaseSchema";
import { PORTS, joinName } from "../planning/stack/topology";
import { serviceLogsCommand } from "../planning/swarm/commands";
import { containerLabels } from "../planning/roles";
import { docker, ensureDockerd, newTestRun, reapDeadRuns, removeLabelled, run } from "./support/docker";
import { describeOn } from "./support/engineSuites";
import { TEST_IMAGES, ensureTestImages } from "./support/images";
import { hardeningArgs, postgresArgs, labelArgs, upload } from "./support/platformContainers";
import { waitUntil } from "./support/process";
import { type SwarmNodeEngine, removeSwarmLabelled, testSwarm } from "./support/swarm";

const ROOT = path.resolve(__dirname, "..");
const RUN = newTestRun("schema");
const swarm = testSwarm(1, 1);
const PREFIX = `swsc${RUN.id}`;
const STACK = `schematest-${RUN.id}`;
const PG_PASSWORD = "PgSchemaTestPassword0123456789ab";
const NETWORK = joinName(PREFIX, "region", "alpha");
const fixture = (name: string) => fs.readFileSync(path.join(ROOT, "test/fixtures/schema", name), "utf8");

let work: string;
/** The test image by id: another checkout may re-tag sectorwars-test/postgres:15 while this runs. */
let postgresImage: string;

interface Db {
  container: string;
  volume: string;
  database: string;
  user: string;
  region: string;
}
const regionDb = (id: string, volume = joinName(PREFIX, "region", id, "db", "data")): Db => ({
  container: joinName(PREFIX, "region", id, "db"),
  volume,
  database: `region_${id}`,
  user: `region_${id}_user`,
  region: id,
});

/** A region database container as the platform creates it: password file and init SQL uploaded before the start. */
async function startDb(d: Db, opts: { initSql?: string; restart?: boolean } = {}): Promise<void> {
  docker(["volume", "create", ...labelArgs(RUN, {}), d.volume]);
  docker([
    "create",
    "--name",
    d.container,
    ...labelArgs(RUN, containerLabels(STACK, "region-db", d.region)),
    ...hardeningArgs("region-db"),
    ...(opts.restart ? ["--restart", "unless-stopped"] : []),
    "--network",
    NETWORK,
    "--network-alias",
    `region-${d.region}-db`,
    ...postgresArgs({ database: d.database, user: d.user, volume: d.volume }),
    postgresImage,
  ]);
  upload(work, d.container, POSTGRES_PASSWORD_FILE, PG_PASSWORD);
  if (opts.initSql !== undefined) upload(work, d.container, INIT_SQL_PATH, opts.initSql);
  docker(["start", d.container]);
  const check = postgresHealthcheck(d.user, d.database, PORTS.postgres).tests[1] as string;
  await waitUntil(
    `${d.container} to pass its health check`,
    () => run("docker", ["exec", d.container, "sh", "-c", check], { timeoutMs: 10_000 }).status === 0,
    120_000,
  );
}

function psql(d: Db, sql: string): string {
  return docker(
    [
      "exec",
      "-i",
      d.container,
      "psql",
      "-X",
      "-q",
      "-A",
      "-t",
      "-v",
      "ON_ERROR_STOP=1",
      "-U",
      d.user,
      "-d",
      d.database,
    ],
    { input: sql },
  ).trim();
}
const tables = (d: Db): string =>
  psql(d, "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public';");

/** A Command's create text as the command provider runs it: /bin/sh -c, its environment added. */
const asCommand = (create: string, environment: Record<string, string> = {}) =>
  run("/bin/sh", ["-c", create], { env: { ...process.env, ...environment }, timeoutMs: 120_000 });

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "sw-schema-"));
  await ensureDockerd();
  const images = ensureTestImages();
  postgresImage = docker(["image", "inspect", "--format", "{{.Id}}", images.postgres]).trim();
  reapDeadRuns("schema");
  docker(["network", "create", "--internal", ...labelArgs(RUN, {}), NETWORK]);
});

afterAll(() => {
  if (postgresImage) removeLabelled(RUN.runLabel);
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe("init SQL", () => {
  it("gives a new region its schema on first start, and the check passes", async () => {
    const d = regionDb("fresh");
    await startDb(d, { initSql: fixture("region-init.sql") });
    expect(tables(d)).toBe("sectors,ships");
    expect(psql(d, "SELECT string_agg(name, ',' ORDER BY id) FROM sectors;")).toBe("Sol,Vega");
    const check = asCommand(initCheckCommand(d.container));
    expect(check.status, check.stderr).toBe(0);
  }, 180_000);

  it("never touches an existing volume: a new container with other init SQL serves the old data unchanged", async () => {
    const d = regionDb("existing");
    await startDb(d);
    psql(d, "CREATE TABLE players (name text); INSERT INTO players VALUES ('alice');");
    docker(["rm", "-f", d.container]); // the volume stays, as on a replaced database container
    await startDb(d, { initSql: fixture("region-init-v2.sql") });
    expect(tables(d)).toBe("players");
    expect(psql(d, "SELECT name FROM players;")).toBe("alice");
    expect(docker(["logs", d.container])).toMatch(/Skipping initialization/);
    const check = asCommand(initCheckCommand(d.container));
    expect(check.status, check.stderr).toBe(0);
  }, 180_000);

  it("that fails halfway is caught by the check, though the restarted database reports healthy", async () => {
    const d = regionDb("broken");
    await startDb(d, { initSql: fixture("broken-init.sql"), restart: true });
    // What the check is for: Docker restarted the container, which now serves the half schema.
    expect(Number(docker(["inspect", "--format", "{{.RestartCount}}", d.container]).trim())).toBeGreaterThan(0);
    expect(tables(d)).toBe("sectors");
    const check = asCommand(initCheckCommand(d.container));
    expect(check.status).toBe(1);
    expect(check.stderr).toContain('ERROR:  relation "no_such_table" does not exist');
    expect(check.stderr).toContain(`sectorwars: the init SQL failed in ${d.container}`);
  }, 180_000);
});

describe("migration step", () => {
  const db = regionDb("alpha");
  const migrationName = joinName(PREFIX, "region", "alpha", "migrate");
  const apiEnvironment = {
    REGION_ID: "alpha",
    DATABASE_URL: `postgresql://${db.user}:${PG_PASSWORD}@region-alpha-db:5432/${db.database}`,
    REDIS_URL: "redis://:unused@redis:6379/1",
  };
  const runLabels = Object.fromEntries(RUN.labels.map((l) => l.split("=", 2) as [string, string]));
  /** The migration's create text; the postgres test image stands in for the gameserver. */
  const create = (command: string[]) =>
    migrationRunCommand({
      containerName: migrationName,
      labels: { ...migrationLabels(containerLabels(STACK, "region-api", "alpha")), ...runLabels },
      network: NETWORK,
      image: postgresImage,
      command,
      envNames: Object.keys(apiEnvironment),
      size: { limits: { cpus: 0.5, memoryMb: 256 }, reservations: { cpus: 0.1, memoryMb: 64 } },
      hardening: hardeningFor("region-api"),
    });
  const psqlStep = (sql: string) => [
    "sh",
    "-c",
    `echo "migrating region $REGION_ID"; psql -X -q -v ON_ERROR_STOP=1 "$DATABASE_URL" -c "${sql}"`,
  ];
  const leftOver = () => docker(["ps", "-aq", "--filter", `name=${migrationName}`]).trim();

  beforeAll(async () => {
    await startDb(db, { initSql: fixture("region-init.sql") });
  }, 180_000);

  it("applies the migration over the database's network, with the API's environment and no password on its command line", () => {
    const command = create(
      psqlStep("ALTER TABLE sectors ADD COLUMN owner text; INSERT INTO sectors VALUES (3, 'Orion', 'alice')"),
    );
    expect(command).not.toContain(PG_PASSWORD);
    const result = asCommand(command, apiEnvironment);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain("migrating region alpha");
    expect(psql(db, "SELECT name || ':' || coalesce(owner, '-') FROM sectors ORDER BY id;").split("\n")).toEqual([
      "Sol:-",
      "Vega:-",
      "Orion:alice",
    ]);
    expect(leftOver(), "the migration container is removed").toBe("");
  }, 120_000);

  it("exits non-zero with the migration's output when it fails, changing nothing", () => {
    const before = psql(db, "SELECT count(*) FROM sectors;");
    const result = asCommand(
      create(psqlStep("INSERT INTO sectors VALUES (4, 'Rigel'); SELECT * FROM missing_table")),
      apiEnvironment,
    );
    expect(result.status).not.toBe(0);
    expect(result.stdout + result.stderr).toContain('relation "missing_table" does not exist');
    expect(psql(db, "SELECT count(*) FROM sectors;")).toBe(before);
    expect(leftOver(), "the migration container is removed").toBe("");
  }, 120_000);

  it("never runs twice at once: a second run fails on the first one's name", async () => {
    let first: ChildProcess | undefined;
    try {
      first = spawn("/bin/sh", ["-c", create(["sleep", "60"])], {
        env: { ...process.env, ...apiEnvironment },
        stdio: "ignore",
      });
      await waitUntil("the first migration to run", () => leftOver() !== "", 30_000);
      const second = asCommand(create(psqlStep("SELECT 1")), apiEnvironment);
      expect(second.status).not.toBe(0);
      expect(second.stderr).toMatch(/is already in use/);
    } finally {
      docker(["rm", "-f", migrationName]);
      first?.kill();
    }
  }, 120_000);
});

/**
 * Swarm mode: a failed init makes the task exit, and swarm starts a new task on the same volume,
 * which serves the half schema, healthy. The check reads the service's logs, which the manager
 * gathers from every task, the failed one's included.
 */
describeOn("swarm1", swarm, "the init SQL's check in swarm mode", () => {
  const node = swarm.available ? (swarm.nodes[0] as SwarmNodeEngine) : undefined;
  const on = { host: node?.host ?? "" };
  const label = RUN.runLabel;

  /** A database service as the swarm backend declares one: init SQL as a config, a named volume, restarts. */
  function startService(name: string, sql: string): string {
    const service = `${PREFIX}_${name}`;
    const config = `${service}_init`;
    docker(["config", "create", "--label", label, config, "-"], { ...on, input: sql });
    docker(
      ["service", "create", "--detach", "--name", service, "--label", label, "--container-label", label]
        .concat(["--restart-condition", "any", "--restart-delay", "1s", "-e", `POSTGRES_PASSWORD=${PG_PASSWORD}`])
        .concat(["--mount", `type=volume,src=${service}_data,dst=/var/lib/postgresql/data,volume-label=${label}`])
        .concat(["--config", `source=${config},target=${INIT_SQL_PATH},mode=0444`, TEST_IMAGES.postgres]),
      on,
    );
    return service;
  }
  const running = (service: string): boolean =>
    docker(["service", "ps", "--filter", "desired-state=running", "--format", "{{.CurrentState}}", service], on)
      .split("\n")
      .some((s) => s.startsWith("Running"));
  const check = (service: string) =>
    asCommand(initCheckCommand(service, serviceLogsCommand(service)), { DOCKER_HOST: on.host });

  // Both start at once: a task's start takes a while on the test swarm.
  let good = "";
  let broken = "";
  beforeAll(() => {
    ensureTestImages(on);
    good = startService("good", fixture("region-init.sql"));
    broken = startService("broken", fixture("broken-init.sql"));
  }, 600_000);
  afterAll(async () => {
    if (node) await removeSwarmLabelled(label, [node]);
  }, 300_000);

  it("passes a service whose init completed", async () => {
    const service = good;
    await waitUntil(`${service} running`, () => running(service), 120_000);
    await waitUntil(`${service}'s init to complete`, () => docker(["service", "logs", "--raw", service], on).includes("init process complete"), 60_000); // prettier-ignore
    const result = check(service);
    expect(result.status, result.stderr).toBe(0);
  }, 180_000);

  it("fails a service whose first task's init failed, though its next task runs on the half schema", async () => {
    const service = broken;
    // What the check is for: the first task failed, and its successor serves the same volume.
    await waitUntil(`a failed task of ${service}`, () => docker(["service", "ps", "--format", "{{.Error}}", service], on).includes("non-zero exit"), 120_000); // prettier-ignore
    await waitUntil(`${service} running again`, () => running(service), 120_000);
    const result = check(service);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('ERROR:  relation "no_such_table" does not exist');
    expect(result.stderr).toContain(`sectorwars: the init SQL failed in ${service}`);
  }, 300_000);
});
