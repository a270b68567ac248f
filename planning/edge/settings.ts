/**
 * What the edge's nginx.conf is rendered from (NginxSettings), and its validation: everything that
 * ends up in the config text is checked against a strict pattern, so no setting can close a
 * string, a block or a directive early. planning/edge/nginx.ts renders only validated settings.
 *
 * The program's settings come from a validated stack config (planning/edge/plan.ts), so most of these
 * checks cannot fail there; they stay because the generator is also called directly, by tests and
 * the bench, with hand-made settings, and the config text must be safe whatever it is given.
 */
import { isIPv4, isIPv6 } from "node:net";
import { type HostPort, POOL } from "./text";
import { DEFAULT_UPSTREAM_KEEPALIVE, MAX_UPSTREAM_KEEPALIVE } from "./capabilities";
import { REGION_ID_PATTERN } from "../config/regions";

export interface NginxRegionRoute {
  /** URL-safe region id: lowercase slug or UUID, matches REGION_ID_PATTERN */
  id: string;
  /** "host:port" of the region API, e.g. "region-orion-api:8000" (Docker DNS name) or "127.0.0.1:18001" in tests */
  upstream: string;
  /** retired regions answer 410 with a small JSON body on their routes (no upstream used) */
  state: "active" | "retired";
}

export interface NginxSettings {
  regions: readonly NginxRegionRoute[];
  /** id of the region that serves legacy /api/ */
  defaultRegionId: string;
  upstreams: { nexus: string; admin: string; player: string; paypal: string }; // "host:port"
  /** DNS resolver for request-time resolution, e.g. "127.0.0.11" (Docker embedded DNS); null when all upstreams are IP literals (tests) */
  resolver: string | null;
  listen: { address?: string; http: number; https: number }; // container: 80/443; tests: 127.0.0.1 + free ports
  tls: { certificate: string; certificateKey: string }; // file paths
  staticRoot: string; // directory that contains static/ (seed: /var/www/html)
  /** paths nginx writes to; in the container the defaults, in tests a temp dir so nginx can run as any user */
  runtime: { pidFile: string; errorLog: string; accessLog: string | null; tempDir: string; user: string | null };
  /** Largest request body accepted, in nginx size syntax ("512k", "1m"). Default: DEFAULT_CLIENT_MAX_BODY_SIZE. */
  clientMaxBodySize?: string;
  /** How long nginx trusts a resolved address, in seconds. Default: RESOLVER_VALID_SECONDS. */
  resolverValidSeconds?: number;
  /**
   * Idle connections nginx keeps open to each backend, per worker; 0 (the default) keeps none.
   *
   * Above 0, every backend gets an `upstream` block (`zone`, `server host:port resolve`,
   * `keepalive N`): names are still resolved while nginx runs (a missing container fails only
   * its own routes, a recreated one is followed), and requests reuse connections instead of
   * opening one each. That needs nginx >= 1.27.3 in the edge image: older open-source nginx
   * rejects `resolve` in an upstream block, so `nginx -t` fails and the config in force stays.
   * At 0 the config is byte for byte the one rendered before this setting existed.
   */
  upstreamKeepalive?: number;
  /**
   * With upstreamKeepalive, on one host: the Docker name of the container that serves each
   * backend now (`sectorwars_region_orion-1a2b3c4d`), which no other generation answers to. Its
   * pool resolves that name first and the shared name only as a backup, so the reload a swap
   * makes between starting the successor and stopping the old container leaves new workers
   * with no address of the old one (planning/edge/nginx.ts, upstreamBlocks, says why that
   * matters). A backend left out pools on its shared name alone.
   */
  currentContainers?: {
    nexus?: string;
    admin?: string;
    player?: string;
    paypal?: string;
    regions?: Readonly<Record<string, string>>;
  };
  /**
   * Plain HTTP answers 301 to `origin` ("https://play.example.com", "https://localhost:8443") plus
   * the request URI, except the health check and ACME HTTP-01 challenges, which it serves as files
   * under `acmeChallengeRoot` (`<root>/.well-known/acme-challenge/<token>`). HTTPS is unchanged.
   * Unset, plain HTTP serves every route as HTTPS does: the config before this setting existed.
   */
  httpsRedirect?: { origin: string; acmeChallengeRoot: string };
  /**
   * Without httpsRedirect: plain HTTP also serves ACME HTTP-01 tokens from files under this root
   * (edge.acme). With it, httpsRedirect.acmeChallengeRoot does. Unset: no challenge location.
   */
  acmeChallengeRoot?: string;
  /**
   * A path the game APIs answer for the platform only (their metrics, monitoring.apiMetricsPath):
   * the two routes that would hand it to an API as is, /api/nexus<path> and legacy /api<path>,
   * answer 404 instead. A region's own route passes the full URI, so it never sends the bare path.
   * Unset: no such location.
   */
  apiPrivatePath?: string;
}

