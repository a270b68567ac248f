/**
 * BENCHMARKS.md, rendered wholesale from the stored results of the three parts.
 */
import type { BlastResult } from "./blast";
import type { Machine } from "./common";
import type { EdgeResult, EdgeRow } from "./edge";
import { type EvalResult, TARGET } from "./evalProgram";

export interface Results {
  machine: Machine;
  eval?: EvalResult;
  blast?: BlastResult;
  edge?: EdgeResult;
}

const fixed = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toFixed(digits) : "–");
/** First column left-aligned (names), the others right-aligned (numbers). */
const table = (head: string[], rows: string[][]): string[] => [
  `| ${head.join(" | ")} |`,
  `| ${head.map((_, i) => (i === 0 ? "---" : "---:")).join(" | ")} |`,
  ...rows.map((r) => `| ${r.join(" | ")} |`),
];

function machineSection(m: Machine): string[] {
  return [
    "## Machine",
    "",
    `- CPU: ${m.cpu}, ${m.cores} cores`,
    `- RAM: ${m.memoryGb} GB`,
    `- OS: ${m.kernel}`,
    `- Node.js: ${m.node}`,
    `- nginx: ${m.nginx}`,
    `- wrk: ${m.wrk}`,
    `- Date: ${m.date}`,
  ];
}

function evalSection(e: EvalResult): string[] {
  const at500 = e.rows.find((r) => r.regions === TARGET.regions);
  const timeOk = at500 ? at500.evalMs <= TARGET.seconds * 1000 : false;
  const memOk = at500 ? at500.peakRssMb <= TARGET.megabytes : false;
  return [
    "## 1. Program evaluation under mocks",
    "",
    `Measured ${e.date}. \`index.ts\` evaluated with the test suite's Pulumi mocks (\`runProgram\` of`,
    "`test/support/pulumi.ts`) on the dev stack file with N generated regions, every sample in a",
    "fresh Node.js process (the mock runtime is process-global), TypeScript loaded by tsx. Medians.",
    "",
    `- **evaluation**: from importing \`index.ts\` until every resource is registered and every`,
    "  output resolved (includes compiling our TypeScript, the config check and the capacity check).",
    "- **load**: process start until then (Node.js, tsx, the Pulumi SDK, the mock harness): paid once.",
    "- **baseline RSS**: peak RSS after load, before the program ran; **peak RSS**: of the whole",
    "  process; **program's own**: the difference; **heap after GC**: live heap once evaluation is",
    "  done and a full GC ran (what the evaluation keeps, as opposed to garbage it churned through).",
    `- The host is set to ${e.host.cpus} CPUs / ${e.host.memoryGb} GB for every N: the capacity check`,
    "  rejects a stack whose containers do not fit before anything is declared, and 500 dev-sized",
    "  regions have 375 GB of memory limits. The bench measures evaluation, not whether they fit.",
    "",
    ...table(
      [
        "Regions",
        "Runs",
        "Resources",
        "Evaluation (ms)",
        "ms / region",
        "Load (ms)",
        "Baseline RSS (MB)",
        "Peak RSS (MB)",
        "Program's own (MB)",
        "Heap after GC (MB)",
      ],
      e.rows.map((r) => [
        String(r.regions),
        String(r.runs),
        String(r.resources),
        fixed(r.evalMs),
        fixed(r.evalMs / r.regions, 1),
        fixed(r.loadMs),
        fixed(r.baselineRssMb),
        fixed(r.peakRssMb),
        fixed(r.peakRssMb - r.baselineRssMb),
        fixed(r.heapAfterGcMb),
      ]),
    ),
    "",
    `Linearity: time(500) / time(100) = **${fixed(e.timeRatio, 2)}** (5.00 is exactly linear);`,
    `each region beyond 100 costs ${fixed(e.perRegionMs, 1)} ms and ${fixed(e.perRegionMb, 2)} MB of peak RSS.`,
    "",
    `Target at ${TARGET.regions} regions: ≤ ${TARGET.seconds} s and ≤ ${TARGET.megabytes} MB. ` +
      `Time: **${timeOk ? "met" : "missed"}**${at500 ? ` (${fixed(at500.evalMs / 1000, 1)} s)` : ""}; ` +
      `memory: **${memOk ? "met" : "missed"}**${at500 ? ` (${fixed(at500.peakRssMb)} MB peak)` : ""}.`,
    "",
    `Where the CPU time goes (one profiled evaluation of ${e.profile.regions} regions, self time by who owns the code):`,
    "",
    ...table(
      ["Category", "ms", "%"],
      e.profile.shares.map((s) => [s.category, fixed(s.ms), fixed(s.percent, 1)]),
    ),
    "",
    "Hottest functions (self time):",
    "",
    ...table(
      ["Function", "ms"],
      e.profile.top.map((t) => [`\`${t.fn}\``, fixed(t.ms)]),
    ),
    "",
    ...evalFindings(e),
  ];
}

