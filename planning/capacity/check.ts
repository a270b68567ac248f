/**
 * The capacity check: do the stack's containers fit on `sectorwars:host`?
 *
 * Pure data in, plain JSON-serialisable data out (no I/O, no Pulumi), so the program, the
 * `capacity` CLI and the tests all compute the very same report.
 *
 * - The budget is the host minus `sectorwars:capacity.reserve` (kept for the OS and the Docker
 *   daemon). Reservations must fit in it, always.
 * - Limits may exceed the budget by `sectorwars:capacity.overcommit` (a CPU limit only throttles;
 *   a memory limit beyond the host invites the OOM killer, hence the default ratio of 1).
 *
 * CPUs are summed as integer nano-CPUs (what Docker stores for `--cpus`), memory as whole MB,
 * so totals are exact and 0.1 + 0.2 never misses a budget of 0.3. capacity/text.ts says the
 * result in words: the problems that fail a preview, and the `capacity` CLI's table.
 */
import type { PlatformConfig } from "../config";
import { type ResourceSpec, cpuSharesFor } from "../stack/sizes";
import { type StackPlan, allContainers } from "../stack/topology";
import { LABEL_REGION } from "../roles";
import { DATABASE_EXPORTER_ROLE } from "../monitoring/exporters";

/** A quantity of both resources: CPUs (fractions allowed) and whole megabytes. */
export interface Amount {
  cpus: number;
  memoryMb: number;
}

export type CapacityKind = "reservations" | "limits";
export type CapacityResource = "cpus" | "memory";
/** One of the four checked sums, e.g. "limits.memory". */
export type CapacityDimension = `${CapacityKind}.${CapacityResource}`;

export const CAPACITY_DIMENSIONS: readonly CapacityDimension[] = [
  "reservations.cpus",
  "reservations.memory",
  "limits.cpus",
  "limits.memory",
];

/** One container as the capacity check sees it. */
export interface CapacityContainerInput {
  name: string;
  role: string;
  /** Region id for region containers, null for the core services. */
  region: string | null;
  sizeProfile: string;
  size: ResourceSpec;
}

/** Everything the check needs, without a StackPlan: lets tests model any scenario (the seed's). */
export interface CapacityInput {
  stack: string;
  host: Amount;
  reserve: Amount;
  overcommit: { cpus: number; memory: number };
  containers: readonly CapacityContainerInput[];
  /** What one more region of each size would add (api and db together). */
  regionSizes: Readonly<Record<string, ResourceSpec>>;
}

export interface ContainerCapacity {
  name: string;
  role: string;
  region: string | null;
  sizeProfile: string;
  limits: Amount;
  reservations: Amount;
  /** The CPU weight Docker gets for the reservation (see cpuSharesFor). */
  cpuShares: number;
}

export interface Subtotal {
  containers: number;
  limits: Amount;
  reservations: Amount;
}

/** Sum, allowance and headroom of one checked sum. headroom < 0 means over budget. */
export interface DimensionCheck {
  dimension: CapacityDimension;
  kind: CapacityKind;
  resource: CapacityResource;
  /** CPUs, or MB for memory. */
  used: number;
  allowed: number;
  headroom: number;
  ok: boolean;
}

export interface FitCount {
  /** Regions that fit by CPU, and by memory. */
  cpus: number;
  memory: number;
  /** The smaller of the two. */
  fit: number;
}

export interface RegionFit {
  size: string;
  perRegion: { limits: Amount; reservations: Amount };
  /** How many more fit in what is left of the budget. */
  byReservations: FitCount;
  /** How many more fit in what is left under budget × overcommit. */
  byLimits: FitCount;
  /** How many more regions of this size the stack can take: the smaller of the two. */
  more: number;
  /** The dimension(s) that give `more`: what runs out first. */
  bindsOn: CapacityDimension[];
}

