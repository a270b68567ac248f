/**
 * The monitoring planners (planning/monitoring/, planStack's monitoring part): what is probed, by
 * which labels, and the files Prometheus and Alertmanager read, checked by their own tools
 * (promtool, amtool from Debian's prometheus and prometheus-alertmanager). The rules' behaviour is
 * proved with `promtool test rules`: each alert fires on the series it reads, after its wait,
 * with its labels and summary, and not before.
 */
import * as fs from "node:fs";
import * as https from "node:https";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../planning/config";
import { alertmanagerConfig } from "../planning/monitoring/alertmanager";
import { alertRules, alertRulesFile } from "../planning/monitoring/alerts";
import { BLACKBOX_MODULES, blackboxConfig } from "../planning/monitoring/prometheus";
import { SELF_SIGNED_ORGANIZATION } from "../planning/edge/acmeClient";
import { allContainers, planStack } from "../planning/stack/topology";
import { PROD_SECRET_KEYS, devConfigWith, rawOf } from "./support/configs";
import { freePorts } from "./support/net";
import { start, stop, waitUntil } from "./support/process";
import { RULE_TEST_SETTINGS, toolDir } from "./support/promtool";
import { REGISTRY_IMAGES, swarmDevConfig } from "./support/swarmConfigs";

const { dir, tool, runRuleTest, checkPrometheusConfig, remove } = toolDir();
afterAll(remove);

const REGIONS = [
  { id: "orion", name: "Orion", type: "default" as const, slot: 1 },
  { id: "vega", name: "Vega", type: "player_owned" as const, slot: 2 },
  { id: "old", name: "Old", type: "player_owned" as const, slot: 3, state: "retired" },
];

function planWith(monitoring: Record<string, unknown>, regions: readonly object[] = REGIONS) {
  const raw = { ...rawOf(devConfigWith([])), regions, monitoring };
  return planStack(parseConfig(raw, { presentSecrets: new Set() }), "dev");
}

describe("the monitoring plan", () => {
  it("is absent in dev unless enabled, and counts its three containers where it is", () => {
    expect(planWith({}).monitoring).toBeNull();
    const plan = planWith({ enabled: true });
    const roles = allContainers(plan).map((c) => c.role);
    expect(roles.filter((r) => ["prometheus", "alertmanager", "blackbox"].includes(r))).toEqual([
      "prometheus",
      "alertmanager",
      "blackbox",
    ]);
  });

  it('accepts "true" as pulumi config set --path stores it', () => {
    expect(planWith({ enabled: "true" }).monitoring).not.toBeNull();
    expect(planWith({ enabled: "false" }).monitoring).toBeNull();
  });

  it("probes every active game service at its health path by its name on the front network, labelled by stack, role and region", () => {
    const probes = planWith({ enabled: true }).monitoring?.probes ?? [];
    expect(probes.map((p) => p.url)).toEqual([
      "http://nexus-api:8000/health",
      "http://admin-ui:3000/",
      "http://player-ui:3000/",
      "http://paypal-service:8080/health",
      "http://region-orion-api:8000/health",
      "http://region-vega-api:8000/health",
    ]);
    expect(probes[4]?.labels).toEqual({ stack: "dev", role: "region-api", region: "orion" });
    expect(probes[0]?.labels).toEqual({ stack: "dev", role: "nexus-api" });
  });

  it("watches a new region by the deploy that adds it, without touching the other probes", () => {
    const before = planWith({ enabled: true }).monitoring?.probes ?? [];
    const added = [...REGIONS, { id: "rigel", name: "Rigel", type: "player_owned" as const, slot: 4 }];
    const after = planWith({ enabled: true }, added).monitoring?.probes ?? [];
    expect(after.slice(0, before.length)).toEqual(before);
    expect(after.at(-1)?.labels).toEqual({ stack: "dev", role: "region-api", region: "rigel" });
  });
});

