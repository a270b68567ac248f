/**
 * The Backups component under mocks: the command text `pulumi up` runs (the same text the
 * Docker-backed tests in backupRestore.test.ts run), when it runs, and what waits for it.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { backupCommand } from "../planning/backup/run";
import { scheduleRemoveCommand } from "../planning/backup/schedule";
import { stackBackupDir } from "../planning/project";
import { PROD_SECRETS, devConfigWith, generatedRegions } from "./support/configs";
import { containerNamed } from "./support/graph";
import * as pulumi from "@pulumi/pulumi";
import { BackupGate } from "../components/backup/backups";
import { COMMAND, type ProgramRun, ROOT, promiseOf, readStackFile, runProgram } from "./support/pulumi";

const triggersOf = (run: ProgramRun): unknown => run.byName("backups-run").inputs.triggers;

describe("BackupGate", () => {
  const valueOf = (output: pulumi.Output<string>) => promiseOf(output);

  it("fingerprints every watched container, whatever the order they were declared in", async () => {
    const [a, b] = [new BackupGate(), new BackupGate()];
    a.watch("db-1", pulumi.output("x"));
    a.watch("db-2", pulumi.output("y"));
    b.watch("db-2", pulumi.output("y"));
    b.watch("db-1", pulumi.output("x"));
    expect(await valueOf(a.fingerprint)).toBe(await valueOf(b.fingerprint));
  });

  it("changes when one container's fingerprint changes, or one comes or goes", async () => {
    const gate = (entries: [string, string][]) => {
      const g = new BackupGate();
      for (const [name, fp] of entries) g.watch(name, pulumi.output(fp));
      return valueOf(g.fingerprint);
    };
    const base = await gate([
      ["db-1", "x"],
      ["db-2", "y"],
    ]);
    expect(
      await gate([
        ["db-1", "x"],
        ["db-2", "z"],
      ]),
    ).not.toBe(base);
    expect(await gate([["db-1", "x"]])).not.toBe(base);
    expect(
      await gate([
        ["db-1", "x"],
        ["db-2", "y"],
        ["db-3", "y"],
      ]),
    ).not.toBe(base);
  });

  it("refuses a container declared after its trigger was completed, rather than leave it out", async () => {
    const gate = new BackupGate();
    await valueOf(gate.fingerprint);
    expect(() => gate.watch("late-db", pulumi.output("x"))).toThrow(/late-db was declared after the backup trigger/);
  });
});

describe("Backups", () => {
  let dev: ProgramRun;
  let prod: ProgramRun;
  beforeAll(async () => {
    dev = await runProgram({ config: readStackFile("dev"), stack: "dev" });
    prod = await runProgram({ config: readStackFile("prod"), secrets: PROD_SECRETS, stack: "prod" });
  });

  it("runs the generated backup command for this stack into <dir>/<stack>", () => {
    const expected = backupCommand({
      stack: "prod",
      backupDir: "/var/backups/sectorwars/prod",
      parallelism: 2,
      retentionDays: 30,
      allowEmpty: true,
    });
    expect(prod.byName("backups-run").inputs.create).toBe(expected);
    expect(prod.outputs.backupDir).toBe("/var/backups/sectorwars/prod");
    expect(dev.outputs.backupDir).toBe(path.join(ROOT, ".backups", "dev"));
  });

  it("takes a relative backup.dir from the project directory, not the working directory", async () => {
    const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), "sectorwars-cwd-"));
    const cwd = process.cwd();
    process.chdir(elsewhere);
    try {
      const run = await runProgram({
        config: { ...readStackFile("prod"), "sectorwars:backup": { dir: "var/backups" } },
        secrets: PROD_SECRETS,
        stack: "prod",
      });
      expect(run.outputs.backupDir).toBe(path.join(ROOT, "var", "backups", "prod"));
      expect(String(run.byName("backups-run").inputs.create)).toContain(path.join(ROOT, "var", "backups", "prod"));
    } finally {
      process.chdir(cwd);
      fs.rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it("resolves the backup directory in one place: <dir>/<stack>, relative paths from the project", () => {
    expect(stackBackupDir({ dir: ".backups", stack: "dev", projectDir: "/srv/platform" })).toBe(
      "/srv/platform/.backups/dev",
    );
    expect(stackBackupDir({ dir: "../shared/backups", stack: "dev", projectDir: "/srv/platform" })).toBe(
      "/srv/shared/backups/dev",
    );
    expect(stackBackupDir({ dir: "/var/backups/sectorwars", stack: "prod", projectDir: "/srv/platform" })).toBe(
      "/var/backups/sectorwars/prod",
    );
  });

  it("takes the backup before any database or Redis container is created or replaced", () => {
    const run = prod.byName("backups-run");
    for (const name of ["sectorwars_nexus_db", "sectorwars_region_default_db", "sectorwars_redis"]) {
      expect(containerNamed(prod, name).dependencies, name).toContain(run.urn);
    }
  });

  it("installs the daily schedule in prod, removable on destroy, and none in dev", () => {
    const schedule = prod.byName("backups-schedule");
    expect(String(schedule.inputs.create)).toContain("OnCalendar=daily");
    expect(schedule.inputs.update).toBe(schedule.inputs.create);
    expect(schedule.inputs.delete).toBe(scheduleRemoveCommand("prod"));
    expect(schedule.deleteBeforeReplace).toBe(true);
    expect(dev.ofType(COMMAND).map((c) => c.name)).not.toContain("backups-schedule");
  });

  describe("triggers", () => {
    const five = generatedRegions(5);
    const base = devConfigWith(five);
    const withBackup = (extra: Record<string, unknown>) => ({
      ...base,
      "sectorwars:backup": { dir: ".backups", schedule: "off", ...extra },
    });
    let baseline: unknown;
    beforeAll(async () => {
      baseline = triggersOf(await runProgram({ config: base, stack: "dev" }));
    });

    const changes: [string, Record<string, unknown>][] = [
      ["bumping the generation", withBackup({ generation: 1 })],
      ["a new postgres image", { ...base, "sectorwars:images": { postgres: "postgres:15.8-alpine" } }],
      ["a new redis image", { ...base, "sectorwars:images": { redis: "redis:7.4-alpine" } }],
      [
        "retiring a region (its database container goes)",
        devConfigWith(five.map((r, i) => (i === 3 ? { ...r, state: "retired" } : r))),
      ],
      [
        "a region DB's CPU limit (replaces the container)",
        {
          ...base,
          "sectorwars:sizeProfiles": {
            ...(base["sectorwars:sizeProfiles"] as object),
            "region-db": { limits: { cpus: 0.75, memory: "512M" }, reservations: { cpus: 0.1, memory: "128M" } },
          },
        },
      ],
      ["publishing debug ports (replaces the databases)", { ...base, "sectorwars:debugPorts": { publish: true } }],
      // The uploaded redis.conf carries maxmemory: a new one replaces Redis.
      ["Redis' maxmemory (its uploaded config)", { ...base, "sectorwars:redis": { maxmemory: "150mb" } }],
      [
        "Redis' eviction policy",
        { ...base, "sectorwars:redis": { maxmemory: "200mb", maxmemoryPolicy: "noeviction" } },
      ],
    ];
    it.each(changes)("change on %s", async (_label, config) => {
      expect(triggersOf(await runProgram({ config, stack: "dev" }))).not.toEqual(baseline);
    });

    it("change on an engine that gives health checks a start interval (replaces every database)", async () => {
      expect(triggersOf(await runProgram({ config: base, engine: "1.45", stack: "dev" }))).not.toEqual(baseline);
    });

    const noChanges: [string, Record<string, unknown>][] = [
      ["reordering regions", devConfigWith([...five].reverse())],
      [
        "a region DB's memory (updated in place)",
        {
          ...base,
          "sectorwars:sizeProfiles": {
            ...(base["sectorwars:sizeProfiles"] as object),
            "region-db": { limits: { cpus: 0.5, memory: "768M" }, reservations: { cpus: 0.1, memory: "128M" } },
          },
        },
      ],
      ["an API's image", { ...base, "sectorwars:images": { gameserver: "registry.example/gameserver:2.0.0" } }],
      ["a region's display name", devConfigWith(five.map((r, i) => (i === 2 ? { ...r, name: "Renamed" } : r)))],
    ];
    it.each(noChanges)("no change on %s", async (_label, config) => {
      expect(triggersOf(await runProgram({ config, stack: "dev" }))).toEqual(baseline);
    });
  });
});
