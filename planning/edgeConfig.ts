/**
 * The edge's stack settings that are more than a number: what each one defaults to and how it is
 * described in the config reference. Kept apart from planning/config.ts, which only wires them in.
 */

type Environment = "dev" | "prod";

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
