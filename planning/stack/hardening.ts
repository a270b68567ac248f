/**
 * What each container may do beyond running its process. Every container drops all Linux
 * capabilities and adds back only what its image's entrypoint needs; none can gain privileges
 * through setuid binaries (no-new-privileges). What each role adds back, and which roles keep a
 * writable root, is in the role catalog (roles.ts).
 *
 * Names carry the CAP_ prefix because Docker stores them that way; the provider compares what
 * it reads back with what was declared.
 */
import { ROLES, type Role } from "../roles";

export interface HardeningPlan {
  capabilityAdds: string[];
  capabilityDrops: string[];
  securityOpts: string[];
  /**
   * Read-only root filesystem. Not possible where the program uploads files into the container
   * (configs, password files): Docker refuses to copy into a read-only root filesystem.
   */
  readOnlyRootfs: boolean;
  /** Writable scratch space when the root filesystem is read-only. */
  tmpfs: Record<string, string>;
}

export function hardeningFor(role: Role): HardeningPlan {
  const { capabilityAdds, receivesUploads } = ROLES[role];
  const readOnlyRootfs = !receivesUploads;
  return {
    capabilityAdds: [...capabilityAdds],
    capabilityDrops: ["ALL"],
    securityOpts: ["no-new-privileges:true"],
    readOnlyRootfs,
    tmpfs: readOnlyRootfs ? { "/tmp": "rw,noexec,nosuid,size=64m" } : {},
  };
}
