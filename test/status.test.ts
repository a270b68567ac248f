/**
 * The status planner (planning/status/evaluation.ts with status/containerStats.ts and status/backups.ts): CPU and
 * memory from raw Docker stats, the backup directory, durations, the verdict per container and
 * the exit status, and the table. Example tables with hand-computed numbers and bad inputs, then
 * fast-check properties against independent oracles. No Docker here: status.docker.test.ts runs
 * the script on a real engine.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MANIFEST_FORMAT, backupName } from "../planning/backup/manifest";
import {
  BACKUP_AGE_SLACK_SECONDS,
  type BackupDirEntry,
  backupTime,
  defaultMaxBackupAgeSeconds,
  evaluateBackups,
  formatDuration,
  parseDuration,
} from "../planning/status/backups";
import { parseConfig } from "../planning/config";
import {
  type ContainerLimits,
  MEMORY_WARNING_PERCENT,
  type RawStats,
  cpuUse,
  memoryUse,
} from "../planning/status/containerStats";
import {
  type ExpectedContainer,
  type ObservedContainer,
  type StatusInput,
  evaluateStatus,
  exitStatus,
  expectedContainers,
  postgresLogin,
  renderStatusTable,
} from "../planning/status/evaluation";
import { allContainers, planStack } from "../planning/stack/topology";
import { LABEL_REGION, LABEL_ROLE, LABEL_STACK, type Role } from "../planning/roles";
import { formatBytes } from "../planning/units";
import { devConfigWith, generatedRegions, rawOf } from "./support/configs";

const NO_LIMITS: ContainerLimits = { nanoCpus: 0, cpuQuota: 0, cpuPeriod: 0, memoryBytes: 0 };
const MB = 1024 * 1024;
const NOW = new Date("2026-11-25T14:00:00Z");

/** Stats where the container used `cpuDelta` ns of CPU while the host's CPUs together used `systemDelta` ns. */
const cpuStats = (cpuDelta: number, systemDelta: number, online = 4): RawStats => ({
  cpu_stats: {
    cpu_usage: { total_usage: 10e9 + cpuDelta },
    system_cpu_usage: 900e9 + systemDelta,
    online_cpus: online,
  },
  precpu_stats: { cpu_usage: { total_usage: 10e9 }, system_cpu_usage: 900e9, online_cpus: online },
});

