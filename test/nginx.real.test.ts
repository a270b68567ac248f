/**
 * The generated nginx.conf passes `nginx -t` on the real binary (Debian's nginx 1.22), for
 * container-like settings whose upstream names do not resolve on this machine: request-time
 * resolution is what lets nginx accept them, as it lets nginx start while a region is missing.
 */
import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderNginxConf } from "../planning/edge/nginx";
import type { NginxRegionRoute, NginxSettings } from "../planning/edge/settings";
import { type Sandbox, containerLike, dockerRegion, makeSandbox, nginxTest, regionListArb } from "./support/nginx";

let sandbox: Sandbox;
beforeAll(() => {
  sandbox = makeSandbox();
});
afterAll(() => sandbox?.remove());

/** Container-like settings (test/support/nginx.ts) with the given default region. */
const settingsFor = (regions: NginxRegionRoute[], defaultRegionId: string, extra: Partial<NginxSettings> = {}) =>
  containerLike(sandbox, regions, { defaultRegionId, ...extra });

/** nginx -t must accept the config, with no warning other than the ones listed. */
function expectAccepted(conf: string, allowedWarnings: RegExp[] = []): void {
  const { ok, output } = nginxTest(sandbox, conf);
  expect(ok, output).toBe(true);
  expect(output).toMatch(/test is successful/);
  const warnings = output.split("\n").filter((l) => /\[(warn|emerg|alert|crit)\]/.test(l));
  expect(
    warnings.filter((w) => !allowedWarnings.some((a) => a.test(w))),
    output,
  ).toEqual([]);
}

describe("nginx -t on generated configs", () => {
  it("accepts a dev-like config (default region and one more, Docker DNS)", () => {
    expectAccepted(
      renderNginxConf(
        settingsFor([dockerRegion("default"), dockerRegion("orion")], "default", { listen: { http: 80, https: 443 } }),
      ),
    );
  });

  it("accepts a prod-like config (UUID regions, retired ones, own body limit, no access log)", () => {
    const ids = Array.from({ length: 12 }, () => randomUUID());
    const regions = ids.map((id, i) => ({
      ...dockerRegion(id),
      state: i % 5 === 4 ? ("retired" as const) : ("active" as const),
    }));
    expectAccepted(
      renderNginxConf(
        settingsFor(regions, ids[0]!, {
          clientMaxBodySize: "512k",
          listen: { address: "0.0.0.0", http: 80, https: 443 },
          runtime: { ...sandbox.runtime, user: "www-data", accessLog: null },
        }),
      ),
    );
  });

  it("accepts the config with plain HTTP redirected to HTTPS (edge.httpsRedirect)", () => {
    expectAccepted(
      renderNginxConf(
        settingsFor([dockerRegion("default"), dockerRegion("orion")], "default", {
          httpsRedirect: { origin: "https://localhost:8443", acmeChallengeRoot: `${sandbox.staticRoot}/static` },
        }),
      ),
    );
  });

  it("accepts 50 regions", () => {
    const regions = Array.from({ length: 50 }, (_, i) => dockerRegion(i % 2 ? randomUUID() : `region-${i}`));
    const conf = renderNginxConf(settingsFor(regions, "region-0"));
    expect(conf.match(/^\s*location \^~ \/api\/regions\/[^/]+\/ \{$/gm)).toHaveLength(50);
    expectAccepted(conf);
  });

  it("accepts IP-literal upstreams without a resolver (the routing tests' shape)", () => {
    expectAccepted(
      renderNginxConf(
        settingsFor([{ id: "orion", upstream: "127.0.0.1:18001", state: "active" }], "orion", {
          resolver: null,
          upstreams: {
            nexus: "127.0.0.1:18000",
            admin: "[::1]:18002",
            player: "127.0.0.1:18003",
            paypal: "127.0.0.1:18004",
          },
          listen: { address: "127.0.0.1", http: 18080, https: 18443 },
        }),
      ),
    );
  });

  it("accepts the configs of random region lists", () => {
    fc.assert(
      fc.property(regionListArb(20), ({ regions, defaultRegionId }) => {
        expectAccepted(renderNginxConf(settingsFor(regions, defaultRegionId)));
      }),
      { numRuns: 15 },
    );
  });

  it("is a real check: nginx -t rejects the seed's unresolvable static upstream", () => {
    // The seed's shape: a name resolved once at start. Without the generator's request-time
    // resolution, a missing container is fatal.
    const conf = renderNginxConf(settingsFor([dockerRegion("orion")], "orion")).replace(
      /location \^~ \/api\/nexus\/ \{[^}]*\}/,
      "location ^~ /api/nexus/ { proxy_pass http://nexus-api.invalid:8000/; }",
    );
    expect(conf).toContain("nexus-api.invalid");
    const { ok, output } = nginxTest(sandbox, conf);
    expect(ok).toBe(false);
    expect(output).toMatch(/host not found in upstream "nexus-api\.invalid/);
  });
});
