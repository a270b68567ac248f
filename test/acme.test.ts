/**
 * edge.acme's planning (planning/config/acme.ts, planning/edge/acmeClient.ts and acmeEdge.ts):
 * what the config accepts and refuses, the ACME client's container in the plan, the challenge
 * location in nginx.conf, and the two shell loops, parsed by the shells that run them. Issuance
 * and renewal against a real CA (Pebble) are proved through the real engine in
 * test/real-engine/acme.test.ts.
 */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { ConfigError, type SecretKey, parseConfig } from "../planning/config";
import { intervalSeconds } from "../planning/config/acme";
import { acmeHealthcheck, acmeLoopScript } from "../planning/edge/acmeClient";
import { ACME_EDGE_FILES, edgeStartScript } from "../planning/edge/acmeEdge";
import { renderNginxConf } from "../planning/edge/nginx";
import { edgeNginxSettings, edgeReloadScript } from "../planning/edge/plan";
import { allContainers, planStack } from "../planning/stack/topology";
import { PROD_SECRET_KEYS, devConfigWith, rawOf } from "./support/configs";
import { swarmDevConfig } from "./support/swarmConfigs";

const REGIONS = [{ id: "orion", name: "Orion", type: "default" as const, slot: 1 }];
const dev = rawOf(devConfigWith(REGIONS));
const ACME = { email: "ops@example.com" };
const HOST = "play.example.com";

