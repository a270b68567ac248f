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
import { afterAll, beforeAll, expect, it } from "vitest";
import { imageCheckCommand } from "../planning/backup/archive";
import {
  BASE_BACKUP_SERIES,
  NEWEST_BASE_BACKUP_SQL,
  WAL_WAITING_SERIES,
  postgresExporterQueries,
} from "../planning/monitoring/exporters";
import {
  type ArchiveLab,
  LAB_DATABASE as DATABASE,
  LAB_STANZA as STANZA,
  LAB_USER as USER,
  startArchiveLab,
} from "./support/archivingDb";
import { docker, ensureDockerd, newTestRun, reapDeadRuns, run } from "./support/docker";
import { TEST_IMAGES, ensureTestImages } from "./support/images";
import { labelArgs } from "./support/platformContainers";
import { waitUntil } from "./support/process";
import { ensureS3ServerImage } from "./support/s3Server";

const KIND = "pitr";
const RUN = newTestRun(KIND);
const PREFIX = `swpitr${RUN.id}`;
/** Short, so the test waits seconds; prod's is 30 s (docs/research/pitr-tools.md). */
const ARCHIVE_TIMEOUT_S = 5;
/** Rows committed before the pause; the restore target falls inside it. */
const BEFORE_PAUSE = 20;

let lab: ArchiveLab;

beforeAll(async () => {
  await ensureDockerd();
  ensureTestImages();
  reapDeadRuns(KIND);
  lab = await startArchiveLab({ run: RUN, prefix: PREFIX, archiveTimeoutSeconds: ARCHIVE_TIMEOUT_S });
}, 600_000);

afterAll(async () => {
  await lab?.stop();
});

