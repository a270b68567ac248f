/**
 * One container's plan (ContainerPlan) and how the planners make one: the role catalog's facts,
 * the stack config's size profile, the game service's overrides or the platform container's own
 * listener, the engine's health check features. planStack (topology.ts) and the monitoring plan
 * (planning/monitoring/plan.ts) build theirs from here.
 */
import type { ImageKey, PlatformConfig } from "../config";
import type { EngineFeatures } from "./engine";
import { type HealthcheckPlan, withStartInterval } from "./healthchecks";
import { ROLES, type Replacement, type Role, containerLabels } from "../roles";
import type { ResourceSpec } from "./sizes";
import { type HardeningPlan, hardeningFor } from "./hardening";
import { DEFAULT_PORTS, type StopPlan, isGameService, serviceHealthcheck, stopPlan, withOverrides } from "./services";

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

/** Docker names only allow [a-zA-Z0-9_.-]; ids and prefixes are already restricted to that. */
export const joinName = (...parts: (string | number)[]): string => parts.join("_");

/** What every container plan is made from besides its own fields. */
export interface PlanContext {
  config: PlatformConfig;
  stack: string;
  engine: EngineFeatures;
}

/** What a container's own listener and check are, where the stack config cannot change them. */
export interface PlatformListener {
  port: number;
  healthcheck: HealthcheckPlan;
}

function profile(config: PlatformConfig, name: string): ResourceSpec {
  const spec = config.sizeProfiles[name];
  // parseConfig has already rejected unknown profiles; reaching this is a programming error.
  if (!spec) throw new Error(`size profile "${name}" is not defined`);
  return spec;
}

/**
 * The fields every container shares. A game service's port, health check, hardening and extra
 * environment come from its sectorwars:services entry (defaults when unset); a platform
 * container's from `listener` and hardening.ts.
 */
export function containerBasics(
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

/** A container that exists once per stack, sized by the profile of its role's name. */
export function core(
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