function problemsOf(raw: Record<string, unknown>, secrets: ReadonlySet<SecretKey> = new Set()): string[] {
  try {
    parseConfig(raw, { presentSecrets: secrets });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.path}: ${p.message}`);
    throw err;
  }
  return [];
}

const withAcme = (acme: Record<string, unknown>, edge: Record<string, unknown> = { hostname: HOST }) => ({
  ...dev,
  edge: { ...edge, acme },
});

describe("sectorwars:edge.acme", () => {
  it.each<[string, Record<string, unknown>, string]>([
    ["no email", withAcme({}), "sectorwars:edge.acme.email: is required"],
    ["an email without domain", withAcme({ email: "ops" }), "sectorwars:edge.acme.email: must be an email address"],
    [
      "a plain-HTTP directory",
      withAcme({ ...ACME, directory: "http://ca.example/dir" }),
      "sectorwars:edge.acme.directory: must be the CA's https:// directory URL",
    ],
    ["0 days", withAcme({ ...ACME, renewBeforeDays: 0 }), "sectorwars:edge.acme.renewBeforeDays: "],
    ["61 days", withAcme({ ...ACME, renewBeforeDays: 61 }), "sectorwars:edge.acme.renewBeforeDays: "],
    [
      "days as a word",
      withAcme({ ...ACME, renewBeforeDays: "thirty" }),
      "sectorwars:edge.acme.renewBeforeDays: must be a whole number",
    ],
    [
      "an interval in days",
      withAcme({ ...ACME, checkInterval: "1d" }),
      'sectorwars:edge.acme.checkInterval: must be a number and one of s, m, h, such as "12h"',
    ],
    [
      "a CA that is not PEM",
      withAcme({ ...ACME, caCertificate: "MIIB..." }),
      "sectorwars:edge.acme.caCertificate: must be PEM certificates",
    ],
    ["an unknown key", withAcme({ ...ACME, staging: true }), "sectorwars:edge.acme.staging: unknown key"],
    [
      "localhost",
      withAcme(ACME, { hostname: "localhost" }),
      'sectorwars:edge.hostname: an ACME CA certifies public DNS names only, not "localhost"',
    ],
    [
      "an address",
      withAcme(ACME, { hostname: "203.0.113.7" }),
      'sectorwars:edge.hostname: an ACME CA certifies public DNS names only, not "203.0.113.7"',
    ],
    [
      "swarm mode",
      { ...rawOf(swarmDevConfig()), edge: { hostname: HOST, acme: ACME } },
      "sectorwars:edge.acme: swarm mode has no ACME client yet",
    ],
  ])("rejects %s", (_label, raw, expected) => {
    expect(problemsOf(raw).filter((p) => p.startsWith(`${expected.split(": ")[0]}:`))).toEqual([
      expect.stringContaining(expected),
    ]);
  });

  it("refuses a pasted certificate beside it, naming both ways out", () => {
    expect(problemsOf(withAcme(ACME), new Set(["tlsCertificate", "tlsPrivateKey"]))).toEqual([
      expect.stringMatching(/^sectorwars:edge\.acme: .*not both: unset edge\.acme or pulumi config rm/),
    ]);
  });

  it("lets prod deploy without the certificate secrets, and only prod's other secrets are still asked for", () => {
    const prod = { ...withAcme(ACME), environment: "prod", monitoring: { enabled: false } };
    const secrets = new Set([...PROD_SECRET_KEYS].filter((k) => k !== "tlsCertificate" && k !== "tlsPrivateKey"));
    expect(problemsOf(prod, secrets).filter((p) => !p.startsWith("sectorwars:images."))).toEqual([]);
    expect(problemsOf({ ...prod, edge: { hostname: HOST } }, secrets)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^sectorwars:tlsCertificate: prod refuses/)]),
    );
  });

  it('takes "30" as pulumi config set --path stores it, and fills in the defaults', () => {
    const plan = planStack(
      parseConfig(withAcme({ ...ACME, renewBeforeDays: "30" }), { presentSecrets: new Set() }),
      "dev",
    );
    expect(plan.acme?.settings).toEqual({
      email: ACME.email,
      directory: "https://acme-v02.api.letsencrypt.org/directory",
      renewBeforeDays: 30,
      checkInterval: "12h",
    });
    expect(intervalSeconds("12h")).toBe(43_200);
  });
});

describe("the ACME plan", () => {
  const planOf = (raw: Record<string, unknown>) => planStack(parseConfig(raw, { presentSecrets: new Set() }), "dev");

  it("is absent without edge.acme; with it, one client container counted in the capacity totals", () => {
    expect(planOf({ ...dev, edge: { hostname: HOST } }).acme).toBeNull();
    const plan = planOf(withAcme(ACME));
    expect(plan.acme).toMatchObject({
      domain: HOST,
      volumeName: "sectorwars-dev_acme_data",
      client: { role: "acme", containerName: "sectorwars-dev_acme", sizeProfile: "acme" },
      images: { acme: { kind: "ref", ref: "goacme/lego:v4.9.1" } },
    });
    expect(allContainers(plan).filter((c) => c.role === "acme")).toHaveLength(1);
  });

  it("with monitoring, alerts when the served certificate outlives its renewal: renewBeforeDays less two check intervals", () => {
    const monitored = (acme: Record<string, unknown>) => planOf({ ...withAcme(acme), monitoring: { enabled: true } });
    expect(monitored(ACME).monitoring?.alerts.renewalDueSeconds).toBe(30 * 86400 - 2 * 12 * 3600);
    expect(monitored({ ...ACME, renewBeforeDays: 20, checkInterval: "30m" }).monitoring?.alerts.renewalDueSeconds).toBe(
      20 * 86400 - 3600,
    );
    const pasted = planOf({ ...dev, edge: { hostname: HOST }, monitoring: { enabled: true } });
    expect(pasted.monitoring?.alerts.renewalDueSeconds).toBeNull();
  });

  it("serves HTTP-01 tokens on plain HTTP from the static volume, with the redirect and without it", () => {
    for (const httpsRedirect of [false, true]) {
      const conf = renderNginxConf(edgeNginxSettings(planOf(withAcme(ACME, { hostname: HOST, httpsRedirect }))));
      expect(conf, `httpsRedirect ${httpsRedirect}`).toMatch(
        /location \^~ \/\.well-known\/acme-challenge\/ \{\s+root \/var\/www\/html\/static;/,
      );
    }
    // Without edge.acme and the redirect, nginx.conf is what it was before edge.acme existed.
    const conf = renderNginxConf(edgeNginxSettings(planOf({ ...dev, edge: { hostname: HOST } })));
    expect(conf).not.toContain("acme-challenge");
  });
});

describe("the two loops, as their shells read them", () => {
  const plan = {
    domain: HOST,
    settings: { ...ACME, directory: "https://ca.example/dir", renewBeforeDays: 30, checkInterval: "12h" },
  };
  // dash is Debian's sh; busybox's (the images') is a POSIX sh too.
  const parses = (script: string) => spawnSync("sh", ["-n", "-c", script], { encoding: "utf8" });

  it.each([
    ["the ACME client's loop", acmeLoopScript(plan)],
    ["the client's health check", acmeHealthcheck().tests[1] ?? ""],
    ["nginx's start and watch", edgeStartScript()],
    ["the reload with the ACME certificate preferred", edgeReloadScript(ACME_EDGE_FILES)],
  ])("%s is valid sh", (_label, script) => {
    const result = parses(script);
    expect(result.status, result.stderr).toBe(0);
  });

  it("renews with the configured margin and checks at the configured interval", () => {
    const script = acmeLoopScript(plan);
    expect(script).toContain("days=30");
    expect(script).toContain("next=$((now + 43200))");
    expect(script).toContain("--server https://ca.example/dir");
  });

  it("nginx's reload carries no single quote: it travels inside sh -ec '...'", () => {
    expect(edgeReloadScript(ACME_EDGE_FILES)).not.toContain("'");
  });
});
