/**
 * What the operator CLIs (capacity, status, backup) share: their result shape, argument parsing, reading a
 * stack's config from its Pulumi.<stack>.yaml without the Pulumi CLI, and a timeout.
 */
import * as path from "node:path";
import { ConfigError, type PlatformConfig, SECRET_KEYS, type SecretKey, parseConfig } from "../planning/config";
import {
  PROJECT_DIR,
  parseStackFile,
  platformEntries,
  readStackFileText,
  stackFileName,
} from "../components/config/stackFile";

/** The project directory, where the stack files are. */
export const ROOT = PROJECT_DIR;

/** What a CLI run produced; the entry point writes it out and exits with `status`. */
export interface CliResult {
  status: 0 | 1 | 2;
  stdout: string;
  stderr: string;
}

/** Stack names the CLIs accept: what Pulumi allows, and nothing a file name could abuse. */
export const STACK_NAME_PATTERN = /^[\w.-]+$/;

export interface ParsedArgs<O extends string, F extends string> {
  options: Partial<Record<O, string>>;
  flags: Record<F, boolean>;
}

/**
 * Options that take a value (`--name value` or `--name=value`, under any of the spellings given)
 * and boolean flags. Returns the error message instead on an unknown argument or a missing value.
 */
export function parseCliArgs<O extends string, F extends string>(
  argv: readonly string[],
  spec: { options: Record<O, readonly string[]>; flags: Record<F, readonly string[]> },
): ParsedArgs<O, F> | string {
  const optionNames = Object.entries(spec.options) as [O, readonly string[]][];
  const flagNames = Object.entries(spec.flags) as [F, readonly string[]][];
  const options: Partial<Record<O, string>> = {};
  const flags = Object.fromEntries(flagNames.map(([key]) => [key, false])) as Record<F, boolean>;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? "";
    const flag = flagNames.find(([, spellings]) => spellings.includes(arg));
    if (flag) {
      flags[flag[0]] = true;
      continue;
    }
    const option = optionNames.find(([, spellings]) => spellings.includes(arg));
    if (option) {
      const value = argv[++i];
      if (value === undefined || value.startsWith("-")) return `${arg} needs a value`;
      options[option[0]] = value;
      continue;
    }
    const inline = optionNames.find(([, spellings]) =>
      spellings.some((s) => s.startsWith("--") && arg.startsWith(`${s}=`)),
    );
    if (inline) {
      options[inline[0]] = arg.slice(arg.indexOf("=") + 1);
      continue;
    }
    return `unknown argument ${JSON.stringify(arg)}`;
  }
  return { options, flags };
}

/**
 * The validated config of `root/Pulumi.<stack>.yaml`, or the message to exit 2 with. Secrets are
 * taken as set (their values never reach the parser anyway), so prod's stack file parses
 * without them: these CLIs report on a stack, they do not deploy it.
 */
export function readStackConfig(root: string, stack: string): PlatformConfig | { error: string } {
  const file = path.join(root, stackFileName(stack));
  let text: string;
  try {
    text = readStackFileText(stack, { dir: root });
  } catch {
    return { error: `no stack file ${path.relative(process.cwd(), file) || file}` };
  }
  let raw: Record<string, unknown>;
  try {
    // Secret keys are left out: their values never reach the parser.
    raw = platformEntries(parseStackFile(text)).raw;
  } catch (err) {
    return { error: `${path.basename(file)} is not valid YAML: ${(err as Error).message}` };
  }
  try {
    return parseConfig(raw, { presentSecrets: new Set(Object.keys(SECRET_KEYS) as SecretKey[]) });
  } catch (err) {
    if (err instanceof ConfigError) return { error: err.message };
    throw err;
  }
}

/** Writes a result out and sets the exit status: the whole of an entry point's `main`. */
export function emit(result: CliResult): void {
  process.stdout.write(result.stdout);
  process.stderr.write(result.stderr);
  process.exitCode = result.status;
}

/**
 * The promise's outcome, or an error naming `what` once `ms` have passed (after `onTimeout`, which
 * may abort what the promise waits for); the timer never outlives it.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string, onTimeout?: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout?.();
      reject(new Error(`${what} timed out after ${ms / 1000} s`));
    }, ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
