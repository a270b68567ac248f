/**
 * The shell scripts in assets/ as files: each passes shellcheck on its own, and the backup
 * script's list of inputs is exactly what the program sets ahead of it.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { backupSh } from "../assets";
import { backupScript, backupScriptInputs } from "../planning/backup/run";
import { ensureCommands, run } from "./support/docker";

const ASSETS = path.resolve(__dirname, "../assets");
const scripts = fs.readdirSync(ASSETS).filter((f) => f.endsWith(".sh"));

describe("assets/*.sh", () => {
  beforeAll(() => ensureCommands({ shellcheck: "shellcheck" }));

  it("holds the scripts", () => {
    expect(scripts).toContain("backup.sh");
  });

  // As a developer runs it: the file alone, its shell from its first line.
  it.each(scripts)("%s passes shellcheck as a file", (file) => {
    const lint = run("shellcheck", [path.join(ASSETS, file)]);
    expect(lint.stdout + lint.stderr).toBe("");
    expect(lint.status).toBe(0);
  });
});

describe("assets/backup.sh", () => {
  /** The variables the file checks for at its top: what whoever runs it must set. */
  const required = [...backupSh().matchAll(/"\$\{([A-Z_]+):\?\}"/g)].map((m) => m[1]);

  it("takes exactly the inputs the program sets, and sets none of them itself", () => {
    expect([...required].sort()).toEqual(Object.keys(backupScriptInputs()).sort());
    for (const name of required) expect(backupSh(), name).not.toMatch(new RegExp(`^${name}=`, "m"));
  });

  it("runs as the program runs it: the file after its first line, the inputs set ahead of it", () => {
    const text = backupScript();
    const [shebang, ...rest] = backupSh().split("\n");
    expect(text.startsWith(`${shebang}\n`)).toBe(true);
    expect(text.endsWith(rest.join("\n"))).toBe(true);
    for (const [name, value] of Object.entries(backupScriptInputs())) {
      const echoed = run("bash", ["-c", `${text.split("\nset -euo pipefail\n")[0]}\nprintf %s "$${name}"`]);
      expect(echoed.stdout, name).toBe(value);
    }
  });

  it("refuses to run by hand without its inputs, naming the first one missing", () => {
    const bare = run("bash", [path.join(ASSETS, "backup.sh"), "--stack", "s", "--dir", "/tmp/x"]);
    expect(bare.status).not.toBe(0);
    expect(bare.stderr).toMatch(/LABEL_STACK/);
  });
});
