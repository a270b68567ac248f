/**
 * Reads the `sectorwars:*` stack config from Pulumi and hands it to the pure parser. Secret keys
 * are only ever read as Pulumi secrets; the parser learns whether they are set, not their values.
 */
import * as fs from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import {
  CONFIG_NAMESPACE,
  ConfigError,
  type FileRead,
  type PlatformConfig,
  type SecretKey,
  parseConfig,
} from "../../planning/config";
import type { TlsSource } from "../edge/tlsMaterial";
import { platformEntries } from "./stackFile";

type Secrets = Partial<Record<SecretKey, pulumi.Output<string>>>;

export interface LoadedConfig {
  config: PlatformConfig;
  secrets: Secrets;
}

/** What the secret keys give the components, the same in both orchestrators. */
export interface StackSecrets {
  /** The stack's certificate (tlsCertificate, tlsPrivateKey), else the host name to sign one for. */
  tls: TlsSource;
  /** PayPal's credentials; absent in a dev stack that has none. */
  paypalCredentials?: { clientId: pulumi.Output<string>; clientSecret: pulumi.Output<string> };
  /** backup.repository's key and storage credentials (the config check demands both with it). */
  backupRepository?: { password: pulumi.Output<string>; credentials: pulumi.Output<string> };
  /** Where Alertmanager posts alerts (monitoringAlertWebhook). */
  alertWebhook?: pulumi.Output<string>;
}

export function stackSecrets(secrets: Secrets, config: Pick<PlatformConfig, "edge">): StackSecrets {
  const { tlsCertificate, tlsPrivateKey, paypalClientId, paypalClientSecret } = secrets;
  const { backupRepositoryPassword, backupRepositoryCredentials } = secrets;
  return {
    tls:
      tlsCertificate && tlsPrivateKey
        ? { certificate: tlsCertificate, privateKey: tlsPrivateKey }
        : { selfSignedFor: config.edge.hostname },
    ...(paypalClientId && paypalClientSecret
      ? { paypalCredentials: { clientId: paypalClientId, clientSecret: paypalClientSecret } }
      : {}),
    ...(backupRepositoryPassword && backupRepositoryCredentials
      ? { backupRepository: { password: backupRepositoryPassword, credentials: backupRepositoryCredentials } }
      : {}),
    ...(secrets.monitoringAlertWebhook ? { alertWebhook: secrets.monitoringAlertWebhook } : {}),
  };
}

// Internal to the SDK but exported: whether a config key holds a value set with --secret.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const runtimeConfig = require("@pulumi/pulumi/runtime/config") as { isConfigSecret(key: string): boolean };

/** Structured values arrive as JSON text, scalars as plain text. */
function decode(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/**
 * A file the config names, relative to the project directory (Pulumi runs the program there);
 * its size is checked before it is read.
 */
export function readProjectFile(file: string, maxBytes: number): FileRead {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return {
      problem: code === "ENOENT" ? `does not exist (relative to ${process.cwd()})` : `cannot be read (${code})`,
    };
  }
  if (!stat.isFile()) return { problem: "is not a regular file" };
  if (stat.size > maxBytes) return { problem: `is ${stat.size} bytes; at most ${maxBytes} are accepted` };
  try {
    return { bytes: fs.readFileSync(file) };
  } catch (err) {
    return { problem: `cannot be read (${(err as NodeJS.ErrnoException).code})` };
  }
}

/**
 * The error that fails a preview before any resource is declared: Pulumi prints its message
 * alone. Its stack is set to the message up front because Pulumi's runtime still reads
 * `error.stack`, and formatting a stack through ts-node's source maps took 16 s of CPU on every
 * failing preview (measured on the real engine: 18.7 s to fail, 2.7 s with this).
 */
export function configFailure(message: string): pulumi.RunError {
  const error = new pulumi.RunError(message);
  error.stack = message;
  return error;
}

/**
 * Loads and validates the stack config. An invalid config fails here, before any resource is
 * declared, with every problem and its config path, and without a stack trace.
 */
export function loadStackConfig(): LoadedConfig {
  const config = new pulumi.Config(CONFIG_NAMESPACE);
  const { raw: text, secretKeys } = platformEntries(pulumi.runtime.allConfig());
  const raw = Object.fromEntries(Object.entries(text).map(([key, value]) => [key, decode(value as string)]));
  // Secret keys are read only as Pulumi secrets; the parser learns that they are set.
  const secrets: Secrets = Object.fromEntries(secretKeys.map((key) => [key, config.requireSecret(key)]));
  const secretValued = new Set(
    Object.keys(raw).filter((key) => runtimeConfig.isConfigSecret(`${CONFIG_NAMESPACE}:${key}`)),
  );
  try {
    return {
      config: parseConfig(raw, {
        presentSecrets: new Set(secretKeys),
        secretValued,
        directoryExists: (dir) => fs.existsSync(dir) && fs.statSync(dir).isDirectory(),
        readFile: readProjectFile,
      }),
      secrets,
    };
  } catch (err) {
    if (err instanceof ConfigError) throw configFailure(err.message);
    throw err;
  }
}
