/**
 * The stack configuration (namespace `sectorwars`): parsed once, before any resource is declared,
 * into the PlatformConfig every planner and component works from, or a ConfigError listing every
 * problem with its config path.
 *
 * Where things are:
 * - planning/config/schema.ts   the whole schema, assembled from one module per area:
 *   imagesConfig, regionsConfig, edgeConfig, backupConfig, capacityConfig, databaseConfig, services
 * - planning/config/defaults.ts every default, stated once
 * - planning/config/checks.ts   the rules that span fields
 * - planning/config/errors.ts   config paths and the error; every check reports ConfigProblems
 *   with the full path (problemAt), nothing else
 * - planning/config/resolve.ts  PlatformConfig: the schema's output plus what resolveConfig adds
 */
import { readInitSql, wellFormedInitSqlPaths } from "./database";
import { type ConfigProblem, ConfigError, schemaProblems, valueAt } from "./errors";
import { rawConfigSchema } from "./schema";
import { type ParseContext, type PlatformConfig, resolveConfig } from "./resolve";
import { checkRegionList } from "./regions";
import { crossCheck } from "./checks";

export { CONFIG_NAMESPACE, type ConfigProblem, ConfigError, configPath, problemAt } from "./errors";
export { SECRET_KEYS, type SecretKey, rawConfigSchema } from "./schema";
export { IMAGE_KEYS, type ImageKey, type ImageSpec } from "./images";
export type { FileRead } from "./database";
export type { ParseContext, PlatformConfig, RegionConfig } from "./resolve";

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
  if (!result.success) {
    throw new ConfigError([...schemaProblems(raw, result.error.issues), ...regionProblems, ...initSql.problems]);
  }
  const config = resolveConfig(result.data, {
    servicesSecret: context.secretValued?.has("services") ?? false,
    initSql: initSql.files,
  });
  const problems: ConfigProblem[] = [
    ...regionProblems,
    ...crossCheck(config, result.data, context),
    ...initSql.problems,
  ];
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}
