/**
 * Per-region request rate, 5xx rate and latency at the edge: nginx has them only in its access
 * log (stub_status counts totals), so mtail reads that log and counts each region's requests by
 * status and their time, for Prometheus to scrape.
 *
 * Where it reads: the edge logs to its stdout (the nginx image links access.log there), which
 * Docker keeps in `<Docker root>/containers/<id>/<id>-json.log` (json-file, rotated at 10 MB, as
 * every container of the stack is declared). mtail mounts that one directory read-only and follows
 * the file across rotations. The edge itself knows nothing of it: no syslog target it must
 * resolve at start, no socket, so a stopped or missing mtail never touches a request; a new edge
 * container is a new directory, and mtail is replaced with it.
 *
 * In swarm mode every update of the edge (a new nginx.conf is a new config) starts a new task, a
 * new container whose id no plan knows: mtail runs on each edge node and reads every container's
 * log there (`<Docker root>/containers`, read-only), finding new ones as they come, and counts a
 * line only when Docker wrote it with the edge's role and this stack's name (the edge service's
 * `labels` log option, EDGE_LOG_LABELS): another stack's edge on the node, or any other container,
 * counts nothing.
 */
import { EDGE_LOG_STATUS_TO_REGION } from "../edge/nginx";
import { LABEL_ROLE, LABEL_STACK } from "../roles";
import type { ContainerPlan } from "../stack/containers";
import type { HealthcheckPlan } from "../stack/healthchecks";
import { SERIES_LABELS, type ScrapeTarget, escapeRegex, everyAddressOf, seriesLabels } from "./prometheus";

/**
 * What the reader's log directory holds: the edge container's own directory (one host), or every
 * container's directory of its node, of which it counts the lines of `stack`'s edge (swarm mode).
 */
export type EdgeLogScope = { kind: "edge container" } | { kind: "node"; stack: string };

/** The edge's role: what its requests are labelled with, and what its log lines carry in swarm mode. */
const EDGE_ROLE = "nginx" satisfies ContainerPlan["role"];

/** The container labels the edge's log lines carry in swarm mode, sorted as Docker writes them (a Go map). */
export const EDGE_LOG_LABELS: readonly string[] = [LABEL_ROLE, LABEL_STACK].sort();

/** mtail's own port, and the scrape job the rules read. */
export const EDGE_LOG_PORT = 3903;
export const EDGE_LOG_JOB = "edge-requests";
export const EDGE_LOG_ROLE = "edge-log-exporter" satisfies ContainerPlan["role"];

/** In the container: the program's directory and the program, and where the edge's log directory is mounted. */
const PROGRAMS = "/etc/mtail";
export const EDGE_LOG_PATHS = { programs: PROGRAMS, program: `${PROGRAMS}/edge.mtail`, logs: "/var/log/edge" };

/** The series the program writes; the rules read them by these names. */
export const EDGE_SERIES = { requests: "edge_requests_total", duration: "edge_request_duration_seconds" } as const;

/** Latency buckets (seconds): a game API answers in milliseconds; over a second is an incident. */
export const EDGE_LATENCY_BUCKETS = [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 10] as const;

/**
 * The official image (ghcr.io/google/mtail) is FROM scratch: no shell or wget for a probe of its
 * port. Its own binary checks that the program it runs compiles; whether it answers is what
 * Prometheus's `up` for the job tells (ExporterDown). --compile_only still opens its HTTP port
 * before it exits: any free one, since the running reader holds EDGE_LOG_PORT.
 */
export const EDGE_LOG_HEALTHCHECK: HealthcheckPlan = {
  tests: ["CMD", "/usr/bin/mtail", "--compile_only", "--logtostderr", "--port=0", "--progs", EDGE_LOG_PATHS.programs],
  interval: "30s",
  timeout: "10s",
  retries: 3,
  startPeriod: "10s",
};

/**
 * mtail's flags: the program directory, the current log file of the edge (of each container of
 * the node, in swarm mode: mtail looks for new ones every 250 ms), no `prog` label on every series.
 */
