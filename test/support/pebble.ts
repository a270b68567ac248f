/**
 * Pebble, Let's Encrypt's test ACME server, as a container for a test: a real ACME client (lego)
 * gets a real certificate for the stack's edge over HTTP-01, with no registry and no internet.
 * The image is TEST_IMAGES.pebble (ensureTestImages builds it); each start gets its own test CA
 * and listener certificate, and Pebble makes a new issuing root and intermediate each time too.
 *
 *   const pebble = await startPebble({ name: `swtest-pebble-${run.id}`, alias: "pebble.test",
 *     httpPort: 80, labels: run.labels });
 *   pebble.connect(edgeNetwork); // where the edge answers for the certificate's host name
 *   // lego: LEGO_CA_CERTIFICATES=<pebble.listenerCaPem in a file> --server pebble.directoryUrl
 *   const roots = pebble.issuingRootsPem(); // what the issued chain ends in, to verify it
 *   await pebble.stop();
 *
 * Pebble looks names up with the container's resolver, Docker's embedded DNS on user-defined
 * networks, and validates HTTP-01 by connecting to the name's address on `httpPort`: joined to a
 * network where the edge has the certificate's host name as an alias, it validates against the
 * edge. The container starts on no network (`--network none`: the engine's default bridge may be
 * missing); connect() and joinNetworksAsCreated() attach it, under its alias, to the test's.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type EngineOption, docker, onNetworksCreated, run, sideServerStop } from "./docker";
import { TEST_IMAGES } from "./images";
import { writeServerCertificates } from "./tls";
import { waitUntil } from "./process";

/** The ACME port (the directory is https://<alias>:14000/dir) and the management port. */
const PEBBLE_ACME_PORT = 14000;
const PEBBLE_MANAGEMENT_PORT = 15000;
/** Where letsencrypt/pebble keeps its config, and the certificates next to it. */
const CONFIG_PATH = "/test/config/pebble-config.json";
/** pebble-challtestsrv's DNS and management ports, inside the container. */
const DNS_PORT = 8053;
const DNS_MANAGEMENT_PORT = 8055;
const CERTS_DIR = "/test/certs";

export interface PebbleOptions {
  engine?: EngineOption;
  /** The container's name; unique per run (put the run's id in it). */
  name: string;
  /** The DNS name ACME clients reach Pebble by in the networks it joins; in its listener certificate. */
  alias: string;
  /**
   * The port Pebble connects to for HTTP-01 validation: the edge's published HTTP port. Pebble
   * resolves every name it validates to the host (pebble-challtestsrv answers its DNS with the
   * gateway of the network it joined last), and reaches the edge through the published port, as
   * a CA on the internet reaches the host.
   */
  httpPort: number;
  /** `--label` values (k=v) for the container: a TestRun's labels, so removeLabelled/reapDeadRuns find it. */
  labels: string[];
}

