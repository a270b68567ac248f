/**
 * The edge's per-region request counts (planning/monitoring/edgeLog.ts): the mtail program run by
 * Debian's mtail over lines as nginx renders them with the edge's own log format and Docker's
 * json-file stores them (with the labels it writes in swarm mode, where mtail reads every
 * container's log of its node), and RegionErrorRate under `promtool test rules`.
 */
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseConfig } from "../planning/config";
import { renderNginxConf } from "../planning/edge/nginx";
import { edgeNginxSettings } from "../planning/edge/plan";
import {
  EDGE_LATENCY_BUCKETS,
  EDGE_LOG_PATHS,
  EDGE_LOG_PORT,
  EDGE_SERIES,
  type EdgeLogScope,
  containerLogDirectory,
  edgeLogCommand,
  edgeLogProgram,
} from "../planning/monitoring/edgeLog";
import { planStack } from "../planning/stack/topology";
import { devConfigWith, rawOf } from "./support/configs";
import { start, stop, waitUntil } from "./support/process";
import { toolDir } from "./support/promtool";

const { dir, tool, runRuleTest, remove } = toolDir();
afterAll(remove);

const REGIONS = [
  { id: "orion", name: "Orion", type: "default", slot: 1 },
  { id: "vega", name: "Vega", type: "player_owned", slot: 2 },
];
const raw = { ...rawOf(devConfigWith([])), regions: REGIONS, monitoring: { enabled: true } };
const plan = planStack(parseConfig(raw, { presentSecrets: new Set() }), "dev");

/** The edge's log_format, from the nginx.conf the program renders. */
function logFormat(): string {
  const conf = renderNginxConf(edgeNginxSettings(plan));
  const line = conf.split("\n").find((l) => l.trim().startsWith("log_format edge escape=json"));
  const format = line?.match(/'(.*)'/)?.[1];
  if (!format) throw new Error("no log_format edge in nginx.conf");
  return format;
}

/**
 * One request's access log line as Docker's json-file keeps it (the edge's stdout), with the
 * container labels its `labels` log option names, as Docker orders its fields.
 */
function dockerLine(values: Record<string, string>, attrs?: Record<string, string>): string {
  // Each value escaped as nginx's escape=json escapes it.
  const line = logFormat().replace(/\$[a-z0-9_]+/g, (v) => JSON.stringify(values[v] ?? "-").slice(1, -1));
  // JSON.parse first: the line nginx writes must be JSON, as the edge's log promises.
  JSON.parse(line);
  return JSON.stringify({
    log: `${line}\n`,
    stream: "stdout",
    ...(attrs ? { attrs } : {}),
    time: "2026-12-07T12:00:00.000000001Z",
  });
}

const request = (region: string, status: string, seconds: string, attrs?: Record<string, string>, uri?: string) =>
  dockerLine(
    {
      $region_id: region,
      $status: status,
      $request_time: seconds,
      $body_bytes_sent: "60",
      $request_uri: uri ?? `/api/regions/${region}/x`,
    },
    attrs,
  );

const ONE_HOST: EdgeLogScope = { kind: "edge container" };
const SWARM: EdgeLogScope = { kind: "node", stack: "dev" };
/** The labels Docker writes with a swarm edge task's lines (the edge service's `labels` log option). */
const edgeOf = (stack: string) => ({ "com.sectorwars.role": "nginx", "com.sectorwars.stack": stack });

/** The program's directory, holding the program for `scope`. */
function programs(scope: EdgeLogScope, name = "progs"): string {
  const dirOf = path.join(dir, name);
  fs.mkdirSync(dirOf, { recursive: true });
  fs.writeFileSync(path.join(dirOf, path.basename(EDGE_LOG_PATHS.program)), edgeLogProgram(scope));
  return dirOf;
}

/** What mtail counts over `lines`, in Prometheus's text format. */
function mtailCounts(lines: string[], scope: EdgeLogScope = ONE_HOST): string {
  const progs = programs(scope);
  fs.writeFileSync(path.join(dir, "edge-json.log"), `${lines.join("\n")}\n`);
  const run = tool("mtail", [
    "--progs",
    progs,
    "--logs",
    path.join(dir, "edge-json.log"),
    "--one_shot",
    "--one_shot_format",
    "prometheus",
    "--emit_prog_label=false",
    "--logtostderr",
    // One-shot mode still listens: any free port, so that test files running side by side never collide.
    "--port",
    "0",
  ]);
  expect(run.status, run.output).toBe(0);
  return run.output;
}

