/**
 * `sectorwars:edge.acme`: the edge obtains and renews its certificate from an ACME CA (Let's
 * Encrypt by default) over HTTP-01, instead of the pasted tlsCertificate/tlsPrivateKey secrets.
 * How it runs is planned in planning/edge/acmeClient.ts and acmeEdge.ts.
 */
import { z } from "zod";
import { DEFAULTS } from "./defaults";

const ACME_DEFAULTS = DEFAULTS.edgeAcme;

/** `pulumi config set --path` stores 30 as the string "30" unless `--type int`: both mean 30. */
const wholeNumber = (min: number, max: number, fallback: number) =>
  z.preprocess(
    (value) => (typeof value === "string" && /^[0-9]+$/.test(value) ? Number(value) : value),
    z.number("must be a whole number").int().min(min).max(max).default(fallback),
  );

/** A duration in seconds, minutes or hours, as the renewal loop sleeps it. */
export const INTERVAL_PATTERN = /^([1-9][0-9]{0,4})([smh])$/;
const UNIT_SECONDS = { s: 1, m: 60, h: 3600 } as const;

/** "12h" → 43200. */
export function intervalSeconds(interval: string): number {
  const match = INTERVAL_PATTERN.exec(interval);
  if (!match) throw new Error(`not an interval: ${interval}`);
  return Number(match[1]) * UNIT_SECONDS[match[2] as keyof typeof UNIT_SECONDS];
}

export const acmeSchema = z
  .strictObject({
    email: z
      .string()
      .regex(/^[^@\s]+@[^@\s]+\.[^@\s]+$/, "must be an email address")
      .describe("The ACME account's contact: the CA writes here about expiring certificates and policy changes."),
    directory: z
      .string()
      .regex(/^https:\/\/[^\s]+$/, "must be the CA's https:// directory URL")
      .default(ACME_DEFAULTS.directory)
      .describe(
        "The CA's ACME directory URL. Let's Encrypt's staging directory " +
          "(https://acme-staging-v02.api.letsencrypt.org/directory) is the one to try a new host with.",
      ),
    renewBeforeDays: wholeNumber(1, 60, ACME_DEFAULTS.renewBeforeDays).describe(
      "Renew when the certificate has fewer days left than this (Let's Encrypt's last 90 days).",
    ),
    checkInterval: z
      .string()
      .regex(INTERVAL_PATTERN, 'must be a number and one of s, m, h, such as "12h"')
      .default(ACME_DEFAULTS.checkInterval)
      .describe(
        "How often the ACME client checks whether renewal is due. A failed attempt is retried after 1 minute, " +
          "then 2, 4 and so on up to this interval.",
      ),
    caCertificate: z
      .string()
      .regex(/-----BEGIN CERTIFICATE-----/, "must be PEM certificates")
      .optional()
      .describe(
        "PEM CA certificates the ACME client trusts for the directory's own HTTPS, besides the system's: for a " +
          "private CA (step-ca, Pebble). Unset for Let's Encrypt.",
      ),
  })
  .optional()
  .describe(
    "Obtain and renew the edge's certificate for edge.hostname from an ACME CA over HTTP-01 (port 80 must reach the " +
      "edge from the internet), instead of the tlsCertificate/tlsPrivateKey secrets. Until the first certificate " +
      "arrives the edge serves a self-signed one; each new certificate is checked with `nginx -t` and loaded without a " +
      "restart. One host only. Unset: the pasted certificate (prod) or a self-signed one (dev).",
  );

export type AcmeConfig = NonNullable<z.output<typeof acmeSchema>>;
