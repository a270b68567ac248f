/**
 * Content hashes of local directories, for triggers that must change exactly when a directory's
 * files do (a local image build's tag, the static fill's re-run). Reads the file system: called
 * by components while they declare, never by planning code.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

/**
 * Feeds every regular file under `root` into `hash` in a fixed order: its path relative to
 * `root`, then its content. Entries named in `ignored` are skipped, at any depth; anything that
 * is not a file or directory (a symlink) is too.
 */
export function hashTree(hash: crypto.Hash, root: string, ignored: ReadonlySet<string> = new Set()): void {
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (ignored.has(entry.name)) continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile())
        hash.update(path.relative(root, full)).update("\0").update(fs.readFileSync(full)).update("\0");
    }
  };
  walk(root);
}

/** sha256 (hex) of the files under `dir`; throws when `dir` is not a directory. */
export function hashDirectory(dir: string): string {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new Error(`"${dir}" is not a directory (relative to ${process.cwd()})`);
  }
  const hash = crypto.createHash("sha256");
  hashTree(hash, dir);
  return hash.digest("hex");
}
