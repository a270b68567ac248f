/**
 * Filling the static volume (edge.staticFrom) on `pulumi up`: the shell text of the command, as
 * pure functions. components/edge/edgeProxy.ts runs it as a Command with the values in its environment.
 *
 * nginx mounts the volume read-only, so a throwaway container of the nginx image (it has sh and
 * tar, busybox's in nginx:alpine) writes into it, fed a tar archive of the new files on stdin: of
 * a local directory, or of a directory copied out of the player UI image (`docker create` +
 * `docker cp`, so that image needs no shell). The new files land in a staging directory on the
 * volume first and are then renamed into place one by one; a rename on one file system is
 * atomic, so nginx serves a file either whole and old or whole and new. Nothing is deleted until
 * the files of the fill after next replace it: a page built by the previous version (still open
 * in a browser, or served by the player UI container a deploy is replacing) keeps finding its
 * bundles. Files the fill never put there (an ACME token, say) are never deleted.
 */

export type StaticSource = { kind: "directory"; directory: string } | { kind: "playerUiImage"; path: string };

/** Where the fill keeps its bookkeeping in the volume; a dotdir, so /static/ never serves it. */
export const STATIC_FILL_META = ".sectorwars-fill";

/** The environment the command reads its values from (the Command sets it, with DOCKER_HOST). */
export const STATIC_FILL_ENV = {
  /** The static volume's name. */
  volume: "STATIC_VOLUME",
  /** Image id of the container that writes into the volume: nginx's. */
  helperImage: "STATIC_HELPER_IMAGE",
  /** directory source: the local directory whose contents are copied. */
  directory: "STATIC_SOURCE_DIR",
  /** playerUiImage source: the player UI's image id, and the directory inside it. */
  sourceImage: "STATIC_SOURCE_IMAGE",
  sourcePath: "STATIC_SOURCE_PATH",
} as const;

/**
 * The script the helper container runs (POSIX sh; GNU or busybox tools), with the destination
 * directory as $1 and a tar archive of the new files (entries `./<path>`) on stdin. It leaves the
 * destination as it was when the archive holds no file, or anything but files and directories
 * (a symlink would let nginx serve files from outside the volume). No single quote inside: it
 * travels in `sh -c '...'`.
 */
export function staticFillScript(): string {
  const meta = `$dst/${STATIC_FILL_META}`;
  return [
    "set -eu",
    "umask 022",
    `dst=$1; meta="${meta}"; stage="$meta/incoming"`,
    'mkdir -p "$meta"; rm -rf "$stage"; mkdir "$stage"',
    // Refusals leave the served files as they were, and no staging directory behind.
    'fail() { echo "static fill: $1; nothing was changed" >&2; cd /; rm -rf "$stage" "$meta/next.list"; exit 1; }',
    // -o: owned by the writer (root), whatever uid the build had; read by nginx as "other".
    'tar -x -o -f - -C "$stage"',
    'cd "$stage"',
    "odd=$(find . ! -type f ! -type d | head -n 1)",
    'if [ -n "$odd" ]; then fail "$odd is not a regular file or directory"; fi',
    'find . -type f | LC_ALL=C sort > "$meta/next.list"',
    'if [ ! -s "$meta/next.list" ]; then fail "the source holds no files"; fi',
    "chmod -R a+rX .",
    'touch "$meta/current.list" "$meta/previous.list"',
    // Directories first, then every file renamed into place.
    'find . -type d | while IFS= read -r d; do mkdir -p "$dst/$d"; done',
    'while IFS= read -r f; do mv -f "$f" "$dst/$f"; done < "$meta/next.list"',
    'placed=$(wc -l < "$meta/next.list"); pruned=0',
    // The same files again (a re-run): the fill before stays the one kept for open pages.
    'if ! cmp -s "$meta/next.list" "$meta/current.list"; then',
    '  LC_ALL=C sort -u "$meta/next.list" "$meta/current.list" > "$meta/keep.list"',
    '  grep -vxFf "$meta/keep.list" "$meta/previous.list" > "$meta/prune.list" || [ $? -eq 1 ]',
    '  while IFS= read -r f; do rm -f "$dst/$f"; done < "$meta/prune.list"',
    '  pruned=$(wc -l < "$meta/prune.list")',
    '  mv -f "$meta/current.list" "$meta/previous.list"; mv -f "$meta/next.list" "$meta/current.list"',
    "fi",
    'cd "$dst"; rm -rf "$stage" "$meta/next.list" "$meta/keep.list" "$meta/prune.list"',
    'echo "static fill: $placed files in place, $pruned of the fill before last removed"',
  ].join("\n");
}

/**
 * The command `pulumi up` runs (POSIX sh, on the machine that runs it, with STATIC_FILL_ENV set):
 * a tar archive of the source, then the helper container with the volume and the archive.
 */
export function staticFillCommand(source: StaticSource): string {
  const env = STATIC_FILL_ENV;
  const helper = [
    "docker run --rm -i --network none --user 0:0 --cap-drop ALL --security-opt no-new-privileges",
    `-v "$${env.volume}:/dst" --entrypoint sh "$${env.helperImage}"`,
    `-c '${staticFillScript()}' static-fill /dst < "$t/static.tar"`,
  ].join(" ");
  const archive =
    source.kind === "directory"
      ? [`tar -C "$${env.directory}" -cf "$t/static.tar" .`]
      : [
          // Created, never started: docker cp reads the image's files without running anything in it.
          `cid=$(docker create "$${env.sourceImage}" static-fill)`,
          `if ! docker cp "$cid:$${env.sourcePath}/." - > "$t/static.tar"; then`,
          `  echo "static fill: no directory $${env.sourcePath} in the player UI image (sectorwars:edge.staticFrom.playerUiPath)" >&2; exit 1`,
          "fi",
        ];
  return [
    "set -eu",
    't=$(mktemp -d); cid=""',
    `trap 'rm -rf "$t"; if [ -n "$cid" ]; then docker rm -f "$cid" > /dev/null; fi' EXIT`,
    ...archive,
    helper,
  ].join("\n");
}
