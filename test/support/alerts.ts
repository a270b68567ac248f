/**
 * What a real-engine test needs to see alerts arrive: a webhook receiver of its own (a container
 * of the probe image on the stack's monitoring network, printing each request's body as one line
 * of its log), and Prometheus's answers, asked inside its container (nothing is published on the
 * host).
 */
import { type EngineOption, type TestRun, docker, run } from "./docker";
import { TEST_IMAGES } from "./images";
import { waitUntil } from "./process";

/** Alertmanager's webhook payload, the part the tests read. */
export interface Notification {
  status: "firing" | "resolved";
  alerts: { status: string; labels: Record<string, string>; annotations: Record<string, string> }[];
}

const SERVER = `require("http").createServer((req, res) => {
  let body = "";
  req.on("data", (chunk) => (body += chunk));
  req.on("end", () => { console.log(body.replace(/\\n/g, " ")); res.end("ok"); });
}).listen(8080);`;

export interface AlertReceiver {
  /** The URL to set as monitoringAlertWebhook; its last segment is a token no state may hold in plain text. */
  url: string;
  token: string;
  /** Starts the receiver on `network` (the stack's monitoring network, once `pulumi up` made it). */
  start(network: string): void;
  notifications(): Notification[];
  /** Before destroy: a network with a container still attached cannot be removed. */
  remove(): void;
}

export function alertReceiver(testRun: TestRun, engine: EngineOption): AlertReceiver {
  const name = `sectorwars-test-alerts-${testRun.id}`;
  const token = `alert-token-${testRun.id}`;
  return {
    url: `http://${name}:8080/hooks/${token}`,
    token,
    start(network) {
      const labels = testRun.labels.flatMap((l) => ["--label", l]);
      docker(
        ["run", "-d", "--name", name, ...labels, "--network", network, `${TEST_IMAGES.probe}:v1`, "node", "-e", SERVER],
        engine,
      );
    },
    notifications: () =>
      docker(["logs", name], engine)
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as Notification),
    remove: () => void run("docker", ["rm", "-f", name], engine),
  };
}

/** One series of an instant query's answer. */
export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

/** An instant query, answered by the Prometheus in `container`. */
export function prometheusQuery(container: string, promql: string, engine: EngineOption): Sample[] {
  const url = `http://127.0.0.1:9090/api/v1/query?query=${encodeURIComponent(promql)}`;
  const answer = docker(["exec", container, "wget", "-q", "-O", "-", url], engine);
  return (JSON.parse(answer) as { data: { result: Sample[] } }).data.result;
}

/** A series as the tests name it: `job role region` ("-" where it has no region). */
export const jobRoleRegion = (s: Sample): string => `${s.metric.job} ${s.metric.role} ${s.metric.region ?? "-"}`;

/**
 * Waits until `promql`'s series, each named by `name` and sorted, are exactly `expected` (in any
 * order); on timeout the error says what was there instead.
 */
export async function waitForSeries(options: {
  what: string;
  prometheus: string;
  engine: EngineOption;
  promql: string;
  expected: readonly string[];
  name?: (s: Sample) => string;
  timeoutMs?: number;
}): Promise<void> {
  const { prometheus, engine, promql, name = jobRoleRegion } = options;
  const expected = JSON.stringify([...options.expected].sort());
  let seen: string[] = [];
  await waitUntil(
    options.what,
    () => {
      seen = prometheusQuery(prometheus, promql, engine).map(name).sort();
      return JSON.stringify(seen) === expected;
    },
    options.timeoutMs ?? 90_000,
  ).catch((error: unknown) => {
    throw new Error(`${String(error)}; seen: ${seen.join(", ")}; expected: ${expected}`);
  });
}
