/**
 * What a restore does, decided without I/O: which part of a stack it targets, which container
 * holds that part and which file of a backup holds its data, and the SQL that judges and empties
 * a database. scripts/restore.ts does the reading and the Docker calls; the scripts it runs
 * inside containers are assets/restore-postgres.sh and assets/restore-redis.sh.
 */
import type { BackupManifest, ManifestEntry } from "./manifest";
import { type Role, labelFilters } from "../roles";
import { type Placement, nodeDockerHost, placedNode } from "../swarm/placement";

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

/** "region orion", "the nexus" or "Redis", for messages. */
export const describeTarget = (t: RestoreTarget): string =>
  t.kind === "region" ? `region ${t.regionId}` : t.kind === "nexus" ? "the nexus" : "Redis";

/** com.sectorwars.role of the container that holds a target's data. */
export const targetRole = (t: RestoreTarget): Role =>
  t.kind === "nexus" ? "nexus-db" : t.kind === "region" ? "region-db" : "redis";

/**
 * Where a restore finds its target in a swarm stack: the engine of the node its database is
 * pinned to (that node's dockerHost; none: the engine DOCKER_HOST reaches, the provider's), or
 * why it cannot. A swarm keeps a service's earlier tasks as exited containers beside the running
 * one, so only the running one is the target.
 */
export function swarmTargetEngine(
  target: RestoreTarget,
  swarm: { nodes: readonly { name: string; dockerHost?: string }[] },
  placement: Placement,
): { dockerHost: string | undefined } | { problem: string } {
  if (target.kind === "redis") {
    return {
      problem:
        "restoring Redis stops and starts its container, which a swarm answers with a new task; not supported in swarm mode yet",
    };
  }
  const node = placedNode(placement, target.kind === "nexus" ? target : { kind: "region", id: target.regionId });
  if (node === undefined) return { problem: `${describeTarget(target)} is not in the stack's config` };
  return { dockerHost: nodeDockerHost(swarm, node) };
}

/** `docker ps` filters that match a target's container in a stack by its labels, and nothing else. */
export function targetFilters(stack: string, target: RestoreTarget): string[] {
  return labelFilters(stack, targetRole(target), target.kind === "region" ? target.regionId : undefined);
}

// --- PostgreSQL -----------------------------------------------------------------------------

const USER_SCHEMAS = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'`;

/** How many user objects a database holds: relations, routines, types, schemas besides public, extensions. */
export const COUNT_OBJECTS_SQL = `SELECT
  (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${USER_SCHEMAS})
+ (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE ${USER_SCHEMAS})
+ (SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE ${USER_SCHEMAS} AND t.typtype IN ('e', 'd', 'r', 'm'))
+ (SELECT count(*) FROM pg_namespace n WHERE ${USER_SCHEMAS} AND n.nspname <> 'public')
+ (SELECT count(*) FROM pg_extension WHERE extname <> 'plpgsql')`;

export const COUNT_TABLES_SQL = `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${USER_SCHEMAS} AND c.relkind IN ('r', 'p')`;

/** Empties a database: every user schema goes, public comes back as PostgreSQL 15 creates it. */
export const DROP_USER_SCHEMAS_SQL = `SET LOCAL client_min_messages = warning;
DO $$
DECLARE s name;
BEGIN
  FOR s IN SELECT n.nspname FROM pg_namespace n WHERE ${USER_SCHEMAS} LOOP
    EXECUTE format('DROP SCHEMA %I CASCADE', s);
  END LOOP;
END $$;
CREATE SCHEMA public AUTHORIZATION pg_database_owner;
GRANT USAGE ON SCHEMA public TO PUBLIC;
COMMENT ON SCHEMA public IS 'standard public schema';`;

// --- Redis ----------------------------------------------------------------------------------

/** "db0:keys=3,expires=0,avg_ttl=0" lines of INFO keyspace: empty for a Redis without keys. */
export const keyspaceOf = (info: string): string[] => info.split("\n").filter((l) => /^db[0-9]+:keys=/.test(l));
