/**
 * The stack configuration (namespace `sectorwars`): one zod schema, parsed once before any
 * resource is declared. Field descriptions here are the source of the README's config reference.
 */
import { z } from "zod";
import {
  BUILT_IN_PROFILES,
  BUILT_IN_REGION_SIZES,
  CORE_SERVICES,
  DEFAULT_REGION_SIZE,
  type RegionSize,
  type ResourceSpec,
} from "./sizes";
import { MAX_UPSTREAM_KEEPALIVE, UPSTREAM_RESOLVE_SINCE, supportsUpstreamResolve } from "./nginx";
import { HTTPS_REDIRECT_DESCRIPTION, httpsRedirectFor, staticFromSchema, staticSourceOf } from "./edgeConfig";
import type { StaticSource } from "./staticFill";
import { parseMemoryMb, parseRedisMemoryMb, formatMemoryMb } from "./units";
import {
  type DatabaseConfig,
  type FileRead,
  databaseSchema,
  readInitSql,
  wellFormedInitSqlPaths,
} from "./databaseConfig";
import { API_VERSION_PATTERN, START_INTERVAL, START_INTERVAL_SINCE } from "./engine";
import { GAME_SERVICES, type GameService, type ServiceSettings, serviceProblems, servicesSchema } from "./services";
import { type Orchestrator, type SwarmSettings, orchestratorSchema, swarmProblems, swarmSchema } from "./swarm/config";

export const CONFIG_NAMESPACE = "sectorwars";

export type { FileRead, InitSqlFile } from "./databaseConfig";

/** Lowercase slug or UUID; both fit Docker names, DNS labels and URL paths unchanged. */
export const REGION_ID_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;

/** Redis' own limit is far higher; this keeps host ports (base + slot) and `databases` small. */
export const MAX_SLOT = 999;

export const IMAGE_KEYS = ["gameserver", "adminUi", "playerUi", "paypal", "postgres", "redis", "nginx"] as const;
export type ImageKey = (typeof IMAGE_KEYS)[number];

/** The game's own services: prod must name real images for these. */
export const APP_IMAGE_KEYS = ["gameserver", "adminUi", "playerUi", "paypal"] as const;

/** The seed's public images, used unless the stack names others. */
export const DEFAULT_PUBLIC_IMAGES: Readonly<Record<"postgres" | "redis" | "nginx", string>> = {
  postgres: "postgres:15-alpine",
  redis: "redis:7-alpine",
  nginx: "nginx:alpine",
};

/** Until real images are configured, the dev stack runs the repo's probe in every app role. */
export const PROBE_BUILD: { context: string; dockerfile?: string } = { context: "probe" };

/** Secret config keys: read with getSecret, never parsed as plain values. */
export const SECRET_KEYS = {
  paypalClientId: "PayPal REST client id. Required in prod.",
  paypalClientSecret: "PayPal REST client secret. Required in prod.",
  tlsCertificate: "PEM certificate chain served on HTTPS. Required in prod; dev generates a self-signed one.",
  tlsPrivateKey: "PEM private key of tlsCertificate. Required in prod.",
} as const;
export type SecretKey = keyof typeof SECRET_KEYS;

export const REDIS_EVICTION_POLICIES = [
  "noeviction",
  "allkeys-lru",
  "allkeys-lfu",
  "allkeys-random",
  "volatile-lru",
  "volatile-lfu",
  "volatile-random",
  "volatile-ttl",
] as const;

/** Redis is killed by the kernel if its dataset plus overhead reaches the container limit. */
export const REDIS_MAXMEMORY_SHARE = 0.8;

