/**
 * The stateful services in swarm mode: the shared Redis, and the API + PostgreSQL 15 pair that
 * the nexus and every region own. The counterparts of components/stack/sharedRedis.ts and
 * components/stack/gameApi.ts; the component types (and so the tree `pulumi stack` shows) are the same.
 */
import * as command from "@pulumi/command";
import type * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { POSTGRES_PASSWORD_FILE, alterRolePasswordSql, psqlFromStdin } from "../../planning/stack/postgres";
import { REDIS_CONF_PATH, renderRedisConf } from "../../planning/stack/redis";
import { INIT_SQL_PATH } from "../../planning/stack/databaseSchema";
import { onTask } from "../../planning/swarm/commands";
import { DATABASE_URL_FILE, REDIS_URL_FILE } from "../../planning/swarm/secrets";
import type { SwarmServicePlan } from "../../planning/swarm/services";
import { type DatabasePlan, PGDATA, type RegionPlan, type StackPlan } from "../../planning/stack/topology";
import type { BackupBefore } from "../stack/dockerResources";
import { configFile, overlayNetwork, secretFile, swarmService } from "./service";

const REDIS_DATA_DIR = "/data";

export interface SwarmRedisArgs {
  plan: StackPlan["redis"];
  service: SwarmServicePlan;
  networkName: string;
  image: pulumi.Input<string>;
  backup: BackupBefore;
}

/**
 * Redis pinned to its node. redis.conf carries the password, so it is a Docker secret (not a
 * config, whose content `docker config inspect` shows), mounted where container mode uploads
 * it: the health check and the backup read the password from there unchanged.
 */
export class SwarmRedis extends pulumi.ComponentResource {
  public readonly serviceName: string;
  public readonly service: docker.Service;
  public readonly network: docker.Network;
  private readonly password: pulumi.Output<string>;
  private readonly hostname: string;
  private readonly port: number;

  constructor(name: string, args: SwarmRedisArgs, opts?: pulumi.ComponentResourceOptions) {
    super("sectorwars:platform:SharedRedis", name, {}, opts);
    const { plan } = args;
    const parent = { parent: this };
    this.network = overlayNetwork(
      `${name}-net`,
      { networkName: args.networkName, labels: plan.labels, internal: true, attachable: false },
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
        dataDir: REDIS_DATA_DIR,
      }),
    );
    const confSecret = secretFile(
      `${name}-conf`,
      { stableName: `${plan.containerName}_conf`, content: conf, labels: plan.labels },
      parent,
    );
    this.service = swarmService(
      `${name}-server`,
      {
        plan: args.service,
        image: args.image,
        args: ["redis-server", REDIS_CONF_PATH],
        networks: [{ id: this.network.id, aliases: [plan.hostname] }],
        secrets: [{ object: confSecret, file: REDIS_CONF_PATH }],
        volumes: [{ source: plan.volumeName, target: REDIS_DATA_DIR, labels: plan.labels }],
        backupBefore: args.backup,
      },
      parent,
    );
    this.serviceName = args.service.serviceName;
    this.password = password.result;
    this.hostname = plan.hostname;
    this.port = plan.port;
    this.registerOutputs({ serviceName: this.serviceName });
  }

  /** REDIS_URL for one database index; a secret, since it carries the password. */
  url(db: number): pulumi.Output<string> {
    return pulumi.secret(pulumi.interpolate`redis://:${this.password}@${this.hostname}:${this.port}/${db}`);
  }
}

export interface SwarmApiHost {
  gameserverImage: pulumi.Input<string>;
  postgresImage: pulumi.Input<string>;
  frontNetwork: docker.Network;
  redis: SwarmRedis;
  backup: BackupBefore;
  /** SQL a new (empty) database runs once; unset, none. */
  initSql?: string;
  /** DOCKER_HOST of the node that runs the database (its password sync runs there). */
  dbNodeEnvironment: Record<string, string>;
}

interface PairArgs extends SwarmApiHost {
  api: SwarmServicePlan;
  db: SwarmServicePlan;
  dbPlan: DatabasePlan;
  redisDb: number;
  env: Record<string, string>;
}

/**
 * Network, password secret, database service, password sync, URL secrets and API
 * service of one database. The API reads DATABASE_URL and REDIS_URL from files (the `_FILE`
 * convention): a URL carries a password, and a service's environment is readable in plain text.
 */
