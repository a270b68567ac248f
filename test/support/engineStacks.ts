/**
 * What the real-engine tests deploy and observe: stack configs made from the repository's stack
 * files with the locally built test images and small sizes, release images of the stand-in game
 * server, a request loop through the edge, and what Docker says about a stack's containers.
 */
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import { LABEL_REGION, LABEL_ROLE, LABEL_STACK } from "../../planning/roles";
import { type EngineOption, docker, run } from "./docker";
import { TEST_IMAGES } from "./images";
import { type Answer, browserGetAt, probeEchoOf, publishablePorts } from "./net";
import { POSTGRES_PASSWORD_FILE } from "../../planning/stack/postgres";
import { readStackFile } from "./pulumi";
import { alive } from "./process";

/** How long release v2 of the stand-in game server waits before it listens, as one loading its world. */
export const V2_START_DELAY_MS = 8_000;

/** The stand-in game server as two releases: v2 is a new image id that starts late. */
export interface Releases {
  v1: string;
  v2: string;
}

/** Tags the probe as release v1 and builds v2 from it (a new image id, PROBE_START_DELAY_MS set). */
export function tagReleases(engine: EngineOption): Releases {
  const v1 = `${TEST_IMAGES.probe}:v1`;
  const v2 = `${TEST_IMAGES.probe}:v2`;
  docker(["tag", TEST_IMAGES.probe, v1], engine);
  const container = docker(["create", TEST_IMAGES.probe], engine).trim();
  try {
    docker(["commit", "--change", `ENV PROBE_START_DELAY_MS=${V2_START_DELAY_MS}`, container, v2], engine);
  } finally {
    docker(["rm", container], engine);
  }
  return { v1, v2 };
}

/** Every image a test stack names: locally built, so nothing is pulled. */
export function testImages(gameserver: string, nginx: string = TEST_IMAGES.nginx): Record<string, string> {
  return {
    gameserver,
    adminUi: `${TEST_IMAGES.probe}:v1`,
    playerUi: `${TEST_IMAGES.probe}:v1`,
    paypal: `${TEST_IMAGES.probe}:v1`,
    postgres: TEST_IMAGES.postgres,
    redis: TEST_IMAGES.redis,
    nginx,
    // Resolved only by a stack that monitors (prod, or monitoring.enabled).
    prometheus: TEST_IMAGES.prometheus,
    alertmanager: TEST_IMAGES.alertmanager,
    blackbox: TEST_IMAGES.blackbox,
    postgresExporter: TEST_IMAGES.postgresExporter,
    redisExporter: TEST_IMAGES.redisExporter,
    nodeExporter: TEST_IMAGES.nodeExporter,
    edgeLogExporter: TEST_IMAGES.edgeLogExporter,
    containerExporter: TEST_IMAGES.containerExporter,
  };
}

/** A region as the stack config lists it. */
export interface ConfigRegion {
  id: string;
  name: string;
  type: "default" | "player_owned";
  slot: number;
  state?: "active" | "retired";
}

export const DEV_REGIONS: ConfigRegion[] = [
  { id: "default", name: "Default Galaxy", type: "default", slot: 1 },
  { id: "orion", name: "Orion Reach", type: "player_owned", slot: 2 },
];

/** Each database of the dev stack: its role, region, pgBackRest stanza, user and database. */
export const DEV_DATABASES = [
  ["nexus-db", undefined, "nexus", "nexus_user", "nexus_db"],
  ...DEV_REGIONS.map((r) => ["region-db", r.id, `region-${r.id}`, `region_${r.id}_user`, `region_${r.id}`] as const),
] as const;

/** The types of a stanza's base backups in the repository, oldest first, as `pgbackrest info` lists them. */
export function backupTypesOf(container: string, stanza: string, engine: EngineOption): string[] {
  const info = docker(
    ["exec", "-u", "postgres", container, "pgbackrest", `--stanza=${stanza}`, "info", "--output=json"],
    engine,
  );
  return ((JSON.parse(info) as { backup: { type: string }[] }[])[0]?.backup ?? []).map((b) => b.type);
}

