/**
 * The arguments of `npm run restore` (scripts/restore.ts): a local backup directory or, for
 * Redis, the backup repository; `--to` goes to scripts/pointInTime.ts before these are read.
 */
import * as path from "node:path";
import { type RestoreTarget, parseRestoreTarget } from "../planning/backup/restore";

export interface RestoreOptions {
  /** The backup directory; with fromRepository, "" until the snapshot is fetched into one. */
  backup: string;
  /** Redis only: the newest snapshot in the backup repository (scripts/redisFromRepository.ts). */
  fromRepository: boolean;
  target: RestoreTarget;
  stack: string;
  force: boolean;
  allowOtherStack: boolean;
}

export const USAGE =
  "usage: restore --backup DIR --target nexus|region:<id>|redis --stack STACK [--force] [--allow-other-stack]\n" +
  "       restore --from-repository --target redis --stack STACK [--force]";

export class UsageError extends Error {}

export function parseRestoreArgs(argv: readonly string[]): RestoreOptions {
  let backup: string | undefined;
  let target: RestoreTarget | undefined;
  let stack: string | undefined;
  let force = false;
  let allowOtherStack = false;
  let fromRepository = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v.startsWith("--")) throw new UsageError(`${arg} needs a value\n${USAGE}`);
      return v;
    };
    switch (arg) {
      case "--backup":
        backup = value();
        break;
      case "--target":
        try {
          target = parseRestoreTarget(value());
        } catch (error) {
          throw new UsageError((error as Error).message);
        }
        break;
      case "--stack":
        stack = value();
        break;
      case "--force":
        force = true;
        break;
      case "--allow-other-stack":
        allowOtherStack = true;
        break;
      case "--from-repository":
        fromRepository = true;
        break;
      default:
        throw new UsageError(`unknown argument ${arg}\n${USAGE}`);
    }
  }
  if (!target || !stack || (backup === undefined) === !fromRepository) throw new UsageError(USAGE);
  if (fromRepository && target.kind !== "redis") {
    throw new UsageError(
      `--from-repository restores Redis; a database comes back from the repository with --to <time>\n${USAGE}`,
    );
  }
  return {
    backup: backup === undefined ? "" : path.resolve(backup),
    fromRepository,
    target,
    stack,
    force,
    allowOtherStack,
  };
}
