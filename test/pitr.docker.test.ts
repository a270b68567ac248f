/**
 * Point-in-time recovery on a real Docker engine, with what planning/backup/archive.ts renders:
 * PostgreSQL 15 (the test image, with Debian's pgBackRest 2.45) archives every WAL segment to an
 * S3 server over HTTPS in a container of the test (test/support/s3Server.ts), encrypted with the
 * repository key.
 *
 * A writer commits a row every 200 ms, with a pause of 3 s after row 20, while the host is lost:
 * the database container killed (SIGKILL) and its volume removed. A restore from the repository
 * alone onto a new volume, to a second inside the pause, must hold exactly rows 1 to 20; a
 * restore of everything must hold every row committed more than the archive timeout (plus the
 * push) before the kill. A restore with a wrong key reads nothing.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  type ArchiveSettings,
  PGBACKREST_PATHS,
  archiveFlags,
  imageCheckCommand,
  parseRepositoryUrl,
  pgbackrestConf,
} from "../planning/backup/archive";
import { PGDATA } from "../planning/stack/topology";
import { POSTGRES_PASSWORD_FILE } from "../planning/stack/postgres";
import { docker, ensureDockerd, newTestRun, reapDeadRuns, removeLabelled, run } from "./support/docker";
import { TEST_IMAGES, ensureTestImages } from "./support/images";
import { labelArgs, postgresArgs, upload } from "./support/platformContainers";
import { waitUntil } from "./support/process";
import { type S3Server, ensureS3ServerImage, startS3Server } from "./support/s3Server";

const KIND = "pitr";
const RUN = newTestRun(KIND);
const PREFIX = `swpitr${RUN.id}`;
const NETWORK = `${PREFIX}_net`;
const STANZA = "region-orion";
const USER = "region_orion_user";
const DATABASE = "region_orion";
const PASSWORD = "PitrTestPassword0123456789abcdef";
/** Short, so the test waits seconds; prod's is 30 s (docs/research/pitr-tools.md). */
const ARCHIVE_TIMEOUT_S = 5;
const { dir: CONF_DIR, ca: CA_IN_CONTAINER } = PGBACKREST_PATHS;
/** Rows committed before the pause; the restore target falls inside it. */
const BEFORE_PAUSE = 20;

let s3: S3Server;
let work: string;
let settings: ArchiveSettings;

/** pgbackrest.conf for the test's stanza, with `password` as the repository key. */
const confWith = (password: string): string =>
  pgbackrestConf({ ...settings, password }, [{ name: STANZA, dataDirectory: PGDATA, user: USER }]);

/** /etc/pgbackrest with the conf and the test CA, ready for `docker cp` into a created container. */
function confDir(name: string, password: string): string {
  const dir = path.join(work, name, path.posix.basename(CONF_DIR));
  fs.mkdirSync(dir, { recursive: true });
  // Readable by the postgres user in the container (docker cp makes root the owner). The
  // platform will install it 0600 for postgres; here the key is the test's own.
  fs.writeFileSync(path.join(dir, path.posix.basename(PGBACKREST_PATHS.conf)), confWith(password), { mode: 0o644 });
  fs.writeFileSync(path.join(dir, path.posix.basename(CA_IN_CONTAINER)), s3.caCertPem, { mode: 0o644 });
  return dir;
}

const query = (container: string, sql: string) =>
  run("docker", ["exec", container, "psql", "-qAt", "-U", USER, "-d", DATABASE, "-c", sql]);

function psql(container: string, sql: string): string {
  const result = query(container, sql);
  if (result.status !== 0) throw new Error(`psql in ${container} failed (${result.status}): ${result.stderr}`);
  return result.stdout.trim();
}

/** pgBackRest as the postgres user in `container`. */
const pgbackrest = (container: string, args: string[]) =>
  run("docker", ["exec", "-u", "postgres", container, "pgbackrest", `--stanza=${STANZA}`, ...args]);

/** Creates a container of the test image on the test's network, with pgbackrest.conf (and `password`) in /etc. */
function create(name: string, password: string, args: string[]): void {
  docker(["create", "--name", name, ...labelArgs(RUN, {}), "--network", NETWORK, ...args]);
  docker(["cp", confDir(name, password), `${name}:${path.posix.dirname(CONF_DIR)}/`]);
}

/** A database container on `volume`, archiving, as the platform will run it. */
function startDb(name: string, volume: string): void {
  create(name, settings.password, [
    ...postgresArgs({ database: DATABASE, user: USER, volume }),
    TEST_IMAGES.postgres,
    "postgres",
    ...archiveFlags(STANZA, ARCHIVE_TIMEOUT_S),
  ]);
  upload(work, name, POSTGRES_PASSWORD_FILE, PASSWORD);
  docker(["start", name]);
}

async function waitReady(name: string): Promise<void> {
  await waitUntil(
    `${name} to accept connections, out of recovery`,
    () => query(name, "select pg_is_in_recovery()").stdout.trim() === "f",
    60_000,
  );
}

/** Restores the stanza onto a new volume in a throwaway container; `target` null: everything archived. */
function restoreInto(volume: string, target: string | null, password = settings.password) {
  const name = `${PREFIX}_restore_${Math.random().toString(16).slice(2, 8)}`;
  docker(["volume", "create", ...labelArgs(RUN, {}), volume]);
  const targetArgs = target === null ? [] : ["--type=time", `--target=${target}`, "--target-action=promote"];
  create(name, password, [
    "--user",
    "postgres",
    "--mount",
    `type=volume,source=${volume},target=${PGDATA}`,
    "--entrypoint",
    "pgbackrest",
    TEST_IMAGES.postgres,
    `--stanza=${STANZA}`,
    ...targetArgs,
    "restore",
  ]);
  const result = run("docker", ["start", "-a", name]);
  docker(["rm", name]);
  return result;
}

