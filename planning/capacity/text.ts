/**
 * The capacity report (capacity.ts) in words and numbers for people: the problems that fail a
 * preview when the stack does not fit on `sectorwars:host`, and the table `npm run capacity`
 * prints. Pure, like the arithmetic it reads.
 */
import {
  type Amount,
  type CapacityDimension,
  type CapacityKind,
  type CapacityReport,
  type DimensionCheck,
} from "./check";
import { type ConfigProblem, configPath } from "../config";
import { type Align, alignTable } from "../table";

/** 8 → "8", 0.25 → "0.25", 1/3 → "0.333": at most three decimals, never a misleading "0". */
export function formatCpus(cpus: number): string {
  const rounded = Math.round(cpus * 1000) / 1000;
  if (rounded === 0 && cpus !== 0) return String(Number(cpus.toPrecision(2)));
  return String(rounded === 0 ? 0 : rounded);
}

const cpuWord = (cpus: number): string => `${formatCpus(cpus)} CPU${Math.abs(cpus) === 1 ? "" : "s"}`;

/** Memory for people, in G from 1G up (at most two decimals), signed: 3328 → "3.25G", -512 → "-512M". */
export function formatMemory(mb: number): string {
  const abs = Math.abs(mb);
  const text = abs >= 1024 ? `${Math.round((abs / 1024) * 100) / 100}G` : `${Math.round(abs * 100) / 100}M`;
  return mb < 0 ? `-${text}` : text;
}

const LARGEST_SHOWN = 3;

/**
 * One problem per check that fails, on `sectorwars:host.cpus` or `sectorwars:host.memoryGb`:
 * what the sum is, what is allowed and how that follows from the config, by how much it is over,
 * and the largest consumers. Empty when the stack fits. A swarm node's report puts them on the
 * node's own keys (`at`) and names the node (`prefix`).
 */
export function capacityProblems(
  report: CapacityReport,
  {
    at = (field) => ["host", field],
    prefix = "",
  }: { at?: (field: "cpus" | "memoryGb") => PropertyKey[]; prefix?: string } = {},
): ConfigProblem[] {
  return report.checks
    .filter((check) => !check.ok)
    .map((check) => {
      const { kind, resource } = check;
      const isCpu = resource === "cpus";
      const fmt = isCpu ? cpuWord : formatMemory;
      const bare = isCpu ? formatCpus : formatMemory;
      const of = (a: Amount): number => (isCpu ? a.cpus : a.memoryMb);
      const what = `${isCpu ? "CPU" : "memory"} ${kind}`;

      const budgetText = `${bare(of(report.budget))} = host ${bare(of(report.host))} - ${bare(of(report.reserve))} reserved`;
      const allowedText =
        kind === "reservations"
          ? `the budget is ${budgetText}`
          : `at most ${bare(check.allowed)} allowed (budget ${budgetText}, x ${report.overcommit[resource]} overcommit)`;

      const largest = [...report.containers]
        .sort((a, b) => of(b[kind]) - of(a[kind]) || a.name.localeCompare(b.name))
        .slice(0, LARGEST_SHOWN)
        .map((c) => `${c.name} (${bare(of(c[kind]))})`)
        .join(", ");
      const regions = report.subtotals.regions;
      const regionText =
        regions.regions > 0
          ? `; the ${regions.regions} region${regions.regions === 1 ? " takes" : "s take"} ${fmt(of(regions[kind]))} together`
          : "";
      return {
        path: configPath(at(isCpu ? "cpus" : "memoryGb")),
        message: `${prefix}${what} add up to ${fmt(check.used)}, ${allowedText}: ${fmt(-check.headroom)} over; largest: ${largest}${regionText}`,
      };
    });
}

// ---------------------------------------------------------------------------------------------
// The table.

const ruledTable = (header: readonly string[], rows: readonly (readonly string[])[], align: readonly Align[]) =>
  alignTable(header, rows, align, { rule: true });

