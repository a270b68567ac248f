/**
 * The disk planner (planning/status/disk.ts): the --min-free threshold, figures from statfs and
 * from `df -P -k`, where the data root is measured, which image measures it on the engine's host,
 * and the verdict per path. Example tables with hand-computed numbers, then fast-check properties
 * against oracles in exact integer arithmetic. status.docker.test.ts measures a real disk.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_MIN_FREE,
  type DiskSpace,
  type MinFree,
  type ObservedDisk,
  dataRootSite,
  diskProbeImage,
  diskSpaceFromStatfs,
  evaluateDisks,
  formatMinFree,
  freePercent,
  isBelowMinimum,
  parseDfOutput,
  parseMinFree,
  renderDiskTable,
} from "../planning/status/disk";
import { type StatusInput, evaluateStatus, exitStatus, renderStatusTable } from "../planning/status/evaluation";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const TiB = 1024 * GiB;

const space = (totalBytes: number, usedBytes: number, availableBytes: number): DiskSpace => ({
  totalBytes,
  usedBytes,
  availableBytes,
});

type Measured = Extract<ObservedDisk["measurement"], { space: DiskSpace }>;

const local = (path: string, s: DiskSpace, measuredPath = path): Measured => ({
  measuredOn: "local",
  measuredPath,
  space: s,
});

describe("--min-free", () => {
  it.each([
    ["10%", { percent: 10 }],
    ["2.5%", { percent: 2.5 }],
    [" 10 % ", { percent: 10 }],
    ["0%", { percent: 0 }],
    ["100%", { percent: 100 }],
    ["20G", { bytes: 20 * GiB }],
    ["20g", { bytes: 20 * GiB }],
    ["20GiB", { bytes: 20 * GiB }],
    ["20GB", { bytes: 20 * GiB }],
    ["500M", { bytes: 500 * MiB }],
    ["1.5T", { bytes: 1.5 * TiB }],
    ["512K", { bytes: 512 * KiB }],
    ["512B", { bytes: 512 }],
    ["0G", { bytes: 0 }],
    ["off", null],
    [" OFF ", null],
  ] as [string, MinFree | null][])("parses %j as %j", (text, expected) => {
    expect(parseMinFree(text)).toEqual(expected);
  });

  it.each([
    ["", /not a minimum of free space/],
    ["ten", /"ten" is not a minimum of free space such as 10% or 20G/],
    ["10", /"10" needs a unit/],
    ["2.5", /needs a unit/],
    ["101%", /more than 100%/],
    ["-5%", /not a minimum/],
    ["10 percent", /not a minimum/],
    ["20X", /not a minimum/],
    ["1e3G", /not a minimum/],
    ["%", /not a minimum/],
    ["G", /not a minimum/],
    ["20iB", /not a minimum/],
    ["99999999P", /too large/],
  ])("rejects %j", (text, message) => {
    expect(() => parseMinFree(text)).toThrow(message);
  });

  it("defaults to a share, 10%", () => {
    expect(DEFAULT_MIN_FREE).toEqual({ percent: 10 });
  });

  it("writes a threshold that parses back to itself (percent) or to within the rounding of its size", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer({ min: 0, max: 1000 }).map((tenths): MinFree => ({ percent: tenths / 10 })),
          fc.integer({ min: 0, max: 2 ** 50 }).map((bytes): MinFree => ({ bytes })),
        ),
        (min) => {
          const back = parseMinFree(formatMinFree(min));
          if ("percent" in min) expect(back).toEqual(min);
          else {
            expect(back).not.toBeNull();
            const bytes = back !== null && "bytes" in back ? back.bytes : Number.NaN;
            // formatBytes keeps three significant digits or one decimal: within 5%, or exact below 1K.
            expect(Math.abs(bytes - min.bytes)).toBeLessThanOrEqual(min.bytes * 0.05);
          }
        },
      ),
    );
  });
});

describe("figures", () => {
  it("takes statfs's blocks as df does: size, size minus free, and available to non-root", () => {
    expect(diskSpaceFromStatfs({ bsize: 4096, blocks: 1000, bfree: 300, bavail: 250 })).toEqual(
      space(4_096_000, 2_867_200, 1_024_000),
    );
  });

  it.each([
    [
      "GNU coreutils",
      "Filesystem     1024-blocks     Used Available Capacity Mounted on\n/dev/vda         264212084 17717112  77784152      19% /var/lib/docker\n",
      space(264212084 * KiB, 17717112 * KiB, 77784152 * KiB),
    ],
    [
      "busybox (Alpine images)",
      "Filesystem           1024-blocks    Used Available Capacity Mounted on\noverlay                 10255636   26676   9688288   0% /sectorwars-data-root\n",
      space(10255636 * KiB, 26676 * KiB, 9688288 * KiB),
    ],
    [
      "a device and a mount point with spaces",
      "Filesystem 1024-blocks Used Available Capacity Mounted on\nmy disk 100 60 40 60% /mnt/my data\n",
      space(100 * KiB, 60 * KiB, 40 * KiB),
    ],
    [
      "a file system that reports no capacity",
      "Filesystem 1024-blocks Used Available Capacity Mounted on\nnone 0 0 0 - /probe",
      space(0, 0, 0),
    ],
  ])("reads df -P -k from %s", (_, text, expected) => {
    expect(parseDfOutput(text)).toEqual(expected);
  });

  it.each([
    ["nothing", ""],
    ["an error", "df: /probe: No such file or directory\n"],
    [
      "human-readable sizes",
      "Filesystem      Size  Used Avail Use% Mounted on\n/dev/vda        252G   17G   75G  19% /var/lib/docker\n",
    ],
    [
      "two file systems",
      "Filesystem 1024-blocks Used Available Capacity Mounted on\na 1 1 0 100% /a\nb 1 1 0 100% /b\n",
    ],
    ["a header only", "Filesystem 1024-blocks Used Available Capacity Mounted on\n"],
  ])("rejects df output with %s, quoting it", (_, text) => {
    expect(() => parseDfOutput(text)).toThrow(/unexpected df output/);
  });

  it.each([
    // 10G available of 95G usable (5G reserved for root): 10.53% free, as df's Use% 90% says.
    ["reserved blocks count as neither", space(100 * GiB, 85 * GiB, 10 * GiB), 1000 / 95],
    ["an empty disk", space(100 * GiB, 0, 100 * GiB), 100],
    ["a full one", space(100 * GiB, 100 * GiB, 0), 0],
    ["a file system of no size", space(0, 0, 0), 0],
  ])("free share: %s", (_, s, percent) => {
    expect(freePercent(s)).toBeCloseTo(percent, 9);
  });

  it("is 100 minus df's Use%, which df rounds up", () => {
    fc.assert(
      fc.property(fc.nat({ max: 2 ** 40 }), fc.nat({ max: 2 ** 40 }), (usedKiB, availKiB) => {
        fc.pre(usedKiB + availKiB > 0);
        // df (coreutils' and busybox's): Use% = ceil(used * 100 / (used + available)).
        const capacity = Math.ceil((usedKiB * 100) / (usedKiB + availKiB));
        const text = `Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/x ${usedKiB + availKiB} ${usedKiB} ${availKiB} ${capacity}% /probe\n`;
        const used = 100 - freePercent(parseDfOutput(text));
        expect(used).toBeLessThanOrEqual(capacity + 1e-9);
        expect(used).toBeGreaterThan(capacity - 1 - 1e-9);
      }),
    );
  });

  it.each([
    ["exactly the minimum share", space(100, 90, 10), { percent: 10 }, false],
    ["just under it", space(1000, 901, 99), { percent: 10 }, true],
    ["10.5% against 11%", space(100 * GiB, 85 * GiB, 10 * GiB), { percent: 11 }, true],
    ["10.5% against 10%", space(100 * GiB, 85 * GiB, 10 * GiB), { percent: 10 }, false],
    ["exactly the minimum amount", space(100 * GiB, 80 * GiB, 20 * GiB), { bytes: 20 * GiB }, false],
    ["a byte short of it", space(100 * GiB, 80 * GiB, 20 * GiB - 1), { bytes: 20 * GiB }, true],
    ["no size against a share", space(0, 0, 0), { percent: 10 }, true],
    ["anything against 0%", space(0, 0, 0), { percent: 0 }, false],
    ["anything against 0 bytes", space(0, 0, 0), { bytes: 0 }, false],
    ["a used disk against 100%", space(100, 1, 99), { percent: 100 }, true],
  ] as [string, DiskSpace, MinFree, boolean][])("below the minimum: %s → %s", (_, s, min, below) => {
    expect(isBelowMinimum(s, min)).toBe(below);
  });
});

describe("where the data root is measured", () => {
  it.each([
    ["the local socket, this machine's engine", { unixSocket: true, engineName: "vm", localHostname: "vm" }, "local"],
    ["host names differ only in case", { unixSocket: true, engineName: "Game-1", localHostname: "game-1" }, "local"],
    [
      "Docker Desktop's VM behind a local socket",
      { unixSocket: true, engineName: "docker-desktop", localHostname: "laptop" },
      "engine",
    ],
    [
      "this command in a container with the socket mounted",
      { unixSocket: true, engineName: "game-1", localHostname: "3f2a9c1b7d4e" },
      "engine",
    ],
    [
      "tcp:// or ssh://, even to a same-named host",
      { unixSocket: false, engineName: "vm", localHostname: "vm" },
      "engine",
    ],
    ["an engine that gives no name", { unixSocket: true, engineName: "", localHostname: "" }, "engine"],
  ] as const)("%s: %s", (_, facts, site) => {
    expect(dataRootSite(facts)).toBe(site);
  });

  it.each([
    [
      "Redis's first, then the databases', then nginx's",
      [
        { role: "nginx", imageId: "sha256:n" },
        { role: "region-db", imageId: "sha256:r" },
        { role: "redis", imageId: "sha256:x" },
      ],
      "sha256:x",
    ],
    [
      "a database's when there is no Redis",
      [
        { role: "nginx", imageId: "sha256:n" },
        { role: "nexus-db", imageId: "sha256:d" },
      ],
      "sha256:d",
    ],
    [
      "never the game's own images (they may have no df)",
      [
        { role: "nexus-api", imageId: "sha256:g" },
        { role: null, imageId: "sha256:u" },
      ],
      null,
    ],
    ["none without containers", [], null],
    ["not an empty image id", [{ role: "redis", imageId: "" }], null],
  ])("runs df in %s", (_, containers, image) => {
    expect(diskProbeImage(containers)).toBe(image);
  });
});

// --- The verdict --------------------------------------------------------------------------

const ROOT_DISK: ObservedDisk = {
  purpose: "docker-data-root",
  path: "/var/lib/docker",
  measurement: local("/var/lib/docker", space(100 * GiB, 85 * GiB, 10 * GiB)),
};
const BACKUP_DISK: ObservedDisk = {
  purpose: "backups",
  path: "/var/backups/sectorwars/prod",
  measurement: local("/var/backups/sectorwars/prod", space(2 * TiB, 1 * TiB, 1 * TiB)),
};

describe("the verdict on disks", () => {
  it("reports each path's figures, in the order given, with no finding when all have enough", () => {
    const [report, findings] = evaluateDisks({ minFree: { percent: 10 }, observed: [ROOT_DISK, BACKUP_DISK] });
    expect(findings).toEqual([]);
    expect(report).toEqual({
      minFree: { percent: 10 },
      paths: [
        {
          purpose: "docker-data-root",
          path: "/var/lib/docker",
          measuredOn: "local",
          measuredPath: "/var/lib/docker",
          totalBytes: 100 * GiB,
          usedBytes: 85 * GiB,
          availableBytes: 10 * GiB,
          freePercent: expect.closeTo(1000 / 95, 9),
          unknown: null,
          verdict: "ok",
        },
        expect.objectContaining({ purpose: "backups", freePercent: 50, verdict: "ok" }),
      ],
    });
  });

  it.each([
    [
      "below a share, on this machine",
      { percent: 11 },
      ROOT_DISK,
      "Docker data root /var/lib/docker on this machine has 10G free of 100G (10.5%), below the minimum of 11%",
    ],
    [
      "below an amount, on the engine's host",
      { bytes: 20 * GiB },
      {
        ...ROOT_DISK,
        measurement: { ...local("/var/lib/docker", space(100 * GiB, 85 * GiB, 10 * GiB)), measuredOn: "engine" },
      },
      "Docker data root /var/lib/docker on the Docker engine's host has 10G free of 100G (10.5%), below the minimum of 20G",
    ],
    [
      "a backup directory that does not exist yet, measured at its parent",
      { percent: 60 },
      { ...BACKUP_DISK, measurement: local(BACKUP_DISK.path, space(2 * TiB, 1 * TiB, 1 * TiB), "/var/backups") },
      "backup directory /var/backups/sectorwars/prod on this machine (measured at /var/backups, as it does not exist yet) has 1T free of 2T (50.0%), below the minimum of 60%",
    ],
    [
      "a share that rounds to the minimum, printed rounded down",
      { percent: 10 },
      { ...ROOT_DISK, measurement: local("/var/lib/docker", space(1_000_000, 900_001, 99_999)) },
      "Docker data root /var/lib/docker on this machine has 97.7K free of 977K (9.9%), below the minimum of 10%",
    ],
    [
      "an amount that prints like the minimum, with the exact counts",
      { bytes: 20 * GiB },
      { ...ROOT_DISK, measurement: local("/var/lib/docker", space(100 * GiB, 80 * GiB, 20 * GiB - 1)) },
      `Docker data root /var/lib/docker on this machine has 20G (${20 * GiB - 1} bytes) free of 100G (19.9%), below the minimum of 20G (${20 * GiB} bytes)`,
    ],
  ] as [string, MinFree, ObservedDisk, string][])(
    "is unhealthy %s, naming the path and figures",
    (_, min, disk, message) => {
      const [report, findings] = evaluateDisks({ minFree: min, observed: [disk] });
      expect(findings).toEqual([{ severity: "unhealthy", subject: "disk", message }]);
      expect(report.paths[0]?.verdict).toBe("unhealthy");
    },
  );

  it("warns when a path could not be measured, and says why", () => {
    const unknown: ObservedDisk = {
      ...ROOT_DISK,
      measurement: { unknown: "the engine is remote and the stack has no container to run df in" },
    };
    const [report, findings] = evaluateDisks({ minFree: { percent: 10 }, observed: [unknown] });
    expect(findings).toEqual([
      {
        severity: "warning",
        subject: "disk",
        message:
          "Docker data root /var/lib/docker: free space unknown: the engine is remote and the stack has no container to run df in",
      },
    ]);
    expect(report.paths[0]).toMatchObject({
      measuredOn: null,
      totalBytes: null,
      freePercent: null,
      unknown: "the engine is remote and the stack has no container to run df in",
      verdict: "warning",
    });
  });

  it("with --min-free off, shows the figures and finds nothing, however full", () => {
    const full: ObservedDisk = { ...ROOT_DISK, measurement: local("/var/lib/docker", space(100, 100, 0)) };
    const unknown: ObservedDisk = { ...BACKUP_DISK, measurement: { unknown: "EACCES" } };
    const [report, findings] = evaluateDisks({ minFree: null, observed: [full, unknown] });
    expect(findings).toEqual([]);
    expect(report.minFree).toBeNull();
    expect(report.paths.map((p) => [p.availableBytes, p.verdict])).toEqual([
      [0, "ok"],
      [null, "ok"],
    ]);
  });
});

// --- Properties ---------------------------------------------------------------------------

const spaceArb: fc.Arbitrary<DiskSpace> = fc
  .record({ used: fc.nat({ max: 2 ** 40 }), available: fc.nat({ max: 2 ** 40 }), reserved: fc.nat({ max: 2 ** 36 }) })
  .map(({ used, available, reserved }) => space(used + available + reserved, used, available));

const minFreeArb: fc.Arbitrary<MinFree | null> = fc.option(
  fc.oneof(
    fc.integer({ min: 0, max: 100 }).map((percent): MinFree => ({ percent })),
    fc.nat({ max: 2 ** 41 }).map((bytes): MinFree => ({ bytes })),
  ),
);

const observedArb: fc.Arbitrary<ObservedDisk[]> = fc
  .uniqueArray(
    fc.record({
      path: fc.constantFrom("/var/lib/docker", "/srv/docker", "/var/backups/sectorwars/prod", "/b/dev", "/mnt/x y"),
      purpose: fc.constantFrom("docker-data-root" as const, "backups" as const),
      measurement: fc.oneof(
        {
          weight: 4,
          arbitrary: fc.record({ measuredOn: fc.constantFrom("local" as const, "engine" as const), space: spaceArb }),
        },
        { weight: 1, arbitrary: fc.record({ unknown: fc.constant("no image") }) },
      ),
    }),
    { selector: (d) => d.path, maxLength: 4 },
  )
  .map((list) =>
    list.map((d): ObservedDisk => ({
      purpose: d.purpose,
      path: d.path,
      measurement: "unknown" in d.measurement ? d.measurement : { ...d.measurement, measuredPath: d.path },
    })),
  );

/** Below the minimum, in exact integer arithmetic: the oracle for the implementation's floats. */
function belowOracle(s: DiskSpace, min: MinFree): boolean {
  if ("bytes" in min) return s.availableBytes < min.bytes;
  return BigInt(s.availableBytes) * 100n < BigInt(min.percent) * BigInt(s.usedBytes + s.availableBytes);
}

