/**
 * The stack configuration (namespace `sectorwars`): parsed once, before any resource is declared,
 * into the PlatformConfig every planner and component works from, or a ConfigError listing every
 * problem with its config path.
 *
 * Where things are:
 * - planning/configSchema.ts   the whole schema, assembled from one module per area:
 *   imagesConfig, regionsConfig, edgeConfig, backupConfig, capacityConfig, databaseConfig, services
 * - planning/configDefaults.ts every default, stated once
 * - planning/configChecks.ts   the rules that span fields
 * - planning/configErrors.ts   config paths and the error
 * PlatformConfig is the schema's output plus what resolveConfig adds: no hand-written copy.
 */
import { BUILT_IN_PROFILES, BUILT_IN_REGION_SIZES } from "./sizes";
import { httpsRedirectFor } from "./edgeConfig";
import { type DatabaseConfig, type FileRead, readInitSql, wellFormedInitSqlPaths } from "./databaseConfig";
import { type ConfigProblem, ConfigError, problemAt, schemaProblems, valueAt } from "./configErrors";
import { type ParsedConfig, type SecretKey, rawConfigSchema } from "./configSchema";
import { resolveImages } from "./imagesConfig";
import { checkRegionList } from "./regionsConfig";
import { crossCheck } from "./configChecks";

export { CONFIG_NAMESPACE, type ConfigProblem, ConfigError, configPath } from "./configErrors";
export { SECRET_KEYS, type SecretKey, rawConfigSchema } from "./configSchema";
export { IMAGE_KEYS, type ImageKey, type ImageSpec } from "./imagesConfig";
export type { FileRead } from "./databaseConfig";

export interface ParseContext {
  /** Which secret keys the stack sets; their values never reach the parser. */
  presentSecrets: ReadonlySet<SecretKey>;
  /**
   * Keys other than SECRET_KEYS that hold a value set with `--secret` (Pulumi then treats the
   * whole key as secret). Only sectorwars:services may: its extra environment is kept secret.
   */
  secretValued?: ReadonlySet<string>;
  /** Whether a local build context exists; checked only when given. */
  directoryExists?: (path: string) => boolean;
  /**
   * Reads a file the config names (init SQL), relative to the project directory, refusing one
   * larger than maxBytes without reading it. Only when given are the files checked and read.
   */
  readFile?: (path: string, maxBytes: number) => FileRead;
}

/**
 * What the schema cannot fill in field by field: defaults that depend on another field or on
 * whether a value was given (images, httpsRedirect), the built-in sizes the stack's own are
 * merged over, the init SQL files' text, and whether the services' environment is secret.
 */
function resolveConfig(
  parsed: ParsedConfig,
  resolved: { servicesSecret: boolean; initSql: DatabaseConfig["initSql"] },
) {
  const { migration } = parsed.database;
  return {
    ...parsed,
    /** The cluster (sectorwars:swarm); null when unset. */
    swarm: parsed.swarm ?? null,
    images: resolveImages(parsed.images),
    edge: { ...parsed.edge, httpsRedirect: httpsRedirectFor(parsed.environment, parsed.edge.httpsRedirect) },
    /** sectorwars:services holds a value set with --secret: the extra environment stays secret. */
    servicesSecret: resolved.servicesSecret,
    database: { initSql: resolved.initSql, ...(migration ? { migration: { command: migration.command } } : {}) },
    sizeProfiles: { ...BUILT_IN_PROFILES, ...parsed.sizeProfiles },
    regionSizes: { ...BUILT_IN_REGION_SIZES, ...parsed.regionSizes },
  };
}

/** The validated, defaulted stack configuration every planner and component works from. */
export type PlatformConfig = ReturnType<typeof resolveConfig>;
export type RegionConfig = PlatformConfig["regions"][number];

/**
 * Validates the raw `sectorwars:*` values and returns the typed config, or throws a ConfigError
 * listing every problem with its config path.
 */
export function parseConfig(raw: unknown, context: ParseContext): PlatformConfig {
  const result = rawConfigSchema.safeParse(raw);
  // Run on the raw list so that a typo elsewhere does not hide a reused slot.
  const regionProblems = checkRegionList(valueAt(raw, ["regions"]));
  // Likewise the init SQL files: a missing one shows up with a typo elsewhere, not after its fix.
  const initSql = readInitSql(wellFormedInitSqlPaths(valueAt(raw, ["database", "initSql"])), context.readFile);
  const initSqlProblems = initSql.problems.map((p) => problemAt(["database", ...p.path], p.message));
  if (!result.success) {
    throw new ConfigError([...schemaProblems(raw, result.error.issues), ...regionProblems, ...initSqlProblems]);
  }
  const config = resolveConfig(result.data, {
    servicesSecret: context.secretValued?.has("services") ?? false,
    initSql: initSql.files,
  });
  const problems: ConfigProblem[] = [
    ...regionProblems,
    ...crossCheck(config, result.data, context),
    ...initSqlProblems,
  ];
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
