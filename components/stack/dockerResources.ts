/**
 * The settings every SectorWars container, network and volume shares, declared once: the
 * building blocks the components declare their Docker resources with. Not a component itself.
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { containerName, replacementFingerprint } from "../../planning/stack/replacement";
import { cpuSharesFor, dockerCpus } from "../../planning/stack/sizes";
import type { ContainerPlan } from "../../planning/stack/topology";

export interface NetworkAttachment {
  /** Docker network name. */
  name: pulumi.Input<string>;
  /** DNS names of the container on that network. */
  aliases: string[];
}

/**
 * A backup that runs before a data-holding container is created or replaced, and learns
 * everything that would replace it (Backups and its BackupGate).
 */
export interface BackupBefore {
  run: pulumi.Resource;
  gate: { watch(containerName: string, fingerprint: pulumi.Output<string>): void };
}

export interface ServiceContainerArgs {
  /** Name, role, labels, size, health check, stop and replacement of the container. */
  plan: ContainerPlan;
  /** Image id (sha256:...), never a mutable tag. */
  image: pulumi.Input<string>;
  /** Environment; wrap with pulumi.secret when any entry carries a credential. */
  envs?: pulumi.Input<pulumi.Input<string>[]>;
  /** Overrides the image's command. */
  command?: string[];
  /** Overrides the image's entrypoint. */
  entrypoints?: string[];
  networks: NetworkAttachment[];
  mounts?: docker.types.input.ContainerMount[];
  /** Files written into the container before it starts (configs, password files). */
  uploads?: docker.types.input.ContainerUpload[];
  /**
   * Files that matter only while the container initialises (init SQL): written into a new
   * container, ignored on an existing one, so that an edit never replaces it, and left out of
   * its fingerprints (its name, what its backup learns). Pulumi cannot ignore one element of a
   * list that grows, so with these the whole upload list is ignored once the container exists:
   * only for containers whose other uploads are as create-only (a password file read at init).
   */
  createOnlyUploads?: docker.types.input.ContainerUpload[];
  ports?: docker.types.input.ContainerPort[];
  /** For containers that hold data: the backup that must run first whenever this one changes. */
  backupBefore?: BackupBefore;
}

/** How long `pulumi up` waits for a new container to report healthy. */
const WAIT_TIMEOUT_SECONDS = 180;

/**
 * Declares one service container.
 *
 * - memorySwap equals memory: Docker fills in twice the memory otherwise, and the provider would
 *   show that as a change on every `pulumi up`.
 * - replacement (planning/stack/replacement.ts): a stateless container is replaced create-before-delete
 *   under a name that changes with everything that replaces it; a stateful one keeps its fixed
 *   name (and host ports) and is deleted first.
 * - replaceOnChanges healthcheck: the provider reports a new health check as an in-place update,
 *   but a running container keeps its old one.
 * - wait: dependents, and the deletion of the container this one replaces, wait until it
 *   reports healthy.
 * - stopTimeout and destroyGraceSeconds: the grace between the stop signal and SIGKILL, on
 *   `docker stop` and when a deploy deletes the container.
 */