describe("the edge's request counts", () => {
  it("counts each region's requests by status and their time, from lines in the edge's own log format", () => {
    const out = mtailCounts([
      request("orion", "200", "0.004"),
      request("orion", "200", "0.300"),
      request("orion", "502", "0.001"),
      request("vega", "503", "2.000"),
      // Not a region route (the player UI): no region, not counted.
      request("", "200", "0.010"),
    ]);
    expect(out).toContain(`${EDGE_SERIES.requests}{region="orion",status="200"} 2`);
    expect(out).toContain(`${EDGE_SERIES.requests}{region="orion",status="502"} 1`);
    expect(out).toContain(`${EDGE_SERIES.requests}{region="vega",status="503"} 1`);
    expect(out).not.toMatch(/region=""/);
    expect(out).toContain(`${EDGE_SERIES.duration}_bucket{region="orion",le="0.005"} 2`);
    expect(out).toContain(`${EDGE_SERIES.duration}_bucket{region="orion",le="0.5"} 3`);
    expect(out).toContain(`${EDGE_SERIES.duration}_count{region="vega"} 1`);
  });

  it("reads nothing of a line that is not nginx's (a start-up message on the same stdout)", () => {
    const out = mtailCounts([JSON.stringify({ log: "nginx: worker process started\n", stream: "stderr", time: "x" })]);
    expect(out).not.toContain(`${EDGE_SERIES.requests}{`);
  });

  it("in swarm mode counts the lines of this stack's edge only, by the labels Docker wrote with them", () => {
    const out = mtailCounts(
      [
        request("orion", "200", "0.004", edgeOf("dev")),
        request("orion", "502", "0.001", edgeOf("dev")),
        // Another stack's edge on the same node, a line without labels, another role's line.
        request("orion", "200", "0.004", edgeOf("staging")),
        request("orion", "200", "0.004"),
        request("orion", "200", "0.004", { "com.sectorwars.role": "region-api", "com.sectorwars.stack": "dev" }),
        // A client cannot spell the labels: its quotes stay escaped inside the `log` string.
        request(
          "vega",
          "200",
          "0.004",
          edgeOf("staging"),
          `/x"attrs":{"com.sectorwars.role":"nginx","com.sectorwars.stack":"dev"}`,
        ),
      ],
      SWARM,
    );
    expect(out).toContain(`${EDGE_SERIES.requests}{region="orion",status="200"} 1`);
    expect(out).toContain(`${EDGE_SERIES.requests}{region="orion",status="502"} 1`);
    expect(out).not.toContain('region="vega"');
  });

  it("in swarm mode finds a new edge task's log, in a container directory that came after it started", async () => {
    const logs = path.join(dir, "containers");
    fs.mkdirSync(path.join(logs, "old"), { recursive: true });
    fs.writeFileSync(path.join(logs, "old", "old-json.log"), "");
    const flags = edgeLogCommand(SWARM).map((flag) =>
      flag
        .replace(EDGE_LOG_PATHS.programs, programs(SWARM, "swarm-progs"))
        .replace(EDGE_LOG_PATHS.logs, logs)
        .replace(`--port=${EDGE_LOG_PORT}`, "--port=0"),
    );
    const mtail = start("mtail", flags);
    try {
      let port = "";
      await waitUntil("mtail to listen", () => {
        port = /Listening on \S*:(\d+)/.exec(mtail.output())?.[1] ?? "";
        return port !== "";
      });
      const counted = async () =>
        (await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).includes(
          `${EDGE_SERIES.requests}{region="orion",status="200"} 2`,
        );
      // The new task's directory and file, as Docker creates them; lines after mtail found it.
      fs.mkdirSync(path.join(logs, "new"));
      const file = path.join(logs, "new", "new-json.log");
      fs.writeFileSync(file, "");
      await new Promise((resolve) => setTimeout(resolve, 1000));
      fs.appendFileSync(file, `${request("orion", "200", "0.004", edgeOf("dev"))}\n`);
      fs.appendFileSync(path.join(logs, "old", "old-json.log"), `${request("orion", "200", "0.004", edgeOf("dev"))}\n`);
      await waitUntil("both containers' lines counted", counted, 10_000).catch((error: unknown) => {
        throw new Error(`${String(error)}; mtail said: ${mtail.output()}`);
      });
    } finally {
      await stop(mtail);
    }
  });

  it("passes its container's health check, the reader itself holding its port meanwhile", async () => {
    const compile = programs(ONE_HOST, "compile");
    const [kind, binary, ...args] = plan.monitoring?.exporters.edgeRequests?.healthcheck.tests ?? [];
    expect([kind, binary]).toEqual(["CMD", "/usr/bin/mtail"]);
    const reader = net.createServer();
    // In use already (another mtail on this machine) is the same condition for the check.
    await new Promise<void>((resolve) => reader.once("error", () => resolve()).listen(EDGE_LOG_PORT, resolve));
    try {
      const run = tool(
        binary ?? "",
        args.map((a) => (a === EDGE_LOG_PATHS.programs ? compile : a)),
      );
      expect(run.status, run.output).toBe(0);
      // The same check fails on a program that does not compile.
      fs.writeFileSync(path.join(compile, "broken.mtail"), "counter x\n/(/ { x++ }\n");
      const broken = tool(
        binary ?? "",
        args.map((a) => (a === EDGE_LOG_PATHS.programs ? compile : a)),
      );
      expect(broken.status, broken.output).not.toBe(0);
    } finally {
      reader.close();
    }
  });

  it("follows the edge container's current log file in the directory Docker keeps it in; each container's in swarm mode", () => {
    expect(containerLogDirectory("/var/lib/docker/", "abc123")).toBe("/var/lib/docker/containers/abc123");
    expect(edgeLogCommand(ONE_HOST)).toContain(`--logs=${EDGE_LOG_PATHS.logs}/*-json.log`);
    expect(edgeLogCommand(SWARM)).toContain(`--logs=${EDGE_LOG_PATHS.logs}/*/*-json.log`);
  });

  it("is planned with monitoring, as the edge's reader, sized and labelled", () => {
    const reader = plan.monitoring?.exporters.edgeRequests;
    expect(reader?.containerName).toBe("sectorwars-dev_edge_log_exporter");
    expect(reader?.image).toBe("edgeLogExporter");
    expect(reader?.labels["com.sectorwars.role"]).toBe("edge-log-exporter");
    expect(reader?.size.limits.memoryMb).toBeGreaterThan(0);
    expect(reader?.scope).toEqual(ONE_HOST);
  });
});

