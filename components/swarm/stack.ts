/**
 * A Docker Swarm (sectorwars:orchestrator swarm): the placement and every node's capacity
 * checked, images as references every node resolves, the edge as a global service on the nodes
 * labelled for it, and the swarm backend (services on overlay networks, passwords as Docker
 * secrets, nginx.conf as a Docker config). The rest of the stack is the same as on one host.
 */
import * as pulumi from "@pulumi/pulumi";
import type { PlatformConfig } from "../../planning/config";
import { ConfigError } from "../../planning/config";
import { edgeNginxSettings } from "../../planning/edge/plan";
import type { StackPlan } from "../../planning/stack/topology";
import { swarmCapacity, swarmCapacityProblems } from "../../planning/swarm/capacity";
import { acceptedPlacement } from "../../planning/swarm/placement";
import { SWARM_RESOLVER_VALID_SECONDS, allSwarmServices, planSwarmServices } from "../../planning/swarm/services";
import { type StackSecrets, configFailure } from "../config/stackConfig";
import { PlatformImages } from "../stack/images";
import { SwarmBackend } from "../workload/swarmBackend";
import type { Orchestrator } from "../workload/workload";
import { EdgeProxy } from "../edge/edgeProxy";
import { edgeLabelKey } from "../../planning/swarm/config";
import { containersLogDirectory } from "../../planning/monitoring/edgeLog";

export interface SwarmArgs {
  config: PlatformConfig;
  plan: StackPlan;
  /** The certificate and PayPal credentials, from the secret keys. */
  secrets: StackSecrets;
  /** DOCKER_HOST of the provider: a manager of the swarm. */
  dockerEnvironment: Record<string, string>;
}

export function swarm({ config, plan, secrets, dockerEnvironment }: SwarmArgs): Orchestrator {
  const { swarm, placement } = acceptedPlacement(config);
  // Checked before any resource is declared, so an over-budget node fails at preview.
  const capacity = swarmCapacity(plan, config, swarm, placement);
  const overBudget = swarmCapacityProblems(capacity, swarm);
  if (overBudget.length > 0) {
    throw configFailure(
      `${new ConfigError(overBudget).message}\n(\`npm run capacity -- --stack ${plan.stack}\` shows every node's table)`,
    );
  }
  const services = planSwarmServices(plan, swarm, placement, config.namePrefix);

  const images = new PlatformImages("images", { images: plan.images, namePrefix: plan.prefix });
  const backend = new SwarmBackend({ services: allSwarmServices(services), nodes: swarm.nodes, dockerEnvironment });
  const edge = new EdgeProxy("edge", {
    backend,
    plan: plan.edge,
    frontNetworkName: plan.frontNetwork,
    image: images.refs.nginx,
    nginx: { ...edgeNginxSettings(plan), resolverValidSeconds: SWARM_RESOLVER_VALID_SECONDS },
    tls: secrets.tls,
    nodeLabels: swarm.nodes.map((node) => ({
      node: node.name,
      labels: { ...node.labels, ...(node.edge ? { [edgeLabelKey(config.namePrefix)]: "true" } : {}) },
    })),
  });
  return {
    backend,
    images: images.refs,
    moreImages: (name, more) => new PlatformImages(name, { images: more, namePrefix: plan.prefix }).refs,
    edge: {
      frontNetwork: edge.frontNetwork,
      name: edge.serverName,
      configHash: edge.configHash,
      appsAfter: edge.nodeLabels,
      // Once the edge nodes are labelled: the request counter's tasks go where the label is.
      logDirectory: (dockerRootDir) =>
        pulumi.all(edge.nodeLabels.map((l) => l.id)).apply(() => containersLogDirectory(dockerRootDir)),
      playerAfter: [],
      // Nothing to reload: the edge re-resolves task addresses every SWARM_RESOLVER_VALID_SECONDS,
      // and a rolling update pauses longer than that between tasks (SWARM_UPDATE_DELAY).
      behind: () => undefined,
    },
    outputs: {
      /** Per node: its tasks, budget and headroom; floating tasks in an example packing. */
      capacity,
      /** Where each database and Redis lives (its volume is on that node). */
      placement,
    },
  };
}
