/**
 * What a restore to a point in time decides before it touches anything (planning/backup/pointInTime.ts,
 * scripts/pointInTime.ts's arguments). The restore itself runs for real in
 * test/real-engine/archive.test.ts, and pgBackRest's part in test/pitr.docker.test.ts.
 */
import { describe, expect, it } from "vitest";
import { checkWindow, parseRecoveryTime, restoreArguments, stanzaOf } from "../planning/backup/pointInTime";
import { parsePointInTimeArgs } from "../scripts/pointInTime";

const NOW = new Date("2026-12-06T12:00:00Z");

describe("parseRecoveryTime", () => {
  it.each([
    ["2026-12-05T22:59:30Z", "2026-12-05T22:59:30.000Z"],
    ["2026-12-05 22:59:30.25+01:00", "2026-12-05T21:59:30.250Z"],
    ["2026-12-05T22:59:30-0500", "2026-12-06T03:59:30.000Z"],
  ])("reads %s", (text, iso) => {
    const parsed = parseRecoveryTime(text, NOW);
    expect(parsed.ok && parsed.time.toISOString()).toBe(iso);
  });

  it.each([
    [
      "2026-12-05T22:59:30",
      '--to "2026-12-05T22:59:30" must be an ISO 8601 time with its zone, such as 2026-12-05T22:59:30Z',
    ],
    ["yesterday", '--to "yesterday" must be an ISO 8601 time with its zone, such as 2026-12-05T22:59:30Z'],
    ["2026-13-05T22:59:30Z", '--to "2026-13-05T22:59:30Z" is not a valid time'],
    ["2026-12-07T00:00:00Z", "--to 2026-12-07T00:00:00.000Z is in the future (now 2026-12-06T12:00:00.000Z)"],
  ])("refuses %s", (text, problem) => {
    expect(parseRecoveryTime(text, NOW)).toEqual({ ok: false, problem });
  });
});

describe("checkWindow", () => {
  const info = (stops: number[]) =>
    JSON.stringify([
      {
        name: "region-orion",
        backup: stops.map((stop) => ({ timestamp: { start: stop - 5, stop }, type: "full" })),
        status: { code: stops.length ? 0 : 2, message: stops.length ? "ok" : "no valid backups" },
      },
    ]);
  const at = (iso: string) => new Date(iso);
  const oldest = Date.parse("2026-12-01T03:00:00Z") / 1000;

  it("accepts a time after the oldest backup finished, and says where the window starts", () => {
    expect(checkWindow(info([oldest + 86400, oldest]), "region-orion", at("2026-12-01T03:00:01Z"))).toEqual({
      ok: true,
      from: at("2026-12-01T03:00:00Z"),
    });
  });

  it.each([
    [
      "a time before the oldest backup",
      info([oldest]),
      "--to 2026-12-01T02:59:59.000Z is before the oldest backup of region-orion, which finished at 2026-12-01T03:00:00.000Z: the window starts there",
    ],
    ["a stanza without backups", info([]), "the repository holds no backup of region-orion (no valid backups)"],
    ["another stanza only", JSON.stringify([]), "the repository holds no backup of region-orion (no such stanza)"],
    ["no JSON", "ERROR: [039]: HTTP request failed", "pgbackrest info gave no JSON: ERROR: [039]: HTTP request failed"],
  ])("refuses %s", (_what, json, problem) => {
    expect(checkWindow(json, "region-orion", at("2026-12-01T02:59:59Z"))).toEqual({ ok: false, problem });
  });
});

describe("restoreArguments and stanzaOf", () => {
  it("restores with --delta to the time, in PostgreSQL's notation, and promotes", () => {
    expect(restoreArguments("region-orion", new Date("2026-12-05T22:59:30.25Z"))).toEqual([
      "--stanza=region-orion",
      "--delta",
      "--type=time",
      "--target=2026-12-05 22:59:30.250+00",
      "--target-action=promote",
      "restore",
    ]);
  });

  it("names the stanzas as the plan does", () => {
    expect([stanzaOf({ kind: "nexus" }), stanzaOf({ kind: "region", regionId: "orion" })]).toEqual([
      "nexus",
      "region-orion",
    ]);
  });
});

describe("parsePointInTimeArgs", () => {
  it("reads stack, target and time", () => {
    expect(
      parsePointInTimeArgs(["--stack", "prod", "--target", "region:orion", "--to", "2026-12-05T22:59:30Z"]),
    ).toEqual({
      stack: "prod",
      target: { kind: "region", regionId: "orion" },
      to: "2026-12-05T22:59:30Z",
    });
  });

  it.each([
    [["--stack", "prod", "--target", "redis", "--to", "2026-12-05T22:59:30Z"], /Redis has no archive yet/],
    [["--stack", "prod", "--target", "region:orion"], /^usage: restore --stack STACK/],
    [["--stack", "prod", "--to", "--target", "region:orion"], /--to needs a value/],
    [
      ["--stack", "prod", "--backup", "/x", "--target", "nexus", "--to", "2026-12-05T22:59:30Z"],
      /unknown argument --backup/,
    ],
  ])("refuses %j", (argv, message) => {
    expect(() => parsePointInTimeArgs(argv)).toThrow(message);
  });
});
