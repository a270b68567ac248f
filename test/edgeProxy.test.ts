/**
 * The EdgeProxy component under mocks: ports, TLS material, and the reload path that keeps the
 * nginx container in place when regions change.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashDirectory } from "../components/config/contentHash";
import { renderNginxConf } from "../planning/edge/nginx";
import { edgeNginxSettings } from "../planning/edge/plan";
import { parseConfig } from "../planning/config";
import { staticFillCommand } from "../planning/edge/staticFill";
import { planStack } from "../planning/stack/topology";
import { PROD_SECRETS, devConfigWith, generatedRegions, rawOf } from "./support/configs";
import { containerNamed, containers, portsOf, stableName, uploadOf } from "./support/graph";
import {
  COMMAND,
  type ProgramRun,
  type RegisteredResource,
  isSecretValue,
  readStackFile,
  runProgram,
} from "./support/pulumi";

const NGINX = "sectorwars-dev_nginx";

const devEdge = (): Record<string, unknown> => readStackFile("dev")["sectorwars:edge"] as Record<string, unknown>;

function reloadCommand(run: ProgramRun): RegisteredResource {
  return run.byName("edge-reload");
}

/** The nginx container's inputs as the engine compares them: its uploads are ignoreChanges. */
function comparedInputs(container: RegisteredResource): Record<string, unknown> {
  return { ...container.inputs, uploads: undefined };
}

/** The reload command's stdin: nginx.conf, certificate and key, each base64 on its own line. */
function reloadFiles(reload: RegisteredResource): { conf: string; certificate: string; key: string } {
  const [conf = "", certificate = "", key = ""] = String(reload.inputs.stdin)
    .trimEnd()
    .split("\n")
    .map((line) => Buffer.from(line, "base64").toString("utf8"));
  return { conf, certificate, key };
}

