/**
 * SectorWars platform: the composition root. Load and validate the stack config, ask the Docker
 * engine what it supports, build the components, return the stack outputs.
 *
 * The program is an async function (Pulumi awaits it and takes what it returns as the outputs):
 * the engine's answer decides the plan, so it must arrive before any resource is declared.
 */
import * as pulumi from "@pulumi/pulumi";
import { Archive } from "./components/backup/archive";
import { Backups } from "./components/backup/backups";
import { Monitoring } from "./components/monitoring/monitoring";
import { Nexus } from "./components/stack/nexus";
import { oneHost } from "./components/stack/oneHost";
import { Region } from "./components/stack/region";
import { SharedRedis } from "./components/stack/sharedRedis";
import { configFailure, loadStackConfig, stackSecrets } from "./components/config/stackConfig";
import { WebApps } from "./components/stack/webApps";
import { askDockerRootDir, askEngineApiVersion } from "./components/config/dockerEngine";
import { swarm } from "./components/swarm/stack";
import { ConfigError, configPath } from "./planning/config";
import { initSqlArg } from "./planning/config/database";
import { publicUrls } from "./planning/edge/plan";
import { engineSocketPath } from "./planning/monitoring/containers";
import { resolveEngine } from "./planning/stack/engine";
import { planStack } from "./planning/stack/topology";

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

  // From here on only the plan (the orchestrator's checks still take config): each component gets its slice.
  const plan = planStack(config, pulumi.getStack(), { engine: engine.features });
  // Its checks (capacity, placement) run before it declares anything, so a failing one fails the preview.
  const site = (config.orchestrator === "swarm" ? swarm : oneHost)({
    config,
    plan,
    secrets: given,
    dockerEnvironment,
  });
  const { backend, images, edge } = site;
  // The monitoring's mtail reads the edge's log where this engine keeps it, cAdvisor the
  // containers' layers there (every node of a swarm keeps them where the manager does).
  const engineHost = plan.monitoring
    ? {
        dockerRootDir: await askDockerRootDir(dockerEnvironment),
        socket: engineSocketPath(dockerHost ?? process.env.DOCKER_HOST),
      }
    : undefined;

  const backups = new Backups("backups", { ...plan.backup, dockerEnvironment });
  // Continuous archiving off the host (swarm mode refuses backup.repository in its checks).
  const archive =
    plan.backup.archive && given.backupRepository
      ? new Archive("archive", {
          plan: plan.backup.archive,
          ...given.backupRepository,
          postgresImage: images.postgres,
          dockerEnvironment,
        })
      : undefined;

  const redis = new SharedRedis("redis", {
    backend,
    plan: plan.redis,
    networkName: plan.redisNetwork,
    image: images.redis,
    protectData: plan.protectData,
    backup: backups,
  });

  // Every API waits for every database's migration, which exist only once all are declared.
  const migrations = deferred<pulumi.Resource[]>();
  const { initSql, migration } = plan.database;

  // What the nexus and every region share.
  const apiHost = {
    backend,
    gameserverImage: images.gameserver,
    postgresImage: images.postgres,
    frontNetwork: edge.frontNetwork,
    // Typed as RedisAccess: the APIs see its URLs, network and workload, nothing else.
    redis,
    protectData: plan.protectData,
    backup: backups,
    ...(migration ? { migration: { command: migration.command, all: migrations.promise } } : {}),
    ...(archive ? { archive } : {}),
  };

  const nexus = new Nexus("nexus", { ...apiHost, plan: plan.nexus, ...initSqlArg(initSql.nexus) });

  // Named by region id: reordering or removing entries leaves every other region untouched.
  const regions = plan.regions.map(
    (region) => new Region(`region-${region.id}`, { ...apiHost, plan: region, ...initSqlArg(initSql.region) }),
  );
  migrations.resolve([nexus, ...regions].flatMap((owner) => (owner.migration ? [owner.migration] : [])));

  const apps = new WebApps("apps", {
    backend,
    plan,
    images: { adminUi: images.adminUi, playerUi: images.playerUi, paypal: images.paypal },
    frontNetwork: edge.frontNetwork,
    ...(given.paypalCredentials ? { paypalCredentials: given.paypalCredentials } : {}),
    after: edge.appsAfter,
    playerAfter: edge.playerAfter,
  });

  edge.behind({
    nexus: nexus.api,
    ...apps.apps,
    regions: Object.fromEntries(regions.flatMap((r) => (r.api ? [[r.regionId, r.api]] : []))),
  });

  const monitoring =
    plan.monitoring && engineHost
      ? new Monitoring("monitoring", {
          backend,
          plan: plan.monitoring,
          stack: plan.stack,
          edge: plan.edge,
          frontNetwork: edge.frontNetwork,
          images: site.moreImages("monitoring-images", plan.monitoring.images),
          ...(given.alertWebhook ? { alertWebhook: given.alertWebhook } : {}),
          protectData: plan.protectData,
          watched: {
            // By each database's container name, as the exporters' plans name what they watch.
            databases: Object.fromEntries(
              [nexus, ...regions].flatMap((owner) =>
                owner.database ? [[owner.database.containerName, owner.database]] : [],
              ),
            ),
            redis: { network: redis.network, password: redis.password },
            engine: engineHost,
            edgeLogDirectory: edge.logDirectory(engineHost.dockerRootDir),
          },
        })
      : undefined;

  /**
   * Container names (swarm: service names, whose tasks' containers are `<service>.<n>.<task id>`);
   * per region also its state (a retired region has none).
   */
  const containers = {
    nginx: edge.name,
    redis: redis.serverName,
    nexus: { api: nexus.apiName, db: nexus.dbName },
    admin: apps.names.admin,
    player: apps.names.player,
    paypal: apps.names.paypal,
    ...(monitoring ? { monitoring: monitoring.names } : {}),
    regions: Object.fromEntries(
      regions.map((r) => [r.regionId, { state: r.state, api: r.apiName ?? null, db: r.dbName ?? null }]),
    ),
  };

  return {
    urls: publicUrls(plan),
    containers,
    edgeConfigHash: edge.configHash,
    /** Where this stack's backups land, on the machine that runs `pulumi up`. */
    backupDir: backups.backupDir,
    ...site.outputs,
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
