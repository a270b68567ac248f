/** Plain-text tables for the operator CLIs (capacity, status). */

export type Align = "left" | "right";

/**
 * Columns as wide as their widest cell, two spaces apart, no trailing blanks; with `rule`, a
 * line of dashes under the header. Missing cells print as empty.
 */
export function alignTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  align: readonly Align[],
  options: { rule?: boolean } = {},
): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    header
      .map((_, i) => {
        const cell = cells[i] ?? "";
        const width = widths[i] ?? 0;
        return align[i] === "right" ? cell.padStart(width) : cell.padEnd(width);
      })
      .join("  ")
      .trimEnd();
  const rule = options.rule ? [widths.map((w) => "-".repeat(w)).join("  ")] : [];
  return [line(header), ...rule, ...rows.map(line)];
}
