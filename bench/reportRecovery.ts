/**
 * Section 5 of BENCHMARKS.md: what continuous archiving loses and how long a restore takes.
 */
import { median } from "./common";
import type { RecoveryResult } from "./recovery";
import { fixed, table } from "./reportFormat";

/** Issue 22's promise: at most this much committed work lost. */
const RPO_TARGET_SECONDS = 60;

export function recoverySection(r: RecoveryResult): string[] {
  const lost = r.runs.map((x) => x.lostSeconds);
  const restore = r.runs.map((x) => x.restoreSeconds);
  const worst = Math.max(...lost);
  return [
    "## 5. Point-in-time recovery of a 1 GB region database",
    "",
    `Measured ${r.date}: bench/recovery.ts. PostgreSQL 15 (the test image) archiving with ${r.pgbackrest} to the`,
    "test's S3 server over HTTPS on this machine (aes-256-cbc, zstd), as the platform runs a database with",
    `\`sectorwars:backup.repository\`, with prod's archive timeout (${r.archiveTimeoutSeconds} s). The region database held`,
    `${fixed(r.databaseMb)} MB; its full base backup took ${fixed(r.fullBackupSeconds, 1)} s (start-fast, as the platform's backups: pgBackRest's`,
    "default waits for the next spread checkpoint, minutes). Each run: a writer commits a row every",
    "100 ms; at a random moment the host is lost (SIGKILL, volume removed); a container started on an empty",
    "volume restores itself from the repository (the start script of the drill and of a lost disk). Work lost:",
    "from the newest restored commit (the writer's start if none) to the kill. Restore: from that start until the database accepts writes",
    "(base backup restored, WAL replayed, promoted); then the stanza step that `pulumi up` runs on a new database container",
    "(pgbackrest check, a CHECKPOINT). Each restored database is the next run's, its writer started after that step.",
    "",
    ...table(
      ["Run", "Committed work lost (s)", "Restore until writable (s)", "Database restored (MB)"],
      r.runs.map((x, i) => [String(i + 1), fixed(x.lostSeconds, 1), fixed(x.restoreSeconds, 1), fixed(x.restoredMb)]),
    ),
    "",
    `**Against the target:** at most ${RPO_TARGET_SECONDS} s of committed work lost: worst ${fixed(worst, 1)} s, median ${fixed(median(lost), 1)} s: ` +
      (worst <= RPO_TARGET_SECONDS ? "**meets**." : "**misses**.") +
      ` Restore of the ${fixed(r.databaseMb)} MB database: median ${fixed(median(restore), 1)} s.`,
  ];
}
