import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { RegionPlan } from "../planning/topology";
import { databaseVolume, declareApiWithDatabase } from "./postgres";
import type { SharedRedis } from "./sharedRedis";

export interface RegionArgs {
  /** The region's plan: ids, names, sizes; derived from its config entry alone. */
  plan: RegionPlan;
  /** Image id of the gameserver. */
  gameserverImage: pulumi.Input<string>;
  /** Image id of PostgreSQL 15. */
  postgresImage: pulumi.Input<string>;
  /** Name of the edge proxy's front network. */
  frontNetwork: pulumi.Input<string>;
  /** The shared Redis; the region uses the database index of its slot. */
  redis: SharedRedis;
  /** Protect the data volume against deletion (prod). */
  protectData: boolean;
  /** Environment of the `docker` CLI for in-container commands (DOCKER_HOST of the provider). */
  dockerEnvironment: Record<string, string>;
  /** Runs a backup before this database container is replaced or removed. */
  backup: pulumi.Resource;
}

/**
 * One galaxy region: its API, its own PostgreSQL 15, data volume and private network. A retired
 * region keeps only its data volume.
 */
export class Region extends pulumi.ComponentResource {
  public readonly regionId: string;
  public readonly state: RegionPlan["state"];
  /** Container names; undefined while the region is retired. */
  public readonly apiContainerName?: pulumi.Output<string>;
  public readonly dbContainerName?: pulumi.Output<string>;
  public readonly volumeName: pulumi.Output<string>;
  public readonly networkName?: pulumi.Output<string>;
  /** The database container, for the backup taken before it is replaced or removed. */
  public readonly db?: docker.Container;

  constructor(name: string, args: RegionArgs, opts?: pulumi.ComponentResourceOptions) {
    super("sectorwars:platform:Region", name, {}, opts);
    const { plan } = args;
    this.regionId = plan.id;
    this.state = plan.state;
    if (plan.state === "retired") {
      this.volumeName = databaseVolume(this, name, plan.db, args.protectData).name;
      this.registerOutputs({ state: this.state, volumeName: this.volumeName });
      return;
    }
    const stack = declareApiWithDatabase(this, name, {
      api: plan.api,
      db: plan.db,
      gameserverImage: args.gameserverImage,
      postgresImage: args.postgresImage,
      frontNetwork: args.frontNetwork,
      redisNetwork: args.redis.networkName,
      redisUrl: args.redis.url(plan.redisDb),
      redisContainer: args.redis.container,
      env: { REGION_ID: plan.id, REGION_NAME: plan.name, REGION_TYPE: plan.type },
      protectData: args.protectData,
      dockerEnvironment: args.dockerEnvironment,
      backup: args.backup,
    });
    this.db = stack.db;
    this.apiContainerName = stack.api.name;
    this.dbContainerName = stack.db.name;
    this.volumeName = stack.volume.name;
    this.networkName = stack.network.name;
    this.registerOutputs({
      state: this.state,
      apiContainerName: this.apiContainerName,
      dbContainerName: this.dbContainerName,
      volumeName: this.volumeName,
      networkName: this.networkName,
    });
  }
}
