/**
 * The swarm planners without Pulumi: the orchestrator and swarm config keys (a table of bad
 * inputs, one problem line each), placement (placed units never move, whatever is added,
 * retired or reordered), per-node capacity (no node over budget in an accepted plan), and the
 * service plans' update policies.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { stringify as stringifyYaml } from "yaml";
import { describe, expect, it } from "vitest";
import { ConfigError, type ParseContext, type PlatformConfig, parseConfig } from "../planning/config";
import { DEFAULT_REPLICAS, type SwarmSettings } from "../planning/swarm/config";
import { swarmCapacity, swarmCapacityProblems } from "../planning/swarm/capacity";
import { type Placement, placeUnits } from "../planning/swarm/placement";
import { allSwarmServices, goDurationMs, planSwarmServices, serviceDuration } from "../planning/swarm/services";
import { allContainers, planStack } from "../planning/stack/topology";
import { backupCommand } from "../planning/backup/run";
import { backupCommandFor } from "../scripts/backup";
import { swarmTargetEngine } from "../planning/backup/restore";
import { runCapacity } from "../scripts/capacity";
import { rawOf } from "./support/configs";
import { readStackFile } from "./support/pulumi";
import { REGISTRY_IMAGES, THREE_NODES, swarmDevConfig } from "./support/swarmConfigs";

const noSecrets: ParseContext = { presentSecrets: new Set() };
const raw = rawOf(swarmDevConfig());
const swarmOf = (r: Record<string, unknown>) => r.swarm as Record<string, unknown>;

function problemsOf(config: unknown, context: ParseContext = noSecrets): string[] {
  try {
    parseConfig(config, context);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.path}: ${p.message}`);
    throw err;
  }
  return [];
}

const withSwarm = (swarm: Record<string, unknown>) => ({ ...raw, swarm: { ...swarmOf(raw), ...swarm } });
const twoNodes = [
  { name: "node-1", cpus: 8, memoryGb: 16, edge: true },
  { name: "node-2", cpus: 8, memoryGb: 16, dockerHost: "ssh://ops@node-2" },
];

describe("sectorwars:orchestrator and sectorwars:swarm", () => {
  it("default to container mode with no cluster, and parse the three-node dev stack", () => {
    const { orchestrator: _o, swarm: _s, ...docker } = raw;
    const plain = parseConfig({ ...docker, images: REGISTRY_IMAGES }, noSecrets);
    expect([plain.orchestrator, plain.swarm]).toEqual(["docker", null]);
    const config = parseConfig(raw, noSecrets);
    expect(config.orchestrator).toBe("swarm");
    expect(config.swarm?.replicas["region-api"]).toBe(DEFAULT_REPLICAS);
    expect(config.swarm?.nodes.map((n) => [n.name, n.edge])).toEqual([
      ["node-1", true],
      ["node-2", false],
      ["node-3", false],
    ]);
  });

  const cases: [string, unknown, string][] = [
    ["swarm mode without a cluster", { ...raw, swarm: undefined }, "sectorwars:swarm: is required with sectorwars:orchestrator swarm: at least its nodes"],
    ["a cluster in container mode", { ...raw, orchestrator: "docker" }, "sectorwars:swarm: is read only with sectorwars:orchestrator swarm; set that, or remove this"],
    ["an unknown orchestrator", { ...raw, orchestrator: "kubernetes" }, 'sectorwars:orchestrator: Invalid option: expected one of "docker"|"swarm"'],
    ["no node", withSwarm({ nodes: [] }), "sectorwars:swarm.nodes: at least one node is needed"],
    ["a node named twice", withSwarm({ nodes: [...THREE_NODES, THREE_NODES[1]] }), 'sectorwars:swarm.nodes[3].name: "node-2" is already swarm.nodes[1]'],
    ["no edge node", withSwarm({ nodes: THREE_NODES.map((n) => ({ ...n, edge: false })) }), "sectorwars:swarm.nodes: no node has edge: true; the public ports would be published nowhere"],
    ["a bad node name", withSwarm({ nodes: [{ ...THREE_NODES[0], name: "node 1" }] }), "sectorwars:swarm.nodes[0].name: must be a node's host name (docker node ls, HOSTNAME)"],
    ["a bad label key", withSwarm({ nodes: [{ ...THREE_NODES[0], labels: { "Zone!": "a" } }] }), "sectorwars:swarm.nodes[0].labels.Zone!: must be a node label key such as zone or disk.ssd"],
    ["a bad DOCKER_HOST", withSwarm({ nodes: [{ ...THREE_NODES[0], dockerHost: "node-1:2375" }] }), "sectorwars:swarm.nodes[0].dockerHost: must be a DOCKER_HOST value such as ssh://ops@node-2 or unix:///var/run/docker.sock"],
    ["a home node not in the cluster", withSwarm({ homeNode: "node-9" }), 'sectorwars:swarm.homeNode: "node-9" is not in swarm.nodes (node-1, node-2, node-3)'],
    ["a region placed on an unknown node", withSwarm({ placement: { regions: { default: "node-2", orion: "node-7" } } }), 'sectorwars:swarm.placement.regions.orion: "node-7" is not in swarm.nodes (node-1, node-2, node-3)'],
    ["a placement for no region", withSwarm({ placement: { regions: { default: "node-2", orion: "node-3", vega: "node-3" } } }), "sectorwars:swarm.placement.regions.vega: is not a region of sectorwars:regions"],
    ["two nodes, unplaced units, no home node", withSwarm({ nodes: twoNodes, homeNode: undefined, placement: { regions: { orion: "node-2" } } }), "sectorwars:swarm.homeNode: required with 2 nodes: nexus, redis, region default have no swarm.placement entry. Name the node their data volumes are on (while the cluster had one node, that node): a plan made from the config alone cannot tell which node was there first, and a wrong guess starts a database on an empty volume"],
    ["no task of a service", withSwarm({ replicas: { "region-api": 0 } }), "sectorwars:swarm.replicas.region-api: Too small: expected number to be >=1"],
    ["a second node without its own engine's address", withSwarm({ nodes: THREE_NODES.map(({ dockerHost, ...n }) => (n.name === "node-2" ? n : { ...n, dockerHost })) }), 'sectorwars:swarm.nodes[1].dockerHost: required with more than one node: only one (the provider\'s, "node-1") may go without; backups, restore and status reach a node\'s containers through its own engine'],
    ["debug ports", { ...raw, debugPorts: { publish: true } }, "sectorwars:debugPorts.publish: a swarm service cannot publish on 127.0.0.1 only; reach a database with docker exec on its node instead"],
    ["a local build on a cluster", { ...raw, images: { ...REGISTRY_IMAGES, gameserver: { context: "probe" } } }, "sectorwars:images.gameserver: a local build exists on the manager only; with more than one node, name an image in a registry every node can pull"],
    ["a static fill", { ...raw, edge: { ...(raw.edge as object), staticFrom: { directory: "public" } } }, "sectorwars:edge.staticFrom: is not supported with sectorwars:orchestrator swarm yet (each edge node has its own volume)"],
    ["keepalive pools", { ...raw, edge: { ...(raw.edge as object), upstreamKeepalive: 32 } }, "sectorwars:edge.upstreamKeepalive: is not deploy-safe with sectorwars:orchestrator swarm yet (a pool keeps a replaced task's address for seconds after it stops); set 0"],
  ]; // prettier-ignore
  it.each(cases)("refuses %s", (_what, config, problem) => {
    expect(problemsOf(config)).toEqual([problem]);
  });

  it("accepts continuous archiving: each database's task archives from the node it runs on", () => {
    const withRepository = { ...raw, backup: { repository: { url: "s3:https://s3.example.com/bkp" } } };
    const secrets = new Set(["backupRepositoryPassword", "backupRepositoryCredentials"] as const);
    expect(problemsOf(withRepository, { ...noSecrets, presentSecrets: secrets })).toEqual([]);
  });

  it("refuses secret-valued service environment, which a service spec would carry in plain text", () => {
    expect(problemsOf(raw, { ...noSecrets, secretValued: new Set(["services"]) })).toEqual([
      "sectorwars:services: holds a value set with --secret, which a swarm service would carry in its spec in plain text; give the service a Docker secret of its own instead",
    ]);
  });

  it("implies the home node on a one-node cluster, which may build images locally", () => {
    const config = parseConfig(
      { ...raw, images: {}, swarm: { nodes: [{ name: "solo", cpus: 8, memoryGb: 16, edge: true }] } },
      noSecrets,
    );
    const placed = placeUnits(config, config.swarm as SwarmSettings);
    expect(placed).toEqual({
      placement: { nexus: "solo", redis: "solo", regions: { default: "solo", orion: "solo" } },
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Placement: a unit's node depends on its own entry and the home node only.

const nodeNames = fc.uniqueArray(fc.constantFrom("a", "b", "c", "d", "e", "f"), { minLength: 2, maxLength: 5 });
const regionIds = fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9]{0,5}$/), { minLength: 1, maxLength: 8 });

interface Scenario {
  nodes: string[];
  home: string;
  regions: { id: string; slot: number; state: "active" | "retired" }[];
  pins: Record<string, string | undefined>;
}

const scenario: fc.Arbitrary<Scenario> = fc.tuple(nodeNames, regionIds).chain(([nodes, ids]) =>
  fc.record({
    nodes: fc.constant(nodes),
    home: fc.constantFrom(...nodes),
    regions: fc.tuple(
      ...ids.map((id) =>
        fc.record({
          id: fc.constant(id),
          slot: fc.integer({ min: 1, max: 999 }),
          state: fc.constantFrom("active" as const, "retired" as const),
        }),
      ),
    ),
    pins: fc.record(Object.fromEntries(ids.map((id) => [id, fc.constantFrom(...nodes)])), { requiredKeys: [] }),
  }),
);

const settings = (s: Scenario): SwarmSettings => ({
  nodes: s.nodes.map((name) => ({ name, cpus: 8, memoryGb: 16, labels: {}, edge: true })),
  homeNode: s.home,
  placement: {
    regions: Object.fromEntries(Object.entries(s.pins).filter((e): e is [string, string] => e[1] !== undefined)),
  },
  replicas: { "nexus-api": 1, "region-api": 1, "admin-ui": 1, "player-ui": 1, paypal: 1 },
});

const placementOf = (s: Scenario): Placement => {
  const placed = placeUnits(
    { regions: s.regions.map((r) => ({ ...r, name: r.id, type: "player_owned", size: "standard" })) },
    settings(s),
  );
  if ("problem" in placed) throw new Error(placed.problem.message);
  return placed.placement;
};

describe("placement", () => {
  it("puts each unit on its pin, else on the home node", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const p = placementOf(s);
        for (const r of s.regions) expect(p.regions[r.id]).toBe(s.pins[r.id] ?? s.home);
        expect([p.nexus, p.redis]).toEqual([s.home, s.home]);
      }),
    );
  });

  it("never moves a placed unit when regions are added (any slot), retired, or nodes added and reordered", () => {
    fc.assert(
      fc.property(scenario, scenario, fc.integer(), (before, extra, seed) => {
        const known = new Set(before.regions.map((r) => r.id));
        const added = extra.regions.filter((r) => !known.has(r.id));
        const nodes = [...new Set([...extra.nodes, ...before.nodes])].sort(
          (a, b) => ((a.charCodeAt(0) * seed) % 7) - ((b.charCodeAt(0) * seed) % 7),
        );
        const after: Scenario = {
          nodes,
          home: before.home,
          // Added regions may take lower slots than existing ones; every existing one may retire.
          regions: [...added, ...before.regions.map((r) => ({ ...r, state: "retired" as const }))],
          pins: { ...Object.fromEntries(added.map((r) => [r.id, nodes[0] as string])), ...before.pins },
        };
        const was = placementOf(before);
        const now = placementOf(after);
        for (const r of before.regions) expect(now.regions[r.id], `region ${r.id}`).toBe(was.regions[r.id]);
        expect([now.nexus, now.redis]).toEqual([was.nexus, was.redis]);
      }),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Per-node capacity.

const base = parseConfig(raw, noSecrets);

function capacityFor(config: PlatformConfig) {
  const swarm = config.swarm as SwarmSettings;
  const placed = placeUnits(config, swarm);
  if ("problem" in placed) throw new Error(placed.problem.message);
  const plan = planStack(config, "test");
  const report = swarmCapacity(plan, config, swarm, placed.placement);
  return { report, problems: swarmCapacityProblems(report, swarm), plan, placement: placed.placement };
}

describe("per-node capacity", () => {
  it("counts each database on its own node and packs the floating tasks where they fit", () => {
    const { report, problems } = capacityFor(base);
    expect(problems).toEqual([]);
    const tasks = (node: string) =>
      report.nodes.find((n) => n.node === node)?.report.containers.map((c) => c.name) ?? [];
    expect(tasks("node-2")).toContain("sectorwars-dev_region_default_db");
    expect(tasks("node-3")).toContain("sectorwars-dev_region_orion_db");
    expect(tasks("node-1")).toEqual(
      expect.arrayContaining(["sectorwars-dev_nexus_db", "sectorwars-dev_redis", "sectorwars-dev_nginx@node-1"]),
    );
    const all = report.nodes.flatMap((n) => n.report.containers.map((c) => c.name));
    // 2 databases + nexus db + redis + edge, and 2 tasks of each of 5 stateless services (2 region APIs).
    expect(all).toHaveLength(5 + 2 * 6);
  });

  it("names the node whose pinned databases do not fit", () => {
    const small = {
      ...base,
      swarm: {
        ...(base.swarm as SwarmSettings),
        nodes: (base.swarm as SwarmSettings).nodes.map((n) => (n.name === "node-3" ? { ...n, memoryGb: 1 } : n)),
      },
    };
    expect(capacityFor(small).problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      "sectorwars:swarm.nodes[2].memoryGb: node node-3: memory reservations add up to 128M, the budget is 0M = host 1G - 1G reserved: 128M over; largest: sectorwars-dev_region_orion_db (128M); the 1 region takes 128M together",
      "sectorwars:swarm.nodes[2].memoryGb: node node-3: memory limits add up to 512M, at most 0M allowed (budget 0M = host 1G - 1G reserved, x 1 overcommit): 512M over; largest: sectorwars-dev_region_orion_db (512M); the 1 region takes 512M together",
    ]);
  });

  it("never accepts a plan with a node over budget, and places every task when it accepts", () => {
    let accepted = 0;
    fc.assert(
      fc.property(
        fc.array(fc.record({ cpus: fc.integer({ min: 1, max: 8 }), memoryGb: fc.integer({ min: 1, max: 8 }) }), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.integer({ min: 1, max: 4 }),
        (sizes, replicas) => {
          const nodes = sizes.map((s, i) => ({ name: `n${i}`, ...s, labels: {}, edge: i === 0 }));
          const swarm: SwarmSettings = {
            nodes,
            homeNode: "n0",
            placement: { regions: { orion: `n${sizes.length - 1}` } },
            replicas: {
              "nexus-api": replicas,
              "region-api": replicas,
              "admin-ui": 1,
              "player-ui": 1,
              paypal: replicas,
            },
          };
          const { report, problems } = capacityFor({ ...base, swarm });
          if (problems.length > 0) return;
          accepted++;
          for (const n of report.nodes) {
            for (const check of n.report.checks) expect(check.ok, `${n.node} ${check.dimension}`).toBe(true);
          }
          expect(report.unplaced).toEqual([]);
        },
      ),
      { numRuns: 200 },
    );
    // Not vacuous: some generated clusters fit, some do not.
    expect(accepted).toBeGreaterThan(10);
    expect(accepted).toBeLessThan(200);
  });
});

describe("service plans", () => {
  it("start-first with rollback for the stateless services, stop-first for data and the edge", () => {
    const { plan, placement } = capacityFor(base);
    const services = allSwarmServices(planSwarmServices(plan, base.swarm as SwarmSettings, placement, base.namePrefix));
    const orders = Object.fromEntries(services.map((s) => [s.container.role, s.update.order]));
    expect(orders).toEqual({
      nginx: "stop-first",
      redis: "stop-first",
      "nexus-api": "start-first",
      "nexus-db": "stop-first",
      "admin-ui": "start-first",
      "player-ui": "start-first",
      paypal: "start-first",
      "region-api": "start-first",
      "region-db": "stop-first",
    });
    for (const s of services) {
      expect(s.endpointMode).toBe("dnsrr");
      expect(s.container.healthcheck.startInterval, s.serviceName).toBeUndefined();
    }
  });

  it("probes a service without data every 2 s, unhealthy no sooner than its role's check says; data keeps its interval", () => {
    const { plan, placement } = capacityFor(base);
    const services = allSwarmServices(planSwarmServices(plan, base.swarm as SwarmSettings, placement, base.namePrefix));
    const byRole = new Map(allContainers(plan).map((c) => [c.role, c.healthcheck]));
    const probes = Object.fromEntries(
      services.map((s) => {
        const own = byRole.get(s.container.role) as { interval: string; retries: number };
        const { interval, retries } = s.container.healthcheck;
        const window = goDurationMs(interval) * retries;
        return [s.container.role, { interval, unhealthyNoSooner: window >= goDurationMs(own.interval) * own.retries }];
      }),
    );
    const fast = { interval: "2s", unhealthyNoSooner: true };
    const data = { interval: "10s", unhealthyNoSooner: true };
    expect(probes).toEqual({
      nginx: fast,
      "nexus-api": fast,
      "admin-ui": fast,
      "player-ui": fast,
      paypal: fast,
      "region-api": fast,
      redis: data,
      "nexus-db": data,
      "region-db": data,
    });
  });
});

describe("durations as the docker provider reads a service back (Go's Duration.String, shortened)", () => {
  it.each([
    [0, "0s"],
    [500, "500ms"],
    [1_000, "1s"],
    [1_500, "1.5s"],
    [15_000, "15s"],
    [60_000, "1m"],
    [90_000, "1m30s"],
    [3_600_000, "1h"],
    [3_660_000, "1h1m"],
    [3_601_000, "1h0m1s"],
  ])("%i ms is %s", (ms, text) => {
    expect(serviceDuration(ms)).toBe(text);
    expect(goDurationMs(text)).toBe(ms);
  });

  it.each(["", "1", "1m0", "m", "1x", "1m 0s", "-1s"])("refuses %j, which is no Go duration", (text) => {
    expect(() => goDurationMs(text)).toThrow("is not a Go duration");
  });

  it("round-trips every whole number of milliseconds", () => {
    fc.assert(fc.property(fc.nat(10 * 3_600_000), (ms) => goDurationMs(serviceDuration(ms)) === ms));
  });

  it("is how every planned service states its durations: nothing for a preview to see as changed", () => {
    const { plan, placement } = capacityFor(base);
    const services = allSwarmServices(planSwarmServices(plan, base.swarm as SwarmSettings, placement, base.namePrefix));
    const durations = services.flatMap((s) => [
      s.container.healthcheck.interval,
      s.container.healthcheck.timeout,
      s.container.healthcheck.startPeriod,
      s.stopGracePeriod,
      s.restart.delay,
      s.restart.window,
      s.update.delay,
      s.update.monitor,
      s.rollback.delay,
      s.rollback.monitor,
    ]);
    expect(durations.filter((d) => serviceDuration(goDurationMs(d)) !== d)).toEqual([]);
    expect(durations).toContain("1m");
  });
});

describe("npm run capacity for a swarm stack", () => {
  /** A stack file written as `pulumi config set` would, run through the CLI's entry point. */
  function capacityOfStackFile(config: Record<string, unknown>): ReturnType<typeof runCapacity> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "swarm-capacity-"));
    try {
      fs.writeFileSync(path.join(dir, "Pulumi.swarm.yaml"), stringifyYaml({ config }));
      return runCapacity(["--stack", "swarm"], dir);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  it("prints one table per node and exits 0 when every node fits", () => {
    const result = capacityOfStackFile(swarmDevConfig());
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    for (const node of ["node-1", "node-2", "node-3"]) {
      expect(result.stdout).toContain(`Capacity of stack "swarm, node ${node}": host 8 CPUs / 16G`);
    }
    expect(result.stdout).toContain("sectorwars-dev_region_orion_db");
    expect(result.stdout).toMatch(/Every node within budget \(3 nodes\)\.\n$/);
  });

  it("exits 1 naming the node that does not fit", () => {
    const nodes = THREE_NODES.map((n) => (n.name === "node-2" ? { ...n, cpus: 0.6 } : n));
    const result = capacityOfStackFile(swarmDevConfig(nodes));
    expect(result.status).toBe(1);
    expect(result.stdout).toContain("sectorwars:swarm.nodes[1].cpus: node node-2: CPU limits add up to");
    expect(result.stderr).toBe('Stack "swarm" does not fit on its nodes (1 problem, listed above).\n');
  });
});