export interface CapacityReport {
  stack: string;
  host: Amount;
  reserve: Amount;
  overcommit: { cpus: number; memory: number };
  /** host − reserve: what reservations may add up to. */
  budget: Amount;
  /** budget × overcommit: what limits may add up to. */
  limitCeiling: Amount;
  /** Per service: one entry per container of the stack. */
  containers: ContainerCapacity[];
  subtotals: { core: Subtotal; regions: Subtotal & { regions: number } };
  totals: { containers: number; limits: Amount; reservations: Amount; cpuShares: number };
  /** What is left: budget − reservations, and limitCeiling − limits. Negative when over. */
  headroom: { reservations: Amount; limits: Amount };
  /** The four checks, in CAPACITY_DIMENSIONS order. */
  checks: DimensionCheck[];
  withinBudget: boolean;
  regionSizes: RegionFit[];
}

// ---------------------------------------------------------------------------------------------
// Exact arithmetic: CPUs as integer nano-CPUs, memory as integer MB.

const NANO = 1e9;
const toNano = (cpus: number): number => Math.round(cpus * NANO);
const fromNano = (nano: number): number => nano / NANO;

interface Exact {
  cpu: number; // nano-CPUs
  mem: number; // MB
}

const exact = (a: Amount): Exact => ({ cpu: toNano(a.cpus), mem: Math.round(a.memoryMb) });
const amount = (e: Exact): Amount => ({ cpus: fromNano(e.cpu), memoryMb: e.mem });
const add = (a: Exact, b: Exact): Exact => ({ cpu: a.cpu + b.cpu, mem: a.mem + b.mem });
const sub = (a: Exact, b: Exact): Exact => ({ cpu: a.cpu - b.cpu, mem: a.mem - b.mem });
const ZERO: Exact = { cpu: 0, mem: 0 };

/** floor(a / b) for non-negative integers, immune to floating-point rounding near integers. */
function floorDiv(a: number, b: number): number {
  if (a <= 0) return 0;
  let q = Math.floor(a / b);
  while (q > 0 && q * b > a) q--;
  while ((q + 1) * b <= a) q++;
  return q;
}

/** budget × ratio, rounded down; a budget that is already ≤ 0 stays as it is. */
const scaled = (budget: number, ratio: number): number => (budget > 0 ? Math.floor(budget * ratio) : budget);

function sumOf(items: readonly ContainerCapacity[]): Subtotal {
  let limits = ZERO;
  let reservations = ZERO;
  for (const c of items) {
    limits = add(limits, exact(c.limits));
    reservations = add(reservations, exact(c.reservations));
  }
  return { containers: items.length, limits: amount(limits), reservations: amount(reservations) };
}

