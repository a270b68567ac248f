/**
 * One backup of a stack now, by the very script `pulumi up` runs (planning/backup/run.ts), from the
 * stack file alone: for a swarm stack on each node's engine, as the deploy's backup and the
 * scheduled one run it.
 *   npm run backup -- --stack prod
 * Exit status: the backup script's (0 done, non-zero failed, its messages on stderr); 2 on bad usage.
 */
import { spawnSync } from "node:child_process";
import { backupCommand } from "../planning/backup/run";
import { planStack } from "../planning/stack/topology";
import { ROOT, STACK_NAME_PATTERN, parseCliArgs, readStackConfig } from "./cli";

export const USAGE = "usage: backup --stack NAME";

/** The command line to run, or the message to exit 2 with. */
export function backupCommandFor(argv: readonly string[], root: string = ROOT): string | { error: string } {
  const parsed = parseCliArgs(argv, { options: { stack: ["--stack", "-s"] }, flags: {} });
  if (typeof parsed === "string") return { error: parsed };
  const stack = parsed.options.stack;
  if (!stack || !STACK_NAME_PATTERN.test(stack)) return { error: "--stack NAME is required" };
  const config = readStackConfig(root, stack);
  if ("error" in config) return { error: config.error };
  // The settings the program's Backups component runs with (a relative backup.dir starts at root).
  return backupCommand(planStack(config, stack, { projectDir: root }).backup.settings);
}

if (require.main === module) {
  const command = backupCommandFor(process.argv.slice(2));
  if (typeof command !== "string") {
    console.error(`${command.error}\n${USAGE}`);
    process.exit(2);
  }
  process.exit(spawnSync("bash", ["-c", command], { stdio: "inherit" }).status ?? 1);
}