export function serviceContainer(
  name: string,
  args: ServiceContainerArgs,
  opts: pulumi.CustomResourceOptions,
): docker.Container {
  const { plan } = args;
  const hardening = plan.hardening;
  const inputs = {
    image: args.image,
    restart: "unless-stopped",
    memory: plan.size.limits.memoryMb,
    memorySwap: plan.size.limits.memoryMb,
    memoryReservation: plan.size.reservations.memoryMb,
    cpus: dockerCpus(plan.size.limits.cpus),
    cpuShares: cpuSharesFor(plan.size),
    labels: Object.entries(plan.labels).map(([label, value]) => ({ label, value })),
    envs: args.envs,
    command: args.command,
    ...(args.entrypoints ? { entrypoints: args.entrypoints } : {}),
    healthcheck: plan.healthcheck,
    networksAdvanced: args.networks.map((n) => ({ name: n.name, aliases: n.aliases })),
    mounts: args.mounts,
    uploads: args.uploads,
    ports: args.ports,
    // Bounded logs: the json-file default grows until the disk is full.
    logDriver: "json-file",
    logOpts: { "max-size": "10m", "max-file": "5" },
    securityOpts: hardening.securityOpts,
    capabilities: {
      drops: hardening.capabilityDrops,
      ...(hardening.capabilityAdds.length > 0 ? { adds: hardening.capabilityAdds } : {}),
    },
    readOnly: hardening.readOnlyRootfs,
    ...(Object.keys(hardening.tmpfs).length > 0 ? { tmpfs: hardening.tmpfs } : {}),
    ...(plan.stop.signal === undefined ? {} : { stopSignal: plan.stop.signal }),
    stopTimeout: plan.stop.graceSeconds,
    destroyGraceSeconds: plan.stop.graceSeconds,
    mustRun: true,
    wait: true,
    waitTimeout: WAIT_TIMEOUT_SECONDS,
  };
  const createFirst = plan.replacement === "create-before-delete";
  const createOnly = args.createOnlyUploads ?? [];
  const backup = args.backupBefore;
  backup?.gate.watch(plan.containerName, pulumi.output(inputs).apply(replacementFingerprint));
  // The fingerprint covers secret environment values; the name derived from it is not secret.
  const dockerName = createFirst
    ? pulumi.unsecret(pulumi.output(inputs).apply((resolved) => containerName(plan.containerName, plan.role, resolved)))
    : plan.containerName;
  return new docker.Container(
    name,
    {
      ...inputs,
      ...(createOnly.length > 0 ? { uploads: [...(args.uploads ?? []), ...createOnly] } : {}),
      name: dockerName,
    },
    {
      ...opts,
      dependsOn: [...dependencies(opts.dependsOn), ...(backup ? [backup.run] : [])],
      deleteBeforeReplace: !createFirst,
      replaceOnChanges: [...(opts.replaceOnChanges ?? []), "healthcheck"],
      ...(createOnly.length > 0 ? { ignoreChanges: [...(opts.ignoreChanges ?? []), "uploads"] } : {}),
    },
  );
}

/** dependsOn as a list (it may be given as one resource). */
export function dependencies(dependsOn: pulumi.CustomResourceOptions["dependsOn"]): pulumi.Input<pulumi.Resource>[] {
  if (dependsOn === undefined) return [];
  return Array.isArray(dependsOn) ? dependsOn : [dependsOn as pulumi.Input<pulumi.Resource>];
}

/** Docker labels of networks and volumes, as the provider wants them. */
export function labelList(labels: Record<string, string>): docker.types.input.VolumeLabel[] {
  return Object.entries(labels).map(([label, value]) => ({ label, value }));
}

export interface PrivateNetworkArgs {
  /** Docker network name. */
  networkName: string;
  labels: Record<string, string>;
  /**
   * No route out of the host, which is all a database or Redis needs; Docker cannot publish ports
   * of a container that only has such networks.
   */
  internal: boolean;
}

/** A private bridge network. */
export function privateNetwork(
  name: string,
  args: PrivateNetworkArgs,
  opts: pulumi.CustomResourceOptions,
): docker.Network {
  return new docker.Network(
    name,
    { name: args.networkName, driver: "bridge", internal: args.internal, labels: labelList(args.labels) },
    { ...opts, deleteBeforeReplace: true },
  );
}

export interface DataVolumeArgs {
  /** Docker volume name. */
  volumeName: string;
  /** Never changed after creation: a changed label replaces the volume and loses its data. */
  labels: Record<string, string>;
  /** Any plan that would delete the volume fails (prod). */
  protect: boolean;
}

/**
 * A named data volume. It outlives `pulumi destroy` and the removal of its owner from config
 * (retainOnDelete), and with `protect` any plan that would delete it fails.
 */
export function dataVolume(name: string, args: DataVolumeArgs, opts: pulumi.CustomResourceOptions): docker.Volume {
  return new docker.Volume(
    name,
    { name: args.volumeName, driver: "local", labels: labelList(args.labels) },
    { ...opts, retainOnDelete: true, protect: args.protect },
  );
}

/** Host ports for debugging are only ever bound to loopback. */
export function loopbackPort(internal: number, external: number | null): docker.types.input.ContainerPort[] {
  return external === null ? [] : [{ internal, external, ip: "127.0.0.1", protocol: "tcp" }];
}
