/**
 * Stack configs for tests: the real stack files, and generated ones with N regions.
 */
import { platformEntries } from "../../components/config/stackFile";
import { CONFIG_NAMESPACE, type SecretKey } from "../../planning/config";
import { readStackFile } from "./pulumi";

export const PROD_SECRETS = {
  "sectorwars:paypalClientId": "test-paypal-client-id",
  "sectorwars:paypalClientSecret": "test-paypal-client-secret-value",
  "sectorwars:tlsCertificate": "-----BEGIN CERTIFICATE-----\ntest-cert\n-----END CERTIFICATE-----\n",
  "sectorwars:tlsPrivateKey": "-----BEGIN PRIVATE KEY-----\ntest-private-key-value\n-----END PRIVATE KEY-----\n",
  "sectorwars:monitoringAlertWebhook": "https://hooks.example.com/services/test-webhook-token",
};

/** The secret keys prod demands, as parseConfig's presentSecrets (the keys of PROD_SECRETS). */
export const PROD_SECRET_KEYS: ReadonlySet<SecretKey> = new Set(
  Object.keys(PROD_SECRETS).map((key) => key.slice(`${CONFIG_NAMESPACE}:`.length) as SecretKey),
);

export type TestRegion = {
  id: string;
  name: string;
  type: "default" | "player_owned";
  slot: number;
  size?: string;
};

/** n regions; the first is the default. Ids and slots are stable per index. */
export function generatedRegions(n: number): TestRegion[] {
  return Array.from({ length: n }, (_, i) => ({
    id: i === 0 ? "default" : `sector-${String(i).padStart(3, "0")}`,
    name: i === 0 ? "Default Galaxy" : `Sector ${i}`,
    type: i === 0 ? ("default" as const) : ("player_owned" as const),
    slot: i + 1,
  }));
}

/** The dev stack file with its regions replaced, on a host big enough for 50 of them. */
export function devConfigWith(regions: readonly TestRegion[]): Record<string, unknown> {
  return { ...readStackFile("dev"), "sectorwars:host": { cpus: 64, memoryGb: 64 }, "sectorwars:regions": regions };
}

/** Strips the namespace: the raw object parseConfig takes, as the program and the CLIs make it. */
export function rawOf(stackConfig: Record<string, unknown>): Record<string, unknown> {
  return platformEntries(stackConfig).raw;
}
