/**
 * The exporters Prometheus scrapes beside its probes (planning/monitoring/prometheus.ts): one
 * postgres_exporter per active database, on that database's private network; one redis_exporter
 * on Redis' network; one node_exporter for the disk the stack writes to. Each is a container plan
 * with what it watches; its scrape target carries the labels of the container it watches (role
 * `region-db` and the region, `nexus-db`, `redis`), so the rules read the same labels whatever
 * runs the exporter, and a new region's database is scraped from the deploy that adds it.
 */
import { stringify } from "yaml";
import { LABEL_REGION } from "../roles";
import { OLDEST_WAITING_SQL } from "../status/archive";
import { type ContainerPlan, type PlanContext, containerBasics, joinName } from "../stack/containers";
import { type HealthcheckPlan, monitoringHealthcheck } from "../stack/healthchecks";
import type { MonitoringImageKey } from "../config/images";
import {
  EDGE_LOG_HEALTHCHECK,
  EDGE_LOG_JOB,
  EDGE_LOG_PORT,
  EDGE_LOG_ROLE,
  type EdgeLogScope,
  edgeLogTarget,
} from "./edgeLog";
import { type ScrapeTarget, everyAddressOf, seriesLabels } from "./prometheus";
import {
  CONTAINERS_HEALTHCHECK,
  CONTAINERS_JOB,
  CONTAINERS_PORT,
  CONTAINERS_ROLE,
  containersTarget,
} from "./containers";

/** The official images' ports. */
export const EXPORTER_PORTS = { postgres: 9187, redis: 9121, node: 9100 } as const;

/** A database's exporter: its role, and the size profile of that name (one per region, in what a region costs). */
export const DATABASE_EXPORTER_ROLE = "postgres-exporter" satisfies ContainerPlan["role"];

/** The scrape jobs the rules read by name. */
export const EXPORTER_JOBS = {
  postgres: "postgres",
  redis: "redis",
  host: "host",
  edgeRequests: EDGE_LOG_JOB,
  containers: CONTAINERS_JOB,
} as const;

/**
 * The jobs whose targets Prometheus finds by a name's addresses (a global service's tasks): a
 * stopped exporter's name resolves to nothing, its target goes, and no `up` of 0 says so.
 */
export const JOBS_FOUND_BY_NAME = [EXPORTER_JOBS.host, EXPORTER_JOBS.containers, EXPORTER_JOBS.edgeRequests] as const;

/** Where the database's and Redis' exporters read their password (a secret file the program uploads). */
export const EXPORTER_PASSWORD_FILE = "/etc/sectorwars/exporter-password";

/** The database exporter's own queries (--extend.query-path), and the series they give. */
export const POSTGRES_EXPORTER_QUERIES_FILE = "/etc/sectorwars/exporter-queries.yml";
export const WAL_WAITING_SERIES = "pg_archive_oldest_waiting_seconds";
export const BASE_BACKUP_SERIES = "pg_base_backup_newest_time_seconds";

/**
 * When the newest base backup of this database ended, as epoch seconds; no row when none is on
 * record. pgBackRest's backups stop with pg_backup_stop, which writes a backup history file
 * (`<segment>.<offset>.backup`) into pg_wal and, with archiving on, keeps the newest there until
 * the next backup removes it: its modification time is the backup's end. The database knows it,
 * so the database's own exporter reports it and no exporter needs the repository's key.
 * pg_ls_waldir() is for superusers and pg_monitor; the exporter logs in as the owner.
 */
export const NEWEST_BASE_BACKUP_SQL =
  "SELECT extract(epoch FROM max(modification))::bigint AS newest_time_seconds FROM pg_ls_waldir() WHERE name LIKE '%.backup' HAVING count(*) > 0";

/** What a database's exporter needs of it: its name on its network, its database, its owner. */
export interface WatchedDatabase {
  containerName: string;
  hostname: string;
  port: number;
  database: string;
  user: string;
  networkName: string;
  labels: Record<string, string>;
  role: ContainerPlan["role"];
}

export interface DatabaseExporterPlan extends ContainerPlan {
  /** The database it connects to (it joins the database's private network). */
  watches: WatchedDatabase;
}