/** The game APIs take small JSON bodies; nothing in the platform uploads files through the edge. */
export const DEFAULT_CLIENT_MAX_BODY_SIZE = "1m";

/** How long a resolved address is trusted: a recreated container gets a new IP, a started one a name. */
export const RESOLVER_VALID_SECONDS = 10;

// ---------------------------------------------------------------------------------------------
// Validation

const fail = (message: string): never => {
  throw new Error(`nginx settings: ${message}`);
};

const show = (value: unknown): string => JSON.stringify(value) ?? String(value);

/** A DNS name: letters, digits, '-' and '_' (Docker container names), dot-separated labels. */
const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*$/;
/** An absolute path without characters nginx would treat as syntax (space, ';', quotes, '$', braces, '#'). */
const SAFE_PATH = /^\/[A-Za-z0-9._+@/-]*$/;
const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;
const SIZE = /^[1-9][0-9]{0,5}[km]?$/;

function parsePort(text: string, what: string): number {
  if (!/^[1-9][0-9]{0,4}$/.test(text) || Number(text) > 65535) fail(`${what}: port ${show(text)} must be 1-65535`);
  return Number(text);
}

function parseHostPort(value: unknown, what: string): HostPort {
  if (typeof value !== "string") return fail(`${what} must be a "host:port" string, got ${show(value)}`);
  const match = /^(?:\[([^\]]*)\]|([^:[\]]*)):([^:]*)$/.exec(value);
  if (!match) return fail(`${what} ${show(value)} must be "host:port" (IPv6 as "[addr]:port")`);
  const [, v6, name = "", portText = ""] = match;
  const port = parsePort(portText, `${what} ${show(value)}`);
  if (v6 !== undefined) {
    if (!isIPv6(v6)) fail(`${what} ${show(value)}: ${show(v6)} is not an IPv6 address`);
    return { host: `[${v6}]`, port, isIp: true };
  }
  if (isIPv4(name)) return { host: name, port, isIp: true };
  // "10.0.0.300" or "1.2.3" would otherwise pass as host names and fail at request time.
  if (/^[0-9.]+$/.test(name)) fail(`${what} ${show(value)}: ${show(name)} is not a valid IPv4 address`);
  if (!HOST_NAME.test(name)) fail(`${what} ${show(value)}: ${show(name)} is not a valid host name`);
  return { host: name, port, isIp: false };
}

function parseResolver(value: unknown): string | null {
  if (value === null) return null;
  if (typeof value !== "string") return fail(`resolver must be an IP address or null, got ${show(value)}`);
  if (isIPv4(value)) return value;
  if (isIPv6(value)) return `[${value}]`;
  // A resolver given by name would itself be resolved only once, at start: require an address.
  const withPort = /^(?:\[([^\]]*)\]|([0-9.]+)):([^:]*)$/.exec(value);
  if (withPort) {
    const [, v6, v4, port = ""] = withPort;
    if ((v6 !== undefined && isIPv6(v6)) || (v4 !== undefined && isIPv4(v4))) {
      parsePort(port, `resolver ${show(value)}`);
      return value;
    }
  }
  return fail(
    `resolver ${show(value)} must be an IP address, optionally with a port ("127.0.0.11", "10.0.0.2:53", "[::1]:53")`,
  );
}

function checkPath(value: unknown, what: string): string {
  if (typeof value !== "string" || !SAFE_PATH.test(value)) {
    fail(`${what} ${show(value)} must be an absolute path of letters, digits and . _ + @ / -`);
  }
  return value as string;
}

function checkListenPort(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > 65535) {
    fail(`${what} ${show(value)} must be an integer port 1-65535`);
  }
  return value as number;
}

export interface Region {
  id: string;
  upstream: HostPort;
  state: "active" | "retired";
}

