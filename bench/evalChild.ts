/**
 * One measurement of the program under mocks, in a process of its own: Pulumi's mock runtime
 * is process-global, and a peak RSS only means something for a fresh process. Prints one JSON
 * line. Usage: node --expose-gc --import tsx bench/evalChild.ts <regions>
 */
import { runProgram } from "../test/support/pulumi";
import { benchConfig } from "./evalConfig";

export interface EvalSample {
  regions: number;
  resources: number;
  /** From process start to the moment the program is imported: node, tsx, the SDK, the harness. */
  loadMs: number;
  /** From importing index.ts until every resource is registered and every output resolved. */
  evalMs: number;
  /** Peak RSS before the program ran: the SDK and the harness alone. */
  baselineRssMb: number;
  /** Peak RSS of the whole process. */
  peakRssMb: number;
  /** Live heap after a full GC at the end: what the evaluation actually keeps. */
  heapAfterGcMb: number;
}

const maxRssMb = (): number => process.resourceUsage().maxRSS / 1024;

async function main(): Promise<void> {
  const regions = Number(process.argv[2]);
  if (!Number.isInteger(regions) || regions < 1)
    throw new Error(`usage: evalChild.ts <regions>, got ${process.argv[2]}`);
  const loadMs = performance.now();
  const baselineRssMb = maxRssMb();
  const start = performance.now();
  const run = await runProgram({ config: benchConfig(regions), stack: "bench" });
  const evalMs = performance.now() - start;
  const peakRssMb = maxRssMb();
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const sample: EvalSample = {
    regions,
    resources: run.resources.length,
    loadMs,
    evalMs,
    baselineRssMb,
    peakRssMb,
    heapAfterGcMb: gc ? process.memoryUsage().heapUsed / 1024 ** 2 : Number.NaN,
  };
  process.stdout.write(`${JSON.stringify(sample)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
