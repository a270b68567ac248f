/**
 * Where the project is on this machine, and where the stack config's relative paths land. Path
 * computations only, no file system access. A leaf module: the planners and the backup schema's
 * neighbours import it without cycles.
 */
import * as path from "node:path";

/**
 * The project directory: where Pulumi.yaml and the stack files are, and what every relative path
 * in the stack config starts from (Pulumi runs the program there; the CLIs and tests may run
 * from anywhere).
 */
export const PROJECT_DIR = path.resolve(__dirname, "..");

/**
 * Where a stack's backups land. The program (through the plan), `npm run status` and the tests
 * all take the directory from here, so a relative `backup.dir` means the same directory to each
 * of them whatever directory they were started from.
 *
 * `<backup.dir>/<stack>`, absolute. A relative backup.dir starts at the project directory (where
 * Pulumi.yaml is), never at the working directory: `pulumi up` runs the program there, but the
 * CLIs and the scheduled backup may be started anywhere.
 */
export function stackBackupDir(options: { dir: string; stack: string; projectDir?: string }): string {
  return path.resolve(options.projectDir ?? PROJECT_DIR, options.dir, options.stack);
}