/** Settings as the renderer uses them: checked, defaults applied, regions sorted by id. */
export interface Valid {
  regions: Region[];
  defaultRegion: Region;
  nexus: HostPort;
  admin: HostPort;
  player: HostPort;
  paypal: HostPort;
  resolver: string | null;
  listenHttp: string;
  listenHttps: string;
  certificate: string;
  certificateKey: string;
  staticRoot: string;
  pidFile: string;
  errorLog: string;
  accessLog: string | null;
  tempDir: string;
  user: string | null;
  clientMaxBodySize: string;
  resolverValidSeconds: number;
  upstreamKeepalive: number;
  /** currentContainers by upstream block name (POOL). */
  currentContainers: ReadonlyMap<string, string>;
  httpsRedirect: { origin: string; acmeChallengeRoot: string } | null;
  acmeChallengeRoot: string | null;
  apiPrivatePath: string | null;
}

/** "https://host" or "https://host:port": no path, so `origin$request_uri` is the whole Location. */
function checkOrigin(value: unknown, what: string): string {
  const match = typeof value === "string" ? /^https:\/\/([^/:]+)(?::([^/]*))?$/.exec(value) : null;
  if (!match || !HOST_NAME.test(match[1] ?? "")) {
    return fail(`${what} ${show(value)} must be "https://<host name>" or "https://<host name>:<port>", without a path`);
  }
  if (match[2] !== undefined) parsePort(match[2], `${what} ${show(value)}`);
  return value as string;
}

