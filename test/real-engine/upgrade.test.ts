/**
 * An upgrade changes nothing that the new release does not mean to change: stacks deployed with
 * `pulumi up` by an earlier commit of this repository (SECTORWARS_UPGRADE_FROM, e.g. the release
 * running in prod) preview no change under this checkout, but the steps listed in INTENDED, each
 * with its reason, when the earlier commit predates them; the upgrade's up then restarts no
 * database or Redis and leaves nothing for the next preview. It proves a reshaping of the code
 * (files moved, components merged) renames no resource and replaces no container or volume,
 * which the URN lists (test/urns.test.ts) see only for names, not for inputs.
 *
 * The dev stack on Docker 26, the prod stack file on Docker 20.10 (TLS secrets, API 1.41 pin,
 * protected volumes) and swarm mode on a one-node test swarm. Unset, every test is reported
 * skipped with the reason: each target costs a full deploy.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { PROJECT_DIR } from "../../components/config/stackFile";
import { MONITORING_IMAGE_KEYS } from "../../planning/config/images";
import { type EngineOption, ensureDockerd, newTestRun } from "../support/docker";
import {
  DEV_REGIONS,
  dataIdentities,
  removeStackVolumes,
  type StackPlace,
  engineStackName,
  newStackPlace,
  reapDeadStacks,
  stackConfig,
  tagReleases,
} from "../support/engineStacks";
import { type Availability, describeEach } from "../support/engineSuites";
import { TEST_IMAGES, ensureTestImages } from "../support/images";
import { modernDockerd } from "../support/modernDocker";
import { EngineStack, findPulumiEngine, stepLine } from "../support/pulumiEngine";
import { readStackFile } from "../support/pulumi";
import { testSwarm } from "../support/swarm";
import { selfSignedPem } from "../support/tls";

const UPGRADE_FROM_VARIABLE = "SECTORWARS_UPGRADE_FROM";

const git = (args: string[], cwd = PROJECT_DIR): string =>
  execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();

/** The earlier commit, when it is set, exists, and needs the dependencies this checkout has installed. */
function earlierRelease(): { available: true; commit: string } | { available: false; reason: string } {
  const from = process.env[UPGRADE_FROM_VARIABLE];
  if (!from) return { available: false, reason: `${UPGRADE_FROM_VARIABLE} is unset (a commit to upgrade from)` };
  let commit: string;
  try {
    commit = git(["rev-parse", "--verify", `${from}^{commit}`]);
  } catch {
    return { available: false, reason: `${UPGRADE_FROM_VARIABLE}=${from} is not a commit of this repository` };
  }
  const lock = git(["diff", "--name-only", commit, "--", "package-lock.json", "probe/package-lock.json"]);
  if (lock !== "") {
    return {
      available: false,
      reason: `${from} has other dependencies (${lock.replace(/\n/g, ", ")}): not installed here`,
    };
  }
  return { available: true, commit };
}

const pulumiEngine = findPulumiEngine();
const release = earlierRelease();
const WEBHOOK = "http://alert-receiver.invalid:8080/hooks/upgrade-test";

/** The exporters' image keys, which a release before them does not know. */
const EXPORTER_IMAGE_KEYS: readonly string[] = ["postgresExporter", "redisExporter", "nodeExporter"];

/** The image keys an earlier release does not know: monitoring's before it, the exporters' and mtail's before them. */
function unknownImageKeys(commit: string): readonly string[] {
  if (beforeMonitoring(commit)) return MONITORING_IMAGE_KEYS;
  return [
    ...(beforeExporters(commit) ? EXPORTER_IMAGE_KEYS : []),
    ...(beforeEdgeRequests(commit) ? ["edgeLogExporter"] : []),
    ...(beforeContainers(commit) ? ["containerExporter"] : []),
  ];
}

/** The config without the image keys an earlier release does not know. */
function asEarlierRelease(config: Record<string, unknown>): Record<string, unknown> {
  if (!release.available) return config;
  const unknown = unknownImageKeys(release.commit);
  const images = Object.entries(config["sectorwars:images"] as Record<string, unknown>).filter(
    ([key]) => !unknown.includes(key),
  );
  return { ...config, "sectorwars:images": Object.fromEntries(images) };
}

/**
 * What a release means to change in a stack deployed before it: the preview steps it expects,
 * each with why, for an earlier release that `before` says predates it (read from that commit's
 * files). Any other step fails the test; so does an expected one that does not show.
 */
