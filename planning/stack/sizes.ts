/**
 * Size profiles: the only place where the platform's default CPU and memory numbers live.
 * The built-in numbers are the seed's "Resource Allocation Strategy" (sized for the 64 vCPU /
 * 64 GB production host); smaller stacks override them in their stack file.
 */

/** Limits and reservations of one container, normalised to CPUs and whole megabytes. */
export interface ResourceSpec {
  limits: { cpus: number; memoryMb: number };
  reservations: { cpus: number; memoryMb: number };
}

/** The containers that exist once per stack, each sized by the profile of the same name. */
export const CORE_SERVICES = ["nexus-api", "nexus-db", "redis", "nginx", "admin-ui", "player-ui", "paypal"] as const;
export type CoreService = (typeof CORE_SERVICES)[number];

/** A region size names one profile for the region's API and one for its database. */
export interface RegionSize {
  api: string;
  db: string;
}

const spec = (cpus: number, memoryMb: number, reservedCpus: number, reservedMemoryMb: number): ResourceSpec => ({
  limits: { cpus, memoryMb },
  reservations: { cpus: reservedCpus, memoryMb: reservedMemoryMb },
});

const GB = 1024;

export const BUILT_IN_PROFILES: Readonly<Record<string, ResourceSpec>> = {
  "nexus-api": spec(8, 8 * GB, 4, 4 * GB),
  "nexus-db": spec(4, 16 * GB, 2, 8 * GB),
  redis: spec(4, 8 * GB, 2, 4 * GB),
  nginx: spec(2, 1 * GB, 1, 512),
  // The seed gives no numbers for the UIs and PayPal. They serve static bundles and a thin
  // payment proxy, so a small share of the host is plenty; the player UI takes public traffic.
  "admin-ui": spec(1, 1 * GB, 0.5, 512),
  "player-ui": spec(2, 2 * GB, 1, 1 * GB),
  paypal: spec(1, 1 * GB, 0.5, 512),
  "region-api": spec(2, 2 * GB, 1, 1 * GB),
  "region-db": spec(2, 4 * GB, 1, 2 * GB),
  // The seed's "optimised" region: 2 vCPU and 3 GB per region instead of 4 and 6.
  "region-api-compact": spec(1, 1 * GB, 0.5, 512),
  "region-db-compact": spec(1, 2 * GB, 0.5, 1 * GB),
  // sectorwars:monitoring: Prometheus holds the recent series of a few hundred targets in memory.
  prometheus: spec(1, 2 * GB, 0.5, 1 * GB),
  alertmanager: spec(0.5, 256, 0.1, 128),
  blackbox: spec(0.5, 128, 0.1, 64),
  // One exporter per database, one for Redis, one for the host: each answers a scrape every few seconds.
  "postgres-exporter": spec(0.25, 64, 0.05, 32),
  "redis-exporter": spec(0.25, 64, 0.05, 32),
  "node-exporter": spec(0.25, 64, 0.05, 32),
  // mtail runs a few regular expressions per request the edge logs: a core covers thousands a second.
  "edge-log-exporter": spec(0.5, 128, 0.1, 64),
  // cAdvisor reads a few cgroup files per container every 10 s: 25 MB here with a stack's containers.
  "container-exporter": spec(0.5, 256, 0.1, 64),
  // edge.acme: lego sleeps between checks; a renewal is a few requests and a key.
  acme: spec(0.5, 128, 0.1, 32),
};

export const DEFAULT_REGION_SIZE = "standard";

/** Region sizes: "standard" is the seed's conservative 4 vCPU / 6 GB, "compact" its optimised 2 / 3. */
export const BUILT_IN_REGION_SIZES: Readonly<Record<string, RegionSize>> = {
  [DEFAULT_REGION_SIZE]: { api: "region-api", db: "region-db" },
  compact: { api: "region-api-compact", db: "region-db-compact" },
};

/**
 * A CPU limit as the docker provider reads it back from the engine's NanoCpus (its Terraform
 * source's nanoInt64ToDecimalString): nine decimals, then "1.0" for a value whose nine-decimal text
 * has exactly nine zeros, else with the trailing zeros cut ("1.5", "10."). Declared any other way
 * ("1" for one CPU), every preview shows `cpus` changed, and `cpus` replaces the container.
 */
export function dockerCpus(cpus: number): string {
  const nano = Math.round(cpus * 1e9);
  if (nano === 0) return "0";
  const whole = Math.trunc(nano / 1e9);
  const text = `${whole}.${String(nano % 1e9).padStart(9, "0")}`;
  if ([...text].filter((c) => c === "0").length === 9) return (nano / 1e9).toFixed(1);
  return text.replace(/0+$/, "");
}

/**
 * Docker has no hard CPU reservation. A container's reservation becomes its relative CPU
 * weight (cpuShares, 1024 per CPU), which is what it gets when the host is contended.
 */
export function cpuSharesFor(spec: ResourceSpec): number {
  return Math.max(2, Math.round(spec.reservations.cpus * 1024));
}
