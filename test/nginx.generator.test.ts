/**
 * renderNginxConf as a pure function: what it renders for given settings, what it refuses, and
 * properties over random region lists. Real nginx runs the output in nginx.real/routing tests.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { nginxConfHash, renderNginxConf } from "../planning/edge/nginx";
import { supportsUpstreamResolve } from "../planning/edge/capabilities";
import type { NginxRegionRoute, NginxSettings } from "../planning/edge/settings";
import { REGION_ID_PATTERN } from "../planning/config/regions";
import { regionListArb, upstreamArb } from "./support/nginx";

const base: NginxSettings = {
  regions: [
    { id: "orion", upstream: "region-orion-api:8000", state: "active" },
    { id: "nova", upstream: "region-nova-api:8000", state: "active" },
    { id: "old", upstream: "region-old-api:8000", state: "retired" },
  ],
  defaultRegionId: "orion",
  upstreams: {
    nexus: "nexus-api:8000",
    admin: "admin-ui:3000",
    player: "player-ui:3000",
    paypal: "paypal-service:8080",
  },
  resolver: "127.0.0.11",
  listen: { http: 80, https: 443 },
  tls: { certificate: "/etc/nginx/tls/server.crt", certificateKey: "/etc/nginx/tls/server.key" },
  staticRoot: "/var/www/html",
  runtime: {
    pidFile: "/var/run/nginx.pid",
    errorLog: "/var/log/nginx/error.log",
    accessLog: "/var/log/nginx/access.log",
    tempDir: "/var/cache/nginx",
    user: "nginx",
  },
};

type Change = Partial<Omit<NginxSettings, "runtime" | "listen" | "upstreams" | "tls" | "httpsRedirect">> & {
  httpsRedirect?: Partial<NonNullable<NginxSettings["httpsRedirect"]>>;
  runtime?: Partial<NginxSettings["runtime"]>;
  listen?: Partial<NginxSettings["listen"]>;
  upstreams?: Partial<NginxSettings["upstreams"]>;
  tls?: Partial<NginxSettings["tls"]>;
};

/** base with a change applied one level deep. */
function withChange({ httpsRedirect, ...change }: Change): NginxSettings {
  return {
    ...base,
    ...change,
    runtime: { ...base.runtime, ...change.runtime },
    listen: { ...base.listen, ...change.listen },
    upstreams: { ...base.upstreams, ...change.upstreams },
    tls: { ...base.tls, ...change.tls },
    ...(httpsRedirect === undefined ? {} : { httpsRedirect: { ...REDIRECT, ...httpsRedirect } }),
  };
}

/** An HTTPS redirect as the edge renders it for a public HTTPS port other than 443. */
const REDIRECT = { origin: "https://play.example.com:8443", acmeChallengeRoot: "/var/www/html/static" };

/** The config without comment lines and indentation, for matching directives. */
function directives(conf: string): string[] {
  return conf
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}

/** The body lines of the block that starts with `head` (nested blocks flattened). */
function blockOf(conf: string, head: string): string[] {
  const lines = directives(conf);
  const start = lines.indexOf(`${head} {`);
  if (start < 0) throw new Error(`no block "${head}" in:\n${conf}`);
  const body: string[] = [];
  let depth = 1;
  for (const line of lines.slice(start + 1)) {
    if (line.endsWith("{")) depth++;
    if (line === "}") depth--;
    if (depth === 0) return body;
    body.push(line);
  }
  throw new Error(`block "${head}" is not closed`);
}

const locationHeads = (conf: string): string[] => directives(conf).filter((l) => l.startsWith("location "));