describe("npm run backup", () => {
  it("runs the program's backup across a swarm stack's nodes, and as it is against one host", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "swarm-backup-"));
    try {
      fs.writeFileSync(path.join(dir, "Pulumi.swarm.yaml"), stringifyYaml({ config: swarmDevConfig() }));
      fs.writeFileSync(path.join(dir, "Pulumi.dev.yaml"), stringifyYaml({ config: readStackFile("dev") }));
      const swarmCommand = backupCommandFor(["--stack", "swarm"], dir);
      expect(swarmCommand).toEqual(
        backupCommand({
          stack: "swarm",
          backupDir: path.join(dir, ".backups/swarm"),
          parallelism: 2,
          retentionDays: 30,
          nodes: ["default", "ssh://ops@node-2", "ssh://ops@node-3"],
        }),
      );
      expect(backupCommandFor(["--stack", "dev"], dir)).toEqual(
        backupCommand({ stack: "dev", backupDir: path.join(dir, ".backups/dev"), parallelism: 2, retentionDays: 30 }),
      );
      expect(backupCommandFor([], dir)).toEqual({ error: "--stack NAME is required" });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("npm run restore in a swarm stack", () => {
  const swarm = { nodes: THREE_NODES };
  const placement: Placement = { nexus: "node-1", redis: "node-1", regions: { default: "node-2", orion: "node-3" } };
  it.each([
    ["the nexus, on the provider's node", { kind: "nexus" }, { dockerHost: undefined }],
    ["a region, on its node", { kind: "region", regionId: "orion" }, { dockerHost: "ssh://ops@node-3" }],
    ["a region the config does not have", { kind: "region", regionId: "vega" }, { problem: "region vega is not in the stack's config" }],
    ["Redis", { kind: "redis" }, { problem: "restoring Redis stops and starts its container, which a swarm answers with a new task; not supported in swarm mode yet" }],
  ] as const)("reaches %s", (_what, target, expected) => {
    expect(swarmTargetEngine(target, swarm, placement)).toEqual(expected);
  }); // prettier-ignore
});
