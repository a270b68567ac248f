/**
 * upstreamKeepalive on a real nginx >= 1.27.3 (Debian testing's, built once by
 * scripts/build-test-nginx.sh): the pooled config passes `nginx -t` with names that do not
 * resolve, routes every route kind as the default config does, starts while a region's name is
 * missing (that route answers 502, the others work), follows names that appear or move without a
 * reload, and really reuses backend connections. Debian's 1.22 must reject it, which is why the
 * setting is off by default.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SECRET_KEYS, type SecretKey, parseConfig } from "../planning/config";
import { edgeNginxSettings } from "../planning/edge/plan";
import { renderNginxConf } from "../planning/edge/nginx";
import { supportsUpstreamResolve } from "../planning/edge/capabilities";
import type { NginxRegionRoute, NginxSettings } from "../planning/edge/settings";
import { planStack } from "../planning/stack/topology";
import { rawOf } from "./support/configs";
import {
  type EchoBackend,
  echoOf,
  type FakeDns,
  httpRequest,
  pollUntil,
  startEchoBackend,
  startFakeDns,
  upgradeRequest,
} from "./support/net";
import {
  type RunningNginx,
  type Sandbox,
  containerLike,
  dockerRegion,
  followDnsChanges,
  inSandbox,
  makeSandbox,
  modernNginx,
  nginxTest,
  startNginx,
  sandboxPaths,
} from "./support/nginx";
import { readStackFile } from "./support/pulumi";
import { httpsRedirectSuite } from "./support/redirect";

let bin: string;
let sandbox: Sandbox;
beforeAll(() => {
  ({ bin } = modernNginx());
  sandbox = makeSandbox();
});
afterAll(() => sandbox?.remove());

it("runs on an nginx that supports `resolve` in upstream blocks (>= 1.27.3)", () => {
  expect(supportsUpstreamResolve(modernNginx().version), modernNginx().version).toBe(true);
});

describe("nginx -t on pooled configs", () => {
  /** Container-like settings (test/support/nginx.ts) with pools on. */
  const pooled = (regions: NginxRegionRoute[], extra: Partial<NginxSettings> = {}): NginxSettings =>
    containerLike(sandbox, regions, { upstreamKeepalive: 32, ...extra });

  it("accepts names that do not resolve, 50 regions with retired ones, without warnings", () => {
    const regions = Array.from({ length: 50 }, (_, i) => dockerRegion(i % 2 ? randomUUID() : `region-${i}`));
    const conf = renderNginxConf(pooled(regions.map((r, i) => (i % 7 === 6 ? { ...r, state: "retired" } : r))));
    const { ok, output } = nginxTest(sandbox, conf, "pooled.conf", bin);
    expect(ok, output).toBe(true);
    // The `listen ... http2` deprecation (kept for 1.22, see planning/edge/nginx.ts) is the only warning.
    expect(output.split("\n").filter((l) => /\[(warn|emerg|alert|crit)\]/.test(l) && !/http2/.test(l))).toEqual([]);
  });

  it("accepts IP-literal upstreams without a resolver", () => {
    const conf = renderNginxConf(
      pooled([{ id: "orion", upstream: "127.0.0.1:18001", state: "active" }], {
        resolver: null,
        upstreams: {
          nexus: "127.0.0.1:18000",
          admin: "[::1]:18002",
          player: "127.0.0.1:18003",
          paypal: "127.0.0.1:18004",
        },
      }),
    );
    const { ok, output } = nginxTest(sandbox, conf, "pooled-ip.conf", bin);
    expect(ok, output).toBe(true);
  });

  it("passes for the prod stack with the pools on (its pinned nginx), paths moved into the sandbox", () => {
    const prod = rawOf(readStackFile("prod"));
    const config = parseConfig(
      { ...prod, edge: { ...(prod.edge as object), upstreamKeepalive: 32 } },
      { presentSecrets: new Set(Object.keys(SECRET_KEYS) as SecretKey[]) },
    );
    const settings = edgeNginxSettings(planStack(config, "prod"));
    const conf = renderNginxConf({
      ...settings,
      ...inSandbox(sandbox),
    });
    expect(conf).toContain(`keepalive ${config.edge.upstreamKeepalive};`);
    const { ok, output } = nginxTest(sandbox, conf, "prod.conf", bin);
    expect(ok, output).toBe(true);
  });

  it("is refused by Debian's nginx 1.22, so the default (0) must stay off until the image is newer", () => {
    const { ok, output } = nginxTest(sandbox, renderNginxConf(pooled([dockerRegion("orion")])), "old.conf");
    expect(ok).toBe(false);
    expect(output).toMatch(/invalid parameter "resolve"/);
  });
});

