/**
 * Every container's CPU, memory and restarts (planning/monitoring/containers.ts): the reader's plan,
 * the host paths it mounts, the scrape job that keeps this stack's containers and labels them
 * with each container's own role and region (checked by `promtool check config`), and
 * ContainerRestartLoop under `promtool test rules`. The real cAdvisor, scraped by the real
 * Prometheus of a deployed stack, is test/real-engine/prod.test.ts.
 */
import { afterAll, describe, expect, it } from "vitest";
import { parseConfig } from "../planning/config";
import {
  CONTAINERS_COMMAND,
  CONTAINER_SERIES,
  containersHostPaths,
  containersTarget,
  engineSocketPath,
} from "../planning/monitoring/containers";
import { planStack } from "../planning/stack/topology";
import { devConfigWith, rawOf } from "./support/configs";
import { toolDir } from "./support/promtool";

const { runRuleTest, checkPrometheusConfig, remove } = toolDir();
afterAll(remove);

const REGIONS = [{ id: "orion", name: "Orion", type: "default", slot: 1 }];
const planWith = (extra: Record<string, unknown> = {}) =>
  planStack(
    parseConfig(
      { ...rawOf(devConfigWith([])), regions: REGIONS, monitoring: { enabled: true }, ...extra },
      { presentSecrets: new Set() },
    ),
    "dev",
  );

describe("the container reader", () => {
  const plan = planWith();
  const reader = plan.monitoring?.exporters.containers;

  it("is planned with monitoring, sized, labelled and health-checked on its /healthz", () => {
    expect(reader?.containerName).toBe("sectorwars-dev_container_exporter");
    expect(reader?.image).toBe("containerExporter");
    expect(reader?.labels["com.sectorwars.role"]).toBe("container-exporter");
    expect(reader?.size.limits.memoryMb).toBeGreaterThan(0);
    expect(reader?.healthcheck.tests[1]).toBe("wget -q -O /dev/null http://127.0.0.1:8080/healthz || exit 1");
  });

  it.each([
    { dockerHost: undefined, socket: "/var/run/docker.sock" },
    { dockerHost: "unix:///run/other-docker.sock", socket: "/run/other-docker.sock" },
    { dockerHost: "tcp://10.0.0.5:2376", socket: "/var/run/docker.sock" },
    { dockerHost: "ssh://ops@game-host", socket: "/var/run/docker.sock" },
  ])("reads the engine at $socket when docker:host is $dockerHost", ({ dockerHost, socket }) => {
    expect(engineSocketPath(dockerHost)).toBe(socket);
  });

  it("mounts the cgroups, the engine's data root at its own path and its socket, nothing of the host's root", () => {
    expect(containersHostPaths({ dockerRootDir: "/srv/docker/", socket: "/run/d.sock" })).toEqual([
      { source: "/sys", target: "/sys" },
      { source: "/srv/docker", target: "/srv/docker" },
      { source: "/run/d.sock", target: "/var/run/docker.sock" },
    ]);
  });

  it("exports only the three labels of each container and its swarm task's name, and none of the per-CPU, disk or network detail", () => {
    expect(CONTAINERS_COMMAND).toContain("--store_container_labels=false");
    expect(CONTAINERS_COMMAND).toContain(
      "--whitelisted_container_labels=com.sectorwars.stack,com.sectorwars.role,com.sectorwars.region,com.docker.swarm.task.name",
    );
    const disabled = CONTAINERS_COMMAND.find((f) => f.startsWith("--disable_metrics="))
      ?.split("=")[1]
      ?.split(",");
    expect(disabled).toEqual(expect.arrayContaining(["percpu", "disk", "diskIO", "network", "process"]));
  });

  it("keeps this stack's containers' series, labelled with each container's role and region", () => {
    if (!reader) throw new Error("no container reader planned");
    expect(containersTarget(reader).metricRelabel).toEqual([
      { source_labels: ["container_label_com_sectorwars_stack"], regex: "dev", action: "keep" },
      { source_labels: ["container_label_com_sectorwars_role"], regex: "(.+)", target_label: "role" },
      { source_labels: ["container_label_com_sectorwars_region"], regex: "(.+)", target_label: "region" },
      { source_labels: ["container_label_com_docker_swarm_task_name"], regex: "(.+)\\.[^.]+", target_label: "task" },
      { regex: "container_label_.*|id", action: "labeldrop" },
    ]);
    const monitoring = plan.monitoring;
    if (!monitoring) throw new Error("monitoring was not planned");
    const checked = checkPrometheusConfig(monitoring);
    expect(checked.status, checked.output).toBe(0);
    expect(checked.config).toContain("metric_relabel_configs:");
  });
});

