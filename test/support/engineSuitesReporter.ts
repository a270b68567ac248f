/**
 * A vitest reporter that ends the run with one line per engine suite (see engineSuites.ts): how
 * many of its tests ran and how many failed, or how many were skipped and why. A machine that
 * cannot start the modern engine, a test swarm or the real Pulumi engine says so here, last in
 * the output of `npm test` and so of `.ci/run`.
 */
import type { Reporter, TestModule } from "vitest/node";
import { ENGINE_SUITES, SUITE_TAG } from "./engineSuites";

interface Tally {
  ran: number;
  failed: number;
  skipped: number;
  reasons: Set<string>;
}

export default class EngineSuitesReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const tallies = new Map<string, Tally>(
      Object.values(ENGINE_SUITES).map((name) => [name, { ran: 0, failed: 0, skipped: 0, reasons: new Set() }]),
    );
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const tag = SUITE_TAG.exec(test.fullName);
        const tally = tag ? tallies.get(tag[1] as string) : undefined;
        if (!tally) continue;
        const state = test.result().state;
        if (state === "skipped") {
          tally.skipped++;
          if (tag?.[2]) tally.reasons.add(tag[2]);
        } else if (state !== "pending") {
          tally.ran++;
          if (state === "failed") tally.failed++;
        }
      }
    }
    const lines = [...tallies].map(([name, t]) => {
      const ran = t.ran > 0 ? `ran ${t.ran}${t.failed > 0 ? ` (${t.failed} failed)` : ""}` : "";
      const skipped = t.skipped > 0 ? `skipped ${t.skipped}: ${[...t.reasons].join("; ") || "filtered out"}` : "";
      return `  ${name}: ${[ran, skipped].filter(Boolean).join(", ") || "not in this run"}`;
    });
    process.stdout.write(`\nEngine suites\n${lines.join("\n")}\n`);
  }
}
