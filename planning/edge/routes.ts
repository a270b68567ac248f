/**
 * Routes of the edge's nginx.conf that planning/edge/nginx.ts wires in: /static/ with its fallback to
 * the player UI, /paypal/, the health check, and the plain-HTTP server that redirects to HTTPS.
 * Pure text from validated settings (the generator validates before it calls these).
 */
import { COMPRESSIBLE, SECURITY_HEADERS, type Target, block, json, proxy } from "./text";

/** The named location that answers /static/ requests the static volume cannot. */
export const PLAYER_FALLBACK = "@player";

/**
 * /static/ from the static volume (mounted at `<staticRoot>/static`), and the player UI for
 * every file the volume does not hold: the volume is empty until something fills it, and a
 * Create React App build keeps its bundles under /static/, so without the fallback such a UI
 * loads a blank page. The long cache and gzip below apply only to files served from the volume:
 * a request that falls back is answered in PLAYER_FALLBACK with the player UI's own headers,
 * never marked immutable.
 */
export function staticLocations(staticPrefix: string, staticRoot: string, player: Target): string[] {
  return [
    ...block(`location ^~ ${staticPrefix}`, [
      `root ${staticRoot};`,
      // $uri, not $uri/: a directory (/static/, /static/js/) is no asset either.
      `try_files $uri ${PLAYER_FALLBACK};`,
      "default_type application/octet-stream;",
      "# Asset names carry a content hash: a changed file is a new URL, so browsers may keep them.",
      "expires 1y;",
      'add_header Cache-Control "public, immutable";',
      ...SECURITY_HEADERS.filter((l) => !l.startsWith("#")),
      "# The build ships .gz next to each asset: no CPU spent compressing at request time.",
      "gzip_static on;",
      "# Files without a .gz still get compressed (public files only: see BREACH note in http).",
      "gzip on;",
      `gzip_types ${COMPRESSIBLE};`,
      "gzip_vary on;",
      "# Dotfiles (.gitkeep, .env left by a build, the fill's own bookkeeping) are never assets.",
      "location ~ /\\. {",
      "    default_type application/json;",
      `    return 404 ${json({ error: "not_found", status: 404 })};`,
      "}",
    ]),
    "",
    "# What the static volume does not hold: the player UI answers, URI unchanged, with its own",
    "# caching headers (this location sets none, so nothing here is marked immutable).",
    ...block(`location ${PLAYER_FALLBACK}`, proxy(player, {})),
  ];
}

/**
 * Largest body the PayPal route accepts, whatever the game APIs get (clientMaxBodySize). PayPal's
 * webhook events are JSON, typically under 64 KB and rarely larger; a refused one is retried by
 * PayPal for a few days and then dropped, which loses a payment notification. So the limit leaves
 * room for the rare large event rather than fitting the typical one: accepting 1 MB costs nginx a
 * temp file at most, and the service checks the signature before it trusts any of it.
 */
export const PAYPAL_MAX_BODY_SIZE = "1m";

/**
 * http-level: `no-store` for a PayPal answer that carries no Cache-Control of its own, nothing
 * (add_header skips empty values) when the service chose one.
 */
export const PAYPAL_CACHE_MAP = [
  "# PayPal answers (a buyer's return page, a capture result) are per buyer and single-use: no",
  "# browser or shared cache may keep one unless the PayPal service says otherwise.",
  ...block("map $upstream_http_cache_control $paypal_cache_control", ['"" "no-store";', 'default "";']),
];

/**
 * PayPal's calls (webhooks) and the buyer's way back from PayPal (return and cancel URLs) reach
 * the PayPal service, prefix kept: it receives /paypal/..., so its own routes match the public
 * URLs it registers with PayPal. Client IP headers as on every route; nothing cached.
 */
export function paypalLocation(prefix: string, paypal: Target): string[] {
  return block(`location ^~ ${prefix}`, [
    `client_max_body_size ${PAYPAL_MAX_BODY_SIZE};`,
    "add_header Cache-Control $paypal_cache_control always;",
    ...SECURITY_HEADERS.filter((l) => !l.startsWith("#")),
    ...proxy(paypal, {}),
  ]);
}

/** The edge's own health: what the container health check polls, over plain HTTP inside the container. */
export function healthzLocation(path: string): string[] {
  return [
    "# The container health check polls this: it must not depend on any upstream, and logging it",
    "# would only flood the access log.",
    `location = ${path} {`,
    "    access_log off;",
    "    default_type text/plain;",
    '    return 200 "ok\\n";',
    "}",
  ];
}

/** Where ACME HTTP-01 validation fetches its token (RFC 8555 section 8.3): plain HTTP, port 80. */
export const ACME_CHALLENGE_PREFIX = "/.well-known/acme-challenge/";

/** Tokens an ACME client (lego --http.webroot, certbot --webroot) writes as files under `root`. */
export function acmeChallengeLocation(root: string): string[] {
  return [
    // Worded as before edge.acme: every deployed nginx.conf has this line, a new one would reload them.
    "# Tokens an ACME client (certbot --webroot) writes as files; a missing one is a plain 404.",
    ...block(`location ^~ ${ACME_CHALLENGE_PREFIX}`, [
      `root ${root};`,
      "default_type text/plain;",
      "try_files $uri =404;",
    ]),
  ];
}

/**
 * The plain-HTTP server when HTTPS is enforced: everything answers 301 to the same URI on the
 * public HTTPS origin, except the health check (the container's own, over plain HTTP inside the
 * container) and ACME HTTP-01 challenges (a CA validates those on port 80 and must not be sent
 * elsewhere to renew the certificate).
 */
export function httpRedirectServer(s: {
  listen: string;
  healthz: string;
  origin: string;
  acmeChallengeRoot: string;
}): string[] {
  return [
    "# Plain HTTP redirects to HTTPS (edge.httpsRedirect). The Location is the configured public",
    "# origin, not $host: the certificate is for that name, and behind Docker's port mapping nginx",
    "# cannot know the public HTTPS port (dev publishes 8443), which is also why absolute_redirect",
    "# stays off for nginx's own redirects.",
    ...block("server", [
      `listen ${s.listen};`,
      "",
      ...healthzLocation(s.healthz),
      "",
      ...acmeChallengeLocation(s.acmeChallengeRoot),
      "",
      ...block("location /", [`return 301 ${s.origin}$request_uri;`]),
    ]),
  ];
}
