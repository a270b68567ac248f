/**
 * Read-only root filesystems everywhere in swarm mode. In container mode the databases, Redis
 * and nginx keep a writable root because the program uploads files into them (Docker refuses to
 * copy into a read-only root); in swarm mode those files are Docker secrets and configs, mounted
 * by the engine, so every root can be read-only. What each image still writes gets a tmpfs.
 */
import type { HardeningPlan } from "../hardening";
import type { Role } from "../topology";

const SCRATCH = "rw,noexec,nosuid,size=64m";

/** Where each platform image writes outside its data volume (the official images' layout). */
const WRITES: Partial<Record<Role, string[]>> = {
  // The socket and postmaster pid of the server, and the entrypoint's temporary files.
  "nexus-db": ["/var/run/postgresql", "/tmp"],
  "region-db": ["/var/run/postgresql", "/tmp"],
  redis: ["/tmp"],
  // Proxy buffers and temp files, the master's pid file.
  nginx: ["/var/cache/nginx", "/var/run", "/tmp"],
};

/** A container plan's hardening as the swarm service runs it. */
export function swarmHardening(role: Role, base: HardeningPlan): HardeningPlan {
  const writes = WRITES[role];
  if (writes === undefined || base.readOnlyRootfs) return base;
  return {
    ...base,
    readOnlyRootfs: true,
    tmpfs: { ...Object.fromEntries(writes.map((d) => [d, SCRATCH])), ...base.tmpfs },
  };
}
