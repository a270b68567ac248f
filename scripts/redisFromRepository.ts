/**
 * `npm run restore -- --stack STACK --target redis --from-repository`: fetches Redis's newest
 * snapshot from the backup repository into a temporary directory, as the backup run put it there
 * (assets/backup.sh, snapshot_redis: a tar of a backup directory holding redis.rdb and its
 * manifest), for scripts/restore.ts to verify and restore like any local backup. restic runs in
 * the nexus database's container, which reaches the repository and holds its key
 * (assets/repository-restic.sh): nothing secret leaves it.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { repositoryRestic } from "../assets";
import { PGBACKREST_PATHS } from "../planning/backup/archive";
import { dockerCli } from "./dockerCli";

/** The backup directory of the newest snapshot, under a new temporary directory `remove` deletes. */
export interface FetchedBackup {
  dir: string;
  remove(): void;
}

/**
 * Fetches the newest Redis snapshot in the backup repository of `stack` through its nexus
 * database's container `nexus`, on the engine `env` reaches. Its manifest names the stack that
 * took it: restoring a lost stack's into a drill's needs --allow-other-stack, as for any backup. Throws, saying why, when that database does not archive, the
 * repository holds no snapshot of the stack, or restic or tar fail.
 */
export function fetchRedisBackup(options: { stack: string; nexus: string; env: NodeJS.ProcessEnv }): FetchedBackup {
  const { stack, nexus, env } = options;
  const docker = dockerCli(env, (message) => new Error(message));
  const exec = (args: string[], stdoutFd?: number) =>
    docker(["exec", "-u", "postgres", nexus, ...args], { allowFailure: true, stdoutFd, timeoutMs: 3600_000 });
  if (exec(["test", "-f", PGBACKREST_PATHS.conf]).status !== 0) {
    throw new Error(
      `${nexus} does not archive (no ${PGBACKREST_PATHS.conf}): the stack has no backup repository to restore Redis from (sectorwars:backup.repository)`,
    );
  }
  const restic = ["sh", "-c", repositoryRestic(), "sh", PGBACKREST_PATHS.conf];
  // Any stack's: the repository's path is the stack's own, and a drill's stack (another name) restores the lost one's.
  const listed = exec([...restic, "snapshots", "--json", "--tag", "redis"]);
  if (listed.status !== 0) throw new Error(`restic snapshots failed in ${nexus}: ${listed.stderr.trim()}`);
  if ((JSON.parse(listed.stdout || "[]") as unknown[]).length === 0) {
    throw new Error(`the backup repository of stack ${stack} holds no Redis snapshot yet (a backup run takes one)`);
  }

  const top = fs.mkdtempSync(path.join(os.tmpdir(), "sectorwars-redis-snapshot-"));
  const remove = () => fs.rmSync(top, { recursive: true, force: true });
  try {
    const tar = path.join(top, "redis-backup.tar");
    const out = fs.openSync(tar, "w");
    let dumped: ReturnType<typeof exec>;
    try {
      dumped = exec([...restic, "dump", "--tag", "redis", "latest", "redis-backup.tar"], out);
    } finally {
      fs.closeSync(out);
    }
    if (dumped.status !== 0) throw new Error(`restic dump failed in ${nexus}: ${dumped.stderr.trim()}`);
    const extracted = path.join(top, "backup");
    fs.mkdirSync(extracted);
    // --no-same-owner and no absolute or .. names (GNU tar's default): only this directory is written.
    const untar = spawnSync("tar", ["-x", "--no-same-owner", "-f", tar, "-C", extracted], { encoding: "utf8" });
    if (untar.status !== 0) throw new Error(`the snapshot is not a tar archive: ${untar.stderr.trim()}`);
    const [name, ...more] = fs.readdirSync(extracted);
    if (name === undefined || more.length > 0) {
      throw new Error(`the snapshot should hold one backup directory, it holds: ${[name, ...more].join(", ")}`);
    }
    return { dir: path.join(extracted, name), remove };
  } catch (error) {
    remove();
    throw error;
  }
}
