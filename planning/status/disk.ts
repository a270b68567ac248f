/**
 * Free disk space where the stack writes, against `npm run status -- --min-free`: the Docker
 * data root (the engine's DockerRootDir: the data volumes, images and containers' writable layers
 * of every database) and the backup directory <backup.dir>/<stack>. The script measures (statfs on
 * this machine, or `df` in a throwaway container on the engine's host); where to measure, what
 * the figures mean and when they are too low is decided here.
 *
 * Free means what df calls Available: blocks a process that is not root can still write (the
 * databases and Redis do not run as root). Its share is taken as df takes its Use%: of Used plus
 * Available, so the blocks a file system keeps for root count as neither, and the percentage here
 * is 100 minus df's Use% (unrounded).
 */
import { type Finding, type Severity, VERDICT_WORDS, type Verdict, verdictOf } from "./findings";
import { alignTable } from "../table";
import { formatBytes } from "../units";

// --- The threshold ------------------------------------------------------------------------

/** `--min-free`: a share of the file system (10%) or an amount (20G). */
export type MinFree = { percent: number } | { bytes: number };

/**
 * The default of `--min-free`. A share, so that it means something on a 100G disk and on a 4T one;
 * 10% is what ext4 reserves for root by default, and what is left of a database host's disk
 * before PostgreSQL stops on a full WAL or Docker fails to write a layer.
 */
export const DEFAULT_MIN_FREE_PERCENT = 10;
export const DEFAULT_MIN_FREE: MinFree = { percent: DEFAULT_MIN_FREE_PERCENT };

/** Binary units, as formatBytes writes them and `df -h` and Docker show sizes. */
const UNIT_BYTES: Record<string, number> = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/**
 * "10%", "2.5%", "20G", "500M", "1.5T" (binary units; "20GiB" and "20GB" mean the same; "512B" is
 * bytes) → the threshold; "off" → null (figures still shown, never a finding). Throws with a
 * message that names the text on anything else, a bare number included: bytes or percent would be
 * a guess.
 */
export function parseMinFree(text: string): MinFree | null {
  const trimmed = text.trim();
  if (trimmed.toLowerCase() === "off") return null;
  if (/^\d+(?:\.\d+)?$/.test(trimmed)) {
    throw new Error(`"${text}" needs a unit: a share such as 10% or an amount such as 20G`);
  }
  const percent = /^(\d+(?:\.\d+)?)\s*%$/.exec(trimmed);
  if (percent) {
    const value = Number(percent[1]);
    if (value > 100) throw new Error(`"${text}" is more than 100%`);
    return { percent: value };
  }
  const size = /^(\d+(?:\.\d+)?)\s*(?:([kmgtp])(?:i?b)?|(b))$/i.exec(trimmed);
  if (size) {
    const unit = (size[2] ?? size[3] ?? "").toLowerCase();
    const bytes = Math.round(Number(size[1]) * (UNIT_BYTES[unit] ?? Number.NaN));
    if (!Number.isSafeInteger(bytes)) throw new Error(`"${text}" is too large`);
    return { bytes };
  }
  throw new Error(`"${text}" is not a minimum of free space such as 10% or 20G (or off)`);
}

/** The threshold as the flag takes it: "10%", "20G". */
export const formatMinFree = (min: MinFree): string => ("percent" in min ? `${min.percent}%` : formatBytes(min.bytes));

// --- Figures ------------------------------------------------------------------------------

/** A file system's size and use, in bytes. */
export interface DiskSpace {
  /** The file system's size (df's Size / 1024-blocks), root's reserved blocks included. */
  totalBytes: number;
  /** df's Used: size minus the free blocks. */
  usedBytes: number;
  /** df's Available: what a process that is not root can still write. */
  availableBytes: number;
}

/** Node's fs.statfs answer; counts are in blocks of bsize bytes. */
export interface StatfsFigures {
  bsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
}

/** statfs figures as df computes its columns from them. */
export function diskSpaceFromStatfs(s: StatfsFigures): DiskSpace {
  return {
    totalBytes: s.blocks * s.bsize,
    usedBytes: (s.blocks - s.bfree) * s.bsize,
    availableBytes: s.bavail * s.bsize,
  };
}

