/**
 * The settings every SectorWars swarm service, secret, config and network shares, declared once:
 * the swarm counterpart of components/stack/dockerResources.ts.
 */
import { createHash } from "node:crypto";
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { base64, contentAddressedName } from "../../planning/swarm/secrets";
import { waitForTasksCommand } from "../../planning/swarm/commands";
import type { SwarmServicePlan, UpdatePolicy } from "../../planning/swarm/services";
import { type BackupBefore, dependencies, labelList } from "../stack/dockerResources";

/** A file a task reads: a Docker secret or config, mounted read-only at `file`. */
export interface TaskFile {
  /** The secret or config resource. */
  object: docker.Secret | docker.ServiceConfig;
  /** Absolute path in the container. */
  file: string;
  /** Octal mode as a number (0o444 when unset, Docker's default). */
  mode?: number;
}

/** Where a secret or config appears in the task: owned by root, 0444 unless the file says. */
const fileOf = (f: TaskFile) => ({ fileName: f.file, fileMode: f.mode ?? 0o444, fileUid: "0", fileGid: "0" });

export interface SwarmServiceArgs {
  plan: SwarmServicePlan;
  /** Image reference every node resolves (see PlatformImages.refs). */
  image: pulumi.Input<string>;
  /** Plain environment: nothing secret goes here (a service's spec is readable in plain text). */
  env?: Record<string, string>;
  /** Overrides the image's command (CMD, which the entrypoint gets as arguments). */
  args?: string[];
  /** Overrides the image's entrypoint (swarm's ContainerSpec calls it `commands`). */
  command?: string[];
  /** Overlay networks by id, with the task's DNS aliases on each. */
  networks: { id: pulumi.Input<string>; aliases: string[] }[];
  secrets?: TaskFile[];
  configs?: TaskFile[];
  /**
   * Named volumes. The engine of the node a task lands on creates one on first use, with these
   * labels (status and backups find it by them); none is declared through the provider, which
   * reaches the manager only and would create it there, off the node that uses it. Removing the
   * service never removes a named volume.
   */
  volumes?: { source: pulumi.Input<string>; target: string; readOnly?: boolean; labels: Record<string, string> }[];
  /** Paths of the node each task runs on, bound read-only (a global service's: cAdvisor's). */
  hostPaths?: { source: pulumi.Input<string>; target: string }[];
  /** Data-holding services: the backup runs first whenever this service's spec changes. */
  backupBefore?: BackupBefore;
  /** DOCKER_HOST of a manager: where the wait for the service's tasks runs. */
  dockerEnvironment: Record<string, string>;
}

/** A declared service, and what its dependents wait for: its tasks healthy at the declared spec. */
export interface DeclaredService {
  service: docker.Service;
  converged: command.local.Command;
}

/** How long `pulumi up` waits for a service to converge (all tasks healthy). */
const CONVERGE_SECONDS = 300;

/** "rw,noexec,nosuid,size=64m" → the tmpfs mount's size in bytes (the only option a service mount takes). */
function tmpfsBytes(options: string): number {
  const size = /(?:^|,)size=(\d+)([kmg])(?:,|$)/.exec(options);
  if (!size) return 64 * 1024 * 1024;
  const unit = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[size[2] as "k" | "m" | "g"];
  return Number(size[1]) * unit;
}

const policy = (p: UpdatePolicy) => ({
  parallelism: p.parallelism,
  order: p.order,
  delay: p.delay,
  monitor: p.monitor,
  failureAction: p.failureAction,
  maxFailureRatio: p.maxFailureRatio,
});

/**
 * Declares one service.
 *
 * - The Docker name is fixed: swarm updates a service in place, task by task, in the order and
 *   with the rollback its update policy says (planning/swarm/services.ts).
 * - Labels go on the service and on its tasks' containers: backups, restore and status find
 *   the containers by those on the node that runs them.
 * - Secrets and configs are content-addressed objects (see secretFile): new content, new name,
 *   a rolling update of the services that read it.
 * - tmpfs mounts give a read-only root filesystem its scratch space.
 * - No cpuShares or memorySwap: a service spec has neither; the reservation is what the
 *   scheduler places by, and no swap is the swarm default when only a memory limit is set.
 * - No no-new-privileges: the provider's container spec has no field for it (the container
 *   plan's securityOpts are not sent); the dropped capabilities and read-only roots are.
 */
