/**
 * Config edits whose blast radius is pinned: test/blastRadius.test.ts asserts each one exactly,
 * the bench prints the counts into BENCHMARKS.md. Every scenario starts from the same baseline.
 */
import { type TestRegion, devConfigWith, generatedRegions } from "./configs";
import { readStackFile } from "./pulumi";

/** The image a new game-server version comes in. */
export const NEW_GAMESERVER = "registry.example/sectorwars/gameserver:1.4.2";

/** The region the single-region edits touch. */
export const EDITED_REGION = "sector-001";

/**
 * Two region sizes besides "standard": "tall" differs in memory and CPU reservation only
 * (what Docker updates on a running container), "wide" also in its CPU limit.
 */
function sizeConfig(): Record<string, unknown> {
  const dev = readStackFile("dev")["sectorwars:sizeProfiles"] as Record<string, unknown>;
  const profile = (cpus: number, memory: string, reservedCpus: number, reservedMemory: string) => ({
    limits: { cpus, memory },
    reservations: { cpus: reservedCpus, memory: reservedMemory },
  });
  return {
    "sectorwars:sizeProfiles": {
      ...dev,
      "region-api-tall": profile(0.5, "512M", 0.2, "128M"),
      "region-db-tall": profile(0.5, "1G", 0.2, "256M"),
      "region-api-wide": profile(1, "512M", 0.2, "128M"),
      "region-db-wide": profile(1, "1G", 0.2, "256M"),
    },
    "sectorwars:regionSizes": {
      tall: { api: "region-api-tall", db: "region-db-tall" },
      wide: { api: "region-api-wide", db: "region-db-wide" },
    },
  };
}

/** The dev stack with four regions, the extra sizes, and the backup schedule on (as in prod). */
export function blastConfig(regions: readonly TestRegion[], generation = 0): Record<string, unknown> {
  return {
    ...devConfigWith(regions),
    ...sizeConfig(),
    "sectorwars:backup": { dir: ".backups", schedule: "daily", generation },
  };
}

export const BASE_REGIONS: readonly TestRegion[] = generatedRegions(4);

const resized = (size: string): TestRegion[] => BASE_REGIONS.map((r) => (r.id === EDITED_REGION ? { ...r, size } : r));

export interface BlastScenario {
  key: string;
  /** What the edit is, as BENCHMARKS.md shows it. */
  title: string;
  config: Record<string, unknown>;
}

export const BLAST_SCENARIOS: readonly BlastScenario[] = [
  {
    key: "add",
    title: "add a region (slot 5)",
    config: blastConfig([...BASE_REGIONS, { id: "sector-004", name: "Sector 4", type: "player_owned", slot: 5 }]),
  },
  {
    key: "addPastRedisDatabases",
    title: "add a region whose slot needs more Redis databases (slot 16)",
    config: blastConfig([...BASE_REGIONS, { id: "sector-015", name: "Sector 15", type: "player_owned", slot: 16 }]),
  },
  { key: "remove", title: `remove a region (${EDITED_REGION})`, config: blastConfig(withoutEdited()) },
  { key: "reorder", title: "reorder the regions", config: blastConfig([...BASE_REGIONS].reverse()) },
  { key: "backupGeneration", title: "bump backup.generation", config: blastConfig(BASE_REGIONS, 1) },
  {
    key: "resizeMemory",
    title: `resize ${EDITED_REGION}: memory and CPU reservation`,
    config: blastConfig(resized("tall")),
  },
  { key: "resizeCpus", title: `resize ${EDITED_REGION}: also its CPU limit`, config: blastConfig(resized("wide")) },
  {
    key: "gameserverImage",
    title: "deploy a new gameserver image",
    config: { ...blastConfig(BASE_REGIONS), "sectorwars:images": { gameserver: NEW_GAMESERVER } },
  },
  {
    key: "stopGrace",
    title: "give region APIs 60 s to stop (services.region-api)",
    config: { ...blastConfig(BASE_REGIONS), "sectorwars:services": { "region-api": { stopGraceSeconds: 60 } } },
  },
  { key: "edgeKeepalive", title: "turn on edge.upstreamKeepalive", config: withEdge({ upstreamKeepalive: 32 }) },
  {
    key: "httpsRedirectDefault",
    title: "set edge.httpsRedirect to its dev default (false)",
    config: withEdge({ httpsRedirect: false }),
  },
  { key: "httpsRedirect", title: "turn on edge.httpsRedirect", config: withEdge({ httpsRedirect: true }) },
  {
    key: "staticFromImage",
    title: "fill /static/ from the player UI image (edge.staticFrom)",
    config: withEdge({ staticFrom: { playerUiPath: "/app/build/static" } }),
  },
];

/** The baseline with the dev stack file's edge settings plus `edge`. */
function withEdge(edge: Record<string, unknown>): Record<string, unknown> {
  return {
    ...blastConfig(BASE_REGIONS),
    "sectorwars:edge": { ...(readStackFile("dev")["sectorwars:edge"] as object), ...edge },
  };
}

function withoutEdited(): TestRegion[] {
  return BASE_REGIONS.filter((r) => r.id !== EDITED_REGION);
}

export const BASELINE_CONFIG = blastConfig(BASE_REGIONS);

/** Init SQL fixtures and a migration command for the database scenarios. */
export const SCHEMA_FILES = {
  nexus: "test/fixtures/schema/nexus-init.sql",
  region: "test/fixtures/schema/region-init.sql",
  regionEdited: "test/fixtures/schema/region-init-v2.sql",
} as const;
export const MIGRATE_COMMAND = ["npm", "run", "migrate"];

/** The baseline (or another config) with `sectorwars:database` set. */
export function withDatabase(
  database: unknown,
  config: Record<string, unknown> = BASELINE_CONFIG,
): Record<string, unknown> {
  return { ...config, "sectorwars:database": database };
}

/** The region the database scenarios add. */
export const ADDED_REGION: TestRegion = { id: "sector-004", name: "Sector 4", type: "player_owned", slot: 5 };