/** Where a test stack listens and keeps its backups, apart from any other stack on the machine. */
export interface StackPlace {
  namePrefix: string;
  httpPort: number;
  httpsPort: number;
  backupDir: string;
}

export async function newStackPlace(id: string): Promise<StackPlace> {
  const [httpPort = 0, httpsPort = 0] = await publishablePorts(2);
  return {
    namePrefix: `et${id}`,
    httpPort,
    httpsPort,
    backupDir: fs.mkdtempSync(path.join(os.tmpdir(), "sectorwars-engine-backups-")),
  };
}

/**
 * A stack file's config (dev or prod) at `place`, with the test images; prod's host and region
 * list stay, its sizes too (limits, not reservations of this machine's memory).
 */
export function stackConfig(
  file: "dev" | "prod",
  place: StackPlace,
  extra: { gameserver: string; regions?: ConfigRegion[]; nginx?: string } & Record<string, unknown>,
): Record<string, unknown> {
  const { gameserver, regions, nginx, ...rest } = extra;
  const base = readStackFile(file);
  return {
    ...base,
    "sectorwars:namePrefix": place.namePrefix,
    "sectorwars:edge": {
      ...(base["sectorwars:edge"] as Record<string, unknown>),
      hostname: "localhost",
      httpPort: place.httpPort,
      httpsPort: place.httpsPort,
    },
    "sectorwars:images": testImages(gameserver, nginx),
    "sectorwars:backup": { dir: place.backupDir, schedule: "off" },
    ...(regions ? { "sectorwars:regions": regions } : {}),
    ...rest,
  };
}

const PID_IN_STACK = /^et(\d+)-[0-9a-f]+-/;

/** A stack name that carries this process's id, so that a later run can tell it died (reapDeadStacks). */
export const engineStackName = (id: string, kind: string): string => `et${process.pid}-${id}-${kind}`;

/**
 * Removes a stack's data volumes from `engine`: `pulumi destroy` keeps them by design, a test
 * removes its own. First it removes, by force, any container of the stack still there: in swarm
 * mode, destroy returns once the services are gone, and their tasks' containers stop after it
 * (an archiving database's within its 60 s grace, longer when the repository is already gone).
 */
export function removeStackVolumes(stackName: string, engine: EngineOption): void {
  const containers = stackContainers(stackName, engine).map((c) => c.id);
  // Never throws: a container swarm removes meanwhile is "no such container", as wanted.
  if (containers.length > 0) run("docker", ["rm", "-f", ...containers], engine);
  const volumes = docker(["volume", "ls", "-q", "--filter", `label=${LABEL_STACK}=${stackName}`], engine)
    .split("\n")
    .filter(Boolean);
  if (volumes.length > 0) docker(["volume", "rm", "-f", ...volumes], engine);
}

/**
 * Removes what real-engine stacks of dead test processes left on `engine`: services, containers,
 * then networks, secrets, configs and volumes, by their stack label.
 */
