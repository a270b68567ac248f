/**
 * What Prometheus watches and how, as the text of its files: prometheus.yml (what it probes and
 * scrapes, the rules, where alerts go) and the blackbox prober's modules. Pure: the Monitoring
 * component uploads the text, the tests run `promtool check config` on it.
 *
 * Every game service is probed at the health path its own container check asks, by its name on
 * the edge's front network, through the blackbox prober: a stopped container, one that no longer
 * resolves, and one that answers 5xx all count as down. Each series carries the labels stack,
 * role and region (for a region's API), from the plan, so a new region is watched by the deploy
 * that adds it, and a retired one stops being watched.
 */
import { stringify } from "yaml";
import { LABEL_REGION, LABEL_ROLE, LABEL_STACK, type Role } from "../roles";

/** The series labels every alert reads: stack, role and (for a region's API) region. */
export const SERIES_LABELS = { stack: "stack", role: "role", region: "region" } as const;

/** Inside the monitoring containers; the official images' own. */
export const MONITORING_PORTS = { prometheus: 9090, alertmanager: 9093, blackbox: 9115 } as const;

export const PROMETHEUS_PATHS = {
  config: "/etc/prometheus/prometheus.yml",
  rules: "/etc/prometheus/rules/sectorwars.yml",
  data: "/prometheus",
} as const;
export const ALERTMANAGER_PATHS = { config: "/etc/alertmanager/alertmanager.yml", data: "/alertmanager" } as const;
export const BLACKBOX_PATHS = { config: "/etc/blackbox_exporter/config.yml" } as const;

/** The scrape jobs the rules read by name. */
export const JOBS = {
  health: "health",
  edge: "edge-tls",
  prometheus: "prometheus",
  alertmanager: "alertmanager",
} as const;

/** One health endpoint Prometheus probes, and the labels its series carry. */
export interface Probe {
  url: string;
  labels: Record<string, string>;
}

/** A game service's container (of its ContainerPlan) and the path its health is asked on. */
export interface ProbedService {
  plan: { role: Role; hostname: string; port: number; labels: Record<string, string> };
  healthPath: string;
}

/**
 * An exporter Prometheus scrapes directly (planning/monitoring/exporters.ts), and its series'
 * labels. `address`: one host:port. `everyAddressOf`: every address the name resolves to, each its
 * own target (a global service's tasks in swarm mode, whose name answers with each task's own
 * address; on one host, the one container).
 */
export type ScrapeTarget = {
  job: string;
  labels: Record<string, string>;
  /** The job's metric_relabel_configs: what of the scraped series it keeps, and how they are labelled (containers.ts). */
  metricRelabel?: readonly Record<string, unknown>[];
  /** The job's metrics_path, where it is not Prometheus's /metrics (the game APIs' own, plan.ts). */
  metricsPath?: string;
} & ({ address: string } | { everyAddressOf: { name: string; port: number } });

/**
 * Every address a container's host name answers with, at its port: a swarm service's tasks (a
 * global service's on each node, a replicated one's each), each scraped on its own; one host's
 * container alone.
 */
export const everyAddressOf = (c: {
  hostname: string;
  port: number;
}): { everyAddressOf: { name: string; port: number } } => ({
  everyAddressOf: { name: c.hostname, port: c.port },
});

/** The container labels (com.sectorwars.*) as the series labels the rules read. */
export function seriesLabels(labels: Record<string, string>, role: Role): Record<string, string> {
  const region = labels[LABEL_REGION];
  return {
    [SERIES_LABELS.stack]: labels[LABEL_STACK] ?? "",
    [SERIES_LABELS.role]: labels[LABEL_ROLE] ?? role,
    ...(region === undefined ? {} : { [SERIES_LABELS.region]: region }),
  };
}

/** Each service's health endpoint by its name on the front network, in the order given. */
export function healthProbes(services: readonly ProbedService[]): Probe[] {
  return services.map(({ plan, healthPath }) => ({
    url: `http://${plan.hostname}:${plan.port}${healthPath}`,
    labels: seriesLabels(plan.labels, plan.role),
  }));
}

export interface PrometheusSettings {
  stack: string;
  scrapeInterval: string;
  /** Game services' health endpoints (healthProbes). */
  probes: Probe[];
  /** The edge's HTTPS address on the front network, and the public host name its certificate is for. */
  edge: { address: string; serverName: string; labels: Record<string, string> };
  /** Host names of the blackbox prober and Alertmanager on the monitoring network. */
  blackbox: string;
  alertmanager: string;
  /** The exporters (exporterTargets), one job each in the order their jobs first appear. */
  exporters: readonly ScrapeTarget[];
}

