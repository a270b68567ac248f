/**
 * Section 1 of BENCHMARKS.md: program evaluation under mocks.
 */
import { type EvalResult, TARGET } from "./evalProgram";
import { fixed, table } from "./reportFormat";

/**
 * `containersPerRegion`: counted in the blast-radius part's add-a-region edit, when there is one
 * (the evaluation part counts resources only).
 */
export function evalSection(e: EvalResult, containersPerRegion?: number): string[] {
  const at500 = e.rows.find((r) => r.regions === TARGET.regions);
  const timeOk = at500 ? at500.evalMs <= TARGET.seconds * 1000 : false;
  const memOk = at500 ? at500.peakRssMb <= TARGET.megabytes : false;
  return [
    "## 1. Program evaluation under mocks",
    "",
    `Measured ${e.date}. \`index.ts\` evaluated with the test suite's Pulumi mocks (\`runProgram\` of`,
    "`test/support/pulumi.ts`) on the dev stack file with N generated regions, every sample in a",
    "fresh Node.js process (the mock runtime is process-global), TypeScript loaded by tsx. Medians.",
    "",
    `- **evaluation**: from importing \`index.ts\` until every resource is registered and every`,
    "  output resolved (includes compiling our TypeScript, the config check and the capacity check).",
    "- **load**: process start until then (Node.js, tsx, the Pulumi SDK, the mock harness): paid once.",
    "- **baseline RSS**: peak RSS after load, before the program ran; **peak RSS**: of the whole",
    "  process; **program's own**: the difference; **heap after GC**: live heap once evaluation is",
    "  done and a full GC ran (what the evaluation keeps, as opposed to garbage it churned through).",
    `- The host is set to ${e.host.cpus} CPUs / ${e.host.memoryGb} GB for every N: the capacity check`,
    "  rejects a stack whose containers do not fit before anything is declared, and 500 dev-sized",
    "  regions have 375 GB of memory limits. The bench measures evaluation, not whether they fit.",
    "",
    ...table(
      [
        "Regions",
        "Runs",
        "Resources",
        "Evaluation (ms)",
        "ms / region",
        "Load (ms)",
        "Baseline RSS (MB)",
        "Peak RSS (MB)",
        "Program's own (MB)",
        "Heap after GC (MB)",
      ],
      e.rows.map((r) => [
        String(r.regions),
        String(r.runs),
        String(r.resources),
        fixed(r.evalMs),
        fixed(r.evalMs / r.regions, 1),
        fixed(r.loadMs),
        fixed(r.baselineRssMb),
        fixed(r.peakRssMb),
        fixed(r.peakRssMb - r.baselineRssMb),
        fixed(r.heapAfterGcMb),
      ]),
    ),
    "",
    `Linearity: time(500) / time(100) = **${fixed(e.timeRatio, 2)}** (5.00 is exactly linear);`,
    `each region beyond 100 costs ${fixed(e.perRegionMs, 1)} ms and ${fixed(e.perRegionMb, 2)} MB of peak RSS.`,
    "",
    `Target at ${TARGET.regions} regions: ≤ ${TARGET.seconds} s and ≤ ${TARGET.megabytes} MB. ` +
      `Time: **${timeOk ? "met" : "missed"}**${at500 ? ` (${fixed(at500.evalMs / 1000, 1)} s)` : ""}; ` +
      `memory: **${memOk ? "met" : "missed"}**${at500 ? ` (${fixed(at500.peakRssMb)} MB peak)` : ""}.`,
    "",
    `Where the CPU time goes (one profiled evaluation of ${e.profile.regions} regions, self time by who owns the code):`,
    "",
    ...table(
      ["Category", "ms", "%"],
      e.profile.shares.map((s) => [s.category, fixed(s.ms), fixed(s.percent, 1)]),
    ),
    "",
    "Hottest functions (self time):",
    "",
    ...table(
      ["Function", "ms"],
      e.profile.top.map((t) => [`\`${t.fn}\``, fixed(t.ms)]),
    ),
    "",
    ...evalFindings(e, { met: timeOk && memOk, containersPerRegion }),
  ];
}

/** What the numbers say; written against the profile's categories, so it stays true to them. */
function evalFindings(e: EvalResult, o: { met: boolean; containersPerRegion: number | undefined }): string[] {
  const share = (prefix: string): number =>
    e.profile.shares.filter((s) => s.category.startsWith(prefix)).reduce((sum, s) => sum + s.percent, 0);
  const ours = share("our program");
  const sdk = share("Pulumi SDK") + share("provider SDKs");
  const gc = share("garbage collection");
  const node = share("Node.js internals");
  // Resources one more region adds, between the two largest sizes measured.
  const [smaller, larger] = [...e.rows].sort((a, b) => a.regions - b.regions).slice(-2);
  const perRegion =
    smaller && larger ? (larger.resources - smaller.resources) / (larger.regions - smaller.regions) : NaN;
  const containers = o.containersPerRegion;
  const plural = (n: number, one: string) => `${fixed(n)} ${one}${n === 1 ? "" : "s"}`;
  return [
    `Our own code (index.ts, components/, planning/) is ${fixed(ours, 1)} % of the CPU time: nothing in it`,
    `grows faster than the region list (per region it plans ${containers === undefined ? "its" : plural(containers, "container")} and renders one nginx`,
    "location; the backup fingerprint sorts the regions once). The Pulumi SDK takes",
    `${fixed(sdk, 1)} % directly, and most of the ${fixed(node, 1)} % in Node.js internals and the ${fixed(gc, 1)} % of`,
    "garbage collection on its behalf: every resource registration captures an unbounded stack trace",
    "(`Resource.callsites`), and every output property of every resource (a docker Container has",
    "about 80) is wrapped by `debuggablePromise`, which formats a stack trace into a string (through",
    "the source maps that tsx, or ts-node under `pulumi preview`, turn on). Each region declares",
    `${plural(perRegion, "resource")}${containers === undefined ? "" : `, ${fixed(containers)} of them Containers`}: that fixed per-resource cost is the per-region cost above,`,
    "and its garbage is what drives the peak RSS far above the heap that stays live." +
      (e.timeRatio > 5
        ? " The slight excess over linear comes from the garbage collector working on a larger heap."
        : ""),
    "",
    ...(o.met
      ? ["The target is met. Nothing was changed in the program."]
      : [
          "The target is missed, and the program cannot meet it by itself: it would take fewer resources per region (a",
          "design change: the region network, volume, password and password sync are each there for a",
          "reason) or an SDK without the per-promise stack traces. Nothing was changed in the program.",
        ]),
  ];
}