export interface RedisExporterPlan extends ContainerPlan {
  watches: Pick<ContainerPlan, "hostname" | "port" | "labels" | "role">;
}

export interface ExportersPlan {
  /** The nexus's database first, then each active region's in config order. */
  databases: DatabaseExporterPlan[];
  redis: RedisExporterPlan;
  /** The Docker host's disk, as its containers' root file system sees it. */
  host: ContainerPlan;
  /**
   * mtail over the edge's access log: each region's requests (edgeLog.ts): the edge container's
   * log on one host, every edge node's containers' logs in swarm mode.
   */
  edgeRequests: ContainerPlan & { scope: EdgeLogScope };
  /** cAdvisor: every container's CPU, memory and restarts (containers.ts); a global service in swarm mode. */
  containers: ContainerPlan;
  /** The database exporters' queries file (postgresExporterQueries). */
  databaseQueries: string;
}

function exporter(
  ctx: PlanContext,
  c: {
    role: ContainerPlan["role"];
    containerName: string;
    hostname: string;
    image: MonitoringImageKey;
    port: number;
    regionId?: string;
    /** Its own check where the image cannot run the usual wget of `/` (mtail's, edgeLog.ts). */
    healthcheck?: HealthcheckPlan;
  },
): ContainerPlan {
  return {
    ...containerBasics(ctx, c.role, {
      sizeProfile: c.role,
      ...(c.regionId === undefined ? {} : { regionId: c.regionId }),
      listener: { port: c.port, healthcheck: c.healthcheck ?? monitoringHealthcheck(c.port, "/") },
    }),
    containerName: c.containerName,
    hostname: c.hostname,
    image: c.image,
  };
}

export function planExporters(
  ctx: PlanContext,
  watched: { databases: readonly WatchedDatabase[]; redis: RedisExporterPlan["watches"] },
): ExportersPlan {
  const prefix = ctx.config.namePrefix;
  return {
    databases: watched.databases.map((db) => {
      const regionId = db.labels[LABEL_REGION];
      return {
        ...exporter(ctx, {
          role: DATABASE_EXPORTER_ROLE,
          containerName: joinName(db.containerName, "exporter"),
          hostname: `${db.hostname}-exporter`,
          image: "postgresExporter",
          port: EXPORTER_PORTS.postgres,
          ...(regionId === undefined ? {} : { regionId }),
        }),
        watches: db,
      };
    }),
    redis: {
      ...exporter(ctx, {
        role: "redis-exporter",
        containerName: joinName(prefix, "redis_exporter"),
        hostname: "redis-exporter",
        image: "redisExporter",
        port: EXPORTER_PORTS.redis,
      }),
      watches: watched.redis,
    },
    host: exporter(ctx, {
      role: "node-exporter",
      containerName: joinName(prefix, "node_exporter"),
      hostname: "node-exporter",
      image: "nodeExporter",
      port: EXPORTER_PORTS.node,
    }),
    edgeRequests: {
      ...exporter(ctx, {
        role: EDGE_LOG_ROLE,
        containerName: joinName(prefix, "edge_log_exporter"),
        hostname: "edge-log-exporter",
        image: "edgeLogExporter",
        port: EDGE_LOG_PORT,
        healthcheck: EDGE_LOG_HEALTHCHECK,
      }),
      scope: ctx.config.orchestrator === "swarm" ? { kind: "node", stack: ctx.stack } : { kind: "edge container" },
    },
    containers: exporter(ctx, {
      role: CONTAINERS_ROLE,
      containerName: joinName(prefix, "container_exporter"),
      hostname: "container-exporter",
      image: "containerExporter",
      port: CONTAINERS_PORT,
      healthcheck: CONTAINERS_HEALTHCHECK,
    }),
    databaseQueries: postgresExporterQueries({ archiving: ctx.config.backup.repository !== undefined }),
  };
}

/**
 * postgres_exporter's own variables. The password comes from a file, never the environment
 * (which `docker inspect` shows); the traffic stays on the database's private network, where the
 * server offers no TLS (lib/pq would insist on it otherwise).
 */
export function postgresExporterEnv(
  db: Pick<WatchedDatabase, "hostname" | "port" | "database" | "user">,
): Record<string, string> {
  return {
    DATA_SOURCE_URI: `${db.hostname}:${db.port}/${db.database}?sslmode=disable`,
    DATA_SOURCE_USER: db.user,
    DATA_SOURCE_PASS_FILE: EXPORTER_PASSWORD_FILE,
  };
}

