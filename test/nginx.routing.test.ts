/**
 * The generated config on a running nginx (Debian's 1.22) with small echo backends on
 * 127.0.0.1 in place of the APIs and UIs: every seed route reaches the right backend with the
 * right URI and headers, over HTTP, HTTPS and HTTP/2; errors are JSON; a stopped region fails
 * alone; a reload that adds a region drops no request; and, with a stand-in for Docker's DNS,
 * nginx starts and serves while a region's container is missing.
 */
import * as zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderNginxConf } from "../planning/edge/nginx";
import type { NginxRegionRoute, NginxSettings } from "../planning/edge/settings";
import {
  type EchoBackend,
  echoOf,
  type FakeDns,
  type HttpResult,
  http2Get,
  httpRequest,
  pollUntil,
  startEchoBackend,
  startFakeDns,
  upgradeRequest,
} from "./support/net";
import {
  type RunningNginx,
  type Sandbox,
  followDnsChanges,
  makeSandbox,
  startNginx,
  sandboxPaths,
} from "./support/nginx";
import { httpsRedirectSuite } from "./support/redirect";

describe("nginx routing (IP-literal upstreams)", () => {
  let sandbox: Sandbox;
  let nginx: RunningNginx | undefined;
  const backends: Record<string, EchoBackend> = {};
  const names = ["nexus", "admin", "player", "paypal", "orion", "nova", "vega"] as const;

  function settings(ports: { http: number; https: number }, extra: NginxRegionRoute[] = []): NginxSettings {
    const b = (name: (typeof names)[number]) => backends[name]!.address;
    return {
      regions: [
        { id: "orion", upstream: b("orion"), state: "active" },
        { id: "nova", upstream: b("nova"), state: "active" },
        { id: "old", upstream: "127.0.0.1:9", state: "retired" },
        ...extra,
      ],
      defaultRegionId: "orion",
      upstreams: { nexus: b("nexus"), admin: b("admin"), player: b("player"), paypal: b("paypal") },
      resolver: null,
      listen: { address: "127.0.0.1", ...ports },
      ...sandboxPaths(sandbox),
      clientMaxBodySize: "64k",
      apiPrivatePath: "/metrics",
    };
  }

  const get = (path: string, headers: Record<string, string> = {}): Promise<HttpResult> =>
    httpRequest({ port: nginx!.http, path, headers });

  beforeAll(async () => {
    sandbox = makeSandbox();
    sandbox.writeStatic("app.3f2a9c.js", "console.log('plain');\n");
    sandbox.writeStatic("app.3f2a9c.js.gz", zlib.gzipSync("console.log('precompressed');\n"));
    sandbox.writeStatic(".env", "SECRET=1\n");
    for (const name of names) backends[name] = await startEchoBackend(name);
    nginx = await startNginx(sandbox, (ports) => renderNginxConf(settings(ports)));
  });

  afterAll(async () => {
    await nginx?.stop();
    await Promise.all(Object.values(backends).map((b) => b.stop()));
    sandbox?.remove();
  });

  it.each<[string, string, string, string | undefined]>([
    // path sent, backend, URI the backend receives, X-Region-ID
    ["/api/nexus/players/7?fields=name", "nexus", "/players/7?fields=name", undefined],
    ["/api/nexus/", "nexus", "/", undefined],
    ["/api/nexus/a%20b/%E2%9C%93?q=%2F&r=a+b", "nexus", "/a%20b/%E2%9C%93?q=%2F&r=a+b", undefined],
    ["/api/regions/orion/sectors/12?x=1", "orion", "/api/regions/orion/sectors/12?x=1", "orion"],
    ["/api/regions/nova/", "nova", "/api/regions/nova/", "nova"],
    ["/api/regions/nova/a%2Fb?x=%20", "nova", "/api/regions/nova/a%2Fb?x=%20", "nova"],
    ["/api/ships?mine=1", "orion", "/ships?mine=1", "orion"],
    ["/api/regions", "orion", "/regions", "orion"],
    ["/admin/users?page=2", "admin", "/users?page=2", undefined],
    ["/admin/", "admin", "/", undefined],
    // PayPal's webhook and the buyer's return: prefix kept.
    ["/paypal/webhook", "paypal", "/paypal/webhook", undefined],
    ["/paypal/return?token=EC-7Y6&PayerID=QX2", "paypal", "/paypal/return?token=EC-7Y6&PayerID=QX2", undefined],
    ["/", "player", "/", undefined],
    ["/galaxy/map?zoom=3", "player", "/galaxy/map?zoom=3", undefined],
    ["/staticx/a.js", "player", "/staticx/a.js", undefined],
    // Not in the static volume: the player UI's, as the client sent it.
    ["/static/js/main.9d1e7f.js?v=2", "player", "/static/js/main.9d1e7f.js?v=2", undefined],
    ["/static/", "player", "/static/", undefined],
    ["/static/js/", "player", "/static/js/", undefined],
  ])("HTTP %s reaches %s as %s", async (path, backend, uri, regionId) => {
    const res = await get(path);
    expect(res.status, res.body).toBe(200);
    const echo = echoOf(res);
    expect(echo.backend).toBe(backend);
    expect(echo.url).toBe(uri);
    expect(echo.headers.host).toBe("127.0.0.1"); // $host: the Host header without its port
    expect(echo.headers["x-real-ip"]).toBe("127.0.0.1");
    expect(echo.headers["x-forwarded-for"]).toBe("127.0.0.1");
    expect(echo.headers["x-forwarded-proto"]).toBe("http");
    expect(echo.headers["x-region-id"]).toBe(regionId);
    expect(echo.headers["x-request-id"]).toMatch(/^[0-9a-f]{32}$/);
    // The edge's headers replace the upstream's; its banner is hidden; no HSTS on plain HTTP.
    expect(res.headers["x-frame-options"]).toBe("SAMEORIGIN");
    expect(res.headers["x-content-type-options"]).toBe("nosniff");
    expect(res.headers["referrer-policy"]).toBe("strict-origin-when-cross-origin");
    expect(res.headers["content-security-policy"]).toBe("frame-ancestors 'self'");
    expect(res.headers["x-powered-by"]).toBeUndefined();
    expect(res.headers["strict-transport-security"]).toBeUndefined();
    expect(res.headers.server).toBe("nginx");
  });

  it("serves the same routes over HTTPS with X-Forwarded-Proto https and HSTS", async () => {
    for (const [path, backend] of [
      ["/api/nexus/x", "nexus"],
      ["/api/regions/nova/x", "nova"],
      ["/api/x", "orion"],
      ["/admin/x", "admin"],
      ["/x", "player"],
    ] as const) {
      const res = await httpRequest({ port: nginx!.https, path, tls: true });
      expect(res.status, path).toBe(200);
      expect(echoOf(res).backend).toBe(backend);
      expect(echoOf(res).headers["x-forwarded-proto"]).toBe("https");
      expect(res.headers["strict-transport-security"]).toBe("max-age=31536000");
    }
  });

  it("negotiates HTTP/2 on the TLS port and routes over it", async () => {
    const res = await http2Get(nginx!.https, "/api/regions/orion/h2?x=1");
    expect(res.alpn).toBe("h2");
    expect(res.status).toBe(200);
    const echo = echoOf(res);
    expect(echo.backend).toBe("orion");
    expect(echo.url).toBe("/api/regions/orion/h2?x=1");
    expect(echo.headers["x-forwarded-proto"]).toBe("https");
    expect(echo.headers["x-region-id"]).toBe("orion");
    expect(res.headers["strict-transport-security"]).toBe("max-age=31536000");
  });

  it("replaces forged X-Forwarded-For and X-Region-ID instead of passing them on", async () => {
    const forged = { "X-Forwarded-For": "203.0.113.9", "X-Region-ID": "nova", "X-Real-IP": "203.0.113.9" };
    const nexus = echoOf(await get("/api/nexus/x", forged));
    expect(nexus.headers["x-forwarded-for"]).toBe("127.0.0.1");
    expect(nexus.headers["x-real-ip"]).toBe("127.0.0.1");
    expect(nexus.headers["x-region-id"]).toBeUndefined();
    expect(echoOf(await get("/api/regions/orion/x", forged)).headers["x-region-id"]).toBe("orion");
  });

  it("serves static assets with a long cache, precompressed when the client accepts gzip", async () => {
    const plain = await get("/static/app.3f2a9c.js");
    expect(plain.status).toBe(200);
    expect(plain.body).toBe("console.log('plain');\n");
    expect(plain.headers["content-type"]).toBe("application/javascript");
    expect(plain.headers["cache-control"]).toMatch(/max-age=31536000/);
    expect(plain.headers["cache-control"]).toMatch(/public, immutable/);
    expect(plain.headers.expires).toBeDefined();
    expect(plain.headers["x-content-type-options"]).toBe("nosniff");

    const gz = await httpRequest({
      port: nginx!.http,
      path: "/static/app.3f2a9c.js",
      headers: { "Accept-Encoding": "gzip" },
    });
    expect(gz.headers["content-encoding"]).toBe("gzip");
    expect(gz.headers.vary).toMatch(/Accept-Encoding/);

    const dotfile = await get("/static/.env");
    expect(dotfile.status).toBe(404);
    expect(dotfile.body).not.toContain("SECRET");
  });

  it("answers a /static/ file the volume lacks with the player UI's caching headers, never immutable", async () => {
    const own = await get("/static/media/logo.5d5d9eef.svg?cache=no-cache", { "Accept-Encoding": "gzip" });
    expect(own.status).toBe(200);
    expect(echoOf(own).backend).toBe("player");
    expect(own.headers["cache-control"]).toBe("no-cache");
    expect(own.headers.expires).toBeUndefined();
    // No gzip of proxied answers (BREACH), though the volume's files get it.
    expect(own.headers["content-encoding"]).toBeUndefined();
    const none = await get("/static/media/logo.5d5d9eef.svg");
    expect(echoOf(none).backend).toBe("player");
    expect(none.headers["cache-control"]).toBeUndefined();
    expect(none.headers.expires).toBeUndefined();
    expect(none.headers["x-frame-options"]).toBe("SAMEORIGIN");
    // The same request for a file the volume has is the edge's, with the long cache.
    const served = await get("/static/app.3f2a9c.js?cache=no-cache");
    expect(served.body).toBe("console.log('plain');\n");
    expect(served.headers["cache-control"]).toMatch(/public, immutable/);
  });

  it("answers an unknown region with a JSON 404 and a retired one with a JSON 410", async () => {
    for (const path of [
      "/api/regions/andromeda/x",
      "/api/regions/ORION/x",
      "/api/regions/orion-2/",
      "/api/regions/x/y/z",
    ]) {
      const res = await get(path);
      expect(res.status, path).toBe(404);
      expect(res.headers["content-type"]).toBe("application/json");
      expect(JSON.parse(res.body)).toEqual({ error: "unknown_region", status: 404 });
    }
    const retired = await get("/api/regions/old/sectors");
    expect(retired.status).toBe(410);
    expect(retired.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(retired.body)).toEqual({ error: "region_retired", region: "old", status: 410 });
  });

  it("keeps the APIs' metrics path from players in every spelling, and only that path", async () => {
    const spellings = ["/api/nexus/metrics", "/api/nexus//metrics", "/api/nexus/./metrics", "/api/nexus/%6Detrics"];
    for (const path of [...spellings, "/api/metrics?x=1", "/api//metrics", "/api/x/../metrics"]) {
      const res = await get(path);
      expect(res.status, path).toBe(404);
      expect(JSON.parse(res.body), path).toEqual({ error: "not_found", status: 404 });
    }
    for (const [path, backend, uri] of [
      ["/api/nexus/metrics/x", "nexus", "/metrics/x"],
      ["/api/nexus/metricsx", "nexus", "/metricsx"],
      ["/api/regions/orion/metrics", "orion", "/api/regions/orion/metrics"],
    ] as const) {
      const echo = echoOf(await get(path));
      expect([echo.backend, echo.url], path).toEqual([backend, uri]);
    }
  });

  it("refuses a raw URI that names one region while nginx routed it to another", async () => {
    const res = await get("/api/regions/orion/../nova/x");
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toEqual({ error: "bad_request", status: 400 });
    expect(backends.nova!.requests()).toBeGreaterThan(0); // sanity: nova itself is reachable
  });

  it("redirects a prefix without its slash, relative to the public port", async () => {
    const res = await get("/admin");
    expect(res.status).toBe(301);
    expect(res.headers.location).toBe("/admin/");
  });

  it("takes PayPal webhook bodies up to its own 1m limit (JSON 413 above), while the APIs keep theirs", async () => {
    const post = (path: string, bytes: number) =>
      httpRequest({
        port: nginx!.http,
        path,
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Forwarded-For": "203.0.113.9" },
        body: Buffer.alloc(bytes, "a"),
      });
    const webhook = await post("/paypal/webhook", 900 * 1024);
    expect(webhook.status, webhook.body).toBe(200);
    expect(echoOf(webhook)).toMatchObject({ backend: "paypal", method: "POST", url: "/paypal/webhook" });
    expect(echoOf(webhook).bodyBytes).toBe(900 * 1024);
    expect(echoOf(webhook).headers["x-forwarded-for"]).toBe("127.0.0.1");
    const tooBig = await post("/paypal/webhook", 1024 * 1024 + 1);
    expect(tooBig.status).toBe(413);
    expect(tooBig.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(tooBig.body)).toEqual({ error: "request_too_large", status: 413 });
    // The same body on an API route meets the 64k of this config.
    expect((await post("/api/nexus/upload", 900 * 1024)).status).toBe(413);
  });

  it("caches no PayPal answer: every request reaches the service, no-store unless it sets its own", async () => {
    const paypal = backends.paypal!;
    const before = paypal.requests();
    for (const port of [nginx!.http, nginx!.http, nginx!.https]) {
      const res = await httpRequest({ port, path: "/paypal/return?token=EC-1", tls: port === nginx!.https });
      expect(res.status).toBe(200);
      expect(res.headers["cache-control"]).toBe("no-store");
      expect(res.headers.expires).toBeUndefined();
      expect(res.headers["x-frame-options"]).toBe("SAMEORIGIN");
    }
    expect(paypal.requests() - before, "requests that reached the PayPal service").toBe(3);
    const own = await get(`/paypal/logo.svg?cache=${encodeURIComponent("public, max-age=600")}`);
    expect(own.headers["cache-control"]).toBe("public, max-age=600");
    // Only PayPal's route adds no-store.
    expect((await get("/api/nexus/x")).headers["cache-control"]).toBeUndefined();
  });

  it("refuses a body over the limit with JSON 413 and passes one under it", async () => {
    const big = await httpRequest({
      port: nginx!.http,
      path: "/api/nexus/upload",
      method: "POST",
      body: Buffer.alloc(65 * 1024),
    });
    expect(big.status).toBe(413);
    expect(JSON.parse(big.body)).toEqual({ error: "request_too_large", status: 413 });
    const small = await httpRequest({
      port: nginx!.http,
      path: "/api/nexus/upload",
      method: "POST",
      body: Buffer.alloc(60 * 1024),
    });
    expect(small.status).toBe(200);
    expect(echoOf(small).bodyBytes).toBe(60 * 1024);
  });

  it("passes WebSocket upgrades through to the region", async () => {
    const ws = await upgradeRequest(nginx!.http, "/api/regions/nova/ws");
    try {
      expect(ws.status).toBe(101);
      expect(ws.headers["x-echo-backend"]).toBe("nova");
      expect(ws.headers["x-echo-url"]).toBe("/api/regions/nova/ws");
      expect(await ws.roundTrip("ping")).toBe("ping");
    } finally {
      ws.close();
    }
  });

  it("adds a region on reload without failing a single request meanwhile", async () => {
    const vega = { id: "vega", upstream: backends.vega!.address, state: "active" as const };
    expect((await get("/api/regions/vega/x")).status).toBe(404);

    const failures: string[] = [];
    let answered = 0;
    let done = false;
    const deadline = Date.now() + 30_000;
    const client = async (path: string, backend: string) => {
      for (let i = 0; i < 3_000 && !done && Date.now() < deadline; i++) {
        try {
          const res = await get(path);
          if (res.status === 200 && echoOf(res).backend === backend) answered++;
          else failures.push(`${path}: ${res.status} ${res.body}`);
        } catch (err) {
          failures.push(`${path}: ${String(err)}`);
        }
      }
    };
    const clients = [
      client("/api/regions/orion/ping", "orion"),
      client("/api/regions/nova/ping", "nova"),
      client("/api/nexus/ping", "nexus"),
    ];
    // A request that is still in flight while the old workers shut down.
    const slow = get("/api/regions/orion/slow?delay=300");

    await pollUntil("the clients to be under way", () => (answered >= 30 ? true : undefined));
    nginx!.reload(renderNginxConf(settings({ http: nginx!.http, https: nginx!.https }, [vega])));
    const first = await pollUntil("the new region to answer", async () => {
      const res = await get("/api/regions/vega/x?y=1");
      return res.status === 200 ? res : undefined;
    });
    const afterReload = answered;
    await pollUntil("the clients to go on after the reload", () => (answered >= afterReload + 30 ? true : undefined));
    done = true;
    await Promise.all(clients);

    expect(failures).toEqual([]);
    expect((await slow).status).toBe(200);
    expect(echoOf(first)).toMatchObject({ backend: "vega", url: "/api/regions/vega/x?y=1" });
    expect(echoOf(first).headers["x-region-id"]).toBe("vega");
  });

  it("answers 502 (JSON) for a region whose backend is down, and keeps serving every other route", async () => {
    await backends.nova!.stop();
    try {
      const down = await get("/api/regions/nova/x");
      expect(down.status).toBe(502);
      expect(down.headers["content-type"]).toBe("application/json");
      expect(JSON.parse(down.body)).toEqual({ error: "bad_gateway", status: 502 });
      for (const [path, backend] of [
        ["/api/regions/orion/x", "orion"],
        ["/api/regions/vega/x", "vega"],
        ["/api/x", "orion"],
        ["/api/nexus/x", "nexus"],
        ["/admin/x", "admin"],
        ["/x", "player"],
      ] as const) {
        const res = await get(path);
        expect(res.status, path).toBe(200);
        expect(echoOf(res).backend).toBe(backend);
      }
    } finally {
      await backends.nova!.start();
    }
    await pollUntil("nova to answer again", async () =>
      (await get("/api/regions/nova/x")).status === 200 ? true : undefined,
    );
  });
});

