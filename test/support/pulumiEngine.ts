/**
 * A real Pulumi engine for tests: the `pulumi` CLI and the command, docker, random and tls
 * plugins, driven through the Automation API on this repository's program, with a local file
 * backend in a temporary directory. What `pulumi preview`, `up`, `refresh` and `destroy` do here
 * is what they do for an operator.
 *
 * Where the engine is looked for, first found wins:
 * 1. the directory `SECTORWARS_PULUMI_ENGINE` names (set but incomplete: an error, never a skip;
 *    `none`: look nowhere, and skip the real-engine tests for that reason);
 * 2. `pulumi` on PATH (plugins on PATH too, or installed with `pulumi plugin install`);
 * 3. /var/cache/pulumi-engine/bin, where ../shared/tools/pulumi-engine/build.sh puts it (CI runs
 *    without the developer's PATH, so the suite looks there itself).
 * None of them: every real-engine test is skipped with that reason (see engineSuites.ts).
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  type DestroyResult,
  type EngineEvent,
  LocalWorkspace,
  type OutputMap,
  type PreviewResult,
  PulumiCommand,
  type RefreshResult,
  Stack,
  type UpResult,
} from "@pulumi/pulumi/automation";
import { parse as parseYaml, stringify } from "yaml";
import { PROJECT_DIR } from "../../components/config/stackFile";
import { run } from "./docker";

export const ENGINE_DIR_VARIABLE = "SECTORWARS_PULUMI_ENGINE";
export const BUILT_ENGINE_DIR = "/var/cache/pulumi-engine/bin";
const PLUGINS = ["command", "docker", "random", "tls"] as const;

/** The key of the envelope that marks a secret value in Pulumi's state. */
const SECRET_SIGNATURE = "4dabf18193072939515e22adb298388d";

export type PulumiEngine = { available: true; binDir: string; version: string } | { available: false; reason: string };

const executable = (file: string): boolean => {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
};

/** The first directory on PATH holding `name`. */
const onPath = (name: string): string | undefined =>
  (process.env.PATH ?? "")
    .split(path.delimiter)
    .filter(Boolean)
    .find((dir) => executable(path.join(dir, name)));

/** What `dir` lacks of the CLI, its language host and the plugins the program uses. */
function missingIn(dir: string): string[] {
  const wanted = ["pulumi", "pulumi-language-nodejs", ...PLUGINS.map((p) => `pulumi-resource-${p}`)];
  return wanted.filter((name) => !executable(path.join(dir, name)) && !onPath(name));
}

/** Plugins that `pulumi plugin ls` knows (installed in PULUMI_HOME). */
function installedPlugins(pulumi: string): Set<string> {
  const listed = run(pulumi, ["plugin", "ls", "--json"], { timeoutMs: 30_000 });
  if (listed.status !== 0) return new Set();
  try {
    return new Set((JSON.parse(listed.stdout) as { name: string; kind: string }[]).map((p) => p.name));
  } catch {
    return new Set();
  }
}

function describe(binDir: string): PulumiEngine {
  const version = run(path.join(binDir, "pulumi"), ["version"], { timeoutMs: 30_000 });
  if (version.status !== 0) {
    return { available: false, reason: `${binDir}/pulumi does not run: ${version.stderr.trim().slice(0, 200)}` };
  }
  return { available: true, binDir, version: version.stdout.trim() };
}

let found: PulumiEngine | undefined;

