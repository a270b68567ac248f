/**
 * The body of Nexus and Region: a game API with its own PostgreSQL 15 (API, database, data
 * volume, a private network that only those two join, the password, the init check and the
 * migration), on either orchestrator (components/workload). Not a component itself: each of the
 * two declares it under its own name, so the resources' names and parents are theirs.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { POSTGRES_PASSWORD_FILE, alterRolePasswordSql, psqlFromStdin } from "../../planning/stack/postgres";
import {
  INIT_SQL_PATH,
  initCheckCommand,
  migrationLabels,
  migrationRunCommand,
} from "../../planning/stack/databaseSchema";
import type { ContainerPlan, DatabasePlan, RegionPlan } from "../../planning/stack/topology";
import { PGDATA } from "../../planning/stack/topology";
import type { Backend, DataVolume, Deployed } from "../workload/workload";
import type * as docker from "@pulumi/docker";
import type { BackupBefore } from "./dockerResources";
import type { RedisAccess } from "./sharedRedis";
import type { Archive } from "../backup/archive";

/** What the nexus and every region share: images, networks, Redis, data policy, backups. */
export interface GameApiHostArgs {
  /** The orchestrator that declares the workloads. */
  backend: Backend;
  /** The gameserver image, as the backend names images. */
  gameserverImage: pulumi.Input<string>;
  /** The PostgreSQL 15 image, as the backend names images. */
  postgresImage: pulumi.Input<string>;
  /** The edge proxy's front network, where the API answers. */
  frontNetwork: docker.Network;
  /** The shared Redis, as the APIs reach it; the nexus uses database 0, a region the index of its slot. */
  redis: RedisAccess;
  /** Protect the data volume against deletion (prod). */
  protectData: boolean;
  /**
   * Runs a backup before the database is replaced or removed, and before a migration reruns
   * (each registers what reruns it with the gate).
   */
  backup: BackupBefore;
  /** The migration step; unset, none. */
  migration?: MigrationArgs;
  /** Continuous archiving to backup.repository (one host); unset, the dumps only. */
  archive?: Archive;
}

export interface MigrationArgs {
  /** Command of the gameserver image that migrates one database. */
  command: string[];
  /**
   * Every database's migration, once all are declared: each API waits for all of them, so no
   * API of a new version starts unless every database has been migrated.
   */
  all: Promise<pulumi.Resource[]>;
}

/** The database's own schema, the nexus's or a region's. */
export interface DatabaseSchemaArgs {
  /** SQL that a new (empty) database runs once; unset, none. */
  initSql?: string;
}

export interface ApiWithDatabaseArgs extends GameApiHostArgs, DatabaseSchemaArgs {
  /**
   * The nexus's or a region's plan: the API, its database, its Redis database index, and the
   * environment entries other than DATABASE_URL and REDIS_URL (identityEnv).
   */
  plan: Pick<RegionPlan, "api" | "db" | "redisDb" | "identityEnv">;
}

/**
 * The database's data volume, declared under the same logical name whether or not the region is
 * running: retiring a region and bringing it back never touches it.
 */
export function databaseVolume(
  name: string,
  args: { backend: Backend; db: DatabasePlan; protect: boolean },
  opts: { parent: pulumi.ComponentResource },
): DataVolume {
  return args.backend.volume(
    `${name}-db-data`,
    { volumeName: args.db.volumeName, labels: args.db.labels, protect: args.protect },
    opts,
  );
}

/** What a watcher of the database needs (its exporter, sectorwars:monitoring): its network and password. */
export interface DatabaseAccess {
  /** The database's container name in its plan, by which the exporter's plan names it. */
  containerName: string;
  network: docker.Network;
  /** The owner's password (a secret). */
  password: pulumi.Output<string>;
}

export interface ApiWithDatabase {
  network: docker.Network;
  password: pulumi.Output<string>;
  volume: DataVolume;
  db: Deployed;
  api: Deployed;
  /** The migration of this database, when the stack has a migration step. */
  migration?: command.local.Command;
}

