/**
 * What `pulumi preview` would do when the program goes from one recorded run to another,
 * counted exactly over the mocked resource graphs (by URN): creates, deletes, updates in place
 * and replacements. Pure functions of two runs, shared by test/blastRadius.test.ts and the bench.
 *
 * The model, and where it comes from:
 * - A resource is compared on its inputs, after the new program's ignoreChanges put the old
 *   values back at the ignored paths (that is what ignoreChanges means to the engine).
 * - Whether a changed input replaces depends on the provider: for a docker Container only a few
 *   inputs update in place (@pulumi/docker 5.x, from its Terraform provider's schema); a
 *   command:local:Command replaces on `triggers` and updates on anything else; networks,
 *   volumes, passwords, images and TLS material are immutable. A key in replaceOnChanges always
 *   replaces.
 * - A replaced resource has a new id and new computed outputs, which a preview does not know:
 *   every input elsewhere that carries one of them changes too (the edge reload Command's
 *   trigger on the container id, say). This cascades until nothing new is replaced.
 * - A deleted resource that was registered with retainOnDelete leaves the state but is kept.
 */
import { IN_PLACE_INPUTS } from "../../planning/stack/replacement";
import { stringsIn } from "./graph";
import { COMMAND, CONTAINER, type RegisteredResource, SERVICE } from "./pulumi";

/**
 * docker.Service inputs that replace the service (@pulumi/docker 5.x, from its Terraform
 * provider's schema: ForceNew on the name); any other change is a rolling update of its tasks.
 */
const SERVICE_REPLACING: ReadonlySet<string> = new Set(["name"]);

/**
 * Container inputs the docker provider changes on the running container (`docker update`): the
 * ones its Terraform source updates, plus memoryReservation, which @pulumi/docker 5.x's schema
 * adds as updatable. The names of stateless containers do not rely on the latter.
 */
export const CONTAINER_IN_PLACE: ReadonlySet<string> = new Set([...IN_PLACE_INPUTS, "memoryReservation"]);

export type ChangeKind = "create" | "delete" | "retain" | "update" | "replace";

export interface Change {
  urn: string;
  type: string;
  name: string;
  kind: ChangeKind;
  /** Top-level inputs that differ (updates and replacements), sorted. */
  keys: string[];
  /** Replacements only: the inputs that force it, sorted. */
  replaceKeys: string[];
  /** Inputs that change only because a resource they come from is replaced: its name. */
  unknownFrom: string[];
  /** Replacements only: the old resource goes before the new one comes (deleteBeforeReplace). */
  deleteFirst: boolean;
}

export interface BlastRadius {
  created: Change[];
  /** Deleted from the host. */
  deleted: Change[];
  /** Dropped from the state but kept on the host (retainOnDelete). */
  retained: Change[];
  updated: Change[];
  replaced: Change[];
  unchanged: number;
}

/** An ignoreChanges path ("uploads[0]", "labels[\"x\"].value") as keys and indexes. */
export function parsePropertyPath(path: string): (string | number)[] {
  const parts: (string | number)[] = [];
  for (const m of path.matchAll(/\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]|([^.[\]]+)/g)) {
    if (m[1] !== undefined) parts.push(Number(m[1]));
    else if (m[2] !== undefined) parts.push(m[2]);
    else if (m[3] !== undefined) parts.push(m[3]);
  }
  return parts;
}

type Container = Record<string | number, unknown>;
const isContainer = (v: unknown): v is Container => typeof v === "object" && v !== null;

function getPath(value: unknown, path: readonly (string | number)[]): { found: boolean; value: unknown } {
  let current = value;
  for (const key of path) {
    if (!isContainer(current) || !(key in current)) return { found: false, value: undefined };
    current = current[key];
  }
  return { found: true, value: current };
}

/** `inputs` with the old value (or its absence) at `path`; the rest is shared, not copied. */
function withOldValueAt(inputs: unknown, old: unknown, path: readonly (string | number)[]): unknown {
  const [key, ...rest] = path;
  if (key === undefined) {
    return old;
  }
  if (!isContainer(inputs)) return inputs;
  const copy: Container = Array.isArray(inputs) ? ([...inputs] as unknown as Container) : { ...inputs };
  const oldChild = getPath(old, [key]);
  if (rest.length === 0) {
    if (oldChild.found) copy[key] = oldChild.value;
    else if (Array.isArray(copy)) return copy;
    else delete copy[key];
    return copy;
  }
  if (!(key in copy)) return copy;
  copy[key] = withOldValueAt(copy[key], oldChild.value, rest);
  return copy;
}

/** Key-order-independent deep equality of plain JSON-like values. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  }
  if (!isContainer(a) || !isContainer(b)) return false;
  const ka = Object.keys(a).filter((k) => a[k] !== undefined);
  const kb = Object.keys(b).filter((k) => b[k] !== undefined);
  return ka.length === kb.length && ka.every((k) => deepEqual(a[k], b[k]));
}

function changedKeys(before: RegisteredResource, after: RegisteredResource): string[] {
  let next: unknown = after.inputs;
  for (const ignored of after.ignoreChanges) {
    next = withOldValueAt(next, before.inputs, parsePropertyPath(ignored));
  }
  const a = before.inputs;
  const b = next as Record<string, unknown>;
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => !deepEqual(a[k], b[k])).sort();
}

/** The changed inputs that replace the resource rather than update it. */
export function replacingKeys(resource: RegisteredResource, keys: readonly string[]): string[] {
  const forced = new Set(resource.replaceOnChanges.map((p) => String(parsePropertyPath(p)[0])));
  const replaces = (key: string): boolean => {
    if (forced.has("*") || forced.has(key)) return true;
    if (resource.type === CONTAINER) return !CONTAINER_IN_PLACE.has(key);
    if (resource.type === COMMAND) return key === "triggers";
    if (resource.type === SERVICE) return SERVICE_REPLACING.has(key);
    return true;
  };
  return keys.filter(replaces);
}

