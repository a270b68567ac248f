/**
 * Section 4 of BENCHMARKS.md: deploys through the real Pulumi engine, against docker-compose in
 * the same run. Every verdict is computed from the stored figures.
 */
import type { Spread } from "./compose";
import { type DeployResult, type Operation, TARGETS, type Target } from "./deploy";
import { fixed, table } from "./reportFormat";

/** The targets of "Deploys as fast as docker-compose". */
export const DEPLOY_TARGETS = {
  composeRatio: 1.5,
  addRegionSeconds: 8,
  noChangeSeconds: 5,
  swarmFirstUpRatio: 2,
  swarmNoChangeSeconds: 8,
} as const;

const s = (ms: number, digits = 1): string => fixed(ms / 1000, digits);
const range = (x: Spread): string => `${s(x.minMs)}–${s(x.maxMs)}`;
const verdict = (ok: boolean): string => (ok ? "**meets**" : "**misses**");

/** The median of one operation on one target, in seconds. */
function secondsOf(d: DeployResult, target: Target, operation: Operation): number {
  const row = d.rows.find((r) => r.target === target && r.operation === operation);
  return row && row.runs > 0 ? row.timing.medianMs / 1000 : Number.NaN;
}

/** Each target of the issue, its figure and whether it is met. */
export function deployVerdicts(d: DeployResult): string[] {
  const t = DEPLOY_TARGETS;
  const oneHost = (op: Operation) => secondsOf(d, "one host, Docker 26", op);
  const swarm = (op: Operation) => secondsOf(d, "swarm, one node, Docker 26", op);
  const composeHealthy = d.compose.allHealthy.medianMs / 1000;
  const upRatio = oneHost("up from empty") / composeHealthy;
  const swarmRatio = swarm("up from empty") / oneHost("up from empty");
  return [
    `- Bring-up from empty to all healthy, one host on Docker 26: ${fixed(oneHost("up from empty"), 1)} s against compose's ` +
      `${fixed(composeHealthy, 1)} s, ${fixed(upRatio, 2)}× (target ≤ ${t.composeRatio}×): ${verdict(upRatio <= t.composeRatio)}.`,
    `- Add a region, one host on Docker 26: ${fixed(oneHost("add a region"), 1)} s (target ≤ ${t.addRegionSeconds} s): ` +
      `${verdict(oneHost("add a region") <= t.addRegionSeconds)}.`,
    `- No-change \`pulumi up\`, one host on Docker 26: ${fixed(oneHost("no-change up"), 1)} s (target ≤ ${t.noChangeSeconds} s): ` +
      `${verdict(oneHost("no-change up") <= t.noChangeSeconds)}; on Docker 20.10: ` +
      `${fixed(secondsOf(d, "one host, Docker 20.10", "no-change up"), 1)} s.`,
    `- Swarm, first up: ${fixed(swarm("up from empty"), 1)} s, ${fixed(swarmRatio, 2)}× one host's (target ≤ ${t.swarmFirstUpRatio}×): ` +
      `${verdict(swarmRatio <= t.swarmFirstUpRatio)}.`,
    `- Swarm, no-change up: ${fixed(swarm("no-change up"), 1)} s (target ≤ ${t.swarmNoChangeSeconds} s): ` +
      `${verdict(swarm("no-change up") <= t.swarmNoChangeSeconds)}; its image update: ${fixed(swarm("image update"), 1)} s, ` +
      "until swarm's rolling update of each API is through: its two tasks one after the other, 5 s apart (the edge's " +
      "resolver), the last watched 5 s (README, swarm mode's Updates); `pulumi up` waits for that, where the provider " +
      "ended its wait once as many tasks ran, the old ones counted.",
  ];
}

export function deploySection(d: DeployResult): string[] {
  const c = d.compose;
  const busy = Math.max(d.load.before, d.load.after) > d.cores;
  return [
    "## 4. Deploys through the real Pulumi engine",
    "",
    `Measured ${d.date} on ${d.cores} cores with ${d.pulumi} (1-minute load average ${fixed(d.load.before, 2)} when the ` +
      `part started, ${fixed(d.load.after, 2)} when it ended). Engines: Docker ${d.engines.modern.version} (API ` +
      `${d.engines.modern.apiVersion}) and ${d.engines.default.version} (API ${d.engines.default.apiVersion}); the swarm is ` +
      "one node of Docker 26 in a network namespace of its own (scripts/swarm-dockerd.sh). No registry serves the test " +
      "images there: the manager's digest lookup and each task's pull fail at once (a proxy that refuses, and name " +
      "servers the node's namespace rejects), as a registry of a real cluster answers at once, and the node runs its " +
      "local image." +
      (d.roundsFrom
        ? ` The rounds ran just before, in a process whose compose peer failed; their samples came from ${d.roundsFrom}.`
        : ""),
    "",
    "Each figure is the CLI as an operator runs it, `pulumi up --yes --skip-preview` (or `destroy`), on this repository's " +
      "program with its own Pulumi.yaml (`test/support/pulumiEngine.ts` `cli`), from its start until it exits: program " +
      "evaluation (ts-node, transpile only: tsconfig.pulumi.json), " +
      "the engine's diff, the providers' work and every wait the program declares (health checks, the backup before a " +
      "database changes, the edge reload or the swarm edge's convergence). The dev stack with the test images and the probe " +
      "in every app role; each run starts from an empty backend: up, an up with nothing changed, a region added (`vega`), a " +
      "new game-server image (a new image id that starts at once), destroy. Medians of the runs; steps are the resources the " +
      "engine created, updated, replaced or deleted.",
    "",
    ...table(
      ["Target", "Operation", "Runs", "Median (s)", "range (s)", "Steps"],
      TARGETS.flatMap((target) =>
        d.rows
          .filter((r) => r.target === target)
          .map((r) => [target, r.operation, String(r.runs), s(r.timing.medianMs), range(r.timing), String(r.steps)]),
      ),
    ),
    "",
    `**Compose, same run.** ${c.version} runs \`up -d\` on the seed's topology (${c.services} services: nginx, nexus-api and ` +
      "-db, redis, two regions' api and db, admin, player, PayPal; the seed's `depends_on` and published ports) with the " +
      "same processes as the program's containers (the probe with their environment, the generated nginx.conf, TLS files and " +
      `redis.conf, the same database and user), ${c.healthChecked} of ${c.services} with the program's health check, run every ` +
      `${c.checkIntervals.join(" or ")} (compose 1.29 has no start interval: this is its nearest equivalent), no resource ` +
      `limits, as in the seed. On the ${c.engine} engine, \`down -v\` before each of ${c.runs} runs.`,
    "",
    ...table(
      ["From `docker-compose up -d`", "Median (s)", "range (s)"],
      [
        ["until `up -d` returned", s(c.upReturned.medianMs, 2), range(c.upReturned)],
        ["until every container was running", s(c.allRunning.medianMs, 2), range(c.allRunning)],
        ["until every health check passed", s(c.allHealthy.medianMs, 2), range(c.allHealthy)],
      ],
    ),
    "",
    "**Against the targets** (`up -d` returns before anything is healthy, so the comparison is until all healthy):",
    "",
    ...deployVerdicts(d),
    ...(busy
      ? [
          "",
          "The machine was busy while this part ran (load average above its cores): the medians carry that, and a verdict " +
            "can turn on a quieter machine.",
        ]
      : []),
  ];
}
