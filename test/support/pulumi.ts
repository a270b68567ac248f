/**
 * Runs the real program (index.ts) under Pulumi's mocks and records every register request,
 * including the resource options that MockResourceArgs leaves out (protect, retainOnDelete,
 * dependsOn, deleteBeforeReplace, replaceOnChanges, ignoreChanges).
 */
import * as crypto from "node:crypto";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { type MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import { DOCKER_ROOT_DIR_COMMAND } from "../../components/config/dockerEngine";
import { PROJECT_DIR, parseStackFile, readStackFileText } from "../../components/config/stackFile";

/** What the mocked engine answers for its data root. */
export const MOCK_DOCKER_ROOT_DIR = "/var/lib/docker";

export const ROOT = PROJECT_DIR;

// Internal to the SDK but exported: drains the queue of outstanding resource registrations.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const settings = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };

const SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

export interface RegisteredResource {
  type: string;
  name: string;
  urn: string;
  parentUrn: string;
  custom: boolean;
  /** Inputs with secrets unwrapped to their values. */
  inputs: Record<string, unknown>;
  /** Inputs as serialized: secrets still wrapped, so tests can tell which values are secret. */
  rawInputs: Record<string, unknown>;
  protect: boolean;
  retainOnDelete: boolean;
  deleteBeforeReplace: boolean;
  dependencies: string[];
  replaceOnChanges: string[];
  ignoreChanges: string[];
  /**
   * What the mock provider computed: the id and the outputs that are not inputs (a password's
   * result, an image id). A real preview knows none of them for a resource it replaces.
   */
  computed: Record<string, unknown>;
}

export interface ProgramRun {
  resources: RegisteredResource[];
  /** Arguments of the program's `command:local:run` invokes (commands run on every preview). */
  invokes: Record<string, unknown>[];
  outputs: Record<string, unknown>;
  /** Values the mocks generated for secrets (passwords, keys), to search plain inputs for. */
  generatedSecrets: string[];
  ofType(type: string): RegisteredResource[];
  byName(name: string): RegisteredResource;
}

export interface RunOptions {
  /** `sectorwars:*` and other stack config, as in a stack file (objects allowed). */
  config: Record<string, unknown>;
  /** Secret config values (key → plain value). */
  secrets?: Record<string, string>;
  stack?: string;
  /**
   * What the mocked `docker version` answers: an API version ("1.41", the default: Docker 20.10,
   * no health check start interval) or a failure's message.
   */
  engine?: string | { error: string };
}

export function isSecretValue(value: unknown): value is { value: unknown } {
  return (
    typeof value === "object" && value !== null && (value as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG
  );
}

export function unwrapSecrets(value: unknown): unknown {
  if (isSecretValue(value)) return unwrapSecrets(value.value);
  if (Array.isArray(value)) return value.map(unwrapSecrets);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrapSecrets(v)]));
  }
  return value;
}

const digest = (text: string, length: number): string =>
  crypto.createHash("sha256").update(text).digest("hex").slice(0, length);

/** Outputs the providers would compute, deterministic per resource name. */
function computedState(
  type: string,
  name: string,
  inputs: Record<string, unknown>,
  secrets: string[],
): Record<string, unknown> {
  switch (type) {
    case "random:index/randomPassword:RandomPassword": {
      const result = `MockPw${digest(`password:${name}`, 26)}`;
      secrets.push(result);
      return { result };
    }
    case "docker:index/remoteImage:RemoteImage":
      return { imageId: `sha256:${digest(`image:${String(inputs.name)}`, 64)}`, repoDigest: "" };
    case "tls:index/privateKey:PrivateKey": {
      const privateKeyPem = `-----BEGIN PRIVATE KEY-----\nMockKey${digest(name, 32)}\n-----END PRIVATE KEY-----\n`;
      secrets.push(privateKeyPem);
      return { privateKeyPem, publicKeyPem: "mock-public" };
    }
    case "tls:index/selfSignedCert:SelfSignedCert":
      return { certPem: `-----BEGIN CERTIFICATE-----\nMockCert${digest(name, 32)}\n-----END CERTIFICATE-----\n` };
    case "command:local:Command":
      return { stdout: "", stderr: "" };
    default:
      return {};
  }
}

/**
 * Wraps the MockMonitor that setMocks installed (so the runtime keeps the feature flags setMocks
 * set, secrets among them) and records each register request before passing it on.
 */
