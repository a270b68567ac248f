/**
 * The orchestrator switch (`sectorwars:orchestrator`) and the cluster's description
 * (`sectorwars:swarm`): its nodes, where each stateful service lives, and how many tasks each
 * stateless service runs. The schema; the checks that need the rest of the config are in
 * checks.ts. The main schema (../configSchema.ts) only hooks this in, so that an unset orchestrator leaves every other
 * key, default and resource exactly as it was.
 */
import { z } from "zod";
import { GAME_SERVICES, type GameService } from "../stack/services";

export const ORCHESTRATORS = ["docker", "swarm"] as const;

/**
 * Two tasks by default: an update replaces one task at a time while the other serves, which is
 * what keeps a start-first update from losing a request through the edge's DNS cache (see
 * swarm/services.ts, SWARM_UPDATE_DELAY). One is allowed, and loses requests for up to the
 * resolver's validity during an update.
 */
export const DEFAULT_REPLICAS = 2;
export const MAX_REPLICAS = 64;

/** node.hostname as Docker reports it: a DNS host name. */
const NODE_NAME_PATTERN = /^[a-z0-9](?:[a-z0-9.-]{0,62}[a-z0-9])?$/i;
/** Node label keys as Docker accepts them and a placement constraint can name them unquoted. */
const LABEL_KEY_PATTERN = /^[a-z0-9](?:[a-z0-9._-]{0,126}[a-z0-9])?$/;
/** Where a node's own engine is: what the docker CLI takes as DOCKER_HOST. */
const DOCKER_HOST_PATTERN = /^(?:unix:\/\/\/[\w./-]+|ssh:\/\/[\w.@:-]+|tcp:\/\/[\w.:-]+)$/;

const nodeName = z.string().regex(NODE_NAME_PATTERN, "must be a node's host name (docker node ls, HOSTNAME)");

const node = z.strictObject({
  name: nodeName.describe("The node's host name (`docker node ls`): placement constraints name it."),
  cpus: z.number().positive().describe("vCPUs of the node."),
  memoryGb: z.number().positive().describe("Memory of the node in GB."),
  labels: z
    .record(z.string().regex(LABEL_KEY_PATTERN, "must be a node label key such as zone or disk.ssd"), z.string())
    .default({})
    .describe("Node labels the program sets on the node (`docker node update --label-add`)."),
  edge: z
    .boolean()
    .default(false)
    .describe("Runs an edge (nginx) task that publishes the public ports on this node's own address (host mode)."),
  dockerHost: z
    .string()
    .regex(DOCKER_HOST_PATTERN, "must be a DOCKER_HOST value such as ssh://ops@node-2 or unix:///var/run/docker.sock")
    .optional()
    .describe(
      "DOCKER_HOST of this node's own engine, for what runs inside its containers (password sync, backups, " +
        "restore, status). Unset: the engine the provider deploys to (right for the manager itself).",
    ),
});

const replicas = z.number().int().min(1).max(MAX_REPLICAS);

export const swarmSchema = z
  .strictObject({
    nodes: z.array(node).min(1, "at least one node is needed").describe("The cluster's nodes."),
    homeNode: nodeName
      .optional()
      .describe(
        "Node of every database and of Redis that has no swarm.placement entry. Implied when the cluster has one " +
          "node; required with more (see README, Swarm placement).",
      ),
    placement: z
      .strictObject({
        nexus: nodeName.optional().describe("Node of the nexus database."),
        redis: nodeName.optional().describe("Node of the shared Redis."),
        monitoring: nodeName
          .optional()
          .describe(
            "Node of Prometheus and Alertmanager (sectorwars:monitoring), whose series and silences are in volumes.",
          ),
        regions: z.record(z.string(), nodeName).default({}).describe("Node of each region's database, by region id."),
      })
      .default({ regions: {} })
      .describe("Where each database, Redis and the monitoring live: their data volumes are local to that node."),
    replicas: z
      .strictObject(
        Object.fromEntries(GAME_SERVICES.map((s) => [s, replicas.default(DEFAULT_REPLICAS)])) as Record<
          GameService,
          z.ZodDefault<typeof replicas>
        >,
      )
      .default(Object.fromEntries(GAME_SERVICES.map((s) => [s, DEFAULT_REPLICAS])) as Record<GameService, number>)
      .describe(`Tasks of each stateless service (default ${DEFAULT_REPLICAS}); each region's API runs this many.`),
  })
  .optional()
  .describe("The Docker Swarm cluster, with sectorwars:orchestrator swarm.");

export type SwarmNode = z.output<typeof node>;
export type SwarmSettings = NonNullable<z.output<typeof swarmSchema>>;

/**
 * The node label that marks a stack's edge nodes (set by the program on `edge: true` nodes): one
 * per name prefix, so that two stacks on one cluster each choose their own edge nodes.
 */
export const edgeLabelKey = (namePrefix: string): string => `com.sectorwars.${namePrefix}.edge`;