// A Docker image reference: [registry[:port]/]path[:tag][@sha256:digest].
const IMAGE_REF_PATTERN =
  /^(?:[a-zA-Z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:[._-]+[a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;

const memory = z
  .union([z.number(), z.string()])
  .describe('Megabytes as a number, or a size such as "8G" or "512M".')
  .transform((value, ctx) => {
    const mb = parseMemoryMb(value);
    if (mb === undefined) {
      ctx.addIssue({
        code: "custom",
        message: `${JSON.stringify(value)} is not a memory size such as "8G", "512M" or 2048`,
      });
      return z.NEVER;
    }
    return mb;
  });

const cpus = z.number().positive().max(1024).describe("CPUs, fractions allowed (0.5).");

const resourceSpec = z
  .strictObject({
    limits: z
      .strictObject({ cpus, memory })
      .describe("Hard limits: the container is throttled or OOM-killed beyond them."),
    reservations: z
      .strictObject({ cpus, memory })
      .describe(
        "What the container is guaranteed. CPU becomes a relative weight (cpuShares); memory a soft reservation.",
      ),
  })
  .transform((s, ctx): ResourceSpec => {
    if (s.reservations.cpus > s.limits.cpus) {
      ctx.addIssue({
        code: "custom",
        path: ["reservations", "cpus"],
        message: `${s.reservations.cpus} exceeds the limit of ${s.limits.cpus}`,
      });
    }
    if (s.reservations.memory > s.limits.memory) {
      ctx.addIssue({
        code: "custom",
        path: ["reservations", "memory"],
        message: `${formatMemoryMb(s.reservations.memory)} exceeds the limit of ${formatMemoryMb(s.limits.memory)}`,
      });
    }
    return {
      limits: { cpus: s.limits.cpus, memoryMb: s.limits.memory },
      reservations: { cpus: s.reservations.cpus, memoryMb: s.reservations.memory },
    };
  });

const profileName = z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/, "must be a lowercase name such as region-db");

const imageRef = z
  .string()
  .regex(IMAGE_REF_PATTERN, "is not a Docker image reference such as repo/name:tag")
  .describe("An image reference, e.g. registry.example.com/sectorwars/gameserver:1.4.2");

const imageBuild = z
  .strictObject({
    context: z.string().min(1).describe("Build context directory, relative to the project."),
    dockerfile: z.string().min(1).optional().describe("Dockerfile path, default <context>/Dockerfile."),
  })
  .describe("A local build with docker.Image; never pushed.");

const imageSpec = z
  .union([imageRef, imageBuild])
  .describe("`repo/name:tag` (or `@sha256:` digest), or `{ context, dockerfile? }` to build locally.");

export type ImageSpec = { kind: "ref"; ref: string } | { kind: "build"; context: string; dockerfile?: string };

const port = z.number().int().min(1).max(65535);

const region = z.strictObject({
  id: z
    .string()
    .regex(REGION_ID_PATTERN, "must be a lowercase slug or UUID (a-z, 0-9, '-', at most 40 characters)")
    .describe("Stable id: appears in /api/regions/<id>/, container and resource names. Never change it."),
  name: z.string().trim().min(1).max(100).describe("Display name, passed to the API as REGION_NAME."),
  type: z.enum(["default", "player_owned"]).describe("Exactly one region is `default`; it also serves legacy /api/."),
  slot: z
    .number()
    .int()
    .min(1)
    .max(MAX_SLOT)
    .describe("Unique, never reused: the region's Redis database index and the offset of any host port it publishes."),
  size: profileName
    .optional()
    .describe(`A region size from sectorwars:regionSizes (default "${DEFAULT_REGION_SIZE}").`),
  state: z
    .enum(["active", "retired"])
    .default("active")
    .describe(
      "retired: containers removed, routes answer 410, data volume and slot kept. Set back to active to bring it back on the same data.",
    ),
});

/** The raw shape of the `sectorwars:*` keys, with defaults; cross-field rules come after. */
export const rawConfigSchema = z.strictObject({
  environment: z
    .enum(["dev", "prod"])
    .describe("dev or prod. prod demands real app images, PayPal credentials and a TLS certificate."),
  namePrefix: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,23}$/, "must start with a letter and use only a-z, 0-9 and '-' (at most 24 characters)")
    .default("sectorwars")
    .describe("Prefix of every container, network and volume name; give each stack on a host its own."),
  host: z
    .strictObject({
      cpus: z.number().positive().describe("vCPUs of the Docker host."),
      memoryGb: z.number().positive().describe("Memory of the Docker host in GB."),
    })
    .describe("The Docker host's budget (prod: 64 and 64)."),
  orchestrator: orchestratorSchema,
  swarm: swarmSchema,
  regions: z
    .array(region)
    .min(1, "at least one region is needed")
    .describe("The galaxy regions, one API + PostgreSQL each."),
  images: z
    .strictObject(
      Object.fromEntries(IMAGE_KEYS.map((key) => [key, imageSpec.optional()])) as Record<
        ImageKey,
        z.ZodOptional<typeof imageSpec>
      >,
    )
    .default({})
    .describe(
      "Per service (gameserver, adminUi, playerUi, paypal, postgres, redis, nginx): an image reference or a local build " +
        "`{ context, dockerfile? }`. postgres, redis and nginx default to the seed's public images; in dev the app " +
        "images default to a build of ./probe; prod requires references with a tag or digest.",
    ),
  redis: z
    .strictObject({
      maxmemory: z
        .string()
        .regex(/^\d+(b|k|kb|m|mb|g|gb)?$/i, 'must be a Redis size such as "6gb" or "512mb"')
        .default("6gb")
        .describe(`Redis maxmemory; at most ${REDIS_MAXMEMORY_SHARE * 100}% of the redis profile's memory limit.`),
      maxmemoryPolicy: z.enum(REDIS_EVICTION_POLICIES).default("allkeys-lru").describe("Redis eviction policy."),
    })
    .default({ maxmemory: "6gb", maxmemoryPolicy: "allkeys-lru" })
    .describe("Shared Redis settings."),
  paypal: z
    .strictObject({
      environment: z.enum(["sandbox", "live"]).default("sandbox").describe("PAYPAL_ENVIRONMENT of the PayPal service."),
    })
    .default({ environment: "sandbox" })
    .describe("PayPal service settings; credentials are the secret keys paypalClientId and paypalClientSecret."),
  edge: z
    .strictObject({
      hostname: z
        .string()
        .regex(/^[a-z0-9.-]+$/i, "must be a host name")
        .default("localhost")
        .describe("Public host name, used in the URLs the stack exports."),
      httpPort: port.default(80).describe("Host port for HTTP."),
      httpsPort: port.default(443).describe("Host port for HTTPS."),
      upstreamKeepalive: z
        .number()
        .int()
        .min(0)
        .max(MAX_UPSTREAM_KEEPALIVE)
        .default(0)
        .describe(
          "Idle connections nginx keeps open to each API and UI container, per worker; 0 = none (a new " +
            "connection per request). Above 0, requests reuse connections (BENCHMARKS.md section 3: the edge " +
            "adds about 45 µs instead of 175 µs per request in front of a Node.js API) while names are still " +
            "resolved at run time, so a missing region container still fails only its own routes. Needs " +
            "nginx >= 1.27.3 in the nginx image (nginx:alpine is); older nginx rejects the config.",
        ),
      // Its default depends on environment: resolveDefaults fills it in.
      httpsRedirect: z.boolean().optional().describe(HTTPS_REDIRECT_DESCRIPTION),
      staticFrom: staticFromSchema,
    })
    .default({ hostname: "localhost", httpPort: 80, httpsPort: 443, upstreamKeepalive: 0 })
    .describe("The nginx edge proxy's public side."),
  engine: z
    .strictObject({
      apiVersion: z
        .string()
        .regex(API_VERSION_PATTERN, 'must be a Docker Engine API version such as "1.41" or "1.45"')
        .optional()
        .describe(
          `Docker Engine API version the stack is planned for (\`docker version --format '{{.Server.APIVersion}}'\`). ` +
            `From ${START_INTERVAL_SINCE} (Docker 25) health checks probe every ${START_INTERVAL} while a container starts. ` +
            "Unset: the engine is asked at every preview and up. Set: an older engine fails the deploy before anything changes, " +
            "and an engine upgrade changes nothing until this is raised.",
        ),
    })
    .default({})
    .describe("The Docker engine the stack deploys to."),
  services: servicesSchema,
  database: databaseSchema,
  debugPorts: z
    .strictObject({
      publish: z.boolean().default(false).describe("Publish PostgreSQL and Redis ports on 127.0.0.1 for debugging."),
      postgresBase: port.default(15432).describe("Nexus DB gets this port, region DBs this + slot."),
      redis: port.default(16379).describe("Host port of Redis."),
    })
    .default({ publish: false, postgresBase: 15432, redis: 16379 })
    .describe("Database ports on the host. Off by default; always bound to 127.0.0.1."),
  backup: z
    .strictObject({
      dir: z
        .string()
        .regex(/^[A-Za-z0-9._+/-]+$/, "must be a path of letters, digits and ._+-/")
        .refine((dir) => !dir.split("/").includes(".."), "must not contain ..")
        .default("/var/backups/sectorwars")
        .describe(
          "Where backups land, on the machine that runs `pulumi up` and the schedule: <dir>/<stack>/<UTC timestamp>/. " +
            "A relative path is taken from the project directory.",
        ),
      generation: z
        .number()
        .int()
        .nonnegative()
        .default(0)
        .describe("Bump it to take a backup at the next `pulumi up`."),
      parallelism: z.number().int().min(1).max(16).default(2).describe("Databases dumped at the same time."),
      retentionDays: z
        .number()
        .int()
        .min(1)
        .default(30)
        .describe("Complete backups older than this are pruned; the newest is always kept."),
      schedule: z
        .string()
        .regex(/^[A-Za-z0-9 *:.,/~-]+$/, 'must be "off" or a systemd calendar expression such as "daily"')
        .default("daily")
        .describe(
          'systemd OnCalendar expression of the scheduled backup on the deploy machine, or "off". See docs/backups.md.',
        ),
    })
    .default({ dir: "/var/backups/sectorwars", generation: 0, parallelism: 2, retentionDays: 30, schedule: "daily" })
    .describe(
      "Backups of every database and Redis: during `pulumi up` before a database container is replaced, and on a schedule.",
    ),
  capacity: z
    .strictObject({
      reserve: z
        .strictObject({
          cpus: z.number().nonnegative().default(2).describe("CPUs kept for the OS and the Docker daemon."),
          memory: memory.default(4096).describe("Memory kept for the OS and the Docker daemon."),
        })
        .default({ cpus: 2, memory: 4096 })
        .describe("What the containers may not use of sectorwars:host."),
      overcommit: z
        .strictObject({
          cpus: z
            .number()
            .min(1)
            .default(2)
            .describe("Sum of CPU limits may reach this multiple of the budget (throttling is safe)."),
          memory: z
            .number()
            .min(1)
            .default(1)
            .describe("Sum of memory limits may reach this multiple of the budget (beyond 1, the kernel OOM-kills)."),
        })
        .default({ cpus: 2, memory: 1 })
        .describe("How far limits may exceed the budget; reservations never may."),
    })
    .default({ reserve: { cpus: 2, memory: 4096 }, overcommit: { cpus: 2, memory: 1 } })
    .describe("The capacity check run before every deploy."),
  sizeProfiles: z
    .record(profileName, resourceSpec)
    .default({})
    .describe(
      "Size profiles `{ limits: { cpus, memory }, reservations: { cpus, memory } }` by name, merged over the built-in ones " +
        `(${Object.keys(BUILT_IN_PROFILES).join(", ")}). Each core service uses the profile of its own name.`,
    ),
  regionSizes: z
    .record(
      profileName,
      z.strictObject({
        api: profileName.describe("Size profile of the region's API container."),
        db: profileName.describe("Size profile of the region's PostgreSQL container."),
      }),
    )
    .default({})
    .describe(
      `Region sizes \`{ api: <profile>, db: <profile> }\` by name, merged over the built-in "${DEFAULT_REGION_SIZE}".`,
    ),
});

