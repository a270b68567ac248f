/**
 * The continuous archive in `npm run status` (backup.repository; planning/backup/archive.ts): per
 * database, how long its oldest WAL segment has waited to be archived, its newest base backup, and
 * whether the repository answered. WAL waiting longer than the limit is unhealthy (exit 1): a lost
 * host would take that much play with it.
 */
import type { Finding } from "./findings";
import { formatDuration } from "./backups";

/**
 * Seconds the oldest WAL segment has waited to be archived (its `.ready` file in
 * pg_wal/archive_status); NULL when none waits. The database exporter's alert reads the same
 * (planning/monitoring/exporters.ts).
 */
export const OLDEST_WAITING_SQL =
  "SELECT floor(extract(epoch FROM now() - min(modification))) FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready'";

/**
 * One query in the database container: the age of the oldest segment waiting to be archived (null
 * when none waits), and pg_stat_archiver's counters.
 */
export const ARCHIVE_PROBE_SQL = `SELECT coalesce((${OLDEST_WAITING_SQL})::text, '') || '|' || archived_count || '|' || failed_count || '|' || coalesce(extract(epoch FROM last_archived_time)::bigint::text, '') || '|' || coalesce(extract(epoch FROM last_failed_time)::bigint::text, '') FROM pg_stat_archiver`;

/** What the status CLI saw of one database: the probe's line and `pgbackrest info --output=json`, or why not. */
export interface ObservedArchive {
  container: string;
  stanza: string;
  probe: { line: string } | { error: string };
  info: { json: string } | { error: string };
}

export interface ArchiveDatabase {
  container: string;
  stanza: string;
  /** Seconds the oldest unarchived segment has waited; null: nothing waits. */
  oldestWaitingSeconds: number | null;
  lastArchivedAt: string | null;
  /** The newest base backup: its type (full, diff, incr) and when it finished. */
  newestBackup: { type: string; finishedAt: string } | null;
  repositoryReachable: boolean;
}

/** `backup.repository` in the report; null when the stack does not archive. */
export interface ArchiveReport {
  repository: string;
  maxWaitSeconds: number;
  databases: ArchiveDatabase[];
}

/** WAL may wait this long before status calls it a problem: two archive timeouts, at least a minute. */
export const maxArchiveWaitSeconds = (archiveTimeoutSeconds: number): number => Math.max(60, 2 * archiveTimeoutSeconds);

interface Info {
  name: string;
  backup: { type: string; timestamp: { stop: number } }[];
}

const iso = (epochSeconds: number): string => new Date(epochSeconds * 1000).toISOString();

export function evaluateArchive(
  configured: { url: string; archiveTimeoutSeconds: number } | null,
  observed: readonly ObservedArchive[],
): [ArchiveReport | null, Finding[]] {
  if (configured === null) return [null, []];
  const maxWaitSeconds = maxArchiveWaitSeconds(configured.archiveTimeoutSeconds);
  const findings: Finding[] = [];
  const databases = observed.map((o): ArchiveDatabase => {
    const add = (severity: Finding["severity"], message: string) =>
      findings.push({ severity, subject: o.container, message });
    const row: ArchiveDatabase = {
      container: o.container,
      stanza: o.stanza,
      oldestWaitingSeconds: null,
      lastArchivedAt: null,
      newestBackup: null,
      repositoryReachable: false,
    };
    if ("error" in o.probe) add("unhealthy", `reading its archive state failed: ${o.probe.error}`);
    else {
      const [waiting = "", , failed = "0", archivedAt = "", failedAt = ""] = o.probe.line.trim().split("|");
      row.oldestWaitingSeconds = waiting === "" ? null : Number(waiting);
      row.lastArchivedAt = archivedAt === "" ? null : iso(Number(archivedAt));
      if (row.oldestWaitingSeconds !== null && row.oldestWaitingSeconds > maxWaitSeconds) {
        add(
          "unhealthy",
          `WAL has waited ${formatDuration(row.oldestWaitingSeconds)} to be archived (limit ${formatDuration(maxWaitSeconds)}): a lost host would take that much play with it`,
        );
      } else if (
        Number(failed) > 0 &&
        failedAt !== "" &&
        (archivedAt === "" || Number(failedAt) > Number(archivedAt))
      ) {
        add("warning", `its last archive attempt failed at ${iso(Number(failedAt))} (docker logs ${o.container})`);
      }
    }
    if ("error" in o.info) add("unhealthy", `the repository did not answer: ${o.info.error.split("\n")[0] ?? ""}`);
    else {
      let info: Info[] = [];
      try {
        info = JSON.parse(o.info.json) as Info[];
        row.repositoryReachable = true;
      } catch {
        add("unhealthy", `pgbackrest info gave no JSON: ${o.info.json.slice(0, 120)}`);
      }
      const backups = info.find((s) => s.name === o.stanza)?.backup ?? [];
      const newest = [...backups].sort((a, b) => b.timestamp.stop - a.timestamp.stop)[0];
      if (newest) row.newestBackup = { type: newest.type, finishedAt: iso(newest.timestamp.stop) };
      else if (row.repositoryReachable) add("unhealthy", `the repository holds no backup of stanza ${o.stanza}`);
    }
    return row;
  });
  return [{ repository: configured.url, maxWaitSeconds, databases }, findings];
}

/** The report's archive lines for people. */
export function renderArchiveLines(report: ArchiveReport | null, now: Date): string[] {
  if (report === null)
    return ["Continuous archiving: off (sectorwars:backup.repository is unset; the dumps above are all)", ""];
  const age = (at: string) => formatDuration(Math.max(0, (now.getTime() - Date.parse(at)) / 1000));
  return [
    `Continuous archiving to ${report.repository} (WAL may wait at most ${formatDuration(report.maxWaitSeconds)}):`,
    ...report.databases.map(
      (d) =>
        `  ${d.stanza}: ${d.oldestWaitingSeconds === null ? "no WAL waiting" : `oldest WAL waiting ${formatDuration(d.oldestWaitingSeconds)}`}` +
        `${d.lastArchivedAt ? `, last archived ${age(d.lastArchivedAt)} ago` : ""}` +
        `; newest backup ${d.newestBackup ? `${d.newestBackup.type}, ${age(d.newestBackup.finishedAt)} ago` : "none"}` +
        `; repository ${d.repositoryReachable ? "reachable" : "NOT reachable"}`,
    ),
    "",
  ];
}
