import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
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
import { nginxConfHash, renderNginxConf } from "../../planning/edge/nginx";
import type { NginxSettings } from "../../planning/edge/settings";
import { STATIC_FILL_ENV, type StaticSource, staticFillCommand } from "../../planning/edge/staticFill";
import type { StackPlan } from "../../planning/stack/topology";
import { hashDirectory } from "../config/contentHash";
import { dataVolume, labelList, serviceContainer } from "../stack/dockerResources";
import { type TlsSource, tlsMaterial } from "./tlsMaterial";

export interface EdgeProxyArgs {
  /**
   * Names, ports (in the container and on the host: the one view of them, which nginx.conf's
   * listen directives are rendered from too) and size of the nginx container.
   */
  plan: StackPlan["edge"];
  /** Name of the front network that the APIs and UIs join. */
  frontNetworkName: string;
  /** Image id of nginx. */
  image: pulumi.Input<string>;
  /** What nginx.conf is rendered from. */
  nginx: NginxSettings;
  /** The certificate served on HTTPS, or a host name to generate a self-signed one for (dev). */
  tls: TlsSource;
  /** Environment of the `docker` CLI that reloads nginx: it must reach the same Docker host as the provider. */
  dockerEnvironment: Record<string, string>;
  /**
   * What fills the static volume on `pulumi up` (config edge.staticFrom), and the player UI's
   * image id, which a `playerUiImage` source copies from. Absent: nothing fills the volume.
   */
  staticFill?: { source: StaticSource; playerUiImage: pulumi.Input<string> };
}

/**
 * nginx on the public ports, and the front network that the APIs and UIs join.
 *
 * The container is created with the current nginx.conf and TLS material. Later changes (a region
 * added or removed, a renewed certificate) do not replace it: a Command writes the new files into
 * the running container, checks them with `nginx -t` and reloads gracefully, so no request is
 * dropped and the public ports never close.
 */
export class EdgeProxy extends pulumi.ComponentResource {
  public readonly containerName: pulumi.Output<string>;
  public readonly frontNetworkName: pulumi.Output<string>;
  /** The front network that the APIs and UIs join. */
  public readonly frontNetwork: docker.Network;
  /** sha256 of the nginx.conf in force. */
  public readonly configHash: string;
  public readonly container: docker.Container;
  /** The command that fills the static volume, when the stack asks for one. */
  public readonly staticFill?: command.local.Command;
  private readonly name: string;
  private readonly files: pulumi.Output<{ conf: string; certificate: string; certificateKey: string }>;
  private readonly dockerEnvironment: Record<string, string>;

  constructor(name: string, args: EdgeProxyArgs, opts?: pulumi.ComponentResourceOptions) {
    super("sectorwars:platform:EdgeProxy", name, {}, opts);
    const parent = { parent: this };
    const { plan } = args;

    const network = new docker.Network(
      `${name}-front`,
      { name: args.frontNetworkName, driver: "bridge", labels: labelList(plan.labels) },
      { ...parent, deleteBeforeReplace: true },
    );
    const staticVolume = dataVolume(
      `${name}-static`,
      { volumeName: plan.staticVolumeName, labels: plan.labels, protect: false },
      parent,
    );

    const material = tlsMaterial(name, args.tls, this);
    const nginxConf = renderNginxConf(args.nginx);
    this.configHash = nginxConfHash(args.nginx);

    this.container = serviceContainer(
      name,
      {
        plan,
        image: args.image,
        // Used when the container is created; ignored afterwards (ignoreChanges): the reload
        // command below keeps all three current.
        uploads: [
          { file: NGINX_CONF_PATH, content: nginxConf },
          { file: TLS_CERT_PATH, content: material.certificate, permissions: "0444" },
          { file: TLS_KEY_PATH, content: pulumi.secret(material.privateKey), permissions: "0400" },
        ],
        mounts: [{ type: "volume", source: staticVolume.name, target: STATIC_VOLUME_PATH, readOnly: true }],
        networks: [{ name: network.name, aliases: [plan.hostname] }],
        ports: [plan.ports.http, plan.ports.https].map(({ internal, external }) => ({
          internal,
          external,
          protocol: "tcp",
        })),
      },
      { ...parent, ignoreChanges: ["uploads"] },
    );

    this.files = pulumi
      .all([pulumi.output(material.certificate), pulumi.output(material.privateKey)])
      .apply(([certificate, certificateKey]) => ({ conf: nginxConf, certificate, certificateKey }));
    this.name = name;
    this.dockerEnvironment = args.dockerEnvironment;

    if (args.staticFill) {
      const from = fillSource(args.staticFill.source, args.staticFill.playerUiImage);
      this.staticFill = new command.local.Command(
        `${name}-static-fill`,
        {
          create: staticFillCommand(args.staticFill.source),
          // nginx's image writes into the volume: it is on the host already, with sh and tar. Any
          // change here (a new nginx image, say) runs the fill again as an update: harmless.
          environment: {
            ...args.dockerEnvironment,
            [STATIC_FILL_ENV.volume]: staticVolume.name,
            [STATIC_FILL_ENV.helperImage]: args.image,
            ...from.environment,
          },
          triggers: [from.trigger],
        },
        parent,
      );
    }

    this.containerName = this.container.name;
    this.frontNetworkName = network.name;
    this.frontNetwork = network;
    this.registerOutputs({
      containerName: this.containerName,
      frontNetworkName: this.frontNetworkName,
      configHash: this.configHash,
    });
  }

  /**
   * The reload: writes nginx.conf and the TLS material into the running container, checks them and
   * reloads nginx gracefully, whenever they change or the container is new, and after every new
   * container of a service behind the edge (`upstreams`) is up.
   *
   * The last is what makes a create-first swap safe: nginx keeps a resolved name for
   * RESOLVER_VALID_SECONDS, so a swap quicker than that (a start interval makes it a few seconds)
   * would stop the old container while nginx knows only its address. Pulumi deletes a replaced
   * container after the resources that depend on its successor, so the reload (which depends on
   * the new containers) comes between: fresh workers resolve every name anew and see both.
   *
   * Declared once, after the services behind the edge.
   */
  declareReload(upstreams: readonly pulumi.CustomResource[]): command.local.Command {
    const files = this.files;
    return new command.local.Command(
      `${this.name}-reload`,
      {
        create: pulumi.interpolate`docker exec -i ${this.container.name} sh -ec '${edgeReloadScript()}'`,
        stdin: pulumi.secret(files.apply(edgeReloadInput)),
        environment: this.dockerEnvironment,
        // A new container already starts with these files; installing them again is harmless.
        // The TLS part of the trigger is a hash of secrets, kept secret in state by Pulumi.
        triggers: [
          this.configHash,
          files.apply((f) =>
            createHash("sha256").update(f.certificate).update("\0").update(f.certificateKey).digest("hex"),
          ),
          this.container.id,
          // Sorted: the order the regions are listed in is no reason to reload.
          pulumi.all(upstreams.map((c) => c.id)).apply((ids) => [...ids].sort().join(",")),
        ],
      },
      { parent: this, dependsOn: [this.container, ...upstreams] },
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