/** Finds the engine (see the header); synchronous, so a test file can decide at collection what runs. */
export function findPulumiEngine(): PulumiEngine {
  if (found) return found;
  const named = process.env[ENGINE_DIR_VARIABLE];
  if (named === "none") return (found = { available: false, reason: `${ENGINE_DIR_VARIABLE}=none` });
  if (named) {
    const missing = missingIn(named);
    if (missing.length > 0) throw new Error(`${ENGINE_DIR_VARIABLE}=${named} lacks ${missing.join(", ")}`);
    return (found = describe(named));
  }
  const cli = onPath("pulumi");
  if (cli) {
    const missing = missingIn(cli).filter((name) => !name.startsWith("pulumi-resource-"));
    const plugins = installedPlugins(path.join(cli, "pulumi"));
    const absent = PLUGINS.filter((p) => !onPath(`pulumi-resource-${p}`) && !plugins.has(p));
    if (missing.length === 0 && absent.length === 0) return (found = describe(cli));
    return (found = {
      available: false,
      reason: `pulumi on PATH (${cli}) lacks ${[...missing, ...absent.map((p) => `the ${p} plugin`)].join(", ")}`,
    });
  }
  if (missingIn(BUILT_ENGINE_DIR).length === 0) return (found = describe(BUILT_ENGINE_DIR));
  return (found = {
    available: false,
    reason: `no pulumi CLI on PATH, in $${ENGINE_DIR_VARIABLE} or in ${BUILT_ENGINE_DIR} (README, "The real-engine tests")`,
  });
}

/** Pulumi's names for what an operation did to resources (`same`, `create`, `update`, `replace`, ...). */
export type ChangeSummary = Record<string, number>;

/** Resource operations other than `same`: what a "no change" run must not have. */
export function changesOf(summary: ChangeSummary | undefined): ChangeSummary {
  return Object.fromEntries(Object.entries(summary ?? {}).filter(([op, n]) => op !== "same" && n > 0));
}

export interface StepRecord {
  urn: string;
  op: string;
  /** Properties that differ, as the engine reports them. */
  diffs: string[];
  /** The paths within them that differ, and how ("taskSpec.containerSpec.image: update"), where the provider says. */
  detailed: string[];
  /** Seconds from the operation's start to the step's start and end (as the events arrived). */
  started: number;
  ended?: number;
}

/** A step as one line: "update region-orion-db [taskSpec]". */
export const stepLine = (s: StepRecord): string =>
  `${s.op} ${s.urn.split("::").pop() ?? s.urn} [${s.diffs.join(", ")}]`;

/** One operation as the engine reported it: how long it took, what it did and to which resources. */
export interface Timed<T> {
  result: T;
  seconds: number;
  /** Every resource step other than `same`, with its diff. */
  steps: StepRecord[];
}

export interface EngineStackOptions {
  engine: Extract<PulumiEngine, { available: true }>;
  /** Pulumi's stack name: part of the Docker names through the stack label. */
  stackName: string;
  /** `sectorwars:*` (and other) config as a stack file holds it: objects and lists allowed. */
  config: Record<string, unknown>;
  /** Secret config values (key → plain value), set with `--secret`. */
  secrets?: Record<string, string>;
  /** DOCKER_HOST of the engine the stack deploys to (`docker:host`). */
  dockerHost: string;
  /** The program's directory: this checkout unless given (an older release's, for an upgrade). */
  programDir?: string;
}

/**
 * The project as the program's own Pulumi.yaml declares it (its runtime options: what an
 * operator's `pulumi up` runs with), run from `main`. A relative tsconfig is made absolute: the
 * workspace is elsewhere.
 */
function projectSettings(main: string) {
  const project = parseYaml(fs.readFileSync(path.join(main, "Pulumi.yaml"), "utf8")) as {
    name: string;
    runtime: { name: "nodejs"; options?: Record<string, unknown> };
  };
  const options = { ...project.runtime.options };
  if (typeof options.tsconfig === "string") options.tsconfig = path.resolve(main, options.tsconfig);
  return { name: project.name, runtime: { name: project.runtime.name, options }, main };
}

/**
 * A stack of this repository's program on a fresh local backend. The workspace is a temporary
 * directory whose Pulumi.yaml names the repository as the program (`main`), so stack files and
 * state never land in the checkout; the program runs in the repository as for an operator.
 */
export class EngineStack {
  readonly dir: string;
  private config: Record<string, unknown>;

  private constructor(
    readonly stack: Stack,
    private readonly options: EngineStackOptions,
    dir: string,
    /** The CLI's environment: the engine's binaries, the local backend, the Docker host. */
    private readonly envVars: Record<string, string>,
  ) {
    this.dir = dir;
    this.config = options.config;
  }

