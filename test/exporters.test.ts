/**
 * The exporters' plan (planning/monitoring/exporters.ts) and the rules that read them
 * (planning/monitoring/alerts.ts), the latter under `promtool test rules`: each alert fires on the
 * series its exporter gives, after its wait, with its labels and summary, and not on a healthy one.
 */
import { afterAll, describe, expect, it } from "vitest";
import { parseConfig } from "../planning/config";
import {
  EXPORTER_PASSWORD_FILE,
  NEWEST_BASE_BACKUP_SQL,
  exporterTargets,
  postgresExporterEnv,
  redisExporterAddress,
  redisExporterPasswordFile,
} from "../planning/monitoring/exporters";
import type { ScrapeTarget } from "../planning/monitoring/prometheus";
import { allContainers, planStack } from "../planning/stack/topology";
import { devConfigWith, rawOf } from "./support/configs";
import { toolDir } from "./support/promtool";

const { runRuleTest, remove } = toolDir();
afterAll(remove);

const REGIONS = [
  { id: "orion", name: "Orion", type: "default" as const, slot: 1 },
  { id: "vega", name: "Vega", type: "player_owned" as const, slot: 2 },
  { id: "old", name: "Old", type: "player_owned" as const, slot: 3, state: "retired" },
];

function exportersOf(regions: readonly object[] = REGIONS) {
  const raw = { ...rawOf(devConfigWith([])), regions, monitoring: { enabled: true } };
  const plan = planStack(parseConfig(raw, { presentSecrets: new Set() }), "dev");
  if (!plan.monitoring) throw new Error("monitoring was not planned");
  return { plan, exporters: plan.monitoring.exporters };
}

describe("the exporters' plan", () => {
  const { plan, exporters } = exportersOf();

  it("watches the nexus's database and each active region's, on its private network, none of a retired region", () => {
    expect(exporters.databases.map((e) => [e.containerName, e.hostname, e.watches.networkName])).toEqual([
      ["sectorwars-dev_nexus_db_exporter", "nexus-db-exporter", "sectorwars-dev_nexus"],
      ["sectorwars-dev_region_orion_db_exporter", "region-orion-db-exporter", "sectorwars-dev_region_orion"],
      ["sectorwars-dev_region_vega_db_exporter", "region-vega-db-exporter", "sectorwars-dev_region_vega"],
    ]);
    expect(exporters.databases[1]?.labels).toEqual({
      "com.sectorwars.stack": "dev",
      "com.sectorwars.role": "postgres-exporter",
      "com.sectorwars.region": "orion",
    });
  });

  it("counts every exporter among the stack's containers, each with a health check and a size", () => {
    const names = allContainers(plan).map((c) => c.containerName);
    for (const e of [...exporters.databases, exporters.redis, exporters.host]) {
      expect(names, e.containerName).toContain(e.containerName);
      expect(e.healthcheck.tests[1], e.containerName).toBe(
        `wget -q -O /dev/null http://127.0.0.1:${e.port}/ || exit 1`,
      );
      expect(e.size.limits.memoryMb, e.containerName).toBeGreaterThan(0);
    }
  });

  it("labels each target as what it watches, so the rules read region-db and its region", () => {
    const where = (t: ScrapeTarget) =>
      "address" in t ? t.address : `every address of ${t.everyAddressOf.name}:${t.everyAddressOf.port}`;
    expect(exporterTargets(exporters).map((t) => [t.job, where(t), JSON.stringify(t.labels)])).toEqual([
      ["postgres", "nexus-db-exporter:9187", '{"stack":"dev","role":"nexus-db"}'],
      ["postgres", "region-orion-db-exporter:9187", '{"stack":"dev","role":"region-db","region":"orion"}'],
      ["postgres", "region-vega-db-exporter:9187", '{"stack":"dev","role":"region-db","region":"vega"}'],
      ["redis", "redis-exporter:9121", '{"stack":"dev","role":"redis"}'],
      ["host", "every address of node-exporter:9100", '{"stack":"dev","role":"host"}'],
      ["edge-requests", "every address of edge-log-exporter:3903", '{"stack":"dev","role":"nginx"}'],
      ["containers", "every address of container-exporter:8080", '{"stack":"dev","role":"container-exporter"}'],
    ]);
  });

  it("adds a new region's exporter last, leaving the others as they were", () => {
    const added = exportersOf([...REGIONS, { id: "rigel", name: "Rigel", type: "player_owned" as const, slot: 4 }]);
    expect(added.exporters.databases.slice(0, 3)).toEqual(exporters.databases);
    expect(added.exporters.databases[3]?.watches.hostname).toBe("region-rigel-db");
  });

  it("gives no password in an exporter's environment or command: it reads a file", () => {
    const orion = exporters.databases[1];
    if (!orion) throw new Error("no exporter for orion");
    expect(postgresExporterEnv(orion.watches)).toEqual({
      DATA_SOURCE_URI: "region-orion-db:5432/region_orion?sslmode=disable",
      DATA_SOURCE_USER: "region_orion_user",
      DATA_SOURCE_PASS_FILE: EXPORTER_PASSWORD_FILE,
    });
    // redis_exporter looks the password up by the address it was given, scheme included.
    const file = JSON.parse(redisExporterPasswordFile(exporters.redis.watches, "pw")) as Record<string, string>;
    expect(file).toEqual({ [redisExporterAddress(exporters.redis.watches)]: "pw" });
    expect(redisExporterAddress(exporters.redis.watches)).toBe("redis://redis:6379");
  });
});

