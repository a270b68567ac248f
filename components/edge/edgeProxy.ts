import * as command from "@pulumi/command";
import type * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { createHash } from "node:crypto";
import * as path from "node:path";
import {
  NGINX_CONF_PATH,
  STATIC_VOLUME_PATH,
  TLS_CERT_PATH,
  TLS_KEY_PATH,
  edgeReloadInput,
  edgeReloadScript,
} from "../../planning/edge/plan";
import { ACME_PATHS } from "../../planning/edge/acmeClient";
import { ACME_EDGE_FILES, edgeStartScript } from "../../planning/edge/acmeEdge";
import { nginxConfHash, renderNginxConf } from "../../planning/edge/nginx";
import type { NginxSettings } from "../../planning/edge/settings";
import { STATIC_FILL_ENV, type StaticSource, staticFillCommand } from "../../planning/edge/staticFill";
import { nodeLabelCommands } from "../../planning/swarm/commands";
import type { StackPlan } from "../../planning/stack/topology";
import { hashDirectory } from "../config/contentHash";
import type { Backend, DataVolume, Deployed, EdgeBackends } from "../workload/workload";
import { type TlsSource, tlsMaterial } from "./tlsMaterial";

export interface EdgeProxyArgs {
  /** The orchestrator that declares the workload. */
  backend: Backend;
  /**
   * Names, ports (in the container and on the host: the one view of them, which nginx.conf's
   * listen directives are rendered from too) and size of nginx.
   */
  plan: StackPlan["edge"];
  /** Name of the front network that the APIs and UIs join. */
  frontNetworkName: string;
  /** The nginx image, as the backend names images. */
  image: pulumi.Input<string>;
  /** What nginx.conf is rendered from. */
  nginx: NginxSettings;
  /** The certificate served on HTTPS, or a host name to generate a self-signed one for (dev). */
  tls: TlsSource;
  /**
   * What fills the static volume on `pulumi up` (config edge.staticFrom; one host), and the player
   * UI's image id, which a `playerUiImage` source copies from. Absent: nothing fills the volume.
   */
  staticFill?: { source: StaticSource; playerUiImage: pulumi.Input<string> };
  /**
   * edge.acme (one host): the volume the ACME client publishes certificates in. nginx mounts it
   * read-only, installs what it finds there at start and loads each new one (planning/edge/acmeEdge.ts);
   * the `tls` pair is then only what it serves until the first one arrives.
   */
  acme?: { volumeName: string };
  /**
   * Swarm mode: the labels the program sets on each node (the edge marker and the configured
   * ones), set before the edge's tasks are placed by them; removed again with the node's entry.
   */
  nodeLabels?: { node: string; labels: Record<string, string> }[];
}

/**
 * nginx on the public ports, and the front network that the APIs and UIs join.
 *
 * On one host the container is created with the current nginx.conf and TLS material. Later
 * changes (a region added or removed, a renewed certificate) do not replace it: a Command writes
 * the new files into the running container, checks them with `nginx -t` and reloads gracefully,
 * so no request is dropped and the public ports never close. In swarm mode nginx is a global
 * service on the nodes labelled for it, publishing in host mode on each one's own address (the
 * ingress routing mesh would need IPVS, as virtual IPs do); nginx.conf and the certificate are
 * Docker configs, the key a Docker secret, so a change is a rolling restart, one node at a time.
 */
export class EdgeProxy extends pulumi.ComponentResource {
  /** Container name (one host) or service name (swarm). */
  public readonly serverName: pulumi.Output<string>;
  /** The front network that the APIs and UIs join. */
  public readonly frontNetwork: docker.Network;
  /** sha256 of the nginx.conf in force. */
  public readonly configHash: string;
  /** The command that fills the static volume, when the stack asks for one. */
  public readonly staticFill?: command.local.Command;
  /** Swarm mode: the node label commands; services with constraints wait for them. */
  public readonly nodeLabels: command.local.Command[];
  /** Served at /static/, and where ACME HTTP-01 tokens are written. */
  public readonly staticVolume: DataVolume;
  /** edge.acme: where the ACME client publishes certificates. */
  public readonly acmeVolume?: DataVolume;
  /** The nginx container or service. */
  public readonly server: Deployed;
  private readonly name: string;
  private readonly nginx: NginxSettings;
  private readonly tls: pulumi.Output<{ certificate: string; certificateKey: string }>;