const DIMENSION_WORDS: Record<CapacityDimension, string> = {
  "reservations.cpus": "CPU reservations",
  "reservations.memory": "memory reservations",
  "limits.cpus": "CPU limits",
  "limits.memory": "memory limits",
};

/** The report as fixed-width text: containers, the budget, how many more regions fit, the verdict. */
export function renderCapacityTable(report: CapacityReport): string {
  const out: string[] = [];
  out.push(
    `Capacity of stack "${report.stack}": host ${cpuWord(report.host.cpus)} / ${formatMemory(report.host.memoryMb)}, ` +
      `${cpuWord(report.reserve.cpus)} / ${formatMemory(report.reserve.memoryMb)} reserved for the OS and Docker`,
    "",
  );

  const row = (name: string, profile: string, s: { limits: Amount; reservations: Amount }) => [
    name,
    profile,
    formatCpus(s.limits.cpus),
    formatCpus(s.reservations.cpus),
    formatMemory(s.limits.memoryMb),
    formatMemory(s.reservations.memoryMb),
  ];
  const { core, regions } = report.subtotals;
  out.push(
    ...ruledTable(
      ["CONTAINER", "PROFILE", "CPU LIMIT", "CPU RESERVED", "MEM LIMIT", "MEM RESERVED"],
      [
        ...report.containers.map((c) => row(c.name, c.sizeProfile, c)),
        ["", "", "", "", "", ""],
        row(`core services (${core.containers})`, "", core),
        row(`regions (${regions.regions})`, "", regions),
        row(`total (${report.totals.containers} containers)`, "", report.totals),
      ],
      ["left", "left", "right", "right", "right", "right"],
    ),
    "",
  );

  const check = (d: CapacityDimension): DimensionCheck => {
    const found = report.checks.find((c) => c.dimension === d);
    if (!found) throw new Error(`no check ${d}`);
    return found;
  };
  const headroom = (c: DimensionCheck, fmt: (v: number) => string) =>
    c.ok ? fmt(c.headroom) : `${fmt(c.headroom)} OVER`;
  const budgetRow = (label: string, kind: CapacityKind) => {
    const cpu = check(`${kind}.cpus`);
    const mem = check(`${kind}.memory`);
    return [
      label,
      formatCpus(cpu.used),
      formatCpus(cpu.allowed),
      headroom(cpu, formatCpus),
      formatMemory(mem.used),
      formatMemory(mem.allowed),
      headroom(mem, formatMemory),
    ];
  };
  out.push(
    ...ruledTable(
      ["SUM", "CPU USED", "CPU ALLOWED", "CPU HEADROOM", "MEM USED", "MEM ALLOWED", "MEM HEADROOM"],
      [
        budgetRow("reservations (budget = host - reserve)", "reservations"),
        budgetRow(`limits (budget x ${report.overcommit.cpus} CPU, x ${report.overcommit.memory} memory)`, "limits"),
      ],
      ["left", "right", "right", "right", "right", "right", "right"],
    ),
    "",
  );

  const perRegion = (a: Amount) => `${cpuWord(a.cpus)} / ${formatMemory(a.memoryMb)}`;
  out.push(
    ...ruledTable(
      [
        "REGION SIZE",
        "PER REGION LIMITS",
        "PER REGION RESERVED",
        "FIT BY RESERVATIONS",
        "FIT BY LIMITS",
        "MORE REGIONS",
        "BOUND BY",
      ],
      report.regionSizes.map((f) => [
        f.size,
        perRegion(f.perRegion.limits),
        perRegion(f.perRegion.reservations),
        String(f.byReservations.fit),
        String(f.byLimits.fit),
        String(f.more),
        f.bindsOn.map((d) => DIMENSION_WORDS[d]).join(", "),
      ]),
      ["left", "left", "left", "right", "right", "right", "left"],
    ),
    "",
  );

  const problems = capacityProblems(report);
  if (problems.length === 0) out.push("Within budget.");
  else out.push("OVER BUDGET:", ...problems.map((p) => `  - ${p.path}: ${p.message}`));
  return `${out.join("\n")}\n`;
}
