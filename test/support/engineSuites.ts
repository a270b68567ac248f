/**
 * Tests that need an engine this machine may not be able to run (the modern Docker engine, a
 * test swarm, the real Pulumi engine) are declared through `describeOn`: run when the engine is
 * there, otherwise collected and reported as skipped with the reason in their title. Nothing
 * drops out of the list, and test/support/engineSuitesReporter.ts ends every run with one line
 * per suite: how many ran, or how many were skipped and why.
 */
import { describe } from "vitest";

export const ENGINE_SUITES = {
  modern: "modern Docker engine (26, API 1.45)",
  swarm1: "one-node test swarm",
  swarm3: "three-node test swarm",
  pulumi: "real Pulumi engine",
} as const;
export type EngineSuite = keyof typeof ENGINE_SUITES;

export type Availability = { available: true } | { available: false; reason: string };

/** `[on <suite>]`, or `[on <suite>: skipped, <reason>]`: what the reporter reads back. */
export const SUITE_TAG = /\[on ([^\]:]+)(?:: skipped, ([^\]]*))?\]/;

export function suiteTitle(title: string, suite: EngineSuite, availability: Availability): string {
  const name = ENGINE_SUITES[suite];
  // One line: a reason with line breaks or brackets would end the tag early.
  const reason = availability.available ? "" : availability.reason.replace(/[[\]\n]+/g, " ").trim() || "unavailable";
  return `${title} [on ${name}${availability.available ? "" : `: skipped, ${reason}`}]`;
}

/** describe() for tests that need `suite`: skipped, reason in the title, when it is unavailable. */
export function describeOn(suite: EngineSuite, availability: Availability, title: string, body: () => void): void {
  describe.runIf(availability.available)(suiteTitle(title, suite, availability), body);
}

/** Where a table of tests runs: what is always there (no suite), or an engine suite that may not be. */
export interface SuiteTarget {
  /** Replaces `$name` in the title. */
  name: string;
  suite?: EngineSuite;
  availability?: Availability;
}

/** describe.each over targets, each target's tests declared through describeOn when it has a suite. */
export function describeEach<T extends SuiteTarget>(
  targets: readonly T[],
  title: string,
  body: (target: T) => void,
): void {
  for (const target of targets) {
    const named = title.replace("$name", target.name);
    if (target.suite) describeOn(target.suite, target.availability ?? { available: true }, named, () => body(target));
    else describe(named, () => body(target));
  }
}

/** Whether a target can run here. */
export const runnable = (target: SuiteTarget): boolean => target.availability?.available ?? true;
