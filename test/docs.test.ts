import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { withReference } from "../scripts/config-reference";

const ROOT = path.resolve(__dirname, "..");
const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");

describe("README", () => {
  it("carries the config reference generated from the schema (run `npm run docs` after editing it)", () => {
    expect(readme).toBe(withReference(readme));
  });

  it("documents every sectorwars key the stack files use", () => {
    for (const stack of ["dev", "prod"]) {
      const text = fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8");
      for (const [, key] of text.matchAll(/^ {2}(sectorwars:[A-Za-z]+):/gm)) {
        expect(readme, `${key} (Pulumi.${stack}.yaml)`).toContain(`\`${key}\``);
      }
    }
  });

  it("gives the test command that .ci/run runs", () => {
    const ci = fs.readFileSync(path.join(ROOT, ".ci/run"), "utf8");
    expect(readme).toContain("```sh\nnpm test\n```");
    expect(ci).toMatch(/^npm test$/m);
  });
});
