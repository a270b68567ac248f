import * as pulumi from "@pulumi/pulumi";
import type { StackPlan } from "../../planning/stack/topology";
import type * as command from "@pulumi/command";
import type * as docker from "@pulumi/docker";
import { type DatabaseSchemaArgs, type GameApiHostArgs, declareApiWithDatabase } from "./gameApi";

export interface NexusArgs extends GameApiHostArgs, DatabaseSchemaArgs {
  /** The nexus API and database plan. */
  plan: StackPlan["nexus"];
}

/** The central nexus API with its own PostgreSQL 15, data volume and private network. */
export class Nexus extends pulumi.ComponentResource {
  /** The nexus API container: the edge reloads after a new one is up. */
  public readonly api: docker.Container;
  public readonly apiContainerName: pulumi.Output<string>;
  public readonly dbContainerName: pulumi.Output<string>;
  public readonly volumeName: pulumi.Output<string>;
  /** The nexus database's migration, when the stack has a migration step. */
  public readonly migration?: command.local.Command;

  constructor(name: string, args: NexusArgs, opts?: pulumi.ComponentResourceOptions) {
    super("sectorwars:platform:Nexus", name, {}, opts);
    const { plan, ...host } = args;
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
    this.migration = stack.migration;
    this.registerOutputs({
      apiContainerName: this.apiContainerName,
      dbContainerName: this.dbContainerName,
      volumeName: this.volumeName,
    });
  }
}
