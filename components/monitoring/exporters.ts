/**
 * The exporters of the Monitoring component (planned in planning/monitoring/exporters.ts): one per
 * database on its private network, one on Redis' network, one for the host's disk, and mtail over
 * the edge's access log (planning/monitoring/edgeLog.ts), cAdvisor over every container
 * (planning/monitoring/containers.ts). Each joins the
 * monitoring network, where Prometheus scrapes it by its host name; nothing is published. The
 * passwords reach them as secret files, never in the environment (which `docker inspect` shows).
 */
import type * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { MonitoringImageKey } from "../../planning/config/images";
import {
  EXPORTER_PASSWORD_FILE,
  EXPORTER_PORTS,
  type ExportersPlan,
  NODE_EXPORTER_COMMAND,
  POSTGRES_EXPORTER_QUERIES_FILE,
  postgresExporterEnv,
  redisExporterAddress,
  redisExporterPasswordFile,
} from "../../planning/monitoring/exporters";
import { EDGE_LOG_PATHS, edgeLogCommand, edgeLogProgram } from "../../planning/monitoring/edgeLog";
import { CONTAINERS_COMMAND, containersHostPaths } from "../../planning/monitoring/containers";
import type { Backend, Deployed } from "../workload/workload";

/** What the exporters watch, as the components that own it hand it over. */
export interface Watched {
  /** Each active database's network and owner's password, by the database's container name (its plan's). */
  readonly databases: Readonly<Record<string, { network: docker.Network; password: pulumi.Output<string> }>>;
  readonly redis: { network: docker.Network; password: pulumi.Output<string> };
  /**
   * The host directory of the edge's json-file log, which mtail reads: the edge container's on one
   * host, every container's on each edge node in swarm mode (Orchestrator's edge.logDirectory).
   */
  readonly edgeLogDirectory: pulumi.Input<string>;
  /** The engine's data root and socket on its host, which cAdvisor reads (in swarm mode, the same on every node). */
  readonly engine: { dockerRootDir: string; socket: string };
}

export interface ExporterArgs {
  readonly backend: Backend;
  readonly plan: ExportersPlan;
  readonly watched: Watched;
  /** The monitoring network, where Prometheus scrapes them. */
  readonly network: docker.Network;
  readonly images: Record<MonitoringImageKey, pulumi.Input<string>>;
}

/** Declares every exporter under `parent`, named `${name}-<what it watches>-exporter`. */
export function declareExporters(name: string, args: ExporterArgs, parent: pulumi.ComponentResource): Deployed[] {
  const { backend, plan } = args;
  const opts = { parent };
  const monitoring = (hostname: string) => ({ network: args.network, aliases: [hostname] });

  const databases = plan.databases.map((exporter) => {
    const db = exporter.watches;
    const access = args.watched.databases[db.containerName];
    if (!access) throw new Error(`no network and password handed over for the database ${db.containerName}`);
    // Named by the database's host name (its region's id): a region added or retired touches no other exporter.
    const id = `${name}-${db.hostname}-exporter`;
    return backend.workload(
      id,
      {
        plan: exporter,
        image: args.images.postgresExporter,
        env: postgresExporterEnv(db),
        command: [
          `--web.listen-address=:${EXPORTER_PORTS.postgres}`,
          `--extend.query-path=${POSTGRES_EXPORTER_QUERIES_FILE}`,
        ],
        files: [
          {
            path: EXPORTER_PASSWORD_FILE,
            content: access.password,
            secret: true,
            object: { resourceName: `${id}-password`, stableName: `${exporter.containerName}_password` },
          },
          {
            path: POSTGRES_EXPORTER_QUERIES_FILE,
            content: plan.databaseQueries,
            secret: false,
            object: { resourceName: `${id}-queries`, stableName: `${exporter.containerName}_queries` },
          },
        ],
        networks: [monitoring(exporter.hostname), { network: access.network, aliases: [] }],
      },
      opts,
    );
  });

  const redisId = `${name}-redis-exporter`;
  const redis = backend.workload(
    redisId,
    {
      plan: plan.redis,
      image: args.images.redisExporter,
      env: {},
      command: [
        `--redis.addr=${redisExporterAddress(plan.redis.watches)}`,
        `--redis.password-file=${EXPORTER_PASSWORD_FILE}`,
        `--web.listen-address=:${EXPORTER_PORTS.redis}`,
      ],
      files: [
        {
          path: EXPORTER_PASSWORD_FILE,
          content: pulumi.secret(
            args.watched.redis.password.apply((pw) => redisExporterPasswordFile(plan.redis.watches, pw)),
          ),
          secret: true,
          object: { resourceName: `${redisId}-password`, stableName: `${plan.redis.containerName}_password` },
        },
      ],
      networks: [monitoring(plan.redis.hostname), { network: args.watched.redis.network, aliases: [] }],
    },
    opts,
  );

  const host = backend.workload(
    `${name}-node-exporter`,
    {
      plan: plan.host,
      image: args.images.nodeExporter,
      env: {},
      command: [...NODE_EXPORTER_COMMAND, `--web.listen-address=:${EXPORTER_PORTS.node}`],
      networks: [monitoring(plan.host.hostname)],
    },
    opts,
  );
  return [...databases, redis, host, ...declareEdgeRequests(name, args, opts), ...declareContainers(name, args, opts)];
}

function declareEdgeRequests(name: string, args: ExporterArgs, opts: pulumi.ComponentResourceOptions): Deployed[] {
  const reader = args.plan.edgeRequests;
  const edgeRequests = args.backend.workload(
    `${name}-edge-requests`,
    {
      plan: reader,
      image: args.images.edgeLogExporter,
      env: {},
      command: edgeLogCommand(reader.scope),
      files: [
        {
          path: EDGE_LOG_PATHS.program,
          content: edgeLogProgram(reader.scope),
          secret: false,
          object: {
            resourceName: `${name}-edge-requests-program`,
            stableName: `${reader.containerName}_program`,
          },
        },
      ],
      hostDirectories: [{ source: args.watched.edgeLogDirectory, target: EDGE_LOG_PATHS.logs }],
      networks: [{ network: args.network, aliases: [reader.hostname] }],
    },
    opts,
  );
  return [edgeRequests];
}

function declareContainers(name: string, args: ExporterArgs, opts: pulumi.ComponentResourceOptions): Deployed[] {
  const reader = args.plan.containers;
  return [
    args.backend.workload(
      `${name}-containers`,
      {
        plan: reader,
        image: args.images.containerExporter,
        env: {},
        command: [...CONTAINERS_COMMAND],
        hostDirectories: containersHostPaths(args.watched.engine),
        networks: [{ network: args.network, aliases: [reader.hostname] }],
      },
      opts,
    ),
  ];
}