/** parseConfig guarantees this for configs; capacityOf's other callers (tests) get a clear error. */
function checkSpec(what: string, spec: ResourceSpec, { positive = false } = {}): void {
  for (const part of [spec.limits, spec.reservations]) {
    const e = exact(part);
    const bad = [part.cpus, part.memoryMb].some((v) => !Number.isFinite(v)) || e.cpu < 0 || e.mem < 0;
    if (bad || (positive && (e.cpu === 0 || e.mem === 0))) {
      throw new Error(
        `${what}: CPUs and MB must be finite and ${positive ? "positive" : "non-negative"}, got ${JSON.stringify(spec)}`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------

/** The report for any list of containers on any host. */
export function capacityOf(input: CapacityInput): CapacityReport {
  const containers: ContainerCapacity[] = input.containers.map((c) => {
    checkSpec(c.name, c.size);
    return {
      name: c.name,
      role: c.role,
      region: c.region,
      sizeProfile: c.sizeProfile,
      limits: { ...c.size.limits },
      reservations: { ...c.size.reservations },
      cpuShares: cpuSharesFor(c.size),
    };
  });

  const total = sumOf(containers);
  const regionContainers = containers.filter((c) => c.region !== null);
  const core = sumOf(containers.filter((c) => c.region === null));
  const regions = { ...sumOf(regionContainers), regions: new Set(regionContainers.map((c) => c.region)).size };

  const host = exact(input.host);
  const reserve = exact(input.reserve);
  const budget = sub(host, reserve);
  const ceiling: Exact = {
    cpu: scaled(budget.cpu, input.overcommit.cpus),
    mem: scaled(budget.mem, input.overcommit.memory),
  };
  const used = { reservations: exact(total.reservations), limits: exact(total.limits) };
  const allowed = { reservations: budget, limits: ceiling };
  const headroom = { reservations: sub(budget, used.reservations), limits: sub(ceiling, used.limits) };

  const pick = (e: Exact, resource: CapacityResource): number => (resource === "cpus" ? e.cpu : e.mem);
  const show = (v: number, resource: CapacityResource): number => (resource === "cpus" ? fromNano(v) : v);

  const checks: DimensionCheck[] = CAPACITY_DIMENSIONS.map((dimension) => {
    const [kind, resource] = dimension.split(".") as [CapacityKind, CapacityResource];
    const u = pick(used[kind], resource);
    const a = pick(allowed[kind], resource);
    return {
      dimension,
      kind,
      resource,
      used: show(u, resource),
      allowed: show(a, resource),
      headroom: show(a - u, resource),
      ok: u <= a,
    };
  });

  const regionSizes: RegionFit[] = Object.entries(input.regionSizes).map(([size, spec]) => {
    checkSpec(`region size ${size}`, spec, { positive: true });
    const per = { reservations: exact(spec.reservations), limits: exact(spec.limits) };
    const fits = (kind: CapacityKind, resource: CapacityResource): number =>
      floorDiv(pick(headroom[kind], resource), pick(per[kind], resource));
    const count = (kind: CapacityKind): FitCount => {
      const cpus = fits(kind, "cpus");
      const memory = fits(kind, "memory");
      return { cpus, memory, fit: Math.min(cpus, memory) };
    };
    const byReservations = count("reservations");
    const byLimits = count("limits");
    const more = Math.min(byReservations.fit, byLimits.fit);
    const counts: Record<CapacityDimension, number> = {
      "reservations.cpus": byReservations.cpus,
      "reservations.memory": byReservations.memory,
      "limits.cpus": byLimits.cpus,
      "limits.memory": byLimits.memory,
    };
    return {
      size,
      perRegion: { limits: amount(per.limits), reservations: amount(per.reservations) },
      byReservations,
      byLimits,
      more,
      bindsOn: CAPACITY_DIMENSIONS.filter((d) => counts[d] === more),
    };
  });

  return {
    stack: input.stack,
    host: amount(host),
    reserve: amount(reserve),
    overcommit: { ...input.overcommit },
    budget: amount(budget),
    limitCeiling: amount(ceiling),
    containers,
    subtotals: { core, regions },
    totals: {
      containers: containers.length,
      limits: total.limits,
      reservations: total.reservations,
      cpuShares: containers.reduce((s, c) => s + c.cpuShares, 0),
    },
    headroom: { reservations: amount(headroom.reservations), limits: amount(headroom.limits) },
    checks,
    withinBudget: checks.every((c) => c.ok),
    regionSizes,
  };
}

/**
 * Each region size of the config as what one region adds: its api and db profiles together, and
 * with monitoring its database's exporter (planning/monitoring/exporters.ts).
 */
export function regionSizeSpecs(config: PlatformConfig): Record<string, ResourceSpec> {
  const specs: Record<string, ResourceSpec> = {};
  for (const [name, size] of Object.entries(config.regionSizes)) {
    const profiles = [size.api, size.db, ...(config.monitoring.enabled ? [DATABASE_EXPORTER_ROLE] : [])];
    const parts = profiles.map((profile) => {
      const spec = config.sizeProfiles[profile];
      // parseConfig has already rejected unknown profiles; reaching this is a programming error.
      if (!spec) throw new Error(`region size "${name}" names an undefined size profile`);
      return spec;
    });
    const sum = (part: "limits" | "reservations"): Amount =>
      amount(parts.reduce((total, p) => add(total, exact(p[part])), ZERO));
    specs[name] = { limits: sum("limits"), reservations: sum("reservations") };
  }
  return specs;
}

/** The report for a planned stack: exactly the containers the program declares. */
export function capacityReport(plan: StackPlan, config: PlatformConfig): CapacityReport {
  return capacityOf({
    stack: plan.stack,
    host: { cpus: config.host.cpus, memoryMb: Math.round(config.host.memoryGb * 1024) },
    reserve: config.capacity.reserve,
    overcommit: config.capacity.overcommit,
    containers: allContainers(plan).map((c) => ({
      name: c.containerName,
      role: c.role,
      region: c.labels[LABEL_REGION] ?? null,
      sizeProfile: c.sizeProfile,
      size: c.size,
    })),
    regionSizes: regionSizeSpecs(config),
  });
}
