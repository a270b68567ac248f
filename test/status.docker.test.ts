/**
 * `npm run status` against a real Docker engine: a small stack of labelled containers started
 * the way the program starts them (PostgreSQL 15 and Redis 7 from the test images, with their
 * health checks, limits, labelled data volumes), stand-ins for the other roles, a decoy of
 * another stack, and a backup directory with one complete and one partial backup. runStatus is
 * called in-process with a stack file of its own in a temp directory; the last tests break the
 * stack (stop, unhealthy, remove) and check that the status says so. Free disk space is checked
 * against df run by the test on the same paths.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MANIFEST_FILE, MANIFEST_FORMAT, backupName } from "../planning/backup/manifest";
import { POSTGRES_PASSWORD_FILE } from "../planning/stack/postgres";
import { postgresHealthcheck, redisHealthcheck } from "../planning/stack/healthchecks";
import { REDIS_CONF_PATH, renderRedisConf } from "../planning/stack/redis";
import type { StatusReport } from "../planning/status/evaluation";
import { type ContainerPlan, type DatabasePlan, PORTS, type StackPlan, planStack } from "../planning/stack/topology";
import { containerLabels } from "../planning/roles";
import { readStackConfig } from "../scripts/cli";
import { runStatus } from "../scripts/status";
import { docker, ensureDockerd, newTestRun, reapDeadRuns, removeLabelled, run } from "./support/docker";
import { ensureTestImages } from "./support/images";
import { pollUntil } from "./support/net";
import { hardeningArgs, healthcheckArgs, labelArgs, postgresArgs, upload } from "./support/platformContainers";

const RUN = newTestRun("status");
/** The stack label value: unique per run, so other runs' containers never show up here. */
const STACK = `statustest-${RUN.id}`;
const PREFIX = `swst${RUN.id}`;
const MB = 1024 * 1024;
const BACKUP_AGE_SECONDS = 3 * 3600;

let work: string;
let plan: StackPlan;
let images: { postgres: string; redis: string };
let newestBackup: string;

const stackFile = (backupDir: string) => `config:
  sectorwars:environment: dev
  sectorwars:namePrefix: ${PREFIX}
  sectorwars:host: { cpus: 4, memoryGb: 8 }
  sectorwars:backup: { dir: ${backupDir}, schedule: daily }
  sectorwars:regions:
    - { id: alpha, name: Alpha, type: default, slot: 1 }
`;

const status = async (...args: string[]): Promise<{ status: number; report: StatusReport; stderr: string }> => {
  const result = await runStatus(["--stack", STACK, "--json", ...args], { root: work });
  if (result.status === 2) throw new Error(`status exited 2: ${result.stderr}`);
  return { status: result.status, report: JSON.parse(result.stdout) as StatusReport, stderr: result.stderr };
};

const row = (report: StatusReport, name: string) => {
  const found = report.containers.find((c) => c.name === name);
  if (!found) throw new Error(`${name} is not in the report: ${report.containers.map((c) => c.name).join(", ")}`);
  return found;
};

const inspect = (container: string, format: string): string =>
  docker(["inspect", "--format", format, container]).trim();

/** `df -P -k` of a path on this machine, its columns read by hand: the oracle for the disk figures. */
function dfHere(target: string): { totalBytes: number; availableBytes: number } {
  const result = run("df", ["-P", "-k", target]);
  if (result.status !== 0) throw new Error(`df -P -k ${target} failed: ${result.stderr}`);
  const fields = result.stdout.trim().split("\n").at(-1)?.trim().split(/\s+/) ?? [];
  return { totalBytes: Number(fields[1]) * 1024, availableBytes: Number(fields[3]) * 1024 };
}

/** Other tests share the disk and write to it meanwhile: free space may move this much between two looks. */
const FREE_SPACE_DRIFT = 2 * 1024 * MB;

const diskPath = (report: StatusReport, purpose: "docker-data-root" | "backups") => {
  const found = report.disk.paths.find((p) => p.purpose === purpose);
  if (!found) throw new Error(`no ${purpose} in the disk report: ${JSON.stringify(report.disk)}`);
  return found;
};

