/**
 * The monitoring part of the stack's plan (sectorwars:monitoring): Prometheus, Alertmanager, the
 * blackbox prober and the exporters as container plans, their network and volumes, and what they
 * probe and scrape.
 */
import type { ImageSpec } from "../config";
import { MONITORING_IMAGE_KEYS, type MonitoringImageKey } from "../config/images";
import { type ContainerPlan, type PlanContext, type PlatformListener, core, joinName } from "../stack/containers";
import { monitoringHealthcheck } from "../stack/healthchecks";
import { healthPathOf, isGameService } from "../stack/services";
import { renewalDueSeconds } from "../edge/acmeClient";
import { maxArchiveWaitSeconds } from "../status/archive";
import { defaultMaxBackupAgeSeconds } from "../status/backups";
import type { AlertSettings } from "./alerts";
import { type ExportersPlan, type WatchedDatabase, exporterTargets, planExporters } from "./exporters";
import {
  MONITORING_PORTS,
  type Probe,
  type ScrapeTarget,
  everyAddressOf,
  healthProbes,
  seriesLabels,
} from "./prometheus";

/** The game APIs' own metrics (monitoring.apiMetricsPath): the scrape job. */
export const API_METRICS_JOB = "api";

/** What the Monitoring component declares (sectorwars:monitoring); null where the stack is not watched. */
export interface MonitoringPlan {
  prometheus: ContainerPlan & { volumeName: string; retention: string };
  /** Its silences and notification log outlive the container (a new webhook, a new image). */
  alertmanager: ContainerPlan & { volumeName: string };
  blackbox: ContainerPlan;
  /** Prometheus, Alertmanager and the prober talk here; it has a route out, for the webhook. */
  networkName: string;
  scrapeInterval: string;
  /** Every active game service's health endpoint, in a stable order (nexus, apps, regions by config). */
  probes: Probe[];
  /** What Prometheus scrapes besides the probes: the databases, Redis, the host's disk. */
  exporters: ExportersPlan;
  /**
   * The nexus's and each active region's API at monitoring.apiMetricsPath, labelled as its probe;
   * none when unset. Prometheus joins the front network to reach them.
   */
  apiMetrics: ScrapeTarget[];
  /** What the alert rules take of the stack config. */
  alerts: AlertSettings;
  images: Record<MonitoringImageKey, ImageSpec>;
}

/** The game services a stack runs, for the probes. */
export interface Watched {
  nexusApi: ContainerPlan;
  apps: ContainerPlan[];
  /** The active regions' APIs (a retired region has none). */
  regionApis: ContainerPlan[];
  /** The nexus's database, then the active regions'. */
  databases: WatchedDatabase[];
  redis: ContainerPlan;
}

export function planMonitoring(ctx: PlanContext, watched: Watched): MonitoringPlan {
  const { config } = ctx;
  const listener = (port: number): PlatformListener => ({ port, healthcheck: monitoringHealthcheck(port) });
  const services = [watched.nexusApi, ...watched.apps, ...watched.regionApis];
  return {
    prometheus: {
      ...core(ctx, "prometheus", {
        suffix: "prometheus",
        hostname: "prometheus",
        image: "prometheus",
        listener: listener(MONITORING_PORTS.prometheus),
      }),
      volumeName: joinName(config.namePrefix, "prometheus_data"),
      retention: config.monitoring.retention,
    },
    alertmanager: {
      ...core(ctx, "alertmanager", {
        suffix: "alertmanager",
        hostname: "alertmanager",
        image: "alertmanager",
        listener: listener(MONITORING_PORTS.alertmanager),
      }),
      volumeName: joinName(config.namePrefix, "alertmanager_data"),
    },
    blackbox: core(ctx, "blackbox", {
      suffix: "blackbox",
      hostname: "blackbox",
      image: "blackbox",
      listener: listener(MONITORING_PORTS.blackbox),
    }),
    networkName: joinName(config.namePrefix, "monitoring"),
    scrapeInterval: config.monitoring.scrapeInterval,
    probes: healthProbes(
      // Each is a game service; the guard tells the type so.
      services.flatMap((plan) =>
        isGameService(plan.role) ? [{ plan, healthPath: healthPathOf(plan.role, config.services[plan.role]) }] : [],
      ),
    ),
    exporters: planExporters(ctx, { databases: watched.databases, redis: watched.redis }),
    apiMetrics: apiMetricsTargets([watched.nexusApi, ...watched.regionApis], config.monitoring.apiMetricsPath),
    alerts: {
      walWaitLimitSeconds: config.backup.repository
        ? maxArchiveWaitSeconds(config.backup.repository.archiveTimeoutSeconds)
        : null,
      backupAgeLimitSeconds: config.backup.repository ? defaultMaxBackupAgeSeconds(config.backup.schedule) : null,
      renewalDueSeconds: config.edge.acme ? renewalDueSeconds(config.edge.acme) : null,
    },
    images: Object.fromEntries(MONITORING_IMAGE_KEYS.map((key) => [key, config.images[key]])) as Record<
      MonitoringImageKey,
      ImageSpec
    >,
  };
}

/** Every container the monitoring plan runs, for totals and checks. */
export function monitoringContainers(plan: MonitoringPlan): ContainerPlan[] {
  return [
    plan.prometheus,
    plan.alertmanager,
    plan.blackbox,
    ...plan.exporters.databases,
    plan.exporters.redis,
    plan.exporters.host,
    plan.exporters.edgeRequests,
    plan.exporters.containers,
  ];
}

function apiMetricsTargets(apis: readonly ContainerPlan[], path: string | undefined): ScrapeTarget[] {
  if (path === undefined) return [];
  return apis.map((api) => ({
    job: API_METRICS_JOB,
    ...everyAddressOf(api),
    labels: seriesLabels(api.labels, api.role),
    metricsPath: path,
  }));
}

/** Everything Prometheus scrapes directly: the exporters, then the game APIs' own metrics. */
export function scrapeTargets(plan: MonitoringPlan): ScrapeTarget[] {
  return [...exporterTargets(plan.exporters), ...plan.apiMetrics];
}