export function declareApiWithDatabase(
  parent: pulumi.ComponentResource,
  name: string,
  args: ApiWithDatabaseArgs,
): ApiWithDatabase {
  const { db: dbPlan, api: apiPlan } = args.plan;
  const { backend } = args;
  const opts = { parent };
  const network = backend.network(
    `${name}-net`,
    {
      networkName: dbPlan.networkName,
      labels: dbPlan.labels,
      debugPort: dbPlan.debugPort,
      attachable: true,
      ...(args.archive ? { egress: true } : {}),
    },
    opts,
  );
  const volume = databaseVolume(name, { backend, db: dbPlan, protect: args.protectData }, opts);
  const password = new random.RandomPassword(`${name}-db-password`, { length: 32, special: false }, opts);

  const db = backend.workload(
    `${name}-db`,
    {
      plan: dbPlan,
      image: args.postgresImage,
      env: {
        POSTGRES_DB: dbPlan.database,
        POSTGRES_USER: dbPlan.user,
        POSTGRES_PASSWORD_FILE,
        PGDATA,
      },
      ...(args.archive ? { command: args.archive.command(dbPlan) } : {}),
      files: [
        {
          path: POSTGRES_PASSWORD_FILE,
          content: password.result,
          secret: true,
          object: { resourceName: `${name}-db-password-secret`, stableName: `${dbPlan.containerName}_password` },
        },
        // Run by the image only while it initialises an empty data directory: a new database gets
        // the file as it is then; an edit never replaces (delete-first, after a backup) a database
        // that would not run it anyway.
        ...(args.initSql === undefined
          ? []
          : [
              {
                path: INIT_SQL_PATH,
                content: args.initSql,
                secret: false,
                initOnly: true,
                object: { resourceName: `${name}-db-init`, stableName: `${dbPlan.containerName}_init` },
              },
            ]),
        ...(args.archive ? args.archive.files(dbPlan, `${name}-db`) : []),
      ],
      // Exactly at PGDATA: anywhere else the data lands in an anonymous volume lost on replace.
      volumes: [{ volume, target: PGDATA }],
      networks: [{ network, aliases: [dbPlan.hostname] }],
      debugPort: dbPlan.debugPort,
      backupBefore: args.backup,
    },
    // A postgres image without pgBackRest fails its check before any database is replaced with it.
    args.archive ? { ...opts, dependsOn: [args.archive.imageCheck] } : opts,
  );
  args.archive?.declareStanza(`${name}-db`, db, dbPlan, parent);

  // A failed init file leaves a data directory that the next start serves, healthy, without the
  // rest of the schema: fail the deploy instead, before the API starts on it.
  const initCheck =
    args.initSql === undefined
      ? undefined
      : new command.local.Command(
          `${name}-db-init-check`,
          db.logCommand((logs, n) => initCheckCommand(n, logs)),
          {
            parent,
            dependsOn: [db.ready],
          },
        );

  // The image sets the password only when it initialises an empty data directory. A volume that
  // outlived `pulumi destroy` meets a newly generated password on the next `pulumi up`, so the
  // role's password is set from the secret each time the database is new. The statement travels
  // on stdin (a secret input), never on a command line.
  const passwordSync = new command.local.Command(
    `${name}-db-password-sync`,
    {
      ...db.command((container) => psqlFromStdin(container, dbPlan.user, dbPlan.database)),
      stdin: pulumi.secret(password.result.apply((pw) => alterRolePasswordSql(dbPlan.user, pw))),
    },
    { parent, dependsOn: [db.ready] },
  );

  const databaseUrl = pulumi.interpolate`postgresql://${dbPlan.user}:${password.result}@${dbPlan.hostname}:${dbPlan.port}/${dbPlan.database}`;
  const redisUrl = args.redis.url(args.plan.redisDb);
  // The API's environment, in the order its container has always had it.
  const apiEnv: Record<string, string> = {
    ...apiPlan.env,
    ...args.plan.identityEnv,
    PORT: String(apiPlan.port),
    SECTORWARS_ROLE: apiPlan.role,
  };

  const migration = args.migration
    ? declareMigration(parent, name, {
        migration: args.migration,
        backup: args.backup,
        api: apiPlan,
        networkName: dbPlan.networkName,
        image: args.gameserverImage,
        envNames: [...Object.keys(apiEnv), "DATABASE_URL", "REDIS_URL"],
        // The docker CLI's own DOCKER_HOST wins over an API variable of that name.
        environment: pulumi.all([databaseUrl, redisUrl]).apply(([DATABASE_URL, REDIS_URL]): Record<string, string> => ({
          ...apiEnv,
          DATABASE_URL,
          REDIS_URL,
          ...backend.dockerEnvironment,
        })),
        dependsOn: [db.ready, passwordSync, ...(initCheck ? [initCheck] : [])],
      })
    : undefined;

  const ownDependencies: pulumi.Resource[] = [
    db.ready,
    passwordSync,
    args.redis.ready,
    ...(initCheck ? [initCheck] : []),
  ];
  const apiDependsOn: pulumi.Input<pulumi.Resource[]> = args.migration
    ? args.migration.all.then((all) => [...ownDependencies, ...all])
    : ownDependencies;

  // The URLs carry passwords. Their secrets' names and labels are those of the database's pair,
  // as swarm mode first declared them.
  const labels = dbPlan.labels;
  const api = backend.workload(
    `${name}-api`,
    {
      plan: apiPlan,
      image: args.gameserverImage,
      env: apiEnv,
      secretEnv: [
        {
          key: "DATABASE_URL",
          value: databaseUrl,
          object: { resourceName: `${name}-database-url`, stableName: `${apiPlan.containerName}_database_url`, labels },
        },
        {
          key: "REDIS_URL",
          value: redisUrl,
          object: { resourceName: `${name}-redis-url`, stableName: `${apiPlan.containerName}_redis_url`, labels },
        },
      ],
      networks: [
        { network: args.frontNetwork, aliases: [apiPlan.hostname] },
        { network, aliases: [apiPlan.hostname] },
        { network: args.redis.network, aliases: [apiPlan.hostname] },
      ],
    },
    { parent, dependsOn: apiDependsOn },
  );

  return { network, password: password.result, volume, db, api, migration };
}