/** What the numbers say; written against the profile's categories, so it stays true to them. */
function evalFindings(e: EvalResult): string[] {
  const share = (prefix: string): number =>
    e.profile.shares.filter((s) => s.category.startsWith(prefix)).reduce((sum, s) => sum + s.percent, 0);
  const ours = share("our program");
  const sdk = share("Pulumi SDK") + share("provider SDKs");
  const gc = share("garbage collection");
  const node = share("Node.js internals");
  return [
    `Our own code (index.ts, components/, planning/) is ${fixed(ours, 1)} % of the CPU time: nothing in it`,
    "grows faster than the region list (per region it plans two containers and renders one nginx",
    "location; the backup fingerprint sorts the regions once). The Pulumi SDK takes",
    `${fixed(sdk, 1)} % directly, and most of the ${fixed(node, 1)} % in Node.js internals and the ${fixed(gc, 1)} % of`,
    "garbage collection on its behalf: every resource registration captures an unbounded stack trace",
    "(`Resource.callsites`), and every output property of every resource (a docker Container has",
    "about 80) is wrapped by `debuggablePromise`, which formats a stack trace into a string (through",
    "the source maps that tsx, or ts-node under `pulumi preview`, turn on). Each region declares",
    "7 resources, 2 of them Containers: that fixed per-resource cost is the per-region cost above,",
    "and its garbage is what drives the peak RSS far above the heap that stays live. The slight",
    "excess over linear comes from the garbage collector working on a larger heap.",
    "",
    "The program cannot meet the target by itself: it would take fewer resources per region (a",
    "design change: the region network, volume, password and password sync are each there for a",
    "reason) or an SDK without the per-promise stack traces. Nothing was changed in the program.",
  ];
}

function blastSection(b: BlastResult): string[] {
  return [
    "## 2. Blast radius of config edits",
    "",
    `Measured ${b.date}. Two mocked runs compared by URN (\`test/support/diff.ts\`): baseline is the`,
    `dev stack with four regions and the backup schedule on (${b.baselineResources} resources). Container inputs`,
    "other than restart, memory, memoryReservation, memorySwap, cpuShares, cpuSet and mustRun replace",
    "(@pulumi/docker 5.x), as does any replaceOnChanges key; a Command replaces on `triggers`;",
    "ignoreChanges is honoured; a replaced resource's id and computed outputs count as unknown",
    "wherever they are used. A replaced stateless container (APIs, UIs, PayPal) is create-first: its",
    "successor runs and is healthy before it stops, so it costs no downtime; a stateful one (PostgreSQL,",
    "Redis, nginx) is delete-first, after the backup. `test/blastRadius.test.ts` asserts every set below exactly.",
    "",
    ...table(
      [
        "Edit",
        "Created",
        "Deleted",
        "Kept (retainOnDelete)",
        "Updated in place",
        "Replaced",
        "of which containers",
        "of those create-first",
        "Unchanged",
      ],
      b.rows.map((r) => [
        r.title,
        String(r.created),
        String(r.deleted),
        String(r.retained),
        String(r.updated),
        String(r.replaced),
        String(r.containersReplaced),
        String(r.containersCreateFirst ?? "–"),
        String(r.unchanged),
      ]),
    ),
    "",
    "What changes, per edit:",
    "",
    ...b.rows.flatMap((r) => [`**${r.title}**`, "", "```", r.detail, "```", ""]),
    "Adding a region replaces `backups-run`, i.e. takes a backup: its trigger fingerprints the set of",
    "active region databases so that removing or retiring one is backed up first, and a fingerprint",
    "of the new config cannot tell an added region from a removed one. No existing container is",
    "touched; accepted and asserted. `edge-reload` re-sends nginx.conf (the container's upload of it is",
    "ignoreChanges). Redis is replaced only when a slot outgrows its power-of-two `databases`.",
  ];
}

