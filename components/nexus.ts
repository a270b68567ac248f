import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { StackPlan } from "../planning/topology";
import { declareApiWithDatabase } from "./postgres";
import type { SharedRedis } from "./sharedRedis";

export interface NexusArgs {
  /** The nexus API and database plan. */
  plan: StackPlan["nexus"];
  /** Image id of the gameserver. */
  gameserverImage: pulumi.Input<string>;
  /** Image id of PostgreSQL 15. */
  postgresImage: pulumi.Input<string>;
  /** Name of the edge proxy's front network. */
  frontNetwork: pulumi.Input<string>;
  /** The shared Redis; the nexus uses database 0. */
  redis: SharedRedis;
  /** Protect the data volume against deletion (prod). */
  protectData: boolean;
  /** Environment of the `docker` CLI for in-container commands (DOCKER_HOST of the provider). */
  dockerEnvironment: Record<string, string>;
  /** Runs a backup before this database container is replaced or removed. */
  backup: pulumi.Resource;
}

/** The central nexus API with its own PostgreSQL 15, data volume and private network. */
export class Nexus extends pulumi.ComponentResource {
  public readonly apiContainerName: pulumi.Output<string>;
  public readonly dbContainerName: pulumi.Output<string>;
  public readonly volumeName: pulumi.Output<string>;
  /** The database container, for the backup taken before it is replaced. */
  public readonly db: docker.Container;

  constructor(name: string, args: NexusArgs, opts?: pulumi.ComponentResourceOptions) {
    super("sectorwars:platform:Nexus", name, {}, opts);
    const stack = declareApiWithDatabase(this, name, {
      api: args.plan.api,
      db: args.plan.db,
      gameserverImage: args.gameserverImage,
      postgresImage: args.postgresImage,
      frontNetwork: args.frontNetwork,
      redisNetwork: args.redis.networkName,
      redisUrl: args.redis.url(args.plan.redisDb),
      redisContainer: args.redis.container,
      env: { REGION_TYPE: "nexus" },
      protectData: args.protectData,
      dockerEnvironment: args.dockerEnvironment,
      backup: args.backup,
    });
    this.db = stack.db;
    this.apiContainerName = stack.api.name;
    this.dbContainerName = stack.db.name;
    this.volumeName = stack.volume.name;
    this.registerOutputs({
      apiContainerName: this.apiContainerName,
      dbContainerName: this.dbContainerName,
      volumeName: this.volumeName,
    });
  }
}