export type RawConfig = z.input<typeof rawConfigSchema>;

export interface RegionConfig {
  id: string;
  name: string;
  type: "default" | "player_owned";
  slot: number;
  size: string;
  state: "active" | "retired";
}

/** The validated, defaulted stack configuration every planner and component works from. */
export interface PlatformConfig {
  environment: "dev" | "prod";
  namePrefix: string;
  host: { cpus: number; memoryGb: number };
  orchestrator: Orchestrator;
  /** The cluster (sectorwars:swarm); null when unset. */
  swarm: SwarmSettings | null;
  regions: RegionConfig[];
  images: Record<ImageKey, ImageSpec>;
  redis: { maxmemory: string; maxmemoryPolicy: (typeof REDIS_EVICTION_POLICIES)[number] };
  paypal: { environment: "sandbox" | "live" };
  edge: {
    hostname: string;
    httpPort: number;
    httpsPort: number;
    upstreamKeepalive: number;
    httpsRedirect: boolean;
    /** What fills the static volume on `pulumi up`; null: nothing does. */
    staticFrom: StaticSource | null;
  };
  engine: { apiVersion?: string };
  services: Record<GameService, ServiceSettings>;
  /** sectorwars:services holds a value set with --secret: the extra environment stays secret. */
  servicesSecret: boolean;
  database: DatabaseConfig;
  debugPorts: { publish: boolean; postgresBase: number; redis: number };
  backup: { dir: string; generation: number; parallelism: number; retentionDays: number; schedule: string };
  capacity: {
    reserve: { cpus: number; memoryMb: number };
    overcommit: { cpus: number; memory: number };
  };
  sizeProfiles: Record<string, ResourceSpec>;
  regionSizes: Record<string, RegionSize>;
}

