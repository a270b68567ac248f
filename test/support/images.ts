/**
 * Images for tests that need real containers, on any engine. No registry is reachable, so
 * scripts/build-test-images.sh builds stand-ins for the official images from Debian's packages
 * (debootstrap + docker import) and caches the root file systems; each image carries a key of its
 * inputs, so only what changed is rebuilt, and when every image is current it returns at once.
 */
import * as path from "node:path";
import { type EngineOption, ensureCommands, run } from "./docker";

export const TEST_IMAGES = {
  /** The official postgres:15's contract (POSTGRES_* env, PGDATA, initdb on first start). */
  postgres: "sectorwars-test/postgres:15",
  /** `redis-server <conf>` as the redis user. */
  redis: "sectorwars-test/redis:7",
  /** Debian bookworm's nginx, shaped like nginx:alpine for the edge (user nginx, logs to stdout/stderr, wget). */
  nginx: "sectorwars-test/nginx:1.22",
  /** The same from Debian testing: nginx >= 1.27.3, for upstream keepalive with `resolve`. */
  modernNginx: "sectorwars-test/nginx:1.30",
  /** The repo's probe/ as it is now (`node /app/server.js` as user node, curl for the health check). */
  probe: "sectorwars-test/probe",
  /** Debian's Prometheus 2.42 shaped like prom/prometheus (/bin/prometheus, /bin/promtool, user nobody, /prometheus, wget). */
  prometheus: "sectorwars-test/prometheus:2.42",
  /** Debian's Alertmanager 0.25 shaped like prom/alertmanager (/bin/alertmanager, /bin/amtool, user nobody, /alertmanager). */
  alertmanager: "sectorwars-test/alertmanager:0.25",
  /** Debian's blackbox exporter 0.23 shaped like prom/blackbox-exporter (http_2xx etc. in /etc/blackbox_exporter/config.yml). */
  blackbox: "sectorwars-test/blackbox:0.23",
  /** Debian's exporters shaped like the official images (entrypoint at their paths, user nobody, wget). */
  postgresExporter: "sectorwars-test/postgres-exporter:0.11",
  redisExporter: "sectorwars-test/redis-exporter:1.45",
  nodeExporter: "sectorwars-test/node-exporter:1.5",
  edgeLogExporter: "sectorwars-test/mtail:3.0",
  /** cAdvisor v0.61.1 built from its Go library (scripts/build-cadvisor-image.sh), shaped like ghcr.io/google/cadvisor. */
  containerExporter: "sectorwars-test/cadvisor:0.61",
  /** Debian's lego 4.9.1 shaped like goacme/lego (ENTRYPOINT /lego, root, ca-certificates, /bin/sh). */
  lego: "sectorwars-test/lego:4.9",
  /** Debian's Pebble 2.4.0, Let's Encrypt's test ACME server (/usr/bin/pebble, pebble-challtestsrv, wget); see pebble.ts. */
  pebble: "sectorwars-test/pebble:2.4",
} as const;

export const IMAGE_CACHE_DIR = process.env.SECTORWARS_TEST_IMAGE_CACHE ?? "/var/cache/sectorwars-test-images";

const BUILD_SCRIPT = path.resolve(__dirname, "../../scripts/build-test-images.sh");
/** cAdvisor's, on the monitoring base the first one builds: not in Debian, built with Go instead. */
const CADVISOR_SCRIPT = path.resolve(__dirname, "../../scripts/build-cadvisor-image.sh");

/**
 * Builds or imports the test images that are missing or out of date on the engine `host` names
 * (default: the environment's), and returns their names. Needs that engine running (see
 * ensureDockerd, ensureModernDockerd).
 */
export function ensureTestImages(engine: EngineOption = {}): typeof TEST_IMAGES {
  ensureCommands({ debootstrap: "debootstrap", flock: "util-linux" });
  const started = Date.now();
  const on = engine.host === undefined ? "" : ` on ${engine.host}`;
  const said = [BUILD_SCRIPT, CADVISOR_SCRIPT].map((script) => {
    const result = run("bash", [script, "--cache-dir", IMAGE_CACHE_DIR], { timeoutMs: 600_000, ...engine });
    if (result.status !== 0) {
      throw new Error(`building the test images${on} failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
    }
    return result.stdout.trim();
  });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`${said.join("; ")}${on} [${seconds} s]`);
  return TEST_IMAGES;
}
