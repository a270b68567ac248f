/**
 * The `sectorwars:database` part of the stack config (planning/config/schema.ts assembles it): the
 * init SQL files, read and checked when the caller can read files, and the migration command.
 * Problems carry their full config path, as every check's do.
 */
import { z } from "zod";
import { type ConfigProblem, problemAt } from "./errors";
import {
  INIT_SQL_DIR,
  INIT_SQL_KINDS,
  type InitSqlKind,
  MAX_INIT_SQL_BYTES,
  initSqlText,
} from "../stack/databaseSchema";

export interface InitSqlFile {
  /** As configured: relative to the project directory. */
  path: string;
  /** The file's text; null when the caller gave parseConfig no readFile (reports, not deploys). */
  sql: string | null;
}

/**
 * A database component's init SQL argument, from a configured file: loadStackConfig reads every
 * one before a resource is declared, so a file without its text here is a program error.
 */
export function initSqlArg(file: InitSqlFile | undefined): { initSql?: string } {
  if (file === undefined) return {};
  if (file.sql === null) throw new Error(`init SQL ${file.path} was not read`);
  return { initSql: file.sql };
}

export interface DatabaseConfig {
  /** Init SQL by database kind; only the kinds the stack sets. */
  initSql: Partial<Record<InitSqlKind, InitSqlFile>>;
  /** Unset: no migration step. */
  migration?: { command: string[] };
}

/** Reading a file the config names: its bytes, or why not ("does not exist", "is a directory", ...). */
export type FileRead = { bytes: Uint8Array } | { problem: string };

const initSqlFile = (kind: InitSqlKind) =>
  z
    .string()
    .regex(/^[A-Za-z0-9._+/-]+\.sql$/, "must be a path of letters, digits and ._+-/ ending in .sql")
    .refine((file) => !file.startsWith("/"), "must be relative to the project directory")
    .refine((file) => !file.split("/").includes(".."), "must not contain ..")
    .optional()
    .describe(
      `SQL run once on an empty ${kind === "nexus" ? "nexus database" : "region database, for every region alike"}, ` +
        `as the database's own user, when PostgreSQL initialises its empty data volume (${INIT_SQL_DIR}/). ` +
        "A path relative to the project directory, UTF-8, at most 1 MiB. Existing databases never run it: editing the " +
        "file changes nothing deployed, and new databases get the file as it is then.",
    );

/** One word of the migration command: no shell, so no quoting problems, but text a command line can carry. */
const commandWord = z
  .string()
  .min(1, "must not be empty")
  .max(1000)
  .refine((word) => !/[\0\n\r]/.test(word), "must not contain NUL or line breaks");

export const databaseSchema = z
  .strictObject({
    initSql: z
      .strictObject(
        Object.fromEntries(INIT_SQL_KINDS.map((kind) => [kind, initSqlFile(kind)])) as {
          [K in InitSqlKind]: ReturnType<typeof initSqlFile>;
        },
      )
      .prefault({})
      .describe("Init SQL files, by database: unset, databases start empty (the default)."),
    migration: z
      .strictObject({
        command: z
          .array(commandWord)
          .min(1, "needs the program and its arguments")
          .max(64)
          .describe(
            'Command of the gameserver image that migrates a database, e.g. ["npm", "run", "migrate"] or ' +
              '["alembic", "upgrade", "head"] (the image\'s entrypoint still applies). It gets the API\'s ' +
              "environment (DATABASE_URL, REDIS_URL, REGION_ID, ...) on the database's private network, and " +
              "must exit 0; anything else stops the deploy with its output, before an API of the new version starts.",
          ),
      })
      .optional()
      .describe(
        "A one-shot container per database (the nexus and every active region) that runs after the backup " +
          "and before any API container of a new gameserver image starts: when the image changes, when the " +
          "command changes, for a new or reactivated region, and when first set. Unset: no migration step.",
      ),
  })
  .prefault({})
  .describe("The game's database schema: init SQL for new databases, and migrations on new gameserver versions.");

/** The raw `initSql` paths that pass their own rules (the schema reports the others). */
export function wellFormedInitSqlPaths(raw: unknown): Partial<Record<InitSqlKind, string>> {
  const paths: Partial<Record<InitSqlKind, string>> = {};
  for (const kind of INIT_SQL_KINDS) {
    const value = typeof raw === "object" && raw !== null ? (raw as Record<string, unknown>)[kind] : undefined;
    const parsed = initSqlFile(kind).safeParse(value);
    if (parsed.success && parsed.data !== undefined) paths[kind] = parsed.data;
  }
  return paths;
}

/** The configured init SQL files, read through `readFile` when the caller can read files. */
export function readInitSql(
  paths: Partial<Record<InitSqlKind, string>>,
  readFile: ((path: string, maxBytes: number) => FileRead) | undefined,
): { files: DatabaseConfig["initSql"]; problems: ConfigProblem[] } {
  const files: DatabaseConfig["initSql"] = {};
  const problems: ConfigProblem[] = [];
  for (const kind of INIT_SQL_KINDS) {
    const file = paths[kind];
    if (file === undefined) continue;
    if (!readFile) {
      files[kind] = { path: file, sql: null };
      continue;
    }
    const read = readFile(file, MAX_INIT_SQL_BYTES);
    const text = "problem" in read ? read : initSqlText(read.bytes);
    if ("problem" in text) problems.push(problemAt(["database", "initSql", kind], `"${file}" ${text.problem}`));
    else files[kind] = { path: file, sql: text.sql };
  }
  return { files, problems };
}