const BACKENDS = ["nginx static", "probe"] as const;

/** The rows the text talks about; undefined when one is missing (an older results.json). */
function edgeRowsOf(e: EdgeResult) {
  const find = (backend: string, variant: (v: string) => boolean): EdgeRow | undefined =>
    e.rows.find((r) => r.backend === backend && variant(r.variant));
  const of = (backend: string) => ({
    direct: find(backend, (v) => v === "direct"),
    plain: find(backend, (v) => v === "edge, HTTP"),
    modern: find(backend, (v) => v.startsWith("edge, HTTP, default config on nginx ")),
    prod: find(backend, (v) => v.startsWith("edge, HTTP, prod config ")),
  });
  return { staticRows: of("nginx static"), probeRows: of("probe") };
}

const signed = (n: number): string => `${n >= 0 ? "+" : "−"}${fixed(Math.abs(n), 1)}`;

/** Added µs per request of the fastest and the slowest run of `r`. */
const addedRange = (r: EdgeRow, direct: EdgeRow): [number, number] => [
  1e6 / r.rpsMax - 1e6 / direct.rps,
  1e6 / r.rpsMin - 1e6 / direct.rps,
];

/** Whether the runs of two rows overlap in added time: a difference that the spread could explain. */
const overlaps = (a: EdgeRow, b: EdgeRow, direct: EdgeRow): boolean => {
  const [aLow, aHigh] = addedRange(a, direct);
  const [bLow, bHigh] = addedRange(b, direct);
  return aLow <= bHigh && bLow <= aHigh;
};

