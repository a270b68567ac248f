/**
 * Swarm mode on a real single-node swarm (scripts/swarm-dockerd.sh: Docker 26 in its own network
 * namespace): the services, secrets, configs and overlay networks the program declares, created
 * with its own settings (test/support/serviceSpec.ts), come up healthy with read-only roots; the
 * edge it generates routes to the nexus and to each region by request-time DNS of task
 * addresses (dnsrr); a start-first update of a region API under a request loop fails no request,
 * and a failing one rolls back by itself;
 * a backup and a restore go through the database's task.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeOn } from "./support/engineSuites";
import { type BackupManifest, MANIFEST_FILE } from "../planning/backup/manifest";
import { waitForTasksCommand } from "../planning/swarm/commands";
import { type TestRun, docker, newTestRun } from "./support/docker";
import { TEST_IMAGES, ensureTestImages } from "./support/images";
import { getAt, probeEchoOf } from "./support/net";
import { waitUntil } from "./support/process";
import { type ProgramRun, ROOT, SERVICE, runProgram } from "./support/pulumi";
import { type ServiceRunAs, healthyTasks, serviceNamed } from "./support/serviceSpec";
import { deploySwarmStack, runDeclaredCommand } from "./support/swarmDeploy";
import { type SwarmNodeEngine, removeSwarmLabelled, testSwarm } from "./support/swarm";
import { REGISTRY_IMAGES, swarmDevConfig } from "./support/swarmConfigs";
import { selfSignedPem } from "./support/tls";

const swarm = testSwarm(1, 1);

const V1 = REGISTRY_IMAGES.gameserver;
const V2 = "registry.example/sectorwars/gameserver:1.1.0";
/** How long the stand-in API refuses connections after it starts, as a game server loading its world. */
const START_DELAY_MS = 3_000;

const get = getAt;
const echoOf = probeEchoOf;