interface IntendedChange {
  kinds: readonly Target["kind"][];
  /** The preview's steps, as EngineStack.previewChanges spells them. */
  steps: readonly string[];
  why: string;
  before: (commit: string) => boolean;
}
const fileAt = (commit: string, file: string): string => git(["show", `${commit}:${file}`]);
const beforeBackupNodes = (commit: string): boolean => !fileAt(commit, "assets/backup.sh").includes("--node");
const beforeBaseBackups = (commit: string): boolean => !fileAt(commit, "assets/backup.sh").includes("PGBACKREST_CONF");
const beforeRedisSnapshots = (commit: string): boolean =>
  !fileAt(commit, "assets/backup.sh").includes("REPOSITORY_RESTIC");
const beforeCurrentContainers = (commit: string): boolean =>
  !fileAt(commit, "planning/edge/settings.ts").includes("currentContainers");
const beforeMonitoring = (commit: string): boolean => !fileAt(commit, "index.ts").includes("Monitoring");
const beforeExporters = (commit: string): boolean =>
  !fileAt(commit, "planning/config/images.ts").includes("postgresExporter");
const beforeEdgeRequests = (commit: string): boolean =>
  !fileAt(commit, "planning/config/images.ts").includes("edgeLogExporter");
const beforeContainers = (commit: string): boolean =>
  !fileAt(commit, "planning/config/images.ts").includes("containerExporter");
const beforeHostByDns = (commit: string): boolean =>
  !fileAt(commit, "planning/monitoring/prometheus.ts").includes("dns_sd_configs");
const beforeTaskSlots = (commit: string): boolean =>
  !fileAt(commit, "planning/monitoring/containers.ts").includes("TASK_SLOT_LABEL");
const beforeSwarmProbe = (commit: string): boolean =>
  !fileAt(commit, "planning/swarm/services.ts").includes("SWARM_PROBE_INTERVAL_MS");
const beforeTaskWaits = (commit: string): boolean =>
  !fileAt(commit, "planning/swarm/commands.ts").includes("TASK_POLL_SECONDS");
/** A replacement, as the preview lists it. */
const replaced = (name: string, diffs: string): string[] =>
  ["create-replacement", "replace"].map((op) => `${op} ${name} [${diffs}]`).concat(`delete-replaced ${name} []`);