export function reapDeadStacks(engine: EngineOption, swarm = false): void {
  const dead = (lines: string): string[] =>
    lines
      .split("\n")
      .filter(Boolean)
      .map((line) => line.split(" ") as [string, string])
      .filter(([, stack]) => {
        const pid = PID_IN_STACK.exec(stack ?? "")?.[1];
        return pid !== undefined && !alive(Number(pid));
      })
      .map(([id]) => id);
  const labelled = (args: string[]): string[] => {
    const filter = ["--filter", `label=${LABEL_STACK}`];
    if (args[0] !== "service")
      return dead(docker([...args, ...filter, "--format", `{{.ID}} {{.Label "${LABEL_STACK}"}}`], engine));
    // `service ls` formats no labels: its ids, then their labels from inspect.
    const ids = docker([...args, ...filter, "-q"], engine)
      .split("\n")
      .filter(Boolean);
    if (ids.length === 0) return [];
    return dead(
      docker(["service", "inspect", "--format", `{{.ID}} {{index .Spec.Labels "${LABEL_STACK}"}}`, ...ids], engine),
    );
  };
  const remove = (list: string[], rm: string[]) => {
    const ids = labelled(list);
    if (ids.length > 0) docker([...rm, ...ids], engine);
  };
  if (swarm) remove(["service", "ls"], ["service", "rm"]);
  remove(["ps", "-a"], ["rm", "-f", "-v"]);
  remove(["network", "ls"], ["network", "rm"]);
  if (swarm) {
    remove(["secret", "ls"], ["secret", "rm"]);
    remove(["config", "ls"], ["config", "rm"]);
  }
  const volumes = docker(
    ["volume", "ls", "--filter", `label=${LABEL_STACK}`, "--format", `{{.Name}} {{.Label "${LABEL_STACK}"}}`],
    engine,
  )
    .split("\n")
    .filter(Boolean)
    .map((line) => line.split(" ") as [string, string])
    .filter(([, stack]) => {
      const pid = PID_IN_STACK.exec(stack ?? "")?.[1];
      return pid !== undefined && !alive(Number(pid));
    })
    .map(([name]) => name);
  if (volumes.length > 0) docker(["volume", "rm", "-f", ...volumes], engine);
}

/** A running container of a stack as Docker reports it. */
export interface StackContainer {
  id: string;
  name: string;
  role: string;
  region: string;
  state: string;
  health: string;
  startedAt: string;
}

/** The containers (or swarm tasks' containers) of `stack` on one engine. */
export function stackContainers(stack: string, engine: EngineOption): StackContainer[] {
  const ids = docker(["ps", "-aq", "--filter", `label=${LABEL_STACK}=${stack}`], engine)
    .split("\n")
    .filter(Boolean);
  if (ids.length === 0) return [];
  // A task's container that never started has no health state: `index` answers nothing for the
  // missing key where `.State.Health` fails the whole inspect.
  const format =
    `{{.Id}}\t{{.Name}}\t{{index .Config.Labels "${LABEL_ROLE}"}}\t{{index .Config.Labels "${LABEL_REGION}"}}\t` +
    `{{.State.Status}}\t{{with index .State "Health"}}{{.Status}}{{else}}none{{end}}\t{{.State.StartedAt}}`;
  return docker(["inspect", "--format", format, ...ids], engine)
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [id = "", name = "", role = "", region = "", state = "", health = "", startedAt = ""] = line.split("\t");
      // A label the container lacks prints as "<no value>".
      const label = (value: string) => (value === "<no value>" ? "" : value);
      return { id, name: name.replace(/^\//, ""), role: label(role), region: label(region), state, health, startedAt };
    });
}

const DATA_ROLES = new Set(["nexus-db", "region-db", "redis"]);

/**
 * Each running database and Redis container of `stack`, as `role[/region] → id@startedAt`: a
 * container that was replaced or restarted shows a new value.
 */
export function dataIdentities(stack: string, engines: readonly EngineOption[]): Record<string, string> {
  return Object.fromEntries(
    engines
      .flatMap((engine) => stackContainers(stack, engine))
      .filter((c) => DATA_ROLES.has(c.role) && c.state === "running")
      .map((c) => [`${c.role}${c.region ? `/${c.region}` : ""}`, `${c.id.slice(0, 12)}@${c.startedAt}`]),
  );
}

/** Requests in a loop through the edge, as players would, until stopped. */
export interface RequestLoop {
  /** Successful requests so far. */
  ok(): number;
  /** Stops the clients and tells what happened. */
  stop(): Promise<{ ok: number; failures: string[] }>;
}

