import type * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { REDIS_CONF_PATH, renderRedisConf } from "../../planning/stack/redis";
import type { StackPlan } from "../../planning/stack/topology";
import { type BackupBefore, dataVolume, loopbackPort, privateNetwork, serviceContainer } from "./dockerResources";

export interface SharedRedisArgs {
  /** Names, size, databases, maxmemory and its policy, and debug port of the Redis container. */
  plan: StackPlan["redis"];
  /** Name of the network the APIs join to reach Redis. */
  networkName: string;
  /** Image id of Redis 7. */
  image: pulumi.Input<string>;
  /** Protect the persistence volume against deletion (prod). */
  protectData: boolean;
  /** Runs a backup before the Redis container is replaced. */
  backup: BackupBefore;
}

const DATA_DIR = "/data";

/**
 * What an API needs of the shared Redis, and all that the nexus and the regions are given of it:
 * its URL per database, the network to reach it on, and the container to start after.
 */
export interface RedisAccess {
  /** REDIS_URL for one database index; a secret, since it carries the password. */
  url(db: number): pulumi.Output<string>;
  networkName: pulumi.Output<string>;
  container: docker.Container;
}

/** Redis 7 shared by the nexus (db 0) and the regions (db = slot), with a generated password. */
export class SharedRedis extends pulumi.ComponentResource {
  public readonly containerName: pulumi.Output<string>;
  public readonly networkName: pulumi.Output<string>;
  public readonly volumeName: pulumi.Output<string>;
  public readonly container: docker.Container;
  private readonly password: pulumi.Output<string>;
  private readonly hostname: string;
  private readonly port: number;

  constructor(name: string, args: SharedRedisArgs, opts?: pulumi.ComponentResourceOptions) {
    super("sectorwars:platform:SharedRedis", name, {}, opts);
    const { plan } = args;
    const parent = { parent: this };
    const network = privateNetwork(
      `${name}-net`,
      // A published debug port needs a network with a route to the host.
      { networkName: args.networkName, labels: plan.labels, internal: plan.debugPort === null },
      parent,
    );
    const volume = dataVolume(
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
    this.container = serviceContainer(
      `${name}-server`,
      {
        plan,
        image: args.image,
        command: ["redis-server", REDIS_CONF_PATH],
        uploads: [{ file: REDIS_CONF_PATH, content: pulumi.secret(conf), permissions: "0444" }],
        mounts: [{ type: "volume", source: volume.name, target: DATA_DIR }],
        networks: [{ name: network.name, aliases: [plan.hostname] }],
        ports: loopbackPort(plan.port, plan.debugPort),
        backupBefore: args.backup,
      },
      parent,
    );
    this.password = password.result;
    this.hostname = plan.hostname;
    this.port = plan.port;
    this.containerName = this.container.name;
    this.networkName = network.name;
    this.volumeName = volume.name;
    this.registerOutputs({
      containerName: this.containerName,
      networkName: this.networkName,
      volumeName: this.volumeName,
    });
  }

  /** REDIS_URL for one database index; a secret, since it carries the password. */
  url(db: number): pulumi.Output<string> {
    return pulumi.secret(pulumi.interpolate`redis://:${this.password}@${this.hostname}:${this.port}/${db}`);
  }
}
