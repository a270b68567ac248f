/**
 * The database schema under mocks: init SQL uploaded into new database containers (and ignored
 * on existing ones), the check that it ran, and the migration step: its `docker run`, its secret
 * environment, and the dependsOn edges that put it after the backup and before every API.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../planning/config";
import {
  INIT_SQL_PATH,
  initCheckCommand,
  migrationLabels,
  migrationRunCommand,
} from "../planning/stack/databaseSchema";
import { serviceLogsCommand } from "../planning/swarm/commands";
import { type ContainerPlan, type DatabasePlan, planStack } from "../planning/stack/topology";
import { readProjectFile } from "../components/config/stackConfig";
import { devConfigWith, generatedRegions, rawOf } from "./support/configs";
import { envOf, plainStrings } from "./support/graph";
import { COMMAND, type ProgramRun, ROOT, isSecretValue, runProgram } from "./support/pulumi";
import { swarmDevConfig } from "./support/swarmConfigs";

const FIXTURES = "test/fixtures/schema";
const NEXUS_SQL = `${FIXTURES}/nexus-init.sql`;
const REGION_SQL = `${FIXTURES}/region-init.sql`;
const MIGRATE = ["npm", "run", "migrate"];

const regions = generatedRegions(3).map((r) => (r.id === "sector-002" ? { ...r, state: "retired" } : r));
const ACTIVE = ["default", "sector-001"];
const base = devConfigWith(regions);
const withDatabase = (database: Record<string, unknown>) => ({ ...base, "sectorwars:database": database });
const fixture = (file: string) => fs.readFileSync(path.join(ROOT, file), "utf8");

/** Component names of the databases the stack runs: the nexus and each active region. */
const OWNERS = ["nexus", ...ACTIVE.map((id) => `region-${id}`)];

let plain: ProgramRun;
let schema: ProgramRun;
beforeAll(async () => {
  plain = await runProgram({ config: base, stack: "test" });
  schema = await runProgram({
    config: withDatabase({ initSql: { nexus: NEXUS_SQL, region: REGION_SQL }, migration: { command: MIGRATE } }),
    stack: "test",
  });
});

const uploadsOf = (run: ProgramRun, owner: string) =>
  run.byName(`${owner}-db`).inputs.uploads as { file: string; content: string; permissions: string }[];