/**
 * Three clients with kept-alive connections GET `paths` in turn from host:port (over HTTPS with
 * `tls`), as browsers do (browserGetAt); a request counts as good only when `check` accepts its answer (status and
 * body: who answered).
 */
export function requestLoop(
  target: { host: string; port: number; tls?: boolean },
  paths: readonly string[],
  check: (path: string, answer: Answer) => boolean,
): RequestLoop {
  let running = true;
  let ok = 0;
  const failures: string[] = [];
  const client = async (offset: number) => {
    const options = { keepAlive: true, maxSockets: 1 };
    const agent = target.tls ? new https.Agent(options) : new http.Agent(options);
    for (let i = offset; running; i++) {
      const urlPath = paths[i % paths.length] as string;
      try {
        const answer = await browserGetAt(target.host, target.port, urlPath, agent, target.tls);
        if (check(urlPath, answer)) ok++;
        else failures.push(`${new Date().toISOString()} ${urlPath} ${answer.status} ${answer.body.slice(0, 120)}`);
      } catch (error) {
        failures.push(`${new Date().toISOString()} ${urlPath} ${(error as Error).message}`);
      }
    }
    agent.destroy();
  };
  const clients = [client(0), client(1), client(2)];
  return {
    ok: () => ok,
    stop: async () => {
      running = false;
      await Promise.all(clients);
      return { ok, failures };
    },
  };
}

/**
 * What a deployed stack must do for its players, as problems (none when it does): every
 * container running and healthy; the nexus and each active region answering through the edge
 * with their own role and id, their /health/deep logged in to database and Redis; an unknown
 * region a 404; each database accepting a login over TCP with the password the program made.
 */
export async function servingProblems(c: {
  stack: string;
  /** A GET through the edge (plain HTTP, or HTTPS where plain HTTP redirects). */
  get: (urlPath: string) => Promise<Answer>;
  engines: readonly EngineOption[];
  regions: readonly string[];
}): Promise<string[]> {
  const problems: string[] = [];
  const { get } = c;
  const containers = c.engines.flatMap((engine) => stackContainers(c.stack, engine).map((ct) => ({ ...ct, engine })));
  for (const ct of containers.filter((x) => x.state !== "running" || x.health !== "healthy")) {
    problems.push(`${ct.name}: ${ct.state}, ${ct.health}`);
  }
  for (const id of c.regions) {
    const answer = await get(`/api/regions/${id}/ping`);
    const echo = answer.status === 200 ? probeEchoOf(answer) : {};
    if (echo.role !== "region-api" || echo.region?.id !== id)
      problems.push(`region ${id} answered ${answer.status} ${answer.body}`);
    const deep = await get(`/api/regions/${id}/health/deep`);
    if (deep.status !== 200) problems.push(`region ${id} /health/deep: ${deep.status} ${deep.body}`);
  }
  const nexus = await get("/api/nexus/galaxy");
  if (nexus.status !== 200 || probeEchoOf(nexus).role !== "nexus-api")
    problems.push(`nexus: ${nexus.status} ${nexus.body}`);
  const unknown = await get("/api/regions/nowhere/ping");
  if (unknown.status !== 404) problems.push(`an unknown region answered ${unknown.status}`);
  for (const db of containers.filter((x) => x.role === "nexus-db" || x.role === "region-db")) {
    const user = db.role === "nexus-db" ? "nexus_user" : `region_${db.region}_user`;
    const database = db.role === "nexus-db" ? "nexus_db" : `region_${db.region}`;
    const login = `PGPASSWORD="$(cat ${POSTGRES_PASSWORD_FILE})" psql -h 127.0.0.1 -U ${user} -d ${database} -XAtc 'select current_user'`;
    try {
      const who = docker(["exec", db.id, "sh", "-c", login], db.engine).trim();
      if (who !== user) problems.push(`${db.name}: logged in as ${who}`);
    } catch (error) {
      problems.push(`${db.name}: no login (${(error as Error).message.split("\n")[0]})`);
    }
  }
  return problems;
}
