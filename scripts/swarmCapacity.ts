/**
 * `npm run capacity` for a swarm stack: one table per node, as for a single host, with the
 * floating tasks in the example packing, and every node's problems. Same exit statuses.
 */
import type { PlatformConfig } from "../planning/config";
import { renderSwarmCapacity, swarmCapacity, swarmCapacityProblems } from "../planning/swarm/capacity";
import { placeUnits } from "../planning/swarm/placement";
import { planStack } from "../planning/topology";
import type { CliResult } from "./cli";

export function runSwarmCapacity(config: PlatformConfig, args: { stack: string; json: boolean }): CliResult {
  const swarm = config.swarm;
  // parseConfig has refused a swarm stack without a cluster or with units it cannot place.
  if (swarm === null) return { status: 2, stdout: "", stderr: "sectorwars:swarm is missing\n" };
  const placed = placeUnits(config, swarm);
  if ("problem" in placed) return { status: 2, stdout: "", stderr: `${placed.problem.message}\n` };
  const report = swarmCapacity(planStack(config, args.stack), config, swarm, placed.placement);
  const problems = swarmCapacityProblems(report, swarm);
  const verdict = `Stack "${args.stack}" does not fit on its nodes`;
  return {
    status: problems.length === 0 ? 0 : 1,
    stdout: args.json ? `${JSON.stringify(report, null, 2)}\n` : renderSwarmCapacity(report, swarm),
    stderr:
      problems.length === 0
        ? ""
        : args.json
          ? `${verdict}:\n${problems.map((p) => `  - ${p.path}: ${p.message}`).join("\n")}\n`
          : `${verdict} (${problems.length} problem${problems.length === 1 ? "" : "s"}, listed above).\n`,
  };
}
