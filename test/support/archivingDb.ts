/**
 * One PostgreSQL container of the test image archiving to an S3 server of the test, as the
 * platform runs a database with `sectorwars:backup.repository` (planning/backup/archive.ts renders
 * its pgbackrest.conf and command), plus pgBackRest restores into volumes: what
 * test/pitr.docker.test.ts and the bench's recovery part (bench/recovery.ts) share.
 *
 *   const lab = await startArchiveLab({ run, prefix, archiveTimeoutSeconds: 5 });
 *   lab.startDb("db", "db_data");             // an empty volume restores itself when the repository has a backup
 *   await lab.waitReady("db");
 *   lab.psql("db", "select 1");
 *   lab.restoreInto("pitr_data", "2026-12-06 10:00:00+00");
 *   await lab.stop();
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  type ArchiveSettings,
  PGBACKREST_PATHS,
  archivingDatabaseCommand,
  parseRepositoryUrl,
  pgbackrestConf,
} from "../../planning/backup/archive";
import {
  EXPORTER_PASSWORD_FILE,
  EXPORTER_PORTS,
  POSTGRES_EXPORTER_QUERIES_FILE,
  postgresExporterEnv,
} from "../../planning/monitoring/exporters";
import { POSTGRES_PASSWORD_FILE } from "../../planning/stack/postgres";
import { PGDATA, PORTS } from "../../planning/stack/topology";
import { type TestRun, docker, removeLabelled, run } from "./docker";
import { TEST_IMAGES } from "./images";
import { labelArgs, postgresArgs, upload } from "./platformContainers";
import { waitUntil } from "./process";
import { type S3Server, startS3Server } from "./s3Server";

export const LAB_STANZA = "region-orion";
export const LAB_USER = "region_orion_user";
export const LAB_DATABASE = "region_orion";
const PASSWORD = "PitrTestPassword0123456789abcdef";
const { dir: CONF_DIR, ca: CA_IN_CONTAINER } = PGBACKREST_PATHS;
const EXPORTER_FILES_DIR = path.posix.dirname(EXPORTER_PASSWORD_FILE);
if (path.posix.dirname(POSTGRES_EXPORTER_QUERIES_FILE) !== EXPORTER_FILES_DIR)
  throw new Error("the exporter's files are no longer in one directory: copy them one by one");

export interface ArchiveLab {
  s3: S3Server;
  network: string;
  settings: ArchiveSettings;
  /**
   * A database container on `volume`, archiving, as the platform runs it; `env` adds variables
   * (pgBackRest reads PGBACKREST_<OPTION> as options).
   */
  startDb(name: string, volume: string, options?: { env?: Record<string, string> }): void;
  /**
   * The platform's database exporter (its variables, the password file it reads, `queries` as its
   * queries file) on the lab's network, watching the database `db`: the text of its /metrics, once
   * it reaches the database.
   */
  exporterMetrics(name: string, db: string, queries: string): Promise<string>;
  /** Until `name` accepts connections and is out of recovery. */
  waitReady(name: string, timeoutMs?: number): Promise<void>;
  query(container: string, sql: string): ReturnType<typeof run>;
  /** psql's trimmed output; throws on failure. */
  psql(container: string, sql: string): string;
  /** pgBackRest as the postgres user in `container`, on the lab's stanza (a backup of 1 GB needs a longer timeout). */
  pgbackrest(container: string, args: string[], timeoutMs?: number): ReturnType<typeof run>;
  /** Restores onto a new volume in a throwaway container; `target` null: everything archived. */
  restoreInto(volume: string, target: string | null, password?: string): ReturnType<typeof run>;
  stop(): Promise<void>;
}

