import * as pulumi from "@pulumi/pulumi";
import type * as docker from "@pulumi/docker";
import type { StackSecrets } from "../config/stackConfig";
import type { ContainerPlan, StackPlan } from "../../planning/stack/topology";
import type { Backend, Deployed, SecretEnv } from "../workload/workload";

export interface WebAppsArgs {
  /** The orchestrator that declares the workloads. */
  backend: Backend;
  /** Admin UI, player UI and PayPal service plans (the PayPal one with its PAYPAL_ENVIRONMENT). */
  plan: Pick<StackPlan, "admin" | "player" | "paypal" | "publicUrl">;
  /** The three services' images, as the backend names images. */
  images: { adminUi: pulumi.Input<string>; playerUi: pulumi.Input<string>; paypal: pulumi.Input<string> };
  /** The edge proxy's front network. */
  frontNetwork: docker.Network;
  /** PayPal credentials from secret config; absent in a dev stack that has none. */
  paypalCredentials?: StackSecrets["paypalCredentials"];
  /** What every app waits for (swarm mode: the node labels its placement reads). */
  after: pulumi.Resource[];
  /**
   * What a new player UI waits for besides: the static fill, so that the bundles its pages name
   * are in the static volume before it serves the first page.
   */
  playerAfter: pulumi.Resource[];
}

/** The admin UI, the player UI and the PayPal service: stateless, behind the edge proxy. */
export class WebApps extends pulumi.ComponentResource {
  /** Admin UI, player UI and PayPal: the edge reloads after a new one is up. */
  public readonly apps: { admin: Deployed; player: Deployed; paypal: Deployed };
  /** Container names (one host) or service names (swarm). */
  public readonly names: { admin: pulumi.Output<string>; player: pulumi.Output<string>; paypal: pulumi.Output<string> };

  constructor(name: string, args: WebAppsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("sectorwars:platform:WebApps", name, {}, opts);
    const { plan } = args;
    // The seed hard-codes http://localhost/api, which only works on the server itself.
    const apiUrl = `${plan.publicUrl}/api`;

    /** One app on the front network; `after`: what a new one waits for besides args.after. */
    const app = (
      suffix: string,
      a: {
        plan: ContainerPlan;
        image: pulumi.Input<string>;
        env: Record<string, string>;
        secretEnv?: SecretEnv[];
        after?: pulumi.Resource[];
      },
    ): Deployed => {
      const after = [...args.after, ...(a.after ?? [])];
      return args.backend.workload(
        `${name}-${suffix}`,
        {
          plan: a.plan,
          image: a.image,
          // The stack config's extra environment first; the platform's own keys cannot be among it.
          env: { ...a.plan.env, PORT: String(a.plan.port), SECTORWARS_ROLE: a.plan.role, ...a.env },
          ...(a.secretEnv ? { secretEnv: a.secretEnv } : {}),
          networks: [{ network: args.frontNetwork, aliases: [a.plan.hostname] }],
        },
        { parent: this, ...(after.length > 0 ? { dependsOn: after } : {}) },
      );
    };

    const admin = app("admin", {
      plan: plan.admin,
      image: args.images.adminUi,
      env: { REACT_APP_API_URL: apiUrl },
    });
    const player = app("player", {
      plan: plan.player,
      image: args.images.playerUi,
      env: { REACT_APP_API_URL: apiUrl },
      after: args.playerAfter,
    });
    const credentials = args.paypalCredentials;
    // Named as swarm mode first declared their secrets.
    const stable = (suffix: string) => `${plan.paypal.containerName}_${suffix}`;
    const paypal = app("paypal", {
      plan: plan.paypal,
      image: args.images.paypal,
      env: { PAYPAL_ENVIRONMENT: plan.paypal.environment },
      ...(credentials
        ? {
            secretEnv: [
              {
                key: "PAYPAL_CLIENT_ID",
                value: credentials.clientId,
                object: { resourceName: `${name}-paypal-client-id`, stableName: stable("client_id") },
              },
              {
                key: "PAYPAL_CLIENT_SECRET",
                value: credentials.clientSecret,
                object: { resourceName: `${name}-paypal-client-secret`, stableName: stable("client_secret") },
              },
            ],
          }
        : {}),
    });

    this.apps = { admin, player, paypal };
    this.names = { admin: admin.name, player: player.name, paypal: paypal.name };
    this.registerOutputs({ names: this.names });
  }
}
