/**
 * Continuous archiving of every database to `sectorwars:backup.repository` (one host): what each
 * database container gets (pgbackrest.conf, the server flags) and, once it is up, its stanza in
 * the repository, its first full backup and a check that WAL reaches the repository. What is
 * rendered, and why this tool, is planning/backup/archive.ts's; docs/backups.md tells operators.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import {
  type ArchiveSettings,
  PGBACKREST_PATHS,
  archivingDatabaseCommand,
  checkRepositoryPassword,
  checkedSecret,
  imageCheckCommand,
  parseRepositoryUrl,
  parseS3Credentials,
  pgbackrestConf,
  stanzaCommand,
} from "../../planning/backup/archive";
import { CONFIG_NAMESPACE } from "../../planning/config";
import { type BackupPlan, type DatabasePlan, PGDATA } from "../../planning/stack/topology";
import type { Deployed, WorkloadFile } from "../workload/workload";

export interface ArchiveArgs {
  plan: NonNullable<BackupPlan["archive"]>;
  /** sectorwars:backupRepositoryPassword and sectorwars:backupRepositoryCredentials. */
  password: pulumi.Output<string>;
  credentials: pulumi.Output<string>;
  /** The postgres image by id: checked for pgBackRest before any database runs with it. */
  postgresImage: pulumi.Input<string>;
  /** Environment of the docker CLI (DOCKER_HOST of the provider). */
  dockerEnvironment: Record<string, string>;
}

export class Archive extends pulumi.ComponentResource {
  /** Every database container waits for it: a postgres image without pgBackRest fails here, before any is replaced. */
  public readonly imageCheck: command.local.Command;
  private readonly settings: pulumi.Output<ArchiveSettings>;
  private readonly args: ArchiveArgs;

  constructor(name: string, args: ArchiveArgs, opts?: pulumi.ComponentResourceOptions) {
    super("sectorwars:platform:Archive", name, {}, opts);
    this.args = args;
    const repository = parseRepositoryUrl(args.plan.url);
    // The config's schema already refused a bad URL; this keeps the types honest.
    if (!repository.ok) throw new Error(`${CONFIG_NAMESPACE}:backup.repository.url: ${repository.problem}`);
    this.settings = pulumi.all([args.password, args.credentials]).apply(([password, credentials]) => ({
      repository: repository.value,
      // A bad one fails the preview, naming its key.
      credentials: checkedSecret(`${CONFIG_NAMESPACE}:backupRepositoryCredentials`, parseS3Credentials(credentials)),
      password: checkedSecret(`${CONFIG_NAMESPACE}:backupRepositoryPassword`, checkRepositoryPassword(password)),
      retention: args.plan.retention,
      ...(args.plan.caCertificate === undefined ? {} : { caFile: PGBACKREST_PATHS.ca }),
    }));
    this.imageCheck = new command.local.Command(
      `${name}-image-check`,
      {
        create: pulumi.output(args.postgresImage).apply(imageCheckCommand),
        environment: args.dockerEnvironment,
        triggers: [args.postgresImage],
      },
      { parent: this },
    );
    this.registerOutputs({});
  }

  /**
   * The command of a database that archives as `db.stanza`: the server flags, and on an empty data
   * directory a restore from the repository when it holds a backup (the disaster-recovery path).
   * Nothing else about the container changes: pgBackRest pushes synchronously (pgbackrestConf), so
   * no process it forks outlives its parent for postgres, PID 1, to adopt.
   */
  command(db: DatabasePlan): string[] {
    return archivingDatabaseCommand(db.stanza, this.args.plan.archiveTimeoutSeconds);
  }

  /** pgbackrest.conf (a secret) and the repository's CA, as files of the database container. */
  files(db: DatabasePlan, objectPrefix: string): WorkloadFile[] {
    const conf = this.settings.apply((s) =>
      pgbackrestConf(s, [{ name: db.stanza, dataDirectory: PGDATA, user: db.user }]),
    );
    const ca = this.args.plan.caCertificate;
    return [
      {
        path: PGBACKREST_PATHS.conf,
        content: pulumi.secret(conf),
        secret: true,
        object: { resourceName: `${objectPrefix}-pgbackrest-conf`, stableName: `${db.containerName}_pgbackrest` },
      },
      ...(ca === undefined
        ? []
        : [
            {
              path: PGBACKREST_PATHS.ca,
              content: ca,
              secret: false,
              object: {
                resourceName: `${objectPrefix}-repository-ca`,
                stableName: `${db.containerName}_repository_ca`,
              },
            },
          ]),
    ];
  }

  /**
   * Once the database runs: its stanza (idempotent), a first full backup when the repository has
   * none, and `pgbackrest check`, which switches WAL and waits until the segment is in the
   * repository, so a deploy whose archive does not work fails instead of piling WAL up.
   */
  declareStanza(name: string, db: Deployed, plan: DatabasePlan, parent: pulumi.Resource): command.local.Command {
    return new command.local.Command(
      `${name}-archive`,
      db.command((container) => stanzaCommand({ container, stanza: plan.stanza, user: plan.user })),
      { parent, dependsOn: [db.ready] },
    );
  }
}