describe("the game APIs' own metrics (monitoring.apiMetricsPath)", () => {
  it("scrapes every address of the nexus's and each active region's API name at the path, labelled as their probes", () => {
    const monitoring = planWith({ enabled: true, apiMetricsPath: "/internal/metrics" }).monitoring;
    expect(
      monitoring?.apiMetrics.map((t) => ({
        job: t.job,
        found: "everyAddressOf" in t ? t.everyAddressOf : null,
        path: t.metricsPath,
      })),
    ).toEqual([
      { job: "api", found: { name: "nexus-api", port: 8000 }, path: "/internal/metrics" },
      { job: "api", found: { name: "region-orion-api", port: 8000 }, path: "/internal/metrics" },
      { job: "api", found: { name: "region-vega-api", port: 8000 }, path: "/internal/metrics" },
    ]);
    expect(monitoring?.apiMetrics[1]?.labels).toEqual({ stack: "dev", role: "region-api", region: "orion" });
  });

  it("scrapes none while the path is unset: the image has no metrics", () => {
    expect(planWith({ enabled: true }).monitoring?.apiMetrics).toEqual([]);
  });

  it("keeps the path from players: the edge answers 404 where a route would strip its prefix onto it", () => {
    expect(planWith({ apiMetricsPath: "/metrics" }).edge.apiMetricsPath, "even with monitoring off").toBe("/metrics");
    expect(planWith({}).edge.apiMetricsPath).toBeNull();
  });
});

describe("sectorwars:monitoring", () => {
  function problemsOf(raw: Record<string, unknown>): string[] {
    try {
      parseConfig(raw, { presentSecrets: new Set() });
    } catch (err) {
      if (err instanceof ConfigError) return err.problems.map((p) => `${p.path}: ${p.message}`);
      throw err;
    }
    return [];
  }
  const dev = rawOf(devConfigWith(REGIONS));

  it.each<[string, Record<string, unknown>, string]>([
    ["enabled as a word", { ...dev, monitoring: { enabled: "yes" } }, "sectorwars:monitoring.enabled: "],
    [
      "a scrape interval without unit",
      { ...dev, monitoring: { scrapeInterval: "15" } },
      'sectorwars:monitoring.scrapeInterval: must be a number and one of s, m, such as "15s"',
    ],
    [
      "a retention in years",
      { ...dev, monitoring: { retention: "1y" } },
      'sectorwars:monitoring.retention: must be a number and one of h, d, w, such as "15d"',
    ],
    ["an unknown key", { ...dev, monitoring: { webhook: "https://x" } }, "sectorwars:monitoring.webhook: unknown key"],
    ...["metrics", "/metrics/", "/a//b", "/../metrics", "/metrics?x=1", "/metrics;"].map(
      (path): [string, Record<string, unknown>, string] => [
        `an API metrics path ${JSON.stringify(path)}`,
        { ...dev, monitoring: { apiMetricsPath: path } },
        'sectorwars:monitoring.apiMetricsPath: must be a URL path such as "/metrics"',
      ],
    ),
    [
      "its swarm node not in the cluster",
      {
        ...rawOf(swarmDevConfig(undefined, { homeNode: "node-1", placement: { monitoring: "node-9" } })),
        monitoring: { enabled: true },
      },
      'sectorwars:swarm.placement.monitoring: "node-9" is not in swarm.nodes (node-1, node-2, node-3)',
    ],
    [
      "prod watched with no webhook",
      { ...dev, environment: "prod" },
      "sectorwars:monitoringAlertWebhook: required with monitoring on in prod",
    ],
  ])("rejects %s", (_label, raw, expected) => {
    expect(problemsOf(raw).filter((p) => p.startsWith(`${expected.split(": ")[0]}:`))).toEqual([
      expect.stringContaining(expected),
    ]);
  });

  // Real image references (prod refuses the probe), the rest of the dev stack file.
  const oneHost: Record<string, unknown> = { ...dev, images: REGISTRY_IMAGES };
  it.each([
    { label: "prod on one host", raw: { ...oneHost, environment: "prod" }, enabled: true },
    { label: "prod in swarm mode", raw: { ...rawOf(swarmDevConfig()), environment: "prod" }, enabled: true },
    { label: "dev on one host", raw: oneHost, enabled: false },
    { label: "dev in swarm mode", raw: rawOf(swarmDevConfig()), enabled: false },
    { label: "prod set off", raw: { ...oneHost, environment: "prod", monitoring: { enabled: false } }, enabled: false },
    { label: "dev set on", raw: { ...oneHost, monitoring: { enabled: true } }, enabled: true },
  ])("is on by default in prod, off in dev: $label -> $enabled", ({ raw, enabled }) => {
    expect(parseConfig(raw, { presentSecrets: PROD_SECRET_KEYS }).monitoring.enabled).toBe(enabled);
    // Monitoring on in prod demands the webhook; every other secret prod asks for is there.
    const presentSecrets = new Set([...PROD_SECRET_KEYS].filter((key) => key !== "monitoringAlertWebhook"));
    const withoutWebhook = () => parseConfig(raw, { presentSecrets });
    if (enabled && raw["environment"] === "prod") expect(withoutWebhook).toThrow("monitoringAlertWebhook: required");
    else expect(withoutWebhook).not.toThrow();
  });
});

