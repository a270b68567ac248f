/**
 * nginx.conf for the edge proxy, as a pure function of its settings: the rendering. What the
 * settings are and how they are validated is in planning/edge/settings.ts, what an nginx version
 * can do in planning/edge/capabilities.ts.
 *
 * Every route of the seed's config/nginx/default.conf is kept, with its bugs fixed:
 * - the seed built `region_${uuid}_backend` upstream names that matched no upstream block, so
 *   every region route failed; here each region gets its own location generated from the list;
 * - the seed resolved every upstream name once, at start, so one missing region container kept
 *   nginx from starting at all; here names are resolved at request time (variables in
 *   proxy_pass + `resolver`), so a missing region answers 502 and every other route keeps working.
 *
 * URIs the upstreams receive (the seed's behaviour, kept):
 *   /api/nexus/x  -> nexus  /x                        (prefix stripped)
 *   /api/regions/<id>/x -> region <id> /api/regions/<id>/x   (full URI, as the client sent it,
 *                                                      plus X-Region-ID: <id>)
 *   /api/x        -> default region /x                (prefix stripped, X-Region-ID: default id)
 *   /admin/x      -> admin UI /x                      (prefix stripped)
 *   /paypal/x     -> PayPal service /paypal/x         (prefix kept: its webhook and return URLs)
 *   /static/x     -> the static volume's file, else player UI /static/x   (as the client sent it)
 *   /x            -> player UI /x                     (as the client sent it)
 * Query strings are always kept. Stripped URIs are the normalized ones nginx routed on (as a
 * `proxy_pass http://host/;` would send).
 */
import { createHash } from "node:crypto";
import { type HostPort, POOL, SECURITY_HEADERS, type Target, block, hostPort, json, proxy } from "./text";
import {
  PAYPAL_CACHE_MAP,
  acmeChallengeLocation,
  healthzLocation,
  httpRedirectServer,
  paypalLocation,
  staticLocations,
} from "./routes";
import { type NginxSettings, type Region, type Valid, validateNginxSettings } from "./settings";

/** The route prefixes; what each upstream receives is in the file comment. */
export const ROUTES = {
  healthz: "/healthz",
  static: "/static/",
  nexus: "/api/nexus/",
  regions: "/api/regions/",
  legacyApi: "/api/",
  admin: "/admin/",
  paypal: "/paypal/",
  player: "/",
} as const;

/** What the PayPal service must answer (POST, as received: prefix kept); exported as urls.paypalWebhook. */
export const PAYPAL_WEBHOOK_PATH = `${ROUTES.paypal}webhook`;

export function regionPrefix(id: string): string {
  return `${ROUTES.regions}${id}/`;
}

/**
 * One upstream block per backend, for upstreamKeepalive > 0. Rendered before the server block:
 * a static proxy_pass that came first would declare an implicit upstream of the same name.
 */
function upstreamBlocks(v: Valid): string[] {
  const backends: [string, HostPort][] = [
    [POOL.nexus, v.nexus],
    ...v.regions.filter((r) => r.state === "active").map((r) => [POOL.region(r.id), r.upstream] as [string, HostPort]),
    [POOL.admin, v.admin],
    [POOL.player, v.player],
    [POOL.paypal, v.paypal],
  ];
  return [
    "# Keepalive pools (upstreamKeepalive): one upstream block per backend. nginx >= 1.27.3 re-resolves",
    "# `server name:port resolve` through the resolver above while it runs, as the variable-based",
    "# proxy_pass did per request: a name that does not resolve (a missing container) leaves its",
    "# block without servers, so its routes answer 502 and nginx still starts and reloads; a",
    "# recreated container's new address replaces the old one. zone: the resolved addresses live in",
    "# memory shared by the workers, which `resolve` requires.",
    "# max_fails=0: an address that refused a connection (a restarting container) is tried again",
    "# on the next request, as without a pool, instead of being skipped for fail_timeout when a",
    "# name has several addresses (with one, nginx never skips it anyway).",
    "# keepalive: idle connections kept per worker. keepalive_timeout 4s: below the 5 s idle timeout",
    "# of Node.js and uvicorn servers, so nginx closes an idle connection before the backend does and",
    "# never sends a request (a POST is not retried) on a connection the backend is closing.",
    ...(v.currentContainers.size === 0
      ? []
      : [
          "# A pool whose first server is a container's own name (one host): a swap starts the successor",
          "# under a new name, and the reload before the old container stops gives new workers pools",
          "# that resolve only that name. A reload copies a pool's addresses from the old workers' pool",
          "# of the same server name, so a pool of the shared name would keep the old container's address",
          "# until it expires, and a request sent there after the container is gone waits out the connect",
          "# timeout and fails (504), its pool re-resolved meanwhile. The shared name is the backup, used",
          "# only while the new name is not resolved yet (the first milliseconds after the reload) or",
          "# when its container refuses.",
        ]),
    ...backends.flatMap(([name, upstream]) => {
      const current = upstream.isIp ? undefined : v.currentContainers.get(name);
      const servers =
        current === undefined
          ? [`server ${hostPort(upstream)}${upstream.isIp ? "" : " resolve"} max_fails=0;`]
          : [
              `server ${current}:${upstream.port} resolve max_fails=0;`,
              `server ${hostPort(upstream)} resolve backup max_fails=0;`,
            ];
      return block(`upstream ${name}`, [
        `zone ${name} 64k;`,
        ...servers,
        `keepalive ${v.upstreamKeepalive};`,
        "keepalive_timeout 4s;",
      ]);
    }),
    "",
  ];
}

