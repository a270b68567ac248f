/**
 * Every default of the stack config, stated once. The schema's fields take their `.default()`
 * from here and every object of them is defaulted by parsing `{}` (`.prefault({})`), so an
 * object's default is always what its fields' defaults make. planning/config/schema.ts checks that
 * this object fits the schema's input type; the README's config reference shows these values.
 *
 * Where another module owns a value (the backup script's own defaults, the nginx generator's, a
 * service's stop settings), it is taken from there, so the two cannot drift apart.
 */
import { DEFAULT_BACKUP_SETTINGS } from "../backup/run";
import { DEFAULT_BACKUP_SCHEDULE } from "../backup/schedule";
import { DEFAULT_UPSTREAM_KEEPALIVE } from "../edge/capabilities";
import { DEFAULT_STOP } from "../stack/services";
import { DEFAULT_REGION_SIZE } from "../stack/sizes";

export const DEFAULTS = {
  namePrefix: "sectorwars",
  /** Containers on one Docker host; swarm's own defaults (replicas) are in planning/swarm/config.ts. */
  orchestrator: "docker",
  /** Per entry of sectorwars:regions. */
  region: { size: DEFAULT_REGION_SIZE, state: "active" },
  redis: { maxmemory: "6gb", maxmemoryPolicy: "allkeys-lru" },
  paypal: { environment: "sandbox" },
  edge: { hostname: "localhost", httpPort: 80, httpsPort: 443, upstreamKeepalive: DEFAULT_UPSTREAM_KEEPALIVE },
  /** edge.acme's fields, when the stack sets edge.acme (unset, the edge uses no ACME CA). */
  edgeAcme: {
    directory: "https://acme-v02.api.letsencrypt.org/directory",
    renewBeforeDays: 30,
    checkInterval: "12h",
  },
  services: DEFAULT_STOP,
  debugPorts: { publish: false, postgresBase: 15432, redis: 16379 },
  backup: {
    dir: "/var/backups/sectorwars",
    generation: 0,
    parallelism: DEFAULT_BACKUP_SETTINGS.parallelism,
    retentionDays: DEFAULT_BACKUP_SETTINGS.retentionDays,
    schedule: DEFAULT_BACKUP_SCHEDULE.onCalendar,
  },
  monitoring: { scrapeInterval: "15s", retention: "15d" },
  capacity: {
    reserve: { cpus: 2, memory: 4096 },
    overcommit: { cpus: 2, memory: 1 },
  },
} as const;