/**
 * The database exporter's own queries. How long the oldest WAL segment has waited to be archived
 * (0 when none waits, as in a database that does not archive), the figure `npm run status` checks
 * against backup.repository's limit, as WAL_WAITING_SERIES. pg_stat_archiver's age of the last
 * archived segment would not do: an idle database archives nothing and loses nothing. With
 * archiving (`archiving`), when the newest base backup ended, as BASE_BACKUP_SERIES (without it
 * PostgreSQL keeps no record, and pgBackRest takes none). The queries file is deprecated upstream
 * since 0.13 and still read by 0.15, the default image.
 */
export function postgresExporterQueries(options: { archiving: boolean }): string {
  const gauge = (name: string, description: string) => ({ [name]: { usage: "GAUGE", description } });
  return stringify(
    {
      pg_archive: {
        query: `SELECT coalesce((${OLDEST_WAITING_SQL}), 0) AS oldest_waiting_seconds`,
        metrics: [
          gauge(
            "oldest_waiting_seconds",
            "Seconds the oldest WAL segment has waited to be archived; 0 when none waits",
          ),
        ],
      },
      ...(options.archiving
        ? {
            pg_base_backup: {
              query: NEWEST_BASE_BACKUP_SQL,
              metrics: [
                gauge(
                  "newest_time_seconds",
                  "When the newest base backup ended (Unix time); absent when none is on record",
                ),
              ],
            },
          }
        : {}),
    },
    { lineWidth: 0 },
  );
}

/** Redis as redis_exporter addresses it (--redis.addr). */
export const redisExporterAddress = (redis: Pick<ContainerPlan, "hostname" | "port">): string =>
  `redis://${redis.hostname}:${redis.port}`;

/**
 * redis_exporter's --redis.password-file: JSON from each address to its password, the one way it
 * takes a password other than its command line or environment.
 */
export const redisExporterPasswordFile = (redis: Pick<ContainerPlan, "hostname" | "port">, password: string): string =>
  JSON.stringify({ [redisExporterAddress(redis)]: password });

/**
 * node_exporter's flags: the file-system collector alone (the host's CPU and memory are not what
 * the stack alerts on), over the container's own mounts. Its root is an overlay whose free space
 * is the Docker data root's, where every volume, image and writable layer lives: the figure `npm
 * run status` checks, with no host directory mounted into the container (overlay is among the
 * collector's default exclusions, so the types to leave out are named here). Docker's own bind
 * mounts (/etc/hosts and the like) would repeat the same file system: left out with the kernel's.
 * Debian's build turns on a systemd collector besides, which fails in a container: no defaults.
 */
export const NODE_EXPORTER_COMMAND: readonly string[] = [
  "--collector.disable-defaults",
  "--collector.filesystem",
  "--collector.filesystem.fs-types-exclude=^(proc|sysfs|tmpfs|devpts|mqueue|cgroup2?|nsfs|securityfs)$",
  "--collector.filesystem.mount-points-exclude=^/(proc|sys|dev|etc/(hostname|hosts|resolv\\.conf))($|/)",
];

/** Every exporter as Prometheus scrapes it, labelled as what it watches; jobs in EXPORTER_JOBS. */
export function exporterTargets(plan: ExportersPlan): ScrapeTarget[] {
  const at = (c: ContainerPlan) => `${c.hostname}:${c.port}`;
  return [
    ...plan.databases.map((db) => ({
      job: EXPORTER_JOBS.postgres,
      address: at(db),
      labels: seriesLabels(db.watches.labels, db.watches.role),
    })),
    { job: EXPORTER_JOBS.redis, address: at(plan.redis), labels: seriesLabels(plan.redis.watches.labels, "redis") },
    {
      job: EXPORTER_JOBS.host,
      ...everyAddressOf(plan.host),
      // It watches the host, which has no container of its own to take a role from.
      labels: { ...seriesLabels(plan.host.labels, plan.host.role), role: "host" },
    },
    edgeLogTarget(plan.edgeRequests),
    containersTarget(plan.containers),
  ];
}
