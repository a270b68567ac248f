/**
 * The stack's containers, networks and volumes as plain data: names, roles, labels, host
 * names, ports and sizes. Components turn this plan into resources; tests and the capacity
 * report read it without Pulumi.
 *
 * Everything about a region derives from its id and slot, never from its position in the
 * config array, so reordering or removing entries changes nothing about the other regions.
 */
import { stanzaOf } from "../backup/pointInTime";
import type { BackupSettings } from "../backup/run";
import { stackBackupDir } from "../project";
import { nodeHosts } from "../swarm/placement";
import type { ImageSpec, PlatformConfig, RegionConfig } from "../config";
import { CORE_IMAGE_KEYS, type CoreImageKey } from "../config/images";
import { type AcmePlan, planAcme } from "../edge/acmeClient";
import { type MonitoringPlan, monitoringContainers, planMonitoring } from "../monitoring/plan";
import { BASELINE_ENGINE, type EngineFeatures } from "./engine";
import { nginxHealthcheck, postgresHealthcheck, redisHealthcheck } from "./healthchecks";
import { type ContainerPlan, containerBasics, core, joinName } from "./containers";
import type { StaticSource } from "../edge/staticFill";

export { type ContainerPlan, joinName } from "./containers";
export type { MonitoringPlan } from "../monitoring/plan";

/** Ports inside the platform's own containers; the game's services' are in services.ts. */
export const PORTS = { postgres: 5432, redis: 6379, http: 80, https: 443 } as const;

export const PGDATA = "/var/lib/postgresql/data";

export interface DatabasePlan extends ContainerPlan {
  database: string;
  user: string;
  volumeName: string;
  networkName: string;
  /** Host port on 127.0.0.1, only when the stack asks for debug ports. */
  debugPort: number | null;
  /** Its pgBackRest stanza in the backup repository (`nexus`, `region-<id>`), with backup.repository. */
  stanza: string;
}

export interface RegionPlan {
  id: string;
  name: string;
  type: RegionConfig["type"];
  /** Retired regions keep their volume and slot; they have no containers. */
  state: RegionConfig["state"];
  slot: number;
  size: string;
  redisDb: number;
  /** What the API is told about what it serves (REGION_ID, REGION_NAME, REGION_TYPE), besides its URLs. */
  identityEnv: Record<string, string>;
  api: ContainerPlan;
  db: DatabasePlan;
}

/** A port of a container and the host port it is published on. */
export interface PublishedPort {
  internal: number;
  external: number;
}

/** What the Backups component declares: the backup `pulumi up` runs and its schedule. */
export interface BackupPlan {
  /** Stack label to back up, the absolute directory (see stackBackupDir), parallelism, retention. */
  settings: Omit<BackupSettings, "allowEmpty">;
  /** systemd OnCalendar expression of the scheduled backup, or "off". */
  schedule: string;
  /** Bumped to take a backup at the next `pulumi up`. */
  generation: number;
  /** Continuous archiving to backup.repository (planning/backup/archive.ts); null: dumps only. */
  archive: NonNullable<PlatformConfig["backup"]["repository"]> | null;
}

/**
 * Everything the components are declared from: index.ts hands each one its slice and reads no
 * stack config of its own (only the engine check and the capacity check take the config).
 */
export interface StackPlan {
  stack: string;
  prefix: string;
  environment: PlatformConfig["environment"];
  /** Prod protects data volumes against deletion (and `pulumi destroy`). */
  protectData: boolean;
  /** What each service runs: a registry reference or a local build (monitoring's: in `monitoring`). */
  images: Record<CoreImageKey, ImageSpec>;
  frontNetwork: string;
  redisNetwork: string;
  nexus: { api: ContainerPlan; db: DatabasePlan; redisDb: 0; identityEnv: Record<string, string> };
  regions: RegionPlan[];
  redis: ContainerPlan & {
    volumeName: string;
    databases: number;
    debugPort: number | null;
    maxmemory: string;
    maxmemoryPolicy: PlatformConfig["redis"]["maxmemoryPolicy"];
  };
  edge: ContainerPlan & {
    staticVolumeName: string;
    /** nginx's HTTP and HTTPS ports in the container, and the host ports they are published on. */
    ports: { http: PublishedPort; https: PublishedPort };
    upstreamKeepalive: number;
    /** Plain HTTP redirects to publicUrl (config edge.httpsRedirect, resolved). */
    httpsRedirect: boolean;
    /** The public host name: a stack without a TLS certificate gets a self-signed one for it. */
    publicHostname: string;
    /** What fills the static volume on `pulumi up`; null: nothing does. */
    staticFrom: StaticSource | null;
    /** The game APIs' metrics path (monitoring.apiMetricsPath), which the edge keeps private; null: unset. */
    apiMetricsPath: string | null;
  };
  admin: ContainerPlan;
  player: ContainerPlan;
  paypal: ContainerPlan & { environment: PlatformConfig["paypal"]["environment"] };
  publicUrl: string;
  backup: BackupPlan;
  /** Init SQL (read by loadStackConfig; null text where the caller read no files) and the migration step. */
  database: PlatformConfig["database"];
  monitoring: MonitoringPlan | null;
  /** The edge's ACME client (edge.acme); null: the certificate is pasted or self-signed. */
  acme: AcmePlan | null;
}