describe("the files, checked by Prometheus's and Alertmanager's own tools", () => {
  const plan = planWith({ enabled: true, scrapeInterval: "5s", apiMetricsPath: "/metrics" });
  const monitoring = plan.monitoring;
  if (!monitoring) throw new Error("monitoring was not planned");

  it("prometheus.yml and its rules pass promtool check config", () => {
    const checked = checkPrometheusConfig(monitoring);
    expect(checked.output).toContain("SUCCESS: 1 rule files found");
    expect(checked.status, checked.output).toBe(0);
    expect(checked.config, "the APIs' job reads their own path").toMatch(/job_name: api\n\s+metrics_path: \/metrics\n/);
  });

  it("alertmanager.yml passes amtool check-config, with a webhook and without one", () => {
    for (const url of ["https://hooks.example.com/T0/secret-token", undefined]) {
      fs.writeFileSync(path.join(dir, "alertmanager.yml"), alertmanagerConfig(url));
      const checked = tool("amtool", ["check-config", "alertmanager.yml"]);
      expect(checked.status, `${url}: ${checked.output}`).toBe(0);
    }
  });

  it("the prober's modules name the edge's public host for its certificate", () => {
    expect(blackboxConfig("play.example.com")).toContain("server_name: play.example.com");
  });
});

