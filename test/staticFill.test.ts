/**
 * The static fill's helper script (planning/edge/staticFill.ts) on this machine, with a temp directory
 * in place of the static volume: under dash and under busybox's applets (what nginx:alpine runs
 * it with). It places a bundle, keeps the previous fill's files for pages still open, prunes the
 * ones before, never touches files it did not put there, refuses what it must not copy, and
 * replaces a file while a real nginx serves it without nginx ever sending a mix.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderNginxConf } from "../planning/edge/nginx";
import { STATIC_FILL_META, staticFillCommand, staticFillScript } from "../planning/edge/staticFill";
import { ensureCommands } from "./support/docker";
import { httpRequest } from "./support/net";
import { type RunningNginx, type Sandbox, makeSandbox, sandboxPaths, startNginx } from "./support/nginx";

/** The tools the script uses; under busybox each is the applet of that name. */
const TOOLS = ["sh", "tar", "find", "sort", "grep", "cmp", "mv", "mkdir", "chmod", "rm", "head", "touch", "wc", "cat"];

/** A shell to run the script with, and the environment that picks its tools. */
interface Shell {
  name: string;
  sh: string;
  env: NodeJS.ProcessEnv;
}

let scratch: string;
const shells: Shell[] = [];

beforeAll(() => {
  ensureCommands({ busybox: "busybox", tar: "tar" });
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "static-fill-"));
  const applets = path.join(scratch, "busybox-bin");
  fs.mkdirSync(applets);
  const busybox = spawnSync("sh", ["-c", "command -v busybox"], { encoding: "utf8" }).stdout.trim();
  for (const tool of TOOLS) fs.symlinkSync(busybox, path.join(applets, tool));
  shells.push(
    { name: "dash", sh: "sh", env: process.env },
    { name: "busybox", sh: path.join(applets, "sh"), env: { ...process.env, PATH: applets } },
  );
});
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** A directory with `files` (relative path → content), as a build would leave it. */
function tree(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(scratch, "src-"));
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.join(dir, path.dirname(rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content, { mode: 0o600 });
  }
  return dir;
}

/** The archive the command pipes in: the source's contents as ./<path>, by this machine's tar. */
function archiveOf(dir: string): Buffer {
  const tar = spawnSync("tar", ["-C", dir, "-cf", "-", "."], { maxBuffer: 64 * 1024 * 1024 });
  if (tar.status !== 0) throw new Error(`tar failed: ${String(tar.stderr)}`);
  return tar.stdout;
}

function fill(shell: Shell, dst: string, src: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(shell.sh, ["-c", staticFillScript(), "static-fill", dst], {
    input: archiveOf(src),
    env: shell.env,
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function fillAsync(shell: Shell, dst: string, src: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(shell.sh, ["-c", staticFillScript(), "static-fill", dst], { env: shell.env });
    child.on("error", reject);
    child.on("close", resolve);
    child.stdin.end(archiveOf(src));
  });
}

/** Every file under `dir` but the fill's bookkeeping: relative path → content. */
function contents(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, entry.name);
      if (entry.isDirectory() && entry.name !== STATIC_FILL_META) walk(full);
      else if (entry.isFile()) out[path.relative(dir, full)] = fs.readFileSync(full, "utf8");
    }
  };
  walk(dir);
  return out;
}

const version = (n: number) => ({
  [`js/main.v${n}.js`]: `main ${n}`,
  [`css/main.v${n}.css`]: `css ${n}`,
  "asset-manifest.json": `{"version":${n}}`,
});

describe("the fill's shell text", () => {
  it.each<[string, string]>([
    ["the helper script", staticFillScript()],
    ["the command for a directory", staticFillCommand({ kind: "directory", directory: "build/static" })],
    ["the command for the player UI image", staticFillCommand({ kind: "playerUiImage", path: "/app/build/static" })],
  ])("%s passes shellcheck as POSIX sh", (_what, script) => {
    ensureCommands({ shellcheck: "shellcheck" });
    const lint = spawnSync("shellcheck", ["-s", "sh", "-"], { input: script, encoding: "utf8" });
    expect(lint.status, lint.stdout).toBe(0);
  });

  it("keeps single quotes out of the helper script, which travels in sh -c '...'", () => {
    expect(staticFillScript()).not.toContain("'");
  });
});

