/**
 * The `sectorwars:monitoring` part of the stack config: Prometheus, its health probes and
 * Alertmanager (planning/monitoring/). The webhook alerts go to is the secret key
 * `monitoringAlertWebhook`: a secret inside this object would make the whole object secret.
 */
import { z } from "zod";
import { DEFAULTS } from "./defaults";
import type { Environment } from "./edge";

const { monitoring } = DEFAULTS;

/** `pulumi config set --path` stores `true` as the string "true" unless `--type bool`: both mean true. */
const flag = z.union([z.boolean(), z.enum(["true", "false"]).transform((text) => text === "true")]);

/** Prometheus's own duration syntax, in the units a scrape interval or a retention is given in. */
const duration = (units: string, example: string) =>
  z
    .string()
    .regex(
      new RegExp(`^[1-9][0-9]{0,3}[${units}]$`),
      `must be a number and one of ${units.split("").join(", ")}, such as "${example}"`,
    );

export const monitoringSchema = z
  .strictObject({
    // Its default depends on the environment: resolveConfig fills it in (monitoringEnabledFor).
    enabled: flag
      .optional()
      .describe(
        "Prometheus, Alertmanager, a blackbox prober and exporters in the stack: every game service's health and the edge's " +
          "certificate are probed, every database, Redis and the Docker data root's disk scraped (in swarm mode every " +
          "node's), each region's requests at the edge counted, alerts go to the secret monitoringAlertWebhook. " +
          "Unset: on in prod (one host and swarm mode), off in dev.",
      ),
    scrapeInterval: duration("sm", "15s")
      .default(monitoring.scrapeInterval)
      .describe("How often Prometheus probes and scrapes, and evaluates the alert rules."),
    retention: duration("hdw", "15d")
      .default(monitoring.retention)
      .describe("How long Prometheus keeps its series, in its data volume."),
    apiMetricsPath: z
      .string()
      // Segments that nginx leaves as they are (no //, no dot segments, no trailing /): the edge
      // matches the path exactly to keep it private.
      .regex(/^(\/[A-Za-z0-9_-][A-Za-z0-9._-]*)+$/, 'must be a URL path such as "/metrics"')
      .optional()
      .describe(
        "Where the game server (image gameserver: the nexus API and each region's) answers Prometheus metrics; each " +
          "API (in swarm mode each task) is scraped there every scrapeInterval, its series labelled stack, role and " +
          "region. Unset: the image has none, and nothing is scraped. The edge answers 404 on /api/nexus<path> and " +
          "/api<path>, so players never reach it.",
      ),
  })
  .prefault({})
  .describe("Metrics and alerts (docs/monitoring.md).");

/**
 * monitoring.enabled when the stack does not set it: prod is watched, on one host and in swarm mode
 * (where Prometheus's volume goes to swarm.placement.monitoring, else homeNode, as a database's);
 * dev is not, where nobody would read the alerts.
 */
export function monitoringEnabledFor(given: { environment: Environment }, configured: boolean | undefined): boolean {
  return configured ?? given.environment === "prod";
}
