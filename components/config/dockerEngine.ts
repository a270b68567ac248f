/**
 * Asks the Docker engine the stack deploys to for its Engine API version, at every preview and
 * up, before any resource is declared (planning/stack/engine.ts decides what the answer allows).
 *
 * The question is a Pulumi invoke of the command provider's `local.run`, which runs on preview
 * too, through the same `docker` CLI and DOCKER_HOST as the program's other commands. Under
 * Pulumi's mocks, the test harness answers it.
 */
import * as command from "@pulumi/command";
import type { EngineCheck } from "../../planning/stack/engine";

export const API_VERSION_COMMAND = "docker version --format '{{.Server.APIVersion}}'";

export async function askEngineApiVersion(environment: Record<string, string>): Promise<EngineCheck["reported"]> {
  try {
    const answer = await command.local.run({
      command: API_VERSION_COMMAND,
      environment,
      addPreviousOutputInEnv: false,
    });
    return { apiVersion: answer.stdout.trim() };
  } catch (error) {
    // The provider's error carries the command's stderr ("Cannot connect to the Docker daemon ...").
    const text = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, " ").trim();
    return { error: text.slice(0, 400) || "docker version failed" };
  }
}

export const DOCKER_ROOT_DIR_COMMAND = "docker info --format '{{.DockerRootDir}}'";

/**
 * The engine's data root, where it keeps each container's json-file log (the edge's, which the
 * monitoring's mtail reads). Asked only of a stack that runs that reader; a failure fails the
 * preview with the command's own message.
 */
export async function askDockerRootDir(environment: Record<string, string>): Promise<string> {
  const answer = await command.local.run({
    command: DOCKER_ROOT_DIR_COMMAND,
    environment,
    addPreviousOutputInEnv: false,
  });
  const dir = answer.stdout.trim();
  if (!dir.startsWith("/"))
    throw new Error(`${DOCKER_ROOT_DIR_COMMAND} answered ${JSON.stringify(dir)}, not a directory`);
  return dir;
}
