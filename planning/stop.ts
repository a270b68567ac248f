/**
 * How the game's own services stop. A deploy replaces them create-before-delete (see
 * replacement.ts): once the new container is healthy, the old one gets its stop signal and this
 * long to finish what it is doing (requests in flight, a game server handing its players over)
 * before Docker kills it. The same applies when a container is removed.
 */
import type { Role } from "./topology";

/** The game's services: the only containers whose stop the stack config may tune. */
export const GAME_SERVICES = ["nexus-api", "region-api", "admin-ui", "player-ui", "paypal"] as const;
export type GameService = (typeof GAME_SERVICES)[number];

/** Signals a service may ask to be stopped with; SIGKILL is not one (nothing could finish). */
export const STOP_SIGNALS = ["SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGWINCH"] as const;

/** Docker waits at most this long; a deploy waits for every replaced container in turn. */
export const MAX_STOP_GRACE_SECONDS = 3600;

export interface ServiceStop {
  stopSignal: (typeof STOP_SIGNALS)[number];
  stopGraceSeconds: number;
}

/**
 * The APIs hold WebSocket players and the PayPal service calls PayPal mid-request, so they get
 * half a minute; the UIs serve static bundles and finish in moments.
 */
export const DEFAULT_STOP: Readonly<Record<GameService, ServiceStop>> = {
  "nexus-api": { stopSignal: "SIGTERM", stopGraceSeconds: 30 },
  "region-api": { stopSignal: "SIGTERM", stopGraceSeconds: 30 },
  "admin-ui": { stopSignal: "SIGTERM", stopGraceSeconds: 10 },
  "player-ui": { stopSignal: "SIGTERM", stopGraceSeconds: 10 },
  paypal: { stopSignal: "SIGTERM", stopGraceSeconds: 30 },
};

/**
 * The platform's own services keep their image's stop signal (PostgreSQL's SIGINT, nginx's
 * SIGQUIT: each its graceful one) and a fixed grace: a database checkpoint or Redis' final save
 * must not be cut short.
 */
const PLATFORM_GRACE_SECONDS: Readonly<Record<Exclude<Role, GameService>, number>> = {
  "nexus-db": 60,
  "region-db": 60,
  redis: 60,
  nginx: 15,
};

/** How one container stops; `signal` undefined keeps the image's STOPSIGNAL. */
export interface StopPlan {
  signal?: string;
  graceSeconds: number;
}

const isGameService = (role: Role): role is GameService => (GAME_SERVICES as readonly string[]).includes(role);

export function stopPlan(role: Role, services: Readonly<Record<GameService, ServiceStop>>): StopPlan {
  if (isGameService(role)) {
    const { stopSignal, stopGraceSeconds } = services[role];
    return { signal: stopSignal, graceSeconds: stopGraceSeconds };
  }
  return { graceSeconds: PLATFORM_GRACE_SECONDS[role] };
}
