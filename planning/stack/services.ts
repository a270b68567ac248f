/**
 * The game's own services (nexus and region APIs, admin and player UIs, PayPal): how they stop,
 * and what a real image may need that the secure defaults do not give it (another port or health
 * check, extra environment, a writable directory, one capability). Everything here is validated
 * by the config check (this schema, and config/checks.ts); what is refused outright (privileged mode, the host's network, the
 * Docker socket, capabilities outside a short list) is refused there with the key's path.
 *
 * A deploy replaces these services create-before-delete (see replacement.ts): once the new
 * container is healthy, the old one gets its stop signal and its grace period to finish what it
 * is doing (requests in flight, a game server handing its players over) before Docker kills it.
 */
import { z } from "zod";
import { type ConfigProblem, problemAt } from "../config/errors";
import type { HardeningPlan } from "./hardening";
import { ENV_NAME_PATTERN } from "../shell";
import { type HealthcheckPlan, httpHealthcheck } from "./healthchecks";
import { ROLES, type Role } from "../roles";

/** The game's services: the only containers the stack config may tune. */
export const GAME_SERVICES = ["nexus-api", "region-api", "admin-ui", "player-ui", "paypal"] as const;
export type GameService = (typeof GAME_SERVICES)[number];

export const isGameService = (role: Role): role is GameService => (GAME_SERVICES as readonly string[]).includes(role);

/** Signals a service may ask to be stopped with; SIGKILL is not one (nothing could finish). */
export const STOP_SIGNALS = ["SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGWINCH"] as const;

/** Docker waits at most this long; a deploy waits for every replaced container in turn. */
export const MAX_STOP_GRACE_SECONDS = 3600;

export interface ServiceStop {
  stopSignal: (typeof STOP_SIGNALS)[number];
  stopGraceSeconds: number;
}

/** A game service's default of one field, from its record in the role catalog (roles.ts). */
const gameDefault = <T>(
  pick: (game: NonNullable<(typeof ROLES)[Role]["game"]>) => T,
): Readonly<Record<GameService, T>> =>
  Object.fromEntries(
    GAME_SERVICES.map((service) => {
      const game = ROLES[service].game;
      if (!game) throw new Error(`${service}: a game service without its defaults in roles.ts`);
      return [service, pick(game)];
    }),
  ) as Record<GameService, T>;

export const DEFAULT_STOP: Readonly<Record<GameService, ServiceStop>> = gameDefault((g) => ({
  stopSignal: "SIGTERM" as const,
  stopGraceSeconds: g.stopGraceSeconds,
}));

/** Ports inside the containers, as in the seed. */
export const DEFAULT_PORTS: Readonly<Record<GameService, number>> = gameDefault((g) => g.port);

export const DEFAULT_HEALTH_PATHS: Readonly<Record<GameService, string>> = gameDefault((g) => g.healthPath);

/** What a service's image may need beyond the defaults; every field optional. */
export interface ServiceOverrides {
  /** The port it listens on in its container (PORT is set to it; the edge and health check use it). */
  port?: number;
  /** Another health check: an HTTP path for the default curl check, or a command of its own. */
  healthcheck?: { path?: string; command?: string | string[] };
  /** Environment beyond what the platform sets. */
  env?: Record<string, string>;
  /** Writable directories (tmpfs, size such as "64m") on the read-only root filesystem. */
  writablePaths?: Record<string, string>;
  /** false: a writable root filesystem, for an image that writes where it should not. */
  readOnlyRootfs?: boolean;
  /** Capabilities to add, from ALLOWED_CAPABILITIES. */
  capabilities?: string[];
}

export type ServiceSettings = ServiceStop & ServiceOverrides;

/**
 * What an entrypoint may legitimately need: switch to its own user and own its files, bind a
 * port below 1024, signal its children. Anything else (SYS_ADMIN, NET_ADMIN, SYS_PTRACE, ...)
 * would let a compromised service reach the host or its neighbours.
 */
export const ALLOWED_CAPABILITIES = [
  "CHOWN",
  "DAC_OVERRIDE",
  "FOWNER",
  "SETGID",
  "SETUID",
  "NET_BIND_SERVICE",
  "KILL",
] as const;

