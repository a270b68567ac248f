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
 * - planning/configErrors.ts   config paths and the error; every check reports ConfigProblems
 *   with the full path (problemAt), nothing else
 * - planning/configResolve.ts  PlatformConfig: the schema's output plus what resolveConfig adds
 */
import { readInitSql, wellFormedInitSqlPaths } from "./databaseConfig";
import { type ConfigProblem, ConfigError, schemaProblems, valueAt } from "./configErrors";
import { rawConfigSchema } from "./configSchema";
import { type ParseContext, type PlatformConfig, resolveConfig } from "./configResolve";
import { checkRegionList } from "./regionsConfig";
import { crossCheck } from "./configChecks";

export { CONFIG_NAMESPACE, type ConfigProblem, ConfigError, configPath, problemAt } from "./configErrors";
export { SECRET_KEYS, type SecretKey, rawConfigSchema } from "./configSchema";
export { IMAGE_KEYS, type ImageKey, type ImageSpec } from "./imagesConfig";
export type { FileRead } from "./databaseConfig";
export type { ParseContext, PlatformConfig, RegionConfig } from "./configResolve";

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
