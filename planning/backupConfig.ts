/**
 * Where a stack's backups land. The program, `npm run status` and the tests all take the
 * directory from here, so a relative `sectorwars:backup.dir` means the same directory to each of
 * them whatever directory they were started from.
 */
import * as path from "node:path";

/**
 * `<backup.dir>/<stack>`, absolute. A relative backup.dir starts at the project directory (where
 * Pulumi.yaml is), never at the working directory: `pulumi up` runs the program there, but the
 * CLIs and the scheduled backup may be started anywhere.
 */
export function stackBackupDir(options: { dir: string; stack: string; projectDir: string }): string {
  return path.resolve(options.projectDir, options.dir, options.stack);
}
