/**
 * Section 4 of BENCHMARKS.md: bring-up on real engines. Every verdict and comparison is computed
 * from the stored figures; what prod plans for is read from Pulumi.prod.yaml at render time.
 */
import { START_INTERVAL_SINCE, compareApiVersions } from "../planning/engine";
import type { BringupResult, KindRow, PathRow } from "./bringup";
import type { Spread } from "./compose";
import { fixed, table } from "./reportFormat";

/** The issue's targets ("Deploy without downtime"). */
const BRINGUP_TARGETS = { composeRatio: 1.5, addRegionSeconds: 10 } as const;

const s = (ms: number, digits = 1): string => fixed(ms / 1000, digits);
const range = (x: Spread): string => `${s(x.minMs)}–${s(x.maxMs)}`;
const engineName = (b: BringupResult, engine: "modern" | "default"): string =>
  `${engine} (${b.engines[engine].version}, API ${b.engines[engine].apiVersion})`;
/** For table cells: "modern 26.1". */
const engineShort = (b: BringupResult, engine: "modern" | "default"): string =>
  `${engine} ${/^\d+\.\d+/.exec(b.engines[engine].version)?.[0] ?? b.engines[engine].version}`;
const planName = (r: { declaredFor: string }, si: boolean): string =>
  `${r.declaredFor} (${si ? "start interval" : "no start interval"})`;
const hasStartInterval = (b: BringupResult, r: { engine: string; declaredFor: string }): boolean =>
  b.kinds.some((k) => k.engine === r.engine && k.declaredFor === r.declaredFor && k.startInterval !== null);
const chainText = (p: PathRow): string =>
  p.path.chain.map((c) => `${c.name} (${s(c.ms, 2)} s${c.source === "estimate" ? ", estimate" : ""})`).join(" → ");

function kindFindings(b: BringupResult): string[] {
  const find = (engine: string, declaredFor: string, kind: string): KindRow | undefined =>
    b.kinds.find((k) => k.engine === engine && k.declaredFor === declaredFor && k.kind === kind);
  const lines: string[] = [];
  for (const kind of [...new Set(b.kinds.map((k) => k.kind))]) {
    const withSi = find("modern", "1.45", kind);
    const without = find("modern", "1.41", kind);
    const old = find("default", "1.41", kind);
    if (!withSi || !without || !old) continue;
    const saved = without.createToHealthy.medianMs - withSi.createToHealthy.medianMs;
    lines.push(
      `- ${kind}: ${s(withSi.createToHealthy.medianMs)} s with the start interval, ${s(without.createToHealthy.medianMs)} s ` +
        `without it on the same engine (${saved >= 0 ? `${s(saved)} s saved` : `${s(-saved)} s lost`}), ` +
        `${s(old.createToHealthy.medianMs)} s on the default engine; its check's interval is ${withSi.interval}.`,
    );
  }
  return lines;
}

function verdict(ok: boolean): string {
  return ok ? "**meets**" : "**misses**";
}

