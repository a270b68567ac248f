/**
 * Swarm services, secrets, configs and overlay networks as the program declares them (registered
 * under the mocks), created on a real swarm with the docker CLI: what `pulumi up` would make the
 * provider do, without the provider. The counterpart of containerSpec.ts for swarm mode.
 *
 * Every input is translated to the CLI flag that sets the same field of the service spec; an
 * input (or a field of one) the translation does not know fails the test, so a new setting in
 * the program cannot silently go untested.
 */
import { type EngineOption, docker } from "./docker";
import { NETWORK, type ProgramRun, type RegisteredResource, SECRET, SERVICE, SERVICE_CONFIG } from "./pulumi";

type Obj = Record<string, unknown>;
type KeyValue = { label: string; value: string };

/** Fails on any key of `value` outside `known`: the translation would drop it. */
function only(value: unknown, known: readonly string[], where: string): Obj {
  const o = (value ?? {}) as Obj;
  const unknown = Object.keys(o).filter((k) => !known.includes(k) && o[k] !== undefined);
  if (unknown.length > 0) throw new Error(`${where}: no docker service create flag for ${unknown.join(", ")}`);
  return o;
}

const kv = (labels: unknown): string[] =>
  ((labels as KeyValue[] | undefined) ?? []).map((l) => `${l.label}=${l.value}`);
const octal = (mode: unknown): string => `0${Number(mode).toString(8)}`;

export interface ServiceRunAs {
  /** The test image for each declared image reference (the declared ones exist nowhere). */
  images: Record<string, string>;
  /** Labels added to everything created, so the test's cleanup finds it. */
  extraLabels: string[];
  /** Environment added to services of these names (a stand-in's own settings). */
  extraEnv?: Record<string, Record<string, string>>;
  engine: EngineOption;
}

/** The Docker name of the declared resource whose mock id is `id`. */
function nameOfId(run: ProgramRun, id: string): string {
  const found = run.resources.find((r) => r.computed.id === id);
  if (!found) throw new Error(`no resource has id ${id}`);
  return String(found.inputs.name);
}

