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
import type { ImageKey, ImageSpec, PlatformConfig, RegionConfig } from "../config";
import { CORE_IMAGE_KEYS, type CoreImageKey, type MonitoringImageKey } from "../config/images";
import { MONITORING_PORTS, type Probe, healthProbes } from "../monitoring/prometheus";
import { BASELINE_ENGINE, type EngineFeatures } from "./engine";
import {
  type HealthcheckPlan,
  monitoringHealthcheck,
  nginxHealthcheck,
  postgresHealthcheck,
  redisHealthcheck,
  withStartInterval,
} from "./healthchecks";
import { ROLES, type Replacement, type Role, containerLabels } from "../roles";
import type { ResourceSpec } from "./sizes";
import { type HardeningPlan, hardeningFor } from "./hardening";
import {
  DEFAULT_PORTS,
  type GameService,
  type StopPlan,
  healthPathOf,
  isGameService,
  serviceHealthcheck,
  stopPlan,
  withOverrides,
} from "./services";
import type { StaticSource } from "../edge/staticFill";

/** Ports inside the platform's own containers; the game's services' are in services.ts. */
export const PORTS = { postgres: 5432, redis: 6379, http: 80, https: 443 } as const;

export const PGDATA = "/var/lib/postgresql/data";

export interface ContainerPlan {
  role: Role;
  /**
   * The seed's container name, e.g. sectorwars_region_orion_db: the whole Docker name of a
   * stateful container, the stable part of a stateless one's (see planning/stack/replacement.ts).
   */
  containerName: string;
  /** DNS name on the container's networks (the seed's compose service name). */
  hostname: string;
  port: number;
  image: ImageKey;
  labels: Record<string, string>;
  size: ResourceSpec;
  /** The size profile the numbers came from, for reports. */
  sizeProfile: string;
  /** Health check as this engine runs it (a start interval where the engine has one). */
  healthcheck: HealthcheckPlan;
  /** How a deploy replaces the container. */
  replacement: Replacement;
  /** Stop signal and grace period. */
  stop: StopPlan;
  /** Capabilities, security options, read-only root and tmpfs. */
  hardening: HardeningPlan;
  /** Environment from the stack config (sectorwars:services.<service>.env), besides the platform's. */
  env: Record<string, string>;
  /** `env` holds values set with --secret: keep the container's environment secret. */
  envSecret: boolean;
}

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
  };
  admin: ContainerPlan;
  player: ContainerPlan;
  paypal: ContainerPlan & { environment: PlatformConfig["paypal"]["environment"] };
  publicUrl: string;
  backup: BackupPlan;
  /** Init SQL (read by loadStackConfig; null text where the caller read no files) and the migration step. */
  database: PlatformConfig["database"];
  monitoring: MonitoringPlan | null;
}

/** Docker names only allow [a-zA-Z0-9_.-]; ids and prefixes are already restricted to that. */
export const joinName = (...parts: (string | number)[]): string => parts.join("_");

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

function profile(config: PlatformConfig, name: string): ResourceSpec {
  const spec = config.sizeProfiles[name];
  // parseConfig has already rejected unknown profiles; reaching this is a programming error.
  if (!spec) throw new Error(`size profile "${name}" is not defined`);
  return spec;
}

/** What every container plan is made from besides its own fields. */
interface PlanContext {
  config: PlatformConfig;
  stack: string;
  engine: EngineFeatures;
}

/** What a container's own listener and check are, where the stack config cannot change them. */
interface PlatformListener {
  port: number;
  healthcheck: HealthcheckPlan;
}

/**
 * The fields every container shares. A game service's port, health check, hardening and extra
 * environment come from its sectorwars:services entry (defaults when unset); a platform
 * container's from `listener` and hardening.ts.
 */
function containerBasics(
  ctx: PlanContext,
  role: Role,
  c: { sizeProfile: string; regionId?: string; listener?: PlatformListener },
): Omit<ContainerPlan, "containerName" | "hostname" | "image"> {
  const common = {
    role,
    labels: containerLabels(ctx.stack, role, c.regionId),
    size: profile(ctx.config, c.sizeProfile),
    sizeProfile: c.sizeProfile,
    replacement: ROLES[role].replacement,
    stop: stopPlan(role, ctx.config.services),
  };
  if (isGameService(role)) {
    const settings = ctx.config.services[role];
    const port = settings.port ?? DEFAULT_PORTS[role];
    return {
      ...common,
      port,
      healthcheck: withStartInterval(serviceHealthcheck(role, settings, port), ctx.engine),
      hardening: withOverrides(hardeningFor(role), settings),
      env: settings.env ?? {},
      envSecret: ctx.config.servicesSecret,
    };
  }
  if (!c.listener) throw new Error(`${role}: a platform container needs its port and health check`);
  return {
    ...common,
    port: c.listener.port,
    healthcheck: withStartInterval(c.listener.healthcheck, ctx.engine),
    hardening: hardeningFor(role),
    env: {},
    envSecret: false,
  };
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

/** A container that exists once per stack, sized by the profile of its role's name. */
function core(
  ctx: PlanContext,
  role: Role,
  c: { suffix: string; hostname: string; image: ImageKey; listener?: PlatformListener },
): ContainerPlan {
  return {
    ...containerBasics(ctx, role, { sizeProfile: role, ...(c.listener ? { listener: c.listener } : {}) }),
    containerName: joinName(ctx.config.namePrefix, c.suffix),
    hostname: c.hostname,
    image: c.image,
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
      db: {
        ...nexusDb,
        database: "nexus_db",
        user: "nexus_user",
        volumeName: joinName(prefix, "nexus_db_data"),
        networkName: joinName(prefix, "nexus"),
        debugPort: config.debugPorts.publish ? config.debugPorts.postgresBase : null,
        stanza: stanzaOf({ kind: "nexus" }),
      },
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
      ? planMonitoring(ctx, { nexusApi, apps: [admin, player, paypal], regions })
      : null,
  };
}

/** The game services a stack runs, for the probes: the nexus API, the apps, each active region's API. */
interface Watched {
  nexusApi: ContainerPlan;
  apps: ContainerPlan[];
  regions: RegionPlan[];
}

function planMonitoring(ctx: PlanContext, watched: Watched): MonitoringPlan {
  const { config } = ctx;
  const listener = (port: number): PlatformListener => ({ port, healthcheck: monitoringHealthcheck(port) });
  const services = [
    watched.nexusApi,
    ...watched.apps,
    ...watched.regions.filter((r) => r.state === "active").map((r) => r.api),
  ];
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
      services.map((plan) => ({
        plan,
        healthPath: healthPathOf(plan.role as GameService, config.services[plan.role as GameService]),
      })),
    ),
    images: {
      prometheus: config.images.prometheus,
      alertmanager: config.images.alertmanager,
      blackbox: config.images.blackbox,
    },
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
    ...(plan.monitoring ? [plan.monitoring.prometheus, plan.monitoring.alertmanager, plan.monitoring.blackbox] : []),
  ];
}
