/**
 * A test swarm of one or more Docker engines in network namespaces (scripts/swarm-dockerd.sh),
 * apart from the default engine and the modern one, and the cleanup of what a test run made on
 * it: services first (their tasks' containers go with them), then networks, secrets, configs and
 * volumes, each by the run's label.
 */
import * as path from "node:path";
import { type EngineOption, docker, ensureCommands, run } from "./docker";
import type { Availability } from "./engineSuites";
import { IMAGE_CACHE_DIR } from "./images";
import { waitUntil } from "./process";

const SWARM_DOCKERD_SCRIPT = path.resolve(__dirname, "../../scripts/swarm-dockerd.sh");

export interface SwarmNodeEngine {
  /** The node's host name: what `node.hostname` constraints name. */
  name: string;
  /** DOCKER_HOST of its engine. */
  host: string;
  /** Its address on the test bridge: host-mode ports are published there. */
  address: string;
}

export type TestSwarm = { available: true; nodes: SwarmNodeEngine[] } | { available: false; reason: string };

/**
 * Starts (or finds) test cluster `cluster` (1 to 9, see the script) of `nodes` engines, synchronously, so that a test file can decide
 * while it is collected what runs. Unavailable only when the machine cannot run it at all (exit
 * 3, with the reason); any other failure throws.
 */
export function testSwarm(cluster: number, nodes: number): TestSwarm {
  ensureCommands({ flock: "util-linux", ip: "iproute2", unshare: "util-linux", nsenter: "util-linux" });
  const args = ["--cluster", String(cluster), "--nodes", String(nodes), "--cache-dir", IMAGE_CACHE_DIR];
  const started = run("bash", [SWARM_DOCKERD_SCRIPT, ...args], {
    timeoutMs: 600_000,
  });
  if (started.status === 3) return { available: false, reason: started.stderr.trim().split("\n").pop() ?? "" };
  if (started.status !== 0) {
    throw new Error(`scripts/swarm-dockerd.sh --nodes ${nodes} failed (${started.status}):\n${started.stderr}`);
  }
  const lines = started.stdout.trim().split("\n").filter(Boolean);
  return {
    available: true,
    nodes: lines.map((line) => {
      const [name = "", host = "", address = ""] = line.split(" ");
      return { name, host, address };
    }),
  };
}

/**
 * The test swarm a real-engine test file runs on, as describeOn takes it: started only when the
 * Pulumi engine is there (a skipped file starts nothing), else unavailable with the engine's
 * reason; `nodes` is empty when unavailable. `what` names the swarm in a skip's reason.
 */
export function engineSwarm(
  pulumiEngine: Availability,
  options: { cluster: number; nodes: number; what: string },
): { availability: Availability; nodes: SwarmNodeEngine[] } {
  if (!pulumiEngine.available) return { availability: pulumiEngine, nodes: [] };
  const swarm = testSwarm(options.cluster, options.nodes);
  return swarm.available
    ? { availability: { available: true }, nodes: swarm.nodes }
    : { availability: { available: false, reason: `${options.what}: ${swarm.reason}` }, nodes: [] };
}

const list = (args: string[], label: string, engine: EngineOption): string[] =>
  docker([...args, "--filter", `label=${label}`, "--format", "{{.ID}}"], engine)
    .split("\n")
    .filter(Boolean);

/**
 * Removes what carries `label` (k=v): services, then, once their containers are gone on every
 * node, networks, secrets, configs and each node's volumes.
 */
export async function removeSwarmLabelled(label: string, nodes: readonly SwarmNodeEngine[]): Promise<void> {
  const manager = { host: nodes[0]?.host };
  const services = list(["service", "ls"], label, manager);
  if (services.length > 0) docker(["service", "rm", ...services], manager);
  for (const node of nodes) {
    const on = { host: node.host };
    await waitUntil(
      `the tasks' containers of ${label} to go on ${node.name}`,
      () => list(["ps", "-a"], label, on).length === 0,
      120_000,
    );
  }
  for (const kind of ["network", "secret", "config"]) {
    const ids = list([kind, "ls"], label, manager);
    if (ids.length > 0) docker([kind, "rm", ...ids], manager);
  }
  for (const node of nodes) {
    const volumes = docker(["volume", "ls", "-q", "--filter", `label=${label}`], { host: node.host })
      .split("\n")
      .filter(Boolean);
    if (volumes.length > 0) docker(["volume", "rm", "-f", ...volumes], { host: node.host });
  }
}
