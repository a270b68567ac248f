/**
 * The `sectorwars:regions` part of the stack config: what a region id may be, each entry's
 * schema, and the rules over the whole list (one default region, ids and slots unique).
 */
import { z } from "zod";
import { profileName } from "./capacity";
import { DEFAULTS } from "./defaults";
import { type ConfigProblem, problemAt } from "./errors";

/**
 * Lowercase slug or UUID; both fit Docker names, DNS labels and URL paths unchanged, and are safe
 * inside an nginx location, a regex and a JSON body. The one definition: the config schema and
 * the nginx generator's own validation both use it.
 */
export const REGION_ID_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;

/** Redis' own limit is far higher; this keeps host ports (base + slot) and `databases` small. */
export const MAX_SLOT = 999;

const region = z.strictObject({
  id: z
    .string()
    .regex(REGION_ID_PATTERN, "must be a lowercase slug or UUID (a-z, 0-9, '-', at most 40 characters)")
    .describe("Stable id: appears in /api/regions/<id>/, container and resource names. Never change it."),
  name: z.string().trim().min(1).max(100).describe("Display name, passed to the API as REGION_NAME."),
  type: z.enum(["default", "player_owned"]).describe("Exactly one region is `default`; it also serves legacy /api/."),
  slot: z
    .number()
    .int()
    .min(1)
    .max(MAX_SLOT)
    .describe("Unique, never reused: the region's Redis database index and the offset of any host port it publishes."),
  size: profileName
    .default(DEFAULTS.region.size)
    .describe(`A region size from sectorwars:regionSizes (default "${DEFAULTS.region.size}").`),
  state: z
    .enum(["active", "retired"])
    .default(DEFAULTS.region.state)
    .describe(
      "retired: containers removed, routes answer 410, data volume and slot kept. Set back to active to bring it back on the same data.",
    ),
});

export const regionsSchema = z
  .array(region)
  .min(1, "at least one region is needed")
  .describe("The galaxy regions, one API + PostgreSQL each.");

/**
 * Exactly one default region; ids and slots unique. Works on the raw list, on whatever entries
 * are well-formed, so that a typo elsewhere does not hide a reused slot.
 */
export function checkRegionList(regions: unknown): ConfigProblem[] {
  if (!Array.isArray(regions)) return [];
  const problems: ConfigProblem[] = [];
  const add = (path: PropertyKey[], message: string) => problems.push(problemAt(path, message));
  const entries = regions.map((r: unknown) =>
    typeof r === "object" && r !== null ? (r as Record<string, unknown>) : {},
  );
  const defaults = entries.filter((r) => r.type === "default");
  if (regions.length > 0 && defaults.length === 0)
    add(["regions"], 'exactly one region must have type "default"; none has');
  defaults
    .slice(1)
    .forEach((r) =>
      add(
        ["regions", entries.indexOf(r), "type"],
        `only one region can be "default"; "${String(defaults[0]?.id)}" already is`,
      ),
    );
  const seenIds = new Map<string, number>();
  const seenSlots = new Map<number, string>();
  entries.forEach((r, i) => {
    if (typeof r.id === "string") {
      const previous = seenIds.get(r.id);
      if (previous !== undefined) add(["regions", i, "id"], `"${r.id}" is already used by regions[${previous}]`);
      else seenIds.set(r.id, i);
    }
    if (typeof r.slot === "number") {
      const owner = seenSlots.get(r.slot);
      if (owner !== undefined) add(["regions", i, "slot"], `${r.slot} is already used by region "${owner}"`);
      else seenSlots.set(r.slot, typeof r.id === "string" ? r.id : `regions[${i}]`);
    }
  });
  return problems;
}
