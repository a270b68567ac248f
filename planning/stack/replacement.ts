/**
 * How each kind of container is replaced when a deploy changes it, and the names that make a
 * zero-downtime replacement possible.
 *
 * Stateless services (the game's APIs, the UIs, PayPal) are replaced create-before-delete: the new
 * container starts beside the old one under the same network alias, `pulumi up` waits until it
 * reports healthy, and only then stops the old one with its grace period. Two containers cannot
 * share a Docker name, so these names carry a fingerprint of everything that would replace the
 * container: a change that replaces it also renames it.
 *
 * Stateful services (PostgreSQL, Redis, nginx) keep the seed's fixed names and are replaced
 * delete-before-create, after a backup: two copies must never write one data volume, and nginx
 * owns the host ports. Which role is which is in the role catalog (roles.ts).
 */
import { createHash } from "node:crypto";
import { ALL_ROLES, ROLES, type Role } from "../roles";

/** The roles whose containers are replaced create-before-delete. */
export const STATELESS_ROLES: readonly Role[] = ALL_ROLES.filter(
  (role) => ROLES[role].replacement === "create-before-delete",
);

/**
 * docker.Container inputs the provider updates in place with `docker update` (what its Terraform
 * source's update applies). Every other input is in the fingerprint: one too many there only
 * renames, so replaces without downtime, a container that could have been updated; one too few
 * would make the new container's name collide with the old one's. So memoryReservation, which
 * @pulumi/docker 5.x adds and which is not proven to update in place, stays in.
 */
export const IN_PLACE_INPUTS: ReadonlySet<string> = new Set([
  "restart",
  "maxRetryCount",
  "memory",
  "memorySwap",
  "cpuShares",
  "cpuSet",
  "mustRun",
]);

/** JSON with object keys sorted and undefined dropped: equal inputs, equal text. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonical(v ?? null)).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/**
 * Eight hex digits of sha256 over the inputs that replace a container (all but IN_PLACE_INPUTS
 * and the name itself). The inputs include secret environment values; 32 bits of a hash say
 * nothing about them, and the name is not secret.
 */
export function replacementFingerprint(inputs: Readonly<Record<string, unknown>>): string {
  const replacing = Object.fromEntries(
    Object.entries(inputs).filter(([key]) => key !== "name" && !IN_PLACE_INPUTS.has(key)),
  );
  return createHash("sha256").update(canonical(replacing)).digest("hex").slice(0, 8);
}

/**
 * The Docker name of a container: the seed's name for stateful ones, the seed's name plus the
 * fingerprint for stateless ones (`sectorwars_region_orion-1a2b3c4d`). Tools find containers by
 * their labels, never by these names.
 */
export function containerName(stableName: string, role: Role, inputs: Readonly<Record<string, unknown>>): string {
  return ROLES[role].replacement === "create-before-delete"
    ? `${stableName}-${replacementFingerprint(inputs)}`
    : stableName;
}