/** One problem with the stack config, with its full config path. */
export interface ConfigProblem {
  path: string;
  message: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(
      `Invalid stack configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        problems.map((p) => `  - ${p.path}: ${p.message}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

/** ["regions", 2, "slot"] → "sectorwars:regions[2].slot" */
export function configPath(path: readonly PropertyKey[]): string {
  let out = CONFIG_NAMESPACE;
  path.forEach((segment, index) => {
    if (typeof segment === "number") out += `[${segment}]`;
    else out += `${index === 0 ? ":" : "."}${String(segment)}`;
  });
  return out;
}

export interface ParseContext {
  /** Which secret keys the stack sets; their values never reach the parser. */
  presentSecrets: ReadonlySet<SecretKey>;
  /**
   * Keys other than SECRET_KEYS that hold a value set with `--secret` (Pulumi then treats the
   * whole key as secret). Only sectorwars:services may: its extra environment is kept secret.
   */
  secretValued?: ReadonlySet<string>;
  /** Whether a local build context exists; checked only when given. */
  directoryExists?: (path: string) => boolean;
  /**
   * Reads a file the config names (init SQL), relative to the project directory, refusing one
   * larger than maxBytes without reading it. Only when given are the files checked and read.
   */
  readFile?: (path: string, maxBytes: number) => FileRead;
}

/**
 * Validates the raw `sectorwars:*` values and returns the typed config, or throws a ConfigError
 * listing every problem with its config path.
 */
export function parseConfig(raw: unknown, context: ParseContext): PlatformConfig {
  const result = rawConfigSchema.safeParse(raw);
  // Run on the raw list so that a typo elsewhere does not hide a reused slot.
  const regionProblems = checkRegionList(valueAt(raw, ["regions"]));
  // Likewise the init SQL files: a missing one shows up with a typo elsewhere, not after its fix.
  const initSql = readInitSql(wellFormedInitSqlPaths(valueAt(raw, ["database", "initSql"])), context.readFile);
  if (!result.success) {
    throw new ConfigError([
      ...result.error.issues.flatMap((issue): ConfigProblem[] => {
        if (issue.code === "unrecognized_keys") {
          return issue.keys.map((key) => ({ path: configPath([...issue.path, key]), message: "unknown key" }));
        }
        if (valueAt(raw, issue.path) === undefined) {
          return [{ path: configPath(issue.path), message: "is required" }];
        }
        // A bad record key: zod says "Invalid key in record" and keeps the key's own problem inside.
        const inner = issue.code === "invalid_key" ? issue.issues[0]?.message : undefined;
        return [{ path: configPath(issue.path), message: inner ?? issue.message }];
      }),
      ...regionProblems,
      ...initSql.problems.map(databaseProblem),
    ]);
  }
  const config = { ...resolveDefaults(result.data), servicesSecret: context.secretValued?.has("services") ?? false };
  const problems = [
    ...regionProblems,
    ...crossCheck(config, result.data, context),
    ...initSql.problems.map(databaseProblem),
  ];
  if (problems.length > 0) throw new ConfigError(problems);
  return { ...config, database: { ...config.database, initSql: initSql.files } };
}

const databaseProblem = (p: { path: PropertyKey[]; message: string }): ConfigProblem => ({
  path: configPath(["database", ...p.path]),
  message: p.message,
});

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let current = value;
  for (const segment of path) {
    if (typeof current !== "object" || current === null) return undefined;
    current = (current as Record<PropertyKey, unknown>)[segment];
  }
  return current;
}

type ParsedRaw = z.output<typeof rawConfigSchema>;

function resolveDefaults(raw: ParsedRaw): PlatformConfig {
  const images = {} as Record<ImageKey, ImageSpec>;
  for (const key of IMAGE_KEYS) {
    const given = raw.images[key];
    const fallback =
      key in DEFAULT_PUBLIC_IMAGES ? DEFAULT_PUBLIC_IMAGES[key as keyof typeof DEFAULT_PUBLIC_IMAGES] : PROBE_BUILD;
    const chosen = given ?? fallback;
    images[key] =
      typeof chosen === "string"
        ? { kind: "ref", ref: chosen }
        : { kind: "build", context: chosen.context, ...(chosen.dockerfile ? { dockerfile: chosen.dockerfile } : {}) };
  }
  return {
    environment: raw.environment,
    namePrefix: raw.namePrefix,
    host: raw.host,
    orchestrator: raw.orchestrator,
    swarm: raw.swarm ?? null,
    regions: raw.regions.map((r) => ({ ...r, size: r.size ?? DEFAULT_REGION_SIZE })),
    images,
    redis: raw.redis,
    paypal: raw.paypal,
    edge: {
      ...raw.edge,
      httpsRedirect: httpsRedirectFor(raw.environment, raw.edge.httpsRedirect),
      staticFrom: staticSourceOf(raw.edge.staticFrom),
    },
    engine: raw.engine,
    services: raw.services,
    servicesSecret: false,
    database: {
      initSql: {},
      ...(raw.database.migration ? { migration: { command: raw.database.migration.command } } : {}),
    },
    debugPorts: raw.debugPorts,
    backup: raw.backup,
    capacity: {
      reserve: { cpus: raw.capacity.reserve.cpus, memoryMb: raw.capacity.reserve.memory },
      overcommit: raw.capacity.overcommit,
    },
    sizeProfiles: { ...BUILT_IN_PROFILES, ...raw.sizeProfiles },
    regionSizes: { ...BUILT_IN_REGION_SIZES, ...raw.regionSizes },
  };
}

/** Exactly one default region; ids and slots unique. Works on whatever entries are well-formed. */
function checkRegionList(regions: unknown): ConfigProblem[] {
  if (!Array.isArray(regions)) return [];
  const problems: ConfigProblem[] = [];
  const add = (path: PropertyKey[], message: string) => problems.push({ path: configPath(path), message });
  const entries = regions.map((r: unknown) =>
    typeof r === "object" && r !== null ? (r as Record<string, unknown>) : {},
  );
  const defaults = entries.filter((r) => r.type === "default");
  if (regions.length > 0 && defaults.length === 0)
    add(["regions"], 'exactly one region must have type "default"; none has');
  defaults
    .slice(1)
    .forEach((r) =>
      add(
        ["regions", entries.indexOf(r), "type"],
        `only one region can be "default"; "${String(defaults[0]?.id)}" already is`,
      ),
    );
  const seenIds = new Map<string, number>();
  const seenSlots = new Map<number, string>();
  entries.forEach((r, i) => {
    if (typeof r.id === "string") {
      const previous = seenIds.get(r.id);
      if (previous !== undefined) add(["regions", i, "id"], `"${r.id}" is already used by regions[${previous}]`);
      else seenIds.set(r.id, i);
    }
    if (typeof r.slot === "number") {
      const owner = seenSlots.get(r.slot);
      if (owner !== undefined) add(["regions", i, "slot"], `${r.slot} is already used by region "${owner}"`);
      else seenSlots.set(r.slot, typeof r.id === "string" ? r.id : `regions[${i}]`);
    }
  });
  return problems;
}

function crossCheck(config: PlatformConfig, raw: ParsedRaw, context: ParseContext): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = (path: PropertyKey[], message: string) => problems.push({ path: configPath(path), message });