function recordRegistrations(
  monitor: MockMonitor,
  secretOutputs: Map<string, string[]>,
  computedOutputs: Map<string, Record<string, unknown>>,
): RegisteredResource[] {
  const registered: RegisteredResource[] = [];
  const original = monitor.registerResource.bind(monitor);
  monitor.registerResource = async (req: RegisterRequest, callback: (err: unknown, response: unknown) => void) => {
    secretOutputs.set(`${req.getType()}::${req.getName()}`, req.getAdditionalsecretoutputsList());
    const rawInputs = (req.getObject()?.toJavaScript() ?? {}) as Record<string, unknown>;
    const record: RegisteredResource = {
      type: req.getType(),
      name: req.getName(),
      urn: "",
      parentUrn: req.getParent(),
      custom: req.getCustom(),
      inputs: unwrapSecrets(rawInputs) as Record<string, unknown>,
      rawInputs,
      protect: req.getProtect() ?? false,
      retainOnDelete: req.getRetainondelete() ?? false,
      deleteBeforeReplace: req.getDeletebeforereplace(),
      // A set: the SDK gathers it asynchronously, so its order varies between runs.
      dependencies: [...req.getDependenciesList()].sort(),
      replaceOnChanges: req.getReplaceonchangesList(),
      ignoreChanges: req.getIgnorechangesList(),
      computed: {},
    };
    registered.push(record);
    return original(req, (err, response) => {
      if (response) record.urn = (response as { getUrn(): string }).getUrn();
      record.computed = computedOutputs.get(`${record.type}::${record.name}`) ?? {};
      callback(err, response);
    });
  };
  return registered;
}

interface RegisterRequest {
  getObject(): { toJavaScript(): unknown } | undefined;
  getType(): string;
  getName(): string;
  getParent(): string;
  getCustom(): boolean;
  getProtect(): boolean | undefined;
  getRetainondelete(): boolean | undefined;
  getDeletebeforereplace(): boolean;
  getDependenciesList(): string[];
  getReplaceonchangesList(): string[];
  getIgnorechangesList(): string[];
  getAdditionalsecretoutputsList(): string[];
}

/** The engine marks a resource's additionalSecretOutputs secret; the plain mock monitor does not. */
function markSecretOutputs(state: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(state).map(([k, v]) => [k, keys.includes(k) ? { [SECRET_SIG_KEY]: SECRET_SIG, value: v } : v]),
  );
}

/** Stack file config (`config:` of Pulumi.<stack>.yaml) as plain values. */
export function readStackFile(stack: string): Record<string, unknown> {
  return parseStackFile(readStackFileText(stack, { dir: ROOT }));
}

function toConfigMap(config: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(config).map(([key, value]) => [key, typeof value === "string" ? value : JSON.stringify(value)]),
  );
}

/** The program threw: its error, and what it had registered by then. */
export class ProgramFailure extends Error {
  constructor(
    readonly error: unknown,
    readonly registered: readonly RegisteredResource[],
  ) {
    super(error instanceof Error ? error.message : String(error), { cause: error });
    this.name = "ProgramFailure";
  }
}

/** Runs the program expecting it to fail; the failure says what was registered before it. */
export async function programFailure(options: RunOptions): Promise<ProgramFailure> {
  try {
    await runProgram(options);
  } catch (error) {
    if (error instanceof ProgramFailure) return error;
    throw error;
  }
  throw new Error("the program succeeded");
}

/**
 * Imports a fresh copy of index.ts with the given config under recording mocks, waits for every
 * registration, and returns the resource graph and the stack outputs.
 */
