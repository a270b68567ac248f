/**
 * The disk half of `npm run status`: free space measured where planning/status/disk.ts says it can
 * be measured truthfully, statfs on this machine or `df` in a throwaway container on the Docker
 * engine's host. A failure is the measurement's answer ("unknown", and why), never an exception.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { collectOutput } from "./dockerStream";
import type Docker from "dockerode";
import { type DiskMeasurement, dataRootSite, diskSpaceFromStatfs, parseDfOutput } from "../planning/status/disk";
import { withTimeout } from "./cli";

/** Where the df container sees the data root. */
const PROBE_MOUNT = "/sectorwars-data-root";
const DF_TIMEOUT_MS = 30_000;
/**
 * Marks the throwaway df containers. Not the stack's label: a status run must never list another
 * run's probe as a stray container of the stack.
 */
const LABEL_DISK_PROBE = "com.sectorwars.status-disk-probe";

/**
 * statfs of a path on this machine. With parentIfMissing, a path that does not exist (yet) is
 * measured at its nearest existing parent: the file system it will be created on.
 */
export async function measureHere(target: string, options: { parentIfMissing: boolean }): Promise<DiskMeasurement> {
  let at = target;
  for (;;) {
    try {
      const figures = await fs.promises.statfs(at);
      return { measuredOn: "local", measuredPath: at, space: diskSpaceFromStatfs(figures) };
    } catch (error) {
      const parent = path.dirname(at);
      if (options.parentIfMissing && (error as NodeJS.ErrnoException).code === "ENOENT" && parent !== at) {
        at = parent;
        continue;
      }
      return { unknown: `statfs ${at} on this machine failed: ${(error as Error).message}` };
    }
  }
}

/**
 * `df -P -k` of the data root, run by the engine on its own host: a container of `image` (one the
 * stack already runs, so nothing is pulled) with the data root bind-mounted read-only, as nobody,
 * without network or capabilities. The bind is not recursive, so that the mounts of the
 * containers under the data root are not dragged into it (such leaked mounts can keep their
 * removal busy), and rslave, which the engine demands of any bind from inside its root for that
 * same reason. AutoRemove lets the engine remove it even when this command is killed meanwhile;
 * the finally block covers a timeout.
 */
async function measureOnEngine(
  docker: Docker,
  options: { root: string; image: string; stack: string },
): Promise<DiskMeasurement> {
  const mount: Docker.MountSettings & { BindOptions: { Propagation: "rslave"; NonRecursive: boolean } } = {
    Type: "bind",
    Source: options.root,
    Target: PROBE_MOUNT,
    ReadOnly: true,
    BindOptions: { Propagation: "rslave", NonRecursive: true },
  };
  let container: Docker.Container | undefined;
  try {
    container = await docker.createContainer({
      Image: options.image,
      Entrypoint: ["df"],
      Cmd: ["-P", "-k", PROBE_MOUNT],
      User: "65534:65534",
      Labels: { [LABEL_DISK_PROBE]: options.stack },
      NetworkDisabled: true,
      HostConfig: {
        AutoRemove: true,
        NetworkMode: "none",
        ReadonlyRootfs: true,
        CapDrop: ["ALL"],
        SecurityOpt: ["no-new-privileges"],
        Mounts: [mount],
      },
    });
    const stream = await container.attach({ stream: true, stdout: true, stderr: true });
    const output = collectOutput(docker, stream);
    const { ended } = output;
    // Asked before the start, so that a df that exits at once cannot be missed.
    const exited = container.wait({ condition: "next-exit" }) as Promise<{ StatusCode?: number }>;
    // Both are awaited below; when start() throws first, these keep their later end from being an
    // unhandled rejection, which would kill the process.
    ended.catch(() => undefined);
    exited.catch(() => undefined);
    await container.start();
    const { StatusCode } = await withTimeout(exited, DF_TIMEOUT_MS, "df in a container");
    await withTimeout(ended, DF_TIMEOUT_MS, "reading df's output");
    const text = output.stdout();
    if (StatusCode !== 0) {
      const why = (output.stderr().trim() || text.trim() || "no output").split("\n")[0] ?? "";
      throw new Error(`df exited ${StatusCode ?? "?"}: ${why}`);
    }
    return { measuredOn: "engine", measuredPath: options.root, space: parseDfOutput(text) };
  } catch (error) {
    return { unknown: `df in a container on the engine's host failed: ${(error as Error).message.trim()}` };
  } finally {
    // Gone already when it exited (AutoRemove); still there after a timeout or a failed start.
    await container?.remove({ force: true }).catch(() => undefined);
  }
}

/**
 * The data root, measured where it is (dataRootSite): statfs here when the engine is this
 * machine's, else (or when the path is not here after all) df on the engine's host.
 */
export async function measureDataRoot(
  docker: Docker,
  options: { root: string; engineName: string; hostname: string; probeImage: string | null; stack: string },
): Promise<DiskMeasurement> {
  const modem = docker.modem as unknown as { socketPath?: unknown; host?: unknown };
  const site = dataRootSite({
    unixSocket: Boolean(modem.socketPath) && !modem.host,
    engineName: options.engineName,
    localHostname: options.hostname,
  });
  let whyNotHere = "the engine is not this machine's";
  if (site === "local") {
    const here = await measureHere(options.root, { parentIfMissing: false });
    if (!("unknown" in here)) return here;
    whyNotHere = here.unknown;
  }
  if (options.probeImage === null) {
    return {
      unknown: `${whyNotHere}, and the stack has no redis, database or nginx container whose image could run df there`,
    };
  }
  return measureOnEngine(docker, { root: options.root, image: options.probeImage, stack: options.stack });
}
