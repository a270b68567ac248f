/**
 * SectorWars platform: the composition root. Load and validate the stack config, ask the Docker
 * engine what it supports, build the components, return the stack outputs.
 *
 * The program is an async function (Pulumi awaits it and takes what it returns as the outputs):
 * the engine's answer decides the plan, so it must arrive before any resource is declared.
 */
import * as pulumi from "@pulumi/pulumi";
import { Backups } from "./components/backup/backups";
import { EdgeProxy } from "./components/edge/edgeProxy";
import { PlatformImages } from "./components/stack/images";
import { Nexus } from "./components/stack/nexus";
import { Region } from "./components/stack/region";
import { SharedRedis } from "./components/stack/sharedRedis";
import { configFailure, loadStackConfig, stackSecrets } from "./components/config/stackConfig";
import { WebApps } from "./components/stack/webApps";
import { askEngineApiVersion } from "./components/config/dockerEngine";
import { capacityReport } from "./planning/capacity/check";
import { capacityProblems } from "./planning/capacity/text";
import { ConfigError, configPath } from "./planning/config";
import { initSqlArg } from "./planning/config/database";
import { edgeNginxSettings, publicUrls } from "./planning/edge/plan";
import { resolveEngine } from "./planning/stack/engine";
import { planStack } from "./planning/stack/topology";
import { swarmStack } from "./components/swarm/stack";

async function main() {
  const { config, secrets } = loadStackConfig();
  const given = stackSecrets(secrets, config);

  // Commands that run `docker exec` must reach the same engine as the provider.
  const dockerHost = new pulumi.Config("docker").get("host");
  const dockerEnvironment: Record<string, string> = dockerHost ? { DOCKER_HOST: dockerHost } : {};

  // Checked before any resource is declared: an engine too old for the plan fails the preview, never an update halfway.
  const engine = resolveEngine({
    configured: config.engine.apiVersion,
    reported: await askEngineApiVersion(dockerEnvironment),
    where: dockerHost ?? process.env.DOCKER_HOST ?? "the local Docker socket",
  });
  if ("problem" in engine) {
    throw configFailure(
      new ConfigError([{ path: configPath(["engine", "apiVersion"]), message: engine.problem }]).message,
    );
  }

  if (config.orchestrator === "swarm")
    return swarmStack({ config, secrets: given, engine: engine.features, dockerEnvironment });

  // From here on only the plan (the capacity check still takes config): each component gets its slice.
  const plan = planStack(config, pulumi.getStack(), { engine: engine.features });

  // Checked before any resource is declared, so an over-budget stack fails at preview.
  const capacityCheck = capacityReport(plan, config);
  const overBudget = capacityProblems(capacityCheck);
  if (overBudget.length > 0) {
    throw configFailure(
      `${new ConfigError(overBudget).message}\n(\`npm run capacity -- --stack ${plan.stack}\` shows the full table)`,
    );
  }

  const images = new PlatformImages("images", { images: plan.images, namePrefix: plan.prefix });

  const edge = new EdgeProxy("edge", {
    plan: plan.edge,
    frontNetworkName: plan.frontNetwork,
    image: images.ids.nginx,
    nginx: edgeNginxSettings(plan),
    tls: given.tls,
    dockerEnvironment,
    ...(plan.edge.staticFrom
      ? { staticFill: { source: plan.edge.staticFrom, playerUiImage: images.ids.playerUi } }
      : {}),
  });

  const backups = new Backups("backups", { ...plan.backup, dockerEnvironment });

  const redis = new SharedRedis("redis", {
    plan: plan.redis,
    networkName: plan.redisNetwork,
    image: images.ids.redis,
    protectData: plan.protectData,
    backup: backups,
  });

  // Every API waits for every database's migration, which exist only once all are declared.
  const migrations = deferred<pulumi.Resource[]>();
  const { initSql, migration } = plan.database;

  // What the nexus and every region share.
  const apiHost = {
    gameserverImage: images.ids.gameserver,
    postgresImage: images.ids.postgres,
    frontNetwork: edge.frontNetworkName,
    // Typed as RedisAccess: the APIs see its URLs, network and container, nothing else.
    redis,
    protectData: plan.protectData,
    dockerEnvironment,
    backup: backups,
    ...(migration ? { migration: { command: migration.command, all: migrations.promise } } : {}),
  };

  const nexus = new Nexus("nexus", { ...apiHost, plan: plan.nexus, ...initSqlArg(initSql.nexus) });

  // Named by region id: reordering or removing entries leaves every other region untouched.
  const regions = plan.regions.map(
    (region) => new Region(`region-${region.id}`, { ...apiHost, plan: region, ...initSqlArg(initSql.region) }),
  );
  migrations.resolve([nexus, ...regions].flatMap((owner) => (owner.migration ? [owner.migration] : [])));

  const apps = new WebApps("apps", {
    plan,
    images: { adminUi: images.ids.adminUi, playerUi: images.ids.playerUi, paypal: images.ids.paypal },
    frontNetwork: edge.frontNetworkName,
    ...(given.paypalCredentials ? { paypalCredentials: given.paypalCredentials } : {}),
    playerAfter: edge.staticFill ? [edge.staticFill] : [],
  });

  // After every service behind the edge, so that a swapped one is reloaded into nginx before its
  // predecessor goes (see EdgeProxy.declareReload).
  edge.declareReload([nexus.api, ...regions.flatMap((r) => (r.api ? [r.api] : [])), ...apps.containers]);

  /** Container names; per region also its state (a retired region has no containers). */
  const containers = {
    nginx: edge.containerName,
    redis: redis.containerName,
    nexus: { api: nexus.apiContainerName, db: nexus.dbContainerName },
    admin: apps.adminContainerName,
    player: apps.playerContainerName,
    paypal: apps.paypalContainerName,
    regions: Object.fromEntries(
      regions.map((r) => [
        r.regionId,
        { state: r.state, api: r.apiContainerName ?? null, db: r.dbContainerName ?? null },
      ]),
    ),
  };

  return {
    urls: publicUrls(plan),
    containers,
    edgeConfigHash: edge.configHash,
    /** Where this stack's backups land, on the machine that runs `pulumi up`. */
    backupDir: backups.backupDir,
    /** Per-service and total CPU and memory, headroom, and how many more regions of each size fit. */
    capacity: capacityCheck,
    /** The Docker Engine API version the plan was made for. */
    engineApiVersion: engine.features.apiVersion,
  };
}

/** A promise and the function that settles it. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((settle) => (resolve = settle));
  return { promise, resolve };
}

export = main;
