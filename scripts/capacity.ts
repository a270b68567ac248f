/**
 * The capacity report of a stack, from its stack file alone (no Pulumi CLI, no Docker):
 *   npm run capacity -- --stack prod          readable table
 *   npm run capacity -- --stack prod --json   the report the program exports as `capacity`
 * Exit status: 0 within budget, 1 over budget (the problems on stderr), 2 on a bad config or usage.
 */
import { capacityReport } from "../planning/capacity/check";
import { capacityProblems, renderCapacityTable } from "../planning/capacity/text";
import { planStack } from "../planning/stack/topology";
import { type CliResult, ROOT, STACK_NAME_PATTERN, emit, parseCliArgs, readStackConfig } from "./cli";
import { renderSwarmCapacity, swarmCapacity, swarmCapacityProblems } from "../planning/swarm/capacity";
import { acceptedPlacement } from "../planning/swarm/placement";
import type { ConfigProblem, PlatformConfig } from "../planning/config";

export const USAGE = "usage: tsx scripts/capacity.ts --stack <name> [--json]";

interface Args {
  stack: string;
  json: boolean;
}

function parseArgs(argv: readonly string[]): Args | string {
  const parsed = parseCliArgs(argv, { options: { stack: ["--stack", "-s"] }, flags: { json: ["--json"] } });
  if (typeof parsed === "string") return parsed;
  const { stack } = parsed.options;
  if (!stack) return "--stack is required";
  if (!STACK_NAME_PATTERN.test(stack)) return `${JSON.stringify(stack)} is not a stack name`;
  return { stack, json: parsed.flags.json };
}

/** Everything but the process: testable without spawning. */
export function runCapacity(argv: readonly string[], root: string = ROOT): CliResult {
  const args = parseArgs(argv);
  if (typeof args === "string") return { status: 2, stdout: "", stderr: `${args}\n${USAGE}\n` };

  const config = readStackConfig(root, args.stack);
  if ("error" in config) return { status: 2, stdout: "", stderr: `${config.error}\n` };
  const view =
    config.orchestrator === "swarm" ? swarmCapacityView(config, args.stack) : hostCapacityView(config, args.stack);

  const { problems } = view;
  const verdict = `Stack "${args.stack}" does not fit on ${view.budget}`;
  return {
    status: problems.length === 0 ? 0 : 1,
    stdout: args.json ? `${JSON.stringify(view.report, null, 2)}\n` : view.table,
    // The table already ends with the problems; JSON readers get them here.
    stderr:
      problems.length === 0
        ? ""
        : args.json
          ? `${verdict}:\n${problems.map((p) => `  - ${p.path}: ${p.message}`).join("\n")}\n`
          : `${verdict} (${problems.length} problem${problems.length === 1 ? "" : "s"}, listed above).\n`,
  };
}

/** What `npm run capacity` prints, for one host or (scripts/swarmCapacity.ts) a swarm's nodes. */
export interface CapacityView {
  /** The --json output. */
  report: unknown;
  table: string;
  problems: readonly ConfigProblem[];
  /** What the stack must fit on, for the verdict: "its host", "its nodes". */
  budget: string;
}

function hostCapacityView(config: PlatformConfig, stack: string): CapacityView {
  const report = capacityReport(planStack(config, stack), config);
  return { report, table: renderCapacityTable(report), problems: capacityProblems(report), budget: "its host" };
}

if (require.main === module) {
  emit(runCapacity(process.argv.slice(2)));
}

/** A swarm stack: one table per node, with the floating tasks in the example packing, and every node's problems. */
function swarmCapacityView(config: PlatformConfig, stack: string): CapacityView {
  const { swarm, placement } = acceptedPlacement(config);
  const report = swarmCapacity(planStack(config, stack), config, swarm, placement);
  return {
    report,
    table: renderSwarmCapacity(report, swarm),
    problems: swarmCapacityProblems(report, swarm),
    budget: "its nodes",
  };
}
