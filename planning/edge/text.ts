/**
 * The pieces nginx.conf text is made of, shared by the generator (planning/edge/nginx.ts) and the route
 * renderers (planning/edge/routes.ts): blocks, JSON bodies, the edge's own response headers, and
 * the proxy_pass of a route with or without a keepalive pool.
 */

export interface HostPort {
  /** As nginx wants it in a URL or a listen directive: IPv6 in brackets. */
  host: string;
  port: number;
  isIp: boolean;
}

export const hostPort = (u: HostPort): string => `${u.host}:${u.port}`;

/** A JSON body for `return`: the values are fixed strings and validated ids, never request data. */
export function json(fields: Record<string, string | number>): string {
  return `'${JSON.stringify(fields)}\\n'`;
}

/**
 * Response headers the edge owns. add_header is inherited only by locations that set no
 * add_header of their own, so a location that adds one repeats these.
 */
export const SECURITY_HEADERS = [
  "# Browsers must not guess a type other than the one sent (stops a JSON or image upload running as script).",
  'add_header X-Content-Type-Options "nosniff" always;',
  "# Clickjacking: only pages of this origin may frame ours (SAMEORIGIN keeps in-app previews possible).",
  'add_header X-Frame-Options "SAMEORIGIN" always;',
  "add_header Content-Security-Policy \"frame-ancestors 'self'\" always;",
  "# Full URLs (with region ids and tokens in query strings) stay on our origin.",
  'add_header Referrer-Policy "strict-origin-when-cross-origin" always;',
  "# Empty on plain HTTP, where HSTS must not be sent; nginx drops empty headers.",
  "add_header Strict-Transport-Security $hsts always;",
];

/**
 * Where a route's requests go: `pool` null is the variable-based proxy_pass (see the keepalive
 * note in the http block); otherwise the name of the backend's upstream block (upstreamKeepalive).
 */
export interface Target {
  upstream: HostPort;
  pool: string | null;
}

export function proxy(target: Target, options: { stripPrefix?: string; regionId?: string; uri?: string }): string[] {
  const lines: string[] = [];
  // `set` must come before `rewrite ... break`, which ends the rewrite directives of the location.
  if (options.regionId !== undefined) lines.push(`set $region_id "${options.regionId}";`);
  if (target.pool === null) lines.push(`set $backend "${hostPort(target.upstream)}";`);
  if (options.stripPrefix !== undefined) {
    // (?s): a decoded %0A in the path must not end the match early and skip the strip.
    lines.push(`rewrite "(?s)^${options.stripPrefix}(/.*)$" $1 break;`);
  }
  // With a pool, `http://<pool>$request_uri` still names the upstream block: nginx looks a host
  // evaluated at request time up among the upstream blocks before it would resolve it.
  lines.push(`proxy_pass http://${target.pool ?? "$backend"}${options.uri ?? ""};`);
  return lines;
}

/** Upstream block names for upstreamKeepalive; region ids are DNS-label-safe, so these are too. */
export const POOL = {
  nexus: "backend_nexus",
  admin: "backend_admin",
  player: "backend_player",
  paypal: "backend_paypal",
  region: (id: string) => `backend_region_${id}`,
} as const;

export function block(head: string, body: readonly string[]): string[] {
  return [`${head} {`, ...body.map((l) => (l === "" ? "" : `    ${l}`)), "}"];
}

export const COMPRESSIBLE =
  "text/css text/plain text/xml application/javascript application/json application/manifest+json application/wasm image/svg+xml";