/** The series of orion's requests at the edge, as mtail's job labels them. */
const ORION = 'job="edge-requests", stack="dev", role="nginx", region="orion"';

/**
 * promtool's verdict on a region alert at `evalTime` over `series`: firing once for orion with
 * `severity` and `summary`, or not at all.
 */
function regionAlert(
  alertname: string,
  series: { series: string; values: string }[],
  evalTime: string,
  alert?: { severity: string; summary: string },
) {
  const exp = alert
    ? [
        {
          exp_labels: { stack: "dev", region: "orion", severity: alert.severity },
          exp_annotations: { summary: alert.summary },
        },
      ]
    : [];
  return runRuleTest(series, [{ eval_time: evalTime, alertname, exp_alerts: exp }]);
}

describe("RegionErrorRate", () => {
  // 15 s apart: per step, +15 requests is 1 per second.
  const cases: { label: string; ok: string; failed: string; fires: boolean }[] = [
    { label: "10 % 5xx at 1 request/s", ok: "0+14x40", failed: "0+1x40", fires: true },
    { label: "2 % 5xx at 1 request/s", ok: "0+15x40", failed: "0+0.3x40", fires: false },
    { label: "every request failing, at one every 30 s", ok: "0+0x40", failed: "0+0.5x40", fires: false },
  ];
  it.each(cases)("$label: fires $fires", ({ ok, failed, fires }) => {
    const series = [
      { series: `${EDGE_SERIES.requests}{${ORION}, status="200"}`, values: ok },
      { series: `${EDGE_SERIES.requests}{${ORION}, status="502"}`, values: failed },
    ];
    const summary = "6.667% of the requests to region orion in stack dev failed with a 5xx at the edge (over 5m)";
    const result = regionAlert("RegionErrorRate", series, "9m", fires ? { severity: "critical", summary } : undefined);
    expect(result.status, result.output).toBe(0);
  });
});

describe("RegionSlow", () => {
  /** The histogram's buckets at 1 request per second (15 per step), each request taking `seconds`. */
  const histogram = (seconds: number, perStep = 15) =>
    [...EDGE_LATENCY_BUCKETS.map(String), "+Inf"].map((le) => ({
      series: `${EDGE_SERIES.duration}_bucket{${ORION}, le="${le}"}`,
      values: le === "+Inf" || seconds <= Number(le) ? `0+${perStep}x60` : "0+0x60",
    }));
  const requests = (perStep = 15) => [
    { series: `${EDGE_SERIES.requests}{${ORION}, status="200"}`, values: `0+${perStep}x60` },
  ];
  const cases: { label: string; series: { series: string; values: string }[]; fires: boolean }[] = [
    { label: "every request taking 2 s, at 1 request/s", series: [...histogram(2), ...requests()], fires: true },
    { label: "every request taking 0.3 s, at 1 request/s", series: [...histogram(0.3), ...requests()], fires: false },
    {
      label: "every request taking 2 s, at one every 30 s",
      series: [...histogram(2, 0.5), ...requests(0.5)],
      fires: false,
    },
  ];
  it.each(cases)("$label: fires $fires", ({ series, fires }) => {
    // 95 % of the requests in the bucket (1, 2.5] s: 2.425 s, as histogram_quantile interpolates.
    const summary =
      "The slowest 5% of the requests to region orion in stack dev took over 2.425s at the edge (over 5m; the limit is 1s)";
    const result = regionAlert("RegionSlow", series, "12m", fires ? { severity: "warning", summary } : undefined);
    expect(result.status, result.output).toBe(0);
  });
});