/** The replicated services that hold data: stopped first on an update, after a backup. */
const DATA_SERVICES = ["nexus-db", "redis-server", "region-default-db", "region-orion-db"];
const STATELESS_SERVICES = [
  "apps-admin",
  "apps-paypal",
  "apps-player",
  "nexus-api",
  "region-default-api",
  "region-orion-api",
];
const INTENDED: readonly IntendedChange[] = [
  {
    kinds: ["dev", "prod", "swarm"],
    steps: ["update backups-run [create]"],
    why: "the backup script reaches each swarm node's engine itself (--node), so its text changed: one more backup",
    before: beforeBackupNodes,
  },
  {
    kinds: ["swarm"],
    steps: STATELESS_SERVICES.map((s) => `update ${s} [rollbackConfig, taskSpec, updateConfig]`).concat(
      "update edge [taskSpec]",
      replaced("edge-converged", "triggers"),
    ),
    why:
      "services without data are probed every 2 s, and stateless ones monitored 5 s after each update step: a " +
      "rolling update of each (the edge restarts), once; the wait for the edge's tasks runs again",
    before: beforeSwarmProbe,
  },
  {
    kinds: ["swarm"],
    steps: [...STATELESS_SERVICES, ...DATA_SERVICES]
      .map((service) => `create ${service}-converged []`)
      .concat(replaced("backups-run", "triggers"), "update edge-converged [create]"),
    why:
      "the up waits for each service's tasks itself, looking every 0.5 s: each replicated service gets its " +
      "wait, the edge's also reads the update's state; the provider's own wait stays in the state of a stack " +
      "deployed before (dropping it would update every service, and the provider's update reorders the " +
      "environment, which restarts the databases), and since the databases' declared specs changed, one more " +
      "backup runs",
    before: beforeTaskWaits,
  },
  {
    kinds: ["dev", "prod", "swarm"],
    steps: ["update backups-run [create]"],
    why: "the backup script takes a base backup of each database that archives (backup.repository): one more backup",
    before: beforeBaseBackups,
  },
  {
    kinds: ["dev", "prod", "swarm"],
    steps: ["update backups-run [create]"],
    why: "the backup script puts Redis's snapshot in the backup repository (backup.repository): one more backup",
    before: beforeRedisSnapshots,
  },
  {
    kinds: ["prod"],
    steps: ["update edge-reload [stdin]"],
    why:
      "with keepalive pools (prod), each pool names its backend's current container first, so a swap's reload " +
      "leaves nginx no address of the old one: the reload installs that nginx.conf",
    before: beforeCurrentContainers,
  },
  {
    kinds: ["prod"],
    steps: [
      "monitoring",
      "monitoring-images",
      ...["alertmanager-0-25", "blackbox-0-23", "prometheus-2-42"].map((i) => `monitoring-images-sectorwars-test-${i}`),
      "monitoring-net",
      "monitoring-prometheus-data",
      "monitoring-alertmanager-data",
      "monitoring-blackbox",
      "monitoring-alertmanager",
      "monitoring-prometheus",
    ].map((name) => `create ${name} []`),
    why:
      "prod is watched by default (monitoring.enabled): Prometheus, Alertmanager and the prober come, and need " +
      "the secret monitoringAlertWebhook, which the operator sets with the upgrade",
    before: beforeMonitoring,
  },
  {
    kinds: ["prod"],
    steps: [
      ...["postgres-exporter-0-11", "redis-exporter-1-45", "node-exporter-1-5"].map(
        (i) => `monitoring-images-sectorwars-test-${i}`,
      ),
      ...["nexus-db", ...DEV_REGIONS.map((r) => `region-${r.id}-db`), "redis", "node"].map(
        (watched) => `monitoring-${watched}-exporter`,
      ),
    ].map((name) => `create ${name} []`),
    why: "with monitoring, each database, Redis and the host's disk get their exporter",
    before: beforeExporters,
  },
  {
    kinds: ["prod"],
    steps: ["monitoring-images-sectorwars-test-mtail-3-0", "monitoring-edge-requests"].map(
      (name) => `create ${name} []`,
    ),
    why: "with monitoring, mtail reads the edge container's log for each region's requests; the edge is not touched",
    before: beforeEdgeRequests,
  },
  {
    kinds: ["prod"],
    steps: ["monitoring-images-sectorwars-test-cadvisor-0-61", "monitoring-containers"].map(
      (name) => `create ${name} []`,
    ),
    why: "with monitoring on one host, cAdvisor reads every container's CPU, memory and restarts; nothing else is touched",
    before: beforeContainers,
  },
  {
    kinds: ["prod"],
    steps: replaced("monitoring-containers", "command"),
    why:
      "cAdvisor also exports each container's swarm task name (the slot ContainerRestartLoop counts in swarm " +
      "mode): its flags change, which replaces its container; it keeps nothing",
    before: (commit) => beforeTaskSlots(commit) && !beforeContainers(commit),
  },
  {
    kinds: ["prod"],
    steps: replaced("monitoring-prometheus", "uploads"),
    why:
      "Prometheus scrapes the exporters (mtail and cAdvisor among them, the host's exporter found by DNS as in " +
      "swarm mode, each swarm task's slot labelled) and " +
      "has their rules: its files change, which replaces its container (its series stay in its volume); the " +
      "databases, Redis and the edge are not touched",
    before: (commit) =>
      [beforeExporters, beforeEdgeRequests, beforeHostByDns, beforeContainers, beforeTaskSlots].some((before) =>
        before(commit),
      ) && !beforeMonitoring(commit),
  },
];
/** Sorted, each once (two changes may each rerun one step): the preview lists steps in the order the engine reaches them. */
const intendedSteps = (kind: Target["kind"], commit: string): string[] =>
  [...new Set(INTENDED.filter((c) => c.kinds.includes(kind) && c.before(commit)).flatMap((c) => c.steps))].sort();

interface Target {
  name: string;
  kind: "dev" | "prod" | "swarm";
  suite: "pulumi";
  availability: Availability;
}

function availabilityOf(needs: { available: true } | { available: false; reason: string } | undefined): Availability {
  if (!pulumiEngine.available) return pulumiEngine;
  if (!release.available) return release;
  return needs?.available === false ? { available: false, reason: needs.reason } : { available: true };
}

const modern = pulumiEngine.available && release.available ? modernDockerd() : undefined;
const swarm = pulumiEngine.available && release.available ? testSwarm(1, 1) : undefined;
const TARGETS: Target[] = [
  { name: "the dev stack on Docker 26", kind: "dev", suite: "pulumi", availability: availabilityOf(modern) },
  {
    name: "the prod stack file on Docker 20.10",
    kind: "prod",
    suite: "pulumi",
    availability: availabilityOf(undefined),
  },
  { name: "swarm mode on one node", kind: "swarm", suite: "pulumi", availability: availabilityOf(swarm) },
];

let checkout = "";
beforeAll(() => {
  if (!release.available || !pulumiEngine.available) return;
  checkout = fs.mkdtempSync(path.join(os.tmpdir(), "sectorwars-release-"));
  git(["worktree", "add", "--detach", checkout, release.commit]);
  // Same lock files (checked above): the release runs on this checkout's installed modules.
  fs.symlinkSync(path.join(PROJECT_DIR, "node_modules"), path.join(checkout, "node_modules"));
  fs.symlinkSync(path.join(PROJECT_DIR, "probe", "node_modules"), path.join(checkout, "probe", "node_modules"));
}, 120_000);