function edgeFindings(e: EdgeResult): string[] {
  const { staticRows, probeRows } = edgeRowsOf(e);
  const { direct: staticDirect, plain: staticPlain, modern: staticModern, prod: staticProd } = staticRows;
  const { direct: probeDirect, plain: probePlain, modern: probeModern, prod: probeProd } = probeRows;
  if (!staticDirect || !staticPlain || !staticModern || !staticProd) return [];
  if (!probeDirect || !probePlain || !probeModern || !probeProd) return [];
  const versionWithinSpread =
    overlaps(probePlain, probeModern, probeDirect) && overlaps(staticPlain, staticModern, staticDirect);
  const probeOwnUs = 1e6 / probeDirect.rps;
  const edgeRows = [staticPlain, staticModern, staticProd, probePlain, probeModern, probeProd];
  const allMissed = edgeRows.every((r) => r.ratio < 0.8);
  const { debian, modern } = e.edgeNginx;
  return [
    "Why the target is " +
      (probeProd.ratio >= 0.8 ? "met with the probe" : "missed") +
      ". With the server side on one core,",
    "ratio = t / (t + a), where t is the backend's own time per request (1 s / direct req/s) and a",
    `the added time. The probe needs t = ${fixed(probeOwnUs, 1)} µs per echo; the prod config adds a = ${fixed(probeProd.addedUs, 1)} µs in front`,
    `of it (the default config ${fixed(probePlain.addedUs, 1)} µs). 80 % needs t ≥ 4a: with the prod config, a backend that spends at least`,
    `${fixed(4 * probeProd.addedUs)} µs per request, or an edge that adds at most ${fixed(probeOwnUs / 4, 1)} µs in front of the probe.` +
      (allMissed
        ? " Both backends here answer faster than that, so no variant reaches 80 % on this machine, with or without a pool: the target says as much about the backend's speed as about the proxy."
        : ""),
    "",
    "Most of the default config's added time comes from the new upstream connection per request.",
    "wrk keeps its connections open; the default config opens one to the backend per request and",
    "closes it (`Connection: close`), so the backend also pays for an accept, a new HTTP parser and a",
    `close on every request. On nginx ${debian} it adds ${fixed(probePlain.addedUs, 1)} µs in front of the probe and ${fixed(staticPlain.addedUs, 1)} µs in front of nginx`,
    `static. The same config on nginx ${modern} adds ${fixed(probeModern.addedUs, 1)} µs and ${fixed(staticModern.addedUs, 1)} µs: the nginx version alone changes the`,
    `added time by ${signed(probeModern.addedUs - probePlain.addedUs)} µs (probe) and ${signed(staticModern.addedUs - staticPlain.addedUs)} µs (nginx static)` +
      (versionWithinSpread
        ? ", within the spread of the runs (their ranges overlap): no measurable effect of the version."
        : ".") +
      " The pools of the prod config, on the same",
    `nginx ${modern}, change it by ${signed(probeProd.addedUs - probeModern.addedUs)} µs and ${signed(staticProd.addedUs - staticModern.addedUs)} µs, to ${fixed(probeProd.addedUs, 1)} µs and ${fixed(staticProd.addedUs, 1)} µs; the probe's ratio goes from`,
    `${fixed(probePlain.ratio * 100)} % (default config, nginx ${debian}) to ${fixed(probeProd.ratio * 100)} % (prod config), nginx static's from ${fixed(staticPlain.ratio * 100)} % to ${fixed(staticProd.ratio * 100)} %.`,
    "",
    "Prod runs the pooled config: Pulumi.prod.yaml sets `sectorwars:edge.upstreamKeepalive: 32` and",
    "pins nginx:1.30-alpine. The prod-config rows are the config `planning/nginx.ts` renders with",
    "that setting (an upstream block per backend with `zone`, `server name:port resolve`, `keepalive",
    "32`, every route pooled), run by nginx " + modern + " (Debian testing's package, as in the tests), its names",
    "resolved by `resolve` through the same stand-in DNS. They replace the earlier what-if rows (a",
    "hand-patched pool for one route, on nginx 1.22 with an IP literal), which no stack can run. The",
    "default config (no pool; `upstreamKeepalive` 0, what the dev stack and nginx 1.22 use) stays",
    "measured: without `resolve` (nginx < 1.27.3) an upstream block resolves its names once at",
    "start, so a missing region container would stop nginx from starting or reloading and a",
    "recreated one would keep receiving traffic at its old IP (see the note in planning/nginx.ts).",
    "",
    "On the 64-core production host the ratio does not carry over. The edge container has CPUs of",
    "its own (prod size profile: 2 CPUs limit, 1 reserved), so its work does not come out of the",
    "region APIs' CPU time; what stays with a region API is its share of the per-request connection",
    "handling. What carries over, as an order of magnitude (other CPUs, Docker's bridge network",
    "instead of loopback), is the added time per request: roughly that much CPU time per proxied",
    "request, and about that much extra latency while nothing queues. With the prod config: " +
      `${fixed((probeProd.addedUs / 5000) * 100, 1)} % of a game API call that takes 5 ms, ${fixed((probeProd.addedUs / 1000) * 100)} % of one that takes 1 ms.`,
    `As capacity, at this machine's speed ${fixed(probeProd.addedUs, 1)} µs per request`,
    `is about ${fixed(1e6 / probeProd.addedUs / 1000, 1)}k proxied requests per second per core, a lower bound for the edge since part of`,
    "the added time is the backend's. These are loopback microbenchmarks on 2 cores, not a load",
    "test of the production host.",
  ];
}

