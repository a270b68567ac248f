/**
 * The PostgreSQL 15 pair that the nexus and every region own: API container, database
 * container, data volume and a private network that only those two join.
 */
import * as command from "@pulumi/command";
import type * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { alterRolePasswordSql, psqlFromStdin } from "../planning/postgres";
import type { ContainerPlan, DatabasePlan } from "../planning/topology";
import { PGDATA } from "../planning/topology";
import { type BackupBefore, dataVolume, loopbackPort, privateNetwork, serviceContainer } from "./docker";
import type { SharedRedis } from "./sharedRedis";

/** Read by the image's entrypoint (POSTGRES_PASSWORD_FILE), so the password is never in the env. */
export const POSTGRES_PASSWORD_FILE = "/run/secrets/postgres-password";

/** What the nexus and every region share: images, networks, Redis, data policy, backups. */
export interface GameApiHostArgs {
  /** Image id of the gameserver. */
  gameserverImage: pulumi.Input<string>;
  /** Image id of PostgreSQL 15. */
  postgresImage: pulumi.Input<string>;
  /** Name of the edge proxy's front network, where the API answers. */
  frontNetwork: pulumi.Input<string>;
  /** The shared Redis; the nexus uses database 0, a region the index of its slot. */
  redis: SharedRedis;
  /** Protect the data volume against deletion (prod). */
  protectData: boolean;
  /** Environment of the `docker` CLI for in-container commands (DOCKER_HOST of the provider). */
  dockerEnvironment: Record<string, string>;
  /** Runs a backup before the database container is replaced or removed. */
  backup: BackupBefore;
}

export interface ApiWithDatabaseArgs extends GameApiHostArgs {
  api: ContainerPlan;
  db: DatabasePlan;
  /** The API's Redis database index. */
  redisDb: number;
  /** Environment entries other than DATABASE_URL and REDIS_URL. */
  env: Record<string, string>;
}

/**
 * The database's data volume, declared under the same logical name whether or not the region is
 * running: retiring a region and bringing it back never touches it.
 */
export function databaseVolume(
  parent: pulumi.ComponentResource,
  name: string,
  dbPlan: DatabasePlan,
  protect: boolean,
): docker.Volume {
  return dataVolume(`${name}-db-data`, dbPlan.volumeName, dbPlan.labels, protect, { parent });
}

export interface ApiWithDatabase {
  network: docker.Network;
  volume: docker.Volume;
  password: random.RandomPassword;
  db: docker.Container;
  api: docker.Container;
}

export function declareApiWithDatabase(
  parent: pulumi.ComponentResource,
  name: string,
  args: ApiWithDatabaseArgs,
): ApiWithDatabase {
  const { db: dbPlan, api: apiPlan } = args;
  const opts = { parent };
  const network = privateNetwork(
    `${name}-net`,
    dbPlan.networkName,
    dbPlan.labels,
    // A published debug port needs a network with a route to the host.
    dbPlan.debugPort === null,
    opts,
  );
  const volume = databaseVolume(parent, name, dbPlan, args.protectData);
  const password = new random.RandomPassword(`${name}-db-password`, { length: 32, special: false }, opts);

  const db = serviceContainer(
    `${name}-db`,
    {
      plan: dbPlan,
      image: args.postgresImage,
      envs: [
        `POSTGRES_DB=${dbPlan.database}`,
        `POSTGRES_USER=${dbPlan.user}`,
        `POSTGRES_PASSWORD_FILE=${POSTGRES_PASSWORD_FILE}`,
        `PGDATA=${PGDATA}`,
      ],
      uploads: [{ file: POSTGRES_PASSWORD_FILE, content: password.result, permissions: "0444" }],
      // Exactly at PGDATA: anywhere else the data lands in an anonymous volume lost on replace.
      mounts: [{ type: "volume", source: volume.name, target: PGDATA }],
      networks: [{ name: network.name, aliases: [dbPlan.hostname] }],
      ports: loopbackPort(dbPlan.port, dbPlan.debugPort),
      backupBefore: args.backup,
    },
    { parent },
  );

  // The image sets the password only when it initialises an empty data directory. A volume that
  // outlived `pulumi destroy` meets a newly generated password on the next `pulumi up`, so the
  // role's password is set from the secret each time the container is created. The statement
  // travels on stdin (a secret input), never on a command line.
  const passwordSync = new command.local.Command(
    `${name}-db-password-sync`,
    {
      create: db.name.apply((container) => psqlFromStdin(container, dbPlan.user, dbPlan.database)),
      stdin: pulumi.secret(password.result.apply((pw) => alterRolePasswordSql(dbPlan.user, pw))),
      environment: args.dockerEnvironment,
      triggers: [db.id],
    },
    { parent, dependsOn: [db] },
  );

  const databaseUrl = pulumi.interpolate`postgresql://${dbPlan.user}:${password.result}@${dbPlan.hostname}:${dbPlan.port}/${dbPlan.database}`;
  const envs = pulumi.secret(
    pulumi
      .all([databaseUrl, args.redis.url(args.redisDb)])
      .apply(([databaseUrl, redisUrl]) => [
        ...Object.entries({ ...apiPlan.env, ...args.env }).map(([key, value]) => `${key}=${value}`),
        `PORT=${apiPlan.port}`,
        `SECTORWARS_ROLE=${apiPlan.role}`,
        `DATABASE_URL=${databaseUrl}`,
        `REDIS_URL=${redisUrl}`,
      ]),
  );

  const api = serviceContainer(
    `${name}-api`,
    {
      plan: apiPlan,
      image: args.gameserverImage,
      envs,
      networks: [
        { name: args.frontNetwork, aliases: [apiPlan.hostname] },
        { name: network.name, aliases: [apiPlan.hostname] },
        { name: args.redis.networkName, aliases: [apiPlan.hostname] },
      ],
    },
    { parent, dependsOn: [db, passwordSync, args.redis.container] },
  );

  return { network, volume, password, db, api };
}
