/**
 * The role catalog: one record per kind of container, with what the program knows about it
 * wherever the fact does not depend on the stack config. The planners read their facts from
 * here (replacement.ts, hardening.ts, swarm/hardening.ts, services.ts), so adding a role, or
 * changing how one stops or what it may write, is an edit of one record.
 *
 * This module imports nothing of the project: every planner may import it.
 */

/** Labels every container and service carries; tools find them by these, never by name. */
export const LABEL_STACK = "com.sectorwars.stack";
export const LABEL_ROLE = "com.sectorwars.role";
export const LABEL_REGION = "com.sectorwars.region";

export type Role =
  | "nexus-api"
  | "nexus-db"
  | "region-api"
  | "region-db"
  | "redis"
  | "nginx"
  | "admin-ui"
  | "player-ui"
  | "paypal"
  | "acme"
  | MonitoringRole;

/** The stack's watchers (sectorwars:monitoring): they exist only in a stack that enables them. */
export type MonitoringRole =
  | "prometheus"
  | "alertmanager"
  | "blackbox"
  | "postgres-exporter"
  | "redis-exporter"
  | "node-exporter"
  | "edge-log-exporter"
  | "container-exporter";
export const MONITORING_ROLES: readonly MonitoringRole[] = [
  "prometheus",
  "alertmanager",
  "blackbox",
  "postgres-exporter",
  "redis-exporter",
  "node-exporter",
  "edge-log-exporter",
  "container-exporter",
];

/** How a deploy replaces a container of the role; planning/stack/replacement.ts says why each is what it is. */
export type Replacement = "create-before-delete" | "delete-before-replace";

/** What the stack config may tune of a game service; these are the values when it does not. */
export interface GameDefaults {
  /** Port inside the container, as in the seed. */
  port: number;
  /** What the default health check asks: the seed's /health for the APIs and PayPal, the page for the UIs. */
  healthPath: string;
  stopGraceSeconds: number;
}

export interface RoleFacts {
  replacement: Replacement;
  /** Linux capabilities added back after dropping all of them: what the image's entrypoint needs. */
  capabilityAdds: readonly string[];
  /**
   * The program uploads files into the container (configs, password files), so in container mode
   * its root filesystem stays writable: Docker refuses to copy into a read-only one.
   */
  receivesUploads: boolean;
  /**
   * Where the image writes outside its data volume; in swarm mode, where the files arrive as
   * secrets and configs and every root is read-only, each gets a tmpfs.
   */
  writes: readonly string[];
  /**
   * A platform container's grace period: it keeps its image's stop signal (PostgreSQL's SIGINT,
   * nginx's SIGQUIT, each its graceful one), and a database checkpoint or Redis' final save must
   * not be cut short. A game service's comes from the stack config (`game`).
   */
  stopGraceSeconds: number;
  /** A game service (the stack config may tune it, within limits); null for the platform's own. */
  game: GameDefaults | null;
  /**
   * Its volume holds the game's data (backed up, restarted only after a backup). In swarm mode its
   * services keep the health check's own interval (planning/swarm/services.ts): a new spec would
   * restart them, and a faster first probe is not worth that.
   */
  holdsData: boolean;
}

/** The official entrypoints chown the data directory, then switch to the service user. */
const DROP_TO_SERVICE_USER = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_SETGID", "CAP_SETUID"];

/** PostgreSQL 15 (nexus and every region): it writes its socket, postmaster pid and the entrypoint's temporary files. */
const POSTGRES: RoleFacts = {
  replacement: "delete-before-replace",
  capabilityAdds: DROP_TO_SERVICE_USER,
  receivesUploads: true,
  writes: ["/var/run/postgresql", "/tmp"],
  stopGraceSeconds: 60,
  game: null,
  holdsData: true,
};

/**
 * The game's services listen on unprivileged ports and need no capability. The APIs hold
 * WebSocket players and the PayPal service calls PayPal mid-request, so they get half a minute to
 * stop; the UIs serve static bundles and finish in moments.
 */
const gameService = (game: GameDefaults): RoleFacts => ({
  replacement: "create-before-delete",
  capabilityAdds: [],
  receivesUploads: false,
  writes: [],
  stopGraceSeconds: game.stopGraceSeconds,
  game,
  holdsData: false,
});

