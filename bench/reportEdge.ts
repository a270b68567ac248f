/**
 * Section 3 of BENCHMARKS.md: the edge proxy's overhead.
 */
import type { EdgeResult, EdgeRow } from "./edge";
import { fixed, signed, table } from "./reportFormat";

/** What the repo says about prod when the report is rendered (Pulumi.prod.yaml), and where the edge part ran. */
export interface EdgeContext {
  /** CPUs of the machine the part ran on. */
  cores: number;
  prod: { upstreamKeepalive: number; nginxImage: string; cpus: number };
}

/** The pool size of the pooled rows: stored, or read from their names in results older than the field. */
function poolOf(e: EdgeResult): number {
  if (e.upstreamKeepalive !== undefined) return e.upstreamKeepalive;
  const named = e.rows.map((r) => /upstreamKeepalive (\d+)/.exec(r.variant)?.[1]).find((n) => n !== undefined);
  return Number(named ?? Number.NaN);
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

function edgeFindings(e: EdgeResult, ctx: EdgeContext): string[] {
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
  const pool = poolOf(e);
  const prod = ctx.prod;
  // What prod runs now: the pooled rows if its stack file turns a pool on, else the default config on nginx >= 1.27.
  const prodRuns =
    prod.upstreamKeepalive > 0
      ? { row: probeProd, name: "the pooled config" }
      : { row: probeModern, name: `the default config on nginx ${modern}` };
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
    (prod.upstreamKeepalive > 0
      ? `Prod runs the pooled config: Pulumi.prod.yaml sets \`sectorwars:edge.upstreamKeepalive: ${prod.upstreamKeepalive}\` and`
      : "Prod runs the default config: Pulumi.prod.yaml leaves `sectorwars:edge.upstreamKeepalive` off, since pooled upstreams lose requests while a deploy swaps a container (README), and") +
      ` pins ${prod.nginxImage}. The prod-config rows are the config \`planning/edge/nginx.ts\` renders with`,
    "that setting (an upstream block per backend with `zone`, `server name:port resolve`, `keepalive",
    `${pool}\`, every route pooled), run by nginx ` +
      modern +
      " (Debian testing's package, as in the tests), its names",
    "resolved by `resolve` through the same stand-in DNS. They replace the earlier what-if rows (a",
    "hand-patched pool for one route, on nginx 1.22 with an IP literal), which no stack can run. The",
    "default config (no pool; `upstreamKeepalive` 0, what the dev stack and nginx 1.22 use) stays",
    "measured: without `resolve` (nginx < 1.27.3) an upstream block resolves its names once at",
    "start, so a missing region container would stop nginx from starting or reloading and a",
    "recreated one would keep receiving traffic at its old IP (see the note in planning/edge/nginx.ts).",
    "",
    `On the ${prod.cpus}-core production host the ratio does not carry over. The edge container has CPUs of`,
    "its own (prod size profile: 2 CPUs limit, 1 reserved), so its work does not come out of the",
    "region APIs' CPU time; what stays with a region API is its share of the per-request connection",
    "handling. What carries over, as an order of magnitude (other CPUs, Docker's bridge network",
    "instead of loopback), is the added time per request: roughly that much CPU time per proxied",
    `request, and about that much extra latency while nothing queues. With what prod runs (${prodRuns.name}): ` +
      `${fixed((prodRuns.row.addedUs / 5000) * 100, 1)} % of a game API call that takes 5 ms, ${fixed((prodRuns.row.addedUs / 1000) * 100)} % of one that takes 1 ms.`,
    `As capacity, at this machine's speed ${fixed(prodRuns.row.addedUs, 1)} µs per request`,
    `is about ${fixed(1e6 / prodRuns.row.addedUs / 1000, 1)}k proxied requests per second per core, a lower bound for the edge since part of`,
    `the added time is the backend's. These are loopback microbenchmarks on ${ctx.cores} cores, not a load`,
    "test of the production host.",
  ];
}

export function edgeSection(e: EdgeResult, ctx: EdgeContext): string[] {
  const rowsOf = edgeRowsOf(e);
  const spread = (r: EdgeRow): string => `${fixed(((r.rpsMax - r.rpsMin) / r.rps) * 100)} %`;
  const verdicts = (which: "prod" | "plain" | "modern"): string =>
    BACKENDS.map((b) => {
      const row = (b === "probe" ? rowsOf.probeRows : rowsOf.staticRows)[which];
      if (!row) return undefined;
      return `${b} **${row.ratio >= 0.8 ? "met" : "missed"}** (${fixed(row.ratio * 100)} %)`;
    })
      .filter((v): v is string => v !== undefined)
      .join("; ");
  const bytes = e.bodyBytes;
  const pool = poolOf(e);
  const prodSetsPool = ctx.prod.upstreamKeepalive === pool;
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
    "- **Edge.** The nginx.conf that `planning/edge/nginx.ts` renders for the dev stack (every route,",
    "  security headers, JSON access log to a file, names resolved while nginx runs through a",
    `  stand-in for Docker's DNS), ${e.nginxWorkers}. Three edges in front of the same backends:`,
    `  the *default config* (no pool: names resolved per request, a new upstream connection per request) on Debian's nginx ${debian}`,
    `  and on nginx ${modern}; the *prod config*, the same settings plus \`upstreamKeepalive: ${pool}\` ${prodSetsPool ? "as Pulumi.prod.yaml sets it" : `(named for what Pulumi.prod.yaml set when it was measured; it now ${ctx.prod.upstreamKeepalive === 0 ? "leaves the pool off" : `sets ${ctx.prod.upstreamKeepalive}`})`}`,
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
    `Target: proxied HTTP ≥ 80 % of direct for small responses, on this ${ctx.cores}-core machine. Prod config (${prodSetsPool ? "what prod runs" : "pooled; not what prod runs now"}): ${verdicts("prod")}.`,
    `Default config on nginx ${debian}: ${verdicts("plain")}.` +
      (ctx.prod.upstreamKeepalive === 0
        ? ` Default config on nginx ${modern} (what prod runs now): ${verdicts("modern")}.`
        : ""),
    "",
    '"vs direct" and "added per request" compare with the direct row of the same backend. Added per',
    "request is 1/rate(variant) − 1/rate(direct): with the server side pinned to one core, the time",
    "of that core each proxied request costs on top of the backend's own. Spread is (fastest −",
    "slowest run) / median.",
    "",
    ...edgeFindings(e, ctx),
  ];
}