/**
 * The APIs' private path (their metrics) on the routes that strip a prefix: exact locations win
 * over every prefix, and nginx matches them on the normalized, decoded URI the strip rewrites, so
 * no spelling of the path (//, /./, %2F) reaches an API as the bare path.
 */
function privateApiLocations(path: string | null): string[] {
  if (path === null) return [];
  const notFound = [`return 404 ${json({ error: "not_found", status: 404 })};`];
  return [
    "# The game APIs' metrics are Prometheus's only (monitoring.apiMetricsPath).",
    ...block(`location = /api/nexus${path}`, notFound),
    ...block(`location = /api${path}`, notFound),
    "",
  ];
}

function regionLocation(r: Region, pooled: boolean): string[] {
  const prefix = regionPrefix(r.id);
  if (r.state === "retired") {
    return block(`location ^~ ${prefix}`, [
      `return 410 ${json({ error: "region_retired", region: r.id, status: 410 })};`,
    ]);
  }
  return block(`location ^~ ${prefix}`, [
    `if ($request_uri !~ "^${prefix}") {`,
    `    return 400 ${json({ error: "bad_request", status: 400 })};`,
    "}",
    ...proxy(
      { upstream: r.upstream, pool: pooled ? POOL.region(r.id) : null },
      { regionId: r.id, uri: "$request_uri" },
    ),
  ]);
}

const MIME_TYPES = [
  "text/html html htm;",
  "text/css css;",
  "text/plain txt;",
  "text/xml xml;",
  "application/javascript js mjs;",
  "application/json json map;",
  "application/manifest+json webmanifest;",
  "application/wasm wasm;",
  "application/pdf pdf;",
  "image/svg+xml svg;",
  "image/png png;",
  "image/jpeg jpg jpeg;",
  "image/gif gif;",
  "image/webp webp;",
  "image/avif avif;",
  "image/x-icon ico;",
  "font/woff woff;",
  "font/woff2 woff2;",
  "font/ttf ttf;",
  "font/otf otf;",
  "audio/mpeg mp3;",
  "audio/ogg ogg;",
  "audio/wav wav;",
  "video/mp4 mp4;",
  "video/webm webm;",
];

/**
 * The run of the access log line that the per-region request counts are read from
 * (planning/monitoring/edgeLog.ts builds its pattern from this text): kept together, in this order.
 */
export const EDGE_LOG_STATUS_TO_REGION =
  '"status":"$status","bytes":"$body_bytes_sent","request_time":"$request_time","region":"$region_id"';

const LOG_FORMAT = [
  "{",
  '"time":"$time_iso8601",',
  '"request_id":"$request_id",',
  '"remote":"$remote_addr",',
  '"scheme":"$scheme",',
  '"protocol":"$server_protocol",',
  '"method":"$request_method",',
  '"uri":"$request_uri",',
  `${EDGE_LOG_STATUS_TO_REGION},`,
  '"upstream":"$upstream_addr",',
  '"upstream_status":"$upstream_status",',
  '"upstream_time":"$upstream_response_time",',
  '"user_agent":"$http_user_agent"',
  "}",
].join("");

