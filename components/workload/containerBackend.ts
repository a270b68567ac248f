/**
 * The one-host backend: a workload is a container (serviceContainer: names, replacement,
 * health-gated waits, limits, hardening), its files are uploads, its secret variables part of its
 * environment (then secret in state), its networks bridges, its volumes Docker volume resources.
 */
import * as pulumi from "@pulumi/pulumi";
import {
  dataVolume,
  dependencies,
  labelList,
  loopbackPort,
  privateNetwork,
  serviceContainer,
} from "../stack/dockerResources";
import * as docker from "@pulumi/docker";
import { containerLogsCommand } from "../../planning/stack/databaseSchema";
import type {
  Backend,
  DataVolume,
  Deployed,
  FrontNetworkArgs,
  NetworkArgs,
  VolumeArgs,
  WorkloadArgs,
  WorkloadFile,
} from "./workload";

const upload = (f: WorkloadFile) => ({
  file: f.path,
  content: f.secret ? pulumi.secret(f.content) : f.content,
  permissions: `0${(f.mode ?? 0o444).toString(8)}`,
});

export class ContainerBackend implements Backend {
  /**
   * The Docker names of the networks declared here. A container names its networks by these
   * plain strings and depends on the resources, rather than taking their name outputs: its inputs
   * are then known as soon as it is declared, so the backup it waits for (whose trigger covers a
   * new database's inputs) starts while a new region's network is still being created.
   */
  private readonly networkNames = new Map<docker.Network, string>();

  /** @param dockerEnvironment DOCKER_HOST of the provider: where `docker exec` finds the containers. */
  constructor(readonly dockerEnvironment: Record<string, string>) {}

  network(name: string, args: NetworkArgs, opts: pulumi.CustomResourceOptions): docker.Network {
    // A published debug port needs a network with a route to the host, an archive one out of it.
    const network = privateNetwork(
      name,
      { networkName: args.networkName, labels: args.labels, internal: args.debugPort === null && !args.egress },
      opts,
    );
    this.networkNames.set(network, args.networkName);
    return network;
  }

  frontNetwork(name: string, args: FrontNetworkArgs, opts: pulumi.CustomResourceOptions): docker.Network {
    const network = new docker.Network(
      name,
      { name: args.networkName, driver: "bridge", labels: labelList(args.labels) },
      { ...opts, deleteBeforeReplace: true },
    );
    this.networkNames.set(network, args.networkName);
    return network;
  }

  volume(name: string, args: VolumeArgs, opts: pulumi.CustomResourceOptions): DataVolume {
    const volume = dataVolume(name, args, opts);
    return { source: volume.name, labels: args.labels, name: volume.name };
  }

  workload(name: string, w: WorkloadArgs, opts: pulumi.CustomResourceOptions): Deployed {
    const plain = Object.entries(w.env).map(([key, value]) => `${key}=${value}`);
    const secretEnv = w.secretEnv ?? [];
    const envs =
      secretEnv.length > 0
        ? pulumi.secret(
            pulumi
              .all(secretEnv.map((s) => s.value))
              .apply((values) => [...plain, ...values.map((value, i) => `${secretEnv[i]?.key}=${value}`)]),
          )
        : plain.length === 0
          ? undefined
          : w.plan.envSecret
            ? pulumi.secret(plain)
            : plain;
    const files = w.files ?? [];
    const uploads = files.filter((f) => !f.initOnly).map(upload);
    const mounts = [
      ...(w.volumes ?? []).map((v) => ({
        type: "volume",
        source: v.volume.source,
        target: v.target,
        ...(v.readOnly ? { readOnly: true } : {}),
      })),
      ...(w.hostDirectories ?? []).map((d) => ({ type: "bind", source: d.source, target: d.target, readOnly: true })),
    ];
    const createOnlyUploads = files.filter((f) => f.initOnly).map(upload);
    const container = serviceContainer(
      name,
      {
        plan: w.plan,
        image: w.image,
        ...(envs === undefined ? {} : { envs }),
        ...(w.command ? { command: w.command } : {}),
        ...(w.entrypoint ? { entrypoints: w.entrypoint } : {}),
        networks: w.networks.map((n) => ({
          name: this.networkNames.get(n.network) ?? n.network.name,
          aliases: n.aliases,
        })),
        // Declared whenever the workload names any (an empty list as before), never otherwise.
        ...(w.volumes || w.hostDirectories ? { mounts } : {}),
        ...(uploads.length > 0 ? { uploads } : {}),
        ...(createOnlyUploads.length > 0 ? { createOnlyUploads } : {}),
        ...(w.debugPort === undefined ? {} : { ports: loopbackPort(w.plan.port, w.debugPort) }),
        ...(w.publish ? { ports: w.publish.map((p) => ({ ...p, protocol: "tcp" })) } : {}),
        ...(w.backupBefore ? { backupBefore: w.backupBefore } : {}),
      },
      {
        ...opts,
        dependsOn: [...dependencies(opts.dependsOn), ...w.networks.map((n) => n.network)],
        ...(w.filesKeptCurrent ? { ignoreChanges: [...(opts.ignoreChanges ?? []), "uploads"] } : {}),
      },
    );
    return {
      resource: container,
      ready: container,
      name: container.name,
      command: (script) => ({
        create: container.name.apply(script),
        environment: this.dockerEnvironment,
        triggers: [container.id],
      }),
      logCommand: (script) => ({
        create: container.name.apply((n) => script(containerLogsCommand(n), n)),
        environment: this.dockerEnvironment,
        triggers: [container.id],
      }),
    };
  }
}
