/**
 * The admin UI, the player UI and the PayPal service as floating swarm services behind the edge:
 * the counterpart of components/stack/webApps.ts. PayPal credentials are Docker secrets read from
 * files (PAYPAL_CLIENT_ID_FILE, PAYPAL_CLIENT_SECRET_FILE), never environment.
 */
import type * as docker from "@pulumi/docker";
import type { StackSecrets } from "../config/stackConfig";
import * as pulumi from "@pulumi/pulumi";
import { PAYPAL_CLIENT_ID_FILE, PAYPAL_CLIENT_SECRET_FILE } from "../../planning/swarm/secrets";
import type { SwarmServicePlan } from "../../planning/swarm/services";
import type { StackPlan } from "../../planning/stack/topology";
import { type TaskFile, secretFile, swarmService } from "./service";

export interface SwarmAppsArgs {
  plan: Pick<StackPlan, "admin" | "player" | "paypal" | "publicUrl">;
  services: { admin: SwarmServicePlan; player: SwarmServicePlan; paypal: SwarmServicePlan };
  images: { adminUi: pulumi.Input<string>; playerUi: pulumi.Input<string>; paypal: pulumi.Input<string> };
  frontNetwork: docker.Network;
  paypalCredentials?: StackSecrets["paypalCredentials"];
  /** Node label commands: services wait until the nodes carry their labels. */
  after: pulumi.Resource[];
}

export class SwarmApps extends pulumi.ComponentResource {
  public readonly services: docker.Service[];
  public readonly serviceNames: { admin: string; player: string; paypal: string };

  constructor(name: string, args: SwarmAppsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("sectorwars:platform:WebApps", name, {}, opts);
    const parent = { parent: this };
    const apiUrl = `${args.plan.publicUrl}/api`;
    const app = (
      suffix: string,
      s: SwarmServicePlan,
      image: pulumi.Input<string>,
      env: Record<string, string>,
      secrets: TaskFile[] = [],
    ) =>
      swarmService(
        `${name}-${suffix}`,
        {
          plan: s,
          image,
          env: { ...s.container.env, PORT: String(s.container.port), SECTORWARS_ROLE: s.container.role, ...env },
          networks: [{ id: args.frontNetwork.id, aliases: [s.container.hostname] }],
          secrets,
        },
        { ...parent, dependsOn: args.after },
      );
    const { services } = args;
    const credentials = args.paypalCredentials;
    const labels = services.paypal.container.labels;
    const paypalSecrets: TaskFile[] = credentials
      ? [
          {
            object: secretFile(
              `${name}-paypal-client-id`,
              { stableName: `${services.paypal.serviceName}_client_id`, content: credentials.clientId, labels },
              parent,
            ),
            file: PAYPAL_CLIENT_ID_FILE,
          },
          {
            object: secretFile(
              `${name}-paypal-client-secret`,
              {
                stableName: `${services.paypal.serviceName}_client_secret`,
                content: credentials.clientSecret,
                labels,
              },
              parent,
            ),
            file: PAYPAL_CLIENT_SECRET_FILE,
          },
        ]
      : [];
    this.services = [
      app("admin", services.admin, args.images.adminUi, { REACT_APP_API_URL: apiUrl }),
      app("player", services.player, args.images.playerUi, { REACT_APP_API_URL: apiUrl }),
      app(
        "paypal",
        services.paypal,
        args.images.paypal,
        {
          PAYPAL_ENVIRONMENT: args.plan.paypal.environment,
          ...(credentials ? { PAYPAL_CLIENT_ID_FILE, PAYPAL_CLIENT_SECRET_FILE } : {}),
        },
        paypalSecrets,
      ),
    ];
    this.serviceNames = {
      admin: services.admin.serviceName,
      player: services.player.serviceName,
      paypal: services.paypal.serviceName,
    };
    this.registerOutputs({ serviceNames: this.serviceNames });
  }
}
