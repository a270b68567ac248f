import * as pulumi from "@pulumi/pulumi";
import type { StackSecrets } from "../config/stackConfig";
import type * as docker from "@pulumi/docker";
import type { ContainerPlan, StackPlan } from "../../planning/stack/topology";
import { serviceContainer } from "./dockerResources";

export interface WebAppsArgs {
  /** Admin UI, player UI and PayPal service plans (the PayPal one with its PAYPAL_ENVIRONMENT). */
  plan: Pick<StackPlan, "admin" | "player" | "paypal" | "publicUrl">;
  /** Image ids of the three services. */
  images: { adminUi: pulumi.Input<string>; playerUi: pulumi.Input<string>; paypal: pulumi.Input<string> };
  /** Name of the edge proxy's front network. */
  frontNetwork: pulumi.Input<string>;
  /** PayPal credentials from secret config; absent in a dev stack that has none. */
  paypalCredentials?: StackSecrets["paypalCredentials"];
  /**
   * What a new player UI container waits for: the static fill, so that the bundles its pages
   * name are in the static volume before it serves the first page.
   */
  playerAfter: pulumi.Resource[];
}

/** The admin UI, the player UI and the PayPal service: stateless containers behind the edge proxy. */
export class WebApps extends pulumi.ComponentResource {
  /** Admin UI, player UI and PayPal containers: the edge reloads after a new one is up. */
  public readonly containers: docker.Container[];
  public readonly adminContainerName: pulumi.Output<string>;
  public readonly playerContainerName: pulumi.Output<string>;
  public readonly paypalContainerName: pulumi.Output<string>;

  constructor(name: string, args: WebAppsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("sectorwars:platform:WebApps", name, {}, opts);
    const { plan } = args;
    // The seed hard-codes http://localhost/api, which only works on the server itself.
    const apiUrl = `${plan.publicUrl}/api`;

    /** One app's container on the front network; `after`: what a new one waits for. */
    const app = (
      suffix: string,
      a: {
        plan: ContainerPlan;
        image: pulumi.Input<string>;
        envs: pulumi.Input<pulumi.Input<string>[]>;
        after?: pulumi.Resource[];
      },
    ): docker.Container =>
      serviceContainer(
        `${name}-${suffix}`,
        {
          plan: a.plan,
          image: a.image,
          envs: a.envs,
          networks: [{ name: args.frontNetwork, aliases: [a.plan.hostname] }],
        },
        { parent: this, ...(a.after && a.after.length > 0 ? { dependsOn: a.after } : {}) },
      );
    // The stack config's extra environment first; the platform's own keys cannot be among it.
    const base = (p: ContainerPlan): string[] => [
      ...Object.entries(p.env).map(([key, value]) => `${key}=${value}`),
      `PORT=${p.port}`,
      `SECTORWARS_ROLE=${p.role}`,
    ];

    const secretIf = (p: ContainerPlan, envs: string[]) => (p.envSecret ? pulumi.secret(envs) : envs);
    const admin = app("admin", {
      plan: plan.admin,
      image: args.images.adminUi,
      envs: secretIf(plan.admin, [...base(plan.admin), `REACT_APP_API_URL=${apiUrl}`]),
    });
    const player = app("player", {
      plan: plan.player,
      image: args.images.playerUi,
      envs: secretIf(plan.player, [...base(plan.player), `REACT_APP_API_URL=${apiUrl}`]),
      after: args.playerAfter,
    });

    const paypalEnv = [...base(plan.paypal), `PAYPAL_ENVIRONMENT=${plan.paypal.environment}`];
    const credentials = args.paypalCredentials;
    const paypal = app("paypal", {
      plan: plan.paypal,
      image: args.images.paypal,
      envs: credentials
        ? pulumi.secret(
            pulumi
              .all([credentials.clientId, credentials.clientSecret])
              .apply(([id, secret]) => [...paypalEnv, `PAYPAL_CLIENT_ID=${id}`, `PAYPAL_CLIENT_SECRET=${secret}`]),
          )
        : secretIf(plan.paypal, paypalEnv),
    });

    this.containers = [admin, player, paypal];
    this.adminContainerName = admin.name;
    this.playerContainerName = player.name;
    this.paypalContainerName = paypal.name;
    this.registerOutputs({
      adminContainerName: this.adminContainerName,
      playerContainerName: this.playerContainerName,
      paypalContainerName: this.paypalContainerName,
    });
  }
}
