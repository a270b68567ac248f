/**
 * What the edge's nginx version can do, for the settings that depend on it: upstream keepalive
 * pools need `server name:port resolve` in upstream blocks. Shared by the config check (an image
 * tag that names an older nginx is refused before a deploy) and the generator's own bounds.
 */

/** Upper bound for upstreamKeepalive: idle connections per backend and worker. */
export const MAX_UPSTREAM_KEEPALIVE = 1024;

/**
 * upstreamKeepalive when nothing sets it: no pools, so the config runs on any nginx and is byte
 * for byte the one rendered before the setting existed. The stack config's default is this too.
 */
export const DEFAULT_UPSTREAM_KEEPALIVE = 0;

/** The first open-source nginx that takes `server name:port resolve` in an upstream block. */
export const UPSTREAM_RESOLVE_SINCE = "1.27.3";

/** Whether nginx `version` ("1.30.6", "1.27": patch 0) is UPSTREAM_RESOLVE_SINCE or later. */
export function supportsUpstreamResolve(version: string): boolean {
  const parts = (v: string) => [...v.split("."), "0", "0"].slice(0, 3).map(Number);
  const have = parts(version);
  const need = parts(UPSTREAM_RESOLVE_SINCE);
  const i = have.findIndex((n, k) => n !== need[k]);
  return i < 0 || (have[i] ?? 0) > (need[i] ?? 0);
}

/**
 * The nginx version an image reference's tag names ("nginx:1.26.2-alpine" → "1.26.2"), or
 * undefined when the tag names none: nginx:alpine and nginx:stable follow the current releases,
 * recent enough for everything here.
 */
export function nginxVersionOfImage(ref: string): string | undefined {
  return /:(\d+\.\d+(?:\.\d+)?)(?:[-@]|$)/.exec(ref)?.[1];
}
