/**
 * The shell the platform runs outside Node, as text. Each script is a file beside this one, so
 * that shellcheck (test/assets.test.ts) and editors see it as what it is. Each is read when first
 * asked for, never when a module is imported: parsing the stack config (which plans the backup
 * command) must not depend on files beside the program. They take the platform's names as
 * variables or arguments, never written into them.
 */
import * as fs from "node:fs";
import * as path from "node:path";

const texts = new Map<string, string>();

function asset(file: string): () => string {
  return () => {
    let text = texts.get(file);
    if (text === undefined) {
      text = fs.readFileSync(path.join(__dirname, file), "utf8");
      texts.set(file, text);
    }
    return text;
  };
}

/**
 * One backup run (bash, on the machine that runs it); planning/backup/run.ts sets its inputs. Its
 * header still names the planners by their paths before planning/ had folders: the text is the
 * backup Command's input, and any edit reruns the backup on every stack's next up, so it waits
 * for the next change the script needs anyway.
 */
export const backupSh = asset("backup.sh");

/**
 * redis-cli inside the Redis container, authenticated from its redis.conf (POSIX sh):
 * docker exec C sh -c REDIS_CLI_IN_CONTAINER sh CONF_PATH [redis-cli arguments...]
 */
export const redisCliInContainer = asset("redis-cli.sh");

/**
 * restic on the backup repository's `redis` folder, inside a database container that archives,
 * configured from its pgbackrest.conf (POSIX sh):
 * docker exec -i -u postgres C sh -c REPOSITORY_RESTIC sh CONF_PATH [restic arguments...]
 */
export const repositoryRestic = asset("repository-restic.sh");

/**
 * Replays a pg_dump archive (stdin) in one transaction inside a PostgreSQL container, after an
 * optional wipe (POSIX sh), for scripts/restore.ts.
 */
export const restorePostgresInContainer = asset("restore-postgres.sh");

/**
 * Puts an RDB (stdin) in place of a stopped Redis' data and rewrites its AOF from it, in a
 * throw-away container of the Redis image (POSIX sh), for scripts/restore.ts.
 */
export const redisRestoreHelper = asset("restore-redis.sh");
