/**
 * One Docker host (sectorwars:orchestrator docker): the capacity check against the host's budget,
 * the images by id, the edge container with its reload, and the container backend.
 */
import type { PlatformConfig } from "../../planning/config";
import { ConfigError } from "../../planning/config";
import { capacityReport } from "../../planning/capacity/check";
import { capacityProblems } from "../../planning/capacity/text";
import { edgeNginxSettings } from "../../planning/edge/plan";
import { containerLogDirectory } from "../../planning/monitoring/edgeLog";
import type { StackPlan } from "../../planning/stack/topology";
import { type StackSecrets, configFailure } from "../config/stackConfig";
import { AcmeClient } from "../edge/acmeClient";
import { EdgeProxy } from "../edge/edgeProxy";
import { ContainerBackend } from "../workload/containerBackend";
import type { Orchestrator } from "../workload/workload";
import { PlatformImages } from "./images";

export interface OneHostArgs {
  config: PlatformConfig;
  plan: StackPlan;
  secrets: StackSecrets;
  /** DOCKER_HOST of the provider: commands that run `docker exec` must reach the same engine. */
  dockerEnvironment: Record<string, string>;
}

export function oneHost({ config, plan, secrets, dockerEnvironment }: OneHostArgs): Orchestrator {
  // Checked before any resource is declared, so an over-budget stack fails at preview.
  const capacity = capacityReport(plan, config);
  const overBudget = capacityProblems(capacity);
  if (overBudget.length > 0) {
    throw configFailure(
      `${new ConfigError(overBudget).message}\n(\`npm run capacity -- --stack ${plan.stack}\` shows the full table)`,
    );
  }

  const images = new PlatformImages("images", { images: plan.images, namePrefix: plan.prefix });
  const backend = new ContainerBackend(dockerEnvironment);
  const edge = new EdgeProxy("edge", {
    backend,
    plan: plan.edge,
    frontNetworkName: plan.frontNetwork,
    image: images.ids.nginx,
    nginx: edgeNginxSettings(plan),
    tls: secrets.tls,
    ...(plan.acme ? { acme: { volumeName: plan.acme.volumeName } } : {}),
    ...(plan.edge.staticFrom
      ? { staticFill: { source: plan.edge.staticFrom, playerUiImage: images.ids.playerUi } }
      : {}),
  });
  const moreImages: Orchestrator["moreImages"] = (name, more) =>
    new PlatformImages(name, { images: more, namePrefix: plan.prefix }).ids;
  const acme =
    plan.acme && edge.acmeVolume
      ? new AcmeClient("acme", {
          backend,
          plan: plan.acme,
          image: moreImages("acme-image", plan.acme.images).acme,
          webroot: edge.staticVolume,
          volume: edge.acmeVolume,
          network: edge.frontNetwork,
          edge: edge.server,
        })
      : undefined;
  return {
    backend,
    images: images.ids,
    moreImages,
    edge: {
      frontNetwork: edge.frontNetwork,
      name: edge.serverName,
      logDirectory: (dockerRootDir) => edge.server.resource.id.apply((id) => containerLogDirectory(dockerRootDir, id)),
      configHash: edge.configHash,
      appsAfter: [],
      playerAfter: edge.staticFill ? [edge.staticFill] : [],
      // After every service behind the edge, so that a swapped one is reloaded into nginx before
      // its predecessor goes (see EdgeProxy.declareReload).
      behind: (upstreams) => edge.declareReload(upstreams),
    },
    outputs: {
      /** Per-service and total CPU and memory, headroom, and how many more regions of each size fit. */
      capacity,
      /** edge.acme: the ACME client's container. */
      ...(acme ? { acmeClient: acme.name } : {}),
    },
  };
}