/** Postgres identifiers: '-' would need quoting everywhere, '_' never collides since ids have none. */
export const sqlIdentifier = (id: string): string => id.replace(/-/g, "_");

/**
 * Redis allocates every database up front, and changing `databases` means a restart, so round
 * up to a power of two (at least Redis' 16) to leave room for the next regions.
 */
export function redisDatabasesFor(slots: readonly number[]): number {
  const needed = Math.max(0, ...slots) + 1;
  let databases = 16;
  while (databases < needed) databases *= 2;
  return databases;
}

export function planRegion(
  region: RegionConfig,
  { config, stack, engine = BASELINE_ENGINE }: { config: PlatformConfig; stack: string; engine?: EngineFeatures },
): RegionPlan {
  const ctx = { config, stack, engine };
  const prefix = config.namePrefix;
  const size = config.regionSizes[region.size];
  if (!size) throw new Error(`region size "${region.size}" is not defined`);
  const base = joinName(prefix, "region", region.id);
  const ident = sqlIdentifier(region.id);
  return {
    id: region.id,
    name: region.name,
    type: region.type,
    state: region.state,
    slot: region.slot,
    size: region.size,
    redisDb: region.slot,
    identityEnv: { REGION_ID: region.id, REGION_NAME: region.name, REGION_TYPE: region.type },
    api: {
      ...containerBasics(ctx, "region-api", { sizeProfile: size.api, regionId: region.id }),
      containerName: base,
      hostname: `region-${region.id}-api`,
      image: "gameserver",
    },
    db: {
      ...containerBasics(ctx, "region-db", {
        sizeProfile: size.db,
        regionId: region.id,
        listener: {
          port: PORTS.postgres,
          healthcheck: postgresHealthcheck(`region_${ident}_user`, `region_${ident}`, PORTS.postgres),
        },
      }),
      containerName: joinName(base, "db"),
      hostname: `region-${region.id}-db`,
      image: "postgres",
      database: `region_${ident}`,
      user: `region_${ident}_user`,
      volumeName: joinName(base, "db", "data"),
      networkName: base,
      debugPort: config.debugPorts.publish ? config.debugPorts.postgresBase + region.slot : null,
      stanza: stanzaOf({ kind: "region", regionId: region.id }),
    },
  };
}

export function publicUrl(edge: Pick<PlatformConfig["edge"], "hostname" | "httpsPort">): string {
  return `https://${edge.hostname}${edge.httpsPort === 443 ? "" : `:${edge.httpsPort}`}`;
}

export interface PlanOptions {
  /** What the Docker engine supports; the baseline (Docker 20.10) unless the engine was asked. */
  engine?: EngineFeatures;
  /** Where relative paths of the config start (backup.dir); the project directory unless given. */
  projectDir?: string;
}

