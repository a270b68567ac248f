import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { hashDirectory } from "../components/config/contentHash";
import { hashBuildContext, withTag } from "../components/stack/images";

describe("hashBuildContext", () => {
  let dir: string;
  const make = () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sw-ctx-"));
    fs.writeFileSync(path.join(dir, "Dockerfile"), "FROM scratch\n");
    fs.mkdirSync(path.join(dir, "src"));
    fs.writeFileSync(path.join(dir, "src", "app.js"), "console.log(1)\n");
    return dir;
  };
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("is stable for unchanged content", () => {
    make();
    expect(hashBuildContext(dir, path.join(dir, "Dockerfile"))).toBe(
      hashBuildContext(dir, path.join(dir, "Dockerfile")),
    );
  });

  it("changes when a source file or the Dockerfile changes, so the image is rebuilt", () => {
    make();
    const dockerfile = path.join(dir, "Dockerfile");
    const before = hashBuildContext(dir, dockerfile);
    fs.writeFileSync(path.join(dir, "src", "app.js"), "console.log(2)\n");
    const afterSource = hashBuildContext(dir, dockerfile);
    expect(afterSource).not.toBe(before);
    fs.writeFileSync(dockerfile, "FROM scratch\nLABEL x=y\n");
    expect(hashBuildContext(dir, dockerfile)).not.toBe(afterSource);
  });

  it("ignores node_modules, which the image installs itself", () => {
    make();
    const dockerfile = path.join(dir, "Dockerfile");
    const before = hashBuildContext(dir, dockerfile);
    fs.mkdirSync(path.join(dir, "node_modules"));
    fs.writeFileSync(path.join(dir, "node_modules", "x.js"), "1");
    expect(hashBuildContext(dir, dockerfile)).toBe(before);
  });
});

describe("hashDirectory (the static fill's trigger)", () => {
  let dir: string;
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("changes with any file's content or name, at any depth, and not otherwise", () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sw-static-"));
    fs.mkdirSync(path.join(dir, "js", "node_modules"), { recursive: true });
    fs.writeFileSync(path.join(dir, "js", "main.1a2b.js"), "1");
    fs.writeFileSync(path.join(dir, "js", "node_modules", "x.js"), "x");
    const before = hashDirectory(dir);
    expect(before).toMatch(/^[0-9a-f]{64}$/);
    expect(hashDirectory(dir)).toBe(before);
    const edits: [string, () => void][] = [
      ["content", () => fs.writeFileSync(path.join(dir, "js", "main.1a2b.js"), "2")],
      ["name", () => fs.renameSync(path.join(dir, "js", "main.1a2b.js"), path.join(dir, "js", "main.3c4d.js"))],
      // Nothing is skipped: a static bundle has no node_modules to ignore, whatever its names.
      ["node_modules", () => fs.writeFileSync(path.join(dir, "js", "node_modules", "x.js"), "y")],
    ];
    let last = before;
    for (const [what, edit] of edits) {
      edit();
      expect(hashDirectory(dir), what).not.toBe(last);
      last = hashDirectory(dir);
    }
  });

  it("refuses a path that is not a directory", () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sw-static-"));
    expect(() => hashDirectory(path.join(dir, "missing"))).toThrow(/missing" is not a directory/);
  });
});

describe("withTag: a swarm service's image as the provider reads it back", () => {
  it.each([
    ["kit/postgres", "kit/postgres:latest"],
    ["kit/postgres:15", "kit/postgres:15"],
    ["registry:5000/kit/postgres", "registry:5000/kit/postgres:latest"],
    ["registry:5000/kit/postgres:15", "registry:5000/kit/postgres:15"],
    [`kit/postgres@sha256:${"a".repeat(64)}`, `kit/postgres@sha256:${"a".repeat(64)}`],
  ])("%s is %s", (ref, expected) => {
    expect(withTag(ref)).toBe(expected);
  });
});
