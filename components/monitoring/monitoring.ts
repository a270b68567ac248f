/**
 * Prometheus, its blackbox prober, Alertmanager and the exporters (sectorwars:monitoring): every
 * game service's health and the edge's certificate are probed, the databases, Redis and the host's
 * disk scraped, the alert rules evaluated, and alerts posted to the stack's webhook. What is
 * probed and scraped and the rules are planned in planning/monitoring/; this only declares.
 * Nothing is published on the host: an operator reaches Prometheus with `docker exec`
 * (docs/monitoring.md).
 */
import type * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { MonitoringImageKey } from "../../planning/config/images";
import { alertmanagerConfig } from "../../planning/monitoring/alertmanager";
import { alertRulesFile } from "../../planning/monitoring/alerts";
import { scrapeTargets } from "../../planning/monitoring/plan";
import {
  ALERTMANAGER_PATHS,
  BLACKBOX_PATHS,
  PROMETHEUS_PATHS,
  blackboxConfig,
  prometheusConfig,
} from "../../planning/monitoring/prometheus";
import type { MonitoringPlan, StackPlan } from "../../planning/stack/topology";
import type { Backend } from "../workload/workload";
import { type Watched, declareExporters } from "./exporters";

export interface MonitoringArgs {
  /** The orchestrator that declares the workloads. */
  readonly backend: Backend;
  /** The three containers, their network and volumes, the scrape interval and the probes. */
  readonly plan: MonitoringPlan;
  /** The stack's name and edge: the TLS probe asks the edge for its public name's certificate. */
  readonly stack: string;
  readonly edge: Pick<StackPlan["edge"], "hostname" | "ports" | "publicHostname">;
  /** The edge's front network, where the game services answer; the prober joins it. */
  readonly frontNetwork: docker.Network;
  /** Prometheus, Alertmanager and the prober's images, as the backend names images. */
  readonly images: Record<MonitoringImageKey, pulumi.Input<string>>;
  /** Where Alertmanager posts (monitoringAlertWebhook); none: alerts are shown, not sent. */
  readonly alertWebhook?: pulumi.Output<string>;
  /** Protect Prometheus's and Alertmanager's volumes against deletion (prod), as every data volume. */
  readonly protectData: boolean;
  /** The databases' and Redis' networks and passwords, for their exporters. */
  readonly watched: Watched;
}

export class Monitoring extends pulumi.ComponentResource {
  /** Container names (one host) or service names (swarm). */
  public readonly names: {
    prometheus: pulumi.Output<string>;
    alertmanager: pulumi.Output<string>;
    blackbox: pulumi.Output<string>;
  };

  constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super("sectorwars:platform:Monitoring", name, {}, opts);
    const { plan, backend } = args;
    const parent = { parent: this };
    const network = backend.network(
      `${name}-net`,
      // A route out: Alertmanager posts to a webhook off the host.
      {
        networkName: plan.networkName,
        labels: plan.prometheus.labels,
        debugPort: null,
        egress: true,
        attachable: true,
      },
      parent,
    );
    const on = (aliases: string[]) => [{ network, aliases }];
    declareExporters(
      name,
      { backend, plan: plan.exporters, watched: args.watched, network, images: args.images },
      this,
    );

    const blackbox = backend.workload(
      `${name}-blackbox`,
      {
        plan: plan.blackbox,
        image: args.images.blackbox,
        env: {},
        command: [`--config.file=${BLACKBOX_PATHS.config}`],
        files: [
          {
            path: BLACKBOX_PATHS.config,
            content: blackboxConfig(args.edge.publicHostname),
            secret: false,
            object: { resourceName: `${name}-blackbox-conf`, stableName: `${plan.blackbox.containerName}_conf` },
          },
        ],
        networks: [...on([plan.blackbox.hostname]), { network: args.frontNetwork, aliases: [] }],
      },
      parent,
    );

    // Both images declare their data directory a VOLUME: each gets a named one, never an anonymous one.
    const alertmanagerData = backend.volume(
      `${name}-alertmanager-data`,
      { volumeName: plan.alertmanager.volumeName, labels: plan.alertmanager.labels, protect: args.protectData },
      parent,
    );
    const alertmanager = backend.workload(
      `${name}-alertmanager`,
      {
        plan: plan.alertmanager,
        image: args.images.alertmanager,
        env: {},
        // One Alertmanager: no cluster to gossip with, so no cluster listener.
        command: [
          `--config.file=${ALERTMANAGER_PATHS.config}`,
          `--storage.path=${ALERTMANAGER_PATHS.data}`,
          "--cluster.listen-address=",
        ],
        files: [
          {
            path: ALERTMANAGER_PATHS.config,
            // The webhook's URL is a credential (most carry a token): a secret file.
            content: args.alertWebhook ? args.alertWebhook.apply(alertmanagerConfig) : alertmanagerConfig(undefined),
            secret: true,
            object: {
              resourceName: `${name}-alertmanager-conf`,
              stableName: `${plan.alertmanager.containerName}_conf`,
            },
          },
        ],
        volumes: [{ volume: alertmanagerData, target: ALERTMANAGER_PATHS.data }],
        networks: on([plan.alertmanager.hostname]),
      },
      parent,
    );

    const volume = backend.volume(
      `${name}-prometheus-data`,
      { volumeName: plan.prometheus.volumeName, labels: plan.prometheus.labels, protect: args.protectData },
      parent,
    );
    const https = `${args.edge.hostname}:${args.edge.ports.https.internal}`;
    const prometheus = backend.workload(
      `${name}-prometheus`,
      {
        plan: plan.prometheus,
        image: args.images.prometheus,
        env: {},
        command: [
          `--config.file=${PROMETHEUS_PATHS.config}`,
          `--storage.tsdb.path=${PROMETHEUS_PATHS.data}`,
          `--storage.tsdb.retention.time=${plan.prometheus.retention}`,
        ],
        files: [
          {
            path: PROMETHEUS_PATHS.config,
            content: prometheusConfig({
              stack: args.stack,
              scrapeInterval: plan.scrapeInterval,
              probes: plan.probes,
              edge: {
                address: https,
                serverName: args.edge.publicHostname,
                labels: { stack: args.stack, role: "nginx" },
              },
              blackbox: plan.blackbox.hostname,
              alertmanager: plan.alertmanager.hostname,
              exporters: scrapeTargets(plan),
            }),
            secret: false,
            object: { resourceName: `${name}-prometheus-conf`, stableName: `${plan.prometheus.containerName}_conf` },
          },
          {
            path: PROMETHEUS_PATHS.rules,
            content: alertRulesFile(plan.alerts),
            secret: false,
            object: { resourceName: `${name}-prometheus-rules`, stableName: `${plan.prometheus.containerName}_rules` },
          },
        ],
        volumes: [{ volume, target: PROMETHEUS_PATHS.data }],
        // The game APIs' own metrics are on the front network, where the edge reaches them.
        networks: [
          ...on([plan.prometheus.hostname]),
          ...(plan.apiMetrics.length > 0 ? [{ network: args.frontNetwork, aliases: [] }] : []),
        ],
      },
      parent,
    );

    this.names = { prometheus: prometheus.name, alertmanager: alertmanager.name, blackbox: blackbox.name };
    this.registerOutputs({ names: this.names });
  }
}
