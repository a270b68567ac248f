/**
 * PostgreSQL 15 and Redis 7 images for tests that need real containers. No registry is
 * reachable, so scripts/build-test-images.sh builds stand-ins for the official images from
 * Debian's packages (debootstrap + docker import) and caches the root file system; when the
 * images are current it returns at once.
 */
import * as path from "node:path";
import { ensureCommands, run } from "./docker";

export const TEST_IMAGES = {
  postgres: "sectorwars-test/postgres:15",
  redis: "sectorwars-test/redis:7",
} as const;

export const IMAGE_CACHE_DIR = process.env.SECTORWARS_TEST_IMAGE_CACHE ?? "/var/cache/sectorwars-test-images";

const BUILD_SCRIPT = path.resolve(__dirname, "../../scripts/build-test-images.sh");

/** Builds (or finds) the test images; needs a running Docker engine (see ensureDockerd). */
export function ensureTestImages(): typeof TEST_IMAGES {
  ensureCommands({ debootstrap: "debootstrap", flock: "util-linux" });
  const started = Date.now();
  const result = run("bash", [BUILD_SCRIPT, "--cache-dir", IMAGE_CACHE_DIR], { timeoutMs: 600_000 });
  if (result.status !== 0) {
    throw new Error(`building the test images failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`${result.stdout.trim()} [${seconds} s]`);
  return TEST_IMAGES;
}
