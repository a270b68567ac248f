/**
 * edge.httpsRedirect on a running nginx, as one suite that the default config's tests (Debian's
 * nginx 1.22) and the pooled config's (nginx >= 1.27.3) both register: plain HTTP answers 301
 * with the exact Location, except the health check and ACME challenges; HTTPS serves as before.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderNginxConf } from "../../planning/edge/nginx";
import type { NginxSettings } from "../../planning/edge/settings";
import { type EchoBackend, type HttpResult, echoOf, httpRequest, startEchoBackend } from "./net";
import { NGINX_BIN, type RunningNginx, type Sandbox, makeSandbox, sandboxPaths, startNginx } from "./nginx";

/** A public HTTPS origin on another port than 443, as dev's 8443. */
const ORIGIN = "https://play.example.com:8443";

/** Plain-HTTP request URIs; each must come back as ORIGIN + exactly that URI. */
const REDIRECTED = [
  "/",
  "/galaxy/map?zoom=3&from=%2Fhome",
  "/api/regions/orion/sectors/12?x=1",
  "/api/nexus/players/7",
  "/admin",
  "/static/js/main.9d1e7f.js?v=2",
  "/paypal/webhook",
  "/a%20b/%E2%9C%93?q=a+b",
  // Only the exact health path and the challenge prefix are exempt.
  "/healthz/x",
  "/healthzx",
  "/.well-known/acme-challengex",
  "/.well-known/security.txt",
];

/** `bin` is asked for when the suite starts nginx (after the file's own beforeAll found or built it). */
export function httpsRedirectSuite(options: { bin?: () => string; upstreamKeepalive?: number } = {}): void {
  describe(`httpsRedirect on a running nginx (upstreamKeepalive ${options.upstreamKeepalive ?? 0})`, () => {
    let sandbox: Sandbox;
    let nginx: RunningNginx | undefined;
    const backends: Record<string, EchoBackend> = {};

    beforeAll(async () => {
      sandbox = makeSandbox();
      sandbox.writeStatic(".well-known/acme-challenge/Ab-9_token", "Ab-9_token.thumbprint");
      for (const name of ["nexus", "admin", "player", "paypal", "orion"]) backends[name] = await startEchoBackend(name);
      const at = (name: string) => backends[name]!.address;
      const settings = (ports: { http: number; https: number }): NginxSettings => ({
        regions: [{ id: "orion", upstream: at("orion"), state: "active" }],
        defaultRegionId: "orion",
        upstreams: { nexus: at("nexus"), admin: at("admin"), player: at("player"), paypal: at("paypal") },
        resolver: null,
        listen: { address: "127.0.0.1", ...ports },
        ...sandboxPaths(sandbox),
        upstreamKeepalive: options.upstreamKeepalive ?? 0,
        httpsRedirect: { origin: ORIGIN, acmeChallengeRoot: `${sandbox.staticRoot}/static` },
      });
      nginx = await startNginx(sandbox, (ports) => renderNginxConf(settings(ports)), options.bin?.() ?? NGINX_BIN);
    });

    afterAll(async () => {
      await nginx?.stop();
      await Promise.all(Object.values(backends).map((b) => b.stop()));
      sandbox?.remove();
    });

    const plain = (path: string, extra: { method?: string; headers?: Record<string, string> } = {}) =>
      httpRequest({ port: nginx!.http, path, ...extra });
    const expectRedirect = (res: HttpResult, uri: string, what: string) => {
      expect(res.status, `${what}: ${res.body}`).toBe(301);
      expect(res.headers.location, what).toBe(`${ORIGIN}${uri}`);
    };

    it.each(REDIRECTED)("answers plain HTTP %s with 301 to the same URI on the public HTTPS origin", async (uri) => {
      expectRedirect(await plain(uri), uri, `GET ${uri}`);
    });

    it("redirects every method, and to the configured host whatever Host or request line the client sends", async () => {
      const reached = () => Object.values(backends).reduce((n, b) => n + b.requests(), 0);
      const before = reached();
      expectRedirect(await plain("/paypal/webhook", { method: "POST" }), "/paypal/webhook", "POST");
      expectRedirect(await plain("/x?y=1", { method: "HEAD" }), "/x?y=1", "HEAD");
      expectRedirect(await plain("/x", { headers: { Host: "evil.example" } }), "/x", "another Host");
      // An absolute-form request line names its own host: the Location still does not.
      expectRedirect(await plain("http://evil.example/x?y=1"), "/x?y=1", "absolute-form");
      expect(reached() - before, "requests that reached a backend over plain HTTP").toBe(0);
    });

    it("answers the health check itself, over plain HTTP", async () => {
      const res = await plain("/healthz");
      expect(res.status).toBe(200);
      expect(res.body).toBe("ok\n");
      expect(res.headers.location).toBeUndefined();
    });

    it("serves ACME HTTP-01 tokens from the challenge root, and a missing one is a 404, not a redirect", async () => {
      const token = await plain("/.well-known/acme-challenge/Ab-9_token");
      expect(token.status).toBe(200);
      expect(token.body).toBe("Ab-9_token.thumbprint");
      expect(token.headers["content-type"]).toBe("text/plain");
      for (const missing of ["/.well-known/acme-challenge/unknown", "/.well-known/acme-challenge/"]) {
        const res = await plain(missing);
        expect(res.status, missing).toBe(404);
        expect(res.headers.location, missing).toBeUndefined();
      }
    });

    it("serves HTTPS as without the redirect", async () => {
      for (const [path, backend, uri] of [
        ["/api/regions/orion/x?y=1", "orion", "/api/regions/orion/x?y=1"],
        ["/api/nexus/x", "nexus", "/x"],
        ["/admin/x", "admin", "/x"],
        ["/paypal/webhook", "paypal", "/paypal/webhook"],
        ["/galaxy", "player", "/galaxy"],
        ["/.well-known/acme-challenge/Ab-9_token", "player", "/.well-known/acme-challenge/Ab-9_token"],
      ] as const) {
        const res = await httpRequest({ port: nginx!.https, path, tls: true });
        expect(res.status, `${path}: ${res.body}`).toBe(200);
        expect(echoOf(res)).toMatchObject({ backend, url: uri });
        expect(echoOf(res).headers["x-forwarded-proto"]).toBe("https");
        expect(res.headers["strict-transport-security"]).toBe("max-age=31536000");
      }
      const healthz = await httpRequest({ port: nginx!.https, path: "/healthz", tls: true });
      expect(healthz.body).toBe("ok\n");
    });
  });
}