describeOn("swarm1", swarm, "swarm mode on a real single-node swarm", () => {
  const node = (swarm.available ? swarm.nodes[0] : undefined) as SwarmNodeEngine;
  const on = { host: node?.host };
  let t: TestRun;
  let v1: ProgramRun;
  let v2: ProgramRun;
  let as: ServiceRunAs;
  let backupDir: string;
  const port = 8080;

  beforeAll(async () => {
    ensureTestImages(on);
    // Two tags of the probe: a new gameserver version is a new image, as a release would be.
    for (const tag of ["v1", "v2"]) docker(["tag", TEST_IMAGES.probe, `${TEST_IMAGES.probe}:${tag}`], on);
    t = newTestRun("swarm");
    backupDir = fs.mkdtempSync(path.join(os.tmpdir(), "swarm-backups-"));
    const tls = selfSignedPem("localhost");
    const declare = (gameserver: string) =>
      runProgram({
        engine: "1.45",
        stack: "test",
        config: swarmDevConfig(
          [{ name: node.name, cpus: 8, memoryGb: 16, edge: true }],
          {},
          {
            "sectorwars:namePrefix": `sw${t.id}`,
            "sectorwars:images": { ...REGISTRY_IMAGES, gameserver },
            "sectorwars:backup": { dir: backupDir, schedule: "off" },
          },
        ),
        secrets: { "sectorwars:tlsCertificate": tls.certificate, "sectorwars:tlsPrivateKey": tls.key },
      });
    [v1, v2] = [await declare(V1), await declare(V2)];
    const probe = TEST_IMAGES.probe;
    as = {
      images: {
        [V1]: `${probe}:v1`,
        [V2]: `${probe}:v2`,
        [REGISTRY_IMAGES.adminUi]: probe,
        [REGISTRY_IMAGES.playerUi]: probe,
        [REGISTRY_IMAGES.paypal]: probe,
        "postgres:15-alpine": TEST_IMAGES.postgres,
        "redis:7-alpine": TEST_IMAGES.redis,
        "nginx:alpine": TEST_IMAGES.nginx,
      },
      extraLabels: t.labels,
      extraEnv: Object.fromEntries(
        v1
          .ofType(SERVICE)
          .filter((s) => /-api$/.test(s.name))
          .map((s) => [String(s.inputs.name), { PROBE_START_DELAY_MS: String(START_DELAY_MS) }]),
      ),
      engine: on,
    };
  }, 600_000);

  afterAll(async () => {
    if (t && swarm.available) await removeSwarmLabelled(t.runLabel, swarm.nodes);
    if (backupDir) fs.rmSync(backupDir, { recursive: true, force: true });
  }, 300_000);

  const runCommand = (run: ProgramRun, name: string) => runDeclaredCommand(run, name, node.host);

  /**
   * Requests in a loop through the edge to a region (three clients, keep-alive as browsers) while
   * `update` runs and until the service's update has completed and 30 more have succeeded.
   */
  async function underLoad(
    update: () => void,
    service: string,
    until: "completed" | "rollback_completed" | "a failure" = "completed",
  ): Promise<{ ok: number; failures: string[] }> {
    let running = true;
    let ok = 0;
    const failures: string[] = [];
    const client = async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      while (running) {
        try {
          const a = await get(node.address, port, "/api/regions/orion/ships", agent);
          if (a.status === 200 && echoOf(a).region?.id === "orion") ok++;
          else failures.push(`${new Date().toISOString()} ${a.status} ${a.body.slice(0, 100)}`);
        } catch (error) {
          failures.push(`${new Date().toISOString()} ${(error as Error).message}`);
        }
      }
      agent.destroy();
    };
    const clients = [client(), client(), client()];
    try {
      await waitUntil("the load to get going", () => ok > 30, 30_000);
      // An earlier update's status stays until this one starts: wait for a new start, then its end.
      const status = () =>
        docker(
          [
            "service",
            "inspect",
            "--format",
            "{{if .UpdateStatus}}{{.UpdateStatus.StartedAt}} {{.UpdateStatus.State}}{{end}}",
            service,
          ],
          on,
        ).trim();
      const before = status();
      update();
      if (until === "a failure") {
        await waitUntil("a request to fail", () => failures.length > 0, 120_000);
        return { ok, failures };
      }
      await waitUntil(
        `${service}'s update to reach ${until}`,
        () => {
          const now = status();
          return now !== before && now.endsWith(` ${until}`);
        },
        300_000,
      );
      const settled = ok;
      await waitUntil("requests after the update", () => ok > settled + 30, 60_000);
    } finally {
      running = false;
      await Promise.all(clients);
    }
    return { ok, failures };
  }

  it("creates what the program declares and every service comes up healthy, read-only roots included", async () => {
    await deploySwarmStack(v1, as, { manager: node.host, engines: [on], nodeNames: [node.name] });
    await waitUntil(
      "the edge to answer on the node's address",
      async () => (await get(node.address, port, "/healthz")).status === 200,
      120_000,
    );
    const readOnly = docker(["ps", "--filter", `label=${t.runLabel}`, "--format", "{{.ID}}"], on)
      .split("\n")
      .filter(Boolean)
      .map((id) => docker(["inspect", "--format", "{{.Name}} {{.HostConfig.ReadonlyRootfs}}", id], on).trim());
    expect(readOnly.length).toBe(5 + 2 * 6);
    expect(
      readOnly.filter((line) => !line.endsWith(" true")),
      "containers with a writable root",
    ).toEqual([]);
  }, 600_000);

  it("routes through the generated edge to the nexus and each region's tasks (their own DNS, dnsrr)", async () => {
    for (const region of ["default", "orion"]) {
      await waitUntil(
        `/api/regions/${region}/ to answer`,
        async () => (await get(node.address, port, `/api/regions/${region}/ping`)).status === 200,
        60_000,
      );
      const answer = await get(node.address, port, `/api/regions/${region}/ping`);
      expect(echoOf(answer), `region ${region}: ${answer.body}`).toMatchObject({
        role: "region-api",
        region: { id: region },
      });
    }
    const nexus = await get(node.address, port, "/api/nexus/galaxy");
    expect(echoOf(nexus).role, nexus.body).toBe("nexus-api");
    // The region API reads DATABASE_URL and REDIS_URL from its secret files and logs in with them.
    const deep = await get(node.address, port, "/api/regions/orion/health/deep");
    expect(deep.status, deep.body).toBe(200);
    expect(JSON.parse(deep.body), deep.body).toMatchObject({
      checks: { database: { configured: true, ok: true }, redis: { configured: true, ok: true } },
    });
  }, 120_000);

  it("updates a region API start-first under a request loop without failing a request", async () => {
    const before = serviceNamed(v1, "region-orion-api");
    const after = serviceNamed(v2, "region-orion-api");
    const changed = (b: unknown, a: unknown) => JSON.stringify(b) !== JSON.stringify(a);
    // The new version changes the image of the task spec, nothing else of the service.
    expect(changed({ ...before.inputs, taskSpec: null }, { ...after.inputs, taskSpec: null })).toBe(false);
    const spec = (r: typeof before) => r.inputs.taskSpec as { containerSpec: { image: string } };
    expect(
      changed(
        { ...spec(before), containerSpec: { ...spec(before).containerSpec, image: "" } },
        { ...spec(after), containerSpec: { ...spec(after).containerSpec, image: "" } },
      ),
    ).toBe(false);
    const name = String(after.inputs.name);
    const oldTasks = healthyTasks(name, on);

    const load = await underLoad(
      () =>
        // What the provider sends for the changed image: the task spec's image, nothing else.
        docker(["service", "update", "--detach", "--no-resolve-image", "--image", as.images[V2] as string, name], on),
      name,
    );
    const newTasks = healthyTasks(name, on);
    expect(
      newTasks.filter((id) => oldTasks.includes(id)),
      "every task replaced",
    ).toEqual([]);
    expect(
      docker(["service", "inspect", "--format", "{{.Spec.TaskTemplate.ContainerSpec.Image}}", name], on),
    ).toContain(":v2");
    expect(load.failures, `${load.failures.length} of ${load.ok + load.failures.length} requests failed`).toEqual([]);
    expect(load.ok).toBeGreaterThan(60);
  }, 600_000);

  it("rolls a failing update back by itself, failing no request meanwhile", async () => {
    const name = String(serviceNamed(v2, "region-orion-api").inputs.name);
    // A release whose image no node has: its first task fails to start, and Swarm, told to
    // roll back on failure, goes back to the previous spec.
    const load = await underLoad(
      () =>
        docker(
          ["service", "update", "--detach", "--no-resolve-image", "--image", "sectorwars-test/probe:missing", name],
          on,
        ),
      name,
      "rollback_completed",
    );
    expect(
      docker(["service", "inspect", "--format", "{{.Spec.TaskTemplate.ContainerSpec.Image}}", name], on),
    ).toContain(":v2");
    expect(healthyTasks(name, on)).toHaveLength(2);
    expect(load.failures, `${load.failures.length} of ${load.ok + load.failures.length} requests failed`).toEqual([]);
  }, 600_000);

  it("waits for a service's tasks as `pulumi up` does: through an update's monitor time, not at all after a rollback", () => {
    const name = String(serviceNamed(v2, "region-orion-api").inputs.name);
    const spec = (format: string) => docker(["service", "inspect", "--format", format, name], on).trim();
    const files = spec(
      "{{range .Spec.TaskTemplate.ContainerSpec.Configs}}{{.ConfigName}} {{end}}" +
        "{{range .Spec.TaskTemplate.ContainerSpec.Secrets}}{{.SecretName}} {{end}}",
    )
      .split(/\s+/)
      .filter(Boolean);
    const running = spec("{{.Spec.TaskTemplate.ContainerSpec.Image}}");
    /** The program's wait (waitForTasksCommand) for the service's two tasks at `image`, timed. */
    const waitFor = (image: string) => {
      const started = Date.now();
      const script = waitForTasksCommand({ service: name, tasks: 2, image, files }, 120);
      const r = spawnSync("sh", ["-c", script], { env: { ...process.env, DOCKER_HOST: node.host }, encoding: "utf8" });
      return { status: r.status, output: `${r.stdout}${r.stderr}`, seconds: (Date.now() - started) / 1000 };
    };
    // The test before left the update rolled back: a wait for the image swarm refused fails at
    // once, with swarm's reason; one for what the tasks run (a stack reverted) is done at once.
    expect(spec("{{.UpdateStatus.State}}")).toBe("rollback_completed");
    const refused = waitFor("sectorwars-test/probe:missing");
    expect([refused.status, refused.output]).toEqual([
      1,
      expect.stringContaining(`${name}: swarm stopped the update (rollback_completed): `),
    ]);
    expect(refused.seconds, "seconds to tell of the rollback").toBeLessThan(5);
    const reverted = waitFor(running);
    expect([reverted.status, reverted.output]).toEqual([0, ""]);
    expect(reverted.seconds).toBeLessThan(5);
    // An update that keeps image and files: the old tasks match them, yet the wait lasts until
    // swarm has replaced both and watched the last through its monitor time.
    const oldTasks = healthyTasks(name, on);
    docker(["service", "update", "--detach", "--no-resolve-image", "--env-add", "WAIT_TEST=1", name], on);
    const through = waitFor(running);
    expect([through.status, through.output]).toEqual([0, ""]);
    expect(spec("{{.UpdateStatus.State}}"), "the update's state when the wait ended").toBe("completed");
    const newTasks = healthyTasks(name, on);
    expect(
      newTasks.filter((id) => oldTasks.includes(id)),
      "tasks the update had not replaced",
    ).toEqual([]);
    expect(newTasks).toHaveLength(2);
    console.log(`swarm: the wait lasted ${through.seconds.toFixed(1)} s through a two-task start-first update`);
  }, 300_000);

  it("fails requests when the same service runs one task and updates stop-first (the loop can tell)", async () => {
    const name = String(serviceNamed(v1, "region-orion-api").inputs.name);
    docker(["service", "update", "--detach=false", "--quiet", "--replicas", "1", name], on);
    const load = await underLoad(
      () =>
        docker(
          [
            "service",
            "update",
            "--detach",
            "--no-resolve-image",
            "--update-order",
            "stop-first",
            "--image",
            as.images[V1] as string,
            name,
          ],
          on,
        ),
      name,
      "a failure",
    );
    expect(load.failures.length, "requests failed while no task served").toBeGreaterThan(0);
    expect(load.failures.join("\n")).toMatch(/ 50[234] /);
  }, 600_000);

  it("backs up through the tasks and restores a region's database into its task", () => {
    const dbService = String(serviceNamed(v1, "region-orion-db").inputs.name);
    const psql = (sql: string) =>
      docker(
        [
          "exec",
          healthyTasks(dbService, on)[0] as string,
          "psql",
          "-XAtq",
          "-U",
          `region_orion_user`,
          "-d",
          "region_orion",
          "-c",
          sql,
        ],
        on,
      ).trim();
    psql("CREATE TABLE ships (name text); INSERT INTO ships VALUES ('before-backup');");
    runCommand(v1, "backups-run");
    const stackDir = path.join(backupDir, "test");
    const [stamp] = fs.readdirSync(stackDir).filter((d) => /^\d{8}T\d{6}Z$/.test(d));
    const manifest = JSON.parse(
      fs.readFileSync(path.join(stackDir, stamp as string, MANIFEST_FILE), "utf8"),
    ) as BackupManifest;
    expect(manifest.files.map((e) => `${e.role} ${e.regionId ?? ""}`.trim()).sort()).toEqual(
      [
        "nexus-db",
        "nexus-db",
        "redis",
        "region-db default",
        "region-db default",
        "region-db orion",
        "region-db orion",
      ].sort(),
    );
    psql("DELETE FROM ships; INSERT INTO ships VALUES ('after-backup');");
    const restore = spawnSync(
      process.execPath,
      [
        path.join(ROOT, "node_modules/tsx/dist/cli.mjs"),
        path.join(ROOT, "scripts/restore.ts"),
        "--backup",
        path.join(stackDir, stamp as string),
        "--target",
        "region:orion",
        "--stack",
        "test",
        "--force",
      ],
      { env: { ...process.env, DOCKER_HOST: node.host }, encoding: "utf8", timeout: 300_000 },
    );
    expect(restore.status, `${restore.stdout}${restore.stderr}`).toBe(0);
    expect(psql("SELECT name FROM ships")).toBe("before-backup");
  }, 600_000);
});