httpsRedirectSuite();

describe("nginx with request-time DNS (a stand-in for Docker's embedded DNS)", () => {
  let sandbox: Sandbox;
  let dns: FakeDns;
  let nginx: RunningNginx | undefined;
  const backends: EchoBackend[] = [];
  let ports: Record<"nexus" | "admin" | "player" | "paypal" | "orion" | "ghost", number>;

  beforeAll(async () => {
    sandbox = makeSandbox();
    const start = async (name: string) => {
      const b = await startEchoBackend(name);
      backends.push(b);
      return b.port;
    };
    ports = {
      nexus: await start("nexus"),
      admin: await start("admin"),
      player: await start("player"),
      paypal: await start("paypal"),
      orion: await start("orion"),
      ghost: await start("ghost"),
    };
    // ghost's container "does not exist": its name is not in DNS.
    dns = await startFakeDns({
      "nexus.sw.test": "127.0.0.1",
      "admin.sw.test": "127.0.0.1",
      "player.sw.test": "127.0.0.1",
      "paypal.sw.test": "127.0.0.1",
      "orion.sw.test": "127.0.0.1",
    });
    nginx = await startNginx(sandbox, (listen) =>
      renderNginxConf({
        regions: [
          { id: "orion", upstream: `orion.sw.test:${ports.orion}`, state: "active" },
          { id: "ghost", upstream: `ghost.sw.test:${ports.ghost}`, state: "active" },
        ],
        defaultRegionId: "orion",
        upstreams: {
          nexus: `nexus.sw.test:${ports.nexus}`,
          admin: `admin.sw.test:${ports.admin}`,
          player: `player.sw.test:${ports.player}`,
          paypal: `paypal.sw.test:${ports.paypal}`,
        },
        resolver: dns.address,
        resolverValidSeconds: 1,
        listen: { address: "127.0.0.1", ...listen },
        ...sandboxPaths(sandbox),
      }),
    );
  });

  afterAll(async () => {
    await nginx?.stop();
    await Promise.all(backends.map((b) => b.stop()));
    await dns?.stop();
    sandbox?.remove();
  });

  const get = (path: string) => httpRequest({ port: nginx!.http, path });

  it("starts while a region's name does not resolve, without resolving anything up front", () => {
    expect(nginx).toBeDefined();
    for (const name of ["nexus", "admin", "player", "paypal", "orion", "ghost"])
      expect(dns.queries(`${name}.sw.test`), name).toBe(0);
  });

  it("answers 502 for the missing region only", async () => {
    const missing = await get("/api/regions/ghost/x");
    expect(missing.status).toBe(502);
    expect(JSON.parse(missing.body)).toEqual({ error: "bad_gateway", status: 502 });
    expect(dns.queries("ghost.sw.test")).toBeGreaterThan(0);
    for (const [path, backend] of [
      ["/api/regions/orion/x", "orion"],
      ["/api/x", "orion"],
      ["/api/nexus/x", "nexus"],
      ["/admin/x", "admin"],
      ["/x", "player"],
    ] as const) {
      const res = await get(path);
      expect(res.status, path).toBe(200);
      expect(echoOf(res).backend).toBe(backend);
    }
  });

  it("reaches a region once its container exists, and a recreated one at its new address, without a reload", async () => {
    const { ghost, movedOrion } = await followDnsChanges(get, dns, ports.orion);
    backends.push(movedOrion);
    expect(echoOf(ghost)).toMatchObject({ backend: "ghost", url: "/api/regions/ghost/x" });
  });
});
