/**
 * `npm run capacity` for a swarm stack: one table per node, as for a single host, with the
 * floating tasks in the example packing, and every node's problems; scripts/capacity.ts prints it.
 */
import type { PlatformConfig } from "../planning/config";
import { renderSwarmCapacity, swarmCapacity, swarmCapacityProblems } from "../planning/swarm/capacity";
import { placeUnits } from "../planning/swarm/placement";
import { planStack } from "../planning/topology";
import type { CapacityView } from "./capacity";

/** The report, its text and its problems, or why there is none (a usage error, exit 2). */
export function swarmCapacityView(config: PlatformConfig, stack: string): CapacityView | { error: string } {
  const swarm = config.swarm;
  // parseConfig has refused a swarm stack without a cluster or with units it cannot place.
  if (swarm === null) return { error: "sectorwars:swarm is missing" };
  const placed = placeUnits(config, swarm);
  if ("problem" in placed) return { error: placed.problem.message };
  const report = swarmCapacity(planStack(config, stack), config, swarm, placed.placement);
  return {
    report,
    table: renderSwarmCapacity(report, swarm),
    problems: swarmCapacityProblems(report, swarm),
    budget: "its nodes",
  };
}
