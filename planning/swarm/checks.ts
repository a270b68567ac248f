/**
 * The checks of the orchestrator and swarm keys that need the rest of the config: node names,
 * placement, and what swarm mode cannot do yet, each refusal naming its key and why.
 */
import { type ConfigProblem, problemAt } from "../config/errors";
import type { PlatformConfig } from "../config/resolve";
import { placeUnits } from "./placement";

/**
 * Problems of the orchestrator and swarm keys that need the rest of the config, each with its
 * path; nothing when the orchestrator is docker and swarm is unset.
 */
export function swarmProblems(config: PlatformConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = (path: PropertyKey[], message: string) => problems.push(problemAt(path, message));
  const { swarm } = config;
  if (config.orchestrator === "docker") {
    if (swarm !== null) add(["swarm"], "is read only with sectorwars:orchestrator swarm; set that, or remove this");
    return problems;
  }
  if (swarm === null) {
    add(["swarm"], "is required with sectorwars:orchestrator swarm: at least its nodes");
    return problems;
  }
  const names = new Map<string, number>();
  swarm.nodes.forEach((n, i) => {
    const previous = names.get(n.name);
    if (previous !== undefined) add(["swarm", "nodes", i, "name"], `"${n.name}" is already swarm.nodes[${previous}]`);
    else names.set(n.name, i);
  });
  if (!swarm.nodes.some((n) => n.edge)) {
    add(["swarm", "nodes"], "no node has edge: true; the public ports would be published nowhere");
  }
  const known = (path: PropertyKey[], name: string | undefined) => {
    if (name !== undefined && !names.has(name))
      add(path, `"${name}" is not in swarm.nodes (${[...names.keys()].join(", ")})`);
  };
  known(["swarm", "homeNode"], swarm.homeNode);
  known(["swarm", "placement", "nexus"], swarm.placement.nexus);
  known(["swarm", "placement", "redis"], swarm.placement.redis);
  known(["swarm", "placement", "monitoring"], swarm.placement.monitoring);
  const regionIds = new Set(config.regions.map((r) => r.id));
  for (const [id, name] of Object.entries(swarm.placement.regions)) {
    if (!regionIds.has(id)) add(["swarm", "placement", "regions", id], "is not a region of sectorwars:regions");
    else known(["swarm", "placement", "regions", id], name);
  }

  const placed = placeUnits(config, swarm);
  if ("problem" in placed) add(placed.problem.path, placed.problem.message);

  if (config.debugPorts.publish) {
    add(
      ["debugPorts", "publish"],
      "a swarm service cannot publish on 127.0.0.1 only; reach a database with docker exec on its node instead",
    );
  }
  if (config.servicesSecret) {
    add(
      ["services"],
      "holds a value set with --secret, which a swarm service would carry in its spec in plain text; " +
        "give the service a Docker secret of its own instead",
    );
  }
  if (config.edge.staticFrom !== null) {
    add(
      ["edge", "staticFrom"],
      "is not supported with sectorwars:orchestrator swarm yet (each edge node has its own volume)",
    );
  }
  if (config.edge.upstreamKeepalive > 0) {
    // One host reloads nginx onto each new container's own name before the old one stops; a
    // service's tasks share its name, so a pool would keep a stopped task's address (README).
    add(
      ["edge", "upstreamKeepalive"],
      "is not deploy-safe with sectorwars:orchestrator swarm yet (a pool keeps a replaced task's address for seconds after it stops); set 0",
    );
  }
  if (swarm.nodes.length > 1) {
    // Backups, restore and status reach each node's containers through that node's own engine.
    const unreachable = swarm.nodes.filter((n) => n.dockerHost === undefined);
    unreachable.slice(1).forEach((n) => {
      add(
        ["swarm", "nodes", swarm.nodes.indexOf(n), "dockerHost"],
        `required with more than one node: only one (the provider's, "${unreachable[0]?.name}") may go without; ` +
          "backups, restore and status reach a node's containers through its own engine",
      );
    });
    for (const [key, image] of Object.entries(config.images)) {
      if (image.kind === "build") {
        add(
          ["images", key],
          "a local build exists on the manager only; with more than one node, name an image in a registry every node can pull",
        );
      }
    }
  }
  return problems;
}