httpsRedirectSuite({ bin: () => bin, upstreamKeepalive: 8 });

describe("pooled routing on a running nginx, with a stand-in for Docker's DNS", () => {
  let dns: FakeDns;
  let nginx: RunningNginx | undefined;
  const backends: Record<string, EchoBackend> = {};
  const extra: EchoBackend[] = [];

  beforeAll(async () => {
    for (const name of ["nexus", "admin", "player", "paypal", "orion", "nova", "ghost"])
      backends[name] = await startEchoBackend(name);
    const at = (name: string) => `${name}.sw.test:${backends[name]!.port}`;
    // ghost's container "does not exist" yet: its name is not in DNS.
    dns = await startFakeDns(
      Object.fromEntries(
        ["nexus", "admin", "player", "paypal", "orion", "nova"].map((n) => [`${n}.sw.test`, "127.0.0.1"]),
      ),
    );
    nginx = await startNginx(
      sandbox,
      (listen) =>
        renderNginxConf({
          regions: [
            { id: "orion", upstream: at("orion"), state: "active" },
            { id: "nova", upstream: at("nova"), state: "active" },
            { id: "ghost", upstream: at("ghost"), state: "active" },
            { id: "old", upstream: "old.sw.test:9", state: "retired" },
          ],
          defaultRegionId: "orion",
          upstreams: { nexus: at("nexus"), admin: at("admin"), player: at("player"), paypal: at("paypal") },
          resolver: dns.address,
          resolverValidSeconds: 1,
          listen: { address: "127.0.0.1", ...listen },
          ...sandboxPaths(sandbox),
          upstreamKeepalive: 8,
        }),
      bin,
    );
    // A pool's `resolve` asks the DNS once workers run, so the first requests after start can
    // find no address yet (a 502 for a few milliseconds): wait for the names DNS knows.
    await pollUntil("the pools to resolve the names DNS knows", async () => {
      for (const path of ["/api/nexus/x", "/api/regions/orion/x", "/api/regions/nova/x", "/admin/x", "/x"])
        if ((await get(path)).status !== 200) return undefined;
      return true;
    });
  });

  afterAll(async () => {
    await nginx?.stop();
    await Promise.all([...Object.values(backends), ...extra].map((b) => b.stop()));
    await dns?.stop();
  });

  const get = (path: string, tls = false) =>
    httpRequest({ port: tls ? nginx!.https : nginx!.http, path, ...(tls ? { tls } : {}) });

  it.each<[string, string, string, string | undefined]>([
    // path sent, backend, URI the backend receives, X-Region-ID
    ["/api/nexus/players/7?fields=name", "nexus", "/players/7?fields=name", undefined],
    ["/api/regions/orion/sectors/12?x=1", "orion", "/api/regions/orion/sectors/12?x=1", "orion"],
    ["/api/regions/nova/a%2Fb?x=%20", "nova", "/api/regions/nova/a%2Fb?x=%20", "nova"],
    ["/api/ships?mine=1", "orion", "/ships?mine=1", "orion"],
    ["/admin/users?page=2", "admin", "/users?page=2", undefined],
    ["/paypal/webhook?x=1", "paypal", "/paypal/webhook?x=1", undefined],
    ["/galaxy/map?zoom=3", "player", "/galaxy/map?zoom=3", undefined],
    ["/static/js/main.9d1e7f.js?v=2", "player", "/static/js/main.9d1e7f.js?v=2", undefined],
  ])("%s reaches %s as %s, over HTTP and HTTPS", async (path, backend, uri, regionId) => {
    for (const tls of [false, true]) {
      const res = await get(path, tls);
      expect(res.status, res.body).toBe(200);
      const echo = echoOf(res);
      expect(echo).toMatchObject({ backend, url: uri });
      expect(echo.headers["x-region-id"]).toBe(regionId);
      expect(echo.headers["x-forwarded-proto"]).toBe(tls ? "https" : "http");
      expect(echo.headers.host).toBe("127.0.0.1");
      // A pooled request carries no Connection header: HTTP/1.1 keep-alive, not "close".
      expect(echo.headers.connection).toBeUndefined();
      expect(res.headers["x-frame-options"]).toBe("SAMEORIGIN");
      expect(res.headers["x-powered-by"]).toBeUndefined();
    }
  });

  it("answers a retired region with 410 and an unknown one with 404, as without pools", async () => {
    const retired = await get("/api/regions/old/x");
    expect(retired.status).toBe(410);
    expect(JSON.parse(retired.body)).toEqual({ error: "region_retired", region: "old", status: 410 });
    expect((await get("/api/regions/nowhere/x")).status).toBe(404);
  });

  it("started while ghost's name does not resolve: ghost answers 502 (JSON), every other route works", async () => {
    const missing = await get("/api/regions/ghost/x");
    expect(missing.status).toBe(502);
    expect(JSON.parse(missing.body)).toEqual({ error: "bad_gateway", status: 502 });
    expect((await get("/api/regions/orion/x")).status).toBe(200);
  });

  it("passes WebSocket upgrades through, and plain requests still work afterwards", async () => {
    for (const [path, backend] of [
      ["/api/regions/nova/ws", "nova"],
      ["/_next/webpack-hmr", "player"],
    ] as const) {
      const upgraded = await upgradeRequest(nginx!.http, path);
      try {
        expect(upgraded.status).toBe(101);
        expect(upgraded.headers["x-echo-backend"]).toBe(backend);
        expect(await upgraded.roundTrip("ping")).toBe("ping");
      } finally {
        upgraded.close();
      }
      expect(echoOf(await get(path)).backend).toBe(backend);
    }
  });

  it("reuses backend connections: far fewer connections than requests", async () => {
    const nexus = backends.nexus!;
    const before = { requests: nexus.requests(), connections: nexus.connections() };
    // Sequential, each on a fresh client connection, so any reuse is nginx's own pool.
    for (let i = 0; i < 60; i++) expect((await get(`/api/nexus/n${i}`)).status).toBe(200);
    const requests = nexus.requests() - before.requests;
    const connections = nexus.connections() - before.connections;
    expect(requests).toBe(60);
    // One idle connection per worker covers sequential requests; allow a few for timing.
    expect(connections, `${connections} connections for ${requests} requests`).toBeLessThanOrEqual(6);
  });

  it("tries a restarted backend again on the very next request, as without a pool", async () => {
    const admin = backends.admin!;
    await admin.stop();
    expect((await get("/admin/x")).status).toBe(502);
    expect((await get("/admin/x")).status).toBe(502);
    await admin.start();
    const res = await get("/admin/x");
    expect(res.status, res.body).toBe(200);
    expect(echoOf(res).backend).toBe("admin");
  });

  it("reaches ghost once its name resolves, and a recreated orion at its new address, without a reload", async () => {
    const pid = nginx!.pid;
    // Pooled connections to orion's old address must not keep receiving its traffic.
    const { ghost, movedOrion } = await followDnsChanges(get, dns, backends.orion!.port);
    extra.push(movedOrion);
    expect(echoOf(ghost)).toMatchObject({ backend: "ghost", url: "/api/regions/ghost/x" });
    for (let i = 0; i < 10; i++) expect(echoOf(await get("/api/x")).backend).toBe("orion-recreated");
    expect(nginx!.pid).toBe(pid);
    expect(nginx!.errorLog()).not.toMatch(/\[(emerg|alert|crit)\]/);
  });
});