  static async create(options: EngineStackOptions): Promise<EngineStack> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sectorwars-engine-"));
    fs.mkdirSync(path.join(dir, "state"));
    const envVars = {
      PATH: `${options.engine.binDir}${path.delimiter}${process.env.PATH ?? ""}`,
      PULUMI_HOME: path.join(dir, "home"),
      PULUMI_BACKEND_URL: `file://${path.join(dir, "state")}`,
      PULUMI_CONFIG_PASSPHRASE: "engine-test",
      PULUMI_SKIP_UPDATE_CHECK: "1",
      DOCKER_HOST: options.dockerHost,
    };
    const pulumiCommand = await PulumiCommand.get({
      root: path.dirname(options.engine.binDir),
      skipVersionCheck: true,
    });
    const workspace = await LocalWorkspace.create({
      workDir: dir,
      pulumiCommand,
      envVars,
      projectSettings: projectSettings(options.programDir ?? PROJECT_DIR),
    });
    const engineStack = new EngineStack(await Stack.create(options.stackName, workspace), options, dir, envVars);
    engineStack.writeConfig(options.config);
    for (const [key, value] of Object.entries(options.secrets ?? {})) {
      await engineStack.stack.setConfig(key, { value, secret: true });
    }
    return engineStack;
  }

  /** Runs the program in `dir` from now on, as an operator who checks out another release. */
  async useProgram(dir: string): Promise<void> {
    await this.stack.workspace.saveProjectSettings(projectSettings(dir));
  }

  /** The stack file's config now. */
  get currentConfig(): Record<string, unknown> {
    return this.config;
  }

  /**
   * Replaces the plain config, as an operator editing Pulumi.<stack>.yaml would; the secrets set
   * with `--secret` (and the file's encryption salt) stay.
   */
  writeConfig(config: Record<string, unknown>): void {
    const file = path.join(this.dir, `Pulumi.${this.options.stackName}.yaml`);
    const current = ((fs.existsSync(file) ? parseYaml(fs.readFileSync(file, "utf8")) : null) ?? {}) as {
      config?: Record<string, unknown>;
    };
    const secrets = Object.fromEntries(
      Object.entries(current.config ?? {}).filter(
        ([, value]) => typeof value === "object" && value !== null && "secure" in value,
      ),
    );
    const doc = {
      ...current,
      config: { "docker:host": this.options.dockerHost, ...config, ...secrets },
    };
    fs.writeFileSync(file, stringify(doc));
    this.config = config;
  }

  async preview(opts: { expectNoChanges?: boolean } = {}): Promise<Timed<PreviewResult>> {
    return this.timed((onEvent) => this.stack.preview({ ...opts, onEvent }));
  }

  async up(opts: { expectNoChanges?: boolean } = {}): Promise<Timed<UpResult>> {
    return this.timed((onEvent) => this.stack.up({ ...opts, onEvent }));
  }

  /**
   * What a preview would do, one line per resource step other than `same` ("update
   * region-orion-db [taskSpec]"): empty when the stack is as the program declares it.
   */
  async previewChanges(): Promise<string[]> {
    return (await this.previewSteps()).map(stepLine);
  }

  /** The preview's steps other than `same`, with the paths that differ. */
  async previewSteps(): Promise<StepRecord[]> {
    return (await this.preview()).steps;
  }

  async refresh(opts: { expectNoChanges?: boolean } = {}): Promise<Timed<RefreshResult>> {
    return this.timed((onEvent) => this.stack.refresh({ ...opts, onEvent }));
  }

  async destroy(opts: { excludeProtected?: boolean } = {}): Promise<Timed<DestroyResult>> {
    return this.timed((onEvent) => this.stack.destroy({ ...opts, onEvent }));
  }

  /** Every resource in the state: its URN, id, inputs and outputs, as JSON text. */
  async resources(): Promise<Record<string, string>> {
    const { deployment } = (await this.stack.exportStack()) as {
      deployment: { resources?: { urn: string; id?: string; inputs?: unknown; outputs?: unknown }[] };
    };
    return Object.fromEntries(
      (deployment.resources ?? []).map((r) => [
        r.urn,
        JSON.stringify({ id: r.id, inputs: r.inputs, outputs: r.outputs }),
      ]),
    );
  }

  /**
   * Where `text` is in the state outside a secret ("edge.outputs.envs[2]"): none for a value kept
   * secret. The export shows secrets decrypted (`--show-secrets`), inside the envelope Pulumi marks
   * them with, which is what is skipped.
   */
  async plainTextPaths(text: string): Promise<string[]> {
    const found: string[] = [];
    const walk = (value: unknown, where: string): void => {
      if (typeof value === "object" && value !== null && SECRET_SIGNATURE in value) return;
      if (typeof value === "string") {
        if (value.includes(text)) found.push(where);
      } else if (Array.isArray(value)) {
        value.forEach((v, i) => walk(v, `${where}[${i}]`));
      } else if (typeof value === "object" && value !== null) {
        for (const [k, v] of Object.entries(value)) walk(v, `${where}.${k}`);
      }
    };
    const { deployment } = (await this.stack.exportStack()) as { deployment: { resources?: { urn: string }[] } };
    for (const r of deployment.resources ?? []) walk(r, r.urn.split("::").pop() ?? r.urn);
    return found;
  }

  async outputs(): Promise<OutputMap> {
    return this.stack.outputs();
  }

  /**
   * `pulumi up` or `pulumi destroy` as an operator runs it: the CLI alone, timed until it exits
   * (the Automation API reads the stack's history and outputs after it, which an operator
   * does not wait for), its steps from its event log.
   */
  async cli(operation: "up" | "destroy"): Promise<{ seconds: number; steps: StepRecord[] }> {
    const eventLog = path.join(this.dir, `events-${operation}-${Date.now()}.json`);
    const args = [operation, "--yes", "--skip-preview", "--non-interactive", "--stack", this.options.stackName];
    const started = Date.now();
    const exit = await new Promise<{ status: number | null; output: string }>((resolve, reject) => {
      const child = spawn(path.join(this.options.engine.binDir, "pulumi"), [...args, "--event-log", eventLog], {
        cwd: this.dir,
        // --event-log is one of the debug commands' flags, as the Automation API uses it.
        env: { ...process.env, ...this.envVars, PULUMI_DEBUG_COMMANDS: "true" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
      child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
      child.on("error", reject);
      child.on("close", (status) => resolve({ status, output }));
    });
    const seconds = (Date.now() - started) / 1000;
    if (exit.status !== 0) throw new Error(`pulumi ${operation} failed (${exit.status}):\n${exit.output.slice(-4000)}`);
    const events = fs
      .readFileSync(eventLog, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as EngineEvent & { timestamp: number });
    const first = events[0]?.timestamp ?? 0;
    const steps: StepRecord[] = [];
    for (const event of events) recordStep(steps, event, event.timestamp - first);
    return { seconds, steps };
  }

  /** Removes the workspace (stack file, state); what the stack deployed is the caller's to destroy. */
  dispose(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private async timed<T>(operation: (onEvent: (event: EngineEvent) => void) => Promise<T>): Promise<Timed<T>> {
    const steps: StepRecord[] = [];
    const started = Date.now();
    const now = () => (Date.now() - started) / 1000;
    const result = await operation((event) => recordStep(steps, event, now()));
    return { result, seconds: (Date.now() - started) / 1000, steps };
  }
}

/** Adds an engine event to the steps other than `same`: a step's start, or the end of the last one of its URN. */
function recordStep(steps: StepRecord[], event: EngineEvent, at: number): void {
  const step = event.resourcePreEvent?.metadata;
  if (step && step.op !== "same") {
    const detailed = Object.entries(step.detailedDiff ?? {}).map(([path, d]) => `${path}: ${d.diffKind}`);
    steps.push({ urn: step.urn, op: step.op, diffs: step.diffs ?? [], detailed, started: at });
  }
  const done = event.resOutputsEvent?.metadata ?? event.resOpFailedEvent?.metadata;
  const record = done && [...steps].reverse().find((s) => s.urn === done.urn && s.ended === undefined);
  if (record) record.ended = at;
}