export function swarmService(
  name: string,
  args: SwarmServiceArgs,
  opts: pulumi.CustomResourceOptions,
): DeclaredService {
  const { plan } = args;
  const c = plan.container;
  const h = c.hardening;
  const labels = labelList(c.labels);
  const inputs = {
    name: plan.serviceName,
    labels,
    mode: plan.mode.kind === "global" ? { global: true } : { replicated: { replicas: plan.mode.replicas } },
    taskSpec: {
      containerSpec: {
        image: args.image,
        labels,
        ...(args.args ? { args: args.args } : {}),
        ...(args.command ? { commands: args.command } : {}),
        ...(args.env && Object.keys(args.env).length > 0 ? { env: args.env } : {}),
        healthcheck: {
          tests: c.healthcheck.tests,
          interval: c.healthcheck.interval,
          timeout: c.healthcheck.timeout,
          retries: c.healthcheck.retries,
          startPeriod: c.healthcheck.startPeriod,
        },
        capDrops: h.capabilityDrops,
        ...(h.capabilityAdds.length > 0 ? { capAdds: h.capabilityAdds } : {}),
        readOnly: h.readOnlyRootfs,
        mounts: [
          ...(args.volumes ?? []).map((v) => ({
            type: "volume",
            source: v.source,
            target: v.target,
            ...(v.readOnly ? { readOnly: true } : {}),
            volumeOptions: { labels: labelList(v.labels) },
          })),
          ...(args.hostPaths ?? []).map((p) => ({ type: "bind", source: p.source, target: p.target, readOnly: true })),
          ...Object.entries(h.tmpfs).map(([target, options]) => ({
            type: "tmpfs",
            target,
            tmpfsOptions: { sizeBytes: tmpfsBytes(options) },
          })),
        ],
        secrets: (args.secrets ?? []).map((s) => ({
          secretId: s.object.id,
          secretName: s.object.name,
          ...fileOf(s),
        })),
        configs: (args.configs ?? []).map((s) => ({
          configId: s.object.id,
          configName: s.object.name,
          ...fileOf(s),
        })),
        ...(c.stop.signal === undefined ? {} : { stopSignal: c.stop.signal }),
        stopGracePeriod: plan.stopGracePeriod,
      },
      resources: {
        limits: { nanoCpus: Math.round(c.size.limits.cpus * 1e9), memoryBytes: c.size.limits.memoryMb * 1024 ** 2 },
        reservation: {
          nanoCpus: Math.round(c.size.reservations.cpus * 1e9),
          memoryBytes: c.size.reservations.memoryMb * 1024 ** 2,
        },
      },
      restartPolicy: plan.restart,
      placement: {
        constraints: plan.constraints,
        ...(plan.spread ? { prefs: ["spread=node.id"] } : {}),
      },
      networksAdvanceds: args.networks.map((n) => ({ id: n.id, aliases: n.aliases })),
      // Bounded logs on every node: the json-file default grows until the disk is full.
      logDriver: {
        name: "json-file",
        options: {
          "max-size": "10m",
          "max-file": "5",
          ...(plan.logLabels ? { labels: plan.logLabels.join(",") } : {}),
        },
      },
    },
    endpointSpec: {
      mode: plan.endpointMode,
      ...(plan.ports.length > 0
        ? {
            ports: plan.ports.map((p) => ({
              targetPort: p.target,
              publishedPort: p.published,
              publishMode: "host",
              protocol: "tcp",
            })),
          }
        : {}),
    },
    updateConfig: policy(plan.update),
    rollbackConfig: policy(plan.rollback),
    // No convergeConfig: the `-converged` command below waits, global services too, and sooner
    // than the provider's polls (waitForTasksCommand).
  };
  // Of what is declared, never of what the provider reads back: stable across a refresh.
  const fingerprint = pulumi
    .output(inputs)
    .apply((resolved) => createHash("sha256").update(JSON.stringify(resolved)).digest("hex").slice(0, 16));
  const backup = args.backupBefore;
  backup?.gate.watch(plan.serviceName, fingerprint);
  const service = new docker.Service(name, inputs, {
    ...opts,
    dependsOn: [...dependencies(opts.dependsOn), ...(backup ? [backup.run] : [])],
    // A stack deployed before the wait below kept the provider's wait (convergeConfig) in its
    // state: dropping it would be an update, which the provider sends with the environment in a
    // new order (it keeps it in a Go map), and swarm restarts every task whose order changed
    // (moby/moby#32344), the databases among them. Kept, it waits on that stack's real updates.
    ignoreChanges: [...(opts.ignoreChanges ?? []), "convergeConfig"],
  });
  const tasks = plan.mode.kind === "global" ? plan.mode.nodes.length : plan.mode.replicas;
  const files = [...(args.secrets ?? []), ...(args.configs ?? [])].map((f) => f.object.name);
  const converged = new command.local.Command(
    `${name}-converged`,
    {
      // Until every task runs healthy at the declared image, configs and secrets: then the
      // replaced ones, which Pulumi deletes at the end of the deploy, are no longer in use.
      create: pulumi
        .all([pulumi.output(args.image), pulumi.all(files)])
        .apply(([image, names]) =>
          waitForTasksCommand({ service: plan.serviceName, tasks, image, files: names }, CONVERGE_SECONDS),
        ),
      environment: args.dockerEnvironment,
      triggers: [fingerprint],
    },
    { parent: opts.parent, dependsOn: [service] },
  );
  return { service, converged };
}

