import * as path from "node:path";
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import {
  type BackupSettings,
  DEFAULT_BACKUP_SCHEDULE,
  backupCommand,
  scheduleInstallCommand,
  scheduleRemoveCommand,
} from "../planning/backup";

export interface BackupsArgs {
  /** Stack label to back up, where to, how many dumps at once, how long to keep them. */
  settings: Omit<BackupSettings, "allowEmpty">;
  /** systemd OnCalendar expression of the scheduled backup, or "off". */
  schedule: string;
  /** Any change here runs a backup: the generation counter, image ids, the stateful containers' fingerprint. */
  triggers: pulumi.Input<string | number>[];
  /** Environment of the docker CLI (DOCKER_HOST of the provider). */
  dockerEnvironment: Record<string, string>;
}

/**
 * Backups of every database and Redis, by the same generated script (planning/backup.ts):
 * during `pulumi up` whenever the triggers change, and on a systemd timer of the deploy machine.
 * Database containers depend on `run`, so a backup completes before any of them is replaced.
 */
export class Backups extends pulumi.ComponentResource {
  /** The backup that `pulumi up` runs; database containers depend on it. */
  public readonly run: command.local.Command;
  public readonly backupDir: string;

  constructor(name: string, args: BackupsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("sectorwars:platform:Backups", name, {}, opts);
    this.backupDir = path.resolve(args.settings.backupDir);
    const settings = { ...args.settings, backupDir: this.backupDir };
    this.run = new command.local.Command(
      `${name}-run`,
      {
        // The first deploy runs this before any database exists: nothing to back up is fine here.
        create: backupCommand({ ...settings, allowEmpty: true }),
        environment: args.dockerEnvironment,
        triggers: args.triggers,
        // The output lists files, sizes and checksums; no secret passes through it.
        logging: "stdoutAndStderr",
      },
      { parent: this },
    );
    if (args.schedule !== "off") {
      const install = scheduleInstallCommand(
        { ...settings, allowEmpty: false },
        { ...DEFAULT_BACKUP_SCHEDULE, onCalendar: args.schedule, environment: args.dockerEnvironment },
      );
      // Same unit names before and after: a create-before-delete replacement would remove the
      // units it had just installed.
      new command.local.Command(
        `${name}-schedule`,
        { create: install, update: install, delete: scheduleRemoveCommand(settings.stack) },
        { parent: this, deleteBeforeReplace: true },
      );
    }
    this.registerOutputs({ backupDir: this.backupDir });
  }
}
