/**
 * Read-only root filesystems everywhere in swarm mode. In container mode the databases, Redis
 * and nginx keep a writable root because the program uploads files into them (Docker refuses to
 * copy into a read-only root); in swarm mode those files are Docker secrets and configs, mounted
 * by the engine, so every root can be read-only. What each image still writes (its role's
 * `writes` in roles.ts) gets a tmpfs.
 */
import type { HardeningPlan } from "../stack/hardening";
import { ROLES, type Role } from "../roles";

const SCRATCH = "rw,noexec,nosuid,size=64m";

/** A container plan's hardening as the swarm service runs it. */
export function swarmHardening(role: Role, base: HardeningPlan): HardeningPlan {
  const { writes } = ROLES[role];
  if (base.readOnlyRootfs) return base;
  return {
    ...base,
    readOnlyRootfs: true,
    tmpfs: { ...Object.fromEntries(writes.map((d) => [d, SCRATCH])), ...base.tmpfs },
  };
}