describe("renderNginxConf: examples", () => {
  const conf = renderNginxConf(base);

  it.each<[string, Change, RegExp[]]>([
    ["request-time DNS with the given resolver", {}, [/^\s*resolver 127\.0\.0\.11 valid=10s ipv6=off;$/m]],
    ["a custom resolver lifetime", { resolverValidSeconds: 2 }, [/^\s*resolver 127\.0\.0\.11 valid=2s ipv6=off;$/m]],
    ["a resolver with a port", { resolver: "10.0.0.2:5353" }, [/^\s*resolver 10\.0\.0\.2:5353 valid=10s ipv6=off;$/m]],
    ["an IPv6 resolver in brackets", { resolver: "fd00::53" }, [/^\s*resolver \[fd00::53\] valid=10s/m]],
    ["the listen ports without address", {}, [/^\s*listen 80;$/m, /^\s*listen 443 ssl http2;$/m]],
    [
      "the listen address",
      { listen: { address: "127.0.0.1", http: 8080, https: 8443 } },
      [/^\s*listen 127\.0\.0\.1:8080;$/m, /^\s*listen 127\.0\.0\.1:8443 ssl http2;$/m],
    ],
    ["an IPv6 listen address", { listen: { address: "::1", http: 8080, https: 8443 } }, [/^\s*listen \[::1\]:8080;$/m]],
    ["the worker user", {}, [/^user nginx;$/m]],
    [
      "the runtime paths",
      {},
      [
        /^pid \/var\/run\/nginx\.pid;$/m,
        /^error_log \/var\/log\/nginx\/error\.log warn;$/m,
        /^\s*access_log \/var\/log\/nginx\/access\.log edge;$/m,
        /^\s*proxy_temp_path \/var\/cache\/nginx\/proxy;$/m,
      ],
    ],
    ["no access log", { runtime: { accessLog: null } }, [/^\s*access_log off;$/m]],
    [
      "TLS files",
      {},
      [
        /^\s*ssl_certificate \/etc\/nginx\/tls\/server\.crt;$/m,
        /^\s*ssl_certificate_key \/etc\/nginx\/tls\/server\.key;$/m,
      ],
    ],
    ["the default body size limit", {}, [/^\s*client_max_body_size 1m;$/m]],
    ["a custom body size limit", { clientMaxBodySize: "256k" }, [/^\s*client_max_body_size 256k;$/m]],
    [
      "hardening",
      {},
      [
        /^\s*server_tokens off;$/m,
        /^\s*ssl_protocols TLSv1\.2 TLSv1\.3;$/m,
        /^\s*proxy_connect_timeout 2s;$/m,
        /^\s*proxy_read_timeout 60s;$/m,
      ],
    ],
    [
      "HSTS on HTTPS only",
      {},
      [
        /^\s*https "max-age=31536000";$/m,
        /^\s*default "";$/m,
        /^\s*add_header Strict-Transport-Security \$hsts always;$/m,
      ],
    ],
  ])("renders %s", (_what, change, patterns) => {
    const text = renderNginxConf(withChange(change));
    for (const p of patterns) expect(text).toMatch(p);
  });

  it("leaves out what is not asked for", () => {
    const text = renderNginxConf(
      withChange({
        resolver: null,
        runtime: { user: null },
        regions: [{ id: "orion", upstream: "127.0.0.1:18001", state: "active" }],
        upstreams: {
          nexus: "127.0.0.1:18000",
          admin: "127.0.0.1:18002",
          player: "[::1]:18003",
          paypal: "127.0.0.1:18004",
        },
      }),
    );
    expect(text).not.toMatch(/^\s*resolver /m);
    expect(text).not.toMatch(/^\s*user /m);
    expect(text).toContain('set $backend "[::1]:18003";');
  });

  it("serves /static/ from the static root with a long cache and precompressed files", () => {
    const body = blockOf(conf, "location ^~ /static/");
    expect(body).toEqual(
      expect.arrayContaining([
        "root /var/www/html;",
        "try_files $uri @player;",
        "expires 1y;",
        'add_header Cache-Control "public, immutable";',
        "gzip_static on;",
        // add_header in the location replaces the server's, so the security headers are repeated.
        'add_header X-Content-Type-Options "nosniff" always;',
        "add_header Strict-Transport-Security $hsts always;",
      ]),
    );
  });

  it("falls back from /static/ to the player UI in a named location that sets no caching headers", () => {
    expect(blockOf(conf, "location @player")).toEqual([
      'set $backend "player-ui:3000";',
      "proxy_pass http://$backend;",
    ]);
  });

  it("strips /api/nexus for the nexus API, as the seed's `proxy_pass http://nexus_backend/;`", () => {
    expect(blockOf(conf, "location ^~ /api/nexus/")).toEqual([
      'set $backend "nexus-api:8000";',
      'rewrite "(?s)^/api/nexus(/.*)$" $1 break;',
      "proxy_pass http://$backend;",
    ]);
  });

  it("sends the full request URI to a region, with X-Region-ID, and refuses raw URIs that name another region", () => {
    const body = blockOf(conf, "location ^~ /api/regions/nova/");
    expect(body).toEqual([
      'if ($request_uri !~ "^/api/regions/nova/") {',
      'return 400 \'{"error":"bad_request","status":400}\\n\';',
      "}",
      'set $region_id "nova";',
      'set $backend "region-nova-api:8000";',
      "proxy_pass http://$backend$request_uri;",
    ]);
    expect(conf).toMatch(/^\s*proxy_set_header X-Region-ID \$region_id;$/m);
  });

  it("answers 410 with JSON for a retired region and never contacts its upstream", () => {
    expect(blockOf(conf, "location ^~ /api/regions/old/")).toEqual([
      `return 410 '{"error":"region_retired","region":"old","status":410}\\n';`,
    ]);
    expect(conf).not.toContain("region-old-api");
  });

  it("answers 404 with JSON for any other region id", () => {
    expect(blockOf(conf, "location ^~ /api/regions/")).toEqual([
      `return 404 '{"error":"unknown_region","status":404}\\n';`,
    ]);
  });

  it("sends legacy /api/ to the default region with the prefix stripped", () => {
    expect(blockOf(conf, "location ^~ /api/")).toEqual([
      'set $region_id "orion";',
      'set $backend "region-orion-api:8000";',
      'rewrite "(?s)^/api(/.*)$" $1 break;',
      "proxy_pass http://$backend;",
    ]);
  });

  it("sends /paypal/ to the PayPal service with the prefix kept, its own body limit and no-store by default", () => {
    const body = blockOf(conf, "location ^~ /paypal/");
    expect(
      body.filter((l) => !l.startsWith("add_header X-") && !/^add_header (Content-Security|Referrer|Strict)/.test(l)),
    ).toEqual([
      "client_max_body_size 1m;",
      "add_header Cache-Control $paypal_cache_control always;",
      'set $backend "paypal-service:8080";',
      "proxy_pass http://$backend;",
    ]);
    // add_header in the location replaces the server's, so the security headers are repeated.
    expect(body).toContain('add_header X-Frame-Options "SAMEORIGIN" always;');
    expect(blockOf(conf, "map $upstream_http_cache_control $paypal_cache_control")).toEqual([
      '"" "no-store";',
      'default "";',
    ]);
    // No proxy cache anywhere, and the route sets no proxy_set_header (the http block's apply).
    expect(directives(conf).filter((l) => /^proxy_cache|^proxy_store/.test(l))).toEqual([]);
    expect(body.filter((l) => l.startsWith("proxy_set_header"))).toEqual([]);
    // Keeps its limit whatever the game APIs get.
    expect(blockOf(renderNginxConf(withChange({ clientMaxBodySize: "64k" })), "location ^~ /paypal/")).toContain(
      "client_max_body_size 1m;",
    );
  });

  it("strips /admin for the admin UI and passes everything else to the player UI", () => {
    expect(blockOf(conf, "location ^~ /admin/")).toContain('rewrite "(?s)^/admin(/.*)$" $1 break;');
    expect(blockOf(conf, "location ^~ /admin/")).toContain('set $backend "admin-ui:3000";');
    expect(blockOf(conf, "location /")).toEqual(['set $backend "player-ui:3000";', "proxy_pass http://$backend;"]);
  });

  it("sends the seed's proxy headers on every proxied route", () => {
    for (const header of [
      "Host $host",
      "X-Real-IP $remote_addr",
      "X-Forwarded-For $remote_addr",
      "X-Forwarded-Proto $scheme",
    ]) {
      expect(conf).toContain(`proxy_set_header ${header};`);
    }
    // proxy_set_header is inherited only by locations that set none of their own.
    expect(directives(blockOf(conf, "server").join("\n")).filter((l) => l.startsWith("proxy_set_header"))).toEqual([]);
  });

  it("resolves every upstream at request time: no upstream block, no proxy_pass without a variable", () => {
    expect(conf).not.toMatch(/^\s*upstream /m);
    const passes = directives(conf).filter((l) => l.startsWith("proxy_pass "));
    expect(passes.length).toBeGreaterThan(0);
    for (const p of passes) expect(p).toMatch(/^proxy_pass http:\/\/\$backend(\$request_uri)?;$/);
    expect(directives(conf).join("\n")).not.toMatch(/region_\S*_backend/); // the seed's broken names
  });

  it("has the /healthz that the container health check polls", () => {
    expect(blockOf(conf, "location = /healthz")).toEqual([
      "access_log off;",
      "default_type text/plain;",
      'return 200 "ok\\n";',
    ]);
  });
});

