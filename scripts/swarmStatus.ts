/**
 * What `npm run status` does differently for a swarm stack: it asks every node's engine (each
 * node's dockerHost, the provider's own for the one without), expects one row per task (each
 * replica, an edge task per edge node) matched by role and region as on one host, and leaves out
 * the exited containers of a service's earlier tasks, which swarm keeps as history.
 */
import Docker from "dockerode";
import type { PlatformConfig } from "../planning/config";
import type { ExpectedContainer, ObservedContainer } from "../planning/status/evaluation";
import { swarmTasks } from "../planning/swarm/capacity";
import { acceptedPlacement, nodeHosts } from "../planning/swarm/placement";
import type { StackPlan } from "../planning/stack/topology";

/** Swarm's own label on a task's container. */
const TASK_LABEL = "com.docker.swarm.task.id";

/** A dockerode client for a DOCKER_HOST value ("default": the one the environment names). */
export function engineFor(host: string, timeout: number): Docker {
  if (host === "default") return new Docker({ timeout });
  const url = new URL(host);
  if (url.protocol === "unix:") return new Docker({ socketPath: url.pathname, timeout });
  if (url.protocol === "ssh:") {
    return new Docker({
      protocol: "ssh",
      host: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      ...(url.username ? { username: url.username } : {}),
      timeout,
    });
  }
  return new Docker({ protocol: "http", host: url.hostname, port: Number(url.port || 2375), timeout });
}

export interface SwarmScope {
  /** Each node's engine once. */
  hosts: string[];
  expected: ExpectedContainer[];
}

/** The engines to ask and the tasks to expect; null for a stack in container mode. */
export function swarmScope(config: PlatformConfig, plan: StackPlan): SwarmScope | null {
  if (config.orchestrator !== "swarm") return null;
  const { swarm, placement } = acceptedPlacement(config);
  return {
    hosts: nodeHosts(swarm.nodes),
    expected: swarmTasks(plan, swarm, placement).map((t) => ({
      name: t.name,
      role: t.role as ExpectedContainer["role"],
      region: t.region,
    })),
  };
}

/** A service's earlier tasks are history, not the service: only running task containers count. */
export const isCurrent = (c: ObservedContainer): boolean => !(TASK_LABEL in c.labels) || c.state === "running";