/** `docker service create` arguments for one declared docker.Service. */
function serviceCreateArgs(run: ProgramRun, s: RegisteredResource, as: ServiceRunAs): string[] {
  const where = `service ${String(s.inputs.name)}`;
  const i = only(s.inputs, ["name", "labels", "mode", "taskSpec", "endpointSpec", "updateConfig", "rollbackConfig", "convergeConfig"], where); // prettier-ignore
  const task = only(i.taskSpec, ["containerSpec", "resources", "restartPolicy", "placement", "networksAdvanceds", "logDriver"], `${where} taskSpec`); // prettier-ignore
  const c = only(task.containerSpec, ["image", "labels", "args", "env", "healthcheck", "capDrops", "capAdds", "readOnly", "mounts", "secrets", "configs", "stopSignal", "stopGracePeriod"], `${where} containerSpec`); // prettier-ignore
  const mode = only(i.mode, ["global", "replicated"], `${where} mode`);
  const hc = only(c.healthcheck, ["tests", "interval", "timeout", "retries", "startPeriod"], `${where} healthcheck`);
  const [kind, command] = hc.tests as string[];
  if (kind !== "CMD-SHELL" || command === undefined) throw new Error(`${where}: health check ${String(hc.tests)}`);
  const resources = only(task.resources, ["limits", "reservation"], `${where} resources`);
  const limits = only(resources.limits, ["nanoCpus", "memoryBytes"], `${where} limits`);
  const reservation = only(resources.reservation, ["nanoCpus", "memoryBytes"], `${where} reservation`);
  const restart = only(task.restartPolicy, ["condition", "delay", "window"], `${where} restartPolicy`);
  const placement = only(task.placement, ["constraints", "prefs"], `${where} placement`);
  const log = only(task.logDriver, ["name", "options"], `${where} logDriver`);
  const endpoint = only(i.endpointSpec, ["mode", "ports"], `${where} endpointSpec`);
  const image = as.images[String(c.image)];
  if (image === undefined) throw new Error(`${where}: no test image stands in for ${String(c.image)}`);
  const policy = (p: unknown, flag: "update" | "rollback") => {
    const o = only(p, ["parallelism", "order", "delay", "monitor", "failureAction", "maxFailureRatio"], `${where} ${flag}Config`); // prettier-ignore
    return [
      ...[`--${flag}-parallelism`, String(o.parallelism), `--${flag}-order`, String(o.order)],
      ...[`--${flag}-delay`, String(o.delay), `--${flag}-monitor`, String(o.monitor)],
      ...[
        `--${flag}-failure-action`,
        String(o.failureAction),
        `--${flag}-max-failure-ratio`,
        String(o.maxFailureRatio),
      ],
    ];
  };
  const mount = (m: unknown): string => {
    const o = only(m, ["type", "source", "target", "readOnly", "volumeOptions", "tmpfsOptions"], `${where} mount`);
    if (o.type === "tmpfs") {
      const t = only(o.tmpfsOptions, ["sizeBytes"], `${where} tmpfsOptions`);
      return `type=tmpfs,target=${String(o.target)},tmpfs-size=${Number(t.sizeBytes)}`;
    }
    const v = only(o.volumeOptions, ["labels"], `${where} volumeOptions`);
    const labels = [...kv(v.labels), ...as.extraLabels].map((l) => `,volume-label=${l}`).join("");
    return `type=volume,source=${String(o.source)},target=${String(o.target)}${o.readOnly ? ",readonly" : ""}${labels}`;
  };
  const file = (f: unknown, kind: "secret" | "config"): string => {
    const o = only(f, [`${kind}Id`, `${kind}Name`, "fileName", "fileMode", "fileUid", "fileGid"], `${where} ${kind}`);
    return `source=${String(o[`${kind}Name`])},target=${String(o.fileName)},uid=${String(o.fileUid)},gid=${String(o.fileGid)},mode=${octal(o.fileMode)}`;
  };
  const network = (n: unknown): string => {
    const o = only(n, ["id", "aliases"], `${where} network`);
    return [`name=${nameOfId(run, String(o.id))}`, ...(o.aliases as string[]).map((a) => `alias=${a}`)].join(",");
  };
  const port = (p: unknown): string => {
    const o = only(p, ["targetPort", "publishedPort", "publishMode", "protocol"], `${where} port`);
    return `mode=${String(o.publishMode)},target=${Number(o.targetPort)},published=${Number(o.publishedPort)},protocol=${String(o.protocol)}`;
  };
  const env = { ...((c.env as Record<string, string> | undefined) ?? {}), ...(as.extraEnv?.[String(i.name)] ?? {}) };
  return [
    "--detach",
    // Test images exist only on the node: asking a registry for their digest would fail.
    "--no-resolve-image",
    ...["--name", String(i.name)],
    ...[...kv(i.labels), ...as.extraLabels].flatMap((l) => ["--label", l]),
    ...(mode.global
      ? ["--mode", "global"]
      : ["--replicas", String((mode.replicated as { replicas: number }).replicas)]),
    ...[...kv(c.labels), ...as.extraLabels].flatMap((l) => ["--container-label", l]),
    ...Object.entries(env).flatMap(([k, v]) => ["--env", `${k}=${v}`]),
    ...["--health-cmd", command, "--health-interval", String(hc.interval), "--health-timeout", String(hc.timeout)],
    ...["--health-retries", String(hc.retries), "--health-start-period", String(hc.startPeriod)],
    ...((c.capDrops as string[] | undefined) ?? []).flatMap((d) => ["--cap-drop", d]),
    ...((c.capAdds as string[] | undefined) ?? []).flatMap((a) => ["--cap-add", a]),
    ...(c.readOnly ? ["--read-only"] : []),
    ...((c.mounts as unknown[] | undefined) ?? []).flatMap((m) => ["--mount", mount(m)]),
    ...((c.secrets as unknown[] | undefined) ?? []).flatMap((f) => ["--secret", file(f, "secret")]),
    ...((c.configs as unknown[] | undefined) ?? []).flatMap((f) => ["--config", file(f, "config")]),
    ...(typeof c.stopSignal === "string" ? ["--stop-signal", c.stopSignal] : []),
    ...["--stop-grace-period", String(c.stopGracePeriod)],
    ...["--limit-cpu", String(Number(limits.nanoCpus) / 1e9), "--limit-memory", String(limits.memoryBytes)],
    ...[
      "--reserve-cpu",
      String(Number(reservation.nanoCpus) / 1e9),
      "--reserve-memory",
      String(reservation.memoryBytes),
    ],
    ...[
      "--restart-condition",
      String(restart.condition),
      "--restart-delay",
      String(restart.delay),
      "--restart-window",
      String(restart.window),
    ],
    ...((placement.constraints as string[] | undefined) ?? []).flatMap((x) => ["--constraint", x]),
    ...((placement.prefs as string[] | undefined) ?? []).flatMap((x) => ["--placement-pref", x]),
    ...((task.networksAdvanceds as unknown[] | undefined) ?? []).flatMap((n) => ["--network", network(n)]),
    ...["--log-driver", String(log.name)],
    ...Object.entries((log.options as Record<string, string> | undefined) ?? {}).flatMap(([k, v]) => [
      "--log-opt",
      `${k}=${v}`,
    ]),
    ...["--endpoint-mode", String(endpoint.mode)],
    ...((endpoint.ports as unknown[] | undefined) ?? []).flatMap((p) => ["--publish", port(p)]),
    ...policy(i.updateConfig, "update"),
    ...policy(i.rollbackConfig, "rollback"),
    image,
    ...((c.args as string[] | undefined) ?? []),
  ];
}

