/**
 * The `sectorwars:backup` part of the stack config, and where a stack's backups land. The
 * program, `npm run status` and the tests all take the directory from stackBackupDir, so a
 * relative `backup.dir` means the same directory to each of them whatever directory they were
 * started from.
 */
import * as path from "node:path";
import { z } from "zod";
import { DEFAULTS } from "./configDefaults";

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

/**
 * `<backup.dir>/<stack>`, absolute. A relative backup.dir starts at the project directory (where
 * Pulumi.yaml is), never at the working directory: `pulumi up` runs the program there, but the
 * CLIs and the scheduled backup may be started anywhere.
 */
export function stackBackupDir(options: { dir: string; stack: string; projectDir: string }): string {
  return path.resolve(options.projectDir, options.dir, options.stack);
}
