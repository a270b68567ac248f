/**
 * The `sectorwars:backup` part of the stack config. Where a stack's backups land is
 * stackBackupDir's (planning/project.ts), which resolves `backup.dir`.
 */
import { z } from "zod";
import { DEFAULTS } from "./defaults";

const { backup } = DEFAULTS;

export const backupSchema = z
  .strictObject({
    dir: z
      .string()
      .regex(/^[A-Za-z0-9._+/-]+$/, "must be a path of letters, digits and ._+-/")
      .refine((dir) => !dir.split("/").includes(".."), "must not contain ..")
      .default(backup.dir)
      .describe(
        "Where backups land, on the machine that runs `pulumi up` and the schedule: <dir>/<stack>/<UTC timestamp>/. " +
          "A relative path is taken from the project directory.",
      ),
    generation: z
      .number()
      .int()
      .nonnegative()
      .default(backup.generation)
      .describe("Bump it to take a backup at the next `pulumi up`."),
    parallelism: z
      .number()
      .int()
      .min(1)
      .max(16)
      .default(backup.parallelism)
      .describe("Databases dumped at the same time."),
    retentionDays: z
      .number()
      .int()
      .min(1)
      .default(backup.retentionDays)
      .describe("Complete backups older than this are pruned; the newest is always kept."),
    schedule: z
      .string()
      .regex(/^[A-Za-z0-9 *:.,/~-]+$/, 'must be "off" or a systemd calendar expression such as "daily"')
      .default(backup.schedule)
      .describe(
        'systemd OnCalendar expression of the scheduled backup on the deploy machine, or "off". See docs/backups.md.',
      ),
  })
  .prefault({})
  .describe(
    "Backups of every database and Redis: during `pulumi up` before a database container is replaced, and on a schedule.",
  );