interface DeclareMigrationArgs {
  migration: MigrationArgs;
  backup: BackupBefore;
  /** The API whose image, environment, limits and hardening the migration runs with. */
  api: ContainerPlan;
  networkName: string;
  image: pulumi.Input<string>;
  envNames: string[];
  /** The docker CLI's environment: DOCKER_HOST and the API's variables, which `-e NAME` passes on. */
  environment: pulumi.Output<Record<string, string>>;
  dependsOn: pulumi.Resource[];
}

/**
 * The database's migration: `docker run --rm` of the gameserver image, after the backup and
 * after the database is up. It runs when it is created (the step first set, a new or reactivated
 * region) and when its triggers change (a new gameserver image, a new command), never on an
 * update of anything else: `update` is a no-op. What reruns it also reruns the backup: it
 * registers its triggers with the backup's gate, as the data-holding containers do. It runs on
 * the provider's engine (in swarm mode a manager, on the database's attachable overlay).
 */
function declareMigration(parent: pulumi.Resource, name: string, args: DeclareMigrationArgs): command.local.Command {
  const { api } = args;
  const containerName = `${api.containerName}_migrate`;
  const triggers = [args.image, JSON.stringify(args.migration.command)];
  args.backup.gate.watch(
    containerName,
    pulumi.all(triggers).apply((values) => JSON.stringify(values)),
  );
  return new command.local.Command(
    `${name}-migrate`,
    {
      create: pulumi.output(args.image).apply((image) =>
        migrationRunCommand({
          containerName,
          labels: migrationLabels(api.labels),
          network: args.networkName,
          image,
          command: args.migration.command,
          envNames: args.envNames,
          size: api.size,
          hardening: api.hardening,
        }),
      ),
      update: "true",
      // Carries DATABASE_URL and REDIS_URL with their passwords: secret in state, never on the command line.
      environment: pulumi.secret(args.environment),
      triggers,
      // The game's output is not ours to vouch for: kept out of the log, secret in state. A
      // failure still shows it, in the error that stops the deploy.
      logging: "none",
    },
    { parent, dependsOn: [...args.dependsOn, args.backup.run], additionalSecretOutputs: ["stdout", "stderr"] },
  );
}