describe.each(["dash", "busybox"])("the fill under %s", (name) => {
  const shell = () => shells.find((s) => s.name === name)!;
  const volume = () => fs.mkdtempSync(path.join(scratch, "volume-"));

  it("places a bundle, readable by nginx's workers, with its bookkeeping in a dotdir", () => {
    const dst = volume();
    const run = fill(shell(), dst, tree(version(1)));
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toBe("static fill: 3 files in place, 0 of the fill before last removed\n");
    expect(contents(dst)).toEqual(version(1));
    expect(fs.statSync(path.join(dst, "js/main.v1.js")).mode & 0o777).toBe(0o644);
    expect(fs.statSync(path.join(dst, "js")).mode & 0o777).toBe(0o755);
    expect(fs.readdirSync(dst).sort()).toEqual([STATIC_FILL_META, "asset-manifest.json", "css", "js"]);
    expect(fs.readdirSync(path.join(dst, STATIC_FILL_META)).sort()).toEqual(["current.list", "previous.list"]);
  });

  it("keeps the previous fill's files for open pages, prunes older ones, and never files it did not put there", () => {
    const dst = volume();
    const foreign = { ".well-known/acme-challenge/Ab-9_token": "token", "robots.txt": "User-agent: *" };
    for (const [rel, content] of Object.entries(foreign)) {
      fs.mkdirSync(path.join(dst, path.dirname(rel)), { recursive: true });
      fs.writeFileSync(path.join(dst, rel), content);
    }
    // A logo that versions 1 and 2 share and 3 drops: version 2's pages still need it.
    const logo = { "media/logo.svg": "<svg/>" };
    for (const n of [1, 2]) expect(fill(shell(), dst, tree({ ...version(n), ...logo })).status).toBe(0);
    expect(contents(dst)).toEqual({ ...foreign, ...version(1), ...version(2), ...logo });
    const third = fill(shell(), dst, tree(version(3)));
    expect(third.stdout).toBe("static fill: 3 files in place, 2 of the fill before last removed\n");
    expect(contents(dst)).toEqual({ ...foreign, ...version(2), ...logo, ...version(3) });
    const fourth = fill(shell(), dst, tree(version(4)));
    expect(fourth.stdout).toBe("static fill: 3 files in place, 3 of the fill before last removed\n");
    expect(contents(dst)).toEqual({ ...foreign, ...version(3), ...version(4) });
  });

  it("removes nothing when the same files come again (a re-run)", () => {
    const dst = volume();
    for (const n of [1, 2, 2, 2]) expect(fill(shell(), dst, tree(version(n))).status).toBe(0);
    expect(contents(dst)).toEqual({ ...version(1), ...version(2) });
  });

  it.each<[string, () => string, RegExp]>([
    [
      "a symlink (nginx would follow it out of the volume)",
      () => {
        const dir = tree(version(2));
        fs.symlinkSync("/etc/passwd", path.join(dir, "js/passwd.js"));
        return dir;
      },
      /^static fill: \.\/js\/passwd\.js is not a regular file or directory; nothing was changed$/m,
    ],
    ["an empty source", () => tree({}), /^static fill: the source holds no files; nothing was changed$/m],
  ])("refuses %s and leaves the volume as it was", (_what, source, message) => {
    const dst = volume();
    expect(fill(shell(), dst, tree(version(1))).status).toBe(0);
    const before = contents(dst);
    const refused = fill(shell(), dst, source());
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(message);
    expect(contents(dst)).toEqual(before);
    expect(fs.readdirSync(path.join(dst, STATIC_FILL_META)).sort()).toEqual(["current.list", "previous.list"]);
  });
});

describe.each(["dash", "busybox"])("a fill under %s while nginx serves the volume", (name) => {
  let sandbox: Sandbox;
  let nginx: RunningNginx | undefined;
  const size = 4 * 1024 * 1024;
  const bodies = { a: "a".repeat(size), b: "b".repeat(size) };

  beforeAll(async () => {
    sandbox = makeSandbox();
    nginx = await startNginx(sandbox, (ports) =>
      renderNginxConf({
        regions: [{ id: "orion", upstream: "127.0.0.1:9", state: "active" }],
        defaultRegionId: "orion",
        upstreams: { nexus: "127.0.0.1:9", admin: "127.0.0.1:9", player: "127.0.0.1:9", paypal: "127.0.0.1:9" },
        resolver: null,
        listen: { address: "127.0.0.1", ...ports },
        ...sandboxPaths(sandbox),
      }),
    );
  });
  afterAll(async () => {
    await nginx?.stop();
    sandbox?.remove();
  });

  it("sends each request the old file or the new one, whole, never a mix or a cut", async () => {
    const shell = shells.find((s) => s.name === name)!;
    const dst = path.join(sandbox.staticRoot, "static");
    const sources = { a: tree({ "js/chunk.js": bodies.a }), b: tree({ "js/chunk.js": bodies.b }) };
    expect(await fillAsync(shell, dst, sources.a)).toBe(0);

    const seen = { a: 0, b: 0, other: [] as string[] };
    let filling = true;
    const reader = (async () => {
      while (filling) {
        try {
          const res = await httpRequest({ port: nginx!.http, path: "/static/js/chunk.js" });
          if (res.status === 200 && res.body === bodies.a) seen.a++;
          else if (res.status === 200 && res.body === bodies.b) seen.b++;
          else seen.other.push(`${res.status}, ${res.body.length} bytes starting ${res.body.slice(0, 1)}`);
        } catch (err) {
          seen.other.push(String(err));
        }
      }
    })();
    for (const next of ["b", "a", "b", "a", "b", "a"] as const)
      expect(await fillAsync(shell, dst, sources[next])).toBe(0);
    filling = false;
    await reader;

    expect(seen.other, "answers that were neither file whole").toEqual([]);
    // The reader really ran while files were replaced: it saw both versions.
    expect(seen.a, JSON.stringify(seen)).toBeGreaterThan(0);
    expect(seen.b, JSON.stringify(seen)).toBeGreaterThan(0);
  });
});
