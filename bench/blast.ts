/**
 * Part 2: the blast radius of everyday config edits, the same scenarios that
 * test/blastRadius.test.ts pins exactly, counted for BENCHMARKS.md.
 */
import { BASELINE_CONFIG, BLAST_SCENARIOS } from "../test/support/blastScenarios";
import { type BlastRadius, blastRadius, describeRadius } from "../test/support/diff";
import { runProgram } from "../test/support/pulumi";
import { log, isoNow } from "./common";

export interface BlastRow {
  title: string;
  created: number;
  deleted: number;
  retained: number;
  updated: number;
  replaced: number;
  /** Containers replaced (restarted with a new container). */
  containersReplaced: number;
  /** Of those, the ones whose successor starts first (create-before-delete: no downtime). */
  containersCreateFirst: number;
  unchanged: number;
  /** The changed resources, for the notes under the table. */
  detail: string;
}

export interface BlastResult {
  date: string;
  /** Resources of the baseline stack (four regions). */
  baselineResources: number;
  rows: BlastRow[];
}

export async function runBlastBench(): Promise<BlastResult> {
  const baseline = await runProgram({ config: BASELINE_CONFIG, stack: "bench" });
  const rows: BlastRow[] = [];
  for (const scenario of BLAST_SCENARIOS) {
    const after = await runProgram({ config: scenario.config, stack: "bench" });
    const radius: BlastRadius = blastRadius(baseline.resources, after.resources);
    log(`blast: ${scenario.title}\n${describeRadius(radius)}`);
    rows.push({
      title: scenario.title,
      created: radius.created.length,
      deleted: radius.deleted.length,
      retained: radius.retained.length,
      updated: radius.updated.length,
      replaced: radius.replaced.length,
      containersReplaced: radius.replaced.filter((c) => c.type === "docker:index/container:Container").length,
      containersCreateFirst: radius.replaced.filter(
        (c) => c.type === "docker:index/container:Container" && !c.deleteFirst,
      ).length,
      unchanged: radius.unchanged,
      detail: describeRadius(radius),
    });
  }
  return {
    date: isoNow(),
    baselineResources: baseline.resources.length,
    rows,
  };
}
