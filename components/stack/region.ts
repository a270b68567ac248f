import * as pulumi from "@pulumi/pulumi";
import type { RegionPlan } from "../../planning/stack/topology";
import type * as command from "@pulumi/command";
import type * as docker from "@pulumi/docker";
import { type DatabaseSchemaArgs, type GameApiHostArgs, databaseVolume, declareApiWithDatabase } from "./gameApi";

export interface RegionArgs extends GameApiHostArgs, DatabaseSchemaArgs {
  /** The region's plan: ids, names, sizes; derived from its config entry alone. */
  plan: RegionPlan;
}

/**
 * One galaxy region: its API, its own PostgreSQL 15, data volume and private network. A retired
 * region keeps only its data volume.
 */
export class Region extends pulumi.ComponentResource {
  public readonly regionId: string;
  public readonly state: RegionPlan["state"];
  /** The region API container (the edge reloads after a new one is up); undefined while retired. */
  public readonly api?: docker.Container;
  /** Container names; undefined while the region is retired. */
  public readonly apiContainerName?: pulumi.Output<string>;
  public readonly dbContainerName?: pulumi.Output<string>;
  public readonly volumeName: pulumi.Output<string>;
  public readonly networkName?: pulumi.Output<string>;
  /** The region database's migration, when the stack has a migration step and the region is active. */
  public readonly migration?: command.local.Command;

  constructor(name: string, args: RegionArgs, opts?: pulumi.ComponentResourceOptions) {
    super("sectorwars:platform:Region", name, {}, opts);
    const { plan, ...host } = args;
    this.regionId = plan.id;
    this.state = plan.state;
    if (plan.state === "retired") {
      this.volumeName = databaseVolume(name, { db: plan.db, protect: args.protectData }, { parent: this }).name;
      this.registerOutputs({ state: this.state, volumeName: this.volumeName });
      return;
    }
    const stack = declareApiWithDatabase(this, name, {
      ...host,
      api: plan.api,
      db: plan.db,
      redisDb: plan.redisDb,
      env: plan.identityEnv,
    });
    this.api = stack.api;
    this.apiContainerName = stack.api.name;
    this.dbContainerName = stack.db.name;
    this.volumeName = stack.volume.name;
    this.networkName = stack.network.name;
    this.migration = stack.migration;
    this.registerOutputs({
      state: this.state,
      apiContainerName: this.apiContainerName,
      dbContainerName: this.dbContainerName,
      volumeName: this.volumeName,
      networkName: this.networkName,
    });
  }
}