function edgeSection(e: EdgeResult): string[] {
  const rowsOf = edgeRowsOf(e);
  const spread = (r: EdgeRow): string => `${fixed(((r.rpsMax - r.rpsMin) / r.rps) * 100)} %`;
  const verdicts = (which: "prod" | "plain"): string =>
    BACKENDS.map((b) => {
      const row = (b === "probe" ? rowsOf.probeRows : rowsOf.staticRows)[which];
      if (!row) return undefined;
      return `${b} **${row.ratio >= 0.8 ? "met" : "missed"}** (${fixed(row.ratio * 100)} %)`;
    })
      .filter((v): v is string => v !== undefined)
      .join("; ");
  const bytes = e.bodyBytes;
  const { debian, modern } = e.edgeNginx;
  return [
    "## 3. Edge proxy overhead",
    "",
    `Measured ${e.date}. \`wrk ${e.wrk}\` on 127.0.0.1, median of ${e.rows[0]?.runs ?? 0} runs per variant`,
    "(interleaved: every round runs every variant of both backends once). Route: `GET /api/regions/default/ping`.",
    "",
    `- **Backends.** *nginx static*: nginx answering \`200 {"ok":true}\` (${bytes["nginx static"]} bytes) from one worker without logging; it`,
    "  costs next to nothing per request, so it is the worst case for the ratio. *probe*: `probe/server.js`,",
    "  the Node.js process the dev stack runs as a region API, started with the default region's",
    "  environment and no DATABASE_URL/REDIS_URL; the route is answered by its echo (a small JSON",
    `  body of ${bytes.probe} bytes with role, region, path and the proxy headers; no database or Redis involved).`,
    "- **Edge.** The nginx.conf that `planning/nginx.ts` renders for the dev stack (every route,",
    "  security headers, JSON access log to a file, names resolved while nginx runs through a",
    `  stand-in for Docker's DNS), ${e.nginxWorkers}. Three edges in front of the same backends:`,
    `  the *default config* (no pool: names resolved per request, a new upstream connection per request) on Debian's nginx ${debian}`,
    `  and on nginx ${modern}; the *prod config*, the same settings plus \`upstreamKeepalive: 32\` as Pulumi.prod.yaml sets it`,
    `  (zone'd upstream blocks with \`server name:port resolve\` and \`keepalive 32\`), on nginx ${modern}, the version prod pins.`,
    "  Before measuring, each edge must answer the route from its backend (polled: `resolve` looks names up after start).",
    `- **CPU pinning.** ${e.pinning === "none" ? "None: wrk, the edge and the backend share the same cores." : `${e.pinning}. wrk does not compete with what it measures, and the server side has exactly one core: direct, the backend has it to itself; proxied, the edge and the backend share it.`}`,
    "",
    ...table(
      ["Backend: variant", "req/s", "spread", "p50 (ms)", "p99 (ms)", "vs direct", "added per request (µs)", "errors"],
      e.rows.map((r) => [
        `${r.backend}: ${r.variant}: ${r.description}`,
        fixed(r.rps),
        spread(r),
        fixed(r.p50Ms, 2),
        fixed(r.p99Ms, 2),
        `${fixed(r.ratio * 100)} %`,
        fixed(r.addedUs, 1),
        String(r.errors),
      ]),
    ),
    "",
    `Target: proxied HTTP ≥ 80 % of direct for small responses, on this 2-core machine. Prod config (what prod runs): ${verdicts("prod")}.`,
    `Default config on nginx ${debian}: ${verdicts("plain")}.`,
    "",
    '"vs direct" and "added per request" compare with the direct row of the same backend. Added per',
    "request is 1/rate(variant) − 1/rate(direct): with the server side pinned to one core, the time",
    "of that core each proxied request costs on top of the backend's own. Spread is (fastest −",
    "slowest run) / median.",
    "",
    ...edgeFindings(e),
  ];
}

export function renderReport(r: Results): string {
  const pending = (title: string): string[] => [title, "", "Not measured yet: `npm run bench -- --only <part>`."];
  return [
    "# Benchmarks",
    "",
    "Generated by `npm run bench` (bench/run.ts; `--only eval|blast|edge`, `--runs N`, `--duration S`);",
    "not part of `npm test`. Every number is a median of several runs on the machine below.",
    "",
    ...machineSection(r.machine),
    "",
    ...(r.eval ? evalSection(r.eval) : pending("## 1. Program evaluation under mocks")),
    "",
    ...(r.blast ? blastSection(r.blast) : pending("## 2. Blast radius of config edits")),
    "",
    ...(r.edge ? edgeSection(r.edge) : pending("## 3. Edge proxy overhead")),
    "",
  ].join("\n");
}
