/**
 * The `sectorwars:backup` part of the stack config. Where a stack's backups land is
 * stackBackupDir's (planning/project.ts), which resolves `backup.dir`.
 */
import { z } from "zod";
import { ARCHIVE_DEFAULTS, parseRepositoryUrl } from "../backup/archive";
import { DEFAULTS } from "./defaults";

const { backup } = DEFAULTS;

const repositorySchema = z
  .strictObject({
    url: z
      .string()
      .superRefine((url, ctx) => {
        const parsed = parseRepositoryUrl(url);
        if (!parsed.ok) ctx.addIssue({ code: "custom", message: parsed.problem });
      })
      .describe(
        "Where every database's WAL and base backups go, encrypted: s3:https://<host>[:<port>]/<bucket>[/<path>]. " +
          "Needs the secrets backupRepositoryPassword and backupRepositoryCredentials, and pgBackRest in images.postgres.",
      ),
    archiveTimeoutSeconds: z
      .number()
      .int()
      .min(5)
      .max(60)
      .default(ARCHIVE_DEFAULTS.archiveTimeoutSeconds)
      .describe(
        "A new WAL segment is archived at least this often while anything is written: the most work a lost host takes with it, plus the upload.",
      ),
    retention: z
      .strictObject({
        fullBackups: z
          .number()
          .int()
          .min(1)
          .max(100)
          .default(ARCHIVE_DEFAULTS.retention.fullBackups)
          .describe("Full base backups kept (one a week by the schedule)."),
        pitrDays: z
          .number()
          .int()
          .min(1)
          .max(90)
          .default(ARCHIVE_DEFAULTS.retention.pitrDays)
          .describe("Days back to which any second can be restored (daily differential backups whose WAL is kept)."),
      })
      .prefault({})
      .describe("How long the repository keeps what."),
    caCertificate: z
      .string()
      .regex(
        /^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n?$/,
        "must be one PEM certificate",
      )
      .optional()
      .describe("PEM of a private CA the repository's certificate is signed by; unset, the system's CAs."),
  })
  .optional()
  .describe(
    "Continuous archiving of every database to a repository off the host, for point-in-time recovery (docs/backups.md). " +
      "Unset, backups are the dumps only.",
  );

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
    repository: repositorySchema,
  })
  .prefault({})
  .describe(
    "Backups of every database and Redis: during `pulumi up` before a database container is replaced, and on a schedule.",
  );
