/**
 * The edge's reload (planning/edge/plan.ts edgeReloadScript), run as the program runs it: its exact
 * `docker exec -i <nginx> sh -ec '...'` command with its stdin, against nginx in a container
 * started with the program's uploads. A renewed certificate reaches clients without a new
 * container; a certificate whose key does not match is refused by `nginx -t` and the files in
 * force stay, still served.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TestRun, docker, ensureDockerd, newTestRun, reapDeadRuns, removeLabelled } from "./support/docker";
import { containers, uploadOf } from "./support/graph";
import { TEST_IMAGES, ensureTestImages } from "./support/images";
import { labelArgs, upload } from "./support/platformContainers";
import { sh, waitUntil } from "./support/process";
import { selfSignedPem } from "./support/tls";
import { type ProgramRun, type RegisteredResource, readStackFile, runProgram } from "./support/pulumi";

const KIND = "edge-reload";

/** The common name of the certificate the edge serves on 443. */
function servedCommonName(ip: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: ip, port: 443, rejectUnauthorized: false, servername: "localhost" }, () => {
      const subject = socket.getPeerCertificate().subject as { CN?: string } | undefined;
      socket.end();
      resolve(subject?.CN ?? "");
    });
    socket.on("error", reject);
  });
}

/**
 * Until `times` connections in a row see `commonName`: right after a graceful reload the old
 * workers may still answer a connection or two with the previous certificate.
 */
async function steadilyServed(ip: string, commonName: string, times = 5): Promise<void> {
  let streak = 0;
  await waitUntil(
    `${times} connections in a row served ${commonName}`,
    async () => {
      streak = (await servedCommonName(ip)) === commonName ? streak + 1 : 0;
      return streak >= times;
    },
    15_000,
  );
}

const declare = (tlsMaterial: { certificate: string; key: string }) =>
  runProgram({
    config: readStackFile("dev"),
    secrets: { "sectorwars:tlsCertificate": tlsMaterial.certificate, "sectorwars:tlsPrivateKey": tlsMaterial.key },
  });

const edgeOf = (run: ProgramRun) => containers(run).find((c) => c.name === "edge") as RegisteredResource;

describe("the edge reload on a running nginx container", () => {
  let t: TestRun;
  let dir: string;
  let name: string;
  let ip: string;
  let first: ProgramRun;

  /** The program's reload command, aimed at the test's container; its exit status and stderr. */
  const reload = (run: ProgramRun) => {
    const command = run.byName("edge-reload");
    const text = String(command.inputs.create).replace(` ${String(edgeOf(run).inputs.name)} `, ` ${name} `);
    return sh(text, process.env, String(command.inputs.stdin));
  };

  beforeAll(async () => {
    await ensureDockerd();
    ensureTestImages();
    reapDeadRuns(KIND);
    t = newTestRun(KIND);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "edge-reload-"));
    first = await declare(selfSignedPem("first.example"));
    name = `${t.id}-edge`;
    docker(["network", "create", ...labelArgs(t, {}), `${t.id}-front`]);
    docker(["create", "--name", name, ...labelArgs(t, {}), "--network", `${t.id}-front`, TEST_IMAGES.nginx]);
    for (const file of ["/etc/nginx/nginx.conf", "/etc/nginx/tls/server.crt", "/etc/nginx/tls/server.key"]) {
      upload(dir, name, file, uploadOf(edgeOf(first), file));
    }
    docker(["start", name]);
    ip = docker([
      "inspect",
      "--format",
      `{{(index .NetworkSettings.Networks "${t.id}-front").IPAddress}}`,
      name,
    ]).trim();
    await waitUntil("nginx to serve HTTPS", async () => (await servedCommonName(ip)) === "first.example", 30_000);
  }, 600_000);

  afterAll(() => {
    if (t) removeLabelled(t.runLabel);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("serves a renewed certificate after the reload, in the same container", async () => {
    const id = docker(["inspect", "--format", "{{.Id}}", name]).trim();
    const renewed = await declare(selfSignedPem("renewed.example"));
    const result = reload(renewed);
    expect(result.status, result.stderr).toBe(0);
    await steadilyServed(ip, "renewed.example");
    expect(docker(["inspect", "--format", "{{.Id}}", name]).trim(), "the same container").toBe(id);
  });

  it("refuses a certificate whose key does not match, and keeps serving the one in force", async () => {
    const current = await declare(selfSignedPem("current.example"));
    expect(reload(current).status).toBe(0);
    await steadilyServed(ip, "current.example");
    const mismatched = { certificate: selfSignedPem("bad.example").certificate, key: selfSignedPem("other").key };
    const result = reload(await declare(mismatched));
    expect(result.status, "the reload must fail").not.toBe(0);
    expect(result.stderr).toMatch(/nginx rejected the new config or certificate; the previous ones stay in force/);
    for (let i = 0; i < 5; i++) expect(await servedCommonName(ip), `connection ${i}`).toBe("current.example");
    // The files in force are the previous ones: a later plain reload keeps serving them.
    expect(docker(["exec", name, "nginx", "-t", "-q"]).trim()).toBe("");
  });
});
