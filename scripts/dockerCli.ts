/**
 * The docker CLI on one engine, for the operator scripts (restore, restore --to on one host and in
 * a swarm, Redis from the repository). No secret is ever an argument: passwords, keys and
 * credentials stay inside the containers, so a failure may quote the command.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";

export interface DockerResult {
  status: number;
  stdout: string;
  stderr: string;
}

export interface DockerCall {
  /** Return a failed call's result instead of throwing. */
  allowFailure?: boolean;
  /** A file streamed to the command's stdin (else it reads none). */
  stdinFile?: string;
  /** A file descriptor the command's stdout goes to, for output too large to hold (a dump). */
  stdoutFd?: number;
  /** Default 6 h: a restore of a large database takes long, a hung engine must not hang forever. */
  timeoutMs?: number;
}

export type Docker = (args: string[], call?: DockerCall) => DockerResult;

/** The docker CLI on the engine `env` reaches (DOCKER_HOST); a failed call throws `fail(message)`. */
export function dockerCli(env: NodeJS.ProcessEnv, fail: (message: string) => Error): Docker {
  return (args, call = {}) => {
    const fd = call.stdinFile === undefined ? undefined : fs.openSync(call.stdinFile, "r");
    try {
      const r = spawnSync("docker", args, {
        env,
        stdio: [fd ?? "ignore", call.stdoutFd ?? "pipe", "pipe"],
        encoding: "utf8",
        maxBuffer: 64 * 1024 * 1024,
        timeout: call.timeoutMs ?? 6 * 3600_000,
      });
      const result = {
        status: r.status ?? -1,
        stdout: r.stdout ?? "",
        stderr: (r.stderr ?? "") + (r.error ? String(r.error) : ""),
      };
      if (result.status !== 0 && !call.allowFailure) {
        throw fail(`docker ${args.slice(0, 3).join(" ")} … failed (${result.status}): ${result.stderr.trim()}`);
      }
      return result;
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  };
}
