/**
 * What each container may do beyond running its process. Every container drops all Linux
 * capabilities and adds back only what its image's entrypoint needs; none can gain privileges
 * through setuid binaries (no-new-privileges).
 *
 * Names carry the CAP_ prefix because Docker stores them that way; the provider compares what
 * it reads back with what was declared.
 */
import type { Role } from "./topology";

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

/** The official entrypoints chown the data directory, then switch to the service user. */
const DROP_TO_SERVICE_USER = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_SETGID", "CAP_SETUID"];

const ADDS: Record<Role, string[]> = {
  "nexus-db": DROP_TO_SERVICE_USER,
  "region-db": DROP_TO_SERVICE_USER,
  redis: DROP_TO_SERVICE_USER,
  // The master binds 80/443 as root and starts workers as the nginx user.
  nginx: ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_SETGID", "CAP_SETUID", "CAP_NET_BIND_SERVICE"],
  // The game's services listen on unprivileged ports and need no capability at all.
  "nexus-api": [],
  "region-api": [],
  "admin-ui": [],
  "player-ui": [],
  paypal: [],
};

/** Roles that receive uploads (see the components) and so keep a writable root filesystem. */
const RECEIVES_UPLOADS: ReadonlySet<Role> = new Set(["nexus-db", "region-db", "redis", "nginx"]);

export function hardeningFor(role: Role): HardeningPlan {
  const readOnlyRootfs = !RECEIVES_UPLOADS.has(role);
  return {
    capabilityAdds: ADDS[role],
    capabilityDrops: ["ALL"],
    securityOpts: ["no-new-privileges:true"],
    readOnlyRootfs,
    tmpfs: readOnlyRootfs ? { "/tmp": "rw,noexec,nosuid,size=64m" } : {},
  };
}