export async function runProgram(options: RunOptions): Promise<ProgramRun> {
  const generatedSecrets: string[] = [];
  const invokes: Record<string, unknown>[] = [];
  const stack = options.stack ?? "test";
  const secretOutputs = new Map<string, string[]>();
  const computedOutputs = new Map<string, Record<string, unknown>>();
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        const id = `${args.name}-id`;
        const computed = computedState(args.type, args.name, args.inputs, generatedSecrets);
        computedOutputs.set(`${args.type}::${args.name}`, { id, ...computed });
        return {
          id,
          state: markSecretOutputs(
            { ...args.inputs, ...computed },
            secretOutputs.get(`${args.type}::${args.name}`) ?? [],
          ),
        };
      },
      call: (args) => {
        if (args.token !== "command:local:run") return args.inputs;
        invokes.push(args.inputs as Record<string, unknown>);
        const engine = options.engine ?? "1.41";
        // As the engine reports a failed invoke: a gRPC error whose details are the message.
        if (typeof engine !== "string") throw Object.assign(new Error(engine.error), { details: engine.error });
        // The data root, asked by a stack whose monitoring reads the edge's log.
        if (args.inputs.command === DOCKER_ROOT_DIR_COMMAND)
          return { ...args.inputs, stdout: `${MOCK_DOCKER_ROOT_DIR}\n`, stderr: "" };
        return { ...args.inputs, stdout: `${engine}\n`, stderr: "" };
      },
    },
    "sectorwars-platform",
    stack,
    false,
  );
  const registered = recordRegistrations(
    pulumi.runtime.getMonitor() as unknown as MockMonitor,
    secretOutputs,
    computedOutputs,
  );
  const secrets = options.secrets ?? {};
  for (const value of Object.values(secrets)) generatedSecrets.push(value);
  pulumi.runtime.setAllConfig({ ...toConfigMap(options.config), ...secrets }, Object.keys(secrets));

  const program = await freshProgram();
  const outputs: Record<string, unknown> = {};
  let exported: Record<string, unknown>;
  try {
    exported = await program();
  } catch (error) {
    await settings.waitForRPCs().catch(() => undefined);
    throw new ProgramFailure(error, registered);
  }
  for (const [key, value] of Object.entries(exported)) outputs[key] = await resolve(value);
  await settings.waitForRPCs();

  const resources = registered;
  return {
    resources,
    invokes,
    outputs,
    generatedSecrets,
    ofType: (type) => resources.filter((r) => r.type === type),
    byName: (name) => {
      const found = resources.filter((r) => r.name === name);
      if (found.length !== 1) throw new Error(`expected one resource named "${name}", found ${found.length}`);
      return found[0] as RegisteredResource;
    },
  };
}

/**
 * Evaluates index.ts again, as `pulumi preview` would. Inside vitest that takes a reset of its
 * module registry; outside (the bench runs this under tsx) Node's require cache, since vitest
 * refuses to load there. Dependencies in node_modules stay loaded either way: setMocks resets
 * the SDK's runtime state, not its modules.
 */
async function freshProgram(): Promise<() => Promise<Record<string, unknown>>> {
  if (process.env.VITEST) {
    const { vi } = await import("vitest");
    vi.resetModules();
    return ((await import("../../index")) as { default: () => Promise<Record<string, unknown>> }).default;
  }
  const own = ["index.ts", "components", "planning"].map((entry) => path.join(ROOT, entry));
  for (const file of Object.keys(require.cache)) {
    if (own.some((prefix) => file === prefix || file.startsWith(prefix + path.sep))) delete require.cache[file];
  }
  // index.ts is `export = main`: Pulumi (and require) get the function itself.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require("../../index") as () => Promise<Record<string, unknown>>;
}

/** Resolves Outputs (and objects and arrays of them) to plain values; secrets stay marked. */
export async function resolve(value: unknown): Promise<unknown> {
  if (pulumi.Output.isInstance(value)) {
    const [plain, secret] = await Promise.all([promiseOf(value), pulumi.isSecret(value)]);
    return secret ? { secret: true, value: await resolve(plain) } : resolve(plain);
  }
  if (Array.isArray(value)) return Promise.all(value.map(resolve));
  if (typeof value === "object" && value !== null) {
    const entries = await Promise.all(Object.entries(value).map(async ([k, v]) => [k, await resolve(v)] as const));
    return Object.fromEntries(entries);
  }
  return value;
}

/** The value of an Output, for tests only. */
export function promiseOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolvePromise) => output.apply((v) => resolvePromise(v)));
}

export const CONTAINER = "docker:index/container:Container";
export const NETWORK = "docker:index/network:Network";
export const VOLUME = "docker:index/volume:Volume";
export const PASSWORD = "random:index/randomPassword:RandomPassword";
export const COMMAND = "command:local:Command";
export const SERVICE = "docker:index/service:Service";
export const SECRET = "docker:index/secret:Secret";
export const SERVICE_CONFIG = "docker:index/serviceConfig:ServiceConfig";