it("restores a lost database to a second between two writes, and all it archived, from the repository alone", async () => {
  const db = `${PREFIX}_db`;
  const volume = `${PREFIX}_db_data`;
  docker(["volume", "create", ...labelArgs(RUN, {}), volume]);
  lab.startDb(db, volume);
  await lab.waitReady(db);
  // The database exporter's record of the newest base backup (BaseBackupTooOld reads it).
  const newestBaseBackup = () => lab.psql(db, NEWEST_BASE_BACKUP_SQL);
  expect(newestBaseBackup(), "a base backup on record before any was taken").toBe("");
  for (const step of [["stanza-create"], ["backup", "--type=full"]]) {
    const result = lab.pgbackrest(db, step);
    expect(result.status, `pgbackrest ${step.join(" ")}: ${result.stdout}${result.stderr}`).toBe(0);
  }
  const backupEnded = Number(newestBaseBackup());
  expect(
    Date.now() / 1000 - backupEnded,
    "seconds since the full backup ended, as the database records it",
  ).toBeLessThan(15);
  // The exporter with the queries of a stack that archives gives it to Prometheus as is.
  const metrics = await lab.exporterMetrics(`${db}_exporter`, db, postgresExporterQueries({ archiving: true }));
  const value = (series: string) =>
    Number(new RegExp(`^${series}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(metrics)?.[1] ?? Number.NaN);
  expect(value(BASE_BACKUP_SERIES), `${BASE_BACKUP_SERIES} in\n${metrics}`).toBe(backupEnded);
  expect(value(WAL_WAITING_SERIES), WAL_WAITING_SERIES).toBe(0);

  lab.psql(db, "create table moves (id int primary key, at timestamptz not null default clock_timestamp())");
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
    () => Number(lab.psql(db, "select count(*) from moves")) > BEFORE_PAUSE + 40,
    60_000,
  );
  const pauseStart = lab.psql(db, `select at from moves where id = ${BEFORE_PAUSE}`);
  expect(lab.psql(db, "select archived_count > 2 from pg_stat_archiver"), "WAL archived since the backup").toBe("t");
  expect(Number(newestBaseBackup()), "the backup's end, still on record after WAL was archived").toBe(backupEnded);
  const target = lab.psql(db, `select (at + interval '1.5 seconds')::text from moves where id = ${BEFORE_PAUSE}`);

  // The host is lost while the writer runs: no shutdown, no final archive, no volume.
  const committed = Number(lab.psql(db, "select max(id) from moves"));
  docker(["kill", "-s", "KILL", db]);
  const killedAt = Date.now();
  docker(["rm", "-v", db]);
  docker(["volume", "rm", volume]);

  // Everything archived: the database, started as the platform starts it on an empty volume (a
  // fresh engine), restores itself from the repository before it runs.
  const latest = `${PREFIX}_latest`;
  docker(["volume", "create", ...labelArgs(RUN, {}), `${latest}_data`]);
  lab.startDb(latest, `${latest}_data`);
  await lab.waitReady(latest);
  expect(docker(["logs", latest]), "the start script's restore").toContain(
    `restoring ${STANZA} from the backup repository`,
  );
  const restored = Number(lab.psql(latest, "select max(id) from moves"));
  // Rows come every 200 ms: what the archive timeout and the push may lose, in rows.
  const lostAtMost = Math.ceil((ARCHIVE_TIMEOUT_S + 5) / 0.2);
  expect(restored, `rows restored of ${committed} seen committed before the kill`).toBeGreaterThanOrEqual(
    committed - lostAtMost,
  );
  console.log(`pitr: ${committed} rows committed, ${restored} restored; killed at ${new Date(killedAt).toISOString()}`);
  // It archives on a timeline of its own from now on; the restore below goes back along the first.
  docker(["stop", latest]);

  const toSecond = lab.restoreInto(`${PREFIX}_pitr_data`, target);
  expect(toSecond.status, `restore to ${target}: ${toSecond.stdout}${toSecond.stderr}`).toBe(0);
  lab.startDb(`${PREFIX}_pitr`, `${PREFIX}_pitr_data`);
  await lab.waitReady(`${PREFIX}_pitr`);
  const ids = lab.psql(`${PREFIX}_pitr`, "select string_agg(id::text, ',' order by id) from moves");
  expect(ids, `rows restored to ${target} (row ${BEFORE_PAUSE} at ${pauseStart})`).toBe(
    Array.from({ length: BEFORE_PAUSE }, (_, i) => i + 1).join(","),
  );
}, 600_000);

it("refuses a postgres image without pgBackRest before a database runs on it, naming the key", () => {
  const check = (image: string) => run("sh", ["-c", imageCheckCommand(image)]);
  expect(check(TEST_IMAGES.postgres).status, "the test image has pgBackRest and restic").toBe(0);
  // The test images share one root with pgBackRest; the S3 server's image holds one file.
  const bare = ensureS3ServerImage();
  const without = check(bare);
  expect(without.status).not.toBe(0);
  expect(without.stderr).toContain(`images.postgres (${bare}) has no pgbackrest`);
}, 120_000);

it("does not start an empty database while the repository does not answer", async () => {
  const name = `${PREFIX}_unreachable`;
  docker(["volume", "create", ...labelArgs(RUN, {}), `${name}_data`]);
  docker(["network", "disconnect", lab.network, lab.s3.container]);
  try {
    lab.startDb(name, `${name}_data`);
    await waitUntil(
      `${name} to exit`,
      () => docker(["inspect", "--format", "{{.State.Running}}", name]).trim() === "false",
      150_000,
    );
    expect(docker(["inspect", "--format", "{{.State.ExitCode}}", name]).trim()).toBe("1");
    const logs = run("docker", ["logs", name]);
    expect(logs.stderr).toContain(`the backup repository cannot restore ${STANZA}: not starting an empty database`);
    expect(logs.stderr, "pgBackRest's reason").toContain("HostConnectError");
    const listing = run("docker", [
      ...["run", "--rm", "--entrypoint", "ls", "--mount", `type=volume,source=${name}_data,target=/d`],
      ...[TEST_IMAGES.postgres, "-A", "/d"],
    ]);
    expect(listing.stdout.trim(), "nothing initialised on the volume").toBe("");
  } finally {
    docker(["network", "connect", "--alias", lab.s3.alias, lab.network, lab.s3.container]);
  }
}, 300_000);

it.each([
  [false, "keeps running"],
  [true, "(control) crashes and reinitialises"],
])(
  "with pgBackRest's asynchronous push %s, a database whose repository goes away %s",
  async (async, _outcome) => {
    const name = `${PREFIX}_push_${async ? "async" : "sync"}`;
    docker(["volume", "create", ...labelArgs(RUN, {}), `${name}_data`]);
    // pgBackRest's options from the environment: timeouts of seconds, and for the control its
    // asynchronous push (which forks a process that outlives archive_command).
    const control: Record<string, string> = async
      ? { PGBACKREST_ARCHIVE_ASYNC: "y", PGBACKREST_SPOOL_PATH: "/tmp/pgbackrest/spool" }
      : {};
    lab.startDb(name, `${name}_data`, {
      env: { PGBACKREST_IO_TIMEOUT: "2", PGBACKREST_ARCHIVE_TIMEOUT: "5", ...control },
    });
    await lab.waitReady(name);
    docker(["network", "disconnect", lab.network, lab.s3.container]);
    try {
      // Its own table: a database on an empty volume restores the lab's stanza first, which may hold
      // the other variant's writes by now.
      const table = `pushed_${async ? "async" : "sync"}`;
      lab.psql(name, `create table ${table} (i int); insert into ${table} values (1); select pg_switch_wal()`);
      const failed = () => lab.query(name, "select failed_count > 0 from pg_stat_archiver").stdout.trim() === "t";
      await waitUntil(`${name}: a failed push`, failed, 120_000).catch(() => undefined);
      // A forked push retries on its own timeouts before it exits.
      await new Promise((resolve) => setTimeout(resolve, 30_000));
    } finally {
      docker(["network", "connect", "--alias", lab.s3.alias, lab.network, lab.s3.container]);
    }
    const logs = run("docker", ["logs", name]).stderr;
    if (async) {
      expect(logs).toContain("all server processes terminated; reinitializing");
    } else {
      expect(logs, "postgres reinitialised").not.toContain("all server processes terminated; reinitializing");
      expect(lab.psql(name, "select failed_count > 0 from pg_stat_archiver"), "a push failed, to be retried").toBe("t");
    }
  },
  300_000,
);

it("keeps the repository unreadable without the key", () => {
  const wrong = lab.restoreInto(`${PREFIX}_wrongkey_data`, null, "not the repository key 0123456789");
  expect(wrong.status, "a restore with a wrong key fails").not.toBe(0);
  expect(`${wrong.stdout}${wrong.stderr}`).toMatch(/unable to|cipher|decrypt|key/i);
}, 300_000);
