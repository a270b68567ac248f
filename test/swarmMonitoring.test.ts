/**
 * sectorwars:monitoring in swarm mode (planning/swarm/services.ts planSwarmMonitoring): where each
 * watcher runs, that the host exporter's tasks are each scraped (prometheus.yml under promtool),
 * what every node's capacity counts of them, that their read-only roots leave their volumes be,
 * and that the edge's request counter reads the edge's lines on each edge node.
 */
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parseConfig } from "../planning/config";
import { swarmCapacity } from "../planning/swarm/capacity";
import { acceptedPlacement } from "../planning/swarm/placement";
import { planSwarmServices } from "../planning/swarm/services";
import { planStack } from "../planning/stack/topology";
import { rawOf } from "./support/configs";
import { swarmDevConfig } from "./support/swarmConfigs";
import { toolDir } from "./support/promtool";
import { plainStrings } from "./support/graph";
import { CONTAINER, MOCK_DOCKER_ROOT_DIR, SERVICE, VOLUME, runProgram } from "./support/pulumi";
import { afterAll } from "vitest";

const { checkPrometheusConfig, remove } = toolDir();
afterAll(remove);

function swarmStack(
  swarm: Record<string, unknown> = { homeNode: "node-1", placement: { regions: {} } },
  monitoring: Record<string, unknown> = {},
) {
  const raw = { ...rawOf(swarmDevConfig(undefined, swarm)), monitoring: { enabled: true, ...monitoring } };
  const config = parseConfig(raw, { presentSecrets: new Set() });
  const plan = planStack(config, "dev");
  const { swarm: settings, placement } = acceptedPlacement(config);
  return {
    config,
    plan,
    settings,
    placement,
    services: planSwarmServices(plan, settings, placement, config.namePrefix),
  };
}

const where = (s: { serviceName: string; mode: { kind: string }; node?: string }) =>
  `${s.serviceName.replace("sectorwars-dev_", "")} ${s.mode.kind} ${s.node ?? "-"}`;

