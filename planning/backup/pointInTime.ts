/**
 * A database back to a second of the past, from its continuous archive (planning/backup/archive.ts):
 * what `npm run restore -- --target region:<id> --to <time>` decides before it touches anything.
 * Pure; scripts/pointInTime.ts runs it against the stack's containers.
 */
import type { RestoreTarget } from "./restore";

/** The stanza of a database in the repository: one fact, which the plan (topology.ts) uses too. */
export function stanzaOf(target: Exclude<RestoreTarget, { kind: "redis" }>): string {
  return target.kind === "nexus" ? "nexus" : `region-${target.regionId}`;
}

/**
 * `--to`: an ISO 8601 time with its zone (`2026-12-05T22:59:30Z`, `…+01:00`), not in the future.
 * A time without a zone would be read in the zone of whoever runs it, and PostgreSQL's in the
 * container may differ: refused rather than guessed.
 */
export function parseRecoveryTime(text: string, now: Date): { ok: true; time: Date } | { ok: false; problem: string } {
  const iso = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:?\d{2})$/;
  if (!iso.test(text)) {
    return {
      ok: false,
      problem: `--to "${text}" must be an ISO 8601 time with its zone, such as 2026-12-05T22:59:30Z`,
    };
  }
  const time = new Date(text);
  if (Number.isNaN(time.getTime())) return { ok: false, problem: `--to "${text}" is not a valid time` };
  if (time.getTime() > now.getTime()) {
    return { ok: false, problem: `--to ${time.toISOString()} is in the future (now ${now.toISOString()})` };
  }
  return { ok: true, time };
}

/** What `pgbackrest info --output=json` says of one stanza, as far as a restore needs it. */
interface StanzaInfo {
  name: string;
  backup: { timestamp: { start: number; stop: number }; type: string }[];
  status: { code: number; message: string };
}

/**
 * Whether the repository can bring the stanza back to `time`: a backup must have finished before
 * it (WAL after that backup replays up to the time). Returns the window's start otherwise.
 */
export function checkWindow(
  infoJson: string,
  stanza: string,
  time: Date,
): { ok: true; from: Date } | { ok: false; problem: string } {
  let info: StanzaInfo[];
  try {
    info = JSON.parse(infoJson) as StanzaInfo[];
  } catch {
    return { ok: false, problem: `pgbackrest info gave no JSON: ${infoJson.slice(0, 200)}` };
  }
  const entry = info.find((s) => s.name === stanza);
  if (!entry || entry.backup.length === 0) {
    return {
      ok: false,
      problem: `the repository holds no backup of ${stanza} (${entry?.status.message ?? "no such stanza"})`,
    };
  }
  const stops = entry.backup.map((b) => b.timestamp.stop * 1000).sort((a, b) => a - b);
  const from = new Date(stops[0] as number);
  if (time.getTime() < from.getTime()) {
    return {
      ok: false,
      problem: `--to ${time.toISOString()} is before the oldest backup of ${stanza}, which finished at ${from.toISOString()}: the window starts there`,
    };
  }
  return { ok: true, from };
}

/**
 * pgbackrest's arguments: --delta rewrites only what differs in the data directory; promote ends
 * recovery at the time, so the database runs on a new timeline and goes on archiving.
 */
export function restoreArguments(stanza: string, time: Date): string[] {
  // PostgreSQL reads "YYYY-MM-DD HH:MM:SS.ffffff+00" for recovery_target_time.
  const target = `${time.toISOString().replace("T", " ").replace("Z", "")}+00`;
  return [`--stanza=${stanza}`, "--delta", "--type=time", `--target=${target}`, "--target-action=promote", "restore"];
}
