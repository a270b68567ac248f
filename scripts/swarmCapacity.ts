/**
 * `npm run capacity` for a swarm stack: one table per node, as for a single host, with the
 * floating tasks in the example packing, and every node's problems; scripts/capacity.ts prints it.
 */
import type { PlatformConfig } from "../planning/config";
import { renderSwarmCapacity, swarmCapacity, swarmCapacityProblems } from "../planning/swarm/capacity";
import { acceptedPlacement } from "../planning/swarm/placement";
import { planStack } from "../planning/topology";
import type { CapacityView } from "./capacity";

/** The report, its text and its problems. */
export function swarmCapacityView(config: PlatformConfig, stack: string): CapacityView {
  const { swarm, placement } = acceptedPlacement(config);
  const report = swarmCapacity(planStack(config, stack), config, swarm, placement);
  return {
    report,
    table: renderSwarmCapacity(report, swarm),
    problems: swarmCapacityProblems(report, swarm),
    budget: "its nodes",
  };
}