function monitoringFacts(writes: readonly string[], receivesUploads = true): RoleFacts {
  return {
    replacement: "delete-before-replace",
    capabilityAdds: [],
    receivesUploads,
    writes,
    stopGraceSeconds: 30,
    game: null,
    holdsData: false,
  };
}

export const ROLES: Readonly<Record<Role, RoleFacts>> = {
  "nexus-api": gameService({ port: 8000, healthPath: "/health", stopGraceSeconds: 30 }),
  "region-api": gameService({ port: 8000, healthPath: "/health", stopGraceSeconds: 30 }),
  "admin-ui": gameService({ port: 3000, healthPath: "/", stopGraceSeconds: 10 }),
  "player-ui": gameService({ port: 3000, healthPath: "/", stopGraceSeconds: 10 }),
  paypal: gameService({ port: 8080, healthPath: "/health", stopGraceSeconds: 30 }),
  "nexus-db": POSTGRES,
  "region-db": POSTGRES,
  redis: {
    replacement: "delete-before-replace",
    capabilityAdds: DROP_TO_SERVICE_USER,
    receivesUploads: true,
    writes: ["/tmp"],
    stopGraceSeconds: 60,
    game: null,
    holdsData: true,
  },
  /**
   * The official Prometheus images run as nobody and need no capability. Each reads the files the
   * program uploads; Prometheus keeps its time series in a volume (one writer: a TSDB lock, so
   * delete-before-replace), Alertmanager its silences and notification log in another. They write
   * nowhere else: their data directories are those volumes (a tmpfs there would clash with the
   * volume in swarm mode). Neither holds the game's data: no backup waits on them.
   */
  prometheus: monitoringFacts([]),
  alertmanager: monitoringFacts([]),
  blackbox: monitoringFacts(["/tmp"]),
  /**
   * The exporters hold nothing: a few seconds without scrapes while one is replaced is all a
   * deploy costs. The database's and Redis' read a password file the program uploads; the host's
   * reads only /proc and its own root's file system (planning/monitoring/exporters.ts), so its
   * root stays read-only. None writes a file; /tmp is there for the Go runtime all the same.
   */
  "postgres-exporter": monitoringFacts(["/tmp"]),
  "redis-exporter": monitoringFacts(["/tmp"]),
  "node-exporter": monitoringFacts([], false),
  /**
   * mtail reads the edge's log directory (mounted read-only) and the program the program uploads;
   * it runs as the image's root, which owns Docker's log files (0640), with no capability added.
   */
  "edge-log-exporter": monitoringFacts(["/tmp"]),
  /**
   * cAdvisor reads the cgroups (/sys), the engine's data root and socket, all mounted read-only
   * (planning/monitoring/containers.ts); root in its image, for the socket, with no capability added.
   */
  "container-exporter": monitoringFacts(["/tmp"], false),
  // The edge's ACME client (edge.acme): lego in a renewal loop, as root in its own image.
  acme: {
    // Two would race for the same account and certificate files.
    replacement: "delete-before-replace",
    capabilityAdds: [],
    receivesUploads: true,
    writes: ["/tmp"],
    stopGraceSeconds: 10,
    game: null,
    holdsData: false,
  },
  nginx: {
    replacement: "delete-before-replace",
    // The master binds 80/443 as root and starts workers as the nginx user.
    capabilityAdds: ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_SETGID", "CAP_SETUID", "CAP_NET_BIND_SERVICE"],
    receivesUploads: true,
    // Proxy buffers and temp files, the master's pid file.
    writes: ["/var/cache/nginx", "/var/run", "/tmp"],
    stopGraceSeconds: 15,
    game: null,
    holdsData: false,
  },
};

export const ALL_ROLES = Object.keys(ROLES) as Role[];

export function containerLabels(stack: string, role: Role, regionId?: string): Record<string, string> {
  return {
    [LABEL_STACK]: stack,
    [LABEL_ROLE]: role,
    ...(regionId === undefined ? {} : { [LABEL_REGION]: regionId }),
  };
}

/** `docker ps` / `docker service ls` filters that match the containers or services of `containerLabels`. */
export function labelFilters(stack: string, role: Role, regionId?: string): string[] {
  return Object.entries(containerLabels(stack, role, regionId)).flatMap(([key, value]) => [
    "--filter",
    `label=${key}=${value}`,
  ]);
}