describe("the exporters' alerts, under promtool test rules", () => {
  const orionDb =
    'job="postgres", role="region-db", region="orion", stack="dev", instance="region-orion-db-exporter:9187"';
  const nexusDb = 'job="postgres", role="nexus-db", stack="dev", instance="nexus-db-exporter:9187"';
  const redis = 'job="redis", role="redis", stack="dev", instance="redis-exporter:9121"';
  const root = 'job="host", role="host", stack="dev", instance="node-exporter:9100", mountpoint="/", fstype="overlay"';
  const labels = (series: string) =>
    Object.fromEntries([...series.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));

  it.each([
    ["not while down for less than a minute (a blip)", "1x3 0x20", "1m45s", false],
    ["after a minute down", "1x3 0x20", "2m", true],
    ["no longer once it accepts connections again", "1x3 0x6 1x20", "4m", false],
  ])("RegionDatabaseDown: %s", (_name, values, at, fires) => {
    const result = runRuleTest(
      [{ series: `pg_up{${orionDb}}`, values }],
      [
        {
          eval_time: at,
          alertname: "RegionDatabaseDown",
          exp_alerts: fires
            ? [
                {
                  exp_labels: { ...labels(orionDb), severity: "critical" },
                  exp_annotations: { summary: "The database of region orion in stack dev does not accept connections" },
                },
              ]
            : [],
        },
      ],
    );
    expect(result.status, result.output).toBe(0);
  });

  it("NexusDatabaseDown, RedisDown and ExporterDown fire on their own series only", () => {
    const result = runRuleTest(
      [
        { series: `pg_up{${nexusDb}}`, values: "0x20" },
        { series: `pg_up{${orionDb}}`, values: "1x20" },
        { series: `redis_up{${redis}}`, values: "0x20" },
        { series: `up{${orionDb}}`, values: "0x20" },
        { series: `up{${nexusDb}}`, values: "1x20" },
      ],
      [
        {
          eval_time: "2m",
          alertname: "NexusDatabaseDown",
          exp_alerts: [
            {
              exp_labels: { ...labels(nexusDb), severity: "critical" },
              exp_annotations: { summary: "The nexus database in stack dev does not accept connections" },
            },
          ],
        },
        { eval_time: "2m", alertname: "RegionDatabaseDown", exp_alerts: [] },
        {
          eval_time: "2m",
          alertname: "RedisDown",
          exp_alerts: [
            {
              exp_labels: { ...labels(redis), severity: "critical" },
              exp_annotations: { summary: "Redis in stack dev does not answer" },
            },
          ],
        },
        {
          eval_time: "2m",
          alertname: "ExporterDown",
          exp_alerts: [
            {
              exp_labels: { ...labels(orionDb), severity: "critical" },
              exp_annotations: {
                summary:
                  "Prometheus cannot scrape the exporter of region-db of region orion in stack dev: its alerts are blind",
              },
            },
          ],
        },
      ],
    );
    expect(result.status, result.output).toBe(0);
  });

  it("ExporterMissing fires when a job found by name has no target left (its name resolves to none), not while one answers", () => {
    const host = 'job="host", stack="dev", role="host", instance="10.0.0.5:9100"';
    const result = runRuleTest(
      [{ series: `up{${host}}`, values: "1x20" }],
      [
        {
          eval_time: "2m",
          alertname: "ExporterMissing",
          exp_alerts: ["containers", "edge-requests"].map((job) => ({
            exp_labels: { job, severity: "critical" },
            exp_annotations: {
              summary: `Prometheus finds no ${job} exporter (its name resolves to none): its alerts are blind`,
            },
          })),
        },
      ],
    );
    expect(result.status, result.output).toBe(0);
  });

  it("RedisNearMaxmemory fires past 90% of maxmemory for 5 minutes, not below it, nor without a maxmemory", () => {
    const mb = 1024 * 1024;
    const other = redis.replace("redis-exporter:9121", "unlimited:9121");
    const result = runRuleTest(
      [
        { series: `redis_memory_used_bytes{${redis}}`, values: `${95 * mb}x40` },
        { series: `redis_memory_max_bytes{${redis}}`, values: `${100 * mb}x40` },
        { series: `redis_memory_used_bytes{${other}}`, values: `${95 * mb}x40` },
        { series: `redis_memory_max_bytes{${other}}`, values: "0x40" },
      ],
      [
        { eval_time: "4m", alertname: "RedisNearMaxmemory", exp_alerts: [] },
        {
          eval_time: "6m",
          alertname: "RedisNearMaxmemory",
          exp_alerts: [
            {
              exp_labels: { ...labels(redis), severity: "warning" },
              exp_annotations: {
                summary: "Redis in stack dev uses 95% of its maxmemory: raise redis.maxmemory or find what grew",
              },
            },
          ],
        },
      ],
    );
    expect(result.status, result.output).toBe(0);
  });

  it("DiskSpaceLow fires under 10% of the data root free, as df counts it (root's reserve left out), not above", () => {
    const gb = 1024 ** 3;
    // 100G, 10G reserved for root: 5G available of 85G used + 5G = 5.6% free, though `free` says 15G.
    const low = [
      { series: `node_filesystem_size_bytes{${root}}`, values: `${100 * gb}x40` },
      { series: `node_filesystem_free_bytes{${root}}`, values: `${15 * gb}x40` },
      { series: `node_filesystem_avail_bytes{${root}}`, values: `${5 * gb}x40` },
    ];
    const disk = (labelSet: string, free: number, avail: number) => [
      { series: `node_filesystem_size_bytes{${labelSet}}`, values: `${100 * gb}x40` },
      { series: `node_filesystem_free_bytes{${labelSet}}`, values: `${free * gb}x40` },
      { series: `node_filesystem_avail_bytes{${labelSet}}`, values: `${avail * gb}x40` },
    ];
    // 12G available of 88G used + 12G: 13.6% free, no alert; another mount point is not the data root.
    const fine = [
      ...disk(root.replace("node-exporter:9100", "roomy:9100"), 22, 12),
      ...disk(root.replace('mountpoint="/"', 'mountpoint="/data"'), 15, 5),
    ];
    const result = runRuleTest(
      [...low, ...fine],
      [
        {
          eval_time: "6m",
          alertname: "DiskSpaceLow",
          exp_alerts: [
            {
              exp_labels: { ...labels(root), severity: "critical" },
              exp_annotations: {
                summary: "The Docker data root of stack dev has 5.6% free: the databases stop when it is full",
              },
            },
          ],
        },
      ],
    );
    expect(result.status, result.output).toBe(0);
  });

  /** The one critical alert promtool must see firing at `evalTime` for orion's database, with its summary. */
  const firingOnOrionDb = (alertname: string, evalTime: string, summary: string) => ({
    eval_time: evalTime,
    alertname,
    exp_alerts: [{ exp_labels: { ...labels(orionDb), severity: "critical" }, exp_annotations: { summary } }],
  });

  it("WalArchiveBehind fires when WAL has waited past the limit (two archive timeouts) for a minute, not before", () => {
    const result = runRuleTest(
      [{ series: `pg_archive_oldest_waiting_seconds{${orionDb}}`, values: "0x4 30+15x20" }],
      [
        // 120 s is the limit: 135 s at 3m (30 s at 1m15s, 15 s more each 15 s), firing a minute later.
        { eval_time: "3m45s", alertname: "WalArchiveBehind", exp_alerts: [] },
        firingOnOrionDb(
          "WalArchiveBehind",
          "4m",
          "WAL of region-db of region orion in stack dev has waited 3m 15s to be archived (limit 120 s): is backup.repository reachable?",
        ),
      ],
    );
    expect(result.status, result.output).toBe(0);
  });

  it("BaseBackupTooOld fires when the newest base backup is older than the limit for a minute, and a new backup clears it", () => {
    // A backup that ended at 0, the next at 16m; the limit is 10 minutes.
    const result = runRuleTest(
      [{ series: `pg_base_backup_newest_time_seconds{${orionDb}}`, values: "0x63 960x20" }],
      [
        { eval_time: "10m45s", alertname: "BaseBackupTooOld", exp_alerts: [] },
        firingOnOrionDb(
          "BaseBackupTooOld",
          "11m15s",
          "The newest base backup of region-db of region orion in stack dev is 11m 15s old (limit 600 s): does the backup schedule run? (journalctl -u sectorwars-backup-dev)",
        ),
        { eval_time: "16m15s", alertname: "BaseBackupTooOld", exp_alerts: [] },
      ],
    );
    expect(result.status, result.output).toBe(0);
  });
});