/** Keys the stack config refuses, with why; they are never options, whatever their value. */
export const REFUSED_SETTINGS: Readonly<Record<string, string>> = {
  privileged: "refused: a privileged container can take over the host",
  networkMode: "refused: the host's network (or another container's) bypasses the stack's network isolation",
  mounts:
    "refused: host paths (the Docker socket among them) give a service the host; use writablePaths for scratch space",
  volumes:
    "refused: host paths (the Docker socket among them) give a service the host; use writablePaths for scratch space",
  devices: "refused: host devices give a service the host",
};

/** Directories a writable path may not be or lie under: the kernel's, the runtime's, the root. */
export const FORBIDDEN_WRITABLE = ["/proc", "/sys", "/dev", "/run/docker.sock", "/var/run/docker.sock"];

/** Environment the platform sets for every service, and per role; the stack config may not. */
export function platformEnvKeys(service: GameService): string[] {
  const common = ["PORT", "SECTORWARS_ROLE"];
  switch (service) {
    case "nexus-api":
    case "region-api":
      return [...common, "DATABASE_URL", "REDIS_URL", "REGION_ID", "REGION_NAME", "REGION_TYPE"];
    case "admin-ui":
    case "player-ui":
      return [...common, "REACT_APP_API_URL"];
    case "paypal":
      return [...common, "PAYPAL_ENVIRONMENT", "PAYPAL_CLIENT_ID", "PAYPAL_CLIENT_SECRET"];
  }
}

/** How one container stops; `signal` undefined keeps the image's STOPSIGNAL. */
export interface StopPlan {
  signal?: string;
  graceSeconds: number;
}

export function stopPlan(role: Role, services: Readonly<Record<GameService, ServiceStop>>): StopPlan {
  if (isGameService(role)) {
    const { stopSignal, stopGraceSeconds } = services[role];
    return { signal: stopSignal, graceSeconds: stopGraceSeconds };
  }
  // The platform's own keep their image's stop signal (see roles.ts).
  return { graceSeconds: ROLES[role].stopGraceSeconds };
}

/** The path a game service answers its health on (the monitoring probes ask it too). */
export const healthPathOf = (service: GameService, settings: ServiceOverrides): string =>
  settings.healthcheck?.path ?? DEFAULT_HEALTH_PATHS[service];

/**
 * A game service's health check: its own command (a string runs in a shell, a list without one),
 * else the default HTTP check on its path.
 */
export function serviceHealthcheck(service: GameService, settings: ServiceOverrides, port: number): HealthcheckPlan {
  const http = httpHealthcheck(port, healthPathOf(service, settings));
  const command = settings.healthcheck?.command;
  if (command === undefined) return http;
  return { ...http, tests: typeof command === "string" ? ["CMD-SHELL", command] : ["CMD", ...command] };
}

/** Capability names as Docker stores them (CAP_ prefixed), whichever way the config spelled them. */
export const dockerCapability = (name: string): string => (name.startsWith("CAP_") ? name : `CAP_${name}`);

/** The defaults of hardening.ts with a service's overrides applied. */
export function withOverrides(base: HardeningPlan, overrides: ServiceOverrides): HardeningPlan {
  const readOnlyRootfs = overrides.readOnlyRootfs ?? base.readOnlyRootfs;
  const adds = (overrides.capabilities ?? []).map(dockerCapability);
  const writable = Object.fromEntries(
    Object.entries(overrides.writablePaths ?? {}).map(([dir, size]) => [dir, `rw,noexec,nosuid,size=${size}`]),
  );
  return {
    ...base,
    capabilityAdds: [...new Set([...base.capabilityAdds, ...adds])],
    readOnlyRootfs,
    tmpfs: { ...(readOnlyRootfs ? base.tmpfs : {}), ...writable },
  };
}

// ---------------------------------------------------------------------------------------------
// The `sectorwars:services` schema: one entry per game service, every field but the stop
// settings optional (unset: the defaults above, so existing stacks declare exactly what they did).

const refused = (message: string) =>
  z
    .unknown()
    .optional()
    .superRefine((value, ctx) => {
      if (value !== undefined) ctx.addIssue({ code: "custom", message });
    })
    .describe(`Not a setting: ${message.replace(/^refused: /, "")}.`);

const size = z.string().regex(/^[1-9][0-9]{0,5}[kmg]$/, 'must be a size such as "64m" or "1g"');
const absolutePath = z
  .string()
  .regex(/^(?:\/[A-Za-z0-9._-]+)+$/, "must be an absolute path of letters, digits and . _ - (no trailing /)")
  .refine((p) => !p.split("/").some((part) => part === "." || part === ".."), "must not contain . or ..");

