/**
 * The stack's containers, networks and volumes as plain data: names, roles, labels, host
 * names, ports and sizes. Components turn this plan into resources; tests and the capacity
 * report read it without Pulumi.
 *
 * Everything about a region derives from its id and slot, never from its position in the
 * config array, so reordering or removing entries changes nothing about the other regions.
 */
import type { ImageKey, PlatformConfig, RegionConfig } from "./config";
import type { ResourceSpec } from "./sizes";

export const LABEL_STACK = "com.sectorwars.stack";
export const LABEL_ROLE = "com.sectorwars.role";
export const LABEL_REGION = "com.sectorwars.region";

export type Role =
  "nexus-api" | "nexus-db" | "region-api" | "region-db" | "redis" | "nginx" | "admin-ui" | "player-ui" | "paypal";

/** Ports inside the containers, as in the seed. */
export const PORTS = { api: 8000, ui: 3000, paypal: 8080, postgres: 5432, redis: 6379, http: 80, https: 443 } as const;

export const PGDATA = "/var/lib/postgresql/data";

export interface ContainerPlan {
  role: Role;
  /** The seed's container name, e.g. sectorwars_region_orion_db. */
  containerName: string;
  /** DNS name on the container's networks (the seed's compose service name). */
  hostname: string;
  port: number;
  image: ImageKey;
  labels: Record<string, string>;
  size: ResourceSpec;
  /** The size profile the numbers came from, for reports. */
  sizeProfile: string;
}

export interface DatabasePlan extends ContainerPlan {
  database: string;
  user: string;
  volumeName: string;
  networkName: string;
  /** Host port on 127.0.0.1, only when the stack asks for debug ports. */
  debugPort: number | null;
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
  api: ContainerPlan;
  db: DatabasePlan;
}

export interface StackPlan {
  stack: string;
  prefix: string;
  environment: PlatformConfig["environment"];
  frontNetwork: string;
  redisNetwork: string;
  nexus: { api: ContainerPlan; db: DatabasePlan; redisDb: 0 };
  regions: RegionPlan[];
  redis: ContainerPlan & { volumeName: string; databases: number; debugPort: number | null };
  edge: ContainerPlan & { staticVolumeName: string; httpPort: number; httpsPort: number; upstreamKeepalive: number };
  admin: ContainerPlan;
  player: ContainerPlan;
  paypal: ContainerPlan;
  publicUrl: string;
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

export function containerLabels(stack: string, role: Role, regionId?: string): Record<string, string> {
  return {
    [LABEL_STACK]: stack,
    [LABEL_ROLE]: role,
    ...(regionId === undefined ? {} : { [LABEL_REGION]: regionId }),
  };
}

function profile(config: PlatformConfig, name: string): ResourceSpec {
  const spec = config.sizeProfiles[name];
  // parseConfig has already rejected unknown profiles; reaching this is a programming error.
  if (!spec) throw new Error(`size profile "${name}" is not defined`);
  return spec;
}

export function planRegion(config: PlatformConfig, stack: string, region: RegionConfig): RegionPlan {
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
    api: {
      role: "region-api",
      containerName: base,
      hostname: `region-${region.id}-api`,
      port: PORTS.api,
      image: "gameserver",
      labels: containerLabels(stack, "region-api", region.id),
      size: profile(config, size.api),
      sizeProfile: size.api,
    },
    db: {
      role: "region-db",
      containerName: joinName(base, "db"),
      hostname: `region-${region.id}-db`,
      port: PORTS.postgres,
      image: "postgres",
      labels: containerLabels(stack, "region-db", region.id),
      size: profile(config, size.db),
      sizeProfile: size.db,
      database: `region_${ident}`,
      user: `region_${ident}_user`,
      volumeName: joinName(base, "db", "data"),
      networkName: base,
      debugPort: config.debugPorts.publish ? config.debugPorts.postgresBase + region.slot : null,
    },
  };
}

function core(
  config: PlatformConfig,
  stack: string,
  role: Role,
  suffix: string,
  hostname: string,
  port: number,
  image: ImageKey,
): ContainerPlan {
  return {
    role,
    containerName: joinName(config.namePrefix, suffix),
    hostname,
    port,
    image,
    labels: containerLabels(stack, role),
    size: profile(config, role),
    sizeProfile: role,
  };
}

export function publicUrl(edge: Pick<PlatformConfig["edge"], "hostname" | "httpsPort">): string {
  return `https://${edge.hostname}${edge.httpsPort === 443 ? "" : `:${edge.httpsPort}`}`;
}

export function planStack(config: PlatformConfig, stack: string): StackPlan {
  const prefix = config.namePrefix;
  const nexusDb = core(config, stack, "nexus-db", "nexus_db", "nexus-db", PORTS.postgres, "postgres");
  const redis = core(config, stack, "redis", "redis", "redis", PORTS.redis, "redis");
  const edge = core(config, stack, "nginx", "nginx", "nginx", PORTS.https, "nginx");
  return {
    stack,
    prefix,
    environment: config.environment,
    frontNetwork: joinName(prefix, "front"),
    redisNetwork: joinName(prefix, "redis"),
    nexus: {
      api: core(config, stack, "nexus-api", "nexus", "nexus-api", PORTS.api, "gameserver"),
      db: {
        ...nexusDb,
        database: "nexus_db",
        user: "nexus_user",
        volumeName: joinName(prefix, "nexus_db_data"),
        networkName: joinName(prefix, "nexus"),
        debugPort: config.debugPorts.publish ? config.debugPorts.postgresBase : null,
      },
      redisDb: 0,
    },
    regions: config.regions.map((r) => planRegion(config, stack, r)),
    redis: {
      ...redis,
      volumeName: joinName(prefix, "redis_data"),
      databases: redisDatabasesFor(config.regions.map((r) => r.slot)),
      debugPort: config.debugPorts.publish ? config.debugPorts.redis : null,
    },
    edge: {
      ...edge,
      staticVolumeName: joinName(prefix, "static"),
      httpPort: config.edge.httpPort,
      httpsPort: config.edge.httpsPort,
      upstreamKeepalive: config.edge.upstreamKeepalive,
    },
    admin: core(config, stack, "admin-ui", "admin", "admin-ui", PORTS.ui, "adminUi"),
    player: core(config, stack, "player-ui", "player", "player-ui", PORTS.ui, "playerUi"),
    paypal: core(config, stack, "paypal", "paypal", "paypal-service", PORTS.paypal, "paypal"),
    publicUrl: publicUrl(config.edge),
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
  ];
}
