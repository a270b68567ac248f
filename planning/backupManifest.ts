/**
 * What a backup is on disk: the directory names of complete and interrupted runs, and the
 * manifest.json the backup script writes last (planning/backupRun.ts). Read by restore
 * (scripts/restore.ts) and status (planning/backupStatus.ts).
 */

/** Directory names of complete backups: UTC, ISO 8601 basic format, sorts chronologically. */
export const BACKUP_NAME_PATTERN = /^[0-9]{8}T[0-9]{6}Z$/;

/** A time in that form, to the second: 2026-11-25T14:00:00.123Z → 20261125T140000Z. */
export const backupName = (time: Date): string =>
  time
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
/** Directories of runs in progress or killed; never taken for a backup, removed by the next run. */
export const PARTIAL_NAME_PATTERN = /^\.partial-[0-9]{8}T[0-9]{6}Z-[0-9]+$/;
export const MANIFEST_FILE = "manifest.json";
export const MANIFEST_FORMAT = "sectorwars-backup/1";

export type BackupFileKind = "pg_dump" | "pg_globals" | "redis_rdb";

export interface ManifestEntry {
  /** File name inside the backup directory. */
  file: string;
  kind: BackupFileKind;
  /** com.sectorwars.role of the source container. */
  role: "nexus-db" | "region-db" | "redis";
  container: string;
  regionId: string | null;
  database: string | null;
  user: string | null;
  serverVersion: string;
  size: number;
  sha256: string;
}

export interface BackupManifest {
  format: typeof MANIFEST_FORMAT;
  stack: string;
  name: string;
  createdAt: string;
  files: ManifestEntry[];
}

const KINDS: readonly BackupFileKind[] = ["pg_dump", "pg_globals", "redis_rdb"];
const ROLES: readonly ManifestEntry["role"][] = ["nexus-db", "region-db", "redis"];

/** Parses and checks manifest.json; throws with what is wrong. */
export function parseManifest(text: string): BackupManifest {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new Error(`manifest.json is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  const m = data as Partial<BackupManifest>;
  if (typeof m !== "object" || m === null || m.format !== MANIFEST_FORMAT) {
    throw new Error(`manifest.json is not a ${MANIFEST_FORMAT} manifest`);
  }
  if (
    typeof m.stack !== "string" ||
    typeof m.name !== "string" ||
    typeof m.createdAt !== "string" ||
    !Array.isArray(m.files)
  ) {
    throw new Error("manifest.json lacks stack, name, createdAt or files");
  }
  const seen = new Set<string>();
  for (const [i, f] of m.files.entries()) {
    const where = `manifest.json files[${i}]`;
    if (typeof f !== "object" || f === null) throw new Error(`${where} is not an object`);
    if (typeof f.file !== "string" || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(f.file))
      throw new Error(`${where}.file is not a plain file name`);
    if (seen.has(f.file)) throw new Error(`${where}: ${f.file} is listed twice`);
    seen.add(f.file);
    if (!KINDS.includes(f.kind)) throw new Error(`${where}.kind "${String(f.kind)}" is unknown`);
    if (!ROLES.includes(f.role)) throw new Error(`${where}.role "${String(f.role)}" is unknown`);
    if (typeof f.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(f.sha256))
      throw new Error(`${where}.sha256 is not a sha256`);
    if (typeof f.size !== "number" || !Number.isInteger(f.size) || f.size < 0)
      throw new Error(`${where}.size is not a size`);
    if (typeof f.container !== "string") throw new Error(`${where}.container is missing`);
  }
  return m as BackupManifest;
}