describe("EdgeProxy", () => {
  let run: ProgramRun;
  beforeAll(async () => {
    run = await runProgram({ config: readStackFile("dev"), stack: "test" });
  });

  it("publishes HTTP and HTTPS on the configured host ports", () => {
    expect(portsOf(containerNamed(run, NGINX)).map((p) => [p.internal, p.external])).toEqual([
      [80, 8080],
      [443, 8443],
    ]);
  });

  it("starts nginx with the config generated from the stack's regions", () => {
    const config = parseConfig(rawOf(readStackFile("dev")), { presentSecrets: new Set() });
    const expected = renderNginxConf(edgeNginxSettings(planStack(config, "test")));
    expect(uploadOf(containerNamed(run, NGINX), "/etc/nginx/nginx.conf")).toBe(expected);
  });

  it("serves a self-signed certificate in dev, with the key only as a secret", () => {
    const nginx = containerNamed(run, NGINX);
    expect(uploadOf(nginx, "/etc/nginx/tls/server.crt")).toMatch(/^-----BEGIN CERTIFICATE-----/);
    const keyUpload = (nginx.rawInputs.uploads as Record<string, unknown>[]).find(
      (u) => u.file === "/etc/nginx/tls/server.key",
    );
    expect(isSecretValue(keyUpload?.content), "the private key upload is a secret").toBe(true);
    const cert = run.byName("edge-tls-cert");
    expect(cert.inputs.dnsNames).toEqual(["localhost"]);
  });

  it("keeps later config and certificate changes off the container and hands them to the reload command", () => {
    const nginx = containerNamed(run, NGINX);
    expect(nginx.ignoreChanges).toEqual(["uploads"]);
    const reload = reloadCommand(run);
    expect(reloadFiles(reload)).toEqual({
      conf: uploadOf(nginx, "/etc/nginx/nginx.conf"),
      certificate: uploadOf(nginx, "/etc/nginx/tls/server.crt"),
      key: uploadOf(nginx, "/etc/nginx/tls/server.key"),
    });
    expect(isSecretValue(reload.rawInputs.stdin), "the stdin carries the private key: a secret").toBe(true);
    expect(String(reload.inputs.create)).toMatch(/^docker exec -i sectorwars-dev_nginx sh -ec '.*nginx -t .*'$/s);
    expect(String(reload.inputs.create)).toContain("nginx -s reload");
    const [confHash, tlsHash, containerId] = reload.inputs.triggers as string[];
    expect([confHash, containerId]).toEqual([run.outputs.edgeConfigHash, "edge-id"]);
    expect(tlsHash).toMatch(/^[0-9a-f]{64}$/);
    expect(isSecretValue((reload.rawInputs.triggers as unknown[])[1]), "the TLS hash stays secret in state").toBe(true);
    expect(reload.dependencies).toContain(nginx.urn);
  });

  it("hands a new certificate to the reload command, not to a new container", async () => {
    const withCert = (n: number) =>
      runProgram({
        config: readStackFile("dev"),
        secrets: {
          "sectorwars:tlsCertificate": `-----BEGIN CERTIFICATE-----\nCert${n}\n-----END CERTIFICATE-----\n`,
          "sectorwars:tlsPrivateKey": `-----BEGIN PRIVATE KEY-----\nKey${n}\n-----END PRIVATE KEY-----\n`,
        },
        stack: "test",
      });
    const [before, after] = [await withCert(1), await withCert(2)];
    expect(comparedInputs(containerNamed(after, NGINX))).toEqual(comparedInputs(containerNamed(before, NGINX)));
    expect(reloadFiles(reloadCommand(after)).certificate).toContain("Cert2");
    expect(reloadFiles(reloadCommand(after)).key).toContain("Key2");
    expect(reloadCommand(after).inputs.triggers).not.toEqual(reloadCommand(before).inputs.triggers);
  });

  it("reloads after every container behind the edge, so a swapped one is known before its predecessor goes", () => {
    const reload = reloadCommand(run);
    const stateless = containers(run).filter((c) => !c.deleteBeforeReplace);
    expect(stateless.map((c) => stableName(c)).sort()).toEqual(
      ["admin", "nexus", "paypal", "player", "region_default", "region_orion"].map((n) => `sectorwars-dev_${n}`),
    );
    for (const c of stateless) expect(reload.dependencies, stableName(c)).toContain(c.urn);
    for (const c of containers(run).filter((c) => c.deleteBeforeReplace && c.name !== "edge")) {
      expect(reload.dependencies, `${stableName(c)} (not behind the edge)`).not.toContain(c.urn);
    }
  });

  it("with pools, reloads a config whose pools name each backend's current container", async () => {
    const pooled = await runProgram({
      config: { ...readStackFile("dev"), "sectorwars:edge": { ...devEdge(), upstreamKeepalive: 8 } },
      stack: "test",
    });
    const conf = reloadFiles(reloadCommand(pooled)).conf;
    const backends = ["nexus", "region_default", "region_orion", "admin", "player", "paypal"];
    for (const backend of backends) {
      const name = String(containerNamed(pooled, `sectorwars-dev_${backend}`).inputs.name);
      // The Docker name carries the generation's fingerprint; the shared alias is the backup.
      expect(name, backend).toMatch(/-[0-9a-f]{8}$/);
      expect(conf, backend).toMatch(new RegExp(`^ *server ${name}:\\d+ resolve max_fails=0;$`, "m"));
    }
    expect(conf.match(/ resolve backup max_fails=0;/g)).toHaveLength(backends.length);
    // The container starts with pools on the shared names; the reload right after installs these.
    expect(uploadOf(containerNamed(pooled, NGINX), "/etc/nginx/nginx.conf")).not.toContain(" backup ");
  });

  it("points the reload command's docker CLI at the provider's Docker host", async () => {
    const remote = await runProgram({
      config: { ...readStackFile("dev"), "docker:host": "ssh://ops@game-host" },
      stack: "test",
    });
    expect(reloadCommand(remote).inputs.environment).toEqual({ DOCKER_HOST: "ssh://ops@game-host" });
    expect(reloadCommand(run).inputs.environment ?? {}).toEqual({});
  });

  it("does not replace nginx when a region is added: only the reload command reruns", async () => {
    const two = await runProgram({ config: devConfigWith(generatedRegions(2)), stack: "test" });
    const three = await runProgram({ config: devConfigWith(generatedRegions(3)), stack: "test" });
    expect(comparedInputs(containerNamed(three, NGINX))).toEqual(comparedInputs(containerNamed(two, NGINX)));
    expect(reloadCommand(three).inputs.triggers).not.toEqual(reloadCommand(two).inputs.triggers);
    expect(reloadFiles(reloadCommand(three)).conf).toContain("sector-002");
  });

  it("redirects plain HTTP to the public HTTPS URL in prod by default, not in dev unless asked", async () => {
    const confOf = (r: ProgramRun, name: string) => uploadOf(containerNamed(r, name), "/etc/nginx/nginx.conf");
    const prod = await runProgram({ config: readStackFile("prod"), secrets: PROD_SECRETS, stack: "test" });
    expect(confOf(prod, "sectorwars_nginx")).toContain("return 301 https://play.sectorwars.example$request_uri;");
    expect(confOf(run, NGINX)).not.toContain("return 301");
    const devOn = await runProgram({
      config: { ...readStackFile("dev"), "sectorwars:edge": { ...devEdge(), httpsRedirect: true } },
      stack: "test",
    });
    // dev publishes HTTPS on 8443: the Location says so.
    expect(confOf(devOn, NGINX)).toContain("return 301 https://localhost:8443$request_uri;");
    expect(confOf(devOn, NGINX)).toContain("root /var/www/html/static;");
  });

  it("declares exactly one reload command", () => {
    expect(
      run
        .ofType(COMMAND)
        .filter((c) => c.name.startsWith("edge"))
        .map((c) => c.name),
    ).toEqual(["edge-reload"]);
  });
});

