/**
 * The GitHub Actions workflows, read as data: no runner exists here, so what can be checked is
 * that they run what CI runs, preview every stack the repository has, gate prod behind an
 * approval, and need only the secrets README lists.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { ROOT } from "./support/pulumi";

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, string>;
}
interface Job {
  uses?: string;
  needs?: string | string[];
  if?: string;
  "runs-on"?: string | string[];
  environment?: string | { name: string };
  steps?: Step[];
}
interface Workflow {
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  concurrency?: { group: string; "cancel-in-progress": boolean };
  jobs: Record<string, Job>;
}

const WORKFLOW_DIR = path.join(ROOT, ".github/workflows");
const read = (file: string): string => fs.readFileSync(path.join(ROOT, file), "utf8");
const workflow = (name: string): Workflow => parseYaml(read(`.github/workflows/${name}`)) as Workflow;

/** Jobs that run a Pulumi command, with the command and stack they run it on. */
function pulumiJobs(wf: Workflow): { job: string; command: unknown; stack: unknown; step: Step; def: Job }[] {
  return Object.entries(wf.jobs).flatMap(([job, def]) =>
    (def.steps ?? [])
      .filter((step) => step.uses?.startsWith("pulumi/actions@"))
      .map((step) => ({ job, command: step.with?.command, stack: step.with?.["stack-name"], step, def })),
  );
}

const stacksInRepo = fs
  .readdirSync(ROOT)
  .flatMap((file) => /^Pulumi\.([\w.-]+)\.yaml$/.exec(file)?.[1] ?? [])
  .sort();

const needs = (job: Job): string[] => (job.needs === undefined ? [] : [job.needs].flat());
const environmentName = (job: Job): string | undefined =>
  typeof job.environment === "string" ? job.environment : job.environment?.name;

describe("the test workflow", () => {
  const wf = workflow("test.yml");

  it("runs .ci/run, the README's test command, as a reusable job", () => {
    expect(Object.keys(wf.on)).toEqual(["workflow_call"]);
    const runs = Object.values(wf.jobs).flatMap((job) => (job.steps ?? []).map((step) => step.run ?? ""));
    expect(runs).toContain("bash .ci/run");
  });
});

describe("the pull-request workflow", () => {
  const wf = workflow("preview.yml");
  const previews = pulumiJobs(wf);

  it("runs on pull requests and may comment on them", () => {
    expect(Object.keys(wf.on)).toEqual(["pull_request"]);
    expect(wf.permissions?.["pull-requests"]).toBe("write");
  });

  it("runs the tests before any preview", () => {
    expect(wf.jobs.test?.uses).toBe("./.github/workflows/test.yml");
    for (const { job, def } of previews) expect(needs(def), job).toContain("test");
  });

  it(`previews every stack of the repository (${stacksInRepo.join(", ")}) and posts the diff on the PR`, () => {
    expect(previews.map((p) => p.command)).toEqual(previews.map(() => "preview"));
    expect(previews.map((p) => p.stack).sort()).toEqual(stacksInRepo);
    for (const { job, step } of previews) {
      expect(step.with?.["comment-on-pr"], job).toBe(true);
      expect(step.with?.["pulumi-version-file"], job).toBe(".pulumi-version");
    }
  });

  it("never previews prod for a fork's pull request (it runs on the prod host with prod secrets)", () => {
    const prod = previews.find((p) => p.stack === "prod");
    expect(prod?.def.if).toBe("github.event.pull_request.head.repo.full_name == github.repository");
  });

  it("never deploys", () => {
    expect(read(".github/workflows/preview.yml")).not.toMatch(/command:\s*(up|update|destroy)\b/);
  });
});

describe("the prod deployment workflow", () => {
  const wf = workflow("deploy-prod.yml");
  const ups = pulumiJobs(wf);

  it("runs on main only (or by hand) and never two at once", () => {
    expect(wf.on).toEqual({ push: { branches: ["main"] }, workflow_dispatch: null });
    expect(wf.concurrency).toEqual({ group: "deploy-prod", "cancel-in-progress": false });
  });

  it("runs `pulumi up` on prod after the tests, behind the prod environment's approval", () => {
    expect(ups.map((u) => [u.command, u.stack])).toEqual([["up", "prod"]]);
    const [up] = ups;
    expect(needs(up!.def)).toContain("test");
    expect(environmentName(up!.def)).toBe("prod");
  });

  it("runs on the production host itself, where backups and the backup timer belong", () => {
    expect(ups[0]?.def["runs-on"]).toEqual(["self-hosted", "sectorwars-prod"]);
  });

  it("checks the stack's status after deploying", () => {
    const runs = (ups[0]?.def.steps ?? []).map((step) => step.run ?? "");
    expect(runs.some((run) => /npm run -s status -- --stack prod\b/.test(run))).toBe(true);
  });
});

describe("workflows and README", () => {
  const texts = fs.readdirSync(WORKFLOW_DIR).map((file) => read(`.github/workflows/${file}`));
  const readme = read("README.md");

  it("need only secrets that README lists", () => {
    const secrets = new Set(texts.flatMap((text) => [...text.matchAll(/secrets\.([A-Z_]+)/g)].map((m) => m[1]!)));
    expect(secrets.size).toBeGreaterThan(0);
    for (const secret of secrets) expect(readme, `secret ${secret}`).toContain(`\`${secret}\``);
  });

  it("install the Pulumi CLI that matches the SDK in package.json", () => {
    const pkg = JSON.parse(read("package.json")) as { dependencies: Record<string, string> };
    expect(read(".pulumi-version").trim()).toBe(pkg.dependencies["@pulumi/pulumi"]);
  });
});
