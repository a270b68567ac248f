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