describe("the alert rules, under promtool test rules", () => {
  it.each([
    ["a stack that archives WAL and renews its certificate", RULE_TEST_SETTINGS],
    ["one that does neither", { walWaitLimitSeconds: null, backupAgeLimitSeconds: null, renewalDueSeconds: null }],
  ])("passes promtool check rules, for %s", (_what, settings) => {
    fs.writeFileSync(path.join(dir, "rules.yml"), alertRulesFile(settings));
    const checked = tool("promtool", ["check", "rules", "rules.yml"]);
    expect(checked.output).toContain(`SUCCESS: ${alertRules(settings).length} rules found`);
    expect(alertRules(settings).some((r) => r.alert === "WalArchiveBehind")).toBe(
      settings.walWaitLimitSeconds !== null,
    );
    expect(alertRules(settings).some((r) => r.alert === "BaseBackupTooOld")).toBe(
      settings.backupAgeLimitSeconds !== null,
    );
  });

  const orion =
    'job="health", role="region-api", region="orion", stack="dev", instance="http://region-orion-api:8000/health"';
  const regionDown = {
    exp_labels: {
      job: "health",
      role: "region-api",
      region: "orion",
      stack: "dev",
      instance: "http://region-orion-api:8000/health",
      severity: "critical",
    },
    exp_annotations: { summary: "The API of region orion in stack dev does not answer its health check" },
  };

  it.each([
    ["not while down for less than a minute (a blip)", "1x3 0x20", "1m45s", []],
    ["after a minute down", "1x3 0x20", "2m", [regionDown]],
    ["no longer once it answers again", "1x3 0x6 1x20", "4m", []],
  ])("RegionApiDown: %s", (_name, values, at, alerts) => {
    const result = runRuleTest(
      [{ series: `probe_success{${orion}}`, values }],
      [{ eval_time: at, alertname: "RegionApiDown", exp_alerts: alerts }],
    );
    expect(result.status, result.output).toBe(0);
  });

  it("NexusApiDown, ServiceDown, EdgeDown and ProbesFailing fire on their own series only", () => {
    const result = runRuleTest(
      [
        { series: 'probe_success{job="health", role="nexus-api", stack="dev", instance="n"}', values: "0x20" },
        { series: 'probe_success{job="health", role="paypal", stack="dev", instance="p"}', values: "0x20" },
        {
          series: 'probe_success{job="health", role="region-api", region="vega", stack="dev", instance="v"}',
          values: "1x20",
        },
        { series: 'probe_success{job="edge-tls", role="nginx", stack="dev", instance="e"}', values: "0x20" },
        { series: 'up{job="health", stack="dev", instance="b"}', values: "0x20" },
      ],
      [
        {
          eval_time: "2m",
          alertname: "NexusApiDown",
          exp_alerts: [
            {
              exp_labels: { job: "health", role: "nexus-api", stack: "dev", instance: "n", severity: "critical" },
              exp_annotations: { summary: "The nexus API in stack dev does not answer its health check" },
            },
          ],
        },
        {
          eval_time: "2m",
          alertname: "ServiceDown",
          exp_alerts: [
            {
              exp_labels: { job: "health", role: "paypal", stack: "dev", instance: "p", severity: "critical" },
              exp_annotations: { summary: "paypal in stack dev does not answer its health check" },
            },
          ],
        },
        { eval_time: "2m", alertname: "RegionApiDown", exp_alerts: [] },
        {
          eval_time: "2m",
          alertname: "EdgeDown",
          exp_alerts: [
            {
              exp_labels: { job: "edge-tls", role: "nginx", stack: "dev", instance: "e", severity: "critical" },
              exp_annotations: { summary: "The edge (nginx) of stack dev does not complete a TLS handshake" },
            },
          ],
        },
        {
          eval_time: "2m",
          alertname: "ProbesFailing",
          exp_alerts: [
            {
              exp_labels: { job: "health", stack: "dev", instance: "b", severity: "critical" },
              exp_annotations: {
                summary: "Prometheus cannot reach the blackbox prober in stack dev: nothing is watched",
              },
            },
          ],
        },
      ],
    );
    expect(result.status, result.output).toBe(0);
  });

  it("CertificateExpiresSoon fires for a certificate 13 days from expiry, not for one 15 days away", () => {
    const day = 86400;
    const result = runRuleTest(
      [
        {
          series: 'probe_ssl_earliest_cert_expiry{job="edge-tls", stack="dev", instance="soon"}',
          values: `${13 * day}x80`,
        },
        {
          series: 'probe_ssl_earliest_cert_expiry{job="edge-tls", stack="dev", instance="later"}',
          values: `${15 * day}x80`,
        },
      ],
      [
        {
          eval_time: "15m",
          alertname: "CertificateExpiresSoon",
          exp_alerts: [
            {
              exp_labels: { job: "edge-tls", stack: "dev", instance: "soon", severity: "warning" },
              exp_annotations: { summary: "The edge's certificate in stack dev expires in 12d 23h 45m 0s: renew it" },
            },
          ],
        },
      ],
    );
    expect(result.status, result.output).toBe(0);
  });

  it("CertificateRenewalOverdue fires an hour after the served certificate passed its renewal (29 days left), not before", () => {
    const day = 86400;
    const result = runRuleTest(
      [
        // Expiring at 29 days and 30 minutes (promtool's clock starts at 0): past the renewal from 30 minutes on.
        {
          series: 'probe_ssl_earliest_cert_expiry{job="edge-tls", stack="dev", instance="e"}',
          values: `${29 * day + 1800}x420`,
        },
      ],
      [
        { eval_time: "1h20m", alertname: "CertificateRenewalOverdue", exp_alerts: [] },
        {
          eval_time: "1h40m",
          alertname: "CertificateRenewalOverdue",
          exp_alerts: [
            {
              exp_labels: { job: "edge-tls", stack: "dev", instance: "e", severity: "warning" },
              exp_annotations: {
                summary:
                  "The edge's certificate in stack dev expires in 28d 22h 50m 0s and edge.acme has not renewed it: see the acme container's logs",
              },
            },
          ],
        },
      ],
    );
    expect(result.status, result.output).toBe(0);
  });

  it("CertificateNotIssued fires when the edge still serves the program's self-signed stand-in after 30 minutes, as the real prober reads it", async () => {
    // The stand-in as the program makes it (subject O=SELF_SIGNED_ORGANIZATION), served over TLS
    // on 127.0.0.1, read by Debian's blackbox exporter with the edge's own module.
    const certDir = path.join(dir, "stand-in");
    fs.mkdirSync(certDir, { recursive: true });
    const files = { certificate: path.join(certDir, "cert.pem"), key: path.join(certDir, "key.pem") };
    const openssl = tool("openssl", [
      ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "365"],
      ...["-subj", `/O=${SELF_SIGNED_ORGANIZATION}/CN=localhost`, "-keyout", files.key, "-out", files.certificate],
    ]);
    expect(openssl.status, openssl.output).toBe(0);
    const server = https.createServer(
      { cert: fs.readFileSync(files.certificate), key: fs.readFileSync(files.key) },
      (_req, res) => res.end("ok"),
    );
    const [serverPort, proberPort] = await freePorts(2);
    await new Promise<void>((resolve) => server.listen(serverPort, "127.0.0.1", resolve));
    fs.writeFileSync(path.join(dir, "blackbox.yml"), blackboxConfig("localhost"));
    const prober = start("prometheus-blackbox-exporter", [
      `--config.file=${path.join(dir, "blackbox.yml")}`,
      `--web.listen-address=127.0.0.1:${proberPort}`,
    ]);
    let issuer = "";
    try {
      const probe = `http://127.0.0.1:${proberPort}/probe?module=${BLACKBOX_MODULES.tls}&target=127.0.0.1:${serverPort}`;
      await waitUntil("the prober to read the stand-in's chain", async () => {
        const text = await (await fetch(probe)).text();
        issuer = /probe_ssl_last_chain_info\{[^}]*issuer="([^"]*)"/.exec(text)?.[1] ?? "";
        return issuer !== "";
      }).catch((error: unknown) => {
        throw new Error(`${String(error)}; the prober said: ${prober.output()}`);
      });
    } finally {
      await stop(prober);
      server.close();
    }
    // The series as Prometheus keeps it from the edge's TLS job: the rule reads that issuer.
    const chain = (from: string) =>
      `probe_ssl_last_chain_info{job="edge-tls", stack="dev", instance="e", issuer="${from}", fingerprint_sha256="ab"}`;
    const issued = "CN=Pebble Intermediate CA 5bd8b0,O=Pebble";
    const summary =
      "The edge of stack dev still serves its self-signed stand-in: edge.acme has not obtained a certificate (see the acme container's logs)";
    const result = runRuleTest(
      [
        { series: chain(issuer), values: "1x200" },
        { series: chain(issued).replace('instance="e"', 'instance="other"'), values: "1x200" },
      ],
      [
        { eval_time: "25m", alertname: "CertificateNotIssued", exp_alerts: [] },
        {
          eval_time: "35m",
          alertname: "CertificateNotIssued",
          exp_alerts: [
            {
              exp_labels: {
                job: "edge-tls",
                stack: "dev",
                instance: "e",
                issuer,
                fingerprint_sha256: "ab",
                severity: "critical",
              },
              exp_annotations: { summary },
            },
          ],
        },
      ],
    );
    expect(result.status, `${result.output}\nissuer as the prober read it: ${issuer}`).toBe(0);
  });
});