function declarePair(parent: pulumi.ComponentResource, name: string, args: PairArgs) {
  const { dbPlan } = args;
  const opts = { parent };
  const labels = dbPlan.labels;
  // Internal always (swarm mode publishes no debug port); attachable, so that the operator's
  // one-off containers (psql, a restore helper) can join it.
  const network = overlayNetwork(
    `${name}-net`,
    { networkName: dbPlan.networkName, labels, internal: true, attachable: true },
    opts,
  );
  const password = new random.RandomPassword(`${name}-db-password`, { length: 32, special: false }, opts);
  const passwordSecret = secretFile(
    `${name}-db-password-secret`,
    { stableName: `${dbPlan.containerName}_password`, content: password.result, labels },
    opts,
  );
  const initSql =
    args.initSql === undefined
      ? []
      : [
          {
            object: configFile(
              `${name}-db-init`,
              { stableName: `${dbPlan.containerName}_init`, content: args.initSql, labels },
              opts,
            ),
            file: INIT_SQL_PATH,
          },
        ];

  const db = swarmService(
    `${name}-db`,
    {
      plan: args.db,
      image: args.postgresImage,
      env: {
        POSTGRES_DB: dbPlan.database,
        POSTGRES_USER: dbPlan.user,
        POSTGRES_PASSWORD_FILE,
        PGDATA,
      },
      networks: [{ id: network.id, aliases: [dbPlan.hostname] }],
      secrets: [{ object: passwordSecret, file: POSTGRES_PASSWORD_FILE }],
      configs: initSql,
      // Exactly at PGDATA: anywhere else the data lands in an anonymous volume lost on replace.
      volumes: [{ source: dbPlan.volumeName, target: PGDATA, labels }],
      backupBefore: args.backup,
    },
    opts,
  );

  // As in container mode: a volume that outlived its stack meets a newly generated password, so
  // the role's password is set from the secret whenever the password or the service is new.
  const passwordSync = new command.local.Command(
    `${name}-db-password-sync`,
    {
      create: onTask(args.db.serviceName, psqlFromStdin('"$c"', dbPlan.user, dbPlan.database)),
      stdin: pulumi.secret(password.result.apply((pw) => alterRolePasswordSql(dbPlan.user, pw))),
      environment: args.dbNodeEnvironment,
      triggers: [db.id, passwordSecret.name],
    },
    { parent, dependsOn: [db] },
  );

  const databaseUrl = pulumi.interpolate`postgresql://${dbPlan.user}:${password.result}@${dbPlan.hostname}:${args.dbPlan.port}/${dbPlan.database}`;
  const urlSecret = secretFile(
    `${name}-database-url`,
    { stableName: `${args.api.serviceName}_database_url`, content: databaseUrl, labels },
    opts,
  );
  const redisSecret = secretFile(
    `${name}-redis-url`,
    { stableName: `${args.api.serviceName}_redis_url`, content: args.redis.url(args.redisDb), labels },
    opts,
  );
  const apiPlan = args.api.container;
  const api = swarmService(
    `${name}-api`,
    {
      plan: args.api,
      image: args.gameserverImage,
      env: {
        ...apiPlan.env,
        ...args.env,
        PORT: String(apiPlan.port),
        SECTORWARS_ROLE: apiPlan.role,
        DATABASE_URL_FILE,
        REDIS_URL_FILE,
      },
      networks: [
        { id: args.frontNetwork.id, aliases: [apiPlan.hostname] },
        { id: network.id, aliases: [apiPlan.hostname] },
        { id: args.redis.network.id, aliases: [apiPlan.hostname] },
      ],
      secrets: [
        { object: urlSecret, file: DATABASE_URL_FILE },
        { object: redisSecret, file: REDIS_URL_FILE },
      ],
    },
    { parent, dependsOn: [db, passwordSync, args.redis.service] },
  );
  return { network, db, api };
}

export interface SwarmNexusArgs extends SwarmApiHost {
  plan: StackPlan["nexus"];
  services: { api: SwarmServicePlan; db: SwarmServicePlan };
}

/** The nexus API (floating, `replicas` tasks) and its database (pinned). */
export class SwarmNexus extends pulumi.ComponentResource {
  public readonly api: docker.Service;
  public readonly apiServiceName: string;
  public readonly dbServiceName: string;

  constructor(name: string, args: SwarmNexusArgs, opts?: pulumi.ComponentResourceOptions) {
    super("sectorwars:platform:Nexus", name, {}, opts);
    const { plan, services, ...host } = args;
    const pair = declarePair(this, name, {
      ...host,
      api: services.api,
      db: services.db,
      dbPlan: plan.db,
      redisDb: plan.redisDb,
      env: plan.identityEnv,
    });
    this.api = pair.api;
    this.apiServiceName = services.api.serviceName;
    this.dbServiceName = services.db.serviceName;
    this.registerOutputs({ apiServiceName: this.apiServiceName, dbServiceName: this.dbServiceName });
  }
}

export interface SwarmRegionArgs extends SwarmApiHost {
  plan: RegionPlan;
  /** Absent while the region is retired. */
  services?: { api: SwarmServicePlan; db: SwarmServicePlan };
}

/** One region: its API and database services; retired, nothing (its volume waits on its node). */
export class SwarmRegion extends pulumi.ComponentResource {
  public readonly regionId: string;
  public readonly state: RegionPlan["state"];
  public readonly api?: docker.Service;
  public readonly apiServiceName?: string;
  public readonly dbServiceName?: string;

  constructor(name: string, args: SwarmRegionArgs, opts?: pulumi.ComponentResourceOptions) {
    super("sectorwars:platform:Region", name, {}, opts);
    const { plan, services, ...host } = args;
    this.regionId = plan.id;
    this.state = plan.state;
    // Retired: nothing is declared. Its volume stays on its node (no swarm resource ever
    // removes a named volume), and swarm.placement keeps naming that node for its return.
    if (plan.state === "retired") {
      this.registerOutputs({ state: this.state });
      return;
    }
    // planSwarmServices plans both services of every active region: without them, declaring
    // nothing would delete a running region's services on the next up.
    if (!services) throw new Error(`region ${plan.id} is active, but no swarm services were planned for it`);
    const pair = declarePair(this, name, {
      ...host,
      api: services.api,
      db: services.db,
      dbPlan: plan.db,
      redisDb: plan.redisDb,
      env: plan.identityEnv,
    });
    this.api = pair.api;
    this.apiServiceName = services.api.serviceName;
    this.dbServiceName = services.db.serviceName;
    this.registerOutputs({ state: this.state, apiServiceName: this.apiServiceName, dbServiceName: this.dbServiceName });
  }
}