  constructor(name: string, args: EdgeProxyArgs, opts?: pulumi.ComponentResourceOptions) {
    super("sectorwars:platform:EdgeProxy", name, {}, opts);
    const parent = { parent: this };
    const { plan, backend } = args;

    this.frontNetwork = backend.frontNetwork(
      `${name}-front`,
      { networkName: args.frontNetworkName, labels: plan.labels },
      parent,
    );
    this.nodeLabels = (args.nodeLabels ?? []).map(({ node, labels }) => {
      const commands = nodeLabelCommands(node, labels);
      return new command.local.Command(
        `${name}-node-${node}`,
        { create: commands.create, delete: commands.delete, environment: backend.dockerEnvironment },
        { ...parent, deleteBeforeReplace: true },
      );
    });
    const staticVolume = backend.volume(
      `${name}-static`,
      { volumeName: plan.staticVolumeName, labels: plan.labels, protect: false },
      parent,
    );
    this.staticVolume = staticVolume;
    // Not protected: an account and certificates a CA issues again (within its rate limits).
    const acmeVolume = args.acme
      ? backend.volume(
          `${name}-acme`,
          { volumeName: args.acme.volumeName, labels: plan.labels, protect: false },
          parent,
        )
      : undefined;
    if (acmeVolume) this.acmeVolume = acmeVolume;

    const material = tlsMaterial(name, args.tls, this);
    const nginxConf = renderNginxConf(args.nginx);
    this.configHash = nginxConfHash(args.nginx);
    // Swarm mode's Docker objects, named as they were first declared.
    const object = (resource: string, suffix: string) => ({
      resourceName: `${name}-${resource}`,
      stableName: `${plan.containerName}_${suffix}`,
    });
    this.server = backend.workload(
      name,
      {
        plan,
        image: args.image,
        env: {},
        files: [
          { path: NGINX_CONF_PATH, content: nginxConf, secret: false, object: object("conf", "conf") },
          { path: TLS_CERT_PATH, content: material.certificate, secret: false, object: object("certificate", "crt") },
          // Read by the master, which runs as root, before it drops to the nginx user.
          { path: TLS_KEY_PATH, content: material.privateKey, secret: true, mode: 0o400, object: object("key", "key") },
        ],
        volumes: [
          { volume: staticVolume, target: STATIC_VOLUME_PATH, readOnly: true },
          ...(acmeVolume ? [{ volume: acmeVolume, target: ACME_PATHS.inEdge, readOnly: true }] : []),
        ],
        // With edge.acme, a shell installs and watches the ACME certificate, then execs nginx.
        ...(acmeVolume ? { command: ["sh", "-c", edgeStartScript()] } : {}),
        networks: [{ network: this.frontNetwork, aliases: [plan.hostname] }],
        publish: [plan.ports.http, plan.ports.https],
        // One host: the reload command below keeps all three files current.
        filesKeptCurrent: true,
      },
      { ...parent, dependsOn: this.nodeLabels },
    );

    this.tls = pulumi
      .all([pulumi.output(material.certificate), pulumi.output(material.privateKey)])
      .apply(([certificate, certificateKey]) => ({ certificate, certificateKey }));
    this.nginx = args.nginx;
    this.name = name;

    if (args.staticFill) {
      const from = fillSource(args.staticFill.source, args.staticFill.playerUiImage);
      this.staticFill = new command.local.Command(
        `${name}-static-fill`,
        {
          create: staticFillCommand(args.staticFill.source),
          // nginx's image writes into the volume: it is on the host already, with sh and tar. Any
          // change here (a new nginx image, say) runs the fill again as an update: harmless.
          environment: {
            ...backend.dockerEnvironment,
            [STATIC_FILL_ENV.volume]: staticVolume.name,
            [STATIC_FILL_ENV.helperImage]: args.image,
            ...from.environment,
          },
          triggers: [from.trigger],
        },
        parent,
      );
    }

    this.serverName = this.server.name;
    this.registerOutputs({
      serverName: this.serverName,
      frontNetworkName: this.frontNetwork.name,
      configHash: this.configHash,
    });
  }