/**
 * promtool's verdict on ContainerRestartLoop at `evalTime` over `series`: firing once, for orion's
 * API with the `labels` that name the container or task (`what`, as the summary says it), or not at all.
 */
function restartLoop(
  series: { series: string; values: string }[],
  evalTime: string,
  alert?: { labels: Record<string, string>; what: string },
) {
  const orion = { job: "containers", stack: "dev", role: "region-api", region: "orion" };
  return runRuleTest(series, [
    {
      eval_time: evalTime,
      alertname: "ContainerRestartLoop",
      exp_alerts: alert
        ? [
            {
              exp_labels: { ...orion, ...alert.labels, severity: "critical" },
              exp_annotations: {
                summary: `region-api of region orion in stack dev (${alert.what}) restarted 3 times in 15m: see its logs`,
              },
            },
          ]
        : [],
    },
  ]);
}

describe("ContainerRestartLoop, one host", () => {
  const name = "sectorwars-dev_region_orion";
  const api = `job="containers", stack="dev", role="region-api", region="orion", name="${name}"`;
  // 15 s apart; each value is the container's start time (Unix seconds).
  const cases: { label: string; values: string; fires: boolean }[] = [
    { label: "started 4 times in 15 minutes", values: "100x10 400x10 700x10 1000x20", fires: true },
    { label: "started 3 times in 15 minutes (2 restarts)", values: "100x10 400x10 700x30", fires: false },
    { label: "restarted once, by an operator", values: "100x20 500x30", fires: false },
  ];
  it.each(cases)("$label: fires $fires", ({ values, fires }) => {
    const series = [{ series: `${CONTAINER_SERIES.startTime}{${api}}`, values }];
    const result = restartLoop(series, "10m", fires ? { labels: { name }, what: `container ${name}` } : undefined);
    expect(result.status, result.output).toBe(0);
  });
});

describe("ContainerRestartLoop, swarm mode", () => {
  // Each restart is a new task of the slot, a container (a series) of its own; 15 s apart, each
  // value the container's start time, `stale` once it is gone.
  const task = (slot: string, id: string) =>
    `${CONTAINER_SERIES.startTime}{job="containers", stack="dev", role="region-api", region="orion", ` +
    `task="sectorwars-dev_region_orion_api.${slot}", name="sectorwars-dev_region_orion_api.${slot}.${id}"}`;
  const cases: { label: string; series: { series: string; values: string }[]; fires: boolean }[] = [
    {
      label: "slot 1 started 4 tasks in 15 minutes",
      series: [
        { series: task("1", "a"), values: "0x4 stale" },
        { series: task("1", "b"), values: "_x5 70x4 stale" },
        { series: task("1", "c"), values: "_x10 145x4 stale" },
        { series: task("1", "d"), values: "_x15 220x20" },
      ],
      fires: true,
    },
    {
      label: "slot 1 started 3 tasks in 15 minutes (2 restarts)",
      series: [
        { series: task("1", "a"), values: "0x4 stale" },
        { series: task("1", "b"), values: "_x5 70x4 stale" },
        { series: task("1", "c"), values: "_x10 145x30" },
      ],
      fires: false,
    },
    {
      label: "two slots, each replaced by two deploys",
      series: ["1", "2"].flatMap((slot) => [
        { series: task(slot, `${slot}a`), values: "0x4 stale" },
        { series: task(slot, `${slot}b`), values: "_x5 70x4 stale" },
        { series: task(slot, `${slot}c`), values: "_x10 145x30" },
      ]),
      fires: false,
    },
  ];
  it.each(cases)("$label: fires $fires", ({ series, fires }) => {
    const slot = "sectorwars-dev_region_orion_api.1";
    const result = restartLoop(
      series,
      "5m",
      fires ? { labels: { task: slot }, what: `swarm task ${slot}` } : undefined,
    );
    expect(result.status, result.output).toBe(0);
  });
});
