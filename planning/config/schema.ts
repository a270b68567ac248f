/**
 * The whole `sectorwars:*` schema, assembled from its parts (one module per area), with the
 * small settings that have no module of their own. Field descriptions are the source of the
 * README's config reference (`npm run docs`); defaults come from planning/config/defaults.ts.
 */
import { z } from "zod";
import { backupSchema } from "./backup";
import { capacitySchema, hostSchema, regionSizesSchema, sizeProfilesSchema } from "./capacity";
import { DEFAULTS } from "./defaults";
import { databaseSchema } from "./database";
import { edgeSchema, portSchema } from "./edge";
import { API_VERSION_PATTERN, START_INTERVAL, START_INTERVAL_SINCE } from "../stack/engine";
import { imagesSchema } from "./images";
import { monitoringSchema } from "./monitoring";
import { regionsSchema } from "./regions";
import { servicesSchema } from "../stack/services";
import { ORCHESTRATORS, swarmSchema } from "../swarm/config";

/** Secret config keys: read with getSecret, never parsed as plain values. */
export const SECRET_KEYS = {
  paypalClientId: "PayPal REST client id. Required in prod.",
  paypalClientSecret: "PayPal REST client secret. Required in prod.",
  tlsCertificate:
    "PEM certificate chain served on HTTPS. Required in prod unless edge.acme obtains one; dev generates a self-signed one.",
  tlsPrivateKey: "PEM private key of tlsCertificate. Required with it.",
  backupRepositoryPassword:
    "Encryption key of backup.repository (at least 20 characters): nothing in the repository can be read without it. Required with backup.repository.",
  backupRepositoryCredentials: "KEY_ID:SECRET of the S3 bucket of backup.repository. Required with backup.repository.",
  monitoringAlertWebhook:
    "URL Alertmanager posts alerts to (its webhook format), e.g. a chat or paging service's incoming webhook. Required with monitoring on in prod.",
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

/** The raw shape of the `sectorwars:*` keys, with defaults; cross-field rules come after. */
export const rawConfigSchema = z.strictObject({
  environment: z
    .enum(["dev", "prod"])
    .describe("dev or prod. prod demands real app images, PayPal credentials and a TLS certificate."),
  namePrefix: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,23}$/, "must start with a letter and use only a-z, 0-9 and '-' (at most 24 characters)")
    .default(DEFAULTS.namePrefix)
    .describe("Prefix of every container, network and volume name; give each stack on a host its own."),
  host: hostSchema,
  orchestrator: z
    .enum(ORCHESTRATORS)
    .default(DEFAULTS.orchestrator)
    .describe(
      "docker: containers on one Docker host (the default). swarm: the same stack as Docker Swarm services on the " +
        "nodes of sectorwars:swarm.",
    ),
  swarm: swarmSchema,
  regions: regionsSchema,
  images: imagesSchema,
  redis: z
    .strictObject({
      maxmemory: z
        .string()
        .regex(/^\d+(b|k|kb|m|mb|g|gb)?$/i, 'must be a Redis size such as "6gb" or "512mb"')
        .default(DEFAULTS.redis.maxmemory)
        .describe(`Redis maxmemory; at most ${REDIS_MAXMEMORY_SHARE * 100}% of the redis profile's memory limit.`),
      maxmemoryPolicy: z
        .enum(REDIS_EVICTION_POLICIES)
        .default(DEFAULTS.redis.maxmemoryPolicy)
        .describe("Redis eviction policy."),
    })
    .prefault({})
    .describe("Shared Redis settings."),
  paypal: z
    .strictObject({
      environment: z
        .enum(["sandbox", "live"])
        .default(DEFAULTS.paypal.environment)
        .describe("PAYPAL_ENVIRONMENT of the PayPal service."),
    })
    .prefault({})
    .describe("PayPal service settings; credentials are the secret keys paypalClientId and paypalClientSecret."),
  edge: edgeSchema,
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
    .prefault({})
    .describe("The Docker engine the stack deploys to."),
  services: servicesSchema,
  database: databaseSchema,
  debugPorts: z
    .strictObject({
      publish: z
        .boolean()
        .default(DEFAULTS.debugPorts.publish)
        .describe("Publish PostgreSQL and Redis ports on 127.0.0.1 for debugging."),
      postgresBase: portSchema
        .default(DEFAULTS.debugPorts.postgresBase)
        .describe("Nexus DB gets this port, region DBs this + slot."),
      redis: portSchema.default(DEFAULTS.debugPorts.redis).describe("Host port of Redis."),
    })
    .prefault({})
    .describe("Database ports on the host. Off by default; always bound to 127.0.0.1."),
  backup: backupSchema,
  monitoring: monitoringSchema,
  capacity: capacitySchema,
  sizeProfiles: sizeProfilesSchema,
  regionSizes: regionSizesSchema,
});

export type RawConfig = z.input<typeof rawConfigSchema>;

/** What the schema makes of a stack config: checked field by field, defaults filled in. */
export type ParsedConfig = z.output<typeof rawConfigSchema>;

/**
 * Every default is a value its field accepts (`region` is per list entry). Checked here, where
 * the whole schema's type is known: config/defaults.ts feeds the schema and imports nothing of it.
 */
DEFAULTS satisfies Partial<Omit<RawConfig, "regions">> & {
  region: Partial<RawConfig["regions"][number]>;
  edgeAcme: Partial<NonNullable<NonNullable<RawConfig["edge"]>["acme"]>>;
};