afterAll(() => {
  if (checkout !== "") git(["worktree", "remove", "--force", checkout]);
});

describeEach(TARGETS, "an upgrade from an earlier release: $name", (target) => {
  const run = newTestRun("real-engine");
  const stackName = engineStackName(run.id, `upgrade-${target.kind}`);
  let engine: EngineOption = {};
  let place: StackPlace;
  let stack: EngineStack;
  /** The stack's config under this checkout: the earlier release's, with what it would refuse. */
  let current: Record<string, unknown>;

  beforeAll(async () => {
    if (!pulumiEngine.available) return;
    const node = swarm?.available ? swarm.nodes[0] : undefined;
    engine =
      target.kind === "dev" && modern?.available
        ? { host: modern.host }
        : target.kind === "swarm" && node
          ? { host: node.host }
          : {};
    if (target.kind === "prod") await ensureDockerd();
    reapDeadStacks(engine, target.kind === "swarm");
    ensureTestImages(engine);
    const { v1 } = tagReleases(engine);
    place = await newStackPlace(run.id);
    const dev = readStackFile("dev");
    const tls = selfSignedPem("localhost");
    const config =
      target.kind === "prod"
        ? stackConfig("prod", place, {
            gameserver: v1,
            regions: DEV_REGIONS,
            // The prod file's pools need nginx >= 1.27.3, as it pins.
            nginx: TEST_IMAGES.modernNginx,
            "sectorwars:sizeProfiles": dev["sectorwars:sizeProfiles"],
            "sectorwars:redis": dev["sectorwars:redis"],
          })
        : stackConfig("dev", place, {
            gameserver: v1,
            regions: DEV_REGIONS,
            ...(target.kind === "swarm" && node
              ? {
                  "sectorwars:orchestrator": "swarm",
                  "sectorwars:swarm": { nodes: [{ name: node.name, cpus: 8, memoryGb: 16, edge: true }] },
                }
              : {}),
          });
    current = config;
    stack = await EngineStack.create({
      engine: pulumiEngine,
      stackName,
      dockerHost: engine.host ?? process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock",
      config: asEarlierRelease(config),
      programDir: checkout,
      ...(target.kind === "prod"
        ? {
            secrets: {
              "sectorwars:tlsCertificate": tls.certificate,
              "sectorwars:tlsPrivateKey": tls.key,
              "sectorwars:paypalClientId": "engine-test-paypal-client-id",
              "sectorwars:paypalClientSecret": "engine-test-paypal-client-secret",
              // A release that watches prod needs it from the start; an earlier one refuses it.
              ...(release.available && !beforeMonitoring(release.commit)
                ? { "sectorwars:monitoringAlertWebhook": WEBHOOK }
                : {}),
            },
          }
        : {}),
    });
  }, 600_000);

  afterAll(async () => {
    if (!stack) return;
    await stack.destroy({ excludeProtected: true }).catch((error: unknown) => console.error(error));
    removeStackVolumes(stackName, engine);
    stack.dispose();
    fs.rmSync(place.backupDir, { recursive: true, force: true });
  }, 600_000);

  it("previews no change under this checkout, but what it means to change, for a stack the earlier release deployed", async () => {
    await stack.up();
    await stack.useProgram(PROJECT_DIR);
    if (release.available && unknownImageKeys(release.commit).length > 0) {
      // What the operator sets with the upgrade: the earlier release would refuse these keys.
      stack.writeConfig(current);
    }
    if (release.available && beforeMonitoring(release.commit)) {
      if (target.kind === "prod") {
        await stack.stack.setConfig("sectorwars:monitoringAlertWebhook", { value: WEBHOOK, secret: true });
      }
    }
    const intended = release.available ? intendedSteps(target.kind, release.commit) : [];
    const previewed = await stack.previewSteps();
    const steps = previewed.map(stepLine).sort();
    // What differs within each unexpected step, to tell why it shows.
    const why = previewed
      .filter((s) => !intended.includes(stepLine(s)))
      .map((s) => `${stepLine(s)}: ${s.detailed.join("; ")}`);
    expect(steps, `preview of ${target.kind} after upgrading; unexpected:\n${why.join("\n")}`).toEqual(intended);
  }, 900_000);

  it("upgrades with an up that restarts no database or Redis, after which a preview shows no change", async () => {
    const data = dataIdentities(stackName, [engine]);
    expect(Object.keys(data).length, "databases and Redis running before the upgrade").toBeGreaterThan(0);
    await stack.up();
    expect(dataIdentities(stackName, [engine]), "databases and Redis: id@startedAt").toEqual(data);
    expect(await stack.previewChanges(), `preview of ${target.kind} after the upgrade's up`).toEqual([]);
  }, 900_000);
});
