/**
 * The output of a process in a container, from the multiplexed stream Docker attaches without a
 * TTY: split into stdout and stderr, collected until the stream ends (npm run status: psql in a
 * database container, df on the engine's host).
 */
import type Docker from "dockerode";
import { PassThrough } from "node:stream";

export interface CollectedOutput {
  /** Settles when the stream ends or closes; rejects on a stream error. */
  ended: Promise<void>;
  stdout(): string;
  stderr(): string;
}

export function collectOutput(docker: Docker, stream: NodeJS.ReadableStream): CollectedOutput {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on("data", (chunk: Buffer) => out.push(chunk));
  stderr.on("data", (chunk: Buffer) => err.push(chunk));
  docker.modem.demuxStream(stream, stdout, stderr);
  const ended = new Promise<void>((resolve, reject) => {
    stream.on("end", resolve);
    stream.on("close", resolve);
    stream.on("error", reject);
  });
  return {
    ended,
    stdout: () => Buffer.concat(out).toString("utf8"),
    stderr: () => Buffer.concat(err).toString("utf8"),
  };
}
