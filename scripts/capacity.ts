/**
 * The capacity report of a stack, from its stack file alone (no Pulumi CLI, no Docker):
 *   npm run capacity -- --stack prod          readable table
 *   npm run capacity -- --stack prod --json   the report the program exports as `capacity`
 * Exit status: 0 within budget, 1 over budget (the problems on stderr), 2 on a bad config or usage.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { CONFIG_NAMESPACE, ConfigError, SECRET_KEYS, type SecretKey, parseConfig } from "../planning/config";
import { capacityProblems, capacityReport, renderCapacityTable } from "../planning/capacity";
import { planStack } from "../planning/topology";

export const ROOT = path.resolve(__dirname, "..");

export const USAGE = "usage: tsx scripts/capacity.ts --stack <name> [--json]";

export interface CliResult {
  status: 0 | 1 | 2;
  stdout: string;
  stderr: string;
}

interface Args {
  stack: string;
  json: boolean;
}

function parseArgs(argv: readonly string[]): Args | string {
  let stack: string | undefined;
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    if (arg === "--json") json = true;
    else if (arg === "--stack" || arg === "-s") {
      stack = argv[++i];
      if (stack === undefined || stack.startsWith("-")) return "--stack needs a stack name";
    } else if (arg.startsWith("--stack=")) stack = arg.slice("--stack=".length);
    else return `unknown argument ${JSON.stringify(arg)}`;
  }
  if (!stack) return "--stack is required";
  if (!/^[\w.-]+$/.test(stack)) return `${JSON.stringify(stack)} is not a stack name`;
  return { stack, json };
}

/** The `sectorwars:*` keys of a stack file, namespace stripped; secret keys left out. */
export function rawStackConfig(stackFileText: string): Record<string, unknown> {
  const doc = parseYaml(stackFileText) as { config?: Record<string, unknown> } | null;
  const prefix = `${CONFIG_NAMESPACE}:`;
  return Object.fromEntries(
    Object.entries(doc?.config ?? {})
      .filter(([key]) => key.startsWith(prefix) && !(key.slice(prefix.length) in SECRET_KEYS))
      .map(([key, value]) => [key.slice(prefix.length), value]),
  );
}

/** Everything but the process: testable without spawning. */
export function runCapacity(argv: readonly string[], root: string = ROOT): CliResult {
  const args = parseArgs(argv);
  if (typeof args === "string") return { status: 2, stdout: "", stderr: `${args}\n${USAGE}\n` };

  const file = path.join(root, `Pulumi.${args.stack}.yaml`);
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch {
    return { status: 2, stdout: "", stderr: `no stack file ${path.relative(process.cwd(), file) || file}\n` };
  }

  let raw: Record<string, unknown>;
  try {
    raw = rawStackConfig(text);
  } catch (err) {
    return { status: 2, stdout: "", stderr: `${path.basename(file)} is not valid YAML: ${(err as Error).message}\n` };
  }

  // This checks capacity, not secrets: pretend every secret is set so prod's stack file parses.
  const presentSecrets = new Set(Object.keys(SECRET_KEYS) as SecretKey[]);
  let report;
  try {
    const config = parseConfig(raw, { presentSecrets });
    report = capacityReport(planStack(config, args.stack), config);
  } catch (err) {
    if (err instanceof ConfigError) return { status: 2, stdout: "", stderr: `${err.message}\n` };
    throw err;
  }

  const problems = capacityProblems(report);
  const verdict = `Stack "${args.stack}" does not fit on its host`;
  return {
    status: problems.length === 0 ? 0 : 1,
    stdout: args.json ? `${JSON.stringify(report, null, 2)}\n` : renderCapacityTable(report),
    // The table already ends with the problems; JSON readers get them here.
    stderr:
      problems.length === 0
        ? ""
        : args.json
          ? `${verdict}:\n${problems.map((p) => `  - ${p.path}: ${p.message}`).join("\n")}\n`
          : `${verdict} (${problems.length} problem${problems.length === 1 ? "" : "s"}, listed above).\n`,
  };
}

if (require.main === module) {
  const result = runCapacity(process.argv.slice(2));
  process.stdout.write(result.stdout);
  process.stderr.write(result.stderr);
  process.exitCode = result.status;
}
