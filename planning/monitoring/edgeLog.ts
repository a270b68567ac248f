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
 */
import { EDGE_LOG_STATUS_TO_REGION } from "../edge/nginx";
import type { ContainerPlan } from "../stack/containers";
import type { HealthcheckPlan } from "../stack/healthchecks";
import { SERIES_LABELS, type ScrapeTarget, seriesLabels } from "./prometheus";

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

/** mtail's flags: the program directory, the edge's current log file, no `prog` label on every series. */
export const EDGE_LOG_COMMAND: readonly string[] = [
  `--progs=${EDGE_LOG_PATHS.programs}`,
  // Only the file Docker writes now: a rotated one (…-json.log.1) was read before it was renamed.
  `--logs=${EDGE_LOG_PATHS.logs}/*-json.log`,
  `--port=${EDGE_LOG_PORT}`,
  "--emit_prog_label=false",
  "--logtostderr",
];

/** The host directory of a container's json-file log. */
export const containerLogDirectory = (dockerRootDir: string, containerId: string): string =>
  `${dockerRootDir.replace(/\/+$/, "")}/containers/${containerId}`;

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

/** The mtail program (EDGE_LOG_PATHS.program). */
export function edgeLogProgram(): string {
  return [
    "# Each region's requests at the edge, from nginx's access log as Docker keeps it (sectorwars).",
    `counter ${EDGE_SERIES.requests} by ${SERIES_LABELS.region}, status`,
    `histogram ${EDGE_SERIES.duration} by ${SERIES_LABELS.region} buckets ${EDGE_LATENCY_BUCKETS.join(", ")}`,
    "",
    `/${regionRequestPattern()}/ {`,
    `  ${EDGE_SERIES.requests}[$region][$status]++`,
    `  ${EDGE_SERIES.duration}[$region] = $seconds`,
    "}",
    "",
  ].join("\n");
}

/**
 * mtail as Prometheus scrapes it: labelled as the edge it reads (role nginx, no region), each
 * series with the region of its own requests.
 */
export function edgeLogTarget(plan: ContainerPlan): ScrapeTarget {
  return {
    job: EDGE_LOG_JOB,
    address: `${plan.hostname}:${plan.port}`,
    labels: { ...seriesLabels(plan.labels, plan.role), [SERIES_LABELS.role]: "nginx" },
  };
}
