/**
 * What a backup is on disk: the directory names of complete and interrupted runs, and the
 * manifest.json the backup script writes last (assets/backup.sh). Read by restore
 * (scripts/restore.ts) and status (planning/status/backups.ts).
 */
import { z } from "zod";

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

const BACKUP_FILE_KINDS = ["pg_dump", "pg_globals", "redis_rdb"] as const;
const SOURCE_ROLES = ["nexus-db", "region-db", "redis"] as const;
/**
 * Fields the script always writes but that were never checked on reading, and are not now: a
 * manifest that status and restore accepted before is still accepted. Restore only prints them
 * (and compares regionId with its target).
 */
const unchecked = <T>() => z.custom<T>(() => true).optional();

/**
 * One file of a backup. The checked fields come first, in the order their problems are reported
 * (ENTRY_PROBLEMS): the file name is what restore opens, so it must stay inside the backup.
 */
const ManifestEntrySchema = z.looseObject({
  /** File name inside the backup directory. */
  file: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/),
  kind: z.enum(BACKUP_FILE_KINDS),
  /** com.sectorwars.role of the source container. */
  role: z.enum(SOURCE_ROLES),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  // Not .int(): zod's stops at 2^53, and a size was any whole number ≥ 0.
  size: z.number().refine((n) => Number.isInteger(n) && n >= 0),
  container: z.string(),
  regionId: unchecked<string | null>(),
  database: unchecked<string | null>(),
  user: unchecked<string | null>(),
  serverVersion: unchecked<string>(),
});

export const BackupManifestSchema = z.looseObject({
  format: z.literal(MANIFEST_FORMAT),
  stack: z.string(),
  name: z.string(),
  createdAt: z.string(),
  files: z.array(ManifestEntrySchema),
});

export type ManifestEntry = z.infer<typeof ManifestEntrySchema>;
export type BackupManifest = z.infer<typeof BackupManifestSchema>;

/** What is wrong with an entry's field, by field; the field's value completes some. */
const ENTRY_PROBLEMS: Record<string, (value: unknown) => string> = {
  file: () => ".file is not a plain file name",
  kind: (value) => `.kind "${String(value)}" is unknown`,
  role: (value) => `.role "${String(value)}" is unknown`,
  sha256: () => ".sha256 is not a sha256",
  size: () => ".size is not a size",
  container: () => ".container is missing",
};
const FIELD_ORDER = Object.keys(ENTRY_PROBLEMS);

/** A problem and where it ranks: the manifest's own fields first, then the files in order. */
interface Problem {
  rank: [number, number, number];
  message: string;
}

function describeIssue(issue: z.core.$ZodIssue, data: unknown): Problem {
  const [top, index, field] = issue.path;
  if (top === undefined || top === "format")
    return { rank: [0, 0, 0], message: `manifest.json is not a ${MANIFEST_FORMAT} manifest` };
  if (top !== "files" || typeof index !== "number")
    return { rank: [1, 0, 0], message: "manifest.json lacks stack, name, createdAt or files" };
  const where = `manifest.json files[${index}]`;
  if (typeof field !== "string") return { rank: [2, index, 0], message: `${where} is not an object` };
  const entry = (data as { files: Record<string, unknown>[] }).files[index];
  // Only the checked fields can have problems; a listed-twice one ranks between the file name
  // and the kind (see duplicateFiles).
  const rank = FIELD_ORDER.indexOf(field);
  const problem = ENTRY_PROBLEMS[field] ?? (() => `.${field} is not valid`);
  return { rank: [2, index, rank < 0 ? 99 : 2 * rank + 1], message: where + problem(entry?.[field]) };
}

/** Every file named again after an earlier entry: restore would verify one and read the other. */
function duplicateFiles(data: unknown): Problem[] {
  const files = (data as { files?: unknown } | null)?.files;
  if (!Array.isArray(files)) return [];
  const seen = new Set<string>();
  const problems: Problem[] = [];
  for (const [index, entry] of files.entries()) {
    const file = ManifestEntrySchema.shape.file.safeParse((entry as { file?: unknown } | null)?.file);
    if (!file.success) continue;
    if (seen.has(file.data))
      problems.push({ rank: [2, index, 2], message: `manifest.json files[${index}]: ${file.data} is listed twice` });
    seen.add(file.data);
  }
  return problems;
}

const before = (a: Problem, b: Problem): boolean => {
  for (let i = 0; i < 3; i++) if (a.rank[i] !== b.rank[i]) return (a.rank[i] as number) < (b.rank[i] as number);
  return false;
};

/**
 * Parses and checks manifest.json; throws with what is wrong, the first problem only, in the
 * order the fields are listed above (the manifest's own, then each file's in turn).
 */
export function parseManifest(text: string): BackupManifest {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new Error(`manifest.json is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  const parsed = BackupManifestSchema.safeParse(data);
  const problems = [
    ...(parsed.success ? [] : parsed.error.issues.map((issue) => describeIssue(issue, data))),
    ...duplicateFiles(data),
  ];
  const first = problems.reduce<Problem | undefined>((a, b) => (a === undefined || before(b, a) ? b : a), undefined);
  if (first) throw new Error(first.message);
  return (parsed as { data: BackupManifest }).data;
}
