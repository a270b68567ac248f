/**
 * The backup directory <backup.dir>/<stack> as `npm run status` judges it: the newest complete
 * backup (one with a valid manifest of this stack) against a maximum age, which defaults to the
 * schedule's period plus some slack. Also the durations the `--max-backup-age` flag is written in.
 */
import { BACKUP_NAME_PATTERN, PARTIAL_NAME_PATTERN, backupName, parseManifest } from "../backup/manifest";
import { type Finding, type Severity } from "./findings";

/** An entry of the backup directory; manifestText is null when there is no readable manifest. */
export interface BackupDirEntry {
  name: string;
  isDirectory: boolean;
  manifestText: string | null;
}

// --- Durations and the backup threshold ---------------------------------------------------

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** "26h", "90m", "1d12h", "45s", "2w" (or a bare number of seconds) → seconds; throws on anything else. */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  if (!/^(\d+[smhdw])+$/.test(trimmed)) {
    throw new Error(`"${text}" is not a duration such as 26h, 90m, 1d12h or 3600 (seconds)`);
  }
  let seconds = 0;
  for (const [, amount, unit] of trimmed.matchAll(/(\d+)([smhdw])/g)) {
    seconds += Number(amount) * (UNIT_SECONDS[unit ?? ""] ?? Number.NaN);
  }
  if (!Number.isSafeInteger(seconds)) throw new Error(`"${text}" is too long a duration`);
  return seconds;
}

/** Seconds as the two largest units, e.g. 93784 → "1d2h", 59 → "59s"; negative gets a "-". */
export function formatDuration(totalSeconds: number): string {
  const sign = totalSeconds < 0 ? "-" : "";
  let rest = Math.floor(Math.abs(totalSeconds));
  const parts: string[] = [];
  for (const [unit, size] of [
    ["d", 86_400],
    ["h", 3600],
    ["m", 60],
    ["s", 1],
  ] as const) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0 || (unit === "s" && parts.length === 0)) parts.push(`${n}${unit}`);
  }
  return sign + parts.slice(0, 2).join("");
}

const DAY_SECONDS = 86_400;

/** Periods of systemd's calendar shorthands (systemd.time(7)); months and years at their longest. */
const SCHEDULE_PERIOD_SECONDS: Record<string, number> = {
  minutely: 60,
  hourly: 3600,
  daily: DAY_SECONDS,
  weekly: 7 * 86_400,
  monthly: 31 * 86_400,
  quarterly: 92 * 86_400,
  semiannually: 184 * 86_400,
  yearly: 366 * 86_400,
  annually: 366 * 86_400,
};

/**
 * Added to the schedule's period: the timer's RandomizedDelaySec (15 min) plus the time a large
 * dump takes, so that a backup running late is not yet an alarm.
 */
export const BACKUP_AGE_SLACK_SECONDS = 2 * 3600;

/**
 * The default of `--max-backup-age`, the one place it is decided: the schedule's period plus
 * BACKUP_AGE_SLACK_SECONDS (daily → 26h). A custom calendar expression ("*-*-* 03:30:00 UTC")
 * is taken as daily, the common case; a less frequent one needs the flag. With the schedule
 * "off" (dev) nothing promises backups, so null: no threshold, the age is only shown.
 */
export function defaultMaxBackupAgeSeconds(schedule: string): number | null {
  const key = schedule.trim().toLowerCase();
  if (key === "off") return null;
  return (SCHEDULE_PERIOD_SECONDS[key] ?? DAY_SECONDS) + BACKUP_AGE_SLACK_SECONDS;
}

/** 20261125T140000Z → its time, or null when the name is not a real UTC time in that form. */
export function backupTime(name: string): Date | null {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(name);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  // Date.UTC rolls 20261301 over into the next year; a name that does not round-trip is no time.
  return backupName(date) === name ? date : null;
}

/** The backup directory <backup.dir>/<stack>, judged against the threshold. */
export interface BackupReport {
  dir: string;
  schedule: string;
  /** The threshold applied; null means none (schedule off and no --max-backup-age). */
  maxAgeSeconds: number | null;
  newest: { name: string; time: string; ageSeconds: number } | null;
  /** Directories named like a backup with a valid manifest of this stack. */
  complete: number;
  /** `.partial-*` directories: a run in progress, or one that was killed. */
  partial: number;
  /** Directories named like a backup that are not one, and why. */
  rejected: { name: string; reason: string }[];
  /** False when the directory does not exist. */
  dirExists: boolean;
}

/** What the script read of the backup directory, and the threshold to apply. */
export interface BackupInput {
  dir: string;
  schedule: string;
  maxAgeSeconds: number | null;
  /** null when the directory does not exist. */
  entries: readonly BackupDirEntry[] | null;
}

/** The newest complete backup, and what else the directory holds. */
export function evaluateBackups(input: BackupInput, stack: string, now: Date): [BackupReport, Finding[]] {
  const findings: Finding[] = [];
  const add = (severity: Severity, message: string) => findings.push({ severity, subject: "backups", message });
  const complete: { name: string; time: Date }[] = [];
  const rejected: BackupReport["rejected"] = [];
  let partial = 0;
  for (const entry of input.entries ?? []) {
    if (!entry.isDirectory) continue;
    if (PARTIAL_NAME_PATTERN.test(entry.name)) {
      partial++;
      continue;
    }
    if (!BACKUP_NAME_PATTERN.test(entry.name)) continue;
    const time = backupTime(entry.name);
    let reason: string | null = null;
    if (!time) reason = "its name is not a valid UTC time";
    else if (entry.manifestText === null) reason = "it has no readable manifest.json";
    else {
      try {
        const manifest = parseManifest(entry.manifestText);
        if (manifest.name !== entry.name) reason = `its manifest names another backup (${manifest.name})`;
        else if (manifest.stack !== stack) reason = `its manifest belongs to stack ${manifest.stack}`;
      } catch (error) {
        reason = (error as Error).message;
      }
    }
    if (reason === null && time) complete.push({ name: entry.name, time });
    else {
      rejected.push({ name: entry.name, reason: reason ?? "unknown" });
      add("warning", `${entry.name} is not a complete backup: ${reason ?? "unknown"}`);
    }
  }
  complete.sort((a, b) => b.time.getTime() - a.time.getTime());
  const latest = complete[0];
  const newest = latest
    ? {
        name: latest.name,
        time: latest.time.toISOString(),
        ageSeconds: Math.floor((now.getTime() - latest.time.getTime()) / 1000),
      }
    : null;

  const max = input.maxAgeSeconds;
  if (newest && newest.ageSeconds < 0)
    add("warning", `${newest.name} is in the future: is this machine's clock right?`);
  if (max !== null) {
    if (!newest) {
      add(
        "unhealthy",
        input.entries === null ? `no backup directory ${input.dir}` : `no complete backup in ${input.dir}`,
      );
    } else if (newest.ageSeconds > max) {
      add(
        "unhealthy",
        `the newest complete backup (${newest.name}) is ${formatDuration(newest.ageSeconds)} old, more than ${formatDuration(max)}`,
      );
    }
  }
  return [
    {
      dir: input.dir,
      schedule: input.schedule,
      maxAgeSeconds: max,
      newest,
      complete: complete.length,
      partial,
      rejected,
      dirExists: input.entries !== null,
    },
    findings,
  ];
}
