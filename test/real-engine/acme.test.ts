/**
 * edge.acme through the real Pulumi engine, on Docker 20.10: the dev stack with its certificate
 * from Pebble (Let's Encrypt's test CA, Debian's pebble) over real HTTP-01 through the edge, as a
 * CA on the internet would validate it (Pebble resolves the public name to the edge, port 80):
 *
 * - the first up serves the self-signed stand-in, then Pebble's certificate, loaded by a reload,
 *   the nginx container never restarted; a preview right after shows no change;
 * - a renewal forced early under HTTPS load: a new certificate served, no request failed;
 * - a failed challenge (nginx cannot read the tokens): the certificate in use keeps serving, the
 *   client reports it (log, health), and the next attempt after the fault is fixed succeeds.
 */
import { X509Certificate } from "node:crypto";
import * as tls from "node:tls";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ACME_PATHS, RENEW_NOW } from "../../planning/edge/acmeClient";
import { docker, ensureDockerd, newTestRun, run as runCommand } from "../support/docker";
import {
  DEV_REGIONS,
  type StackPlace,
  engineStackName,
  newStackPlace,
  reapDeadStacks,
  removeStackVolumes,
  requestLoop,
  stackConfig,
  stackContainers,
  tagReleases,
  testImages,
} from "../support/engineStacks";
import { describeOn } from "../support/engineSuites";
import { TEST_IMAGES, ensureTestImages } from "../support/images";
import { probeEchoOf } from "../support/net";
import { type Pebble, startPebble } from "../support/pebble";
import { waitUntil } from "../support/process";
import { EngineStack, findPulumiEngine } from "../support/pulumiEngine";

const pulumiEngine = findPulumiEngine();
/** The public name: Pebble finds the edge by it, as its alias on the stack's front network. */
const HOSTNAME = "play.sectorwars.test";

/** The certificate the edge serves for HOSTNAME on its published HTTPS port. */
function servedCertificate(port: number): Promise<{ serial: string; issuer: string; pem: string }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port, servername: HOSTNAME, rejectUnauthorized: false }, () => {
      const cert = socket.getPeerCertificate();
      socket.end();
      const pem = `-----BEGIN CERTIFICATE-----\n${cert.raw.toString("base64")}\n-----END CERTIFICATE-----\n`;
      resolve({ serial: cert.serialNumber, issuer: String(cert.issuer.CN), pem });
    });
    socket.setTimeout(10_000, () => socket.destroy(new Error("no TLS handshake within 10 s")));
    socket.on("error", reject);
  });
}

