/**
 * The `sectorwars:edge` part of the stack config: the nginx edge's public side, what each setting
 * defaults to, how it is checked, and how it is described in the config reference.
 */
import { z } from "zod";
import { acmeSchema } from "./acme";
import { DEFAULTS } from "./defaults";
import { MAX_UPSTREAM_KEEPALIVE } from "../edge/capabilities";
import type { StaticSource } from "../edge/staticFill";

export type Environment = "dev" | "prod";

/**
 * edge.httpsRedirect when the stack does not set it. prod enforces HTTPS; dev keeps plain HTTP
 * serving every route (a workstation's self-signed certificate makes HTTPS the awkward one there).
 */
export const HTTPS_REDIRECT_BY_ENVIRONMENT: Readonly<Record<Environment, boolean>> = { dev: false, prod: true };

const onOff = (on: boolean) => (on ? "on" : "off");

export const HTTPS_REDIRECT_DESCRIPTION =
  "Plain HTTP answers 301 to the same URI on the public HTTPS URL (https://<hostname>[:<httpsPort>]), " +
  "except the edge's /healthz and ACME HTTP-01 challenges under /.well-known/acme-challenge/ (files from the " +
  "static volume). HTTPS is the same either way. Unset: " +
  (Object.entries(HTTPS_REDIRECT_BY_ENVIRONMENT) as [Environment, boolean][])
    .map(([environment, on]) => `${onOff(on)} in ${environment}`)
    .join(", ") +
  ".";

/** The stack's choice, else its environment's default. */
export function httpsRedirectFor(environment: Environment, configured: boolean | undefined): boolean {
  return configured ?? HTTPS_REDIRECT_BY_ENVIRONMENT[environment];
}

/** An absolute path of plain segments: no "." or "..", no trailing slash, nothing a shell or docker cp reads specially. */
const IMAGE_PATH = /^(?:\/(?!\.{1,2}(?:\/|$))[A-Za-z0-9._+@-]+)+$/;

/** edge.staticFrom: exactly one of its two keys; unset, nothing fills the volume. */
export const staticFromSchema = z
  .strictObject({
    directory: z
      .string()
      .regex(/^[A-Za-z0-9._+/-]+$/, "must be a path of letters, digits and ._+-/")
      .optional()
      .describe(
        "A directory on the machine that runs `pulumi up`, relative to the project directory or absolute " +
          "(e.g. ../player-client/build/static); its contents are copied. Re-copied when any of its files changes.",
      ),
    playerUiPath: z
      .string()
      .regex(IMAGE_PATH, "must be an absolute directory path inside the image, such as /app/build/static")
      .optional()
      .describe(
        "A directory inside the player UI image (sectorwars:images.playerUi), e.g. /app/build/static for a " +
          "Create React App build; its contents are copied. Re-copied when the image changes.",
      ),
  })
  .superRefine((from, ctx) => {
    const given = [from.directory, from.playerUiPath].filter((v) => v !== undefined).length;
    if (given !== 1) {
      ctx.addIssue({
        code: "custom",
        message:
          given === 0
            ? "set directory (on the machine that runs pulumi up) or playerUiPath (inside the player UI image)"
            : "set directory or playerUiPath, not both",
      });
    }
  })
  .optional()
  .describe(
    "What fills the static volume (served at /static/) on `pulumi up`: a throwaway container renames the new " +
      "files into place and keeps the previous fill's (pages still open need them); older files it put there go. " +
      "Unset: nothing fills it, and /static/ requests fall back to the player UI.",
  );

/** The parsed edge.staticFrom as the program uses it; null when unset. */
export function staticSourceOf(from: z.output<typeof staticFromSchema>): StaticSource | null {
  if (from?.directory !== undefined) return { kind: "directory", directory: from.directory };
  if (from?.playerUiPath !== undefined) return { kind: "playerUiImage", path: from.playerUiPath };
  return null;
}

/** A host port. */
export const portSchema = z.number().int().min(1).max(65535);

export const edgeSchema = z
  .strictObject({
    hostname: z
      .string()
      .regex(/^[a-z0-9.-]+$/i, "must be a host name")
      .default(DEFAULTS.edge.hostname)
      .describe("Public host name, used in the URLs the stack exports."),
    httpPort: portSchema.default(DEFAULTS.edge.httpPort).describe("Host port for HTTP."),
    httpsPort: portSchema.default(DEFAULTS.edge.httpsPort).describe("Host port for HTTPS."),
    upstreamKeepalive: z
      .number()
      .int()
      .min(0)
      .max(MAX_UPSTREAM_KEEPALIVE)
      .default(DEFAULTS.edge.upstreamKeepalive)
      .describe(
        "Idle connections nginx keeps open to each API and UI container, per worker; 0 = none (a new " +
          "connection per request). Above 0, requests reuse connections (BENCHMARKS.md section 3: the edge " +
          "adds about 45 µs instead of 175 µs per request in front of a Node.js API) while names are still " +
          "resolved at run time, so a missing region container still fails only its own routes. Needs " +
          "nginx >= 1.27.3 in the nginx image (nginx:alpine is); older nginx rejects the config. Deploy-safe " +
          "on one host (each pool names the current container; README, Edge proxy); swarm mode refuses it.",
      ),
    // Its default depends on environment: resolveConfig fills it in (httpsRedirectFor).
    httpsRedirect: z.boolean().optional().describe(HTTPS_REDIRECT_DESCRIPTION),
    // As the program uses it: a StaticSource, or null when unset.
    staticFrom: staticFromSchema.transform(staticSourceOf),
    acme: acmeSchema,
  })
  .prefault({})
  .describe("The nginx edge proxy's public side.");
