/**
 * The monitoring part of the stack's plan (sectorwars:monitoring): Prometheus, Alertmanager and the
 * blackbox prober as container plans, their network and volumes, and what they probe.
 */
import type { ImageSpec } from "../config";
import type { MonitoringImageKey } from "../config/images";
import { type ContainerPlan, type PlanContext, type PlatformListener, core, joinName } from "../stack/containers";
import { monitoringHealthcheck } from "../stack/healthchecks";
import { healthPathOf, isGameService } from "../stack/services";
import { MONITORING_PORTS, type Probe, healthProbes } from "./prometheus";

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
  images: Record<MonitoringImageKey, ImageSpec>;
}

/** The game services a stack runs, for the probes. */
export interface Watched {
  nexusApi: ContainerPlan;
  apps: ContainerPlan[];
  /** The active regions' APIs (a retired region has none). */
  regionApis: ContainerPlan[];
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
    images: {
      prometheus: config.images.prometheus,
      alertmanager: config.images.alertmanager,
      blackbox: config.images.blackbox,
    },
  };
}
