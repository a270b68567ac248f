/**
 * The one-off job service that restores a swarm task's database (scripts/pointInTimeSwarm.ts):
 * what it copies of the database service's spec, as `docker service create` flags. Pure.
 */

/** The label swarm puts on each task's container: the service it belongs to. */
export const SWARM_SERVICE_LABEL = "com.docker.swarm.service.name";
/** The label swarm puts on each task's container: the node that runs it. */
export const SWARM_NODE_LABEL = "com.docker.swarm.node.id";

/** A secret's or config's file in the task (Engine API names; Mode is the number, e.g. 256 for 0400). */
export interface TaskFile {
  Name: string;
  UID: string;
  GID: string;
  Mode: number;
}

/** The part of a service's spec the job copies (`docker service inspect --format '{{json .Spec}}'`). */
export interface ServiceSpec {
  Mode?: { Replicated?: { Replicas?: number } };
  TaskTemplate: {
    ContainerSpec: {
      Image: string;
      Mounts?: { Type: string; Source?: string; Target: string; ReadOnly?: boolean }[];
      Secrets?: { SecretName: string; File?: TaskFile }[];
      Configs?: { ConfigName: string; File?: TaskFile }[];
    };
    Networks?: { Target: string }[];
  };
}

/** `source=…,target=…,uid=…,gid=…,mode=0…`: the CLI reads the mode in octal. */
export function fileReference(source: string, file?: TaskFile): string {
  if (!file) return `source=${source}`;
  return `source=${source},target=${file.Name},uid=${file.UID},gid=${file.GID},mode=0${file.Mode.toString(8)}`;
}

/**
 * The flags that give the job the database service's volumes and scratch space, its secrets
 * (pgbackrest.conf) and configs at the same paths, and its networks (the route to the
 * repository). Anonymous volumes and other mount types are not the database's data: left out.
 */
export function jobFlags(spec: ServiceSpec): string[] {
  const c = spec.TaskTemplate.ContainerSpec;
  const mounts = (c.Mounts ?? []).flatMap((m) => {
    if (m.Type === "volume" && m.Source) return ["--mount", `type=volume,source=${m.Source},target=${m.Target}`];
    if (m.Type === "tmpfs") return ["--mount", `type=tmpfs,target=${m.Target}`];
    if (m.Type === "bind" && m.Source) {
      return ["--mount", `type=bind,source=${m.Source},target=${m.Target}${m.ReadOnly ? ",readonly" : ""}`];
    }
    return [];
  });
  return [
    ...mounts,
    ...(c.Secrets ?? []).flatMap((s) => ["--secret", fileReference(s.SecretName, s.File)]),
    ...(c.Configs ?? []).flatMap((s) => ["--config", fileReference(s.ConfigName, s.File)]),
    ...(spec.TaskTemplate.Networks ?? []).flatMap((n) => ["--network", n.Target]),
  ];
}
