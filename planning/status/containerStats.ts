/**
 * CPU and memory use of one container from one Docker stats sample, against its limits: what the
 * status report shows per container (planning/status/evaluation.ts judges it). Pure, like the rest of
 * planning/: the script hands in Docker's JSON as it came.
 */

/** CPU counters of Docker's stats JSON (cpu_stats / precpu_stats), nanoseconds since boot. */
export interface RawCpuStats {
  cpu_usage?: { total_usage?: number; percpu_usage?: number[] | null };
  system_cpu_usage?: number;
  online_cpus?: number;
}

/**
 * The part of `GET /containers/{id}/stats?stream=false` read here. Every key is optional:
 * Docker leaves out what a cgroup version or a stopped container does not have.
 */
export interface RawStats {
  cpu_stats?: RawCpuStats;
  precpu_stats?: RawCpuStats;
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number | undefined> };
}

/** Limits from the container's HostConfig; 0 means unset, as Docker reports it. */
export interface ContainerLimits {
  nanoCpus: number;
  cpuQuota: number;
  cpuPeriod: number;
  memoryBytes: number;
}

/** CPU in use over the interval Docker sampled (about a second), against the container's limit. */
export interface CpuUse {
  /** CPUs busy on average, e.g. 0.25. */
  cpus: number;
  /** The same in percent of one CPU, as `docker stats` shows it (0 to 100 × host CPUs). */
  percent: number;
  limitCpus: number;
  /** nanoCpus (`--cpus`), quota (`--cpu-quota`/`--cpu-period`), or host (no limit: all CPUs). */
  limitSource: "nanoCpus" | "quota" | "host";
  percentOfLimit: number;
}

/** Memory in use (without reclaimable page cache, as `docker stats` counts it) against the limit. */
export interface MemoryUse {
  usageBytes: number;
  limitBytes: number;
  /** container (`--memory`), or host (no limit: the cgroup's limit is the host's memory). */
  limitSource: "container" | "host";
  percentOfLimit: number;
}

const finite = (n: unknown): n is number => typeof n === "number" && Number.isFinite(n);

/**
 * CPU use from one stats sample, computed as the docker CLI does: the container's CPU time
 * over the host's in the same interval, times the host's CPUs. Null when the sample cannot say
 * (no previous reading, a counter that went backwards after a restart, missing fields).
 * Never negative, never more than the host's CPUs, and the limit never more than those either,
 * since a `--cpus` above the host's count cannot be used.
 */
export function cpuUse(stats: RawStats, limits: ContainerLimits): CpuUse | null {
  const now = stats.cpu_stats;
  const before = stats.precpu_stats;
  const total = now?.cpu_usage?.total_usage;
  const totalBefore = before?.cpu_usage?.total_usage;
  const system = now?.system_cpu_usage;
  const systemBefore = before?.system_cpu_usage;
  const online =
    finite(now?.online_cpus) && now.online_cpus > 0 ? now.online_cpus : (now?.cpu_usage?.percpu_usage?.length ?? 0);
  if (!finite(total) || !finite(totalBefore) || !finite(system) || !finite(systemBefore) || online <= 0) return null;
  const cpuDelta = total - totalBefore;
  const systemDelta = system - systemBefore;
  if (systemDelta <= 0 || cpuDelta < 0) return null;
  const cpus = Math.min(online, (cpuDelta / systemDelta) * online);

  let limitCpus = online;
  let limitSource: CpuUse["limitSource"] = "host";
  if (limits.nanoCpus > 0) {
    limitCpus = limits.nanoCpus / 1e9;
    limitSource = "nanoCpus";
  } else if (limits.cpuQuota > 0) {
    // The kernel's default period is 100 ms; Docker reports 0 when it was not set.
    limitCpus = limits.cpuQuota / (limits.cpuPeriod > 0 ? limits.cpuPeriod : 100_000);
    limitSource = "quota";
  }
  limitCpus = Math.min(limitCpus, online);
  return { cpus, percent: cpus * 100, limitCpus, limitSource, percentOfLimit: (cpus / limitCpus) * 100 };
}

/**
 * Memory use from one stats sample, as the docker CLI counts it: usage minus the inactive file
 * cache, which the kernel reclaims before it gets near the limit (total_inactive_file on cgroup
 * v1, inactive_file on v2). Null without a usage figure or any limit.
 */
export function memoryUse(stats: RawStats, limits: ContainerLimits): MemoryUse | null {
  const memory = stats.memory_stats;
  const usage = memory?.usage;
  if (!finite(usage) || usage < 0) return null;
  const v1Cache = memory?.stats?.total_inactive_file;
  const v2Cache = memory?.stats?.inactive_file;
  const cache = finite(v1Cache) && v1Cache < usage ? v1Cache : finite(v2Cache) && v2Cache < usage ? v2Cache : 0;
  const usageBytes = usage - Math.max(0, cache);
  let limitBytes: number;
  let limitSource: MemoryUse["limitSource"];
  if (limits.memoryBytes > 0) {
    limitBytes = limits.memoryBytes;
    limitSource = "container";
  } else if (finite(memory?.limit) && memory.limit > 0) {
    limitBytes = memory.limit;
    limitSource = "host";
  } else return null;
  return { usageBytes, limitBytes, limitSource, percentOfLimit: (usageBytes / limitBytes) * 100 };
}

/** Memory use at or above this share of the limit is a warning: the next spike is an OOM kill. */
export const MEMORY_WARNING_PERCENT = 90;
