/**
 * The job service that restores a swarm task's database (planning/backup/swarmJob.ts): it gets
 * exactly the database service's volumes, scratch space, secrets, configs and networks.
 */
import { describe, expect, it } from "vitest";
import { type ServiceSpec, fileReference, jobFlags } from "../planning/backup/swarmJob";

const spec = (containerSpec: Partial<ServiceSpec["TaskTemplate"]["ContainerSpec"]>, networks?: string[]) =>
  ({
    TaskTemplate: {
      ContainerSpec: { Image: "kit/postgres:15@sha256:abc", ...containerSpec },
      ...(networks ? { Networks: networks.map((Target) => ({ Target })) } : {}),
    },
  }) satisfies ServiceSpec;

describe("jobFlags", () => {
  it.each([
    [
      "a named volume",
      spec({ Mounts: [{ Type: "volume", Source: "sw_region_orion_data", Target: "/var/lib/postgresql/data" }] }),
      ["--mount", "type=volume,source=sw_region_orion_data,target=/var/lib/postgresql/data"],
    ],
    [
      "a tmpfs (its size is not the restore's concern)",
      spec({ Mounts: [{ Type: "tmpfs", Target: "/tmp" }] }),
      ["--mount", "type=tmpfs,target=/tmp"],
    ],
    [
      "a read-only bind mount",
      spec({ Mounts: [{ Type: "bind", Source: "/srv/ca", Target: "/ca", ReadOnly: true }] }),
      ["--mount", "type=bind,source=/srv/ca,target=/ca,readonly"],
    ],
    ["an anonymous volume (no data of the database)", spec({ Mounts: [{ Type: "volume", Target: "/scratch" }] }), []],
    [
      "pgbackrest.conf as a secret, its mode in octal",
      spec({
        Secrets: [
          {
            SecretName: "sw_nexus_pgbackrest_1a2b",
            File: { Name: "/etc/pgbackrest/pgbackrest.conf", UID: "999", GID: "999", Mode: 0o400 },
          },
        ],
      }),
      ["--secret", "source=sw_nexus_pgbackrest_1a2b,target=/etc/pgbackrest/pgbackrest.conf,uid=999,gid=999,mode=0400"],
    ],
    [
      "a config",
      spec({
        Configs: [
          { ConfigName: "sw_ca", File: { Name: "/etc/pgbackrest/repository-ca.crt", UID: "0", GID: "0", Mode: 0o444 } },
        ],
      }),
      ["--config", "source=sw_ca,target=/etc/pgbackrest/repository-ca.crt,uid=0,gid=0,mode=0444"],
    ],
    ["its networks, by id", spec({}, ["n1", "n2"]), ["--network", "n1", "--network", "n2"]],
    ["nothing", spec({}), []],
  ])("copies %s", (_what, s, flags) => {
    expect(jobFlags(s)).toEqual(flags);
  });

  it("names only the source of a file the spec gives no path for", () => {
    expect(fileReference("plain")).toBe("source=plain");
  });
});