const serviceSchema = (service: GameService) =>
  z
    .strictObject({
      stopSignal: z
        .enum(STOP_SIGNALS)
        .default(DEFAULT_STOP[service].stopSignal)
        .describe("Signal that asks the service to stop; the image's own STOPSIGNAL is not used."),
      stopGraceSeconds: z
        .number()
        .int()
        .min(1)
        .max(MAX_STOP_GRACE_SECONDS)
        .default(DEFAULT_STOP[service].stopGraceSeconds)
        .describe(
          "Seconds between the stop signal and SIGKILL, when a deploy replaces the container or it is removed. " +
            "A game server hands its players over in this time.",
        ),
      port: z
        .number()
        .int()
        .min(1024)
        .max(65535)
        .optional()
        .describe(`Port it listens on in its container (default ${DEFAULT_PORTS[service]}); PORT is set to it.`),
      healthcheck: z
        .strictObject({
          path: z
            .string()
            .regex(/^\/[A-Za-z0-9._~/-]*$/, "must be a URL path such as /healthz")
            .optional()
            .describe(`HTTP path the default check (curl) asks (default ${DEFAULT_HEALTH_PATHS[service]}).`),
          command: z
            .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
            .optional()
            .describe(
              "A check of its own, for an image without curl: a shell command, or an argument list run without a shell.",
            ),
        })
        .refine((h) => !(h.path !== undefined && h.command !== undefined), "give path or command, not both")
        .optional()
        .describe("Another health check."),
      env: z
        .record(
          z.string().regex(ENV_NAME_PATTERN, "must be an environment variable name such as LOG_LEVEL"),
          z.string(),
        )
        .optional()
        .describe(
          "Extra environment. Set a secret value with `pulumi config set --secret --path`: then every service's " +
            "extra environment is kept secret in state.",
        ),
      writablePaths: z
        .record(absolutePath, size)
        .optional()
        .describe('Writable directories on the read-only root filesystem, with their size: { "/app/cache": "128m" }.'),
      readOnlyRootfs: z.boolean().optional().describe("false: a writable root filesystem (default true)."),
      capabilities: z
        .array(z.string().regex(/^(?:CAP_)?[A-Z_]+$/, "must be a capability name such as NET_BIND_SERVICE"))
        .optional()
        .describe(`Capabilities to add, from: ${ALLOWED_CAPABILITIES.join(", ")}.`),
      ...Object.fromEntries(Object.entries(REFUSED_SETTINGS).map(([key, message]) => [key, refused(message)])),
    })
    // Unset: every field's default (the stop settings of DEFAULT_STOP).
    .prefault({})
    .describe(`The ${service} container.`);

export const servicesSchema = z
  .strictObject(
    Object.fromEntries(GAME_SERVICES.map((service) => [service, serviceSchema(service)])) as {
      [S in GameService]: ReturnType<typeof serviceSchema>;
    },
  )
  .prefault({})
  .describe(
    "Per game service (nexus-api, region-api, admin-ui, player-ui, paypal): how it stops (a deploy starts the new " +
      "container, waits until it is healthy, then sends the old one stopSignal and waits stopGraceSeconds), and what " +
      "a real image needs beyond the secure defaults.",
  );

/** Problems of one service's settings the schema alone cannot see, each on its config path. */
export function serviceProblems(service: GameService, settings: ServiceSettings): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const at =
    (...path: PropertyKey[]) =>
    (message: string) =>
      problems.push(problemAt(["services", service, ...path], message));
  for (const key of Object.keys(settings.env ?? {})) {
    if (platformEnvKeys(service).includes(key)) at("env", key)("is set by the platform");
  }
  for (const dir of Object.keys(settings.writablePaths ?? {})) {
    const forbidden = FORBIDDEN_WRITABLE.find((f) => dir === f || dir.startsWith(`${f}/`));
    if (forbidden !== undefined) at("writablePaths", dir)(`refused: ${forbidden} belongs to the kernel or the engine`);
  }
  (settings.capabilities ?? []).forEach((cap, i) => {
    const name = cap.replace(/^CAP_/, "");
    if (!(ALLOWED_CAPABILITIES as readonly string[]).includes(name)) {
      at("capabilities", i)(`refused: ${name} is not one of ${ALLOWED_CAPABILITIES.join(", ")}`);
    }
  });
  return problems;
}
