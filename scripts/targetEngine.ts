/**
 * Which Docker engine a restore reaches its target on: for a swarm stack whose file is here, the
 * engine of the node that runs the target's database (its running task); else the one DOCKER_HOST
 * reaches (a one-host stack, or a stack of another checkout), as before.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { stackFileName } from "../components/config/stackFile";
import { type RestoreTarget, describeTarget, swarmTargetEngine } from "../planning/backup/restore";
import { acceptedPlacement } from "../planning/swarm/placement";
import { readStackConfig } from "./cli";

export interface TargetEngine {
  env: NodeJS.ProcessEnv;
  /** A swarm keeps a service's earlier tasks as exited containers: only a running one is the target. */
  runningOnly: boolean;
}

/** The engine, or throws `error(problem)`: the stack file does not parse, or the target has no node. */
export function targetEngine(
  opts: { stack: string; target: RestoreTarget },
  root: string,
  error: (problem: string) => Error,
): TargetEngine {
  const plain = { env: process.env, runningOnly: false };
  if (!fs.existsSync(path.join(root, stackFileName(opts.stack)))) return plain;
  const config = readStackConfig(root, opts.stack);
  if ("error" in config) throw error(config.error);
  if (config.orchestrator !== "swarm") return plain;
  const { swarm, placement } = acceptedPlacement(config);
  const found = swarmTargetEngine(opts.target, swarm, placement);
  if ("problem" in found) throw error(`${describeTarget(opts.target)}: ${found.problem}`);
  const env = found.dockerHost === undefined ? process.env : { ...process.env, DOCKER_HOST: found.dockerHost };
  return { env, runningOnly: true };
}