/** Creates the declared secrets, configs and overlay networks (with the run's labels). */
export function createSwarmObjects(run: ProgramRun, as: ServiceRunAs): void {
  const labels = (r: RegisteredResource) => [...kv(r.inputs.labels), ...as.extraLabels].flatMap((l) => ["--label", l]);
  for (const kind of [SECRET, SERVICE_CONFIG] as const) {
    for (const r of run.ofType(kind)) {
      only(r.inputs, ["name", "data", "labels"], `${kind} ${r.name}`);
      const content = Buffer.from(String(r.inputs.data), "base64");
      const verb = kind === SECRET ? "secret" : "config";
      docker([verb, "create", ...labels(r), String(r.inputs.name), "-"], { input: content, ...as.engine });
    }
  }
  for (const n of run.ofType(NETWORK)) {
    const o = only(n.inputs, ["name", "driver", "internal", "attachable", "labels"], `network ${n.name}`);
    const flags = [...(o.internal ? ["--internal"] : []), ...(o.attachable ? ["--attachable"] : [])];
    docker(["network", "create", "--driver", String(o.driver), ...flags, ...labels(n), String(o.name)], as.engine);
  }
}

/** The declared service of logical name `name`. */
export const serviceNamed = (run: ProgramRun, name: string): RegisteredResource => {
  const found = run.ofType(SERVICE).find((s) => s.name === name);
  if (!found) throw new Error(`no service ${name} declared`);
  return found;
};

/** Creates the declared service; returns its Docker name. */
export function createService(run: ProgramRun, name: string, as: ServiceRunAs): string {
  const s = serviceNamed(run, name);
  docker(["service", "create", ...serviceCreateArgs(run, s, as)], as.engine);
  return String(s.inputs.name);
}

/**
 * The running, healthy tasks' container ids of a service, as the provider's convergence check
 * waits for them (and a start-first update for the new one): state running and health healthy.
 */
export function healthyTasks(service: string, engine: EngineOption): string[] {
  const ids = docker(
    ["ps", "-q", "--filter", `label=com.docker.swarm.service.name=${service}`, "--filter", "health=healthy"],
    engine,
  );
  return ids.split("\n").filter(Boolean);
}