describe("monitoring in swarm mode", () => {
  it("pins Prometheus and Alertmanager to their volumes' node, floats the prober and exporters, runs the host's and cAdvisor on every node, the edge's counter on every edge node", () => {
    const { services } = swarmStack({ homeNode: "node-1", placement: { monitoring: "node-2", regions: {} } });
    expect(services.monitoring.map(where)).toEqual([
      "prometheus replicated node-2",
      "alertmanager replicated node-2",
      "blackbox replicated -",
      "nexus_db_exporter replicated -",
      "region_default_db_exporter replicated -",
      "region_orion_db_exporter replicated -",
      "redis_exporter replicated -",
      "node_exporter global -",
      "container_exporter global -",
      "edge_log_exporter global -",
    ]);
    for (const suffix of ["_node_exporter", "_container_exporter"]) {
      const perNode = services.monitoring.find((s) => s.serviceName.endsWith(suffix));
      expect(perNode?.mode, suffix).toEqual({ kind: "global", nodes: ["node-1", "node-2", "node-3"] });
      expect(perNode?.constraints, suffix).toEqual([]);
    }
    // Where the edge runs: the nodes the program labels for it.
    const reader = services.monitoring.find((s) => s.serviceName.endsWith("_edge_log_exporter"));
    expect(reader?.mode).toEqual({ kind: "global", nodes: ["node-1"] });
    expect(reader?.constraints).toEqual(services.edge.constraints);
    expect(services.edge.mode).toEqual(reader?.mode);
  });

  it("puts them on the home node without a placement entry of their own", () => {
    const { services } = swarmStack();
    expect(services.monitoring.filter((s) => s.node !== undefined).map(where)).toEqual([
      "prometheus replicated node-1",
      "alertmanager replicated node-1",
    ]);
  });

  it("counts the edge's requests from every container's log of its node, by the labels Docker writes with the edge's lines", () => {
    const { plan, services } = swarmStack();
    expect(plan.monitoring?.exporters.edgeRequests.scope).toEqual({ kind: "node", stack: "dev" });
    expect(services.edge.logLabels).toEqual(["com.sectorwars.role", "com.sectorwars.stack"]);
    // Without monitoring the edge's service is as it was: turning it off or on is the only change.
    const raw = rawOf(swarmDevConfig(undefined, { homeNode: "node-1", placement: { regions: {} } }));
    const config = parseConfig({ ...raw, monitoring: { enabled: false } }, { presentSecrets: new Set() });
    const { swarm, placement } = acceptedPlacement(config);
    const off = planSwarmServices(planStack(config, "dev"), swarm, placement, config.namePrefix);
    expect(off.edge.logLabels).toBeUndefined();
  });

  it("gives every watcher a read-only root, no tmpfs over Prometheus's or Alertmanager's volume", () => {
    for (const s of swarmStack().services.monitoring) {
      const { hardening } = s.container;
      expect(hardening.readOnlyRootfs, s.serviceName).toBe(true);
      for (const data of ["/prometheus", "/alertmanager"])
        expect(Object.keys(hardening.tmpfs), s.serviceName).not.toContain(data);
    }
  });

  it("counts the host exporter and cAdvisor on every node, the edge's counter on the edge's, and Prometheus on its own", () => {
    const { config, plan, settings, placement } = swarmStack({
      homeNode: "node-1",
      placement: { monitoring: "node-3", regions: {} },
    });
    const report = swarmCapacity(plan, config, settings, placement);
    const names = (node: string) =>
      report.nodes.find((n) => n.node === node)?.report.containers.map((c) => c.name) ?? [];
    for (const node of ["node-1", "node-2", "node-3"]) {
      expect(names(node), node).toContain(`sectorwars-dev_node_exporter@${node}`);
      expect(names(node), node).toContain(`sectorwars-dev_container_exporter@${node}`);
    }
    expect(names("node-1")).toContain("sectorwars-dev_edge_log_exporter@node-1");
    for (const node of ["node-2", "node-3"])
      expect(
        names(node).filter((n) => n.includes("edge_log")),
        node,
      ).toEqual([]);
    expect(names("node-3")).toEqual(
      expect.arrayContaining(["sectorwars-dev_prometheus", "sectorwars-dev_alertmanager"]),
    );
  });

  it("scrapes each node's host exporter and cAdvisor by the addresses their names answer with (promtool check config)", () => {
    const monitoring = swarmStack().plan.monitoring;
    if (!monitoring) throw new Error("monitoring was not planned");
    const checked = checkPrometheusConfig(monitoring);
    for (const name of ["node-exporter", "container-exporter", "edge-log-exporter"])
      expect(checked.config).toContain(`- ${name}\n`);
    expect(checked.status, checked.output).toBe(0);
  });

  it("scrapes each game API task at monitoring.apiMetricsPath, labelled by the name it was found by", () => {
    const monitoring = swarmStack(undefined, { apiMetricsPath: "/metrics" }).plan.monitoring;
    if (!monitoring) throw new Error("monitoring was not planned");
    const checked = checkPrometheusConfig(monitoring);
    expect(checked.status, checked.output).toBe(0);
    type Job = {
      job_name: string;
      metrics_path?: string;
      dns_sd_configs: { names: string[] }[];
      relabel_configs: { regex: string; target_label: string; replacement: string }[];
    };
    const api = (parse(checked.config) as { scrape_configs: Job[] }).scrape_configs.find((j) => j.job_name === "api");
    expect(api?.metrics_path).toBe("/metrics");
    expect(api?.dns_sd_configs.flatMap((d) => d.names)).toEqual([
      "nexus-api",
      "region-default-api",
      "region-orion-api",
    ]);
    const regionOf = api?.relabel_configs
      .filter((r) => r.target_label === "region")
      .map((r) => [r.regex, r.replacement]);
    expect(regionOf).toEqual([
      ["region-default-api", "default"],
      ["region-orion-api", "orion"],
    ]);
  });

  it("is declared by the program as swarm services only, with the webhook kept secret", async () => {
    const webhook = "https://hooks.example.com/T0/swarm-secret-token";
    const run = await runProgram({
      config: { ...swarmDevConfig(), "sectorwars:monitoring": { enabled: true } },
      secrets: { "sectorwars:monitoringAlertWebhook": webhook },
      engine: "1.45",
    });
    const names = run.ofType(SERVICE).map((s) => s.name);
    expect(names).toEqual(
      expect.arrayContaining([
        "monitoring-prometheus",
        "monitoring-alertmanager",
        "monitoring-blackbox",
        "monitoring-nexus-db-exporter",
        "monitoring-redis-exporter",
        "monitoring-node-exporter",
        "monitoring-containers",
        "monitoring-edge-requests",
      ]),
    );
    // cAdvisor's task binds its node's cgroups, data root and engine socket, read-only.
    const cadvisor = run.ofType(SERVICE).find((s) => s.name === "monitoring-containers");
    const mounts = (cadvisor?.inputs.taskSpec as { containerSpec: { mounts: Record<string, unknown>[] } }).containerSpec
      .mounts;
    expect(mounts.filter((m) => m.type === "bind")).toEqual([
      { type: "bind", source: "/sys", target: "/sys", readOnly: true },
      { type: "bind", source: MOCK_DOCKER_ROOT_DIR, target: MOCK_DOCKER_ROOT_DIR, readOnly: true },
      { type: "bind", source: "/var/run/docker.sock", target: "/var/run/docker.sock", readOnly: true },
    ]);
    // mtail's task reads every container's log directory of its node, read-only; the edge's lines
    // carry its role and stack.
    const mtail = run.ofType(SERVICE).find((s) => s.name === "monitoring-edge-requests");
    const spec = (mtail?.inputs.taskSpec as { containerSpec: { mounts: Record<string, unknown>[] } }).containerSpec;
    expect(spec.mounts.filter((m) => m.type === "bind")).toEqual([
      { type: "bind", source: `${MOCK_DOCKER_ROOT_DIR}/containers`, target: "/var/log/edge", readOnly: true },
    ]);
    const edge = run.ofType(SERVICE).find((s) => s.name === "edge");
    expect((edge?.inputs.taskSpec as { logDriver: { options: Record<string, string> } }).logDriver.options).toEqual({
      "max-size": "10m",
      "max-file": "5",
      labels: "com.sectorwars.role,com.sectorwars.stack",
    });
    expect(run.ofType(CONTAINER).map((c) => c.name)).toEqual([]);
    expect(run.ofType(VOLUME).map((v) => v.name)).toEqual([]);
    const plain = run.resources.flatMap((r) => plainStrings(r.rawInputs));
    expect(plain.filter((v) => v.includes("swarm-secret-token"))).toEqual([]);
  }, 120_000);
});