/**
 * The one file system line of `df -P -k <path>` (POSIX format, GNU's or busybox's): the figures,
 * which are KiB, in bytes. Parsed from the right, since the device name may contain spaces and
 * the mount point too. Throws, quoting the output, when it is not such a table.
 */
export function parseDfOutput(text: string): DiskSpace {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  const header = lines[0] ?? "";
  const row = /^(.+?)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+%|-)\s+(\/.*)$/.exec(lines[1] ?? "");
  if (lines.length !== 2 || !/^Filesystem\s+1024-blocks\s/.test(header) || !row) {
    throw new Error(`unexpected df output: ${JSON.stringify(text.slice(0, 300))}`);
  }
  return {
    totalBytes: Number(row[2]) * 1024,
    usedBytes: Number(row[3]) * 1024,
    availableBytes: Number(row[4]) * 1024,
  };
}

/** Available as a share of Used plus Available (100 minus df's Use%); 0 for a file system of no size. */
export function freePercent(space: DiskSpace): number {
  const usable = space.usedBytes + space.availableBytes;
  return usable > 0 ? (space.availableBytes / usable) * 100 : 0;
}

/** Strictly below: a disk with exactly the minimum free passes. */
export function isBelowMinimum(space: DiskSpace, min: MinFree): boolean {
  return "percent" in min ? freePercent(space) < min.percent : space.availableBytes < min.bytes;
}

// --- Where to measure ---------------------------------------------------------------------

/**
 * Where the data root's free space can be measured truthfully: "local" (statfs of the path on
 * this machine) only when the engine is this machine's, that is reached through a Unix socket
 * (not tcp:// or ssh://) and calling itself by this machine's host name. Docker Desktop's VM and
 * this command run in a container with the socket mounted call themselves otherwise; so does a
 * remote engine. Anything else: "engine", a throwaway container on the engine's host measures it,
 * since the same path here would be another machine's disk.
 */
export function dataRootSite(facts: {
  unixSocket: boolean;
  engineName: string;
  localHostname: string;
}): "local" | "engine" {
  const same = facts.engineName.trim().toLowerCase() === facts.localHostname.trim().toLowerCase();
  return facts.unixSocket && same && facts.engineName.trim() !== "" ? "local" : "engine";
}

/**
 * Roles whose images carry `df` (the official postgres, redis and nginx images, Debian or Alpine
 * based), most likely running first; the game's own images may be distroless.
 */
const PROBE_ROLES = ["redis", "nexus-db", "region-db", "nginx"] as const;

/**
 * The image to run `df` in on the engine's host: one of the stack's own containers', so that it is
 * there already (no registry needs to answer) and nothing foreign runs on the host. Null when the
 * stack has no container of those roles.
 */
export function diskProbeImage(containers: readonly { role: string | null; imageId: string }[]): string | null {
  for (const role of PROBE_ROLES) {
    const found = containers.find((c) => c.role === role && c.imageId !== "");
    if (found) return found.imageId;
  }
  return null;
}

// --- The verdict --------------------------------------------------------------------------

/** docker-data-root: the engine's DockerRootDir; backups: <backup.dir>/<stack>. */
export type DiskPurpose = "docker-data-root" | "backups";

/** The figures for a path and where they were taken, or why there are none. */
export type DiskMeasurement =
  | {
      /** local: statfs on the machine that runs the command; engine: df in a container on the engine's host. */
      measuredOn: "local" | "engine";
      /** The path measured: the path itself, or its nearest existing parent when it does not exist yet. */
      measuredPath: string;
      space: DiskSpace;
    }
  | { unknown: string };

export interface ObservedDisk {
  purpose: DiskPurpose;
  path: string;
  measurement: DiskMeasurement;
}

/** One row of the disk table (and of `disk.paths` in --json). */
export interface DiskStatus {
  purpose: DiskPurpose;
  path: string;
  /** Null when unknown. */
  measuredOn: "local" | "engine" | null;
  measuredPath: string | null;
  totalBytes: number | null;
  usedBytes: number | null;
  availableBytes: number | null;
  /** Available of Used plus Available, in percent (100 minus df's Use%). */
  freePercent: number | null;
  /** Why there are no figures; null when there are. */
  unknown: string | null;
  verdict: Verdict;
}

export interface DiskReport {
  /** The threshold applied; null: none (--min-free off). */
  minFree: MinFree | null;
  paths: DiskStatus[];
}