export interface Pebble {
  /** The container's name, for `docker logs` (Pebble logs every order, authorization and validation). */
  container: string;
  alias: string;
  /** https://<alias>:14000/dir, for clients in a network Pebble joined. */
  directoryUrl: string;
  /** The test CA that signed Pebble's listener certificate (PEM): an ACME client must trust it. */
  listenerCaPem: string;
  /** Pebble's current issuing root (PEM), from its management interface: new at every start of Pebble. */
  issuingRootsPem(): string;
  /** The intermediate that signs the certificates Pebble issues (PEM); lego's bundle has it after the leaf. */
  intermediatePem(): string;
  /** Attaches Pebble to `network` under its alias (leaving the `none` network it started on first). */
  connect(network: string): void;
  /**
   * Attaches Pebble to each network in `names` as soon as Docker creates it (`docker events`), as
   * connect() does: the way a stack's edge network, which `pulumi up` creates, gets a route to
   * Pebble. Resolves once the subscription listens.
   */
  joinNetworksAsCreated(names: readonly string[]): Promise<{ stop(): void; joined: string[] }>;
  /** Removes the container and the host's copies of the certificates. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * A fresh CA (ca.pem, ca.key in `dir`) and the listener certificate it signs, with a copy of the
 * CA, in `certs` (cert.pem, key.pem, ca.pem), for the container: for `alias`, the name clients
 * use, and 127.0.0.1 and localhost, which the readiness check and issuingRootsPem() use inside
 * the container. The CA's key stays in `dir`, on the host.
 */
function writeCertificates(dir: string, certs: string, alias: string): void {
  const subjectAltName = `DNS:${alias},DNS:localhost,IP:127.0.0.1`;
  writeServerCertificates(dir, { ca: "SectorWars test Pebble listener CA", commonName: alias, subjectAltName });
  for (const name of ["cert.pem", "key.pem", "ca.pem"]) fs.copyFileSync(path.join(dir, name), path.join(certs, name));
}

/**
 * Starts Pebble and waits until it answers its directory. Its environment makes every run of a
 * client do the real thing, quickly: PEBBLE_VA_NOSLEEP=1 (no random wait before validating),
 * PEBBLE_WFE_NONCEREJECT=0 (no nonces rejected at random), PEBBLE_AUTHZREUSE=0 (every order
 * validates again, so a renewal really runs HTTP-01).
 */
export async function startPebble(options: PebbleOptions): Promise<Pebble> {
  const engine = options.engine ?? {};
  const { name: container, alias } = options;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sw-pebble-"));
  const stop = sideServerStop(container, dir, engine);
  // GNU wget in the container, trusting the listener's CA: the management interface is not published.
  const fetchInside = (url: string): { status: number; body: string; error: string } => {
    const wget = ["wget", "-q", "-O", "-", `--ca-certificate=${CERTS_DIR}/ca.pem`, url];
    const result = run("docker", ["exec", container, ...wget], { ...engine, timeoutMs: 30_000 });
    return { status: result.status, body: result.stdout, error: result.stderr };
  };
  const management = (what: string): string => {
    const url = `https://127.0.0.1:${PEBBLE_MANAGEMENT_PORT}/${what}`;
    const { status, body, error } = fetchInside(url);
    if (status !== 0 || !body.includes("-----BEGIN CERTIFICATE-----")) {
      throw new Error(`fetching ${url} in ${container} failed (${status}): ${error}${body}`);
    }
    return body;
  };
  const connect = (network: string): void => {
    const networks = docker(
      ["inspect", "--format", "{{range $name, $_ := .NetworkSettings.Networks}}{{$name}}\n{{end}}", container],
      engine,
    ).split("\n");
    // A container on `none` can join no other network until it leaves it.
    if (networks.includes("none")) docker(["network", "disconnect", "none", container], engine);
    docker(["network", "connect", "--alias", alias, network, container], engine);
    const gateway = docker(
      ["network", "inspect", "--format", "{{range .IPAM.Config}}{{.Gateway}}{{end}}", network],
      engine,
    );
    const set = [
      "wget",
      "-q",
      "-O",
      "-",
      `--post-data={"ip":"${gateway.trim()}"}`,
      `http://127.0.0.1:${DNS_MANAGEMENT_PORT}/set-default-ipv4`,
    ];
    docker(["exec", container, ...set], engine);
  };

  try {
    const test = path.join(dir, "test");
    fs.mkdirSync(path.join(test, "config"), { recursive: true });
    fs.mkdirSync(path.join(test, "certs"));
    writeCertificates(dir, path.join(test, "certs"), alias);
    const config = {
      pebble: {
        listenAddress: `0.0.0.0:${PEBBLE_ACME_PORT}`,
        managementListenAddress: `0.0.0.0:${PEBBLE_MANAGEMENT_PORT}`,
        certificate: `${CERTS_DIR}/cert.pem`,
        privateKey: `${CERTS_DIR}/key.pem`,
        httpPort: options.httpPort,
        tlsPort: 443,
        ocspResponderURL: "",
        externalAccountBindingRequired: false,
      },
    };
    fs.writeFileSync(path.join(test, "config", "pebble-config.json"), JSON.stringify(config, null, 2) + "\n");

    docker(
      [
        "create",
        "--name",
        container,
        ...options.labels.flatMap((l) => ["--label", l]),
        "--network",
        "none",
        ...["--env", "PEBBLE_VA_NOSLEEP=1", "--env", "PEBBLE_WFE_NONCEREJECT=0", "--env", "PEBBLE_AUTHZREUSE=0"],
        TEST_IMAGES.pebble,
        "sh",
        "-c",
        // Pebble asks the challenge test server's DNS (no AAAA answers: IPv4 only) for every name it validates.
        `pebble-challtestsrv -management 127.0.0.1:${DNS_MANAGEMENT_PORT} -dns01 127.0.0.1:${DNS_PORT} -http01 "" -https01 "" -tlsalpn01 "" -defaultIPv6 "" & ` +
          `exec pebble -config ${CONFIG_PATH} -dnsserver 127.0.0.1:${DNS_PORT}`,
      ],
      engine,
    );
    docker(["cp", `${test}/.`, `${container}:/test`], engine); // works on any engine, unlike a bind mount
    docker(["start", container], engine);

    const running = () => docker(["inspect", "--format", "{{.State.Running}}", container], engine).trim() === "true";
    const answers = () => fetchInside(`https://127.0.0.1:${PEBBLE_ACME_PORT}/dir`).body.includes('"newOrder"');
    await waitUntil(`${container} to answer its directory`, () => answers() || !running(), 30_000).catch(
      () => undefined,
    );
    if (!running() || !answers()) {
      const { stdout, stderr } = run("docker", ["logs", container], engine);
      throw new Error(`Pebble (${container}) did not answer its directory within 30 s:\n${stdout}${stderr}`);
    }

    return {
      container,
      alias,
      directoryUrl: `https://${alias}:${PEBBLE_ACME_PORT}/dir`,
      listenerCaPem: fs.readFileSync(path.join(dir, "ca.pem"), "utf8"),
      issuingRootsPem: () => management("roots/0"),
      intermediatePem: () => management("intermediates/0"),
      connect,
      joinNetworksAsCreated: (names) => onNetworksCreated(names, connect, engine),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