describe("CPU use from a stats sample", () => {
  // One second sampled on a 4-CPU host: the host's counter advances 4e9 ns, so 1e9 ns = one CPU.
  it.each([
    ["half a CPU against --cpus 1", cpuStats(0.5e9, 4e9), { ...NO_LIMITS, nanoCpus: 1e9 }, 0.5, 50, 1, "nanoCpus", 50],
    ["two CPUs, no limit (the host's 4)", cpuStats(2e9, 4e9), NO_LIMITS, 2, 200, 4, "host", 50],
    [
      "a quota of 50 ms per 100 ms",
      cpuStats(0.25e9, 4e9),
      { ...NO_LIMITS, cpuQuota: 50_000, cpuPeriod: 100_000 },
      0.25,
      25,
      0.5,
      "quota",
      50,
    ],
    [
      "a quota with the default period",
      cpuStats(0.25e9, 4e9),
      { ...NO_LIMITS, cpuQuota: 25_000 },
      0.25,
      25,
      0.25,
      "quota",
      100,
    ],
    ["--cpus above the host's count", cpuStats(1e9, 4e9), { ...NO_LIMITS, nanoCpus: 16e9 }, 1, 100, 4, "nanoCpus", 25],
    [
      "nanoCpus wins over a quota",
      cpuStats(1e9, 4e9),
      { ...NO_LIMITS, nanoCpus: 2e9, cpuQuota: 50_000 },
      1,
      100,
      2,
      "nanoCpus",
      50,
    ],
    ["an idle container", cpuStats(0, 4e9), { ...NO_LIMITS, nanoCpus: 5e8 }, 0, 0, 0.5, "nanoCpus", 0],
    ["more than the host (clock skew between the two counters)", cpuStats(6e9, 4e9), NO_LIMITS, 4, 400, 4, "host", 100],
  ] as const)("%s", (_, stats, limits, cpus, percent, limitCpus, limitSource, percentOfLimit) => {
    const use = cpuUse(stats, limits);
    expect(use).not.toBeNull();
    expect(use?.cpus).toBeCloseTo(cpus, 9);
    expect(use?.percent).toBeCloseTo(percent, 9);
    expect(use?.limitCpus).toBeCloseTo(limitCpus, 9);
    expect(use?.limitSource).toBe(limitSource);
    expect(use?.percentOfLimit).toBeCloseTo(percentOfLimit, 9);
  });

  it("counts the host's CPUs from percpu_usage when online_cpus is missing (older engines)", () => {
    const stats: RawStats = {
      cpu_stats: { cpu_usage: { total_usage: 2e9, percpu_usage: [1, 1] }, system_cpu_usage: 4e9 },
      precpu_stats: { cpu_usage: { total_usage: 1e9 }, system_cpu_usage: 2e9 },
    };
    expect(cpuUse(stats, NO_LIMITS)).toMatchObject({ cpus: 1, limitCpus: 2, percentOfLimit: 50 });
  });

  it.each([
    ["an empty sample", {}],
    ["a one-shot sample without precpu_stats", { cpu_stats: cpuStats(1e9, 4e9).cpu_stats }],
    ["no time passed on the host", cpuStats(1e9, 0)],
    ["the host's counter went backwards", cpuStats(1e9, -4e9)],
    ["the container's counter went backwards (it restarted)", cpuStats(-1e9, 4e9)],
    ["no CPU count at all", cpuStats(1e9, 4e9, 0)],
    [
      "a NaN counter",
      { ...cpuStats(1e9, 4e9), precpu_stats: { cpu_usage: { total_usage: Number.NaN }, system_cpu_usage: 1 } },
    ],
  ] as [string, RawStats][])("is null for %s", (_, stats) => {
    expect(cpuUse(stats, { ...NO_LIMITS, nanoCpus: 1e9 })).toBeNull();
  });

  it("is never negative and never more than the host's CPUs, whatever the counters say", () => {
    const counter = fc.oneof(fc.double({ min: -1e15, max: 1e15, noNaN: true }), fc.constant(0));
    fc.assert(
      fc.property(
        counter,
        counter,
        counter,
        counter,
        fc.integer({ min: 0, max: 256 }),
        fc.record({
          nanoCpus: fc.nat(),
          cpuQuota: fc.nat(),
          cpuPeriod: fc.nat(),
          memoryBytes: fc.constant(0),
        }),
        (total, totalBefore, system, systemBefore, online, limits) => {
          const use = cpuUse(
            {
              cpu_stats: { cpu_usage: { total_usage: total }, system_cpu_usage: system, online_cpus: online },
              precpu_stats: { cpu_usage: { total_usage: totalBefore }, system_cpu_usage: systemBefore },
            },
            limits,
          );
          if (use === null) return;
          expect(use.percent).toBeGreaterThanOrEqual(0);
          expect(use.percent).toBeLessThanOrEqual(online * 100 * (1 + 1e-12));
          expect(use.limitCpus).toBeGreaterThan(0);
          expect(use.limitCpus).toBeLessThanOrEqual(online);
          expect(use.percentOfLimit).toBeGreaterThanOrEqual(0);
          expect(use.percentOfLimit * use.limitCpus).toBeCloseTo(use.percent, 6);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("memory use from a stats sample", () => {
  it.each([
    [
      "cgroup v1: usage minus total_inactive_file, against --memory",
      { usage: 300 * MB, limit: 8192 * MB, stats: { total_inactive_file: 100 * MB, cache: 150 * MB } },
      512 * MB,
      { usageBytes: 200 * MB, limitBytes: 512 * MB, limitSource: "container" },
    ],
    [
      "cgroup v2: usage minus inactive_file",
      { usage: 300 * MB, limit: 512 * MB, stats: { inactive_file: 44 * MB } },
      512 * MB,
      { usageBytes: 256 * MB, limitBytes: 512 * MB, percentOfLimit: 50 },
    ],
    [
      "no --memory: the cgroup's limit, which is the host's memory",
      { usage: 1024 * MB, limit: 16384 * MB, stats: {} },
      0,
      { usageBytes: 1024 * MB, limitBytes: 16384 * MB, limitSource: "host", percentOfLimit: 6.25 },
    ],
    [
      "a cache figure at or above the usage is not subtracted",
      { usage: 100 * MB, stats: { total_inactive_file: 100 * MB, inactive_file: 200 * MB } },
      100 * MB,
      { usageBytes: 100 * MB, percentOfLimit: 100 },
    ],
  ] as const)("%s", (_, memory_stats, memoryBytes, expected) => {
    expect(memoryUse({ memory_stats }, { ...NO_LIMITS, memoryBytes })).toMatchObject(expected);
  });

  it.each([
    ["an empty sample", {}, 512 * MB],
    ["no usage figure", { memory_stats: { limit: 512 * MB } }, 512 * MB],
    ["a negative usage", { memory_stats: { usage: -1 } }, 512 * MB],
    ["no limit anywhere", { memory_stats: { usage: 10 * MB, limit: 0 } }, 0],
  ] as [string, RawStats, number][])("is null for %s", (_, stats, memoryBytes) => {
    expect(memoryUse(stats, { ...NO_LIMITS, memoryBytes })).toBeNull();
  });

  it("never counts less than nothing nor more than the kernel reported", () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 2 ** 40 }),
        fc.option(fc.nat({ max: 2 ** 41 })),
        fc.option(fc.nat({ max: 2 ** 41 })),
        fc.integer({ min: 1, max: 2 ** 40 }),
        (usage, v1, v2, limit) => {
          const stats: Record<string, number> = {};
          if (v1 !== null) stats.total_inactive_file = v1;
          if (v2 !== null) stats.inactive_file = v2;
          const use = memoryUse({ memory_stats: { usage, stats } }, { ...NO_LIMITS, memoryBytes: limit });
          expect(use).not.toBeNull();
          expect(use?.usageBytes).toBeGreaterThanOrEqual(0);
          expect(use?.usageBytes).toBeLessThanOrEqual(usage);
          expect(use?.percentOfLimit).toBeCloseTo(((use?.usageBytes ?? 0) / limit) * 100, 9);
        },
      ),
    );
  });
});

describe("durations and the backup threshold", () => {
  it.each([
    ["26h", 26 * 3600],
    ["90m", 5400],
    ["1d12h", 36 * 3600],
    ["2w", 14 * 86_400],
    ["45s", 45],
    ["3600", 3600],
    [" 1h30m ", 5400],
  ])("parses %j as %d seconds", (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it.each(["", "h", "1.5h", "-1h", "1y", "1h 30m", "soon", "26H", "99999999999999999999d"])("rejects %j", (text) => {
    expect(() => parseDuration(text)).toThrow(/duration/);
  });

  it.each([
    [0, "0s"],
    [59, "59s"],
    [61, "1m1s"],
    [26 * 3600, "1d2h"],
    [26 * 3600 + 59, "1d2h"],
    [-90, "-1m30s"],
  ])("formats %d seconds as %s", (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });

  it("formats durations that parse back to what they said, less than an hour lost", () => {
    fc.assert(
      fc.property(fc.nat({ max: 10 * 365 * 86_400 }), (seconds) => {
        const back = parseDuration(formatDuration(seconds));
        expect(back).toBeLessThanOrEqual(seconds);
        expect(seconds - back).toBeLessThan(seconds < 3600 ? 1 : 3600);
      }),
    );
  });

  it.each([
    ["daily", 26 * 3600],
    ["Daily", 26 * 3600],
    ["hourly", 3 * 3600],
    ["weekly", 7 * 86_400 + BACKUP_AGE_SLACK_SECONDS],
    ["*-*-* 03:30:00 UTC", 26 * 3600],
    ["off", null],
    [" OFF ", null],
  ])("defaults --max-backup-age for the schedule %j to %j seconds", (schedule, seconds) => {
    expect(defaultMaxBackupAgeSeconds(schedule)).toBe(seconds);
  });

  it.each([
    ["20261125T140000Z", "2026-11-25T14:00:00.000Z"],
    ["20240229T235959Z", "2024-02-29T23:59:59.000Z"],
    ["20261301T000000Z", null],
    ["20250229T000000Z", null],
    ["20261125T240000Z", null],
    ["20261125T140000", null],
    ["2026-11-25T14:00:00Z", null],
  ])("reads the time of the backup name %j as %j", (name, iso) => {
    expect(backupTime(name)?.toISOString() ?? null).toBe(iso);
  });
});

// --- Backups ------------------------------------------------------------------------------

const manifest = (name: string, stack = "prod") =>
  JSON.stringify({ format: MANIFEST_FORMAT, stack, name, createdAt: "2026-11-25T00:00:00Z", files: [] });
const backup = (name: string, text: string | null = manifest(name)): BackupDirEntry => ({
  name,
  isDirectory: true,
  manifestText: text,
});
const backupInput = (
  entries: BackupDirEntry[] | null,
  maxAgeSeconds: number | null = 26 * 3600,
): StatusInput["backup"] => ({ dir: "/var/backups/sectorwars/prod", schedule: "daily", maxAgeSeconds, entries });

describe("the newest complete backup", () => {
  it("is the newest directory with a valid manifest; partial runs, files and strangers do not count", () => {
    const [report, findings] = evaluateBackups(
      backupInput([
        backup("20261124T030000Z"),
        backup("20261125T030000Z"),
        backup("20261123T030000Z"),
        { name: ".partial-20261125T130000Z-4242", isDirectory: true, manifestText: null },
        { name: "20261125T133000Z", isDirectory: false, manifestText: null },
        { name: "lost+found", isDirectory: true, manifestText: null },
      ]),
      "prod",
      NOW,
    );
    expect(report).toMatchObject({
      newest: { name: "20261125T030000Z", time: "2026-11-25T03:00:00.000Z", ageSeconds: 11 * 3600 },
      complete: 3,
      partial: 1,
      rejected: [],
      dirExists: true,
    });
    expect(findings).toEqual([]);
  });

  it.each([
    ["no manifest", backup("20261125T130000Z", null), /no readable manifest/],
    ["a manifest that is not JSON", backup("20261125T130000Z", "{"), /not valid JSON/],
    ["another format", backup("20261125T130000Z", '{"format":"other/1"}'), /not a sectorwars-backup\/1 manifest/],
    ["another backup's manifest", backup("20261125T130000Z", manifest("20261124T030000Z")), /names another backup/],
    ["another stack's manifest", backup("20261125T130000Z", manifest("20261125T130000Z", "dev")), /stack dev/],
    ["a name that is no time", backup("20261399T130000Z"), /not a valid UTC time/],
  ])("rejects a directory with %s, with a warning, and takes the older complete one", (_, entry, reason) => {
    const [report, findings] = evaluateBackups(backupInput([backup("20261125T030000Z"), entry]), "prod", NOW);
    expect(report.newest?.name).toBe("20261125T030000Z");
    expect(report.rejected).toEqual([{ name: entry.name, reason: expect.stringMatching(reason) }]);
    expect(findings).toEqual([{ severity: "warning", subject: "backups", message: expect.stringMatching(reason) }]);
  });

  it.each([
    ["one just within the threshold", [backup("20261124T120000Z")], 26 * 3600, []],
    ["one just beyond it", [backup("20261124T115959Z")], 26 * 3600, [/is 1d2h old, more than 1d2h/]],
    ["none at all", [], 26 * 3600, [/no complete backup in/]],
    [
      "only a partial one",
      [{ name: ".partial-20261125T130000Z-1", isDirectory: true, manifestText: null }],
      3600,
      [/no complete backup/],
    ],
    ["no directory", null, 3600, [/no backup directory/]],
    ["none, with no threshold (schedule off)", [], null, []],
    ["an old one, with no threshold", [backup("20200101T000000Z")], null, []],
  ] as [string, BackupDirEntry[] | null, number | null, RegExp[]][])(
    "with %s: unhealthy findings %j",
    (_, entries, maxAge, expected) => {
      const [, findings] = evaluateBackups(backupInput(entries, maxAge), "prod", NOW);
      expect(findings.map((f) => f.severity)).toEqual(expected.map(() => "unhealthy"));
      expected.forEach((pattern, i) => expect(findings[i]?.message).toMatch(pattern));
    },
  );

  it("warns about a backup from the future (a clock is wrong) without failing", () => {
    const [report, findings] = evaluateBackups(backupInput([backup("20261125T150000Z")]), "prod", NOW);
    expect(report.newest?.ageSeconds).toBe(-3600);
    expect(findings).toEqual([
      expect.objectContaining({ severity: "warning", message: expect.stringMatching(/future/) }),
    ]);
  });
});

// --- Containers ---------------------------------------------------------------------------

const labels = (role: Role, region?: string): Record<string, string> => ({
  [LABEL_STACK]: "prod",
  [LABEL_ROLE]: role,
  ...(region === undefined ? {} : { [LABEL_REGION]: region }),
});

const running = (name: string, role: Role, extra: Partial<ObservedContainer> = {}): ObservedContainer => ({
  name,
  labels: labels(role),
  state: "running",
  exitCode: 0,
  oomKilled: false,
  health: null,
  restartCount: 0,
  limits: { ...NO_LIMITS, nanoCpus: 1e9, memoryBytes: 512 * MB },
  stats: { ...cpuStats(0.1e9, 4e9), memory_stats: { usage: 100 * MB, stats: {} } },
  ...extra,
});

const input = (
  containers: ObservedContainer[],
  expected: ExpectedContainer[] = containers.map((c) => ({
    name: c.name,
    role: c.labels[LABEL_ROLE] as Role,
    region: c.labels[LABEL_REGION] ?? null,
  })),
  backupEntries: BackupDirEntry[] | null = [backup("20261125T030000Z")],
): StatusInput => ({
  stack: "prod",
  now: NOW,
  expected,
  containers,
  volumes: [],
  backup: backupInput(backupEntries),
  disk: { minFree: null, observed: [] },
});

describe("the verdict on containers", () => {
  it("is healthy when every planned container runs, passes its health check and answers", () => {
    const report = evaluateStatus(
      input([
        running("sw_nexus_db", "nexus-db", { health: "healthy", postgres: { connections: 3 } }),
        running("sw_redis", "redis", { health: "healthy" }),
        running("sw_admin", "admin-ui"),
      ]),
    );
    expect(report.findings).toEqual([]);
    expect(report.healthy).toBe(true);
    expect(exitStatus(report)).toBe(0);
    expect(report.containers.map((c) => c.verdict)).toEqual(["ok", "ok", "ok"]);
    expect(report.containers[0]).toMatchObject({ postgresConnections: 3, restarts: 0, planned: true });
    expect(report.containers[0]?.cpu?.percentOfLimit).toBeCloseTo(10, 9);
    expect(report.containers[0]?.memory?.percentOfLimit).toBeCloseTo(100 / 5.12, 9);
  });

  it.each([
    ["exited", { state: "exited", exitCode: 1 }, /is exited \(exit code 1\), not running/],
    [
      "OOM-killed",
      { state: "exited", exitCode: 137, oomKilled: true },
      /exit code 137, killed for running out of memory/,
    ],
    ["restarting", { state: "restarting" }, /is restarting, not running/],
    ["paused", { state: "paused" }, /is paused, not running/],
    ["created, never started", { state: "created" }, /is created, not running/],
    ["unhealthy", { health: "unhealthy" }, /health is unhealthy/],
    ["still starting", { health: "starting" }, /has not passed yet/],
    [
      "a failed psql",
      { postgres: { error: "psql: FATAL: role missing" } },
      /counting PostgreSQL connections failed: psql: FATAL/,
    ],
  ] as [string, Partial<ObservedContainer>, RegExp][])(
    "is unhealthy (exit 1) for a database container that is %s",
    (_, override, message) => {
      const report = evaluateStatus(input([running("sw_nexus_db", "nexus-db", { health: "healthy", ...override })]));
      expect(exitStatus(report)).toBe(1);
      expect(report.healthy).toBe(false);
      expect(report.containers[0]?.verdict).toBe("unhealthy");
      expect(report.findings).toContainEqual({
        severity: "unhealthy",
        subject: "sw_nexus_db",
        message: expect.stringMatching(message),
      });
    },
  );

  it("leaves CPU, memory and connections out for a container that does not run", () => {
    const report = evaluateStatus(
      input([running("sw_nexus_db", "nexus-db", { state: "exited", postgres: { connections: 9 } })]),
    );
    expect(report.containers[0]).toMatchObject({ cpu: null, memory: null, postgresConnections: null });
  });

  it.each([
    [
      "memory at the warning threshold",
      { stats: { memory_stats: { usage: (512 * MB * MEMORY_WARNING_PERCENT) / 100 } } },
      /memory at 90% of its container limit \(512M\)/,
    ],
    ["a restart", { restartCount: 2 }, /restarted 2 times/],
  ] as [string, Partial<ObservedContainer>, RegExp][])("only warns (exit 0) about %s", (_, override, message) => {
    const report = evaluateStatus(input([running("sw_redis", "redis", override)]));
    expect(exitStatus(report)).toBe(0);
    expect(report.containers[0]?.verdict).toBe("warning");
    expect(report.findings).toEqual([
      { severity: "warning", subject: "sw_redis", message: expect.stringMatching(message) },
    ]);
  });

  it("does not warn just below the memory threshold", () => {
    const usage = Math.floor((512 * MB * MEMORY_WARNING_PERCENT) / 100) - 1;
    const report = evaluateStatus(input([running("sw_redis", "redis", { stats: { memory_stats: { usage } } })]));
    expect(report.findings).toEqual([]);
  });

  it("matches planned containers by role and region labels, not by name, and reports the missing ones", () => {
    const expected: ExpectedContainer[] = [
      { name: "sw_region_orion_db", role: "region-db", region: "orion" },
      { name: "sw_region_vega_db", role: "region-db", region: "vega" },
      { name: "sw_redis", role: "redis", region: null },
    ];
    const renamed = running("renamed_orion_db", "region-db", {
      labels: labels("region-db", "orion"),
      postgres: { connections: 1 },
    });
    const report = evaluateStatus(input([running("sw_redis", "redis"), renamed], expected));
    expect(report.containers.map((c) => [c.name, c.state, c.planned])).toEqual([
      ["renamed_orion_db", "running", true],
      ["sw_region_vega_db", "missing", true],
      ["sw_redis", "running", true],
    ]);
    expect(exitStatus(report)).toBe(1);
    expect(report.findings).toEqual([
      {
        severity: "unhealthy",
        subject: "sw_region_vega_db",
        message: "the plan declares it (role region-db, region vega) but no such container exists",
      },
    ]);
  });

  it("lists a labelled container outside the plan, and a second one of a planned role, with a warning", () => {
    const report = evaluateStatus(
      input(
        [
          running("sw_redis", "redis"),
          running("sw_redis_old", "redis"),
          running("sw_region_gone", "region-api", { labels: labels("region-api", "gone") }),
        ],
        [{ name: "sw_redis", role: "redis", region: null }],
      ),
    );
    expect(report.containers.map((c) => [c.name, c.planned, c.verdict])).toEqual([
      ["sw_redis", true, "ok"],
      ["sw_redis_old", false, "warning"],
      ["sw_region_gone", false, "warning"],
    ]);
    expect(exitStatus(report)).toBe(0);
  });
});

describe("the plan's containers and logins", () => {
  const config = parseConfig(
    rawOf({
      ...devConfigWith(generatedRegions(3)),
      "sectorwars:regions": generatedRegions(3).map((r, i) => (i === 2 ? { ...r, state: "retired" } : r)),
    }),
    { presentSecrets: new Set() },
  );
  const plan = planStack(config, "dev");

  it("expects every container of the plan, none of a retired region", () => {
    const expected = expectedContainers(plan);
    expect(expected.map((e) => e.name)).toEqual(allContainers(plan).map((c) => c.containerName));
    expect(expected).toHaveLength(7 + 2 * 2);
    expect(expected.some((e) => e.region === "sector-002")).toBe(false);
    expect(expected).toContainEqual({
      name: "sectorwars-dev_region_sector-001_db",
      role: "region-db",
      region: "sector-001",
    });
  });

  it.each([
    ["the nexus database", labels("nexus-db"), {}, { user: "nexus_user", database: "nexus_db" }],
    [
      "a region's database",
      labels("region-db", "sector-001"),
      {},
      { user: "region_sector_001_user", database: "region_sector_001" },
    ],
    [
      "a database outside the plan, by its env",
      labels("region-db", "gone"),
      { POSTGRES_USER: "u", POSTGRES_DB: "d" },
      { user: "u", database: "d" },
    ],
    [
      "a database outside the plan without env",
      labels("region-db", "gone"),
      {},
      { user: "postgres", database: "postgres" },
    ],
  ])("logs in to %s", (_, containerLabels, env, login) => {
    expect(postgresLogin(plan, containerLabels, env)).toEqual(login);
  });
});

// --- Properties over whole reports --------------------------------------------------------

const ROLES: Role[] = [
  "nexus-api",
  "nexus-db",
  "region-api",
  "region-db",
  "redis",
  "nginx",
  "admin-ui",
  "player-ui",
  "paypal",
];
const STATES = ["running", "exited", "restarting", "paused", "created", "dead"];
const HEALTH = [null, "healthy", "unhealthy", "starting"];

const observedArb: fc.Arbitrary<ObservedContainer> = fc
  .record({
    id: fc.nat({ max: 10_000 }),
    role: fc.constantFrom(...ROLES),
    region: fc.option(fc.constantFrom("orion", "vega")),
    state: fc.constantFrom(...STATES),
    health: fc.constantFrom(...HEALTH),
    restartCount: fc.nat({ max: 3 }),
    memoryUsage: fc.nat({ max: 600 }),
    postgres: fc.option(fc.oneof(fc.record({ connections: fc.nat({ max: 100 }) }), fc.record({ error: fc.string() }))),
  })
  .map((r) => ({
    ...running(`c${r.id}`, r.role),
    labels: labels(r.role, r.region ?? undefined),
    state: r.state,
    health: r.health,
    restartCount: r.restartCount,
    stats: { ...cpuStats(0.1e9, 4e9), memory_stats: { usage: r.memoryUsage * MB } },
    ...(r.postgres === null ? {} : { postgres: r.postgres }),
  }));

const expectedArb: fc.Arbitrary<ExpectedContainer[]> = fc
  .uniqueArray(fc.record({ role: fc.constantFrom(...ROLES), region: fc.option(fc.constantFrom("orion", "vega")) }), {
    selector: (e) => `${e.role}/${e.region}`,
    maxLength: 8,
  })
  .map((list) => list.map((e) => ({ ...e, name: `planned_${e.role}_${e.region ?? "core"}` })));

const backupArb: fc.Arbitrary<{ entries: BackupDirEntry[]; maxAge: number | null }> = fc.record({
  entries: fc.array(
    fc.oneof(
      fc
        .integer({ min: 0, max: 200 })
        .map((hoursAgo) => backup(backupName(new Date(NOW.getTime() - hoursAgo * 3600_000)))),
      fc.constant(backup("20261125T000000Z", "{")),
      fc.constant<BackupDirEntry>({ name: ".partial-20261125T130000Z-7", isDirectory: true, manifestText: null }),
    ),
    { maxLength: 4 },
  ),
  maxAge: fc.option(fc.integer({ min: 3600, max: 100 * 3600 })),
});

const key = (role: string | null, region: string | null) => `${role}/${region}`;

describe("properties of whole reports", () => {
  const reportArb = fc.record({
    observed: fc.uniqueArray(observedArb, { selector: (c) => c.name, maxLength: 10 }),
    expected: expectedArb,
    backup: backupArb,
  });

  it("exits 1 exactly when a planned container is missing, one does not run or fails its check or psql, or the backup is too old", () => {
    fc.assert(
      fc.property(reportArb, ({ observed, expected, backup: b }) => {
        const report = evaluateStatus({ ...input(observed, expected), backup: backupInput(b.entries, b.maxAge) });
        // An oracle written from the rules, not from the implementation's findings.
        const keys = observed.map((c) => key(c.labels[LABEL_ROLE] ?? null, c.labels[LABEL_REGION] ?? null));
        const missing = expected.some((e) => !keys.includes(key(e.role, e.region)));
        const badContainer = observed.some(
          (c) =>
            c.state !== "running" ||
            (c.health !== null && c.health !== "healthy") ||
            (c.labels[LABEL_ROLE]?.endsWith("-db") === true && c.postgres !== undefined && "error" in c.postgres),
        );
        const ages = b.entries
          .filter((e) => e.manifestText !== "{" && !e.name.startsWith("."))
          .map((e) => (NOW.getTime() - (backupTime(e.name)?.getTime() ?? 0)) / 1000);
        const backupBad = b.maxAge !== null && (ages.length === 0 || Math.min(...ages) > b.maxAge);
        expect(exitStatus(report)).toBe(missing || badContainer || backupBad ? 1 : 0);
        expect(report.healthy).toBe(exitStatus(report) === 0);
        expect(exitStatus(report) === 1).toBe(report.findings.some((f) => f.severity === "unhealthy"));
      }),
      { numRuns: 400 },
    );
  });

  it("has one row per observed container plus one per missing planned one, each name once", () => {
    fc.assert(
      fc.property(reportArb, ({ observed, expected }) => {
        const report = evaluateStatus(input(observed, expected));
        const names = report.containers.map((c) => c.name);
        expect(new Set(names).size).toBe(names.length);
        for (const c of observed) expect(names).toContain(c.name);
        const missing = report.containers.filter((c) => c.state === "missing");
        expect(report.containers).toHaveLength(observed.length + missing.length);
        expect(report.containers.filter((c) => c.planned)).toHaveLength(expected.length);
      }),
    );
  });

  it("renders a table with one aligned row per container, in the report's order", () => {
    fc.assert(
      fc.property(reportArb, ({ observed, expected }) => {
        const report = evaluateStatus(input(observed, expected));
        const lines = renderStatusTable(report).split("\n");
        const header = lines.findIndex((l) => l.startsWith("CONTAINER "));
        const rows = lines.slice(header + 1, header + 1 + report.containers.length);
        expect(lines[header + 1 + report.containers.length]).toBe("");
        expect(rows.map((l) => l.split(" ")[0])).toEqual(report.containers.map((c) => c.name));
        // Right-aligned columns end where their header ends; left-aligned ones start where it starts.
        const headerLine = lines[header] ?? "";
        const pgEnd = headerLine.indexOf("PG CONNS") + "PG CONNS".length;
        const statusStart = headerLine.indexOf("STATUS");
        for (const [i, l] of rows.entries()) {
          const c = report.containers[i];
          expect(l.slice(statusStart)).toBe({ ok: "ok", warning: "WARN", unhealthy: "UNHEALTHY" }[c?.verdict ?? "ok"]);
          expect(
            l
              .slice(0, pgEnd)
              .trimEnd()
              .endsWith(c?.postgresConnections === null ? "-" : String(c?.postgresConnections)),
          ).toBe(true);
        }
      }),
    );
  });
});

describe("the table", () => {
  it("shows figures, volumes, the backup and every finding, and ends with the verdict", () => {
    const report = evaluateStatus({
      ...input(
        [
          running("sw_nexus_db", "nexus-db", { health: "healthy", postgres: { connections: 12 } }),
          running("sw_paypal", "paypal", { state: "exited", exitCode: 2 }),
        ],
        undefined,
        [backup("20261125T030000Z"), { name: ".partial-20261125T130000Z-1", isDirectory: true, manifestText: null }],
      ),
      volumes: [{ name: "sw_nexus_db_data", labels: labels("nexus-db"), size: 45 * MB + 100 * 1024, refCount: 1 }],
    });
    const text = renderStatusTable(report);
    expect(text).toMatch(
      /^sw_nexus_db +nexus-db +- +running +healthy +0\.1\/1 \(10%\) +100M\/512M \(20%\) +0 +12 {2}ok$/m,
    );
    expect(text).toMatch(/^sw_paypal +paypal +- +exited +- +- +- +0 +- {2}UNHEALTHY$/m);
    expect(text).toMatch(/^sw_nexus_db_data +nexus-db +- +45\.1M +1$/m);
    expect(text).toContain(
      "Backups in /var/backups/sectorwars/prod (schedule daily, at most 1d2h old): newest 20261125T030000Z, 11h old; 1 complete, 1 partial",
    );
    expect(text).toContain("  UNHEALTHY  sw_paypal: is exited (exit code 2), not running\n");
    expect(text.endsWith("UNHEALTHY: 1 problem.\n")).toBe(true);
  });

  it.each([
    [0, "0B"],
    [1023, "1023B"],
    [1536, "1.5K"],
    [256 * MB, "256M"],
    [1.25 * 1024 * MB, "1.3G"],
  ])("writes %d bytes as %s", (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});
