import type * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { REDIS_CONF_PATH, renderRedisConf } from "../../planning/stack/redis";
import type { StackPlan } from "../../planning/stack/topology";
import type { Backend } from "../workload/workload";
import type { BackupBefore } from "./dockerResources";

export interface SharedRedisArgs {
  /** The orchestrator that declares the workload. */
  backend: Backend;
  /** Names, size, databases, maxmemory and its policy, and debug port of Redis. */
  plan: StackPlan["redis"];
  /** Name of the network the APIs join to reach Redis. */
  networkName: string;
  /** The Redis 7 image, as the backend names images. */
  image: pulumi.Input<string>;
  /** Protect the persistence volume against deletion (prod). */
  protectData: boolean;
  /** Runs a backup before Redis is replaced. */
  backup: BackupBefore;
}

const DATA_DIR = "/data";

/**
 * What an API needs of the shared Redis, and all that the nexus and the regions are given of it:
 * its URL per database, the network to reach it on, and the workload to start after.
 */
export interface RedisAccess {
  /** REDIS_URL for one database index; a secret, since it carries the password. */
  url(db: number): pulumi.Output<string>;
  network: docker.Network;
  /** What to start after: Redis healthy (Deployed.ready). */
  ready: pulumi.Resource;
}

/**
 * Redis 7 shared by the nexus (db 0) and the regions (db = slot), with a generated password; in
 * swarm mode pinned to its node. redis.conf carries the password: a secret file either way, at
 * the same path, where the health check and the backup read the password from.
 */
export class SharedRedis extends pulumi.ComponentResource implements RedisAccess {
  /** Container name (one host) or service name (swarm). */
  public readonly serverName: pulumi.Output<string>;
  public readonly network: docker.Network;
  public readonly volumeName: pulumi.Output<string>;
  public readonly ready: pulumi.Resource;
  /** Its password (a secret): the APIs get it inside their URLs, the exporter as a file. */
  public readonly password: pulumi.Output<string>;
  private readonly hostname: string;
  private readonly port: number;

  constructor(name: string, args: SharedRedisArgs, opts?: pulumi.ComponentResourceOptions) {
    super("sectorwars:platform:SharedRedis", name, {}, opts);
    const { plan, backend } = args;
    const parent = { parent: this };
    this.network = backend.network(
      `${name}-net`,
      { networkName: args.networkName, labels: plan.labels, debugPort: plan.debugPort, attachable: false },
      parent,
    );
    const volume = backend.volume(
      `${name}-data`,
      { volumeName: plan.volumeName, labels: plan.labels, protect: args.protectData },
      parent,
    );
    const password = new random.RandomPassword(`${name}-password`, { length: 32, special: false }, parent);
    const conf = password.result.apply((pw) =>
      renderRedisConf({
        password: pw,
        maxmemory: plan.maxmemory,
        maxmemoryPolicy: plan.maxmemoryPolicy,
        databases: plan.databases,
        port: plan.port,
        dataDir: DATA_DIR,
      }),
    );
    const server = backend.workload(
      `${name}-server`,
      {
        plan,
        image: args.image,
        env: {},
        command: ["redis-server", REDIS_CONF_PATH],
        files: [
          {
            path: REDIS_CONF_PATH,
            content: conf,
            secret: true,
            object: { resourceName: `${name}-conf`, stableName: `${plan.containerName}_conf` },
          },
        ],
        volumes: [{ volume, target: DATA_DIR }],
        networks: [{ network: this.network, aliases: [plan.hostname] }],
        debugPort: plan.debugPort,
        backupBefore: args.backup,
      },
      parent,
    );
    this.ready = server.ready;
    this.password = password.result;
    this.hostname = plan.hostname;
    this.port = plan.port;
    this.serverName = server.name;
    this.volumeName = volume.name;
    this.registerOutputs({ serverName: this.serverName, networkName: this.network.name, volumeName: this.volumeName });
  }

  /** REDIS_URL for one database index; a secret, since it carries the password. */
  url(db: number): pulumi.Output<string> {
    return pulumi.secret(pulumi.interpolate`redis://:${this.password}@${this.hostname}:${this.port}/${db}`);
  }
}
