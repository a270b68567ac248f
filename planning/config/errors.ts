/**
 * How a stack config problem is reported: its full config path ("sectorwars:regions[2].slot")
 * and a message, all of them at once in one ConfigError. Every part of the config check (the
 * schema, the region list, the cross-field rules, the init SQL files) reports through here.
 */
import type { z } from "zod";

export const CONFIG_NAMESPACE = "sectorwars";

/** One problem with the stack config, with its full config path. */
export interface ConfigProblem {
  path: string;
  message: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(
      `Invalid stack configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        problems.map((p) => `  - ${p.path}: ${p.message}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

/** ["regions", 2, "slot"] → "sectorwars:regions[2].slot" */
export function configPath(path: readonly PropertyKey[]): string {
  let out = CONFIG_NAMESPACE;
  path.forEach((segment, index) => {
    if (typeof segment === "number") out += `[${segment}]`;
    else out += `${index === 0 ? ":" : "."}${String(segment)}`;
  });
  return out;
}

/** A problem found below `sectorwars:` with its path as segments. */
export const problemAt = (path: readonly PropertyKey[], message: string): ConfigProblem => ({
  path: configPath(path),
  message,
});

/** The raw value at `path`, or undefined where the raw config has nothing there. */
export function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let current = value;
  for (const segment of path) {
    if (typeof current !== "object" || current === null) return undefined;
    current = (current as Record<PropertyKey, unknown>)[segment];
  }
  return current;
}

/**
 * zod's issues as config problems: an unknown key per key, a missing value as "is required", a
 * bad record key with the key's own message (zod says "Invalid key in record" and keeps the
 * reason inside), anything else with zod's or the schema's message.
 */
export function schemaProblems(raw: unknown, issues: readonly z.core.$ZodIssue[]): ConfigProblem[] {
  return issues.flatMap((issue): ConfigProblem[] => {
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => problemAt([...issue.path, key], "unknown key"));
    }
    if (valueAt(raw, issue.path) === undefined) return [problemAt(issue.path, "is required")];
    const inner = issue.code === "invalid_key" ? issue.issues[0]?.message : undefined;
    return [problemAt(issue.path, inner ?? issue.message)];
  });
}