/** What a secret or config is made of: the stable part of its name, its content, its labels. */
export interface TaskFileArgs {
  /** The Docker name without its digest, e.g. sectorwars_region_orion_db_password. */
  stableName: string;
  content: pulumi.Input<string>;
  labels: Record<string, string>;
}

/**
 * A secret's or config's replacement is created first and the old one deleted at the end of the
 * deploy, once the services that read it have moved on (a global service's move is waited for:
 * see swarmService). Said explicitly: the provider would delete first, as it does whenever a
 * program names a resource itself (a replacement could collide on the name), and swarm refuses to
 * delete an object a service uses. The names here are content-addressed: they cannot collide.
 */
const createFirst = (opts: pulumi.CustomResourceOptions): pulumi.CustomResourceOptions => ({
  ...opts,
  deleteBeforeReplace: false,
});

/** A Docker secret under a content-addressed name. */
export function secretFile(name: string, args: TaskFileArgs, opts: pulumi.CustomResourceOptions): docker.Secret {
  const text = pulumi.output(args.content);
  return new docker.Secret(
    name,
    {
      // The digest of a secret is no secret (see contentAddressedName); the name stays readable.
      name: pulumi.unsecret(text.apply((t) => contentAddressedName(args.stableName, t))),
      data: pulumi.secret(text.apply(base64)),
      labels: labelList(args.labels),
    },
    createFirst(opts),
  );
}

/** A Docker config (nothing secret in it: `docker config inspect` shows it) under a content-addressed name. */
export function configFile(name: string, args: TaskFileArgs, opts: pulumi.CustomResourceOptions): docker.ServiceConfig {
  const text = pulumi.output(args.content);
  return new docker.ServiceConfig(
    name,
    {
      name: text.apply((t) => contentAddressedName(args.stableName, t)),
      data: text.apply(base64),
      labels: labelList(args.labels),
    },
    createFirst(opts),
  );
}

/**
 * An overlay network. `internal`: no route out of the cluster, as the bridge networks of
 * container mode. `attachable`: plain containers (the operator's commands, tests) may join.
 */
export interface OverlayNetworkArgs {
  networkName: string;
  labels: Record<string, string>;
  internal: boolean;
  attachable: boolean;
}

export function overlayNetwork(
  name: string,
  args: OverlayNetworkArgs,
  opts: pulumi.CustomResourceOptions,
): docker.Network {
  return new docker.Network(
    name,
    {
      name: args.networkName,
      driver: "overlay",
      internal: args.internal,
      attachable: args.attachable,
      labels: labelList(args.labels),
    },
    { ...opts, deleteBeforeReplace: true },
  );
}
