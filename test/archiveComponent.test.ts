/**
 * The Archive component under mocks (components/backup/archive.ts): with backup.repository set,
 * what each database container gets (archive flags, pgbackrest.conf as a secret, a network with a
 * route out), the image check it waits for and the stanza command after it; without it, nothing
 * of that. test/pitr.docker.test.ts runs the same text against real PostgreSQL and S3.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { PGBACKREST_PATHS } from "../planning/backup/archive";
import { containerNamed, containers, uploadOf } from "./support/graph";
import { COMMAND, NETWORK, type ProgramRun, isSecretValue, readStackFile, runProgram } from "./support/pulumi";

const KEY = "repository key for the archive tests 0123";
const REPOSITORY = {
  "sectorwars:backup": {
    repository: { url: "s3:https://s3.example.com/sectorwars-bk/dev", archiveTimeoutSeconds: 20 },
  },
};
const SECRETS = {
  "sectorwars:backupRepositoryPassword": KEY,
  "sectorwars:backupRepositoryCredentials": "AKIAEXAMPLE:wJalrEXAMPLEKEY",
};
const DATABASES = { "sectorwars-dev_nexus_db": "nexus", "sectorwars-dev_region_orion_db": "region-orion" };

describe("Archive, with backup.repository", () => {
  let run: ProgramRun;
  beforeAll(async () => {
    run = await runProgram({ config: { ...readStackFile("dev"), ...REPOSITORY }, secrets: SECRETS, stack: "test" });
  });

  it("starts each database archiving to its own stanza, every archiveTimeoutSeconds, restoring an empty one first", () => {
    for (const [container, stanza] of Object.entries(DATABASES)) {
      const command = containerNamed(run, container).inputs.command as string[];
      expect(command.slice(0, 2), container).toEqual(["sh", "-c"]);
      expect(command[2], container).toContain('pgbackrest --stanza="$stanza"');
      expect(command.slice(3), container).toEqual([
        "sectorwars-db",
        stanza,
        "postgres",
        "-c",
        "archive_mode=on",
        "-c",
        `archive_command=pgbackrest --stanza=${stanza} archive-push %p`,
        "-c",
        "archive_timeout=20",
      ]);
    }
  });

  it("gives each database its pgbackrest.conf, the key and credentials only as secrets", () => {
    const db = containerNamed(run, "sectorwars-dev_region_orion_db");
    const conf = uploadOf(db, PGBACKREST_PATHS.conf);
    expect(conf).toContain("[region-orion]\n");
    expect(conf).toContain(`repo1-cipher-pass=${KEY}\n`);
    expect(conf).toContain("repo1-path=/dev/pgbackrest\n");
    const upload = (db.rawInputs.uploads as Record<string, unknown>[]).find((u) => u.file === PGBACKREST_PATHS.conf);
    expect(isSecretValue(upload?.content), "pgbackrest.conf is a secret").toBe(true);
  });

  it("lets the databases' networks reach the repository, and no other network changes", () => {
    const internal = Object.fromEntries(run.ofType(NETWORK).map((n) => [String(n.inputs.name), n.inputs.internal]));
    expect(internal["sectorwars-dev_region_orion"]).toBe(false);
    expect(internal["sectorwars-dev_nexus"]).toBe(false);
    expect(internal["sectorwars-dev_redis"]).toBe(true);
  });

  it("checks the postgres image for pgBackRest and restic before any database, and sets up each stanza after it", () => {
    const check = run.byName("archive-image-check");
    expect(String(check.inputs.create)).toMatch(/^docker run --rm --network none --entrypoint pgbackrest \S+ version/);
    expect(String(check.inputs.create)).toMatch(/; docker run --rm --network none --entrypoint restic \S+ version/);
    for (const container of Object.keys(DATABASES)) {
      expect(containerNamed(run, container).dependencies, container).toContain(check.urn);
    }
    const stanza = run.byName("region-orion-db-archive");
    expect(stanza.type).toBe(COMMAND);
    expect(String(stanza.inputs.create)).toContain("pgbackrest --stanza=region-orion stanza-create");
    expect(String(stanza.inputs.create)).toContain("pgbackrest --stanza=region-orion check");
    expect(stanza.dependencies).toContain(containerNamed(run, "sectorwars-dev_region_orion_db").urn);
  });
});

describe("Archive, without backup.repository", () => {
  it("declares none of it: the databases are as they were", async () => {
    const run = await runProgram({ config: readStackFile("dev"), stack: "test" });
    expect(run.resources.filter((r) => r.name.includes("archive"))).toEqual([]);
    for (const db of containers(run).filter((c) => String(c.inputs.name).endsWith("_db"))) {
      expect(db.inputs.command, String(db.inputs.name)).toBeUndefined();
    }
  });
});
