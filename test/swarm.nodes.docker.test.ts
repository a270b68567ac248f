/**
 * Swarm mode on three real nodes: three Docker 26 engines, each in a network and UTS namespace
 * of its own on one host bridge, joined into one swarm (scripts/swarm-dockerd.sh --cluster 3).
 * The program's declarations for the dev regions, each region's database pinned to its own node,
 * come up healthy; every database runs on the node its placement names, and its volume is there;
 * an API reaches its database and Redis on other nodes over the overlay (vxlan); the edge on the
 * edge node routes to both regions; the backup finds each database on the node that runs it
 * (one manifest), so does the scheduled backup's service as the program installs it, `npm run
 * restore` (from the stack file alone) restores a region on its node, and `npm run status` finds
 * every task on the node that runs it.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeOn } from "./support/engineSuites";
import { stringify as stringifyYaml } from "yaml";
import { type BackupManifest, MANIFEST_FILE } from "../planning/backup/manifest";
import { type TestRun, docker, newTestRun } from "./support/docker";
import { TEST_IMAGES, ensureTestImages } from "./support/images";
import { sh, waitUntil } from "./support/process";
import { COMMAND, type ProgramRun, runProgram } from "./support/pulumi";
import { main as restoreMain } from "../scripts/restore";
import { runStatus } from "../scripts/status";
import { type ServiceRunAs, healthyTasks, serviceNamed } from "./support/serviceSpec";
import { removeSwarmLabelled, testSwarm } from "./support/swarm";
import { REGISTRY_IMAGES, swarmDevConfig } from "./support/swarmConfigs";
import { deploySwarmStack, runDeclaredCommand } from "./support/swarmDeploy";
import { selfSignedPem } from "./support/tls";

const swarm = testSwarm(3, 3);

function get(host: string, port: number, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: urlPath, agent: false, timeout: 15_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${urlPath}: no answer within 15 s`)));
    req.on("error", reject);
  });
}

describeOn("swarm3", swarm, "swarm mode on three real nodes", () => {
  const nodes = swarm.available ? swarm.nodes : [];
  const [n1, n2, n3] = nodes as [(typeof nodes)[0], (typeof nodes)[0], (typeof nodes)[0]];
  const engines = nodes.map((n) => ({ host: n.host }));
  const port = 8080;
  let t: TestRun;
  let run: ProgramRun;
  let backupDir: string;
  let stackConfig: Record<string, unknown>;

  beforeAll(async () => {
    for (const on of engines) ensureTestImages(on);
    t = newTestRun("swarm-nodes");
    backupDir = fs.mkdtempSync(path.join(os.tmpdir(), "swarm-nodes-backups-"));
    const tls = selfSignedPem("localhost");
    stackConfig = swarmDevConfig(
      [
        { name: n1.name, cpus: 4, memoryGb: 8, edge: true },
        { name: n2.name, cpus: 4, memoryGb: 8, dockerHost: n2.host, labels: { disk: "ssd" } },
        { name: n3.name, cpus: 4, memoryGb: 8, dockerHost: n3.host },
      ],
      {
        homeNode: n1.name,
        placement: { regions: { default: n2.name, orion: n3.name } },
        // One task each: this test is about where things run, not about updates.
        replicas: { "nexus-api": 1, "region-api": 1, "admin-ui": 1, "player-ui": 1, paypal: 1 },
      },
      {
        "sectorwars:namePrefix": `sn${t.id}`,
        // Installed by the test under a root of its own (see the scheduled backup's test).
        "sectorwars:backup": { dir: backupDir, schedule: "daily" },
      },
    );
    run = await runProgram({
      engine: "1.45",
      stack: "test",
      config: stackConfig,
      secrets: { "sectorwars:tlsCertificate": tls.certificate, "sectorwars:tlsPrivateKey": tls.key },
    });
    const as: ServiceRunAs = {
      images: {
        [REGISTRY_IMAGES.gameserver]: TEST_IMAGES.probe,
        [REGISTRY_IMAGES.adminUi]: TEST_IMAGES.probe,
        [REGISTRY_IMAGES.playerUi]: TEST_IMAGES.probe,
        [REGISTRY_IMAGES.paypal]: TEST_IMAGES.probe,
        "postgres:15-alpine": TEST_IMAGES.postgres,
        "redis:7-alpine": TEST_IMAGES.redis,
        "nginx:alpine": TEST_IMAGES.nginx,
      },
      extraLabels: t.labels,
      engine: { host: n1.host },
    };
    await deploySwarmStack(run, as, { manager: n1.host, engines, nodeNames: nodes.map((n) => n.name) });
  }, 900_000);

  afterAll(async () => {
    if (t && swarm.available) await removeSwarmLabelled(t.runLabel, swarm.nodes);
    if (backupDir) fs.rmSync(backupDir, { recursive: true, force: true });
  }, 300_000);

  const serviceName = (name: string) => String(serviceNamed(run, name).inputs.name);

  /** Each file of a backup (but the globals) and the node its container runs on. */
  const nodesOfBackup = (dir: string) => {
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, MANIFEST_FILE), "utf8")) as BackupManifest;
    const containerNode = (container: string) =>
      nodes.find((n) => docker(["ps", "-q", "--filter", `name=${container}`], { host: n.host }).trim() !== "")?.name;
    return Object.fromEntries(
      manifest.files.filter((f) => f.kind !== "pg_globals").map((f) => [f.file, containerNode(f.container)]),
    );
  };
  const EACH_ON_ITS_NODE = () => ({
    "nexus.dump": n1.name,
    "redis.rdb": n1.name,
    "region-default.dump": n2.name,
    "region-orion.dump": n3.name,
  });

  it("runs each database on the node its placement names, with its volume there, and the labels set", () => {
    const where = (name: string) =>
      docker(["service", "ps", "--filter", "desired-state=running", "--format", "{{.Node}}", serviceName(name)], {
        host: n1.host,
      }).trim();
    expect(
      Object.fromEntries(
        ["nexus-db", "redis-server", "region-default-db", "region-orion-db", "edge"].map((s) => [s, where(s)]),
      ),
    ).toEqual({
      "nexus-db": n1.name,
      "redis-server": n1.name,
      "region-default-db": n2.name,
      "region-orion-db": n3.name,
      edge: n1.name,
    });
    const volume = `sn${t.id}_region_orion_db_data`;
    const volumesOn = (host: string) => docker(["volume", "ls", "-q"], { host }).split("\n");
    expect(volumesOn(n3.host), `${volume} on ${n3.name}`).toContain(volume);
    expect(volumesOn(n1.host).concat(volumesOn(n2.host)), `${volume} elsewhere`).not.toContain(volume);
    expect(docker(["node", "inspect", "--format", "{{json .Spec.Labels}}", n2.name], { host: n1.host })).toContain(
      '"disk":"ssd"',
    );
  });

  it("reaches databases and Redis on other nodes over the overlay, through the edge on the edge node", async () => {
    for (const region of ["default", "orion"]) {
      const url = `/api/regions/${region}/health/deep`;
      await waitUntil(
        `${url} through ${n1.address}`,
        async () => (await get(n1.address, port, url)).status === 200,
        60_000,
      );
      const deep = JSON.parse((await get(n1.address, port, url)).body) as Record<string, unknown>;
      expect(deep, region).toMatchObject({
        role: "region-api",
        region: { id: region },
        checks: { database: { configured: true, ok: true }, redis: { configured: true, ok: true } },
      });
    }
  }, 120_000);

  it("backs up each database on its own node into one manifest, and restores a region on its node", async () => {
    const dbTask = () => healthyTasks(serviceName("region-orion-db"), { host: n3.host })[0] as string;
    const psql = (sql: string) =>
      docker(["exec", dbTask(), "psql", "-XAtq", "-U", "region_orion_user", "-d", "region_orion", "-c", sql], {
        host: n3.host,
      }).trim();
    psql("CREATE TABLE ships (name text); INSERT INTO ships VALUES ('before-backup');");
    runDeclaredCommand(run, "backups-run", n1.host);
    const stackDir = path.join(backupDir, "test");
    const [stamp] = fs.readdirSync(stackDir).filter((d) => /^\d{8}T\d{6}Z$/.test(d));
    const dir = path.join(stackDir, stamp as string);
    expect(nodesOfBackup(dir)).toEqual(EACH_ON_ITS_NODE());

    // npm run restore, from the stack file: it reaches the node the region is pinned to.
    psql("DELETE FROM ships; INSERT INTO ships VALUES ('after-backup');");
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "swarm-restore-"));
    const saved = process.env.DOCKER_HOST;
    try {
      fs.writeFileSync(path.join(root, "Pulumi.test.yaml"), stringifyYaml({ config: stackConfig }));
      // The node without a dockerHost is the engine DOCKER_HOST names, as for `pulumi up`.
      process.env.DOCKER_HOST = n1.host;
      const args = ["--backup", dir, "--stack", "test", "--force"];
      expect(await restoreMain([...args, "--target", "region:orion"], root)).toBe(0);
      expect(psql("SELECT name FROM ships")).toBe("before-backup");
      // Redis restarts its container, which a swarm answers with a new task: refused, nothing touched.
      expect(await restoreMain([...args, "--target", "redis"], root)).toBe(1);
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
      fs.rmSync(root, { recursive: true, force: true });
    }
  }, 300_000);

  it("installs the scheduled backup as declared, and the timer's service backs up each database on its node", () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "swarm-schedule-"));
    try {
      // The install writes under SECTORWARS_INSTALL_ROOT and talks to a systemctl that only says yes.
      const bin = path.join(root, "fake-bin");
      fs.mkdirSync(bin);
      fs.mkdirSync(path.join(root, "run/systemd/system"), { recursive: true });
      fs.writeFileSync(path.join(bin, "systemctl"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
      const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, SECTORWARS_INSTALL_ROOT: root };
      const install = run.ofType(COMMAND).find((c) => c.name === "backups-schedule");
      const installed = sh(String(install?.inputs.create), env);
      expect(installed.status, installed.stderr).toBe(0);

      // System units as root, the user's otherwise (planning/backup/schedule.ts).
      const units = path.join(
        root,
        os.userInfo().uid === 0 ? "etc/systemd/system" : path.join(os.homedir(), ".config/systemd/user"),
      );
      const service = fs.readFileSync(path.join(units, "sectorwars-backup-test.service"), "utf8");
      const execStart = /^ExecStart=\/bin\/bash (\S+) (.*)$/m.exec(service);
      expect(execStart?.[1]).toMatch(/\/backup-test\.sh$/);
      // Each node's engine, told to the script itself: no docker wrapper on its PATH.
      expect(execStart?.[2]).toContain(` --node default --node ${n2.host} --node ${n3.host}`);
      const script = path.join(root, (execStart?.[1] as string).replace(/^%h/, os.homedir()));
      const stackDir = path.join(backupDir, "test");
      const before = new Set(fs.readdirSync(stackDir));
      // As the timer starts it: the unit's arguments, DOCKER_HOST the provider's (n1).
      const scheduled = spawnSync("/bin/bash", [script, ...(execStart?.[2] as string).split(" ")], {
        env: { ...process.env, DOCKER_HOST: n1.host },
        encoding: "utf8",
        timeout: 300_000,
      });
      expect(scheduled.status, `${scheduled.stdout}${scheduled.stderr}`).toBe(0);
      const fresh = fs.readdirSync(stackDir).filter((d) => /^\d{8}T\d{6}Z$/.test(d) && !before.has(d));
      expect(fresh).toHaveLength(1);
      expect(nodesOfBackup(path.join(stackDir, fresh[0] as string))).toEqual(EACH_ON_ITS_NODE());
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  }, 300_000);

  it("npm run status asks every node's engine and finds one running task per planned task", async () => {
    // The CLI reads the stack file; the test's config is the one the program ran with.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "swarm-status-"));
    const saved = process.env.DOCKER_HOST;
    try {
      fs.writeFileSync(path.join(dir, "Pulumi.test.yaml"), stringifyYaml({ config: stackConfig }));
      // The node without a dockerHost is the engine DOCKER_HOST names, as for `pulumi up`.
      process.env.DOCKER_HOST = n1.host;
      const result = await runStatus(["--stack", "test", "--json"], { root: dir });
      const report = JSON.parse(result.stdout) as { containers: { name: string; role: string; state: string }[] };
      expect(result.stderr, result.stdout.slice(0, 2000)).toBe("");
      expect(result.status).toBe(0);
      expect(report.containers.map((c) => `${c.role} ${c.state}`).sort()).toEqual(
        ["admin-ui", "nexus-api", "nexus-db", "nginx", "paypal", "player-ui", "redis"]
          .concat(["region-api", "region-api", "region-db", "region-db"])
          .map((role) => `${role} running`)
          .sort(),
      );
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
