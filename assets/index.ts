/**
 * The shell the platform runs outside Node, as text. Each script is a file beside this one, so
 * that shellcheck (test/assets.test.ts) and editors see it as what it is; this module reads each
 * once, when it is loaded, so that everywhere else they are string constants like any other and
 * planning/ does no I/O of its own. They take the platform's names as variables or arguments,
 * never written into them.
 */
import * as fs from "node:fs";
import * as path from "node:path";

const read = (file: string): string => fs.readFileSync(path.join(__dirname, file), "utf8");

/** One backup run (bash, on the machine that runs it); planning/backupRun.ts sets its inputs. */
export const BACKUP_SH = read("backup.sh");

/**
 * redis-cli inside the Redis container, authenticated from its redis.conf (POSIX sh):
 * docker exec C sh -c REDIS_CLI_IN_CONTAINER sh CONF_PATH [redis-cli arguments...]
 */
export const REDIS_CLI_IN_CONTAINER = read("redis-cli.sh");

/**
 * Replays a pg_dump archive (stdin) in one transaction inside a PostgreSQL container, after an
 * optional wipe (POSIX sh), for scripts/restore.ts.
 */
export const RESTORE_POSTGRES_IN_CONTAINER = read("restore-postgres.sh");

/**
 * Puts an RDB (stdin) in place of a stopped Redis' data and rewrites its AOF from it, in a
 * throw-away container of the Redis image (POSIX sh), for scripts/restore.ts.
 */
export const REDIS_RESTORE_HELPER = read("restore-redis.sh");