export function renderNginxConf(settings: NginxSettings): string {
  const v = validateNginxSettings(settings);
  const pooled = v.upstreamKeepalive > 0;
  const target = (upstream: HostPort, pool: string): Target => ({ upstream, pool: pooled ? pool : null });
  const errorPage = (status: number, error: string): string[] =>
    block(`location @error_${status}`, [`return ${status} ${json({ error, status })};`]);

  const server = block("server", [
    // With the redirect, plain HTTP has a server of its own (below); this one is HTTPS only.
    ...(v.httpsRedirect === null ? [`listen ${v.listenHttp};`] : []),
    "# `listen ... ssl http2` rather than `http2 on;`: nginx 1.22 (Debian, where the tests run) has",
    "# no http2 directive, and nginx >= 1.25.1 (the nginx:alpine image) still accepts this form and",
    "# only logs a deprecation warning. One text that both accept beats two that drift apart.",
    `listen ${v.listenHttps} ssl http2;`,
    `ssl_certificate ${v.certificate};`,
    `ssl_certificate_key ${v.certificateKey};`,
    "",
    "# Every body nginx writes itself (errors, 404/410 for regions) is JSON; /static/ overrides it.",
    "default_type application/json;",
    "# Empty except on region routes and legacy /api/; an empty X-Region-ID is not sent, so a",
    "# client cannot smuggle its own X-Region-ID to any upstream.",
    'set $region_id "";',
    "",
    ...SECURITY_HEADERS,
    "",
    "# The APIs answer in JSON, so do nginx's own gateway errors (a stopped region, a slow API).",
    "# Errors the upstreams send themselves pass through untouched (proxy_intercept_errors off).",
    "error_page 413 @error_413;",
    "error_page 502 @error_502;",
    "error_page 503 @error_503;",
    "error_page 504 @error_504;",
    "",
    ...healthzLocation(ROUTES.healthz),
    // Without the redirect, plain HTTP is this server: it answers the CA's HTTP-01 requests here.
    ...(v.httpsRedirect === null && v.acmeChallengeRoot !== null
      ? ["", ...acmeChallengeLocation(v.acmeChallengeRoot)]
      : []),
    "",
    ...staticLocations(ROUTES.static, v.staticRoot, target(v.player, POOL.player)),
    "",
    ...privateApiLocations(v.apiPrivatePath),
    ...block(`location ^~ ${ROUTES.nexus}`, proxy(target(v.nexus, POOL.nexus), { stripPrefix: "/api/nexus" })),
    "",
    "# Region ids that are not in the list: a JSON 404, not a 502 or an HTML page.",
    ...block(`location ^~ ${ROUTES.regions}`, [`return 404 ${json({ error: "unknown_region", status: 404 })};`]),
    "",
    "# One location per region (the seed's region_${id}_backend names matched no upstream).",
    "# A region gets the full URI as the client sent it, and X-Region-ID. nginx chose the location",
    "# from the normalized URI (/api/regions/a/../b/ is region b), so a raw URI that names another",
    "# region is refused rather than sent to a region it does not belong to.",
    ...v.regions.flatMap((r, i) => [...(i === 0 ? [] : [""]), ...regionLocation(r, pooled)]),
    "",
    `# Legacy clients: /api/... goes to the default region (${v.defaultRegion.id}), prefix stripped.`,
    ...block(
      `location ^~ ${ROUTES.legacyApi}`,
      proxy(target(v.defaultRegion.upstream, POOL.region(v.defaultRegion.id)), {
        stripPrefix: "/api",
        regionId: v.defaultRegion.id,
      }),
    ),
    "",
    ...block(`location ^~ ${ROUTES.admin}`, proxy(target(v.admin, POOL.admin), { stripPrefix: "/admin" })),
    "",
    ...paypalLocation(ROUTES.paypal, target(v.paypal, POOL.paypal)),
    "",
    ...block(`location ${ROUTES.player}`, proxy(target(v.player, POOL.player), {})),
    "",
    ...errorPage(413, "request_too_large"),
    ...errorPage(502, "bad_gateway"),
    ...errorPage(503, "service_unavailable"),
    ...errorPage(504, "gateway_timeout"),
  ]);

  const http = block("http", [
    "# The version in Server headers and error pages only helps match known CVEs.",
    "server_tokens off;",
    "",
    "# Self-contained (no include of mime.types), so the file means the same in any image or test.",
    ...block("types", MIME_TYPES),
    "default_type application/octet-stream;",
    "",
    "# One JSON object per line: the region and upstream timing are what an incident needs.",
    `log_format edge escape=json '${LOG_FORMAT}';`,
    v.accessLog === null ? "access_log off;" : `access_log ${v.accessLog} edge;`,
    "",
    "# nginx creates every module's temp directory at start, used or not: keep them all in one",
    "# place the runtime owns, so nothing is written to the image's defaults.",
    `client_body_temp_path ${v.tempDir}/client_body;`,
    `proxy_temp_path ${v.tempDir}/proxy;`,
    `fastcgi_temp_path ${v.tempDir}/fastcgi;`,
    `uwsgi_temp_path ${v.tempDir}/uwsgi;`,
    `scgi_temp_path ${v.tempDir}/scgi;`,
    "",
    "# Static files go from the page cache to the socket without a copy through user space, in",
    "# full packets.",
    "sendfile on;",
    "tcp_nopush on;",
    "# Browsers reuse a connection for the page's API calls; 65 s outlives their usual polling gap.",
    "keepalive_timeout 65s;",
    "# A slow or stalled client (slowloris) must not hold a connection for nginx's 60 s defaults.",
    "client_header_timeout 15s;",
    "client_body_timeout 15s;",
    "send_timeout 30s;",
    "# Free a timed-out client's socket at once instead of leaving it in FIN_WAIT.",
    "reset_timedout_connection on;",
    "# Bodies larger than this are refused here, before they reach an API.",
    `client_max_body_size ${v.clientMaxBodySize};`,
    "# Session tokens in cookies and Authorization headers can exceed the default 8k.",
    "large_client_header_buffers 4 16k;",
    "# Redirects (e.g. /admin -> /admin/) stay relative: behind Docker's port mapping nginx does",
    "# not know the public port (dev publishes 8443, not 443).",
    "absolute_redirect off;",
    "# No gzip on proxied responses: compressing secrets next to reflected input over TLS is what",
    "# BREACH exploits. The APIs and UIs compress themselves where it is safe.",
    "gzip off;",
    "",
    ...(v.resolver === null
      ? ["# Every upstream is an IP literal: nothing to resolve, so no resolver."]
      : [
          "# Names are resolved per request, cached for a short time: a region container that is",
          "# missing makes only its own routes fail (nginx starts and reloads anyway), and a",
          "# container recreated with a new IP is reached within seconds, not at the next reload.",
          "# ipv6=off: Docker networks here are IPv4-only; AAAA lookups would only add latency.",
          `resolver ${v.resolver} valid=${v.resolverValidSeconds}s ipv6=off;`,
          "resolver_timeout 5s;",
        ]),
    "",
    ...(pooled
      ? [
          ...upstreamBlocks(v),
          "# HTTP/1.1: pooled connections and WebSocket upgrades (game updates, dev-server hot",
          "# reload) both need it.",
        ]
      : [
          "# No keepalive pool to the upstreams, on purpose. Reusing upstream connections needs an",
          "# upstream{} block with `keepalive`, and open-source nginx before 1.27.3 resolves the server",
          "# names of an upstream block once, at start: one missing region container then stops nginx",
          "# from starting or reloading, and a recreated container keeps being sent to its old IP.",
          "# Request-time resolution (a variable in proxy_pass + resolver) cannot use such a block.",
          "# The price is one TCP handshake per request over the local Docker bridge (no TLS), far",
          "# below a millisecond. With nginx >= 1.27.3 everywhere (Debian's is 1.22), a zone'd upstream",
          "# with `server name:port resolve` + `keepalive` would give both.",
          "# HTTP/1.1 still: WebSocket upgrades (game updates, dev-server hot reload) need it.",
        ]),
    "proxy_http_version 1.1;",
    "proxy_set_header Upgrade $http_upgrade;",
    "proxy_set_header Connection $connection_upgrade;",
    "proxy_set_header Host $host;",
    "proxy_set_header X-Real-IP $remote_addr;",
    "# nginx is the first hop: an X-Forwarded-For sent by the client is forged by definition, so it",
    "# is replaced, not appended to ($proxy_add_x_forwarded_for would let clients choose their IP).",
    "proxy_set_header X-Forwarded-For $remote_addr;",
    "proxy_set_header X-Forwarded-Proto $scheme;",
    "proxy_set_header X-Region-ID $region_id;",
    "# The same id is in the access log, so one request can be followed across services.",
    "proxy_set_header X-Request-ID $request_id;",
    "# Connecting on a local bridge is instant or never. 2 s outlasts one lost SYN (resent after 1 s),",
    "# and is all a request pays when it meets the address of a container a deploy just removed",
    "# (nginx keeps resolved names for the resolver's valid time): it is then sent to the other",
    "# address of the name, its successor (proxy_next_upstream error timeout, the default).",
    "proxy_connect_timeout 2s;",
    "proxy_send_timeout 60s;",
    "# WebSocket clients must send something within this time (a ping) or are disconnected.",
    "proxy_read_timeout 60s;",
    "# Framework banners say what to attack; the edge's own security headers are the only copies",
    "# (two differing X-Frame-Options make browsers ignore both).",
    "proxy_hide_header X-Powered-By;",
    "proxy_hide_header X-Frame-Options;",
    "proxy_hide_header X-Content-Type-Options;",
    "proxy_hide_header Referrer-Policy;",
    "proxy_hide_header Strict-Transport-Security;",
    "",
    // A plain request asks the backend to close (no pool) or sends no Connection header at all,
    // which HTTP/1.1 reads as keep-alive (pool); an upgrade request always passes "upgrade" on.
    ...(pooled
      ? ["# Connection: upgrade for upgrades; else no Connection header, so the pooled connection stays open."]
      : []),
    ...block("map $http_upgrade $connection_upgrade", ["default upgrade;", pooled ? '"" "";' : '"" close;']),
    "",
    "# A year of HTTPS-only; not includeSubDomains: sibling hosts are not ours to decide. Browsers",
    "# ignore HSTS from a certificate they do not trust, so the dev self-signed one is safe.",
    ...block("map $scheme $hsts", ['https "max-age=31536000";', 'default "";']),
    "",
    ...PAYPAL_CACHE_MAP,
    "",
    '# Mozilla "intermediate": TLS 1.2+ with forward-secret AEAD ciphers only; HTTP/2 rejects',
    "# the weaker suites anyway. All listed ciphers are strong, so clients pick (ChaCha on phones).",
    "ssl_protocols TLSv1.2 TLSv1.3;",
    "ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305;",
    "ssl_prefer_server_ciphers off;",
    "# Resumed sessions skip the key exchange; one cache shared by all workers (~40k sessions).",
    "ssl_session_cache shared:SSL:10m;",
    "ssl_session_timeout 1d;",
    "# Ticket keys never rotate while nginx runs, which would void forward secrecy.",
    "ssl_session_tickets off;",
    "",
    ...(v.httpsRedirect === null
      ? []
      : [...httpRedirectServer({ listen: v.listenHttp, healthz: ROUTES.healthz, ...v.httpsRedirect }), ""]),
    ...server,
  ]);

  return [
    // The path before planning/ had folders, kept: this line is in every deployed nginx.conf, and
    // changing it would restart (swarm) or replace every edge on the next up.
    "# Generated by the SectorWars Pulumi program (planning/nginx.ts). Changes here are overwritten.",
    "# Its sha256 triggers the reload, so it holds nothing that changes between runs.",
    "",
    ...(v.user === null
      ? []
      : [
          `# Workers drop root; only the master keeps it, to bind ports 80/443 and read the TLS key.`,
          `user ${v.user};`,
        ]),
    "# nginx is event driven: one worker per CPU, more only adds context switches.",
    "worker_processes auto;",
    "# Every proxied request holds two descriptors (client and upstream).",
    "worker_rlimit_nofile 16384;",
    `pid ${v.pidFile};`,
    "# warn, not error: failed name lookups and upstream trouble are what the log is for.",
    `error_log ${v.errorLog} warn;`,
    "",
    ...block("events", [
      "# 4096 connections = about 2000 proxied requests in flight per worker.",
      "worker_connections 4096;",
    ]),
    "",
    ...http,
    "",
  ].join("\n");
}

/** sha256 (hex) of the rendered nginx.conf: the trigger that reloads nginx when it changes. */
export function nginxConfHash(settings: NginxSettings): string {
  return createHash("sha256").update(renderNginxConf(settings)).digest("hex");
}
