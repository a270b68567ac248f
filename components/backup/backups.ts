import { createHash } from "node:crypto";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { BackupPlan } from "../../planning/stack/topology";
import { backupCommand } from "../../planning/backup/run";
import { DEFAULT_BACKUP_SCHEDULE, scheduleInstallCommand, scheduleRemoveCommand } from "../../planning/backup/schedule";

/**
 * The plan's backup slice (the settings with the absolute directory and, in swarm mode, each
 * node's engine; schedule, generation), and:
 */
export interface BackupsArgs extends BackupPlan {
  /** Environment of the docker CLI (DOCKER_HOST of the provider). */
  dockerEnvironment: Record<string, string>;
}

/**
 * What every data-holding container (PostgreSQL, Redis) passes through: it waits for the backup
 * command, and its fingerprint (everything that would replace it: image, environment, uploaded password and
 * config files, mounts, networks, health check...) is part of what triggers `run`. So any change
 * that replaces one of them, added or removed ones included, takes a backup first. Each
 * migration registers too (its image and command), so a migration runs after a backup.
 *
 * The backup command is declared before the containers that wait for it, so its trigger is
 * completed later: every container declared in the same turn of the event loop as the Backups
 * component counts (index.ts declares them all at once); one declared later would not be
 * covered, and `watch` refuses it loudly rather than silently.
 */
export class BackupGate {
  private readonly fingerprints = new Map<string, pulumi.Output<string>>();
  private sealed = false;
  /** sha256 over every watched container's name and fingerprint, sorted by name. */
  readonly fingerprint: pulumi.Output<string>;

  constructor() {
    const all = new Promise<pulumi.Output<Record<string, string>>>((resolve) =>
      setImmediate(() => {
        this.sealed = true;
        resolve(pulumi.all(Object.fromEntries(this.fingerprints)));
      }),
    );
    this.fingerprint = pulumi.output(all).apply((byName) =>
      createHash("sha256")
        .update(JSON.stringify(Object.entries(byName).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))))
        .digest("hex"),
    );
  }

  /** Counts one data-holding container in the trigger of the backup it waits for. */
  watch(containerName: string, fingerprint: pulumi.Output<string>): void {
    if (this.sealed) {
      throw new Error(
        `${containerName} was declared after the backup trigger was completed: declare data-holding ` +
          "containers in the same turn as the Backups component (see BackupGate)",
      );
    }
    this.fingerprints.set(containerName, fingerprint);
  }
}

/**
 * Backups of every database and Redis, by the same script (assets/backup.sh, as
 * planning/backup/run.ts completes it):
 * during `pulumi up` whenever the generation or a data-holding container changes (see
 * BackupGate), and on a systemd timer of the deploy machine.
 */
export class Backups extends pulumi.ComponentResource {
  /** The backup that `pulumi up` runs; database containers depend on it. */
  public readonly run: command.local.Command;
  /** Where the data-holding containers register what would replace them. */
  public readonly gate: BackupGate;
  public readonly backupDir: string;

  constructor(name: string, args: BackupsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("sectorwars:platform:Backups", name, {}, opts);
    this.backupDir = args.settings.backupDir;
    const settings = args.settings;
    this.gate = new BackupGate();
    this.run = new command.local.Command(
      `${name}-run`,
      {
        // The first deploy runs this before any database exists: nothing to back up is fine here.
        create: backupCommand({ ...settings, allowEmpty: true }),
        environment: args.dockerEnvironment,
        triggers: [args.generation, this.gate.fingerprint],
        // The output lists files, sizes and checksums; no secret passes through it.
        logging: "stdoutAndStderr",
      },
      { parent: this },
    );
    if (args.schedule !== "off") {
      const install = scheduleInstallCommand(
        { ...settings, allowEmpty: false },
        {
          ...DEFAULT_BACKUP_SCHEDULE,
          onCalendar: args.schedule,
          environment: args.dockerEnvironment,
        },
      );
      const remove = scheduleRemoveCommand(settings.stack, { nodes: settings.nodes !== undefined });
      // Same unit names before and after: a create-before-delete replacement would remove the
      // units it had just installed.
      new command.local.Command(
        `${name}-schedule`,
        { create: install, update: install, delete: remove },
        { parent: this, deleteBeforeReplace: true },
      );
    }
    this.registerOutputs({ backupDir: this.backupDir });
  }
}