describe("EdgeProxy: filling the static volume (edge.staticFrom)", () => {
  const PLAYER = "sectorwars-dev_player";
  const withStatic = (staticFrom: unknown, extra: Record<string, unknown> = {}) =>
    runProgram({
      config: { ...readStackFile("dev"), "sectorwars:edge": { ...devEdge(), staticFrom }, ...extra },
      stack: "test",
    });
  const fillOf = (r: ProgramRun) => r.byName("edge-static-fill");
  let build: string;
  beforeAll(() => {
    build = fs.mkdtempSync(path.join(os.tmpdir(), "sw-static-build-"));
    fs.mkdirSync(path.join(build, "js"));
    fs.writeFileSync(path.join(build, "js", "main.1a2b3c.js"), "console.log(1)\n");
  });
  afterAll(() => fs.rmSync(build, { recursive: true, force: true }));

  it("declares no fill unless the stack asks for one", async () => {
    const run = await runProgram({ config: readStackFile("dev"), stack: "test" });
    expect(run.ofType(COMMAND).map((c) => c.name)).not.toContain("edge-static-fill");
    expect(containerNamed(run, PLAYER).dependencies.filter((d) => d.includes("Command"))).toEqual([]);
  });

  it("copies a directory of the player UI image into the volume, again whenever the image changes", async () => {
    const run = await withStatic({ playerUiPath: "/app/build/static" }, { "docker:host": "ssh://ops@game-host" });
    const fill = fillOf(run);
    expect(fill.inputs.create).toBe(staticFillCommand({ kind: "playerUiImage", path: "/app/build/static" }));
    const playerImage = containerNamed(run, PLAYER).inputs.image;
    expect(fill.inputs.environment).toEqual({
      DOCKER_HOST: "ssh://ops@game-host",
      STATIC_VOLUME: "sectorwars-dev_static",
      // nginx's image writes: the container that mounts the volume read-only runs it.
      STATIC_HELPER_IMAGE: containerNamed(run, NGINX).inputs.image,
      STATIC_SOURCE_IMAGE: playerImage,
      STATIC_SOURCE_PATH: "/app/build/static",
    });
    expect(fill.inputs.triggers).toEqual([playerImage]);
    // A new player UI container starts once its bundles are in the volume.
    expect(containerNamed(run, PLAYER).dependencies).toContain(fill.urn);
  });

  it("copies a local directory, again exactly when one of its files changes", async () => {
    const before = await withStatic({ directory: build });
    const fill = fillOf(before);
    expect(fill.inputs.create).toBe(staticFillCommand({ kind: "directory", directory: build }));
    expect(fill.inputs.environment).toMatchObject({ STATIC_VOLUME: "sectorwars-dev_static", STATIC_SOURCE_DIR: build });
    expect(fill.inputs.triggers).toEqual([hashDirectory(build)]);
    expect((await withStatic({ directory: build })).byName("edge-static-fill").inputs).toEqual(fill.inputs);
    fs.writeFileSync(path.join(build, "js", "main.4d5e6f.js"), "console.log(2)\n");
    const after = fillOf(await withStatic({ directory: build }));
    expect(after.inputs.triggers).not.toEqual(fill.inputs.triggers);
    expect({ ...after.inputs, triggers: [] }).toEqual({ ...fill.inputs, triggers: [] });
  });

  it("takes a relative directory from the project directory", async () => {
    const run = await withStatic({ directory: "probe" });
    expect(fillOf(run).inputs.environment).toMatchObject({ STATIC_SOURCE_DIR: path.resolve("probe") });
  });

  it("refuses a directory that is not there before declaring anything", async () => {
    await expect(withStatic({ directory: "no/such/build" })).rejects.toThrow(
      'sectorwars:edge.staticFrom.directory: "no/such/build" is not a directory (relative paths start at the project directory)',
    );
  });
});
