/**
 * Every URN the program declares for the dev and prod stack files and a three-node swarm stack,
 * against the committed lists in test/fixtures/urns/. A URN is a resource's identity in the state:
 * one that changes (a renamed resource, a moved parent, a new type token) makes the next
 * `pulumi up` delete the resource and create another, a container or a volume included. This
 * test catches that in the pull request that makes the change.
 *
 * A deliberate change (a resource added or retired on purpose) rewrites the lists with
 * `UPDATE_URNS=1 npx vitest run test/urns.test.ts`; the diff of the fixture shows it in review.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { PROD_SECRETS } from "./support/configs";
import { ROOT, readStackFile, runProgram } from "./support/pulumi";
import { swarmDevConfig } from "./support/swarmConfigs";

const FIXTURES = path.join(ROOT, "test", "fixtures", "urns");

const STACKS: { name: string; run: () => ReturnType<typeof runProgram> }[] = [
  { name: "dev", run: () => runProgram({ config: readStackFile("dev"), stack: "dev" }) },
  { name: "prod", run: () => runProgram({ config: readStackFile("prod"), secrets: PROD_SECRETS, stack: "prod" }) },
  { name: "swarm", run: () => runProgram({ config: swarmDevConfig(), engine: "1.45", stack: "swarm" }) },
];

describe("URNs stay what deployed stacks have", () => {
  it.each(STACKS)("$name: every URN as committed in its list under test/fixtures/urns/", async ({ name, run }) => {
    const urns = (await run()).resources.map((r) => r.urn).sort();
    const file = path.join(FIXTURES, `${name}.txt`);
    if (process.env.UPDATE_URNS === "1") {
      fs.mkdirSync(FIXTURES, { recursive: true });
      fs.writeFileSync(file, `${urns.join("\n")}\n`);
    }
    const committed = fs.readFileSync(file, "utf8").split("\n").filter(Boolean);
    const gone = committed.filter((u) => !urns.includes(u));
    const added = urns.filter((u) => !committed.includes(u));
    expect(
      { gone, added },
      "a URN that is gone deletes (and a new one creates) a deployed resource; " +
        "if that is meant, UPDATE_URNS=1 npx vitest run test/urns.test.ts",
    ).toEqual({ gone: [], added: [] });
  });
});