export async function startArchiveLab(options: {
  run: TestRun;
  /** Prefix of the lab's Docker names. */
  prefix: string;
  archiveTimeoutSeconds: number;
}): Promise<ArchiveLab> {
  const { run: testRun, prefix } = options;
  const network = `${prefix}_net`;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "archive-lab-"));
  docker(["network", "create", ...labelArgs(testRun, {}), network]);
  const s3 = await startS3Server({ run: testRun, network, alias: "backups.pitr.test" });
  const repository = parseRepositoryUrl(`s3:https://${s3.alias}:${s3.port}/${s3.bucket}/stacks/test`);
  if (!repository.ok) throw new Error(repository.problem);
  const settings: ArchiveSettings = {
    repository: repository.value,
    credentials: { keyId: s3.accessKey, secret: s3.secretKey },
    password: "pitr repository key 0123456789abcdef",
    retention: { fullBackups: 2, pitrDays: 7 },
    caFile: CA_IN_CONTAINER,
  };

  /** /etc/pgbackrest with the conf (`password` as the key) and the test CA, for `docker cp`. */
  function confDir(name: string, password: string): string {
    const dir = path.join(work, name, path.posix.basename(CONF_DIR));
    fs.mkdirSync(dir, { recursive: true });
    const conf = pgbackrestConf({ ...settings, password }, [
      { name: LAB_STANZA, dataDirectory: PGDATA, user: LAB_USER },
    ]);
    // Readable by the postgres user in the container (docker cp makes root the owner), as the
    // platform's upload is; the key is the test's own.
    fs.writeFileSync(path.join(dir, path.posix.basename(PGBACKREST_PATHS.conf)), conf, { mode: 0o644 });
    fs.writeFileSync(path.join(dir, path.posix.basename(CA_IN_CONTAINER)), s3.caCertPem, { mode: 0o644 });
    return dir;
  }

  function create(name: string, password: string, args: string[]): void {
    docker(["create", "--name", name, ...labelArgs(testRun, {}), "--network", network, ...args]);
    docker(["cp", confDir(name, password), `${name}:${path.posix.dirname(CONF_DIR)}/`]);
  }

  const query = (container: string, sql: string) =>
    run("docker", ["exec", container, "psql", "-qAt", "-U", LAB_USER, "-d", LAB_DATABASE, "-c", sql]);

  return {
    s3,
    network,
    settings,
    startDb(name, volume, { env = {} } = {}) {
      create(name, settings.password, [
        ...Object.entries(env).flatMap(([k, v]) => ["-e", `${k}=${v}`]),
        ...postgresArgs({ database: LAB_DATABASE, user: LAB_USER, volume }),
        TEST_IMAGES.postgres,
        ...archivingDatabaseCommand(LAB_STANZA, options.archiveTimeoutSeconds),
      ]);
      upload(work, name, POSTGRES_PASSWORD_FILE, PASSWORD);
      docker(["start", name]);
    },
    async exporterMetrics(name, db, queries) {
      // Both files go in one directory, which the image lacks: copied in whole.
      const dir = path.join(work, name, path.posix.basename(EXPORTER_FILES_DIR));
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, path.posix.basename(EXPORTER_PASSWORD_FILE)), PASSWORD, { mode: 0o444 });
      fs.writeFileSync(path.join(dir, path.posix.basename(POSTGRES_EXPORTER_QUERIES_FILE)), queries, { mode: 0o444 });
      const env = postgresExporterEnv({ hostname: db, port: PORTS.postgres, database: LAB_DATABASE, user: LAB_USER });
      docker([
        ...["create", "--name", name, ...labelArgs(testRun, {}), "--network", network],
        ...Object.entries(env).flatMap(([k, v]) => ["-e", `${k}=${v}`]),
        TEST_IMAGES.postgresExporter,
        `--extend.query-path=${POSTGRES_EXPORTER_QUERIES_FILE}`,
      ]);
      docker(["cp", dir, `${name}:${path.posix.dirname(EXPORTER_FILES_DIR)}/`]);
      docker(["start", name]);
      // The database's image has curl; the exporter's port is on the lab's network only.
      const metrics = () =>
        run("docker", ["exec", db, "curl", "-sf", `http://${name}:${EXPORTER_PORTS.postgres}/metrics`]);
      await waitUntil(`${name} to reach ${db}`, () => /^pg_up 1$/m.test(metrics().stdout), 60_000);
      return metrics().stdout;
    },
    async waitReady(name, timeoutMs = 60_000) {
      await waitUntil(
        `${name} to accept connections, out of recovery`,
        () => query(name, "select pg_is_in_recovery()").stdout.trim() === "f",
        timeoutMs,
      );
    },
    query,
    psql(container, sql) {
      const result = query(container, sql);
      if (result.status !== 0) throw new Error(`psql in ${container} failed (${result.status}): ${result.stderr}`);
      return result.stdout.trim();
    },
    pgbackrest: (container, args, timeoutMs) =>
      run("docker", ["exec", "-u", "postgres", container, "pgbackrest", `--stanza=${LAB_STANZA}`, ...args], {
        timeoutMs,
      }),
    restoreInto(volume, target, password = settings.password) {
      const name = `${prefix}_restore_${Math.random().toString(16).slice(2, 8)}`;
      docker(["volume", "create", ...labelArgs(testRun, {}), volume]);
      const targetArgs = target === null ? [] : ["--type=time", `--target=${target}`, "--target-action=promote"];
      create(name, password, [
        ...["--user", "postgres", "--mount", `type=volume,source=${volume},target=${PGDATA}`],
        ...["--entrypoint", "pgbackrest", TEST_IMAGES.postgres, `--stanza=${LAB_STANZA}`, ...targetArgs, "restore"],
      ]);
      const result = run("docker", ["start", "-a", name], { timeoutMs: 1_800_000 });
      docker(["rm", name]);
      return result;
    },
    async stop() {
      await s3.stop();
      removeLabelled(testRun.runLabel);
      fs.rmSync(work, { recursive: true, force: true });
    },
  };
}
