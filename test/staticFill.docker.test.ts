/**
 * The static fill's command (planning/edge/staticFill.ts) against a real Docker engine, as `pulumi up`
 * runs it: into a volume that another container mounts read-only (as nginx does), from a
 * directory inside an image (the player UI's, here one committed by the test) and from a local
 * directory, with the hardened throwaway containers the command starts. The test images stand in
 * for nginx's as the writer: any image with sh and tar does.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { STATIC_FILL_ENV, type StaticSource, staticFillCommand } from "../planning/edge/staticFill";
import { type Run, docker, ensureDockerd, newTestRun, reapDeadRuns, removeLabelled, run } from "./support/docker";
import { ensureTestImages } from "./support/images";

const RUN = newTestRun("static-fill");
const VOLUME = `sw-static-fill-${RUN.id}`;
const SOURCE_IMAGE = `sectorwars-test/static-source:${RUN.id}`;
const labels = RUN.labels.flatMap((l) => ["--label", l]);

let work: string;
let helperImage: string;
let reader: string;

/** A directory with `files` (relative path → content). */
function tree(root: string, files: Record<string, string>): string {
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.join(root, path.dirname(rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), content);
  }
  return root;
}

function fill(source: StaticSource): Run {
  const env = STATIC_FILL_ENV;
  const from =
    source.kind === "directory"
      ? { [env.directory]: source.directory }
      : { [env.sourceImage]: SOURCE_IMAGE, [env.sourcePath]: source.path };
  return run("sh", ["-c", staticFillCommand(source)], {
    env: { ...process.env, [env.volume]: VOLUME, [env.helperImage]: helperImage, ...from },
  });
}

/** The volume's files as the read-only reader sees them (bookkeeping aside): path → content. */
function served(): Record<string, string> {
  const files = docker(["exec", reader, "find", "/srv", "-type", "f", "!", "-path", "/srv/.sectorwars-fill/*"])
    .split("\n")
    .filter(Boolean)
    .sort();
  return Object.fromEntries(files.map((f) => [f.slice("/srv/".length), docker(["exec", reader, "cat", f])]));
}

/** Containers of the source image: the command's `docker create` must not leave one behind. */
const sourceContainers = () => docker(["ps", "-aq", "--filter", `ancestor=${SOURCE_IMAGE}`]).trim();

beforeAll(async () => {
  await ensureDockerd();
  reapDeadRuns("static-fill");
  helperImage = ensureTestImages().redis;
  work = fs.mkdtempSync(path.join(os.tmpdir(), "static-fill-docker-"));
  // The "player UI image": the test image with a build under /app/build/static, never started.
  const image = tree(path.join(work, "image"), {
    "build/static/js/main.img1.js": "from the image",
    "build/static/css/main.img1.css": "body{}",
    "build/index.html": "<html></html>",
  });
  const cid = docker(["create", ...labels, helperImage]).trim();
  try {
    docker(["cp", `${image}/.`, `${cid}:/app`]);
    docker(["commit", cid, SOURCE_IMAGE]);
  } finally {
    docker(["rm", "-f", cid]);
  }
  docker(["volume", "create", ...labels, VOLUME]);
  reader = docker([
    "run",
    "-d",
    ...labels,
    // The engine's default bridge may not exist (the tests' dockerd); the reader needs no network.
    "--network",
    "none",
    "-v",
    `${VOLUME}:/srv:ro`,
    "--entrypoint",
    "sleep",
    helperImage,
    "600",
  ]).trim();
}, 900_000);

afterAll(() => {
  removeLabelled(RUN.runLabel);
  run("docker", ["rmi", "-f", SOURCE_IMAGE]);
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe("the static fill on a real engine", () => {
  it("copies a directory out of an image into a volume mounted read-only elsewhere, leaving no container", () => {
    const result = fill({ kind: "playerUiImage", path: "/app/build/static" });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toBe("static fill: 2 files in place, 0 of the fill before last removed\n");
    expect(served()).toEqual({ "css/main.img1.css": "body{}", "js/main.img1.js": "from the image" });
    expect(docker(["exec", reader, "stat", "-c", "%a %U", "/srv/js/main.img1.js"]).trim()).toBe("644 root");
    expect(sourceContainers(), "containers of the source image left behind").toBe("");
  });

  it("copies a local directory next, keeping the image's files for pages still open", () => {
    const dir = tree(path.join(work, "build-2"), { "js/main.dir2.js": "from a directory" });
    const result = fill({ kind: "directory", directory: dir });
    expect(result.status, result.stderr).toBe(0);
    expect(served()).toEqual({
      "css/main.img1.css": "body{}",
      "js/main.img1.js": "from the image",
      "js/main.dir2.js": "from a directory",
    });
  });

  it("fails naming the key when the image has no such directory, and changes nothing", () => {
    const before = served();
    const result = fill({ kind: "playerUiImage", path: "/app/no/such/dir" });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(
      "static fill: no directory /app/no/such/dir in the player UI image (sectorwars:edge.staticFrom.playerUiPath)",
    );
    expect(served()).toEqual(before);
    expect(sourceContainers(), "containers of the source image left behind").toBe("");
  });
});