export function edgeLogCommand(scope: EdgeLogScope): string[] {
  // Only the file Docker writes now: a rotated one (…-json.log.1) was read before it was renamed.
  const current = scope.kind === "node" ? "*/*-json.log" : "*-json.log";
  return [
    `--progs=${EDGE_LOG_PATHS.programs}`,
    `--logs=${EDGE_LOG_PATHS.logs}/${current}`,
    `--port=${EDGE_LOG_PORT}`,
    "--emit_prog_label=false",
    "--logtostderr",
  ];
}

/** The host directory of every container's json-file log (each in a directory named by its id). */
export const containersLogDirectory = (dockerRootDir: string): string =>
  `${dockerRootDir.replace(/\/+$/, "")}/containers`;

/** The host directory of a container's json-file log. */
export const containerLogDirectory = (dockerRootDir: string, containerId: string): string =>
  `${containersLogDirectory(dockerRootDir)}/${containerId}`;

/**
 * The regular expression of a region's request in a Docker json-file line. nginx's line is JSON
 * (planning/edge/nginx.ts, escape=json), stored by Docker as the string `log`, so each of its
 * quotes reads `\"`. The fields are matched in the order nginx writes them (EDGE_LOG_STATUS_TO_REGION,
 * taken from the log format itself); a request outside a region has an empty region and no match.
 */
export function regionRequestPattern(): string {
  const captures: Record<string, string> = {
    $status: "(?P<status>\\d{3})",
    $body_bytes_sent: "\\d+",
    $request_time: "(?P<seconds>\\d+\\.\\d+)",
    $region_id: '(?P<region>[^\\\\"]+)',
  };
  return EDGE_LOG_STATUS_TO_REGION.split(/(\$[a-z_]+)/)
    .map((part) => {
      if (part.startsWith("$")) {
        const capture = captures[part];
        if (capture === undefined)
          throw new Error(`the edge's log format has ${part}, which the mtail program cannot read`);
        return capture;
      }
      // Literal text: quotes as Docker escapes them; nothing else of it is special to RE2 or mtail.
      return part.replace(/"/g, '\\\\"');
    })
    .join("");
}

/**
 * What follows nginx's line in a json-file line of `stack`'s edge: the labels Docker writes after
 * the `log` string (`"stream":…,"attrs":{…},"time":…`), unescaped, so nothing a client sends can
 * spell them.
 */
function edgeAttributesPattern(stack: string): string {
  const values: Record<string, string> = { [LABEL_ROLE]: EDGE_ROLE, [LABEL_STACK]: stack };
  const attrs = EDGE_LOG_LABELS.map((label) => `"${escapeRegex(label)}":"${escapeRegex(values[label] ?? "")}"`);
  return `.*"attrs":\\{${attrs.join(",")}\\}`;
}

/** The mtail program (EDGE_LOG_PATHS.program). */
export function edgeLogProgram(scope: EdgeLogScope): string {
  const edgeLines = scope.kind === "node" ? edgeAttributesPattern(scope.stack) : "";
  return [
    "# Each region's requests at the edge, from nginx's access log as Docker keeps it (sectorwars).",
    `counter ${EDGE_SERIES.requests} by ${SERIES_LABELS.region}, status`,
    `histogram ${EDGE_SERIES.duration} by ${SERIES_LABELS.region} buckets ${EDGE_LATENCY_BUCKETS.join(", ")}`,
    "",
    `/${regionRequestPattern()}${edgeLines}/ {`,
    `  ${EDGE_SERIES.requests}[$region][$status]++`,
    `  ${EDGE_SERIES.duration}[$region] = $seconds`,
    "}",
    "",
  ].join("\n");
}

/**
 * mtail as Prometheus scrapes it: labelled as the edge it reads (role nginx, no region), each
 * series with the region of its own requests; in swarm mode each edge node's task by its address.
 */
export function edgeLogTarget(plan: ContainerPlan): ScrapeTarget {
  return {
    job: EDGE_LOG_JOB,
    ...everyAddressOf(plan),
    labels: { ...seriesLabels(plan.labels, plan.role), [SERIES_LABELS.role]: EDGE_ROLE },
  };
}
