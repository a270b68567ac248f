import * as pulumi from "@pulumi/pulumi";
import type { RegionPlan } from "../../planning/stack/topology";
import type * as command from "@pulumi/command";
import type { Deployed } from "../workload/workload";
import {
  type DatabaseAccess,
  type DatabaseSchemaArgs,
  type GameApiHostArgs,
  databaseVolume,
  declareApiWithDatabase,
} from "./gameApi";

export interface RegionArgs extends GameApiHostArgs, DatabaseSchemaArgs {
  /** The region's plan: ids, names, sizes; derived from its config entry alone. */
  plan: RegionPlan;
}

/**
 * One galaxy region: its API, its own PostgreSQL 15, data volume and private network. A retired
 * region keeps only its data volume (in swarm mode on its node, where no resource reaches it, and
 * swarm.placement keeps naming that node for its return).
 */
export class Region extends pulumi.ComponentResource {
  public readonly regionId: string;
  public readonly state: RegionPlan["state"];
  /** The region API (the edge reloads after a new one is up); undefined while retired. */
  public readonly api?: Deployed;
  /** Container names (one host) or service names (swarm); undefined while the region is retired. */
  public readonly apiName?: pulumi.Output<string>;
  public readonly dbName?: pulumi.Output<string>;
  public readonly volumeName: pulumi.Output<string>;
  /** The region database's migration, when the stack has a migration step and the region is active. */
  public readonly migration?: command.local.Command;
  /** Its database's network and password, for its exporter; undefined while the region is retired. */
  public readonly database?: DatabaseAccess;

  constructor(name: string, args: RegionArgs, opts?: pulumi.ComponentResourceOptions) {
    super("sectorwars:platform:Region", name, {}, opts);
    const { plan } = args;
    this.regionId = plan.id;
    this.state = plan.state;
    if (plan.state === "retired") {
      const volume = databaseVolume(
        name,
        { backend: args.backend, db: plan.db, protect: args.protectData },
        { parent: this },
      );
      this.volumeName = volume.name;
      this.registerOutputs({ state: this.state, volumeName: this.volumeName });
      return;
    }
    const pair = declareApiWithDatabase(this, name, args);
    this.api = pair.api;
    this.apiName = pair.api.name;
    this.dbName = pair.db.name;
    this.volumeName = pair.volume.name;
    this.migration = pair.migration;
    this.database = { containerName: args.plan.db.containerName, network: pair.network, password: pair.password };
    this.registerOutputs({
      state: this.state,
      apiName: this.apiName,
      dbName: this.dbName,
      volumeName: this.volumeName,
    });
  }
}