beforeAll(async () => {
  await ensureDockerd();
  ensureTestImages();
  reapDeadRuns(KIND);
  work = fs.mkdtempSync(path.join(os.tmpdir(), "pitr-"));
  docker(["network", "create", ...labelArgs(RUN, {}), NETWORK]);
  s3 = await startS3Server({ run: RUN, network: NETWORK, alias: "backups.pitr.test" });
  const repository = parseRepositoryUrl(`s3:https://${s3.alias}:${s3.port}/${s3.bucket}/stacks/test`);
  if (!repository.ok) throw new Error(repository.problem);
  settings = {
    repository: repository.value,
    credentials: { keyId: s3.accessKey, secret: s3.secretKey },
    password: "pitr repository key 0123456789abcdef",
    retention: { fullBackups: 2, pitrDays: 7 },
    caFile: CA_IN_CONTAINER,
  };
}, 600_000);

afterAll(async () => {
  await s3?.stop();
  removeLabelled(RUN.runLabel);
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

it("restores a lost database to a second between two writes, and all it archived, from the repository alone", async () => {
  const db = `${PREFIX}_db`;
  const volume = `${PREFIX}_db_data`;
  docker(["volume", "create", ...labelArgs(RUN, {}), volume]);
  startDb(db, volume);
  await waitReady(db);
  for (const step of [["stanza-create"], ["backup", "--type=full"]]) {
    const result = pgbackrest(db, step);
    expect(result.status, `pgbackrest ${step.join(" ")}: ${result.stdout}${result.stderr}`).toBe(0);
  }

  psql(db, "create table moves (id int primary key, at timestamptz not null default clock_timestamp())");
  // One transaction per row (COMMIT inside DO), 200 ms apart, a 3 s pause after row 20.
  const writer = run("docker", [
    "exec",
    "-d",
    db,
    "psql",
    "-U",
    USER,
    "-d",
    DATABASE,
    "-c",
    `do $$ begin for i in 1..400 loop insert into moves (id) values (i); commit;
       perform pg_sleep(case when i = ${BEFORE_PAUSE} then 3 else 0.2 end); end loop; end $$`,
  ]);
  expect(writer.status, writer.stderr).toBe(0);
  await waitUntil(
    "rows past the pause",
    () => Number(psql(db, "select count(*) from moves")) > BEFORE_PAUSE + 40,
    60_000,
  );
  const pauseStart = psql(db, `select at from moves where id = ${BEFORE_PAUSE}`);
  const target = psql(db, `select (at + interval '1.5 seconds')::text from moves where id = ${BEFORE_PAUSE}`);

  // The host is lost while the writer runs: no shutdown, no final archive, no volume.
  const committed = Number(psql(db, "select max(id) from moves"));
  docker(["kill", "-s", "KILL", db]);
  const killedAt = Date.now();
  docker(["rm", "-v", db]);
  docker(["volume", "rm", volume]);

  const toSecond = restoreInto(`${PREFIX}_pitr_data`, target);
  expect(toSecond.status, `restore to ${target}: ${toSecond.stdout}${toSecond.stderr}`).toBe(0);
  startDb(`${PREFIX}_pitr`, `${PREFIX}_pitr_data`);
  await waitReady(`${PREFIX}_pitr`);
  const ids = psql(`${PREFIX}_pitr`, "select string_agg(id::text, ',' order by id) from moves");
  expect(ids, `rows restored to ${target} (row ${BEFORE_PAUSE} at ${pauseStart})`).toBe(
    Array.from({ length: BEFORE_PAUSE }, (_, i) => i + 1).join(","),
  );

  const latest = restoreInto(`${PREFIX}_latest_data`, null);
  expect(latest.status, `restore of everything: ${latest.stdout}${latest.stderr}`).toBe(0);
  startDb(`${PREFIX}_latest`, `${PREFIX}_latest_data`);
  await waitReady(`${PREFIX}_latest`);
  const restored = Number(psql(`${PREFIX}_latest`, "select max(id) from moves"));
  // Rows come every 200 ms: what the archive timeout and the push may lose, in rows.
  const lostAtMost = Math.ceil((ARCHIVE_TIMEOUT_S + 5) / 0.2);
  expect(restored, `rows restored of ${committed} seen committed before the kill`).toBeGreaterThanOrEqual(
    committed - lostAtMost,
  );
  console.log(`pitr: ${committed} rows committed, ${restored} restored; killed at ${new Date(killedAt).toISOString()}`);
}, 600_000);

it("refuses a postgres image without pgBackRest before a database runs on it, naming the key", () => {
  const check = (image: string) => run("sh", ["-c", imageCheckCommand(image)]);
  expect(check(TEST_IMAGES.postgres).status, "the test image has pgBackRest").toBe(0);
  // The test images share one root with pgBackRest; the S3 server's image holds one file.
  const bare = ensureS3ServerImage();
  const without = check(bare);
  expect(without.status).not.toBe(0);
  expect(without.stderr).toContain(`images.postgres (${bare}) has no pgbackrest`);
}, 120_000);

it("keeps the repository unreadable without the key", () => {
  const wrong = restoreInto(`${PREFIX}_wrongkey_data`, null, "not the repository key 0123456789");
  expect(wrong.status, "a restore with a wrong key fails").not.toBe(0);
  expect(`${wrong.stdout}${wrong.stderr}`).toMatch(/unable to|cipher|decrypt|key/i);
}, 300_000);
