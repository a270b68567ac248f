/**
 * What every section of BENCHMARKS.md formats with.
 */

export const fixed = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toFixed(digits) : "–");
/** First column left-aligned (names), the others right-aligned (numbers). */
export const table = (head: string[], rows: string[][]): string[] => [
  `| ${head.join(" | ")} |`,
  `| ${head.map((_, i) => (i === 0 ? "---" : "---:")).join(" | ")} |`,
  ...rows.map((r) => `| ${r.join(" | ")} |`),
];

export const signed = (n: number): string => `${n >= 0 ? "+" : "−"}${fixed(Math.abs(n), 1)}`;