export interface DiskInput {
  minFree: MinFree | null;
  observed: readonly ObservedDisk[];
}

const PURPOSE_WORDS: Record<DiskPurpose, string> = {
  "docker-data-root": "Docker data root",
  backups: "backup directory",
};

/** A percentage rounded down to a tenth, so that a share below the threshold never prints as the threshold. */
const formatPercentDown = (percent: number): string => `${(Math.floor(percent * 10) / 10).toFixed(1)}%`;

/**
 * Each path against the threshold: below it is unhealthy, the finding naming the path, where it
 * was measured, and the figures; a path that could not be measured is a warning. Without a
 * threshold nothing is a finding: the figures are only shown.
 */
export function evaluateDisks(input: DiskInput): [DiskReport, Finding[]] {
  const findings: Finding[] = [];
  const paths = input.observed.map((d): DiskStatus => {
    const own: Finding[] = [];
    const add = (severity: Severity, message: string) => own.push({ severity, subject: "disk", message });
    const m = d.measurement;
    const what = `${PURPOSE_WORDS[d.purpose]} ${d.path}`;
    if ("unknown" in m) {
      if (input.minFree) add("warning", `${what}: free space unknown: ${m.unknown}`);
      findings.push(...own);
      return {
        purpose: d.purpose,
        path: d.path,
        measuredOn: null,
        measuredPath: null,
        totalBytes: null,
        usedBytes: null,
        availableBytes: null,
        freePercent: null,
        unknown: m.unknown,
        verdict: verdictOf(own),
      };
    }
    const percent = freePercent(m.space);
    const min = input.minFree;
    if (min && isBelowMinimum(m.space, min)) {
      const where =
        (m.measuredOn === "engine" ? " on the Docker engine's host" : " on this machine") +
        (m.measuredPath === d.path ? "" : ` (measured at ${m.measuredPath}, as it does not exist yet)`);
      const free = formatBytes(m.space.availableBytes);
      const minText = formatMinFree(min);
      // 19.99G and 20G both print as "20G": then the exact counts say why it is below.
      const exact = "bytes" in min && free === minText;
      add(
        "unhealthy",
        `${what}${where} has ${free}${exact ? ` (${m.space.availableBytes} bytes)` : ""} free ` +
          `of ${formatBytes(m.space.totalBytes)} (${formatPercentDown(percent)}), ` +
          `below the minimum of ${minText}${exact ? ` (${min.bytes} bytes)` : ""}`,
      );
    }
    findings.push(...own);
    return {
      purpose: d.purpose,
      path: d.path,
      measuredOn: m.measuredOn,
      measuredPath: m.measuredPath,
      totalBytes: m.space.totalBytes,
      usedBytes: m.space.usedBytes,
      availableBytes: m.space.availableBytes,
      freePercent: percent,
      unknown: null,
      verdict: verdictOf(own),
    };
  });
  return [{ minFree: input.minFree, paths }, findings];
}

// --- The table ----------------------------------------------------------------------------

function measuredWords(d: DiskStatus): string {
  if (d.measuredOn === null) return "unknown";
  const where = d.measuredOn === "local" ? "this machine" : "Docker host";
  return d.measuredPath === d.path ? where : `${where}, at ${d.measuredPath ?? "?"}`;
}

/** The disk table's lines, a blank line after; nothing when no path was looked at. */
export function renderDiskTable(report: DiskReport): string[] {
  if (report.paths.length === 0) return [];
  const min = report.minFree === null ? "no minimum" : `min ${formatMinFree(report.minFree)}`;
  return [
    ...alignTable(
      ["DISK", "PATH", "MEASURED ON", "SIZE", `FREE (${min})`, "STATUS"],
      report.paths.map((d) => [
        PURPOSE_WORDS[d.purpose],
        d.path,
        measuredWords(d),
        d.totalBytes === null ? "?" : formatBytes(d.totalBytes),
        d.availableBytes === null || d.freePercent === null
          ? "?"
          : `${formatBytes(d.availableBytes)} (${formatPercentDown(d.freePercent)})`,
        VERDICT_WORDS[d.verdict],
      ]),
      ["left", "left", "left", "right", "right", "left"],
    ),
    "",
  ];
}
