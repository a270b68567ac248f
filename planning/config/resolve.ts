/**
 * The PlatformConfig every planner and component works from: the schema's output plus what
 * resolveConfig adds, with no hand-written copy. Apart from parsing (config.ts), so that the
 * checks that read a PlatformConfig (config/checks.ts, swarm/checks.ts) import no module that
 * imports them.
 */
import type { DatabaseConfig, FileRead } from "./database";
import { httpsRedirectFor } from "./edge";
import { resolveImages } from "./images";
import { monitoringEnabledFor } from "./monitoring";
import type { ParsedConfig, SecretKey } from "./schema";
import { BUILT_IN_PROFILES, BUILT_IN_REGION_SIZES } from "../stack/sizes";

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
export function resolveConfig(
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
    monitoring: { ...parsed.monitoring, enabled: monitoringEnabledFor(parsed, parsed.monitoring.enabled) },
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