export function planStack(config: PlatformConfig, stack: string, options: PlanOptions = {}): StackPlan {
  const engine = options.engine ?? BASELINE_ENGINE;
  const ctx = { config, stack, engine };
  const prefix = config.namePrefix;
  const nexusDb = core(ctx, "nexus-db", {
    suffix: "nexus_db",
    hostname: "nexus-db",
    image: "postgres",
    listener: { port: PORTS.postgres, healthcheck: postgresHealthcheck("nexus_user", "nexus_db", PORTS.postgres) },
  });
  const redis = core(ctx, "redis", {
    suffix: "redis",
    hostname: "redis",
    image: "redis",
    listener: { port: PORTS.redis, healthcheck: redisHealthcheck(PORTS.redis) },
  });
  // The container's own health check is plain HTTP inside it, whatever the public ports are.
  const edge = core(ctx, "nginx", {
    suffix: "nginx",
    hostname: "nginx",
    image: "nginx",
    listener: { port: PORTS.https, healthcheck: nginxHealthcheck(PORTS.http) },
  });
  const nexusApi = core(ctx, "nexus-api", { suffix: "nexus", hostname: "nexus-api", image: "gameserver" });
  const admin = core(ctx, "admin-ui", { suffix: "admin", hostname: "admin-ui", image: "adminUi" });
  const player = core(ctx, "player-ui", { suffix: "player", hostname: "player-ui", image: "playerUi" });
  const paypal = core(ctx, "paypal", { suffix: "paypal", hostname: "paypal-service", image: "paypal" });
  const regions = config.regions.map((r) => planRegion(r, ctx));
  const nexusDbPlan: DatabasePlan = {
    ...nexusDb,
    database: "nexus_db",
    user: "nexus_user",
    volumeName: joinName(prefix, "nexus_db_data"),
    networkName: joinName(prefix, "nexus"),
    debugPort: config.debugPorts.publish ? config.debugPorts.postgresBase : null,
    stanza: stanzaOf({ kind: "nexus" }),
  };
  return {
    stack,
    prefix,
    environment: config.environment,
    protectData: config.environment === "prod",
    images: Object.fromEntries(CORE_IMAGE_KEYS.map((key) => [key, config.images[key]])) as Record<
      CoreImageKey,
      ImageSpec
    >,
    frontNetwork: joinName(prefix, "front"),
    redisNetwork: joinName(prefix, "redis"),
    nexus: {
      api: nexusApi,
      db: nexusDbPlan,
      redisDb: 0,
      identityEnv: { REGION_TYPE: "nexus" },
    },
    regions,
    redis: {
      ...redis,
      volumeName: joinName(prefix, "redis_data"),
      databases: redisDatabasesFor(config.regions.map((r) => r.slot)),
      debugPort: config.debugPorts.publish ? config.debugPorts.redis : null,
      maxmemory: config.redis.maxmemory,
      maxmemoryPolicy: config.redis.maxmemoryPolicy,
    },
    edge: {
      ...edge,
      staticVolumeName: joinName(prefix, "static"),
      ports: {
        http: { internal: PORTS.http, external: config.edge.httpPort },
        https: { internal: PORTS.https, external: config.edge.httpsPort },
      },
      upstreamKeepalive: config.edge.upstreamKeepalive,
      httpsRedirect: config.edge.httpsRedirect,
      publicHostname: config.edge.hostname,
      staticFrom: config.edge.staticFrom,
      apiMetricsPath: config.monitoring.apiMetricsPath ?? null,
    },
    admin,
    player,
    paypal: { ...paypal, environment: config.paypal.environment },
    publicUrl: publicUrl(config.edge),
    backup: {
      settings: {
        stack,
        backupDir: stackBackupDir({
          dir: config.backup.dir,
          stack,
          ...(options.projectDir === undefined ? {} : { projectDir: options.projectDir }),
        }),
        parallelism: config.backup.parallelism,
        retentionDays: config.backup.retentionDays,
        // Swarm mode: the backups find each database and Redis on the node that runs it.
        ...(config.swarm === null ? {} : { nodes: nodeHosts(config.swarm.nodes) }),
      },
      schedule: config.backup.schedule,
      generation: config.backup.generation,
      archive: config.backup.repository ?? null,
    },
    database: config.database,
    monitoring: config.monitoring.enabled
      ? planMonitoring(ctx, {
          nexusApi,
          apps: [admin, player, paypal],
          regionApis: regions.filter((r) => r.state === "active").map((r) => r.api),
          databases: [nexusDbPlan, ...regions.filter((r) => r.state === "active").map((r) => r.db)],
          redis,
        })
      : null,
    acme: planAcme(ctx, config.edge.hostname),
  };
}

export const activeRegions = (plan: StackPlan): RegionPlan[] => plan.regions.filter((r) => r.state === "active");

/** Every container the stack runs (retired regions have none), for totals and checks. */
export function allContainers(plan: StackPlan): ContainerPlan[] {
  return [
    plan.nexus.api,
    plan.nexus.db,
    plan.redis,
    plan.edge,
    plan.admin,
    plan.player,
    plan.paypal,
    ...activeRegions(plan).flatMap((r) => [r.api, r.db]),
    ...(plan.monitoring ? monitoringContainers(plan.monitoring) : []),
    ...(plan.acme ? [plan.acme.client] : []),
  ];
}