/**
 * Ids are matched whole (a trigger carries one as it is); longer computed values such as a
 * password also inside a string (a DATABASE_URL). Short ones inside text would match by chance.
 */
function carries(value: unknown, unknowns: ReadonlySet<string>, long: readonly string[]): boolean {
  return stringsIn(value).some((s) => unknowns.has(s) || long.some((u) => s.includes(u)));
}

const byUrn = (a: Change, b: Change): number => (a.urn < b.urn ? -1 : a.urn > b.urn ? 1 : 0);

export function blastRadius(before: readonly RegisteredResource[], after: readonly RegisteredResource[]): BlastRadius {
  const old = new Map(before.map((r) => [r.urn, r]));
  const next = new Map(after.map((r) => [r.urn, r]));
  const change = (r: RegisteredResource, kind: ChangeKind): Change => ({
    urn: r.urn,
    type: r.type,
    name: r.name,
    kind,
    keys: [],
    replaceKeys: [],
    unknownFrom: [],
    deleteFirst: false,
  });

  const created = after.filter((r) => !old.has(r.urn)).map((r) => change(r, "create"));
  const gone = before.filter((r) => !next.has(r.urn));
  const deleted = gone.filter((r) => !r.retainOnDelete).map((r) => change(r, "delete"));
  const retained = gone.filter((r) => r.retainOnDelete).map((r) => change(r, "retain"));

  const common = after.filter((r) => old.has(r.urn));
  const keys = new Map(common.map((r) => [r.urn, new Set(changedKeys(old.get(r.urn) as RegisteredResource, r))]));
  const unknownFrom = new Map<string, Set<string>>(common.map((r) => [r.urn, new Set()]));
  const isReplaced = (r: RegisteredResource): boolean => replacingKeys(r, [...(keys.get(r.urn) ?? [])]).length > 0;

  // Cascade: the outputs of each newly replaced resource become unknown where they are used.
  const seen = new Set<string>();
  for (;;) {
    const fresh = common.filter((r) => isReplaced(r) && !seen.has(r.urn));
    if (fresh.length === 0) break;
    for (const source of fresh) {
      seen.add(source.urn);
      const values = stringsIn((old.get(source.urn) as RegisteredResource).computed).filter((s) => s !== "");
      const unknowns = new Set(values);
      const long = values.filter((s) => s.length >= 16);
      for (const target of common) {
        if (target.urn === source.urn) continue;
        for (const [key, value] of Object.entries((old.get(target.urn) as RegisteredResource).inputs)) {
          if (carries(value, unknowns, long)) {
            keys.get(target.urn)?.add(key);
            unknownFrom.get(target.urn)?.add(source.name);
          }
        }
      }
    }
  }

  const updated: Change[] = [];
  const replaced: Change[] = [];
  let unchanged = 0;
  for (const r of common) {
    const changed = [...(keys.get(r.urn) ?? [])].sort();
    if (changed.length === 0) {
      unchanged++;
      continue;
    }
    const replaceKeys = replacingKeys(r, changed);
    const entry: Change = {
      ...change(r, replaceKeys.length > 0 ? "replace" : "update"),
      keys: changed,
      replaceKeys,
      unknownFrom: [...(unknownFrom.get(r.urn) ?? [])].sort(),
      deleteFirst: replaceKeys.length > 0 && r.deleteBeforeReplace,
    };
    (replaceKeys.length > 0 ? replaced : updated).push(entry);
  }
  return {
    created: created.sort(byUrn),
    deleted: deleted.sort(byUrn),
    retained: retained.sort(byUrn),
    updated: updated.sort(byUrn),
    replaced: replaced.sort(byUrn),
    unchanged,
  };
}

/** The logical names of some changes, sorted: what assertions compare. */
export function namesOf(changes: readonly Change[]): string[] {
  return changes.map((c) => c.name).sort();
}

/** One line per change, for failure messages and the bench's log. */
export function describeRadius(radius: BlastRadius): string {
  const all = [...radius.created, ...radius.deleted, ...radius.retained, ...radius.updated, ...radius.replaced];
  if (all.length === 0) return "(no changes)";
  return all
    .map((c) => {
      const detail =
        c.kind === "update" || c.kind === "replace"
          ? ` [${(c.kind === "replace" ? c.replaceKeys : c.keys).join(", ")}]${c.unknownFrom.length > 0 ? ` (unknown after replacing ${c.unknownFrom.join(", ")})` : ""}`
          : "";
      const order =
        c.kind === "replace" && c.type === CONTAINER ? (c.deleteFirst ? " delete-first" : " create-first") : "";
      return `${c.kind.padEnd(7)} ${c.type} ${c.name}${detail}${order}`;
    })
    .join("\n");
}
