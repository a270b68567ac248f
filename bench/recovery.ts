/**
 * Part `recovery`: what continuous archiving (sectorwars:backup.repository) promises, measured on
 * a region database of about 1 GB with prod's archive timeout. One PostgreSQL 15 container of the
 * test image archives with pgBackRest to the test's S3 server over HTTPS
 * (test/support/archivingDb.ts), as the platform runs it.
 *
 * - Load: a table of about 1 GB (WAL archived as it is written), then a full base backup.
 * - Each run: a writer commits a row every 100 ms; at a random moment the host is lost (SIGKILL,
 *   volume gone), and a container on an empty volume restores itself from the repository (the
 *   platform's start script: the path of the disaster-recovery drill and of a lost disk).
 *   - RPO: the time from the newest row restored (the writer's start if none) to the kill: every
 *     commit in between is lost.
 *   - Restore time: from the container's start on the empty volume until it accepts writes; then
 *     the stanza step that `pulumi up` runs on a new database container.
 *   The restored database is the next run's, so later runs replay across timelines, as a
 *   second disaster would.
 */
import { ARCHIVE_DEFAULTS, stanzaCommand } from "../planning/backup/archive";
import { type ArchiveLab, LAB_STANZA, LAB_USER, startArchiveLab } from "../test/support/archivingDb";
import { docker, ensureDockerd, newTestRun, reapDeadRuns, run } from "../test/support/docker";
import { ensureTestImages } from "../test/support/images";
import { labelArgs } from "../test/support/platformContainers";
import { isoNow, log, round } from "./common";

export interface RecoveryRun {
  /** Seconds of committed work lost: from the newest restored row's commit to the kill. */
  lostSeconds: number;
  /** From the start on an empty volume until the database accepts writes. */
  restoreSeconds: number;
  /** pg_database_size of what came back, MB: the whole database, not an empty one. */
  restoredMb: number;
}

export interface RecoveryResult {
  date: string;
  archiveTimeoutSeconds: number;
  pgbackrest: string;
  /** pg_database_size of the region database before the first loss, MB. */
  databaseMb: number;
  fullBackupSeconds: number;
  runs: RecoveryRun[];
}

/**
 * About 1 GB: rows of ~250 bytes (a key and 224 random hex digits, which compress about as well as
 * a game's rows do, so the repository holds a realistic amount: half the size or so).
 */
const ROWS = 4_000_000;
const KIND = "bench-recovery";

async function loseAndRestore(lab: ArchiveLab, db: string, next: string, labels: string[]): Promise<RecoveryRun> {
  const writerStarted = Date.now();
  docker([
    ...["exec", "-d", db, "psql", "-U", "region_orion_user", "-d", "region_orion", "-c"],
    `do $$ begin for i in 1..100000 loop insert into moves (at) values (clock_timestamp()); commit;
       perform pg_sleep(0.1); end loop; end $$`,
  ]);
  // A random phase of the archive timeout's cycle.
  const waitMs = 15_000 + Math.random() * 2 * ARCHIVE_DEFAULTS.archiveTimeoutSeconds * 1000;
  await new Promise((resolve) => setTimeout(resolve, waitMs));
  const archiver = lab.psql(
    db,
    "select format('archived %s, last %s at %s, failed %s, writing %s', archived_count, last_archived_wal, " +
      "last_archived_time, failed_count, pg_walfile_name(pg_current_wal_lsn())) from pg_stat_archiver",
  );
  docker(["kill", "-s", "KILL", db]);
  const killedAt = Date.now();
  log(`recovery: ${db} lost after ${round((killedAt - writerStarted) / 1000, 1)} s of writes; ${archiver}`);
  docker(["rm", "-v", db]);

  docker(["volume", "create", ...labels, `${next}_data`]);
  const started = Date.now();
  lab.startDb(next, `${next}_data`);
  await lab.waitReady(next, 1_800_000);
  const restoreSeconds = (Date.now() - started) / 1000;
  // What `pulumi up` runs once a database is up (Archive.declareStanza).
  const step = run("sh", ["-c", stanzaCommand({ container: next, stanza: LAB_STANZA, user: LAB_USER })], {
    timeoutMs: 600_000,
  });
  if (step.status !== 0) throw new Error(`the stanza step on ${next} failed: ${step.stderr}`);
  // No row restored: everything since the writer started was lost.
  const newest = Number(lab.psql(next, "select coalesce(extract(epoch from max(at)) * 1000, 0) from moves"));
  const lostFrom = Math.max(newest, writerStarted);
  return {
    lostSeconds: round((killedAt - lostFrom) / 1000, 1),
    restoreSeconds: round(restoreSeconds, 1),
    restoredMb: round(Number(lab.psql(next, "select pg_database_size(current_database())")) / 1024 ** 2),
  };
}

export async function runRecoveryBench(runs: number): Promise<RecoveryResult> {
  await ensureDockerd();
  ensureTestImages();
  reapDeadRuns(KIND);
  const testRun = newTestRun(KIND);
  const prefix = `swrecov${testRun.id}`;
  const lab = await startArchiveLab({
    run: testRun,
    prefix,
    archiveTimeoutSeconds: ARCHIVE_DEFAULTS.archiveTimeoutSeconds,
  });
  try {
    let db = `${prefix}_db0`;
    docker(["volume", "create", ...labelArgs(testRun, {}), `${db}_data`]);
    lab.startDb(db, `${db}_data`);
    await lab.waitReady(db);
    for (const step of [["stanza-create"], ["check"]]) {
      const result = lab.pgbackrest(db, step);
      if (result.status !== 0) throw new Error(`pgbackrest ${step.join(" ")}: ${result.stdout}${result.stderr}`);
    }
    log(`recovery: loading ${ROWS} rows`);
    lab.psql(db, "create table moves (id bigserial primary key, at timestamptz not null)");
    lab.psql(
      db,
      `create table galaxy as select i as id, md5(random()::text) as a,
         md5(random()::text) || md5(random()::text) || md5(random()::text) || md5(random()::text) ||
         md5(random()::text) || md5(random()::text) as b
         from generate_series(1, ${ROWS}) i`,
    );
    const databaseMb = round(Number(lab.psql(db, "select pg_database_size(current_database())")) / 1024 ** 2);
    log(`recovery: ${databaseMb} MB; full backup`);
    const backupStarted = Date.now();
    const backup = lab.pgbackrest(db, ["backup", "--type=full"], 1_800_000);
    if (backup.status !== 0) throw new Error(`pgbackrest backup: ${backup.stdout}${backup.stderr}`);
    const fullBackupSeconds = round((Date.now() - backupStarted) / 1000, 1);
    const version = lab.pgbackrest(db, ["version"]).stdout.trim();

    const results: RecoveryRun[] = [];
    for (let i = 1; i <= runs; i++) {
      const next = `${prefix}_db${i}`;
      const result = await loseAndRestore(lab, db, next, labelArgs(testRun, {}));
      log(`recovery: run ${i}: lost ${result.lostSeconds} s of commits, restored in ${result.restoreSeconds} s`);
      results.push(result);
      db = next;
    }
    return {
      date: isoNow(),
      archiveTimeoutSeconds: ARCHIVE_DEFAULTS.archiveTimeoutSeconds,
      pgbackrest: version,
      databaseMb,
      fullBackupSeconds,
      runs: results,
    };
  } finally {
    await lab.stop();
  }
}