const minimalStatus = (disk: StatusInput["disk"]): StatusInput => ({
  stack: "prod",
  now: new Date("2026-11-25T14:00:00Z"),
  expected: [],
  containers: [],
  volumes: [],
  backup: { dir: "/var/backups/sectorwars/prod", schedule: "off", maxAgeSeconds: null, entries: [] },
  disk,
});

describe("properties of the disk verdict", () => {
  it("finds exactly the measured paths below the threshold unhealthy, each naming its path, and warns of exactly the unknown ones", () => {
    fc.assert(
      fc.property(observedArb, minFreeArb, (observed, minFree) => {
        const [report, findings] = evaluateDisks({ minFree, observed });
        const below = observed.filter(
          (d) => minFree !== null && !("unknown" in d.measurement) && belowOracle(d.measurement.space, minFree),
        );
        const unknown = observed.filter((d) => minFree !== null && "unknown" in d.measurement);
        const unhealthy = findings.filter((f) => f.severity === "unhealthy");
        expect(unhealthy).toHaveLength(below.length);
        below.forEach((d, i) => expect(unhealthy[i]?.message).toContain(` ${d.path} `));
        expect(findings.filter((f) => f.severity === "warning").map((f) => f.message)).toEqual(
          unknown.map((d) => expect.stringContaining(`${d.path}: free space unknown`)),
        );
        expect(report.paths.map((p) => p.path)).toEqual(observed.map((d) => d.path));
        for (const p of report.paths) {
          const expected = below.some((d) => d.path === p.path)
            ? "unhealthy"
            : unknown.some((d) => d.path === p.path)
              ? "warning"
              : "ok";
          expect(p.verdict, p.path).toBe(expected);
          if (p.freePercent !== null) {
            expect(p.freePercent).toBeGreaterThanOrEqual(0);
            expect(p.freePercent).toBeLessThanOrEqual(100);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it("never prints a share below the minimum as the minimum or more", () => {
    fc.assert(
      fc.property(spaceArb, fc.integer({ min: 1, max: 100 }), (s, percent) => {
        fc.pre(belowOracle(s, { percent }));
        const [, findings] = evaluateDisks({
          minFree: { percent },
          observed: [{ ...ROOT_DISK, measurement: local(ROOT_DISK.path, s) }],
        });
        const printed = /\((\d+\.\d)%\), below/.exec(findings[0]?.message ?? "")?.[1];
        expect(printed, findings[0]?.message).toBeDefined();
        expect(Number(printed)).toBeLessThan(percent);
      }),
    );
  });

  it("makes a whole report unhealthy exactly when its other parts do or a disk is below the threshold", () => {
    fc.assert(
      fc.property(observedArb, minFreeArb, (observed, minFree) => {
        const report = evaluateStatus(minimalStatus({ minFree, observed }));
        const anyBelow = observed.some(
          (d) => minFree !== null && !("unknown" in d.measurement) && belowOracle(d.measurement.space, minFree),
        );
        expect(exitStatus(report)).toBe(anyBelow ? 1 : 0);
        expect(report.disk.paths).toHaveLength(observed.length);
      }),
    );
  });

  it("renders one row per path in the report's order, its status last", () => {
    fc.assert(
      fc.property(observedArb, minFreeArb, (observed, minFree) => {
        const [report] = evaluateDisks({ minFree, observed });
        const lines = renderDiskTable(report);
        if (observed.length === 0) {
          expect(lines).toEqual([]);
          return;
        }
        expect(lines[0]).toMatch(/^DISK +PATH +MEASURED ON +SIZE +FREE \((min \S+|no minimum)\) +STATUS$/);
        expect(lines.at(-1)).toBe("");
        const rows = lines.slice(1, -1);
        expect(rows).toHaveLength(observed.length);
        rows.forEach((row, i) => {
          const p = report.paths[i];
          expect(row).toContain(`  ${p?.path}  `);
          expect(row.split(/\s+/).at(-1)).toBe(
            { ok: "ok", warning: "WARN", unhealthy: "UNHEALTHY" }[p?.verdict ?? "ok"],
          );
        });
      }),
    );
  });
});

describe("the disk table", () => {
  it("shows where each path was measured, its size and what is free, in the status table after the volumes", () => {
    const engineRoot: ObservedDisk = {
      ...ROOT_DISK,
      measurement: {
        measuredOn: "engine",
        measuredPath: "/var/lib/docker",
        space: space(100 * GiB, 85 * GiB, 10 * GiB),
      },
    };
    const newBackups: ObservedDisk = {
      ...BACKUP_DISK,
      measurement: local(BACKUP_DISK.path, space(2 * TiB, 1 * TiB, 1 * TiB), "/var/backups"),
    };
    const report = evaluateStatus(minimalStatus({ minFree: { percent: 11 }, observed: [engineRoot, newBackups] }));
    const text = renderStatusTable(report);
    expect(text).toMatch(
      /^DISK +PATH +MEASURED ON +SIZE +FREE \(min 11%\) +STATUS$\n^Docker data root +\/var\/lib\/docker +Docker host +100G +10G \(10\.5%\) +UNHEALTHY$\n^backup directory +\/var\/backups\/sectorwars\/prod +this machine, at \/var\/backups +2T +1T \(50\.0%\) +ok$/m,
    );
    expect(text.indexOf("DISK ")).toBeGreaterThan(text.indexOf("No volumes"));
    expect(text.indexOf("DISK ")).toBeLessThan(text.indexOf("Backups in "));
    expect(text).toContain(
      "  UNHEALTHY  disk: Docker data root /var/lib/docker on the Docker engine's host has 10G free",
    );
    expect(text.endsWith("UNHEALTHY: 1 problem.\n")).toBe(true);
  });

  it("prints ? for a path that could not be measured, and no minimum when there is none", () => {
    const [report] = evaluateDisks({ minFree: null, observed: [{ ...ROOT_DISK, measurement: { unknown: "x" } }] });
    expect(renderDiskTable(report)).toEqual([
      "DISK              PATH             MEASURED ON  SIZE  FREE (no minimum)  STATUS",
      "Docker data root  /var/lib/docker  unknown         ?                  ?  ok",
      "",
    ]);
  });
});
