/**
 * The continuous archive in the status report (planning/status/archive.ts): what each database's
 * probe and the repository's answer make of it. test/real-engine/archive.test.ts runs the CLI on a
 * deployed stack, the repository up and paused.
 */
import { describe, expect, it } from "vitest";
import { type ObservedArchive, evaluateArchive, renderArchiveLines } from "../planning/status/archive";

const CONFIGURED = { url: "s3:https://s3.example.com/bkp/prod", archiveTimeoutSeconds: 30 };
const FINISHED = Date.parse("2026-12-06T03:00:00Z") / 1000;
const info = (stanza: string, stops: number[]) =>
  JSON.stringify([{ name: stanza, backup: stops.map((stop) => ({ type: "full", timestamp: { stop } })) }]);
const observed = (change: Partial<ObservedArchive> = {}): ObservedArchive => ({
  container: "sectorwars_region_orion_db",
  stanza: "region-orion",
  probe: { line: `|1200|0|${FINISHED + 3600}|\n` },
  info: { json: info("region-orion", [FINISHED - 86400, FINISHED]) },
  ...change,
});

describe("evaluateArchive", () => {
  it("reports nothing when the stack does not archive, and says so in the table", () => {
    expect(evaluateArchive(null, [observed()])).toEqual([null, []]);
    expect(renderArchiveLines(null, new Date())[0]).toBe(
      "Continuous archiving: off (sectorwars:backup.repository is unset; the dumps above are all)",
    );
  });

  it("gives each database its waiting WAL, last archive and newest backup", () => {
    const [report, findings] = evaluateArchive(CONFIGURED, [observed()]);
    expect(findings).toEqual([]);
    expect(report).toEqual({
      repository: CONFIGURED.url,
      maxWaitSeconds: 60,
      databases: [
        {
          container: "sectorwars_region_orion_db",
          stanza: "region-orion",
          oldestWaitingSeconds: null,
          lastArchivedAt: "2026-12-06T04:00:00.000Z",
          newestBackup: { type: "full", finishedAt: "2026-12-06T03:00:00.000Z" },
          repositoryReachable: true,
        },
      ],
    });
  });

  it.each<[string, Partial<ObservedArchive>, "unhealthy" | "warning", string]>([
    [
      "WAL waiting past the limit",
      { probe: { line: "95|1200|0|1|" } },
      "unhealthy",
      "WAL has waited 1m35s to be archived (limit 1m): a lost host would take that much play with it",
    ],
    [
      "an unreachable repository",
      { info: { error: "pgbackrest exited 39: ERROR: [039]: HTTP request failed" } },
      "unhealthy",
      "the repository did not answer: pgbackrest exited 39: ERROR: [039]: HTTP request failed",
    ],
    [
      "no backup",
      { info: { json: info("region-orion", []) } },
      "unhealthy",
      "the repository holds no backup of stanza region-orion",
    ],
    [
      "a failed probe",
      { probe: { error: "psql exited 2: connection refused" } },
      "unhealthy",
      "reading its archive state failed: psql exited 2: connection refused",
    ],
    [
      "a last attempt that failed",
      { probe: { line: `|1200|3|${FINISHED}|${FINISHED + 10}` } },
      "warning",
      "its last archive attempt failed at 2026-12-06T03:00:10.000Z (docker logs sectorwars_region_orion_db)",
    ],
  ])("finds %s", (_what, change, severity, message) => {
    const [, findings] = evaluateArchive(CONFIGURED, [observed(change)]);
    expect(findings).toEqual([{ severity, subject: "sectorwars_region_orion_db", message }]);
  });

  it("allows two archive timeouts of waiting when they are longer than a minute", () => {
    const [report, findings] = evaluateArchive({ ...CONFIGURED, archiveTimeoutSeconds: 45 }, [
      observed({ probe: { line: "85|1|0||" } }),
    ]);
    expect(report?.maxWaitSeconds).toBe(90);
    expect(findings).toEqual([]);
  });
});