  /**
   * One host: the reload writes nginx.conf and the TLS material into the running container,
   * checks them and reloads nginx gracefully, whenever they change or the container is new, and
   * after every new container of a service behind the edge (`upstreams`) is up.
   *
   * The last is what makes a create-first swap safe: nginx keeps a resolved name for
   * RESOLVER_VALID_SECONDS, so a swap quicker than that (a start interval makes it a few seconds)
   * would stop the old container while nginx knows only its address. Pulumi deletes a replaced
   * container after the resources that depend on its successor, so the reload (which depends on
   * the new containers) comes between: fresh workers resolve every name anew and see both.
   *
   * The nginx.conf it installs names each backend's current container (NginxSettings'
   * currentContainers), which keepalive pools need to be safe across that swap.
   *
   * Declared once, after the services behind the edge.
   */
  declareReload(backends: EdgeBackends): command.local.Command {
    const upstreams = [
      backends.nexus,
      backends.admin,
      backends.player,
      backends.paypal,
      ...Object.values(backends.regions),
    ];
    const regionNames = Object.entries(backends.regions).map(([id, w]) => w.name.apply((n) => [id, n] as const));
    const current = pulumi
      .all([
        backends.nexus.name,
        backends.admin.name,
        backends.player.name,
        backends.paypal.name,
        pulumi.all(regionNames),
      ])
      .apply(([nexus, admin, player, paypal, regions]) => ({
        nexus,
        admin,
        player,
        paypal,
        regions: Object.fromEntries(regions),
      }));
    const files = pulumi
      .all([this.tls, current])
      .apply(([tls, currentContainers]) => ({ ...tls, conf: renderNginxConf({ ...this.nginx, currentContainers }) }));
    const container = this.server;
    // With edge.acme the script installs the ACME client's certificate, when there is one, instead of the given pair.
    const script = edgeReloadScript(this.acmeVolume ? ACME_EDGE_FILES : undefined);
    const reload = container.command((name) => `docker exec -i ${name} sh -ec '${script}'`);
    return new command.local.Command(
      `${this.name}-reload`,
      {
        create: reload.create,
        stdin: pulumi.secret(files.apply(edgeReloadInput)),
        environment: reload.environment,
        // A new container already starts with these files; installing them again is harmless.
        // The TLS part of the trigger is a hash of secrets, kept secret in state by Pulumi.
        triggers: [
          this.configHash,
          files.apply((f) =>
            createHash("sha256").update(f.certificate).update("\0").update(f.certificateKey).digest("hex"),
          ),
          container.resource.id,
          // Sorted: the order the regions are listed in is no reason to reload.
          pulumi.all(upstreams.map((w) => w.resource.id)).apply((ids) => [...ids].sort().join(",")),
        ],
      },
      { parent: this, dependsOn: [container.ready, ...upstreams.map((w) => w.ready)] },
    );
  }
}

/** Where the fill's files come from, as its environment, and what changes exactly when they would differ. */
function fillSource(
  source: StaticSource,
  playerUiImage: pulumi.Input<string>,
): { environment: Record<string, pulumi.Input<string>>; trigger: pulumi.Input<string> } {
  if (source.kind === "directory") {
    // Absolute: the command does not necessarily run in the project directory relative paths start from.
    const directory = path.resolve(source.directory);
    return { environment: { [STATIC_FILL_ENV.directory]: directory }, trigger: hashDirectory(directory) };
  }
  return {
    environment: { [STATIC_FILL_ENV.sourceImage]: playerUiImage, [STATIC_FILL_ENV.sourcePath]: source.path },
    trigger: playerUiImage,
  };
}
