/**
 * The `sectorwars:images` part of the stack config: what each service runs, a registry reference
 * or a local build, and what it runs when the stack names nothing.
 */
import { z } from "zod";

/** What every stack runs. */
export const CORE_IMAGE_KEYS = ["gameserver", "adminUi", "playerUi", "paypal", "postgres", "redis", "nginx"] as const;
export type CoreImageKey = (typeof CORE_IMAGE_KEYS)[number];
/** What a stack with sectorwars:monitoring runs besides; resolved (pulled) only then. */
export const MONITORING_IMAGE_KEYS = [
  "prometheus",
  "alertmanager",
  "blackbox",
  "postgresExporter",
  "redisExporter",
  "nodeExporter",
  "edgeLogExporter",
  "containerExporter",
] as const;
export type MonitoringImageKey = (typeof MONITORING_IMAGE_KEYS)[number];
/** The edge's ACME client, run only by a stack with edge.acme. */
export const ACME_IMAGE_KEY = "acme";
export const IMAGE_KEYS = [...CORE_IMAGE_KEYS, ...MONITORING_IMAGE_KEYS, ACME_IMAGE_KEY] as const;
export type ImageKey = (typeof IMAGE_KEYS)[number];

/** The game's own services: prod must name real images for these. */
export const APP_IMAGE_KEYS = ["gameserver", "adminUi", "playerUi", "paypal"] as const;

/** The seed's public images, the Prometheus project's and lego's, used unless the stack names others. */
export const DEFAULT_PUBLIC_IMAGES: Readonly<
  Record<"postgres" | "redis" | "nginx" | MonitoringImageKey | typeof ACME_IMAGE_KEY, string>
> = {
  postgres: "postgres:15-alpine",
  redis: "redis:7-alpine",
  nginx: "nginx:alpine",
  prometheus: "prom/prometheus:v2.53.2",
  alertmanager: "prom/alertmanager:v0.27.0",
  blackbox: "prom/blackbox-exporter:v0.25.0",
  postgresExporter: "quay.io/prometheuscommunity/postgres-exporter:v0.15.0",
  // The alpine build: the scratch one has no shell, so no health check could run in it.
  redisExporter: "oliver006/redis_exporter:v1.62.0-alpine",
  nodeExporter: "prom/node-exporter:v1.8.2",
  // Google's own build of mtail (FROM scratch): it reads the edge's access log (planning/monitoring/edgeLog.ts).
  edgeLogExporter: "ghcr.io/google/mtail:3.0.8",
  // cAdvisor, published on ghcr.io since v0.54 (gcr.io/cadvisor/cadvisor before): every container's CPU, memory, restarts.
  containerExporter: "ghcr.io/google/cadvisor:v0.61.1",
  // The lego release the tests run (Debian's 4.9.1): its flags and output paths are what the renewal loop uses.
  acme: "goacme/lego:v4.9.1",
};

/** Until real images are configured, the dev stack runs the repo's probe in every app role. */
export const PROBE_BUILD: { context: string; dockerfile?: string } = { context: "probe" };

// A Docker image reference: [registry[:port]/]path[:tag][@sha256:digest].
const IMAGE_REF_PATTERN =
  /^(?:[a-zA-Z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:[._-]+[a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;

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

/**
 * Only what the stack sets: the defaults are filled in by resolveImages, after the config check,
 * which must tell an app image prod left unset from one it set.
 */
export const imagesSchema = z
  .strictObject(
    Object.fromEntries(IMAGE_KEYS.map((key) => [key, imageSpec.optional()])) as Record<
      ImageKey,
      z.ZodOptional<typeof imageSpec>
    >,
  )
  .prefault({})
  .describe(
    "Per service (gameserver, adminUi, playerUi, paypal, postgres, redis, nginx; with monitoring also prometheus, " +
      "alertmanager, blackbox, postgresExporter, redisExporter, nodeExporter, edgeLogExporter, containerExporter; with edge.acme also acme): an image reference or a local build `{ context, dockerfile? }`. " +
      "postgres, redis and nginx default to the seed's public images, the monitoring ones to the Prometheus project's, " +
      "acme to goacme/lego; in dev the app " +
      "images default to a build of ./probe; prod requires references with a tag or digest.",
  );

/** Every service's image: the one the stack names, else its default. */
export function resolveImages(given: z.output<typeof imagesSchema>): Record<ImageKey, ImageSpec> {
  const images = {} as Record<ImageKey, ImageSpec>;
  for (const key of IMAGE_KEYS) {
    const fallback =
      key in DEFAULT_PUBLIC_IMAGES ? DEFAULT_PUBLIC_IMAGES[key as keyof typeof DEFAULT_PUBLIC_IMAGES] : PROBE_BUILD;
    const chosen = given[key] ?? fallback;
    images[key] =
      typeof chosen === "string"
        ? { kind: "ref", ref: chosen }
        : { kind: "build", context: chosen.context, ...(chosen.dockerfile ? { dockerfile: chosen.dockerfile } : {}) };
  }
  return images;
}