describe("init SQL", () => {
  it("is uploaded into each database container where the image runs it on an empty data directory", () => {
    for (const owner of OWNERS) {
      const expected = fixture(owner === "nexus" ? NEXUS_SQL : REGION_SQL);
      expect(
        uploadsOf(schema, owner).map((u) => u.file),
        owner,
      ).toEqual(["/run/secrets/postgres-password", INIT_SQL_PATH]);
      expect(uploadsOf(schema, owner)[1], owner).toEqual({
        file: INIT_SQL_PATH,
        content: expected,
        permissions: "0444",
      });
    }
  });

  it("never replaces an existing database: its uploads are ignored once it exists", () => {
    for (const owner of OWNERS) expect(schema.byName(`${owner}-db`).ignoreChanges, owner).toEqual(["uploads"]);
  });

  it("is checked once per new database container, before its API starts", () => {
    for (const owner of OWNERS) {
      const db = schema.byName(`${owner}-db`);
      const check = schema.byName(`${owner}-db-init-check`);
      expect(check.inputs.create, owner).toBe(initCheckCommand(String(db.inputs.name)));
      expect(check.inputs.triggers, owner).toEqual([`${owner}-db-id`]);
      expect(check.dependencies, owner).toContain(db.urn);
      expect(schema.byName(`${owner}-api`).dependencies, owner).toContain(check.urn);
    }
  });

  it("is checked in swarm mode from the service's logs, every task's, before its API starts", async () => {
    const initSql = { initSql: { nexus: NEXUS_SQL, region: REGION_SQL } };
    const swarm = await runProgram({
      config: { ...swarmDevConfig(), "sectorwars:database": initSql },
      secrets: { "sectorwars:paypalClientId": "id", "sectorwars:paypalClientSecret": "secret" },
      engine: "1.45",
    });
    for (const owner of ["nexus", "region-default", "region-orion"]) {
      const service = String(swarm.byName(`${owner}-db`).inputs.name);
      const check = swarm.byName(`${owner}-db-init-check`);
      expect(check.inputs.create, owner).toBe(initCheckCommand(service, serviceLogsCommand(service)));
      expect(check.dependencies, owner).toContain(swarm.byName(`${owner}-db`).urn);
      expect(swarm.byName(`${owner}-api`).dependencies, owner).toContain(check.urn);
    }
  });

  it("changes nothing when unset: no upload, no ignoreChanges, no check", () => {
    for (const owner of OWNERS) {
      expect(
        uploadsOf(plain, owner).map((u) => u.file),
        owner,
      ).toEqual(["/run/secrets/postgres-password"]);
      expect(plain.byName(`${owner}-db`).ignoreChanges, owner).toEqual([]);
    }
    expect(plain.ofType(COMMAND).map((c) => c.name)).not.toContainEqual(expect.stringMatching(/init-check|migrate/));
  });

  it("gives a retired region neither the file nor a check", () => {
    expect(schema.resources.filter((r) => r.name.startsWith("region-sector-002-")).map((r) => r.name)).toEqual([
      "region-sector-002-db-data",
    ]);
  });

  it("is read from the project directory, size-checked before it is read", () => {
    expect(readProjectFile(REGION_SQL, 1 << 20)).toEqual({ bytes: fs.readFileSync(path.join(ROOT, REGION_SQL)) });
    expect(readProjectFile(REGION_SQL, 10)).toEqual({ problem: expect.stringMatching(/^is \d+ bytes; at most 10 /) });
    expect(readProjectFile(FIXTURES, 1 << 20)).toEqual({ problem: "is not a regular file" });
    expect(readProjectFile(`${FIXTURES}/none.sql`, 1 << 20)).toEqual({
      problem: expect.stringMatching(/^does not exist \(relative to /),
    });
  });
});

describe("migration step", () => {
  it("runs the gameserver image per database with the API's environment, passed by name", () => {
    const plan = planStack(parseConfig(rawOf(base), { presentSecrets: new Set() }), "test");
    const plans = new Map<string, { api: ContainerPlan; db: DatabasePlan }>([
      ["nexus", plan.nexus],
      ...plan.regions.map((r) => [`region-${r.id}`, r] as const),
    ]);
    for (const owner of OWNERS) {
      const { api: apiPlan, db: dbPlan } = plans.get(owner) ?? { api: plan.nexus.api, db: plan.nexus.db };
      const api = schema.byName(`${owner}-api`);
      const migrate = schema.byName(`${owner}-migrate`);
      expect(migrate.inputs.create, owner).toBe(
        migrationRunCommand({
          containerName: `${apiPlan.containerName}_migrate`,
          labels: migrationLabels(apiPlan.labels),
          network: dbPlan.networkName,
          image: String(api.inputs.image),
          command: MIGRATE,
          envNames: Object.keys(envOf(api)),
          size: apiPlan.size,
          hardening: apiPlan.hardening,
        }),
      );
      expect(migrate.inputs.environment, owner).toEqual(envOf(api));
      expect(Object.keys(envOf(api)), owner).toEqual(
        expect.arrayContaining(["DATABASE_URL", "REDIS_URL", "REGION_TYPE"]),
      );
    }
    expect(migrationLabels(plan.regions[0]?.api.labels ?? {})).toEqual({
      "com.sectorwars.stack": "test",
      "com.sectorwars.role": "migration",
      "com.sectorwars.region": "default",
    });
  });

  it("keeps the environment secret and every secret off its command line", () => {
    for (const owner of OWNERS) {
      const migrate = schema.byName(`${owner}-migrate`);
      expect(isSecretValue(migrate.rawInputs.environment), `${owner} environment is secret`).toBe(true);
      expect(String(migrate.inputs.create), owner).toMatch(/ -e DATABASE_URL -e REDIS_URL /);
    }
    for (const resource of schema.resources) {
      const text = plainStrings(resource.rawInputs).join("\n");
      for (const secret of schema.generatedSecrets) {
        expect(text.includes(secret), `${resource.name} has a secret in a plain input`).toBe(false);
      }
    }
  });

  it("reruns only on a new image or command (its triggers), never on another update", () => {
    const image = String(schema.byName("nexus-api").inputs.image);
    for (const owner of OWNERS) {
      const migrate = schema.byName(`${owner}-migrate`);
      expect(migrate.inputs.triggers, owner).toEqual([image, JSON.stringify(MIGRATE)]);
      expect(migrate.inputs.update, owner).toBe("true");
      expect(migrate.inputs.logging, owner).toBe("none");
    }
  });

  it("runs after the backup and its database, and every API waits for every migration", () => {
    const backup = schema.byName("backups-run").urn;
    const migrations = OWNERS.map((owner) => schema.byName(`${owner}-migrate`).urn);
    for (const owner of OWNERS) {
      const deps = schema.byName(`${owner}-migrate`).dependencies;
      for (const dep of ["db", "db-password-sync", "db-init-check"]) {
        expect(deps, `${owner}-migrate after ${owner}-${dep}`).toContain(schema.byName(`${owner}-${dep}`).urn);
      }
      expect(deps, `${owner}-migrate after the backup`).toContain(backup);
      expect(schema.byName(`${owner}-api`).dependencies, `${owner}-api`).toEqual(expect.arrayContaining(migrations));
    }
    // The database itself waits for the backup too; nothing waits for an API.
    for (const migration of migrations) {
      const dependents = schema.resources.filter((r) => r.dependencies.includes(migration)).map((r) => r.name);
      expect(dependents.sort()).toEqual(OWNERS.map((o) => `${o}-api`).sort());
    }
  });

  it("takes a backup first whenever it reruns: its image and command are in the backup's trigger", async () => {
    const triggersOf = (run: ProgramRun) => run.byName("backups-run").inputs.triggers;
    const withInitSqlOnly = await runProgram({
      config: withDatabase({ initSql: { nexus: NEXUS_SQL, region: REGION_SQL } }),
      stack: "test",
    });
    const newImage = await runProgram({
      config: {
        ...withDatabase({ initSql: { nexus: NEXUS_SQL, region: REGION_SQL }, migration: { command: MIGRATE } }),
        "sectorwars:images": { gameserver: "registry.example/sectorwars/gameserver:2.0.0" },
      },
      stack: "test",
    });
    expect(triggersOf(schema), "the step set").not.toEqual(triggersOf(withInitSqlOnly));
    expect(triggersOf(newImage), "a new gameserver image").not.toEqual(triggersOf(schema));
    // Init SQL replaces no database, so it takes no backup.
    expect(triggersOf(withInitSqlOnly), "init SQL set").toEqual(triggersOf(plain));
  });

  it("is declared for no retired region", () => {
    expect(
      schema
        .ofType(COMMAND)
        .filter((c) => c.name.endsWith("-migrate"))
        .map((c) => c.name)
        .sort(),
    ).toEqual(OWNERS.map((o) => `${o}-migrate`).sort());
  });
});
