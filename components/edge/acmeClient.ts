/**
 * The edge's ACME client (edge.acme, one host): lego in a renewal loop that obtains the
 * certificate for edge.hostname over HTTP-01 and publishes each new one in the ACME volume, where
 * the edge's nginx picks it up. The loop, its files and its health check are planned in
 * planning/edge/acmeClient.ts; this only declares.
 */
import type * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { ACME_PATHS, type AcmePlan, acmeEnvironment, acmeLoopScript } from "../../planning/edge/acmeClient";
import type { Backend, DataVolume, Deployed } from "../workload/workload";

export interface AcmeClientArgs {
  /** The orchestrator that declares the workload. */
  readonly backend: Backend;
  /** The container, its volume, the name certified and edge.acme's settings. */
  readonly plan: AcmePlan;
  /** The ACME client's image (lego's), as the backend names images. */
  readonly image: pulumi.Input<string>;
  /** The edge's static volume: HTTP-01 tokens are written there, nginx serves them on port 80. */
  readonly webroot: DataVolume;
  /** The edge's ACME volume: account, certificates and the PEM nginx loads. */
  readonly volume: DataVolume;
  /** The edge's front network: not internal, so the client reaches the CA. */
  readonly network: docker.Network;
  /** The edge, serving challenges, before the first request to the CA. */
  readonly edge: Deployed;
}

export class AcmeClient extends pulumi.ComponentResource {
  /** Container name. */
  public readonly name: pulumi.Output<string>;

  constructor(name: string, args: AcmeClientArgs, opts?: pulumi.ComponentResourceOptions) {
    super("sectorwars:platform:AcmeClient", name, {}, opts);
    const { plan } = args;
    const { caCertificate } = plan.settings;
    const client = args.backend.workload(
      `${name}-client`,
      {
        plan: plan.client,
        image: args.image,
        env: acmeEnvironment(plan.settings),
        // The image's entrypoint is /lego; the loop is a shell that runs it.
        entrypoint: ["/bin/sh", "-c"],
        command: [acmeLoopScript(plan)],
        files:
          caCertificate === undefined
            ? []
            : [
                {
                  path: ACME_PATHS.caBundle,
                  content: caCertificate,
                  secret: false,
                  object: { resourceName: `${name}-ca`, stableName: `${plan.client.containerName}_ca` },
                },
              ],
        volumes: [
          { volume: args.volume, target: ACME_PATHS.data },
          { volume: args.webroot, target: ACME_PATHS.webroot },
        ],
        networks: [{ network: args.network, aliases: [] }],
      },
      { parent: this, dependsOn: [args.edge.ready] },
    );
    this.name = client.name;
    this.registerOutputs({ name: this.name });
  }
}
