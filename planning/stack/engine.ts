/**
 * What the Docker engine can do, from its Engine API version ("1.41" for Docker 20.10, "1.45" for
 * 26.1), and the check that the engine a stack deploys to can do what its plan uses.
 *
 * The version decides one thing today: health checks get a start interval (probe every second
 * while the container starts, instead of waiting a whole `interval` for the first probe) only on
 * API >= 1.44. An older engine refuses such a create ("requires API version 1.44"), so the check
 * runs before any resource is declared, never halfway through an update.
 */

/** The first Engine API version (Docker 25.0) that accepts `healthcheck.startInterval`. */
export const START_INTERVAL_SINCE = "1.44";

/**
 * How often a starting container is probed. Go's spelling ("1s"): the provider reads it back in
 * that form, and any other would show as a change on every preview.
 */
export const START_INTERVAL = "1s";

/** Engine API versions are "major.minor". */
export const API_VERSION_PATTERN = /^1\.\d{1,3}$/;

export interface EngineFeatures {
  /** The Engine API version the plan is made for. */
  apiVersion: string;
  /** Health checks carry START_INTERVAL. */
  healthStartInterval: boolean;
}

/** Compares "1.41" and "1.45" as versions, not as decimals ("1.9" < "1.41"). */
export function compareApiVersions(a: string, b: string): number {
  const [aMajor = 0, aMinor = 0] = a.split(".").map(Number);
  const [bMajor = 0, bMinor = 0] = b.split(".").map(Number);
  return aMajor - bMajor || aMinor - bMinor;
}

export function engineFeatures(apiVersion: string): EngineFeatures {
  return { apiVersion, healthStartInterval: compareApiVersions(apiVersion, START_INTERVAL_SINCE) >= 0 };
}

/** What a plan made without asking an engine assumes: nothing newer than Docker 20.10 (API 1.41). */
export const BASELINE_ENGINE: EngineFeatures = engineFeatures("1.41");

export interface EngineCheck {
  /** sectorwars:engine.apiVersion, when the stack pins one. */
  configured: string | undefined;
  /** What the engine said (`docker version --format '{{.Server.APIVersion}}'`), or why it could not. */
  reported: { apiVersion: string } | { error: string };
  /** Where the engine is, for messages: DOCKER_HOST of the provider, or the local socket. */
  where: string;
}

/**
 * The features to plan with, or the problem that stops the deploy. A pinned version is what the
 * plan uses (so an engine upgrade changes nothing until the stack says so) and must not be newer
 * than the engine; unpinned, the engine's own version is used.
 */
export function resolveEngine(check: EngineCheck): { features: EngineFeatures } | { problem: string } {
  if ("error" in check.reported) {
    return {
      problem:
        `cannot ask the Docker engine at ${check.where} for its API version (${check.reported.error}); ` +
        "the program needs it to know whether health checks may use a start interval",
    };
  }
  const reported = check.reported.apiVersion.trim();
  if (!API_VERSION_PATTERN.test(reported)) {
    return { problem: `the Docker engine at ${check.where} reported API version ${JSON.stringify(reported)}` };
  }
  if (check.configured === undefined) return { features: engineFeatures(reported) };
  if (compareApiVersions(check.configured, reported) > 0) {
    const needs = engineFeatures(check.configured).healthStartInterval
      ? ` (health check start intervals need ${START_INTERVAL_SINCE}, Docker 25.0 or later)`
      : "";
    return {
      problem:
        `the stack is planned for Docker Engine API ${check.configured}, but the engine at ${check.where} speaks ${reported}${needs}. ` +
        `Upgrade the engine, or set it to ${reported} (or remove it to use whatever the engine speaks)`,
    };
  }
  return { features: engineFeatures(check.configured) };
}
