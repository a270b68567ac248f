/**
 * An S3-compatible HTTPS server as a container on a test's Docker network: an off-host backup
 * repository for pgBackRest (repo1-type=s3) and restic (s3:https://...), with no registry and no
 * cloud. The server is gofakes3 (test/support/s3server/main.go), built once into a static binary
 * and imported as a one-file image; each start gets its own test CA and server certificate.
 *
 *   const s3 = await startS3Server({ run: RUN, network, alias: "s3", publish: true });
 *   // in the network: https://s3 (port 443); on the host: https://127.0.0.1:<s3.hostPort>
 *   ... restic --cacert s3.caCertPath -r s3:https://127.0.0.1:<hostPort>/<bucket>/restic ...
 *   await s3.stop();
 *
 * Objects live in a bolt file inside the container, so `docker restart <container>` keeps them
 * (but Docker publishes the port anew, on another host port: read it with `docker port`); stop()
 * removes the container and with it every object.
 */
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type EngineOption, type TestRun, docker, onNetworksCreated, run, sideServerStop } from "./docker";
import { IMAGE_CACHE_DIR } from "./images";
import { labelArgs } from "./platformContainers";
import { writeServerCertificates } from "./tls";
import { waitUntil } from "./process";

const SOURCE_DIR = path.resolve(__dirname, "s3server");
const SOURCES = ["main.go", "go.mod", "go.sum"];
/** The port the server listens on inside the network: 443, so URLs need no port. */
export const S3_PORT = 443;

export interface S3ServerOptions extends EngineOption {
  /** The test run: its labels go on the container, so removeLabelled/reapDeadRuns find it. */
  run: TestRun;
  /** A Docker network the test created; the server joins it under `alias`. */
  network: string;
  /** The DNS name clients in the network use; also in the certificate. Default "s3". */
  alias?: string;
  /** Also publish the port on 127.0.0.1 (a free port Docker picks), for clients on the host. */
  publish?: boolean;
  bucket?: string;
  /** Default: random per start, so that no two runs (or a stale config) share credentials. */
  accessKey?: string;
  secretKey?: string;
  /** Log every request to the container's output (docker logs), for debugging a client. */
  verbose?: boolean;
  /**
   * Serve what a stopped server handed over (S3Server.handOver): its objects, certificate, keys,
   * bucket and alias. The repository outlives the engine its first server ran on, as a real one
   * on another machine would; the other options' alias, bucket and keys are ignored.
   */
  continues?: S3Handover;
}

/** What a server leaves for one that continues it on another engine or network. */
export interface S3Handover {
  alias: string;
  bucket: string;
  accessKey: string;
  secretKey: string;
  /** Host directories: the certificate files (ca.pem, cert.pem, key.pem) and the bolt file's. */
  tlsDir: string;
  dataDir: string;
}

export interface S3Server {
  /** The container's name, for `docker logs` or `docker restart` (objects survive it, hostPort does not). */
  container: string;
  alias: string;
  /** The port inside the network (443). */
  port: number;
  /** The published port on 127.0.0.1, when `publish` was set. */
  hostPort?: number;
  /** The test CA that signed the server's certificate (PEM), and a host file holding it. */
  caCertPem: string;
  caCertPath: string;
  accessKey: string;
  secretKey: string;
  bucket: string;
  /** Removes the container (and its objects) and the certificate files. Safe to call twice. */
  stop(): Promise<void>;
  /**
   * Stops the server and copies its objects and certificate out to a new host directory, for a
   * server that continues it (startS3Server's `continues`); then removes this one, as stop().
   */
  handOver(): Promise<S3Handover>;
}

/** The Go toolchain: the one installed under /usr/local/go, else whatever `go` is on PATH. */
const goBinary = (): string =>
  process.env.GO ?? (fs.existsSync("/usr/local/go/bin/go") ? "/usr/local/go/bin/go" : "go");