describe("renderNginxConf: refused settings", () => {
  const region = (
    id: string,
    upstream = "127.0.0.1:9000",
    state: NginxRegionRoute["state"] = "active",
  ): NginxRegionRoute => ({ id, upstream, state });

  it.each<[string, Change, RegExp]>([
    [
      "duplicate ids",
      { regions: [region("orion"), region("nova"), region("orion", "127.0.0.1:9001")] },
      /duplicate region id "orion"/,
    ],
    ["a missing default region", { defaultRegionId: "vega" }, /default region "vega" is not in regions/],
    ["a retired default region", { defaultRegionId: "old" }, /default region "old" is retired/],
    ["no regions at all", { regions: [] }, /default region "orion" is not in regions/],
    [
      "an uppercase id",
      { regions: [region("Orion")], defaultRegionId: "Orion" },
      /regions\[0\]\.id "Orion" must be a lowercase slug or UUID/,
    ],
    ["an id with a slash", { regions: [region("orion"), region("a/b")] }, /regions\[1\]\.id "a\/b"/],
    [
      "an id that would end a directive",
      { regions: [region("orion"), region("x;return")] },
      /regions\[1\]\.id "x;return"/,
    ],
    ["an id with a quote", { regions: [region("orion"), region('x"y')] }, /regions\[1\]\.id "x\\"y"/],
    ["an id starting with a hyphen", { regions: [region("orion"), region("-x")] }, /regions\[1\]\.id "-x"/],
    ["an id of 41 characters", { regions: [region("orion"), region("a".repeat(41))] }, /regions\[1\]\.id/],
    ["an empty id", { regions: [region("orion"), region("")] }, /regions\[1\]\.id ""/],
    [
      "an unknown state",
      { regions: [region("orion"), { id: "x", upstream: "127.0.0.1:1", state: "paused" as "active" }] },
      /regions\[1\]\.state "paused"/,
    ],
    [
      "an upstream without port",
      { regions: [region("orion", "region-orion-api")] },
      /regions\[0\]\.upstream \(region orion\) "region-orion-api" must be "host:port"/,
    ],
    [
      "an upstream with a scheme",
      { upstreams: { nexus: "http://nexus-api:8000" } },
      /upstreams\.nexus "http:\/\/nexus-api:8000" must be "host:port"/,
    ],
    [
      "an upstream with a path",
      { upstreams: { admin: "admin-ui:3000/x" } },
      /upstreams\.admin "admin-ui:3000\/x": port "3000\/x" must be 1-65535/,
    ],
    ["port 0", { upstreams: { player: "player-ui:0" } }, /upstreams\.player "player-ui:0": port "0" must be 1-65535/],
    ["port 65536", { upstreams: { player: "player-ui:65536" } }, /port "65536" must be 1-65535/],
    [
      "an upstream that would inject a directive",
      { upstreams: { nexus: "a;b:80" } },
      /upstreams\.nexus "a;b:80": "a;b" is not a valid host name/,
    ],
    ["an upstream with a space", { upstreams: { nexus: "a b:80" } }, /"a b" is not a valid host name/],
    ["an upstream with a variable", { upstreams: { nexus: "$host:80" } }, /"\$host" is not a valid host name/],
    ["a bad IPv4 address", { upstreams: { nexus: "10.0.0.300:80" } }, /"10\.0\.0\.300" is not a valid IPv4 address/],
    ["a bad IPv6 address", { upstreams: { nexus: "[::g]:80" } }, /"::g" is not an IPv6 address/],
    [
      "a bad retired upstream",
      { regions: [region("orion"), region("old", "nope", "retired")] },
      /regions\[1\]\.upstream \(region old\) "nope"/,
    ],
    [
      "a host name without resolver",
      { resolver: null },
      /region nova uses host name "region-nova-api" but resolver is null/,
    ],
    [
      "a PayPal host name without resolver",
      {
        resolver: null,
        regions: [region("orion")],
        upstreams: { nexus: "127.0.0.1:1", admin: "127.0.0.1:2", player: "127.0.0.1:3" },
      },
      /upstreams\.paypal uses host name "paypal-service" but resolver is null/,
    ],
    [
      "a PayPal upstream without port",
      { upstreams: { paypal: "paypal-service" } },
      /upstreams\.paypal "paypal-service" must be "host:port"/,
    ],
    ["a resolver given by name", { resolver: "dns.example" }, /resolver "dns\.example" must be an IP address/],
    ["a resolver with port 0", { resolver: "127.0.0.11:0" }, /resolver "127\.0\.0\.11:0": port "0"/],
    [
      "a resolver that would inject a directive",
      { resolver: "127.0.0.11; include /etc/passwd" },
      /resolver "127\.0\.0\.11; include \/etc\/passwd" must be an IP address/,
    ],
    ["equal listen ports", { listen: { http: 8080, https: 8080 } }, /listen\.http and listen\.https are both 8080/],
    ["a listen port of 0", { listen: { http: 0 } }, /listen\.http 0 must be an integer port 1-65535/],
    ["a fractional listen port", { listen: { https: 443.5 } }, /listen\.https 443\.5 must be an integer port/],
    [
      "a listen address by name",
      { listen: { address: "localhost" } },
      /listen\.address "localhost" must be an IPv4 or IPv6 address/,
    ],
    ["a relative path", { staticRoot: "www" }, /staticRoot "www" must be an absolute path/],
    [
      "a path with a space",
      { tls: { certificate: "/etc/my certs/a.crt" } },
      /tls\.certificate "\/etc\/my certs\/a\.crt" must be an absolute path/,
    ],
    [
      "a path with a semicolon",
      { runtime: { errorLog: "/x;y" } },
      /runtime\.errorLog "\/x;y" must be an absolute path/,
    ],
    ["a path with a variable", { runtime: { accessLog: "/var/log/$host.log" } }, /runtime\.accessLog/],
    ["a path with a brace", { runtime: { tempDir: "/tmp/}" } }, /runtime\.tempDir/],
    ["a bad user name", { runtime: { user: "nginx;" } }, /runtime\.user "nginx;" must be a user name or null/],
    [
      "a redirect to plain HTTP",
      { httpsRedirect: { origin: "http://play.example.com" } },
      /httpsRedirect\.origin "http:\/\/play\.example\.com" must be "https:\/\/<host name>"/,
    ],
    [
      "a redirect origin with a path",
      { httpsRedirect: { origin: "https://play.example.com/" } },
      /httpsRedirect\.origin "https:\/\/play\.example\.com\/" must be .*without a path/,
    ],
    [
      "a redirect origin that would inject a directive",
      { httpsRedirect: { origin: "https://a;return 200 x" } },
      /httpsRedirect\.origin "https:\/\/a;return 200 x" must be/,
    ],
    [
      "a redirect origin with a variable",
      { httpsRedirect: { origin: "https://$host" } },
      /httpsRedirect\.origin "https:\/\/\$host" must be/,
    ],
    [
      "a redirect origin with port 0",
      { httpsRedirect: { origin: "https://play.example.com:0" } },
      /httpsRedirect\.origin "https:\/\/play\.example\.com:0": port "0" must be 1-65535/,
    ],
    [
      "a relative ACME challenge root",
      { httpsRedirect: { acmeChallengeRoot: "acme" } },
      /httpsRedirect\.acmeChallengeRoot "acme" must be an absolute path/,
    ],
    [
      "an API private path that would close the location",
      { apiPrivatePath: "/metrics { return 200" },
      /apiPrivatePath "\/metrics \{ return 200" must be an absolute path/,
    ],
    ["a body size in gigabytes", { clientMaxBodySize: "1g" }, /clientMaxBodySize "1g" must be a positive nginx size/],
    ["a zero body size", { clientMaxBodySize: "0" }, /clientMaxBodySize "0"/],
    [
      "a resolver lifetime of 0",
      { resolverValidSeconds: 0 },
      /resolverValidSeconds 0 must be an integer from 1 to 3600/,
    ],
  ])("refuses %s", (_what, change, message) => {
    const settings = withChange(change);
    expect(() => renderNginxConf(settings)).toThrow(message);
    expect(() => nginxConfHash(settings)).toThrow(message);
  });

  it("refuses every id that does not match the pattern, whatever it contains", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 45 }), (id) => {
        fc.pre(!REGION_ID_PATTERN.test(id));
        expect(() => renderNginxConf(withChange({ regions: [region("orion"), region(id)] }))).toThrow(
          /regions\[1\]\.id/,
        );
      }),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Properties over random region lists

/** Valid settings with 1-30 regions (docker-style paths from `base`). */
const settingsArb: fc.Arbitrary<NginxSettings> = regionListArb().map((list) => withChange(list));

describe("renderNginxConf: properties", () => {
  it("gives every region exactly one route, to its own upstream (active) or a 410 (retired)", () => {
    fc.assert(
      fc.property(settingsArb, (settings) => {
        const conf = renderNginxConf(settings);
        const regionHeads = locationHeads(conf).filter(
          (h) => h.startsWith("location ^~ /api/regions/") && h !== "location ^~ /api/regions/ {",
        );
        expect(regionHeads).toHaveLength(settings.regions.length);
        for (const r of settings.regions) {
          expect(regionHeads.filter((h) => h === `location ^~ /api/regions/${r.id}/ {`)).toHaveLength(1);
          const body = blockOf(conf, `location ^~ /api/regions/${r.id}/`);
          if (r.state === "active") {
            expect(body).toContain(`set $backend "${r.upstream}";`);
            expect(body).toContain(`set $region_id "${r.id}";`);
          } else {
            expect(body).toEqual([`return 410 '{"error":"region_retired","region":"${r.id}","status":410}\\n';`]);
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it("is deterministic and independent of the order of regions", () => {
    fc.assert(
      fc.property(
        settingsArb.chain((s) =>
          fc
            .shuffledSubarray([...s.regions], { minLength: s.regions.length })
            .map((shuffled) => [s, { ...s, regions: shuffled }] as const),
        ),
        ([settings, reordered]) => {
          expect(renderNginxConf(settings)).toBe(renderNginxConf(settings));
          expect(nginxConfHash(reordered)).toBe(nginxConfHash(settings));
          expect(nginxConfHash(settings)).toMatch(/^[0-9a-f]{64}$/);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("changes the hash when a region is added, retired or moved", () => {
    fc.assert(
      fc.property(settingsArb, upstreamArb, (settings, upstream) => {
        const before = nginxConfHash(settings);
        const added = {
          ...settings,
          regions: [...settings.regions, { id: "zz-added-region", upstream, state: "active" as const }],
        };
        fc.pre(!settings.regions.some((r) => r.id === "zz-added-region"));
        expect(nginxConfHash(added)).not.toBe(before);
        const first = settings.regions[0]!;
        const moved = {
          ...settings,
          regions: settings.regions.map((r) =>
            r === first ? { ...r, upstream: upstream === r.upstream ? "10.9.9.9:1" : upstream } : r,
          ),
        };
        expect(nginxConfHash(moved)).not.toBe(before);
        const other = settings.regions.find((r) => r.id !== settings.defaultRegionId && r.state === "active");
        if (other) {
          const retired = {
            ...settings,
            regions: settings.regions.map((r) => (r === other ? { ...r, state: "retired" as const } : r)),
          };
          expect(nginxConfHash(retired)).not.toBe(before);
        }
      }),
      { numRuns: 100 },
    );
  });

  it("renders balanced blocks where every directive is terminated", () => {
    fc.assert(
      fc.property(settingsArb, (settings) => {
        let depth = 0;
        for (const line of directives(renderNginxConf(settings))) {
          if (line.endsWith("{")) depth++;
          else if (line === "}") depth--;
          else expect(line).toMatch(/;$/);
          expect(depth).toBeGreaterThanOrEqual(0);
        }
        expect(depth).toBe(0);
      }),
      { numRuns: 100 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// httpsRedirect: plain HTTP redirects, except the health check and ACME challenges

describe("renderNginxConf: httpsRedirect", () => {
  const redirecting = renderNginxConf(withChange({ httpsRedirect: {} }));

  it("is off unless set: plain HTTP and HTTPS share one server, as before the setting existed", () => {
    expect(directives(renderNginxConf(base)).filter((l) => l === "server {")).toHaveLength(1);
    expect(renderNginxConf(base)).not.toContain("return 301");
  });

  it("gives plain HTTP a server that answers 301 to the configured origin, but not for /healthz and ACME", () => {
    expect(blockOf(redirecting, "server")).toEqual([
      "listen 80;",
      "location = /healthz {",
      "access_log off;",
      "default_type text/plain;",
      'return 200 "ok\\n";',
      "}",
      "location ^~ /.well-known/acme-challenge/ {",
      "root /var/www/html/static;",
      "default_type text/plain;",
      "try_files $uri =404;",
      "}",
      "location / {",
      "return 301 https://play.example.com:8443$request_uri;",
      "}",
    ]);
  });

  it("leaves the HTTPS server as it was, but for plain HTTP's listen", () => {
    const httpsServer = (conf: string) => conf.slice(conf.lastIndexOf("\n    server {\n"));
    expect(httpsServer(redirecting)).toBe(httpsServer(renderNginxConf(base)).replace("\n        listen 80;", ""));
    expect(httpsServer(redirecting)).toContain("listen 443 ssl http2;");
    expect(httpsServer(redirecting)).not.toMatch(/listen 80;|return 301/);
    // Everything before the servers is the same text too, the redirect's comment aside.
    const before = renderNginxConf(base).slice(0, renderNginxConf(base).indexOf("\n    server {\n"));
    expect(redirecting.startsWith(before)).toBe(true);
    const added = redirecting.slice(before.length, redirecting.indexOf("\n    server {\n")).split("\n").filter(Boolean);
    expect(
      added.every((l) => l.trim().startsWith("#")),
      added.join("\n"),
    ).toBe(true);
  });

  it("redirects on the listen address it is given, with or without keepalive pools", () => {
    const local = renderNginxConf(
      withChange({ httpsRedirect: {}, listen: { address: "127.0.0.1", http: 8080, https: 8443 } }),
    );
    expect(blockOf(local, "server")[0]).toBe("listen 127.0.0.1:8080;");
    const pooled = renderNginxConf(withChange({ httpsRedirect: {}, upstreamKeepalive: 8 }));
    expect(blockOf(pooled, "server")).toEqual(blockOf(redirecting, "server"));
  });
});

// ---------------------------------------------------------------------------------------------
// upstreamKeepalive: pools in upstream blocks instead of a variable proxy_pass

/** What each proxied location sends where: the backend's host:port, however it is named. */
interface RouteTarget {
  location: string;
  backend: string;
  /** What follows the host in proxy_pass ("" or "$request_uri"). */
  uri: string;
  /** Every other directive of the location (rewrite, set $region_id, the 400 guard). */
  rest: string[];
}

function routeTargets(conf: string): RouteTarget[] {
  const server = blockOf(conf, "server");
  return locationHeads(server.join("\n"))
    .map((head) => head.slice(0, -2))
    .flatMap((location): RouteTarget[] => {
      const body = blockOf(conf, location);
      const pass = body.find((l) => l.startsWith("proxy_pass "));
      if (pass === undefined) return [];
      const [, host = "", uri = ""] =
        /^proxy_pass http:\/\/(\$backend|backend_[a-z0-9_-]+)(\$request_uri)?;$/.exec(pass) ?? [];
      let backend: string;
      if (host === "$backend") {
        backend = /^set \$backend "(.*)";$/.exec(body.find((l) => l.startsWith("set $backend ")) ?? "")?.[1] ?? "";
      } else {
        const servers = blockOf(conf, `upstream ${host}`).filter((l) => l.startsWith("server "));
        expect(servers, `upstream ${host}`).toHaveLength(1);
        backend = /^server (\S+)/.exec(servers[0]!)?.[1] ?? "";
      }
      expect(backend, `${location}: ${pass}`).not.toBe("");
      return [{ location, backend, uri, rest: body.filter((l) => l !== pass && !l.startsWith("set $backend ")) }];
    });
}

describe("renderNginxConf: upstreamKeepalive", () => {
  const pooled = renderNginxConf({ ...base, upstreamKeepalive: 16 });

  it("is off by default: 0 renders exactly the text of an unset value", () => {
    expect(renderNginxConf({ ...base, upstreamKeepalive: 0 })).toBe(renderNginxConf(base));
    expect(renderNginxConf(base)).not.toMatch(/^\s*(upstream|keepalive) /m);
  });

  it("gives each active backend an upstream block with a shared zone, `resolve` and the pool", () => {
    const upstreams = directives(pooled).filter((l) => l.startsWith("upstream "));
    expect(upstreams).toEqual([
      "upstream backend_nexus {",
      "upstream backend_region_nova {",
      "upstream backend_region_orion {",
      "upstream backend_admin {",
      "upstream backend_player {",
      "upstream backend_paypal {",
    ]);
    expect(blockOf(pooled, "upstream backend_region_orion")).toEqual([
      "zone backend_region_orion 64k;",
      "server region-orion-api:8000 resolve max_fails=0;",
      "keepalive 16;",
      "keepalive_timeout 4s;",
    ]);
    // The retired region answers 410 without a backend, so it gets no pool.
    expect(pooled).not.toContain("backend_region_old");
    // Blocks before the server block: a static proxy_pass seen first would declare its own.
    expect(pooled.indexOf("upstream backend_paypal {")).toBeLessThan(pooled.indexOf("server {"));
  });

  it("does not ask to resolve IP literals", () => {
    const conf = renderNginxConf(
      withChange({
        upstreamKeepalive: 4,
        resolver: null,
        regions: [{ id: "orion", upstream: "10.0.0.5:8000", state: "active" }],
        upstreams: { nexus: "10.0.0.2:8000", admin: "[::1]:3000", player: "10.0.0.4:3000", paypal: "10.0.0.6:8080" },
      }),
    );
    expect(blockOf(conf, "upstream backend_admin")).toContain("server [::1]:3000 max_fails=0;");
    expect(directives(conf).filter((l) => / resolve|^resolver /.test(l))).toEqual([]);
  });

  it("proxies to the pools over HTTP/1.1 and sends Connection only for upgrades", () => {
    const passes = directives(pooled).filter((l) => l.startsWith("proxy_pass "));
    expect(passes).toEqual([
      "proxy_pass http://backend_player;", // @player, the /static/ fallback
      "proxy_pass http://backend_nexus;",
      "proxy_pass http://backend_region_nova$request_uri;",
      "proxy_pass http://backend_region_orion$request_uri;",
      "proxy_pass http://backend_region_orion;",
      "proxy_pass http://backend_admin;",
      "proxy_pass http://backend_paypal;",
      "proxy_pass http://backend_player;",
    ]);
    expect(pooled).not.toContain("$backend");
    expect(directives(pooled)).toContain("proxy_http_version 1.1;");
    expect(directives(pooled)).toContain("proxy_set_header Connection $connection_upgrade;");
    expect(blockOf(pooled, "map $http_upgrade $connection_upgrade")).toEqual(["default upgrade;", '"" "";']);
    // Without pools, a plain request still asks the backend to close.
    expect(blockOf(renderNginxConf(base), "map $http_upgrade $connection_upgrade")).toEqual([
      "default upgrade;",
      '"" close;',
    ]);
  });

  it("keeps everything that is not about reaching a backend", () => {
    const strip = (conf: string) =>
      directives(conf).filter(
        (l) => !/^(proxy_pass |set \$backend |upstream |zone |server \S+:\d+|keepalive|"" |\})/.test(l),
      );
    expect(strip(pooled)).toEqual(strip(renderNginxConf(base)).filter((l) => !l.startsWith("upstream ")));
  });

  it.each<[string, number, RegExp]>([
    ["a negative pool", -1, /upstreamKeepalive -1 must be an integer from 0 \(off\) to 1024/],
    ["a fraction", 1.5, /upstreamKeepalive 1.5 must be an integer/],
    ["a pool above the limit", 1025, /upstreamKeepalive 1025 must be an integer/],
  ])("refuses %s", (_label, upstreamKeepalive, message) => {
    expect(() => renderNginxConf({ ...base, upstreamKeepalive })).toThrow(message);
  });

  it("still needs a resolver for host names", () => {
    expect(() => renderNginxConf({ ...base, resolver: null, upstreamKeepalive: 8 })).toThrow(/needs a resolver/);
  });

  it("routes every location to the same backend, with the same URI and directives, as without pools", () => {
    fc.assert(
      fc.property(settingsArb, fc.integer({ min: 1, max: 1024 }), (settings, upstreamKeepalive) => {
        const plain = renderNginxConf(settings);
        const conf = renderNginxConf({ ...settings, upstreamKeepalive });
        expect(routeTargets(conf)).toEqual(routeTargets(plain));
        expect(locationHeads(conf)).toEqual(locationHeads(plain));
        // One pool per active region and per core backend (nexus, admin, player, PayPal), none for retired regions.
        const active = settings.regions.filter((r) => r.state === "active").length;
        expect(directives(conf).filter((l) => l.startsWith("upstream "))).toHaveLength(active + 4);
        expect(directives(conf).filter((l) => l === `keepalive ${upstreamKeepalive};`)).toHaveLength(active + 4);
      }),
      { numRuns: 200 },
    );
  });
});

describe("renderNginxConf: currentContainers", () => {
  const current = { nexus: "nexus-api-1a2b3c4d", regions: { orion: "region-orion-api-5e6f7a8b" } };
  const pooled = renderNginxConf({ ...base, upstreamKeepalive: 16, currentContainers: current });

  it("pools on the current container's own name first, the shared name as backup", () => {
    expect(blockOf(pooled, "upstream backend_region_orion")).toEqual([
      "zone backend_region_orion 64k;",
      "server region-orion-api-5e6f7a8b:8000 resolve max_fails=0;",
      "server region-orion-api:8000 resolve backup max_fails=0;",
      "keepalive 16;",
      "keepalive_timeout 4s;",
    ]);
    expect(blockOf(pooled, "upstream backend_nexus").filter((l) => l.startsWith("server "))).toEqual([
      "server nexus-api-1a2b3c4d:8000 resolve max_fails=0;",
      "server nexus-api:8000 resolve backup max_fails=0;",
    ]);
    // A backend left out pools on its shared name alone.
    expect(blockOf(pooled, "upstream backend_region_nova").filter((l) => l.startsWith("server "))).toEqual([
      "server region-nova-api:8000 resolve max_fails=0;",
    ]);
  });

  it("changes nothing without pools, and nothing for an IP literal", () => {
    expect(renderNginxConf({ ...base, currentContainers: current })).toBe(renderNginxConf(base));
    const literal = withChange({ upstreamKeepalive: 4, upstreams: { nexus: "10.0.0.2:8000" } });
    expect(blockOf(renderNginxConf({ ...literal, currentContainers: current }), "upstream backend_nexus")).toContain(
      "server 10.0.0.2:8000 max_fails=0;",
    );
  });

  it("routes every location as pools on the shared names do", () => {
    const shared = renderNginxConf({ ...base, upstreamKeepalive: 16 });
    expect(locationHeads(pooled)).toEqual(locationHeads(shared));
    expect(directives(pooled).filter((l) => l.startsWith("proxy_pass "))).toEqual(
      directives(shared).filter((l) => l.startsWith("proxy_pass ")),
    );
  });

  it.each<[string, NginxSettings["currentContainers"], RegExp]>([
    ["a name with a space", { admin: "admin ui" }, /currentContainers.admin "admin ui" is not a valid host name/],
    ["a name that closes the directive", { paypal: "p;" }, /currentContainers.paypal "p;" is not a valid host name/],
    [
      "a region that is not listed",
      { regions: { vega: "v-1" } },
      /currentContainers.regions names "vega", which is not an active region/,
    ],
    [
      "a retired region",
      { regions: { old: "o-1" } },
      /currentContainers.regions names "old", which is not an active region/,
    ],
    [
      "a name that is not a string",
      { player: 7 as unknown as string },
      /currentContainers.player 7 is not a valid host name/,
    ],
  ])("refuses %s", (_label, currentContainers, message) => {
    expect(() => renderNginxConf({ ...base, upstreamKeepalive: 8, currentContainers })).toThrow(message);
  });
});

describe("supportsUpstreamResolve", () => {
  it.each([
    ["1.22.1", false],
    ["1.9.15", false],
    ["1.27", false],
    ["1.27.2", false],
    ["1.27.3", true],
    ["1.28", true],
    ["1.30.6", true],
    ["2.0", true],
  ])("nginx %s → %s", (version, expected) => {
    expect(supportsUpstreamResolve(version)).toBe(expected);
  });
});
