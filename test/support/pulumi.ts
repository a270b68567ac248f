/**
 * Runs the real program (index.ts) under Pulumi's mocks and records every register request,
 * including the resource options that MockResourceArgs leaves out (protect, retainOnDelete,
 * dependsOn, deleteBeforeReplace, replaceOnChanges, ignoreChanges).
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import { vi } from "vitest";
import { parse as parseYaml } from "yaml";

export const ROOT = path.resolve(__dirname, "../..");

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
}

export interface ProgramRun {
  resources: RegisteredResource[];
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
}

export function isSecretValue(value: unknown): value is { value: unknown } {
  return typeof value === "object" && value !== null && (value as Record<string, unknown>)[SECRET_SIG_KEY] === SECRET_SIG;
}

export function unwrapSecrets(value: unknown): unknown {
  if (isSecretValue(value)) return unwrapSecrets(value.value);
  if (Array.isArray(value)) return value.map(unwrapSecrets);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrapSecrets(v)]));
  }
  return value;
}

const digest = (text: string, length: number): string => crypto.createHash("sha256").update(text).digest("hex").slice(0, length);

/** Outputs the providers would compute, deterministic per resource name. */
function computedState(type: string, name: string, inputs: Record<string, unknown>, secrets: string[]): Record<string, unknown> {
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

class RecordingMonitor extends MockMonitor {
  readonly registered: RegisteredResource[] = [];

  // The request is a generated protobuf message; only its getters are used.
  override async registerResource(req: RegisterRequest, callback: (err: unknown, response: unknown) => void): Promise<void> {
    const rawInputs = (req.getObject()?.toJavaScript() ?? {}) as Record<string, unknown>;
    const type = req.getType();
    const name = req.getName();
    const record: RegisteredResource = {
      type,
      name,
      urn: "",
      parentUrn: req.getParent(),
      custom: req.getCustom(),
      inputs: unwrapSecrets(rawInputs) as Record<string, unknown>,
      rawInputs,
      protect: req.getProtect() ?? false,
      retainOnDelete: req.getRetainondelete() ?? false,
      deleteBeforeReplace: req.getDeletebeforereplace(),
      dependencies: req.getDependenciesList(),
      replaceOnChanges: req.getReplaceonchangesList(),
      ignoreChanges: req.getIgnorechangesList(),
    };
    this.registered.push(record);
    return super.registerResource(req, (err, response) => {
      if (response) record.urn = (response as { getUrn(): string }).getUrn();
      callback(err, response);
    });
  }
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
}

/** Stack file config (`config:` of Pulumi.<stack>.yaml) as plain values. */
export function readStackFile(stack: string): Record<string, unknown> {
  const text = fs.readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8");
  const doc = parseYaml(text) as { config?: Record<string, unknown> };
  return doc.config ?? {};
}

function toConfigMap(config: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(config).map(([key, value]) => [key, typeof value === "string" ? value : JSON.stringify(value)]),
  );
}

/**
 * Imports a fresh copy of index.ts with the given config under recording mocks, waits for every
 * registration, and returns the resource graph and the stack outputs.
 */
export async function runProgram(options: RunOptions): Promise<ProgramRun> {
  const generatedSecrets: string[] = [];
  const monitor = new RecordingMonitor({
    newResource: (args) => ({
      id: `${args.name}-id`,
      state: { ...args.inputs, ...computedState(args.type, args.name, args.inputs, generatedSecrets) },
    }),
    call: (args) => args.inputs,
  });
  const stack = options.stack ?? "test";
  // setMocks sets the runtime's feature flags; setMockOptions then swaps in the recording monitor.
  await pulumi.runtime.setMocks(monitor.mocks, "sectorwars-platform", stack, false);
  pulumi.runtime.setMockOptions(monitor, "sectorwars-platform", stack, false);
  const secrets = options.secrets ?? {};
  for (const value of Object.values(secrets)) generatedSecrets.push(value);
  pulumi.runtime.setAllConfig({ ...toConfigMap(options.config), ...secrets }, Object.keys(secrets));

  vi.resetModules();
  const program = (await import("../../index")) as Record<string, unknown>;
  const outputs: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(program)) outputs[key] = await resolve(value);
  await settings.waitForRPCs();

  const resources = monitor.registered;
  return {
    resources,
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

/** Resolves Outputs (and objects and arrays of them) to plain values; secrets stay marked. */
export async function resolve(value: unknown): Promise<unknown> {
  if (pulumi.Output.isInstance(value)) {
    const [plain, secret] = await Promise.all([promiseOf(value), value.isSecret]);
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