function comparison(b: BringupResult, prodApi: string | undefined): string[] {
  const c = b.compose;
  const onComposeEngine = (declaredFor: string, api: string) =>
    b.paths.find(
      (p) =>
        p.scenario === "bring-up from empty" && p.engine === c.engine && p.declaredFor === declaredFor && p.api === api,
    );
  const best = onComposeEngine(c.engine === "modern" ? "1.45" : "1.41", "probe");
  const plain = c.engine === "modern" ? onComposeEngine("1.41", "probe") : undefined;
  const addRegion = (api: string) =>
    b.paths.find(
      (p) => p.scenario === "add a region" && p.engine === "modern" && p.declaredFor === "1.45" && p.api === api,
    );
  const lines: string[] = [];
  if (best) {
    const si = hasStartInterval(b, best);
    const up = c.allRunning.medianMs;
    const ratioUp = best.path.totalMs / up;
    const ratioHealthy = best.path.totalMs / c.allHealthy.medianMs;
    lines.push(
      `Bring-up from empty, same engine (${engineName(b, c.engine)}), the probe in every app role on both sides: the program's ` +
        `critical path ${planName(best, si)} is ${s(best.path.totalMs, 2)} s; \`docker-compose up -d\` had every container running ` +
        `after ${s(up, 2)} s (returned after ${s(c.upReturned.medianMs, 2)} s) and every health check passing after ${s(c.allHealthy.medianMs, 2)} s.`,
      `Against the target (≤ ${BRINGUP_TARGETS.composeRatio}× \`docker-compose up\`): ${fixed(ratioUp, 2)}× compose's \`up -d\` ` +
        `(all running; ${fixed(best.path.totalMs / c.allRunning.maxMs, 2)}× to ${fixed(best.path.totalMs / c.allRunning.minMs, 2)}× over its ${c.runs} runs), ` +
        `which ${verdict(ratioUp <= BRINGUP_TARGETS.composeRatio)} it; ${fixed(ratioHealthy, 2)}× compose until all healthy, ` +
        `which ${verdict(ratioHealthy <= BRINGUP_TARGETS.composeRatio)} it. \`up -d\` does not wait for health: its containers are ` +
        "running, not necessarily serving, when it returns; the program's figure is until every container is healthy and the edge reloaded.",
    );
    if (plain) {
      const r = plain.path.totalMs / up;
      lines.push(
        `Planned for API 1.41 on the same engine (no start interval): ${s(plain.path.totalMs, 2)} s, ${fixed(r, 2)}× compose's \`up -d\` ` +
          `(${verdict(r <= BRINGUP_TARGETS.composeRatio)}), ${fixed(plain.path.totalMs / c.allHealthy.medianMs, 2)}× compose until all healthy.`,
      );
    }
  }
  for (const api of ["probe", "probe, loading its world"]) {
    const p = addRegion(api);
    if (!p) continue;
    const ok = p.path.totalMs <= BRINGUP_TARGETS.addRegionSeconds * 1000;
    lines.push(
      `Adding a region on the modern engine with the start interval, game APIs: ${api}: ${s(p.path.totalMs, 2)} s, which ` +
        `${verdict(ok)} the target (≤ ${BRINGUP_TARGETS.addRegionSeconds} s on API ≥ ${START_INTERVAL_SINCE}). Its chain: ${chainText(p)}.`,
    );
  }
  if (prodApi !== undefined) {
    lines.push(
      compareApiVersions(prodApi, START_INTERVAL_SINCE) >= 0
        ? `Pulumi.prod.yaml plans for API ${prodApi}: prod's health checks have the start interval.`
        : `Pulumi.prod.yaml plans for API ${prodApi}: prod's health checks get no start interval (the "no start interval" figures) until \`sectorwars:engine.apiVersion\` is raised to ${START_INTERVAL_SINCE} or later on an engine that speaks it.`,
    );
  }
  return lines;
}