export function validateNginxSettings(s: NginxSettings): Valid {
  if (!Array.isArray(s.regions)) fail("regions must be an array");
  const seen = new Set<string>();
  // A validated stack config already has unique, well-formed ids and an active default region
  // (planning/config/regions.ts); these checks are for settings made by hand, since an id is
  // pasted into locations, regexes and JSON bodies.
  const regions: Region[] = s.regions.map((r, i) => {
    const at = `regions[${i}]`;
    if (typeof r.id !== "string" || !REGION_ID_PATTERN.test(r.id)) {
      fail(`${at}.id ${show(r.id)} must be a lowercase slug or UUID matching ${REGION_ID_PATTERN}`);
    }
    if (seen.has(r.id)) fail(`duplicate region id ${show(r.id)} (${at})`);
    seen.add(r.id);
    if (r.state !== "active" && r.state !== "retired")
      fail(`${at}.state ${show(r.state)} must be "active" or "retired"`);
    return { id: r.id, upstream: parseHostPort(r.upstream, `${at}.upstream (region ${r.id})`), state: r.state };
  });
  // Sorted, so reordering the stack's region list changes neither the text nor its hash.
  regions.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

  const defaultRegion = regions.find((r) => r.id === s.defaultRegionId);
  if (!defaultRegion) return fail(`default region ${show(s.defaultRegionId)} is not in regions`);
  if (defaultRegion.state !== "active")
    fail(`default region ${show(s.defaultRegionId)} is retired: legacy /api/ needs an active region`);

  if (typeof s.upstreams !== "object" || s.upstreams === null)
    fail("upstreams must be { nexus, admin, player, paypal }");
  const nexus = parseHostPort(s.upstreams.nexus, "upstreams.nexus");
  const admin = parseHostPort(s.upstreams.admin, "upstreams.admin");
  const player = parseHostPort(s.upstreams.player, "upstreams.player");
  const paypal = parseHostPort(s.upstreams.paypal, "upstreams.paypal");

  const resolver = parseResolver(s.resolver);
  if (resolver === null) {
    const named = [
      ...regions.filter((r) => r.state === "active").map((r) => [`region ${r.id}`, r.upstream] as const),
      ["upstreams.nexus", nexus] as const,
      ["upstreams.admin", admin] as const,
      ["upstreams.player", player] as const,
      ["upstreams.paypal", paypal] as const,
    ].find(([, u]) => !u.isIp);
    if (named) {
      fail(
        `${named[0]} uses host name ${show(named[1].host)} but resolver is null: nginx resolves names at request time and needs a resolver`,
      );
    }
  }

  if (typeof s.listen !== "object" || s.listen === null) fail("listen must be { address?, http, https }");
  const http = checkListenPort(s.listen.http, "listen.http");
  const https = checkListenPort(s.listen.https, "listen.https");
  if (http === https) fail(`listen.http and listen.https are both ${http}`);
  let address = "";
  if (s.listen.address !== undefined) {
    const a = s.listen.address;
    if (typeof a === "string" && isIPv4(a)) address = `${a}:`;
    else if (typeof a === "string" && isIPv6(a)) address = `[${a}]:`;
    else fail(`listen.address ${show(a)} must be an IPv4 or IPv6 address`);
  }

  if (typeof s.tls !== "object" || s.tls === null) fail("tls must be { certificate, certificateKey }");
  if (typeof s.runtime !== "object" || s.runtime === null)
    fail("runtime must be { pidFile, errorLog, accessLog, tempDir, user }");
  const user = s.runtime.user;
  if (user !== null && (typeof user !== "string" || !USER_NAME.test(user)))
    fail(`runtime.user ${show(user)} must be a user name or null`);
  const clientMaxBodySize = s.clientMaxBodySize ?? DEFAULT_CLIENT_MAX_BODY_SIZE;
  if (typeof clientMaxBodySize !== "string" || !SIZE.test(clientMaxBodySize)) {
    fail(`clientMaxBodySize ${show(clientMaxBodySize)} must be a positive nginx size such as "512k" or "1m"`);
  }

  const resolverValidSeconds = s.resolverValidSeconds ?? RESOLVER_VALID_SECONDS;
  if (!Number.isInteger(resolverValidSeconds) || resolverValidSeconds < 1 || resolverValidSeconds > 3600) {
    fail(`resolverValidSeconds ${show(resolverValidSeconds)} must be an integer from 1 to 3600`);
  }

  const upstreamKeepalive = s.upstreamKeepalive ?? DEFAULT_UPSTREAM_KEEPALIVE;
  if (!Number.isInteger(upstreamKeepalive) || upstreamKeepalive < 0 || upstreamKeepalive > MAX_UPSTREAM_KEEPALIVE) {
    fail(`upstreamKeepalive ${show(upstreamKeepalive)} must be an integer from 0 (off) to ${MAX_UPSTREAM_KEEPALIVE}`);
  }

  const currentContainers = new Map<string, string>();
  const current = s.currentContainers ?? {};
  const name = (value: unknown, what: string): string =>
    typeof value === "string" && HOST_NAME.test(value)
      ? value
      : fail(`${what} ${show(value)} is not a valid host name`);
  for (const key of ["nexus", "admin", "player", "paypal"] as const) {
    const value = current[key];
    if (value !== undefined) currentContainers.set(POOL[key], name(value, `currentContainers.${key}`));
  }
  for (const [id, value] of Object.entries(current.regions ?? {})) {
    if (!regions.some((r) => r.id === id && r.state === "active")) {
      fail(`currentContainers.regions names ${show(id)}, which is not an active region`);
    }
    currentContainers.set(POOL.region(id), name(value, `currentContainers.regions.${id}`));
  }

  const redirect = s.httpsRedirect;
  if (redirect !== undefined && (typeof redirect !== "object" || redirect === null))
    fail("httpsRedirect must be { origin, acmeChallengeRoot } or unset");
  const httpsRedirect =
    redirect === undefined
      ? null
      : {
          origin: checkOrigin(redirect.origin, "httpsRedirect.origin"),
          acmeChallengeRoot: checkPath(redirect.acmeChallengeRoot, "httpsRedirect.acmeChallengeRoot"),
        };

  return {
    regions,
    defaultRegion,
    nexus,
    admin,
    player,
    paypal,
    resolver,
    listenHttp: `${address}${http}`,
    listenHttps: `${address}${https}`,
    certificate: checkPath(s.tls.certificate, "tls.certificate"),
    certificateKey: checkPath(s.tls.certificateKey, "tls.certificateKey"),
    staticRoot: checkPath(s.staticRoot, "staticRoot"),
    pidFile: checkPath(s.runtime.pidFile, "runtime.pidFile"),
    errorLog: checkPath(s.runtime.errorLog, "runtime.errorLog"),
    accessLog: s.runtime.accessLog === null ? null : checkPath(s.runtime.accessLog, "runtime.accessLog"),
    tempDir: checkPath(s.runtime.tempDir, "runtime.tempDir"),
    user,
    clientMaxBodySize,
    resolverValidSeconds,
    upstreamKeepalive,
    currentContainers,
    httpsRedirect,
    acmeChallengeRoot: s.acmeChallengeRoot === undefined ? null : checkPath(s.acmeChallengeRoot, "acmeChallengeRoot"),
    apiPrivatePath: s.apiPrivatePath === undefined ? null : checkPath(s.apiPrivatePath, "apiPrivatePath"),
  };
}
