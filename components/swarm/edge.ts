/**
 * The edge in swarm mode: nginx as a global service on the nodes labelled for it, publishing the
 * public ports in host mode on each such node's own address (the ingress routing mesh would need
 * IPVS, as virtual IPs do). nginx.conf and the certificate are Docker configs, the key a Docker
 * secret: a change is a new object and a rolling restart of the edge tasks, one node at a time.
 */
import * as command from "@pulumi/command";
import type * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { NGINX_CONF_PATH, STATIC_VOLUME_PATH, TLS_CERT_PATH, TLS_KEY_PATH } from "../../planning/edge/plan";
import { nginxConfHash, renderNginxConf } from "../../planning/edge/nginx";
import type { NginxSettings } from "../../planning/edge/settings";
import { nodeLabelCommands } from "../../planning/swarm/commands";
import { type SwarmNode, edgeLabelKey } from "../../planning/swarm/config";
import type { SwarmServicePlan } from "../../planning/swarm/services";
import type { StackPlan } from "../../planning/stack/topology";
import { type TlsSource, tlsMaterial } from "../edge/tlsMaterial";
import { configFile, overlayNetwork, secretFile, swarmService } from "./service";

export interface SwarmEdgeArgs {
  plan: StackPlan["edge"];
  service: SwarmServicePlan;
  frontNetworkName: string;
  image: pulumi.Input<string>;
  nginx: NginxSettings;
  tls: TlsSource;
  /** The nodes whose labels the program sets (edge marker and configured labels). */
  nodes: SwarmNode[];
  namePrefix: string;
  /** DOCKER_HOST of a manager (the provider's). */
  dockerEnvironment: Record<string, string>;
}

export class SwarmEdge extends pulumi.ComponentResource {
  public readonly serviceName: string;
  public readonly service: docker.Service;
  public readonly frontNetwork: docker.Network;
  public readonly configHash: string;
  /** The node label commands; services with constraints wait for them. */
  public readonly nodeLabels: command.local.Command[];

  constructor(name: string, args: SwarmEdgeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("sectorwars:platform:EdgeProxy", name, {}, opts);
    const parent = { parent: this };
    const { plan } = args;
    // Attachable: tests and the operator's curl containers can reach the services behind the edge.
    this.frontNetwork = overlayNetwork(
      `${name}-front`,
      { networkName: args.frontNetworkName, labels: plan.labels, internal: false, attachable: true },
      parent,
    );
    this.nodeLabels = args.nodes.map((node) => {
      const labels = { ...node.labels, ...(node.edge ? { [edgeLabelKey(args.namePrefix)]: "true" } : {}) };
      const commands = nodeLabelCommands(node.name, labels);
      return new command.local.Command(
        `${name}-node-${node.name}`,
        { create: commands.create, delete: commands.delete, environment: args.dockerEnvironment },
        { ...parent, deleteBeforeReplace: true },
      );
    });

    const material = tlsMaterial(name, args.tls, this);
    const nginxConf = renderNginxConf(args.nginx);
    this.configHash = nginxConfHash(args.nginx);
    const conf = configFile(
      `${name}-conf`,
      { stableName: `${plan.containerName}_conf`, content: nginxConf, labels: plan.labels },
      parent,
    );
    const certificate = configFile(
      `${name}-certificate`,
      {
        stableName: `${plan.containerName}_crt`,
        content: material.certificate,
        labels: plan.labels,
      },
      parent,
    );
    const key = secretFile(
      `${name}-key`,
      {
        stableName: `${plan.containerName}_key`,
        content: material.privateKey,
        labels: plan.labels,
      },
      parent,
    );

    this.service = swarmService(
      name,
      {
        plan: args.service,
        image: args.image,
        networks: [{ id: this.frontNetwork.id, aliases: [plan.hostname] }],
        configs: [
          { object: conf, file: NGINX_CONF_PATH },
          { object: certificate, file: TLS_CERT_PATH },
        ],
        // Read by the master, which runs as root, before it drops to the nginx user.
        secrets: [{ object: key, file: TLS_KEY_PATH, mode: 0o400 }],
        volumes: [{ source: plan.staticVolumeName, target: STATIC_VOLUME_PATH, readOnly: true, labels: plan.labels }],
        dockerEnvironment: args.dockerEnvironment,
      },
      { ...parent, dependsOn: this.nodeLabels },
    );
    this.serviceName = args.service.serviceName;
    this.registerOutputs({ serviceName: this.serviceName, configHash: this.configHash });
  }
}
