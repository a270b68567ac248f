/**
 * The swarm backend: a workload is a service (swarmService: fixed name, rolling update policy,
 * placement, limits), its files are Docker configs, or secrets when they carry a credential, its
 * secret variables Docker secrets read through `<KEY>_FILE` (a service's environment is plain text
 * in its spec), its networks overlays, and its volumes named volumes that the engine of the node
 * running the task creates (a volume resource would reach the manager only).
 */
import type * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { onTask, serviceLogsCommand } from "../../planning/swarm/commands";
import { nodeDockerHost } from "../../planning/swarm/placement";
import { SECRETS_DIR } from "../../planning/swarm/secrets";
import type { SwarmServicePlan } from "../../planning/swarm/services";
import { type TaskFile, configFile, overlayNetwork, secretFile, swarmService } from "../swarm/service";
import {
  type Backend,
  type DataVolume,
  type Deployed,
  type FrontNetworkArgs,
  type NetworkArgs,
  type ObjectNames,
  type VolumeArgs,
  type WorkloadArgs,
  kebab,
} from "./workload";

export interface SwarmBackendArgs {
  /** Every planned service (planning/swarm/services.ts), found by the workload's container name. */
  services: SwarmServicePlan[];
  /** The cluster's nodes: a command in a pinned service's task runs on its node's engine. */
  nodes: readonly { name: string; dockerHost?: string }[];
  /** DOCKER_HOST of a manager (the provider's). */
  dockerEnvironment: Record<string, string>;
}

export class SwarmBackend implements Backend {
  readonly dockerEnvironment: Record<string, string>;
  private readonly services: Map<string, SwarmServicePlan>;

  constructor(private readonly args: SwarmBackendArgs) {
    this.services = new Map(args.services.map((s) => [s.serviceName, s]));
    this.dockerEnvironment = args.dockerEnvironment;
  }

  network(name: string, args: NetworkArgs, opts: pulumi.CustomResourceOptions): docker.Network {
    // Swarm mode publishes no debug port: internal unless its tasks reach out (a database's
    // backup repository).
    return overlayNetwork(
      name,
      { networkName: args.networkName, labels: args.labels, internal: !args.egress, attachable: args.attachable },
      opts,
    );
  }

  frontNetwork(name: string, args: FrontNetworkArgs, opts: pulumi.CustomResourceOptions): docker.Network {
    return overlayNetwork(name, { ...args, internal: false, attachable: true }, opts);
  }

  volume(_name: string, args: VolumeArgs): DataVolume {
    return { source: args.volumeName, labels: args.labels, name: pulumi.output(args.volumeName) };
  }

  /** The docker CLI's environment for a node's engine; the provider's for a floating service. */
  private engineOf(node: string | undefined): Record<string, string> {
    const host = nodeDockerHost(this.args, node);
    return host ? { DOCKER_HOST: host } : this.dockerEnvironment;
  }

  workload(name: string, w: WorkloadArgs, opts: pulumi.CustomResourceOptions): Deployed {
    const plan = this.services.get(w.plan.containerName);
    if (!plan) throw new Error(`${name}: no swarm service was planned for ${w.plan.containerName}`);
    if (w.debugPort !== undefined && w.debugPort !== null)
      throw new Error(`${name}: a swarm service publishes no debug port (the config check refuses it)`);
    if (w.hostDirectories?.length && plan.mode.kind !== "global")
      throw new Error(`${name}: only a global service mounts its node's paths (one task on every node)`);
    const object = (o: ObjectNames, content: pulumi.Input<string>, secret: boolean) => {
      const args = { stableName: o.stableName, content, labels: o.labels ?? w.plan.labels };
      return secret ? secretFile(o.resourceName, args, opts) : configFile(o.resourceName, args, opts);
    };
    const files = (w.files ?? []).map((f) => ({
      file: f.path,
      secret: f.secret,
      object: object(f.object, f.content, f.secret),
      ...(f.mode === undefined ? {} : { mode: f.mode }),
    }));
    const secretEnv = (w.secretEnv ?? []).map((s) => ({
      key: s.key,
      file: `${SECRETS_DIR}/${kebab(s.key)}`,
      object: object(s.object, s.value, true) as docker.Secret,
    }));
    const secrets: TaskFile[] = [
      ...files.filter((f) => f.secret).map(({ secret: _secret, ...f }) => f),
      ...secretEnv.map((s) => ({ object: s.object, file: s.file })),
    ];
    const { service, converged } = swarmService(
      name,
      {
        plan,
        image: w.image,
        env: { ...w.env, ...Object.fromEntries(secretEnv.map((s) => [`${s.key}_FILE`, s.file])) },
        ...(w.command ? { args: w.command } : {}),
        ...(w.entrypoint ? { command: w.entrypoint } : {}),
        networks: w.networks.map((n) => ({ id: n.network.id, aliases: n.aliases })),
        secrets,
        configs: files.filter((f) => !f.secret).map(({ secret: _secret, ...f }) => f),
        volumes: (w.volumes ?? []).map((v) => ({
          source: v.volume.source,
          target: v.target,
          labels: v.volume.labels,
          ...(v.readOnly ? { readOnly: true } : {}),
        })),
        hostPaths: w.hostDirectories ?? [],
        dockerEnvironment: this.dockerEnvironment,
        ...(w.backupBefore ? { backupBefore: w.backupBefore } : {}),
      },
      opts,
    );
    // A task restarts in place (same service id) onto a new secret: that is a new container too.
    const triggers = [service.id, ...secrets.map((s) => s.object.name)];
    return {
      resource: service,
      ready: converged,
      name: pulumi.output(plan.serviceName),
      command: (script) => ({
        create: onTask(plan.serviceName, script('"$c"')),
        environment: this.engineOf(plan.node),
        triggers,
      }),
      // The manager gathers every task's logs, a failed earlier task's too, from their nodes.
      logCommand: (script) => ({
        create: script(serviceLogsCommand(plan.serviceName), plan.serviceName),
        environment: this.dockerEnvironment,
        triggers,
      }),
    };
  }
}
