/**
 * Readers over the recorded resource graph, so tests say what they check, not how to dig.
 */
import { CONTAINER, NETWORK, type ProgramRun, type RegisteredResource, isSecretValue } from "./pulumi";

type KeyValue = { label: string; value: string };

export function containers(run: ProgramRun): RegisteredResource[] {
  return run.ofType(CONTAINER);
}

/** A stateless container's Docker name ends in -<fingerprint> (planning/stack/replacement.ts). */
const FINGERPRINT_SUFFIX = /-[0-9a-f]{8}$/;

/** The seed's name of a container: its Docker name without a stateless container's fingerprint. */
export function stableName(container: RegisteredResource): string {
  return String(container.inputs.name).replace(FINGERPRINT_SUFFIX, "");
}

/** The one container whose seed name (see stableName) is `containerName`. */
export function containerNamed(run: ProgramRun, containerName: string): RegisteredResource {
  const found = containers(run).filter((c) => stableName(c) === containerName);
  if (found.length !== 1) {
    const names = containers(run).map((c) => String(c.inputs.name));
    throw new Error(`expected one container named ${containerName}, found ${found.length} among ${names.join(", ")}`);
  }
  return found[0] as RegisteredResource;
}

export function envOf(container: RegisteredResource): Record<string, string> {
  const envs = (container.inputs.envs as string[] | undefined) ?? [];
  return Object.fromEntries(envs.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
}

export function labelsOf(resource: RegisteredResource): Record<string, string> {
  return Object.fromEntries(((resource.inputs.labels as KeyValue[] | undefined) ?? []).map((l) => [l.label, l.value]));
}

export function networksOf(container: RegisteredResource): string[] {
  return ((container.inputs.networksAdvanced as { name: string }[] | undefined) ?? []).map((n) => n.name);
}

export function portsOf(container: RegisteredResource): { internal: number; external?: number; ip?: string }[] {
  return (container.inputs.ports as { internal: number; external?: number; ip?: string }[] | undefined) ?? [];
}

export function networkNamed(run: ProgramRun, name: string): RegisteredResource {
  const found = run.ofType(NETWORK).filter((n) => n.inputs.name === name);
  if (found.length !== 1) throw new Error(`expected one network named ${name}, found ${found.length}`);
  return found[0] as RegisteredResource;
}

export function uploadOf(container: RegisteredResource, file: string): string {
  const uploads = (container.inputs.uploads as { file: string; content?: string }[] | undefined) ?? [];
  const upload = uploads.find((u) => u.file === file);
  if (!upload?.content) throw new Error(`${String(container.inputs.name)} has no upload ${file}`);
  return upload.content;
}

/**
 * Every string in the non-secret parts of a value: a secret that shows up here is stored in
 * plain text in the state and shown by `pulumi preview`.
 */
export function plainStrings(value: unknown): string[] {
  return stringsIn(value, isSecretValue);
}

/** Every string in a value, at any depth, except inside the parts `skip` says to leave out. */
export function stringsIn(value: unknown, skip: (part: unknown) => boolean = () => false): string[] {
  if (skip(value)) return [];
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.flatMap((v) => stringsIn(v, skip));
  if (typeof value === "object" && value !== null) return Object.values(value).flatMap((v) => stringsIn(v, skip));
  return [];
}

/** The direct children of one component, keyed by logical name: what a diff would compare. */
export function childrenOf(run: ProgramRun, componentName: string): Record<string, unknown> {
  const component = run.resources.find((r) => !r.custom && r.name === componentName);
  if (!component) throw new Error(`no component named ${componentName}`);
  return Object.fromEntries(
    run.resources
      .filter((r) => r.parentUrn === component.urn)
      .map((r) => [
        r.name,
        { inputs: r.inputs, dependencies: r.dependencies, protect: r.protect, retainOnDelete: r.retainOnDelete },
      ]),
  );
}