export function bringupSection(b: BringupResult, prodApi: string | undefined): string[] {
  const fromEmpty = b.paths.filter((p) => p.scenario === "bring-up from empty");
  const c = b.compose;
  return [
    "## 4. Bring-up on real engines",
    "",
    `Measured ${b.date} on ${b.cores} cores, 1-minute load average ${fixed(b.load.before, 2)} when the part started and ` +
      `${fixed(b.load.after, 2)} when it ended; other containers already running: ${b.otherContainers.default} on the default engine, ` +
      `${b.otherContainers.modern} on the modern one. Engines: ${engineName(b, "default")} and ${engineName(b, "modern")}.`,
    "",
    "- **Per container kind.** Each kind is started from the program's own declaration: the dev stack file under mocks",
    "  (`runProgram`, planned for API 1.45 and for 1.41), translated by `test/support/containerSpec.ts` into `docker create`",
    "  (every input, the uploads and other networks before the start, host ports on free ones), with the test images standing",
    "  in for the official ones (`sectorwars-test/postgres:15`, `redis:7`, `nginx:1.22`, `probe`). PostgreSQL is",
    "  `region-default-db` on a new volume each run (it initialises its cluster every time, as on a first deploy), the probe",
    `  is \`region-default-api\`, as it is and with \`PROBE_START_DELAY_MS=${b.loadingDelayMs}\` (a game server loading its world).`,
    `  Timed from just before \`docker create\` until a poll of the Engine API (every ${b.pollMs} ms) sees \`healthy\`: what the`,
    "  provider's `wait` waits for, plus the docker CLI's own start-up per call. The engine-clock column is the engine's",
    "  StartedAt to the end of the first passing check. Each kind runs alone; medians of the runs.",
    "",
    ...table(
      ["Kind", "Engine", "Planned for", "Interval", "Start interval", "Runs", "Create → healthy (s)", "range (s)", "Start → healthy, engine clock (s)"],
      b.kinds.map((k) => [k.kind, engineShort(b, k.engine), k.declaredFor, k.interval, k.startInterval ?? "none", String(k.runs),
        s(k.createToHealthy.medianMs, 2), range(k.createToHealthy), s(k.engineStartToHealthyMs, 2)]),
    ), // prettier-ignore
    "",
    ...kindFindings(b),
    "",
    "**Steps a deploy waits for besides containers**, run as declared (`sh -c` with the declared stdin and environment,",
    "DOCKER_HOST set to the engine): the password sync on each PostgreSQL container and the edge reload on each nginx",
    "container right after they turned healthy, the backup over an empty stack (a first deploy) and over the dev stack's",
    "three databases and Redis running (what a deploy that adds a region backs up first), `docker network create` and",
    "`docker volume create` (the Network and Volume resources).",
    "",
    ...table(
      ["Step", "Engine", "Runs", "Median (ms)", "range (ms)"],
      b.commands.map((x) => [
        x.step,
        engineShort(b, x.engine),
        String(x.runs),
        fixed(x.timing.medianMs),
        `${fixed(x.timing.minMs)}–${fixed(x.timing.maxMs)}`,
      ]),
    ),
    "",
    `Estimates, not measured: ${b.estimates.map((e) => `${e.kind}, ${s(e.ms)} s: ${e.note}`).join("; ")}. Every other step of the graph below is a measured median.`,
    "",
    "**Critical path.** The mocked graph of the dev stack (every custom resource, with the dependencies the SDK records:",
    "`dependsOn` and the outputs each one uses) weighted with the medians above, on the same engine and plan; the longest",
    "chain of waits (`bench/criticalPath.ts`) is the bring-up's length if everything that may run in parallel does. Adding a",
    "region: the dev stack plus one region against the dev stack (`test/support/diff.ts`): what is created or replaced",
    "counts, the rest exists already.",
    "",
    ...table(
      ["Scenario", "Engine", "Planned for", "Game APIs", "Critical path (s)", "Steps on it"],
      b.paths.map((p) => [p.scenario, engineShort(b, p.engine), planName(p, hasStartInterval(b, p)), p.api,
        s(p.path.totalMs), String(p.path.chain.length)]),
    ), // prettier-ignore
    "",
    "Chains, bring-up from empty:",
    "",
    ...fromEmpty.map((p) => `- ${p.engine}, ${planName(p, hasStartInterval(b, p))}, ${p.api}: ${chainText(p)}`),
    "",
    `**Compose.** ${c.version} (Debian bookworm's package) runs \`up -d\` on the seed's topology (${c.services} services:`,
    "nginx, nexus-api, nexus-db, redis, two regions' api and db, admin, player, PayPal; the seed's `depends_on` and",
    "published ports) with the same processes: the probe in the app roles with the program's environment, the generated",
    "nginx.conf and TLS files, the generated redis.conf, the same PostgreSQL database and user. Each service has the",
    `program's health check as planned for API 1.41 (${c.healthChecked} of ${c.services}; compose 1.29 has no start interval) and,`,
    "like the seed, no resource limits (the program's containers run with the dev stack's declared limits). " +
      `Engine: ${engineName(b, c.engine)}${c.fallbackReason ? `, because compose could not use the modern one: ${c.fallbackReason}` : ""}. ` +
      `\`down -v\` before each of ${c.runs} runs, so PostgreSQL initialises every time. Polled every ${b.pollMs} ms.`,
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
    ...(Math.max(b.load.before, b.load.after) > b.cores
      ? [
          `The machine was busy while this part ran (load average above its ${b.cores} cores): the medians carry that, ` +
            "compose's figures (all containers at once) more than the per-kind ones, and the verdicts below can turn on a quieter machine.",
          "",
        ]
      : []),
    ...comparison(b, prodApi),
    "",
    "What these figures are not. `pulumi up` itself cannot run here (no Pulumi CLI on this machine): the issue's targets are",
    "to be measured by a real `pulumi up` outside CI. The critical path leaves out the Pulumi engine's own per-step work and",
    "counts each container as measured alone: in a real bring-up the containers on parallel branches (the databases'",
    `initialisation above all) compete for the same ${b.cores} cores, while compose's figures were measured with all of them`,
    "starting at once. Images are on the host on both sides.",
  ];
}
