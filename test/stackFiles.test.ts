/**
 * The stack files as operators change them: with `pulumi config set --path`, which rewrites the
 * file in the Pulumi CLI's YAML style. What CI checks of them must accept that style: prettier
 * leaves them alone (.prettierignore), the config schema checks their content.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as prettier from "prettier";
import { describe, expect, it } from "vitest";
import { parseDocument } from "yaml";
import { parseConfig } from "../planning/config";
import { PROD_SECRET_KEYS, rawOf } from "./support/configs";
import { ROOT } from "./support/pulumi";

const STACKS = ["dev", "prod"];

/** The README's commands for adding a region (its "Add a region" section), as `--path` keys and values. */
function readmeRegionCommands(): [string, string][] {
  const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("### Add a region"), readme.indexOf("### Retire a region"));
  const commands = [...section.matchAll(/^pulumi config set --stack prod --path '([^']+)' (.+)$/gm)];
  return commands.map(([, key = "", value = ""]) => [key, value.replace(/^'(.*)'$/, "$1")]);
}

/**
 * `pulumi config set --path <key> <value>` as the CLI rewrites the file: the value set at the
 * path (numbers as numbers, as the CLI does for --path values that parse as such), and every flow
 * mapping re-emitted without the padding prettier puts inside the braces (`{cpus: 0.5}`).
 */
function pulumiConfigSet(text: string, key: string, value: string): string {
  const doc = parseDocument(text);
  const [, top = "", rest = ""] = /^([^.[]+)(.*)$/.exec(key) ?? [];
  const segments = [...rest.matchAll(/\[(\d+)\]|\.([^.[]+)/g)].map(([, index, name]) =>
    index === undefined ? (name as string) : Number(index),
  );
  doc.setIn(["config", top, ...segments], /^\d+$/.test(value) ? Number(value) : value);
  return doc.toString({ flowCollectionPadding: false, lineWidth: 0 });
}

describe("stack files", () => {
  it.each(STACKS)("Pulumi.%s.yaml is left to the Pulumi CLI's style: prettier ignores it", async (stack) => {
    const file = path.join(ROOT, `Pulumi.${stack}.yaml`);
    const info = await prettier.getFileInfo(file, { ignorePath: path.join(ROOT, ".prettierignore") });
    expect(info.ignored, `prettier --check would judge Pulumi.${stack}.yaml`).toBe(true);
  });

  it("README's commands for adding a region give a stack file that the config schema accepts", () => {
    const commands = readmeRegionCommands();
    expect(commands.map(([key]) => key)).toEqual([
      "sectorwars:regions[1].id",
      "sectorwars:regions[1].name",
      "sectorwars:regions[1].type",
      "sectorwars:regions[1].slot",
    ]);
    let text = fs.readFileSync(path.join(ROOT, "Pulumi.prod.yaml"), "utf8");
    for (const [key, value] of commands) text = pulumiConfigSet(text, key, value);
    const config = (parseDocument(text).toJS() as { config: Record<string, unknown> }).config;
    const parsed = parseConfig(rawOf(config), { presentSecrets: PROD_SECRET_KEYS });
    expect(parsed.regions.map((r) => [r.id, r.slot, r.type])).toEqual([
      ["default", 1, "default"],
      ["vega", 2, "player_owned"],
    ]);
  });

  it("the imitation of the CLI's rewrite drops the padding prettier would add (so the ignore matters)", async () => {
    const dev = fs.readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8");
    const rewritten = pulumiConfigSet(dev, "sectorwars:regions[1].slot", "7");
    expect(rewritten).toMatch(/\{cpus: 0\.5, memory: 256M\}/);
    expect(await prettier.check(rewritten, { parser: "yaml", printWidth: 120 })).toBe(false);
  });
});