describeOn("pulumi", pulumiEngine, "edge.acme through the real Pulumi engine, with Pebble, on Docker 20.10", () => {
  const engine = {};
  const run = newTestRun("real-engine");
  const stackName = engineStackName(run.id, "acme");
  let place: StackPlace;
  let pebble: Pebble;
  let joined: { stop(): void } | undefined;
  let stack: EngineStack;

  const containerOf = (role: string) => stackContainers(stackName, engine).find((c) => c.role === role);
  const acmeClient = () => String(containerOf("acme")?.name);
  const inClient = (script: string) => docker(["exec", acmeClient(), "sh", "-c", script], engine);
  /** Both streams: the loops report failures on stderr. */
  const logsOf = (container: string) => {
    const logs = runCommand("docker", ["logs", container], engine);
    return logs.stdout + logs.stderr;
  };

  beforeAll(async () => {
    if (!pulumiEngine.available) return;
    await ensureDockerd();
    reapDeadStacks(engine);
    ensureTestImages(engine);
    const releases = tagReleases(engine);
    place = await newStackPlace(run.id);
    // Joins the front network as `pulumi up` creates it: the ACME client finds it there by its
    // alias, and it validates through the edge's published HTTP port, as a CA on the internet would.
    pebble = await startPebble({
      engine,
      name: `${place.namePrefix}_pebble`,
      alias: "pebble.test",
      httpPort: place.httpPort,
      labels: run.labels,
    });
    joined = await pebble.joinNetworksAsCreated([`${place.namePrefix}_front`]);
    const config = stackConfig("dev", place, { gameserver: releases.v1, regions: DEV_REGIONS });
    stack = await EngineStack.create({
      engine: pulumiEngine,
      stackName,
      dockerHost: process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock",
      config: {
        ...config,
        "sectorwars:images": { ...testImages(releases.v1), acme: TEST_IMAGES.lego },
        "sectorwars:edge": {
          ...(config["sectorwars:edge"] as Record<string, unknown>),
          hostname: HOSTNAME,
          acme: {
            email: "ops@sectorwars.test",
            directory: pebble.directoryUrl,
            caCertificate: pebble.listenerCaPem,
            checkInterval: "1h",
          },
        },
      },
    });
  }, 600_000);

  afterAll(async () => {
    joined?.stop();
    // First: a network with a container pulumi did not put there cannot be deleted.
    await pebble?.stop();
    if (stack) {
      await stack.destroy().catch((error: unknown) => console.error(error));
      removeStackVolumes(stackName, engine);
      stack.dispose();
    }
  }, 600_000);

  it("switches from the self-signed stand-in to Pebble's certificate by a reload, nginx never restarted", async () => {
    await stack.up();
    const nginx = containerOf("nginx");
    const started = docker(
      ["inspect", "--format", "{{.State.StartedAt}} {{.RestartCount}}", String(nginx?.name)],
      engine,
    );
    expect(containerOf("acme")?.health).toBe("healthy");

    let served = await servedCertificate(place.httpsPort);
    await waitUntil(
      "Pebble's certificate to be served",
      async () => {
        served = await servedCertificate(place.httpsPort);
        return served.issuer.startsWith("Pebble Intermediate");
      },
      90_000,
    ).catch((error: unknown) => {
      const logs = logsOf(acmeClient());
      throw new Error(`${String(error)}; served: ${served.issuer}\n${logs}`);
    });
    // Signed by Pebble's intermediate, for the public name.
    const leaf = new X509Certificate(served.pem);
    expect(
      leaf.verify(new X509Certificate(pebble.intermediatePem()).publicKey),
      "signed by Pebble's intermediate",
    ).toBe(true);
    expect(leaf.subjectAltName).toContain(`DNS:${HOSTNAME}`);
    // Loaded by the watcher's reload: nginx started before the client had published anything.
    expect(logsOf(String(nginx?.name))).toContain("edge: loaded the new ACME certificate");
    expect(
      docker(["inspect", "--format", "{{.State.StartedAt}} {{.RestartCount}}", String(nginx?.name)], engine),
      "nginx's start time and restarts",
    ).toBe(started);
    expect(pebble.issuingRootsPem()).toContain("BEGIN CERTIFICATE");
    expect(await stack.previewChanges(), "preview after the first up").toEqual([]);
  }, 600_000);

  it("renews early under HTTPS load: a new certificate served, no request failed", async () => {
    const before = await servedCertificate(place.httpsPort);
    const paths = ["/api/nexus/galaxy", ...DEV_REGIONS.map((r) => `/api/regions/${r.id}/ping`)];
    const loop = requestLoop({ host: "127.0.0.1", port: place.httpsPort, tls: true }, paths, (urlPath, answer) => {
      if (answer.status !== 200) return false;
      const echo = probeEchoOf(answer);
      return urlPath.startsWith("/api/nexus/") ? echo.role === "nexus-api" : urlPath.includes(`/${echo.region?.id}/`);
    });
    try {
      await waitUntil("the request loop to get going", () => loop.ok() > 30, 30_000);
      inClient(`touch ${ACME_PATHS.data}/${RENEW_NOW}`);
      await waitUntil(
        "a renewed certificate to be served",
        async () => (await servedCertificate(place.httpsPort)).serial !== before.serial,
        90_000,
      );
      const settled = loop.ok();
      await waitUntil("requests after the renewal", () => loop.ok() > settled + 30, 30_000);
    } finally {
      const { ok, failures } = await loop.stop();
      expect(failures, `${failures.length} of ${ok + failures.length} requests failed`).toEqual([]);
    }
    expect((await servedCertificate(place.httpsPort)).issuer).toMatch(/^Pebble Intermediate/);
  }, 600_000);

  it("keeps serving the certificate in use when a challenge fails, reports it, and recovers at the next attempt", async () => {
    const before = await servedCertificate(place.httpsPort);
    const challenges = `${ACME_PATHS.webroot}/.well-known/acme-challenge`;
    // nginx's workers can no longer read the tokens: Pebble gets 403 for each.
    inClient(`chmod 700 ${challenges} && touch ${ACME_PATHS.data}/${RENEW_NOW}`);
    await waitUntil(
      "the attempt to fail",
      () => /acme: renew for play\.sectorwars\.test failed/.test(logsOf(acmeClient())),
      90_000,
    );
    expect((await servedCertificate(place.httpsPort)).serial, "the certificate served after the failure").toBe(
      before.serial,
    );
    await waitUntil(
      "the client's health check to report the failure",
      () =>
        docker(["inspect", "--format", "{{json .State.Health.Log}}", acmeClient()], engine).includes('"ExitCode":1'),
      90_000,
    );

    inClient(`chmod 755 ${challenges} && touch ${ACME_PATHS.data}/${RENEW_NOW}`);
    await waitUntil(
      "a renewed certificate to be served after the fix",
      async () => (await servedCertificate(place.httpsPort)).serial !== before.serial,
      90_000,
    );
    expect(inClient(`cat ${ACME_PATHS.data}/status`)).toMatch(/^ok /);
  }, 600_000);
});
