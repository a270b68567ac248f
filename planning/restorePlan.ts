/**
 * What a restore does, decided without I/O: which part of a stack it targets and which file of
 * a backup holds that part's data. scripts/restore.ts does the reading and the Docker calls.
 */
import type { BackupManifest, ManifestEntry } from "./backupManifest";

/** What restore can target: the nexus, one region, or Redis. */
export type RestoreTarget = { kind: "nexus" } | { kind: "region"; regionId: string } | { kind: "redis" };

export function parseRestoreTarget(text: string): RestoreTarget {
  if (text === "nexus" || text === "redis") return { kind: text };
  const match = /^region:([A-Za-z0-9][A-Za-z0-9._-]*)$/.exec(text);
  if (match?.[1]) return { kind: "region", regionId: match[1] };
  throw new Error(`--target must be nexus, redis or region:<id>, got "${text}"`);
}

/** The manifest entry holding the data of a target (its pg_dump, or the RDB). */
export function entryForTarget(manifest: BackupManifest, target: RestoreTarget): ManifestEntry | undefined {
  return manifest.files.find((f) => {
    switch (target.kind) {
      case "nexus":
        return f.kind === "pg_dump" && f.role === "nexus-db";
      case "region":
        return f.kind === "pg_dump" && f.role === "region-db" && f.regionId === target.regionId;
      case "redis":
        return f.kind === "redis_rdb";
    }
  });
}

/** Targets a manifest can restore, e.g. ["nexus", "region:orion", "redis"]. */
export function restorableTargets(manifest: BackupManifest): string[] {
  return manifest.files.flatMap((f) =>
    f.kind === "redis_rdb"
      ? ["redis"]
      : f.kind !== "pg_dump"
        ? []
        : f.role === "nexus-db"
          ? ["nexus"]
          : [`region:${f.regionId}`],
  );
}
