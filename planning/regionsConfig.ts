/**
 * The `sectorwars:regions` part of the stack config: what a region id may be, and the slot range.
 */

/**
 * Lowercase slug or UUID; both fit Docker names, DNS labels and URL paths unchanged, and are safe
 * inside an nginx location, a regex and a JSON body. The one definition: the config schema and
 * the nginx generator's own validation both use it.
 */
export const REGION_ID_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;

/** Redis' own limit is far higher; this keeps host ports (base + slot) and `databases` small. */
export const MAX_SLOT = 999;