  for (const key of context.secretValued ?? []) {
    if (key !== "services") {
      add([key], "holds a value set with --secret, but is not a secret setting: set it without --secret");
    }
  }
  for (const service of GAME_SERVICES) {
    for (const p of serviceProblems(service, config.services[service])) add(["services", ...p.path], p.message);
  }

  swarmProblems(config, add);

  config.regions.forEach((r, i) => {
    if (r.type === "default" && r.state === "retired") {
      add(
        ["regions", i, "state"],
        "the default region serves legacy /api/ and cannot be retired; make another region the default first",
      );
    }
    if (!(r.size in config.regionSizes)) {
      add(
        ["regions", i, "size"],
        `unknown region size "${r.size}" (known: ${Object.keys(config.regionSizes).join(", ")})`,
      );
    }
  });

  for (const [name, size] of Object.entries(raw.regionSizes)) {
    for (const part of ["api", "db"] as const) {
      if (!(size[part] in config.sizeProfiles)) {
        add(["regionSizes", name, part], `unknown size profile "${size[part]}"`);
      }
    }
  }

  for (const service of CORE_SERVICES) {
    if (!(service in config.sizeProfiles)) add(["sizeProfiles", service], "the core service's profile is missing");
  }

  const redisLimit = config.sizeProfiles.redis?.limits.memoryMb;
  const maxmemoryMb = parseRedisMemoryMb(config.redis.maxmemory);
  if (redisLimit !== undefined && maxmemoryMb !== undefined && maxmemoryMb > redisLimit * REDIS_MAXMEMORY_SHARE) {
    add(
      ["redis", "maxmemory"],
      `${config.redis.maxmemory} leaves no headroom under the redis container's ${formatMemoryMb(redisLimit)} limit ` +
        `(at most ${Math.floor(redisLimit * REDIS_MAXMEMORY_SHARE)}mb)`,
    );
  }