/** Hash of the server's sources: names the cached binary and the image tag, so edits rebuild. */
function sourceHash(): string {
  const hash = createHash("sha256");
  for (const file of SOURCES) hash.update(`${file}\0`).update(fs.readFileSync(path.join(SOURCE_DIR, file)));
  return hash.digest("hex").slice(0, 16);
}

/**
 * Builds the server image on the engine if it is not there yet, and returns its name. The static
 * binary is cached in IMAGE_CACHE_DIR (the first build fetches modules through the Go proxy and
 * takes ~30 s; then each engine only needs the `docker import`).
 */
export function ensureS3ServerImage(engine: EngineOption = {}): string {
  const hash = sourceHash();
  const image = `sectorwars-test/s3server:${hash}`;
  if (run("docker", ["image", "inspect", image], engine).status === 0) return image;

  const binary = path.join(IMAGE_CACHE_DIR, `s3server-${hash}`);
  if (!fs.existsSync(binary)) {
    fs.mkdirSync(IMAGE_CACHE_DIR, { recursive: true });
    // Built under a name of its own and renamed: two test files may build at the same time.
    const partial = `${binary}.${process.pid}.tmp`;
    const build = run(goBinary(), ["-C", SOURCE_DIR, "build", "-trimpath", "-ldflags=-s -w", "-o", partial, "."], {
      // CGO off: a static binary runs in an image holding nothing else (no libc, no /etc).
      env: { ...process.env, CGO_ENABLED: "0", GOFLAGS: "-mod=readonly" },
      timeoutMs: 600_000,
    });
    if (build.status !== 0) {
      fs.rmSync(partial, { force: true });
      throw new Error(
        `building ${SOURCE_DIR} failed (${build.status}); it needs Go (/usr/local/go or GO=...) ` +
          `and, the first time, the Go module proxy:\n${build.stderr}`,
      );
    }
    fs.renameSync(partial, binary);
  }

  // The root file system is a tarball of that one file; `docker import` makes it an image.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sw-s3image-"));
  try {
    fs.copyFileSync(binary, path.join(dir, "s3server"));
    fs.chmodSync(path.join(dir, "s3server"), 0o755);
    const tar = run("tar", ["-C", dir, "--owner=0", "--group=0", "-cf", path.join(dir, "rootfs.tar"), "s3server"]);
    if (tar.status !== 0) throw new Error(`tar failed: ${tar.stderr}`);
    docker(["import", "--change", 'ENTRYPOINT ["/s3server"]', path.join(dir, "rootfs.tar"), image], engine);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return image;
}

/**
 * A fresh CA and a server certificate it signs, in `dir` (ca.pem, cert.pem, key.pem). A CA
 * rather than one self-signed certificate because that is how clients are configured in
 * production: pgBackRest's repo1-storage-ca-file and restic's --cacert name a CA.
 *
 * Names: the alias for clients in the network; localhost and 127.0.0.1 for the host. 127.0.0.1
 * is there twice, as an IP (restic/Go, curl) and as a DNS name, because pgBackRest 2.45 matches
 * the host it connects to only against DNS names and the CN, never IP addresses.
 */
function writeCertificates(dir: string, alias: string): void {
  const subjectAltName = `DNS:${alias},DNS:localhost,IP:127.0.0.1,DNS:127.0.0.1`;
  writeServerCertificates(dir, { ca: "SectorWars test S3 CA", commonName: alias, subjectAltName });
}

/**
 * Starts the server on `network` and waits until it listens. The container is created, given its
 * certificate with `docker cp` (works on any engine, unlike a bind mount of a host path), then
 * started.
 */
export async function startS3Server(options: S3ServerOptions): Promise<S3Server> {
  const engine: EngineOption = { host: options.host };
  const from = options.continues;
  const alias = from?.alias ?? options.alias ?? "s3";
  const bucket = from?.bucket ?? options.bucket ?? "backups";
  const accessKey = from?.accessKey ?? options.accessKey ?? `TEST${randomBytes(8).toString("hex").toUpperCase()}`;
  const secretKey = from?.secretKey ?? options.secretKey ?? randomBytes(20).toString("hex");
  const image = ensureS3ServerImage(engine);
  const container = `swtest-s3-${options.run.id}-${alias}`;

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sw-s3-"));
  const stop = sideServerStop(container, dir, engine);
  try {
    const tls = path.join(dir, "tls");
    if (from) fs.cpSync(from.tlsDir, tls, { recursive: true });
    else {
      fs.mkdirSync(tls);
      writeCertificates(tls, alias);
    }
    docker(
      [
        "create",
        "--name",
        container,
        ...labelArgs(options.run, {}),
        "--network",
        options.network,
        "--network-alias",
        alias,
        ...(options.publish ? ["--publish", `127.0.0.1::${S3_PORT}`] : []),
        image,
        ...["-listen", `:${S3_PORT}`, "-cert", "/tls/cert.pem", "-key", "/tls/key.pem", "-db", "/data/s3.bolt"],
        ...["-bucket", bucket, "-access-key", accessKey, ...(options.verbose ? ["-verbose"] : [])],
      ],
      engine,
    );
    docker(["cp", tls, `${container}:/tls`], engine); // creates /tls; the CA's key goes along, harmlessly
    if (from) {
      docker(["cp", from.dataDir, `${container}:/data`], engine);
      // Handed over once: the copy in the new container is now the repository.
      for (const d of [from.dataDir, from.tlsDir]) fs.rmSync(path.dirname(d), { recursive: true, force: true });
    }
    docker(["start", container], engine);

    // Go's log writes to stderr; the line comes once the port is bound and the certificate loaded.
    const logs = () => run("docker", ["logs", container], engine);
    const ready = () => logs().stderr.includes("s3server: ready");
    const running = () => docker(["inspect", "--format", "{{.State.Running}}", container], engine).trim() === "true";
    await waitUntil(`${container} to listen`, () => ready() || !running(), 30_000).catch(() => undefined);
    if (!ready() || !running()) {
      const { stdout, stderr } = logs();
      throw new Error(`the S3 server ${container} did not start within 30 s:\n${stdout}${stderr}`);
    }

    let hostPort: number | undefined;
    if (options.publish) {
      // "127.0.0.1:49153" (one line per address family; only IPv4 was asked for).
      const mapping =
        docker(["port", container, `${S3_PORT}/tcp`], engine)
          .trim()
          .split("\n")[0] ?? "";
      hostPort = Number(mapping.slice(mapping.lastIndexOf(":") + 1));
      if (!Number.isInteger(hostPort) || hostPort <= 0) throw new Error(`unexpected docker port output: ${mapping}`);
    }

    const caCertPath = path.join(dir, "ca.pem");
    fs.copyFileSync(path.join(tls, "ca.pem"), caCertPath);
    return {
      container,
      alias,
      port: S3_PORT,
      hostPort,
      caCertPem: fs.readFileSync(caCertPath, "utf8"),
      caCertPath,
      accessKey,
      secretKey,
      bucket,
      stop,
      handOver: async () => {
        const out = fs.mkdtempSync(path.join(os.tmpdir(), "sw-s3-handover-"));
        docker(["stop", container], engine); // bolt syncs each write; stopped, the file is whole
        docker(["cp", `${container}:/data`, path.join(out, "data")], engine);
        fs.cpSync(tls, path.join(out, "tls"), { recursive: true });
        await stop();
        return { alias, bucket, accessKey, secretKey, tlsDir: path.join(out, "tls"), dataDir: path.join(out, "data") };
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Joins the server to each network in `names` as soon as Docker creates it (`docker events`),
 * under its alias: the way a stack's database networks, which `pulumi up` creates, get a route
 * to the repository in a test. Resolves once Docker reports the subscription is listening.
 */
export const joinNetworksAsCreated = (
  s3: S3Server,
  names: readonly string[],
  engine: EngineOption = {},
): Promise<{ stop(): void; joined: string[] }> =>
  onNetworksCreated(
    names,
    (name) => docker(["network", "connect", "--alias", s3.alias, name, s3.container], engine),
    engine,
  );