/** One scrape job per exporter kind, each target with its own labels. */
function exporterJobs(targets: readonly ScrapeTarget[]) {
  const jobs = [...new Set(targets.map((t) => t.job))];
  return jobs.map((job) => {
    const of = targets.filter((t) => t.job === job);
    const fixed = of.flatMap((t) => ("address" in t ? [{ targets: [t.address], labels: t.labels }] : []));
    const found = of.flatMap((t) => ("everyAddressOf" in t ? [t] : []));
    const metricRelabel = of.find((t) => t.metricRelabel)?.metricRelabel;
    const metricsPath = of.find((t) => t.metricsPath)?.metricsPath;
    return {
      job_name: job,
      ...(metricsPath ? { metrics_path: metricsPath } : {}),
      ...(fixed.length > 0 ? { static_configs: fixed } : {}),
      ...(found.length > 0
        ? {
            dns_sd_configs: found.map(({ everyAddressOf: { name, port } }) => ({
              names: [name],
              type: "A",
              port,
              refresh_interval: "30s",
            })),
            // A DNS-found target has no labels of its own: the name it was found by gives them.
            relabel_configs: found.flatMap((t) =>
              Object.entries(t.labels).map(([label, value]) => ({
                source_labels: ["__meta_dns_name"],
                regex: escapeRegex(t.everyAddressOf.name),
                target_label: label,
                replacement: value,
              })),
            ),
          }
        : {}),
      ...(metricRelabel ? { metric_relabel_configs: metricRelabel } : {}),
    };
  });
}

/** `text` as a regex that matches it and nothing else (Prometheus anchors relabel regexes). */
export const escapeRegex = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Sends a static target's address to the prober as ?target=, keeps it as `instance`, and scrapes the prober. */
const throughBlackbox = (blackbox: string) => [
  { source_labels: ["__address__"], target_label: "__param_target" },
  { source_labels: ["__param_target"], target_label: "instance" },
  { target_label: "__address__", replacement: `${blackbox}:${MONITORING_PORTS.blackbox}` },
];

/** The blackbox modules prometheus.yml names. */
export const BLACKBOX_MODULES = { health: "http_health", tls: "tls_expiry" } as const;

export function prometheusConfig(s: PrometheusSettings): string {
  const config = {
    global: {
      scrape_interval: s.scrapeInterval,
      evaluation_interval: s.scrapeInterval,
      // A probe must end before the next one starts.
      scrape_timeout: s.scrapeInterval,
      external_labels: { [SERIES_LABELS.stack]: s.stack },
    },
    rule_files: [PROMETHEUS_PATHS.rules],
    alerting: {
      alertmanagers: [{ static_configs: [{ targets: [`${s.alertmanager}:${MONITORING_PORTS.alertmanager}`] }] }],
    },
    scrape_configs: [
      {
        job_name: JOBS.health,
        metrics_path: "/probe",
        params: { module: [BLACKBOX_MODULES.health] },
        static_configs: s.probes.map((p) => ({ targets: [p.url], labels: p.labels })),
        relabel_configs: throughBlackbox(s.blackbox),
      },
      {
        job_name: JOBS.edge,
        metrics_path: "/probe",
        params: { module: [BLACKBOX_MODULES.tls] },
        static_configs: [{ targets: [s.edge.address], labels: s.edge.labels }],
        relabel_configs: throughBlackbox(s.blackbox),
      },
      ...exporterJobs(s.exporters),
      {
        job_name: JOBS.prometheus,
        static_configs: [{ targets: [`127.0.0.1:${MONITORING_PORTS.prometheus}`], labels: { role: "prometheus" } }],
      },
      {
        job_name: JOBS.alertmanager,
        static_configs: [
          { targets: [`${s.alertmanager}:${MONITORING_PORTS.alertmanager}`], labels: { role: "alertmanager" } },
        ],
      },
    ],
  };
  return stringify(config, { lineWidth: 0 });
}

/**
 * The prober's modules: a health endpoint is up when it answers 2xx over HTTP within the timeout
 * (no redirect followed: a health check that redirects is misconfigured); the edge's certificate
 * is read over TLS whoever signed it (dev's is self-signed, and prod's is for the public name, not
 * the container's), asking for the public name, so that expiry is what players get.
 */
export function blackboxConfig(edgeServerName: string): string {
  return stringify(
    {
      modules: {
        [BLACKBOX_MODULES.health]: {
          prober: "http",
          timeout: "5s",
          http: { valid_status_codes: [], follow_redirects: false, preferred_ip_protocol: "ip4" },
        },
        [BLACKBOX_MODULES.tls]: {
          prober: "tcp",
          timeout: "5s",
          tcp: {
            tls: true,
            preferred_ip_protocol: "ip4",
            tls_config: { insecure_skip_verify: true, server_name: edgeServerName },
          },
        },
      },
    },
    { lineWidth: 0 },
  );
}