  if (config.debugPorts.publish) {
    const used = new Map<number, string>([
      [config.edge.httpPort, "sectorwars:edge.httpPort"],
      [config.edge.httpsPort, "sectorwars:edge.httpsPort"],
    ]);
    const claim = (port: number, path: PropertyKey[]) => {
      const owner = used.get(port);
      if (port > 65535) add(path, `host port ${port} is above 65535`);
      else if (owner !== undefined) add(path, `host port ${port} is already used by ${owner}`);
      else used.set(port, configPath(path));
    };
    claim(config.debugPorts.redis, ["debugPorts", "redis"]);
    claim(config.debugPorts.postgresBase, ["debugPorts", "postgresBase"]);
    config.regions.forEach((r, i) => claim(config.debugPorts.postgresBase + r.slot, ["regions", i, "slot"]));
  } else if (config.edge.httpPort === config.edge.httpsPort) {
    add(["edge", "httpsPort"], `host port ${config.edge.httpsPort} is already used by sectorwars:edge.httpPort`);
  }

  if (config.edge.upstreamKeepalive > 0) {
    // Older nginx rejects `resolve` in upstream blocks: a new edge container would not start. Only
    // a tag that names a version can be checked; nginx:alpine and nginx:stable are recent enough.
    const nginx = config.images.nginx;
    const ref = nginx.kind === "ref" ? nginx.ref : "";
    const version = /:(\d+\.\d+(?:\.\d+)?)(?:[-@]|$)/.exec(ref)?.[1];
    if (version !== undefined && !supportsUpstreamResolve(version)) {
      add(
        ["edge", "upstreamKeepalive"],
        `needs nginx >= ${UPSTREAM_RESOLVE_SINCE} (\`server ... resolve\` in upstream blocks), but images.nginx is ${ref}`,
      );
    }
  }

