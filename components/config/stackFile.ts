/**
 * The one reader of a stack's config: the program (from Pulumi's runtime), the operator CLIs and
 * the tests (from Pulumi.<stack>.yaml, without the Pulumi CLI) all take the `sectorwars:*` keys
 * apart here, so the three cannot disagree on what a key is or which keys are secret.
 *
 * Pure parsing of the file text and of config entries, plus one I/O function that reads the file.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { CONFIG_NAMESPACE, SECRET_KEYS, type SecretKey } from "../../planning/config";
import { PROJECT_DIR } from "../../planning/project";

export { PROJECT_DIR };

export const stackFileName = (stack: string): string => `Pulumi.${stack}.yaml`;

/**
 * The `config:` map of a stack file's text, keys with their namespace, values as the Pulumi CLI
 * wrote them (objects and lists for `--path` settings). Throws on text that is not YAML.
 */
export function parseStackFile(text: string): Record<string, unknown> {
  const doc = parseYaml(text) as { config?: Record<string, unknown> } | null;
  return doc?.config ?? {};
}

const isSecretKey = (key: string): key is SecretKey => key in SECRET_KEYS;

/** The `sectorwars:*` entries of a stack config, split into plain values and the secret keys set. */
export interface PlatformEntries {
  /** Every non-secret key, namespace stripped, in the order given: what parseConfig takes. */
  raw: Record<string, unknown>;
  /** The secret keys the stack sets; their values are never part of `raw`. */
  secretKeys: SecretKey[];
}

/** Takes a stack config (file or runtime, namespaced keys) apart; other namespaces are left out. */
export function platformEntries(config: Record<string, unknown>): PlatformEntries {
  const prefix = `${CONFIG_NAMESPACE}:`;
  const raw: Record<string, unknown> = {};
  const secretKeys: SecretKey[] = [];
  for (const [fullKey, value] of Object.entries(config)) {
    if (!fullKey.startsWith(prefix)) continue;
    const key = fullKey.slice(prefix.length);
    if (isSecretKey(key)) secretKeys.push(key);
    else raw[key] = value;
  }
  return { raw, secretKeys };
}

/** The text of `<dir>/Pulumi.<stack>.yaml` (the project's by default); throws what fs throws. */
export function readStackFileText(stack: string, options: { dir?: string } = {}): string {
  return fs.readFileSync(path.join(options.dir ?? PROJECT_DIR, stackFileName(stack)), "utf8");
}
