/**
 * What must trigger a backup during `pulumi up`: anything that would replace a database or the
 * Redis container. The database containers depend on the backup command, so it runs first.
 */
import { hardeningFor } from "./hardening";
import type { ContainerPlan, StackPlan } from "./topology";
import { activeRegions } from "./topology";

/**
 * The replacement-relevant shape of a stateful container. Memory limits and reservations update
 * in place, so they are left out; CPU limits replace the container, so they stay in.
 */
function shape(container: ContainerPlan): unknown {
  return {
    name: container.containerName,
    hostname: container.hostname,
    labels: container.labels,
    cpus: container.size.limits.cpus,
    hardening: hardeningFor(container.role),
    healthcheck: container.healthcheck,
    stop: container.stop,
  };
}

/**
 * One string that changes exactly when a stateful container would be replaced, removed or added
 * (a retired region's database leaves it, so its final backup runs before the container goes).
 * Regions are sorted by id: reordering the config takes no backup.
 */
export function statefulContainersFingerprint(plan: StackPlan): string {
  const db = (d: StackPlan["nexus"]["db"]) => ({
    ...(shape(d) as object),
    database: d.database,
    user: d.user,
    volume: d.volumeName,
    network: d.networkName,
    debugPort: d.debugPort,
  });
  return JSON.stringify({
    nexus: db(plan.nexus.db),
    regions: activeRegions(plan)
      .slice()
      .sort((a, b) => a.id.localeCompare(b.id))
      .map((r) => ({ id: r.id, db: db(r.db) })),
    redis: {
      ...(shape(plan.redis) as object),
      volume: plan.redis.volumeName,
      databases: plan.redis.databases,
      debugPort: plan.redis.debugPort,
    },
  });
}
