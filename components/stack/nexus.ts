import * as pulumi from "@pulumi/pulumi";
import type { StackPlan } from "../../planning/stack/topology";
import type * as command from "@pulumi/command";
import type { Deployed } from "../workload/workload";
import { type DatabaseAccess, type DatabaseSchemaArgs, type GameApiHostArgs, declareApiWithDatabase } from "./gameApi";

export interface NexusArgs extends GameApiHostArgs, DatabaseSchemaArgs {
  /** The nexus API and database plan. */
  plan: StackPlan["nexus"];
}

/**
 * The central nexus API with its own PostgreSQL 15, data volume and private network; in swarm
 * mode the API floats (`replicas` tasks) and the database is pinned to its node.
 */
export class Nexus extends pulumi.ComponentResource {
  /** The nexus API: the edge reloads after a new one is up. */
  public readonly api: Deployed;
  /** Container names (one host) or service names (swarm). */
  public readonly apiName: pulumi.Output<string>;
  public readonly dbName: pulumi.Output<string>;
  public readonly volumeName: pulumi.Output<string>;
  /** The nexus database's migration, when the stack has a migration step. */
  public readonly migration?: command.local.Command;
  /** Its database's network and password, for its exporter. */
  public readonly database: DatabaseAccess;

  constructor(name: string, args: NexusArgs, opts?: pulumi.ComponentResourceOptions) {
    super("sectorwars:platform:Nexus", name, {}, opts);
    const pair = declareApiWithDatabase(this, name, args);
    this.api = pair.api;
    this.apiName = pair.api.name;
    this.dbName = pair.db.name;
    this.volumeName = pair.volume.name;
    this.migration = pair.migration;
    this.database = { containerName: args.plan.db.containerName, network: pair.network, password: pair.password };
    this.registerOutputs({ apiName: this.apiName, dbName: this.dbName, volumeName: this.volumeName });
  }
}