  if (context.directoryExists) {
    for (const key of IMAGE_KEYS) {
      const image = config.images[key];
      if (image.kind === "build" && !context.directoryExists(image.context)) {
        add(["images", key], `build context "${image.context}" does not exist`);
      }
    }
    const from = config.edge.staticFrom;
    if (from?.kind === "directory" && !context.directoryExists(from.directory)) {
      add(
        ["edge", "staticFrom", "directory"],
        `"${from.directory}" is not a directory (relative paths start at the project directory)`,
      );
    }
  }

  if (config.environment === "prod") {
    for (const key of APP_IMAGE_KEYS) {
      const image = config.images[key];
      if (raw.images[key] === undefined) {
        add(["images", key], "prod needs a real image reference (repo/name:tag); the probe is for dev only");
      } else if (image.kind !== "ref") {
        add(["images", key], "prod needs an image reference from a registry, not a local build");
      } else if (!/[:@][^/]*$/.test(image.ref.slice(image.ref.lastIndexOf("/") + 1))) {
        add(["images", key], `"${image.ref}" has no tag or digest; prod pins what it runs`);
      }
    }
    for (const key of ["paypalClientId", "paypalClientSecret", "tlsCertificate", "tlsPrivateKey"] as const) {
      if (!context.presentSecrets.has(key)) {
        add([key], `prod refuses to deploy without it: pulumi config set --secret ${CONFIG_NAMESPACE}:${key} ...`);
      }
    }
  }
  return problems;
}