function startPostgres(db: DatabasePlan): void {
  docker(["volume", "create", ...labelArgs(RUN, db.labels), db.volumeName]);
  docker([
    "create",
    "--name",
    db.containerName,
    ...labelArgs(RUN, db.labels),
    ...hardeningArgs(db.role),
    "--network",
    "none",
    "--memory",
    "256m",
    "--cpus",
    "0.5",
    ...healthcheckArgs(postgresHealthcheck(db.user, db.database, PORTS.postgres), "1s"),
    ...postgresArgs({ database: db.database, user: db.user, volume: db.volumeName }),
    images.postgres,
  ]);
  upload(work, db.containerName, POSTGRES_PASSWORD_FILE, "StatusTestPassword0123456789abcd");
  docker(["start", db.containerName]);
}

function startRedis(redis: StackPlan["redis"]): void {
  docker(["volume", "create", ...labelArgs(RUN, redis.labels), redis.volumeName]);
  docker([
    "create",
    "--name",
    redis.containerName,
    ...labelArgs(RUN, redis.labels),
    ...hardeningArgs("redis"),
    "--network",
    "none",
    "--memory",
    "128m",
    "--cpus",
    "0.25",
    ...healthcheckArgs(redisHealthcheck(PORTS.redis), "1s"),
    "--mount",
    `type=volume,source=${redis.volumeName},target=/data`,
    images.redis,
    "redis-server",
    REDIS_CONF_PATH,
  ]);
  const conf = renderRedisConf({
    password: "StatusTestRedisPassword012345678",
    maxmemory: "64mb",
    maxmemoryPolicy: "noeviction",
    databases: 16,
    port: PORTS.redis,
    dataDir: "/data",
  });
  upload(work, redis.containerName, REDIS_CONF_PATH, conf);
  docker(["start", redis.containerName]);
}

/** A stand-in for a role whose image the tests do not have: a shell that sleeps, with `extra` flags. */
function startStandIn(c: Pick<ContainerPlan, "containerName" | "labels">, script: string, extra: string[] = []): void {
  docker([
    "run",
    "-d",
    "--name",
    c.containerName,
    ...labelArgs(RUN, c.labels),
    "--network",
    "none",
    "--memory",
    "64m",
    "--cpus",
    "0.25",
    ...extra,
    "--entrypoint",
    "sh",
    images.redis,
    "-c",
    script,
  ]);
}

const SLEEP = "exec sleep infinity";
/** Exits once (so Docker's restart policy restarts it), then sleeps: RestartCount becomes 1. */
const CRASH_ONCE = "if [ ! -e /tmp/crashed ]; then touch /tmp/crashed; exit 3; fi; exec sleep infinity";
/** Healthy while /tmp/ok exists. */
const FILE_HEALTH = ["--health-cmd", "test -e /tmp/ok", "--health-interval", "1s", "--health-retries", "1"];

function writeBackups(dir: string): void {
  const now = Date.now();
  newestBackup = backupName(new Date(now - BACKUP_AGE_SECONDS * 1000));
  fs.mkdirSync(path.join(dir, newestBackup), { recursive: true });
  fs.writeFileSync(path.join(dir, newestBackup, "nexus_db.dump"), "PGDMP");
  fs.writeFileSync(
    path.join(dir, newestBackup, MANIFEST_FILE),
    JSON.stringify({
      format: MANIFEST_FORMAT,
      stack: STACK,
      name: newestBackup,
      createdAt: new Date(now - BACKUP_AGE_SECONDS * 1000).toISOString(),
      files: [
        {
          file: "nexus_db.dump",
          kind: "pg_dump",
          role: "nexus-db",
          container: plan.nexus.db.containerName,
          regionId: null,
          database: plan.nexus.db.database,
          user: plan.nexus.db.user,
          serverVersion: "15",
          size: 5,
          sha256: "0".repeat(64),
        },
      ],
    }),
  );
  // A newer run that was killed: it must not count as the newest backup.
  fs.mkdirSync(path.join(dir, `.partial-${backupName(new Date(now - 60_000))}-4242`));
}

