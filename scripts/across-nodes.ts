/**
 * Runs a command with the docker CLI reaching every node of a swarm stack (planning/swarm/nodeDocker.ts):
 *   npm run across-nodes -- --stack prod -- npm run restore -- --backup DIR --target region:orion --stack prod
 *   npm run across-nodes -- --hosts default,ssh://ops@node-2 -- <command...>
 * The nodes come from the stack file's sectorwars:swarm.nodes (each node's dockerHost; the one
 * without is the engine DOCKER_HOST reaches here), or from --hosts. The exit status is the
 * command's; 2 on bad usage or a stack that is not a swarm.
 */
import { spawnSync } from "node:child_process";
import { shellQuote } from "../planning/shell";
import { acrossNodes, nodeHosts } from "../planning/swarm/nodeDocker";
import { ROOT, STACK_NAME_PATTERN, readStackConfig } from "./cli";

export const USAGE = "usage: across-nodes (--stack NAME | --hosts H1,H2,...) -- COMMAND [ARGS...]";

/** The hosts to reach, or the message to exit 2 with. */
export function hostsFor(
  argv: readonly string[],
  root: string = ROOT,
): { hosts: string[]; command: string[] } | string {
  const split = argv.indexOf("--");
  if (split < 0 || split === argv.length - 1) return "a command after -- is required";
  const [flag, value, ...rest] = argv.slice(0, split);
  const command = argv.slice(split + 1);
  if (rest.length > 0 || value === undefined) return "exactly one of --stack NAME or --hosts LIST";
  if (flag === "--hosts") return { hosts: value.split(",").filter(Boolean), command };
  if (flag !== "--stack") return `unknown option ${flag}`;
  if (!STACK_NAME_PATTERN.test(value)) return `${JSON.stringify(value)} is not a stack name`;
  const config = readStackConfig(root, value);
  if ("error" in config) return config.error;
  if (config.orchestrator !== "swarm" || config.swarm === null) return `stack ${value} is not a swarm stack`;
  return { hosts: nodeHosts(config.swarm.nodes), command };
}

if (require.main === module) {
  const parsed = hostsFor(process.argv.slice(2));
  if (typeof parsed === "string") {
    console.error(`${parsed}\n${USAGE}`);
    process.exit(2);
  }
  const script = acrossNodes(parsed.command.map(shellQuote).join(" "), parsed.hosts);
  const result = spawnSync("bash", ["-c", script], { stdio: "inherit" });
  process.exit(result.status ?? 1);
}
