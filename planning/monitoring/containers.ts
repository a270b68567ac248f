/**
 * Every container's CPU, memory and restarts: cAdvisor reads each container's cgroup and asks the
 * engine (its socket, mounted read-only) for the container's name and labels. Prometheus keeps
 * only this stack's containers and labels their series with the stack, role and region of the
 * container itself (its com.sectorwars.* labels), so a region's new API is watched from the deploy
 * that adds it and the rules read the same labels as every other series.
 *
 * In swarm mode it is a global service, a task on every node reading that node's engine, each
 * found by Prometheus through the service's name (as the host exporter's): every node keeps its
 * engine's socket and data root where the manager's are (Docker's defaults), since one service
 * spec mounts the same paths on every node.
 *
 * What it mounts, read-only, and why: /sys (the cgroups it reads), the engine's data root (where
 * it finds a container's writable layer; without it the engine's containers are not handled) and
 * the engine's socket (names, labels, start times). Not the host's root file system the upstream
 * example mounts: nothing it exports here needs it (disk metrics are off).
 */
import { LABEL_REGION, LABEL_ROLE, LABEL_STACK } from "../roles";
import type { ContainerPlan } from "../stack/containers";
import { monitoringHealthcheck } from "../stack/healthchecks";
import { SERIES_LABELS, type ScrapeTarget, escapeRegex, everyAddressOf, seriesLabels } from "./prometheus";

export const CONTAINERS_PORT = 8080;
export const CONTAINERS_JOB = "containers";
export const CONTAINERS_ROLE = "container-exporter" satisfies ContainerPlan["role"];
export const CONTAINERS_HEALTHCHECK = monitoringHealthcheck(CONTAINERS_PORT, "/healthz");

/** The series the rules read. A restart gives the container a new start time (Docker's StartedAt). */
export const CONTAINER_SERIES = { startTime: "container_start_time_seconds" } as const;

/**
 * The label that names a swarm task's slot (`<service>.<slot>`, or `<service>.<node id>` for a
 * global service's task): swarm restarts a failed task as a new task, a new container of the same
 * slot, where one host restarts the same container. Absent from one host's containers.
 */
export const TASK_SLOT_LABEL = "task";

/** The label swarm gives a task's container: `<service>.<slot or node id>.<task id>`. */
const SWARM_TASK_NAME = "com.docker.swarm.task.name";

/** Docker's default socket: where an engine's host keeps it, and where cAdvisor looks in its container. */
const DOCKER_SOCKET = "/var/run/docker.sock";

/** A container label as cAdvisor names it on a series (--whitelisted_container_labels). */
const seriesLabelOf = (containerLabel: string) => `container_label_${containerLabel.replace(/[^a-zA-Z0-9_]/g, "_")}`;

/**
 * cAdvisor's flags. `--disable_metrics` replaces its default list rather than adding to it: the
 * defaults are repeated, with per-CPU, disk and network detail nobody alerts on left out.
 */
export const CONTAINERS_COMMAND: readonly string[] = [
  `--port=${CONTAINERS_PORT}`,
  "--docker_only",
  "--housekeeping_interval=10s",
  // Only the labels the series are labelled from, never every label and environment variable.
  "--store_container_labels=false",
  `--whitelisted_container_labels=${[LABEL_STACK, LABEL_ROLE, LABEL_REGION, SWARM_TASK_NAME].join(",")}`,
  "--disable_metrics=" +
    [
      "advtcp,cpu_topology,cpuset,hugetlb,memory_numa,process,referenced_memory,resctrl,sched,tcp,udp",
      "percpu,disk,diskIO,network,perf_event",
    ].join(","),
];

/**
 * The engine's socket on the host: the path of a `unix://` DOCKER_HOST (docker:host), else the
 * engine's default, which is also where a remote (tcp://, ssh://) engine's host keeps it.
 */
export function engineSocketPath(dockerHost: string | undefined): string {
  const unix = /^unix:\/\/(\/.+)$/.exec(dockerHost ?? "");
  return unix?.[1] ?? DOCKER_SOCKET;
}

/** What cAdvisor reads of the host, each path mounted read-only. */
export function containersHostPaths(host: {
  dockerRootDir: string;
  socket: string;
}): { source: string; target: string }[] {
  const root = host.dockerRootDir.replace(/\/+$/, "");
  return [
    { source: "/sys", target: "/sys" },
    // At the same path: cAdvisor looks for a container's layer where the engine says its root is.
    { source: root, target: root },
    { source: host.socket, target: DOCKER_SOCKET },
  ];
}

/**
 * cAdvisor as Prometheus scrapes it: it reports every container on the host, and the machine
 * itself; only this stack's containers are kept, each series labelled from its container's labels
 * (role, region) instead of the reader's, and the raw container labels and cgroup path dropped.
 */
export function containersTarget(plan: ContainerPlan): ScrapeTarget {
  // The reader's own stack: its containers carry the same label.
  const stack = plan.labels[LABEL_STACK] ?? "";
  const label = (containerLabel: string, seriesLabel: string) => ({
    source_labels: [seriesLabelOf(containerLabel)],
    regex: "(.+)",
    target_label: seriesLabel,
  });
  return {
    job: CONTAINERS_JOB,
    ...everyAddressOf(plan),
    labels: seriesLabels(plan.labels, plan.role),
    metricRelabel: [
      { source_labels: [seriesLabelOf(LABEL_STACK)], regex: escapeRegex(stack), action: "keep" },
      label(LABEL_ROLE, SERIES_LABELS.role),
      label(LABEL_REGION, SERIES_LABELS.region),
      // The task's slot: its name without the task id.
      { source_labels: [seriesLabelOf(SWARM_TASK_NAME)], regex: "(.+)\\.[^.]+", target_label: TASK_SLOT_LABEL },
      { regex: "container_label_.*|id", action: "labeldrop" },
    ],
  };
}