describe("npm run status against a real Docker engine", () => {
  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "sw-status-"));
    const backupRoot = path.join(work, "backups");
    fs.writeFileSync(path.join(work, `Pulumi.${STACK}.yaml`), stackFile(backupRoot));
    const config = readStackConfig(work, STACK);
    if ("error" in config) throw new Error(config.error);
    plan = planStack(config, STACK);
    writeBackups(path.join(backupRoot, STACK));

    await ensureDockerd();
    images = ensureTestImages();
    reapDeadRuns("status");

    const region = plan.regions[0];
    if (!region) throw new Error("the test stack has a region");
    startPostgres(plan.nexus.db);
    startPostgres(region.db);
    startRedis(plan.redis);
    startStandIn(plan.nexus.api, CRASH_ONCE, ["--restart", "unless-stopped"]);
    startStandIn(plan.edge, `touch /tmp/ok; ${SLEEP}`, FILE_HEALTH);
    for (const c of [plan.admin, plan.player, plan.paypal, region.api]) startStandIn(c, SLEEP);
    // Another stack's database, named like ours but for the prefix: it must never be listed.
    startStandIn(
      { containerName: `${PREFIX}x_nexus_db`, labels: containerLabels(`${STACK}-other`, "nexus-db") },
      SLEEP,
    );
    docker(["volume", "create", ...labelArgs(RUN, containerLabels(`${STACK}-other`, "nexus-db")), `${PREFIX}x_data`]);

    // Polled, never slept: every health check has passed and the crash-once container is back.
    await pollUntil(
      "the test stack to be up and healthy",
      () => {
        const healthy = [plan.nexus.db, region.db, plan.redis, plan.edge].every(
          (c) => inspect(c.containerName, "{{.State.Health.Status}}") === "healthy",
        );
        const restarted = inspect(plan.nexus.api.containerName, "{{.RestartCount}} {{.State.Status}}") === "1 running";
        return healthy && restarted ? true : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 250 },
    );
  });

  afterAll(() => {
    if (images) removeLabelled(RUN.runLabel);
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it("exits 0 for a healthy stack and lists exactly the stack's containers, planned ones in plan order", async () => {
    const { status: code, report } = await status();
    expect(report.findings.filter((f) => f.severity === "unhealthy")).toEqual([]);
    expect(code).toBe(0);
    expect(report.healthy).toBe(true);
    expect(report.containers.map((c) => c.name)).toEqual(plannedNames());
    expect(report.containers.every((c) => c.planned && c.state === "running")).toBe(true);
    expect(JSON.stringify(report)).not.toContain(`${STACK}-other`);
    expect(JSON.stringify(report)).not.toContain(`${PREFIX}x_`);
  });

  it("reports health, restarts, and CPU and memory against the limits the containers were given", async () => {
    const { report } = await status();
    const db = row(report, plan.nexus.db.containerName);
    expect(db).toMatchObject({ role: "nexus-db", region: null, health: "healthy", restarts: 0, verdict: "ok" });
    expect(db.memory).toMatchObject({ limitBytes: 256 * MB, limitSource: "container" });
    expect(db.memory?.usageBytes).toBeGreaterThan(0);
    expect(db.memory?.usageBytes).toBeLessThan(256 * MB);
    expect(db.cpu).toMatchObject({ limitCpus: 0.5, limitSource: "nanoCpus" });
    expect(db.cpu?.percent).toBeGreaterThanOrEqual(0);
    expect(row(report, plan.redis.containerName).memory?.limitBytes).toBe(128 * MB);
    expect(row(report, plan.regions[0]?.db.containerName ?? "")).toMatchObject({ region: "alpha", health: "healthy" });
    // No health check: null, and that is not a problem.
    expect(row(report, plan.admin.containerName)).toMatchObject({ health: null, verdict: "ok" });
    // It crashed once and Docker's restart policy brought it back: shown, a warning, not a failure.
    expect(row(report, plan.nexus.api.containerName)).toMatchObject({
      restarts: 1,
      state: "running",
      verdict: "warning",
    });
  });

  it("counts PostgreSQL client connections in each database container (psql's own is one)", async () => {
    const { report } = await status();
    for (const name of [plan.nexus.db.containerName, plan.regions[0]?.db.containerName ?? ""]) {
      const connections = row(report, name).postgresConnections;
      expect(typeof connections, name).toBe("number");
      expect(connections, name).toBeGreaterThanOrEqual(1);
    }
    expect(row(report, plan.redis.containerName).postgresConnections).toBeNull();
  });

  it("reports the size of the stack's labelled data volumes, and no other stack's", async () => {
    const { report } = await status();
    const names = report.volumes.map((v) => v.name);
    expect(names.sort()).toEqual(
      [plan.nexus.db.volumeName, plan.regions[0]?.db.volumeName, plan.redis.volumeName].sort(),
    );
    const data = report.volumes.find((v) => v.name === plan.nexus.db.volumeName);
    // initdb writes tens of megabytes into PGDATA.
    expect(data).toMatchObject({ role: "nexus-db", containers: 1 });
    expect(data?.sizeBytes).toBeGreaterThan(MB);
  });

  it("takes the newest complete backup's age, not the newer partial one's, against the daily default of 26h", async () => {
    const { report } = await status();
    expect(report.backup).toMatchObject({ complete: 1, partial: 1, maxAgeSeconds: 26 * 3600, rejected: [] });
    expect(report.backup.newest?.name).toBe(newestBackup);
    expect(report.backup.newest?.ageSeconds).toBeGreaterThanOrEqual(BACKUP_AGE_SECONDS);
    expect(report.backup.newest?.ageSeconds).toBeLessThan(BACKUP_AGE_SECONDS + 600);
  });

  it("exits 1 when the newest backup is older than --max-backup-age", async () => {
    const { status: code, report, stderr } = await status("--max-backup-age", "2h");
    expect(code).toBe(1);
    expect(report.findings.filter((f) => f.severity === "unhealthy")).toEqual([
      expect.objectContaining({ subject: "backups", message: expect.stringMatching(/more than 2h/) }),
    ]);
    expect(stderr).toMatch(/is unhealthy:\n {2}- backups: /);
  });

  it("prints an aligned table with one row per container", async () => {
    const result = await runStatus(["--stack", STACK], { root: work });
    expect(result.status).toBe(0);
    const lines = result.stdout.split("\n");
    const header = lines.findIndex((l) => l.startsWith("CONTAINER "));
    const rows = lines.slice(header + 1, lines.indexOf("", header));
    expect(rows.map((l) => l.split(/\s+/)[0])).toEqual(plannedNames());
    const statusColumn = lines[header]?.indexOf("STATUS") ?? -1;
    for (const l of rows) expect(l.slice(statusColumn)).toMatch(/^(ok|WARN|UNHEALTHY)$/);
    expect(result.stdout).toMatch(/^DISK +PATH +MEASURED ON +SIZE +FREE \(min 10%\) +STATUS$/m);
    expect(result.stdout).toMatch(/^Docker data root +\/\S+ +this machine +\S+ +\S+ \(\d+\.\d%\) +ok$/m);
    expect(result.stdout).toMatch(/^backup directory +\S+ +this machine +\S+ +\S+ \(\d+\.\d%\) +ok$/m);
  });

  it("reports the free space of the engine's data root and of the backup directory, measured here, as df sees them", async () => {
    const { status: code, report } = await status();
    expect(code).toBe(0);
    expect(report.disk.minFree).toEqual({ percent: 10 });
    const root = docker(["info", "--format", "{{.DockerRootDir}}"]).trim();
    const backups = path.join(work, "backups", STACK);
    for (const [purpose, where] of [
      ["docker-data-root", root],
      ["backups", backups],
    ] as const) {
      const disk = diskPath(report, purpose);
      expect(disk, purpose).toMatchObject({ path: where, measuredOn: "local", measuredPath: where, verdict: "ok" });
      const df = dfHere(where);
      expect(disk.totalBytes, `${purpose}: size`).toBe(df.totalBytes);
      expect(Math.abs((disk.availableBytes ?? 0) - df.availableBytes), `${purpose}: available`).toBeLessThan(
        FREE_SPACE_DRIFT,
      );
      expect(disk.freePercent, purpose).toBeGreaterThan(0);
    }
  });

  it("measures the data root on the engine's host, in a container it removes, when the engine is not this machine's", async () => {
    const here = diskPath((await status()).report, "docker-data-root");
    const result = await runStatus(["--stack", STACK, "--json"], { root: work, hostname: `not-${os.hostname()}` });
    const report = JSON.parse(result.stdout) as StatusReport;
    const there = diskPath(report, "docker-data-root");
    expect(there).toMatchObject({ path: here.path, measuredOn: "engine", measuredPath: here.path, unknown: null });
    // The same file system, through df in a container instead of statfs here.
    expect(there.totalBytes).toBe(here.totalBytes);
    expect(Math.abs((there.availableBytes ?? 0) - (here.availableBytes ?? 0))).toBeLessThan(FREE_SPACE_DRIFT);
    expect(diskPath(report, "backups").measuredOn).toBe("local");
    expect(result.status).toBe(0);
    const left = docker(["ps", "-aq", "--filter", `label=com.sectorwars.status-disk-probe=${STACK}`]).trim();
    expect(left, "df containers left behind").toBe("");
  });

  it("exits 1 with a finding per path when free space is below --min-free, and takes amounts and off too", async () => {
    const { status: code, report, stderr } = await status("--min-free", "100%");
    expect(code).toBe(1);
    const unhealthy = report.findings.filter((f) => f.severity === "unhealthy");
    expect(unhealthy).toEqual([
      expect.objectContaining({
        subject: "disk",
        message: expect.stringMatching(
          /^Docker data root \/.* on this machine has .* free of .*, below the minimum of 100%$/,
        ),
      }),
      expect.objectContaining({
        subject: "disk",
        message: expect.stringContaining(`backup directory ${path.join(work, "backups", STACK)} on this machine has `),
      }),
    ]);
    expect(report.disk.paths.map((p) => p.verdict)).toEqual(["unhealthy", "unhealthy"]);
    expect(stderr).toMatch(/is unhealthy:\n {2}- disk: Docker data root /);

    const huge = await status("--min-free", "1000T");
    expect(huge.status).toBe(1);
    expect(huge.report.disk.minFree).toEqual({ bytes: 1000 * 1024 ** 4 });
    const small = await status("--min-free", "1K");
    expect(small.status).toBe(0);
    const off = await status("--min-free", "off");
    expect(off.status).toBe(0);
    expect(off.report.disk.minFree).toBeNull();
    expect(off.report.disk.paths).toHaveLength(2);
  });

  it("measures a backup directory that does not exist yet at its nearest parent, taking a relative backup.dir from the project", async () => {
    const other = `${STACK}-fresh`;
    fs.writeFileSync(
      path.join(work, `Pulumi.${other}.yaml`),
      stackFile("not-yet/backups").replace("schedule: daily", "schedule: off"),
    );
    const result = await runStatus(["--stack", other, "--json"], { root: work });
    const report = JSON.parse(result.stdout) as StatusReport;
    expect(diskPath(report, "backups")).toMatchObject({
      path: path.join(work, "not-yet", "backups", other),
      measuredOn: "local",
      measuredPath: work,
      verdict: "ok",
    });
  });

  it("says the data root's free space is unknown, with a warning, when the engine is not this machine's and no container of the stack can measure it", async () => {
    const other = `${STACK}-empty`;
    fs.writeFileSync(path.join(work, `Pulumi.${other}.yaml`), stackFile(path.join(work, "backups")));
    const result = await runStatus(["--stack", other, "--json"], { root: work, hostname: `not-${os.hostname()}` });
    const report = JSON.parse(result.stdout) as StatusReport;
    expect(diskPath(report, "docker-data-root")).toMatchObject({
      measuredOn: null,
      totalBytes: null,
      unknown: expect.stringMatching(
        /^the engine is not this machine's, and the stack has no redis, database or nginx container/,
      ),
      verdict: "warning",
    });
    expect(report.findings).toContainEqual(
      expect.objectContaining({
        severity: "warning",
        subject: "disk",
        message: expect.stringMatching(/free space unknown/),
      }),
    );
  });

  it("says why the data root's free space is unknown when df cannot run in the stack's image on the engine's host", async () => {
    const other = `${STACK}-nodf`;
    const image = `sectorwars-test/nodf:${RUN.id}`;
    fs.writeFileSync(path.join(work, `Pulumi.${other}.yaml`), stackFile(path.join(work, "backups")));
    // An image with no files at all, so no df, as the only candidate: a created Redis of that stack.
    docker(["import", "-", image], { input: run("tar", ["-cf", "-", "-T", "/dev/null"]).stdout });
    try {
      docker([
        "create",
        "--name",
        `${PREFIX}_nodf_redis`,
        ...labelArgs(RUN, containerLabels(other, "redis")),
        image,
        "/none",
      ]);
      const result = await runStatus(["--stack", other, "--json"], { root: work, hostname: `not-${os.hostname()}` });
      const report = JSON.parse(result.stdout) as StatusReport;
      expect(diskPath(report, "docker-data-root")).toMatchObject({
        measuredOn: null,
        unknown: expect.stringMatching(/^df in a container on the engine's host failed: .*df/),
        verdict: "warning",
      });
      const left = docker(["ps", "-aq", "--filter", `label=com.sectorwars.status-disk-probe=${other}`]).trim();
      expect(left, "df containers left behind").toBe("");
    } finally {
      docker(["rm", "-f", `${PREFIX}_nodf_redis`]);
      docker(["rmi", image]);
    }
  });

  it("exits 1 when a container's health check fails, and 0 again once it passes", async () => {
    const edge = plan.edge.containerName;
    docker(["exec", edge, "rm", "/tmp/ok"]);
    await pollUntil("nginx stand-in to turn unhealthy", () =>
      inspect(edge, "{{.State.Health.Status}}") === "unhealthy" ? true : undefined,
    );
    const broken = await status();
    expect(broken.status).toBe(1);
    expect(row(broken.report, edge)).toMatchObject({ state: "running", health: "unhealthy", verdict: "unhealthy" });
    docker(["exec", edge, "touch", "/tmp/ok"]);
    await pollUntil("nginx stand-in to be healthy again", () =>
      inspect(edge, "{{.State.Health.Status}}") === "healthy" ? true : undefined,
    );
    expect((await status()).status).toBe(0);
  });

  it("exits 1 with psql's error when a PostgreSQL container's connections cannot be counted", async () => {
    // Labelled as a database, but its image has no psql: the count fails inside the container.
    const fake = `${PREFIX}_region_ghost_db`;
    startStandIn({ containerName: fake, labels: containerLabels(STACK, "region-db", "ghost") }, SLEEP);
    try {
      const { status: code, report } = await status();
      expect(code).toBe(1);
      expect(row(report, fake)).toMatchObject({ state: "running", postgresConnections: null, verdict: "unhealthy" });
      expect(report.findings).toContainEqual(
        expect.objectContaining({
          severity: "unhealthy",
          subject: fake,
          message: expect.stringMatching(/^counting PostgreSQL connections failed: .*psql/),
        }),
      );
    } finally {
      docker(["rm", "-f", fake]);
    }
    expect((await status()).status).toBe(0);
  });

  it("exits 1 when a container is stopped", async () => {
    const paypal = plan.paypal.containerName;
    docker(["stop", "--time", "0", paypal]);
    const { status: code, report } = await status();
    expect(code).toBe(1);
    expect(row(report, paypal)).toMatchObject({ state: "exited", cpu: null, memory: null, verdict: "unhealthy" });
    expect(report.findings).toContainEqual(
      expect.objectContaining({ severity: "unhealthy", subject: paypal, message: expect.stringMatching(/is exited/) }),
    );
  });

  it("lists a planned container that does not exist as missing, and a labelled one outside the plan", async () => {
    docker(["rm", "-f", plan.player.containerName]);
    startStandIn(
      { containerName: `${PREFIX}_region_gone`, labels: containerLabels(STACK, "region-api", "gone") },
      SLEEP,
    );
    const { status: code, report } = await status();
    expect(code).toBe(1);
    expect(row(report, plan.player.containerName)).toMatchObject({
      state: "missing",
      planned: true,
      verdict: "unhealthy",
    });
    expect(row(report, `${PREFIX}_region_gone`)).toMatchObject({ planned: false, region: "gone", verdict: "warning" });
  });
});

/** The container names the plan declares, in plan order. */
function plannedNames(): string[] {
  const region = plan.regions[0];
  return [
    plan.nexus.api.containerName,
    plan.nexus.db.containerName,
    plan.redis.containerName,
    plan.edge.containerName,
    plan.admin.containerName,
    plan.player.containerName,
    plan.paypal.containerName,
    region?.api.containerName ?? "",
    region?.db.containerName ?? "",
  ];
}

describe("npm run status without a usable engine or config", () => {
  it("exits 2 when no Docker engine answers", async () => {
    const result = await runStatus(["--stack", "dev"], {
      docker: new Docker({ socketPath: "/nonexistent/docker.sock" }),
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/no Docker engine answers/);
  });

  it.each([
    [[], /--stack is required/],
    [["--stack"], /--stack needs a value/],
    [["--stack", "dev", "--frobnicate"], /unknown argument "--frobnicate"/],
    [["--stack", "dev", "--max-backup-age", "soon"], /--max-backup-age: "soon" is not a duration/],
    [["--stack", "dev", "--min-free", "ten"], /--min-free: "ten" is not a minimum of free space such as 10% or 20G/],
    [["--stack", "dev", "--min-free", "20"], /--min-free: "20" needs a unit/],
    [["--stack", "dev", "--min-free", "150%"], /--min-free: "150%" is more than 100%/],
    [["--stack", "dev", "--min-free"], /--min-free needs a value/],
    [["--stack", "no-such-stack"], /no stack file/],
    [["--stack", "../etc"], /is not a stack name/],
  ])("exits 2 with a message for %j", async (argv, message) => {
    const result = await runStatus(argv, { docker: new Docker({ socketPath: "/nonexistent/docker.sock" }) });
    expect(result).toMatchObject({ status: 2, stdout: "" });
    expect(result.stderr).toMatch(message);
  });
});
