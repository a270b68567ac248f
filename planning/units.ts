/**
 * Memory sizes as operators write them in compose files ("8G", "512M", "1.5g") or as a
 * plain number of megabytes. Docker's provider wants whole megabytes.
 */
const MEMORY_PATTERN = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i;

const MB_PER_UNIT: Record<string, number> = { k: 1 / 1024, "": 1, m: 1, g: 1024, t: 1024 * 1024 };

/** Parses "8G" / "512M" / 2048 (MB) into whole megabytes, or returns undefined when malformed. */
export function parseMemoryMb(value: string | number): number | undefined {
  if (typeof value === "number") {
    return Number.isFinite(value) && value > 0 ? Math.round(value) : undefined;
  }
  const match = MEMORY_PATTERN.exec(value.trim());
  if (!match) return undefined;
  const amount = Number(match[1]);
  const factor = MB_PER_UNIT[(match[2] ?? "").toLowerCase()];
  if (factor === undefined) return undefined;
  const mb = Math.round(amount * factor);
  return mb > 0 ? mb : undefined;
}

/** Redis' own memory notation ("8gb", "512mb", "100000" bytes) converted to megabytes. */
export function parseRedisMemoryMb(value: string): number | undefined {
  const match = /^(\d+)(b|k|kb|m|mb|g|gb)?$/i.exec(value.trim());
  if (!match) return undefined;
  const amount = Number(match[1]);
  const unit = (match[2] ?? "b").toLowerCase();
  // Redis treats "k"/"m"/"g" as powers of 1000 and "kb"/"mb"/"gb" as powers of 1024.
  const bytesPer: Record<string, number> = {
    b: 1,
    k: 1e3,
    kb: 1024,
    m: 1e6,
    mb: 1024 ** 2,
    g: 1e9,
    gb: 1024 ** 3,
  };
  const factor = bytesPer[unit];
  if (factor === undefined) return undefined;
  return (amount * factor) / 1024 ** 2;
}

/** 2048 → "2G", 512 → "512M": for messages and reports. */
export function formatMemoryMb(mb: number): string {
  if (mb >= 1024 && mb % 1024 === 0) return `${mb / 1024}G`;
  if (mb >= 1024) return `${(mb / 1024).toFixed(1)}G`;
  return `${mb}M`;
}

/** Bytes in binary units, three significant digits: 1536 → "1.5K", 268435456 → "256M". */
export function formatBytes(bytes: number): string {
  const units = ["B", "K", "M", "G", "T", "P"];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const text = unit === 0 || Math.abs(value) >= 100 ? value.toFixed(0) : value.toFixed(1).replace(/\.0$/, "");
  return `${text}${units[unit]}`;
}
