/**
 * The stack in swarm mode (sectorwars:orchestrator swarm): the same plan, config and outputs as
 * container mode, declared as Docker Swarm services on overlay networks, with passwords as
 * Docker secrets and nginx.conf as a Docker config. index.ts hands over here once the config is
 * loaded and the engine checked; nothing of container mode runs.
 */
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, type PlatformConfig } from "../../planning/config";
import { initSqlArg } from "../../planning/config/database";
import { edgeNginxSettings, publicUrls } from "../../planning/edge/plan";
import type { EngineFeatures } from "../../planning/stack/engine";
import { swarmCapacity, swarmCapacityProblems } from "../../planning/swarm/capacity";
import { acrossNodes, nodeHosts } from "../../planning/swarm/nodeDocker";
import { acceptedPlacement } from "../../planning/swarm/placement";
import { type StackSecrets, configFailure } from "../config/stackConfig";
import { SWARM_RESOLVER_VALID_SECONDS, planSwarmServices } from "../../planning/swarm/services";
import { planStack } from "../../planning/stack/topology";
import { Backups } from "../backup/backups";
import { PlatformImages } from "../stack/images";
import { SwarmApps } from "./apps";
import { SwarmNexus, SwarmRedis, SwarmRegion } from "./data";
import { SwarmEdge } from "./edge";

export interface SwarmStackArgs {
  config: PlatformConfig;
  /** The certificate and PayPal credentials, from the secret keys. */
  secrets: StackSecrets;
  engine: EngineFeatures;
  /** DOCKER_HOST of the provider: a manager of the swarm. */
  dockerEnvironment: Record<string, string>;
}

/** Declares the stack as swarm services and returns the stack outputs. */
export function swarmStack(args: SwarmStackArgs) {
  const { config, secrets, dockerEnvironment } = args;
  const { swarm, placement } = acceptedPlacement(config);
  const plan = planStack(config, pulumi.getStack(), { engine: args.engine });

  // Checked before any resource is declared, so an over-budget node fails at preview.
  const capacity = swarmCapacity(plan, config, swarm, placement);
  const overBudget = swarmCapacityProblems(capacity, swarm);
  if (overBudget.length > 0) {
    throw configFailure(
      `${new ConfigError(overBudget).message}\n(\`npm run capacity -- --stack ${plan.stack}\` shows every node's table)`,
    );
  }
  const services = planSwarmServices(plan, swarm, placement, config.namePrefix);
  // Commands that run in a task's container go to the engine of the node that runs it.
  const nodeEnvironment = (node: string): Record<string, string> => {
    const host = swarm.nodes.find((n) => n.name === node)?.dockerHost;
    return host ? { DOCKER_HOST: host } : dockerEnvironment;
  };

  const images = new PlatformImages("images", { images: plan.images, namePrefix: plan.prefix });
  const edge = new SwarmEdge("edge", {
    plan: plan.edge,
    service: services.edge,
    frontNetworkName: plan.frontNetwork,
    image: images.refs.nginx,
    nginx: { ...edgeNginxSettings(plan), resolverValidSeconds: SWARM_RESOLVER_VALID_SECONDS },
    tls: secrets.tls,
    nodes: swarm.nodes,
    namePrefix: config.namePrefix,
    dockerEnvironment,
  });

  const backups = new Backups("backups", {
    ...plan.backup,
    dockerEnvironment,
    // Finds each database and Redis on the node that runs it (planning/swarm/nodeDocker.ts).
    runVia: (command) => acrossNodes(command, nodeHosts(swarm.nodes)),
  });

  const redis = new SwarmRedis("redis", {
    plan: plan.redis,
    service: services.redis,
    networkName: plan.redisNetwork,
    image: images.refs.redis,
    backup: backups,
  });

  const { initSql } = plan.database;
  const host = {
    gameserverImage: images.refs.gameserver,
    postgresImage: images.refs.postgres,
    frontNetwork: edge.frontNetwork,
    redis,
    backup: backups,
  };
  const nexus = new SwarmNexus("nexus", {
    ...host,
    plan: plan.nexus,
    services: services.nexus,
    dbNodeEnvironment: nodeEnvironment(placement.nexus),
    ...initSqlArg(initSql.nexus),
  });
  // Named by region id: reordering or removing entries leaves every other region untouched.
  const regions = plan.regions.map(
    (region) =>
      new SwarmRegion(`region-${region.id}`, {
        ...host,
        plan: region,
        ...(services.regions[region.id] ? { services: services.regions[region.id] } : {}),
        dbNodeEnvironment: nodeEnvironment(placement.regions[region.id] as string),
        ...initSqlArg(initSql.region),
      }),
  );
  const apps = new SwarmApps("apps", {
    plan,
    services: { admin: services.admin, player: services.player, paypal: services.paypal },
    images: { adminUi: images.refs.adminUi, playerUi: images.refs.playerUi, paypal: images.refs.paypal },
    frontNetwork: edge.frontNetwork,
    ...(secrets.paypalCredentials ? { paypalCredentials: secrets.paypalCredentials } : {}),
    after: edge.nodeLabels,
  });

  return {
    urls: publicUrls(plan),
    /** Service names in swarm mode (tasks' containers are `<service>.<n>.<task id>`); per region its state. */
    containers: {
      nginx: edge.serviceName,
      redis: redis.serviceName,
      nexus: { api: nexus.apiServiceName, db: nexus.dbServiceName },
      admin: apps.serviceNames.admin,
      player: apps.serviceNames.player,
      paypal: apps.serviceNames.paypal,
      regions: Object.fromEntries(
        regions.map((r) => [
          r.regionId,
          { state: r.state, api: r.apiServiceName ?? null, db: r.dbServiceName ?? null },
        ]),
      ),
    },
    edgeConfigHash: edge.configHash,
    backupDir: backups.backupDir,
    /** Per node: its tasks, budget and headroom; floating tasks in an example packing. */
    capacity,
    /** Where each database and Redis lives (its volume is on that node). */
    placement,
    engineApiVersion: args.engine.apiVersion,
  };
}