describe("the backup rules' limits", () => {
  const archiving = (backup: object = {}) => {
    const repository = { url: "s3:https://s3.example.com/sectorwars-bk/dev", archiveTimeoutSeconds: 45 };
    const raw = { ...rawOf(devConfigWith(REGIONS)), monitoring: { enabled: true }, backup: { repository, ...backup } };
    const presentSecrets = new Set(["backupRepositoryPassword", "backupRepositoryCredentials"] as const);
    return planStack(parseConfig(raw, { presentSecrets }), "dev").monitoring;
  };

  it("WAL's is status's (two archive timeouts, at least a minute) where the stack archives, and absent where it does not", () => {
    expect(archiving()?.alerts.walWaitLimitSeconds).toBe(90);
    expect(exportersOf().plan.monitoring?.alerts.walWaitLimitSeconds).toBeNull();
  });

  it.each([
    ["a daily schedule", { schedule: "daily" }, 26 * 3600],
    ["an hourly one", { schedule: "hourly" }, 3 * 3600],
    ["no schedule (nothing promises backups)", { schedule: "off" }, null],
  ])("the base backup's is status's --max-backup-age, with %s", (_what, backup, limit) => {
    expect(archiving(backup)?.alerts.backupAgeLimitSeconds).toBe(limit);
  });

  it("the base backup's is absent, and so is its query, where the stack does not archive", () => {
    const { plan } = exportersOf();
    expect(plan.monitoring?.alerts.backupAgeLimitSeconds).toBeNull();
    expect(plan.monitoring?.exporters.databaseQueries).not.toContain("pg_base_backup");
    expect(archiving()?.exporters.databaseQueries).toContain(`pg_base_backup:\n  query: ${NEWEST_BASE_BACKUP_SQL}\n`);
  });
});
