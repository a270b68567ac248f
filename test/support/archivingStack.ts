/**
 * What a real-engine test needs to deploy a stack that archives to the test's S3 server
 * (s3Server.ts): the `sectorwars:backup` value, the two repository secrets, and a route from
 * each of the dev stack's database networks, which `pulumi up` creates, to the server.
 */
import { repositoryRestic } from "../../assets";
import { PGBACKREST_PATHS } from "../../planning/backup/archive";
import { type EngineOption, docker } from "./docker";
import { DEV_REGIONS, type StackPlace } from "./engineStacks";
import { type S3Server, joinNetworksAsCreated } from "./s3Server";

/**
 * `sectorwars:backup` archiving to `s3` under `prefix` (the stanzas' folder: a drill names the
 * lost stack's), local backups in the place's directory, no schedule; a segment reaches the
 * repository within 10 s of a write. A bumped `generation` takes a base backup at the next up.
 */
export function archivingBackup(
  s3: S3Server,
  options: { place: StackPlace; prefix: string; generation?: number },
): Record<string, unknown> {
  return {
    dir: options.place.backupDir,
    schedule: "off",
    ...(options.generation === undefined ? {} : { generation: options.generation }),
    repository: {
      url: `s3:https://${s3.alias}/${s3.bucket}/${options.prefix}`,
      archiveTimeoutSeconds: 10,
      caCertificate: s3.caCertPem,
    },
  };
}

/** The repository's secrets, as an operator sets them with `pulumi config set --secret`. */
export const repositorySecrets = (s3: S3Server, key: string): Record<string, string> => ({
  "sectorwars:backupRepositoryPassword": key,
  "sectorwars:backupRepositoryCredentials": `${s3.accessKey}:${s3.secretKey}`,
});

/** The Redis snapshots in the repository, listed by restic in an archiving database's container. */
export function redisSnapshotsOf(container: string, engine: EngineOption): { hostname: string; tags: string[] }[] {
  const restic = ["sh", "-c", repositoryRestic(), "sh", PGBACKREST_PATHS.conf];
  const listed = docker(["exec", "-u", "postgres", container, ...restic, "snapshots", "--json"], engine);
  return JSON.parse(listed) as { hostname: string; tags: string[] }[];
}

/** Joins `s3` to the nexus's and each dev region's database network as `pulumi up` creates it. */
export const joinDatabaseNetworks = (
  s3: S3Server,
  place: StackPlace,
  engine: EngineOption = {},
): Promise<{ stop(): void; joined: string[] }> =>
  joinNetworksAsCreated(
    s3,
    [`${place.namePrefix}_nexus`, ...DEV_REGIONS.map((r) => `${place.namePrefix}_region_${r.id}`)],
    engine,
  );
