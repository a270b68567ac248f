/**
 * The backup's text before anything runs it against Docker: the script and every command line
 * parse as bash and pass shellcheck, settings travel as arguments and never a secret, bad
 * settings are refused, the systemd units verify, and manifests and restore arguments are read
 * as documented. backupRestore.test.ts runs the same text against real containers.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { redisCliInContainer, redisRestoreHelper, restorePostgresInContainer } from "../assets";
import { parseManifest } from "../planning/backup/manifest";
import { type BackupSettings, backupCommand, backupScript, validateBackupSettings } from "../planning/backup/run";
import {
  DEFAULT_BACKUP_SCHEDULE,
  backupServiceUnit,
  backupTimerUnit,
  scheduleInstallCommand,
  scheduleRemoveCommand,
  scheduleUnitName,
} from "../planning/backup/schedule";
import { parseRestoreTarget } from "../planning/backup/restore";
import { shellQuote } from "../planning/shell";
import { parseRestoreArgs } from "../scripts/restoreArgs";
import { ensureCommands, run } from "./support/docker";

const settings = (backupDir: string): BackupSettings => ({
  stack: "backuptest",
  backupDir,
  parallelism: 2,
  retentionDays: 30,
  allowEmpty: true,
});

describe("generated backup text", () => {
  const s = settings("/var/backups/sectorwars");
  /** A swarm stack's: the backup works on each of these engines. */
  const swarm = { ...s, nodes: ["default", "ssh://ops@node-2"] };

  beforeAll(() => ensureCommands({ shellcheck: "shellcheck", "systemd-analyze": "systemd" }));

  it("is valid bash, as the script and inside every command line", () => {
    expect(run("bash", ["-n"], { input: backupScript() }).stderr).toBe("");
    for (const command of [
      backupCommand(s),
      scheduleInstallCommand(s, DEFAULT_BACKUP_SCHEDULE),
      scheduleRemoveCommand(s.stack),
      scheduleInstallCommand(swarm, DEFAULT_BACKUP_SCHEDULE),
      scheduleRemoveCommand(s.stack, { nodes: true }),
    ]) {
      expect(command.startsWith("bash -c '")).toBe(true);
      const parsed = run("/bin/sh", ["-c", command.replace(/^bash -c /, "bash -n -c ")]);
      expect(parsed.status, parsed.stderr).toBe(0);
    }
  });

  it("passes shellcheck, and runs under set -euo pipefail", () => {
    const lint = run("shellcheck", ["-s", "bash", "-"], { input: backupScript() });
    expect(lint.stdout + lint.stderr).toBe("");
    expect(backupScript()).toMatch(/^set -euo pipefail$/m);
    // The scripts inside the schedule's install and remove commands, as sh reads them back.
    for (const command of [
      scheduleInstallCommand(s, DEFAULT_BACKUP_SCHEDULE),
      scheduleRemoveCommand(s.stack),
      scheduleInstallCommand(swarm, DEFAULT_BACKUP_SCHEDULE),
      scheduleRemoveCommand(s.stack, { nodes: true }),
    ]) {
      const script = run("/bin/sh", ["-c", command.replace(/^bash -c /, "printf '%s\\0' ")]).stdout.split(
        "\0",
      )[0] as string;
      expect(script).toMatch(/^set -euo pipefail\n/);
      // SC2016: the files it installs are single-quoted literals full of unexpanded "$".
      const checked = run("shellcheck", ["-s", "bash", "-e", "SC2016", "-"], { input: script });
      expect(checked.stdout + checked.stderr).toBe("");
    }
    // What restore runs inside the containers: POSIX sh, as the alpine images have no bash.
    for (const script of [restorePostgresInContainer(), redisRestoreHelper(), redisCliInContainer()]) {
      const checked = run("shellcheck", ["-s", "sh", "-"], { input: script });
      expect(checked.stdout + checked.stderr).toBe("");
    }
  });

  it("carries the settings as arguments and no secret", () => {
    const command = backupCommand(s);
    expect(command).toMatch(
      / sectorwars-backup --stack backuptest --dir \/var\/backups\/sectorwars --parallelism 2 --retention-days 30 --allow-empty$/,
    );
    // Credentials stay inside the containers: no PGPASSWORD, no redis-cli -a.
    expect(command).not.toMatch(/PGPASSWORD|POSTGRES_PASSWORD=|redis-cli[^\n]* -a /);
  });

  it("quotes any word so that sh reads it back unchanged", () => {
    fc.assert(
      fc.property(
        fc
          .oneof(fc.string({ unit: "binary-ascii", maxLength: 40 }), fc.string({ unit: "grapheme", maxLength: 20 }))
          .filter((w) => !w.includes("\0")),
        (word) => {
          expect(run("/bin/sh", ["-c", `printf %s ${shellQuote(word)}`]).stdout).toBe(word);
        },
      ),
      { numRuns: 60 },
    );
  });

  it.each([
    [{ stack: "has space" }, /stack name/],
    [{ stack: "" }, /stack name/],
    [{ backupDir: "relative/dir" }, /absolute/],
    [{ backupDir: "/" }, /cannot be \//],
    [{ backupDir: "/srv/../etc" }, /without \.\./],
    [{ backupDir: "/srv/with space" }, /absolute/],
    [{ parallelism: 0 }, /parallelism/],
    [{ retentionDays: 1.5 }, /retentionDays/],
    [{ nodes: [] }, /at least one engine/],
    [{ nodes: ["ssh://ops@node 2"] }, /node "ssh:\/\/ops@node 2" must be a DOCKER_HOST/],
    [{ nodes: ["-H"] }, /node "-H"/],
  ] as const)("rejects %j", (override, message) => {
    expect(() => validateBackupSettings({ ...s, ...override })).toThrow(message);
    expect(() => backupCommand({ ...s, ...override })).toThrow(message);
  });

  it("refuses bad arguments at run time, before touching anything", () => {
    const script = backupScript();
    const bad = run("bash", ["-c", script, "sectorwars-backup", "--stack", "x", "--dir", "relative"]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/--dir must be an absolute path/);
    expect(run("bash", ["-c", script, "sectorwars-backup", "--stack", "x"]).stderr).toMatch(/--dir must be/);
    expect(run("bash", ["-c", script, "sectorwars-backup", "--bogus"]).stderr).toMatch(/usage/);
    const node = run("bash", ["-c", script, "sectorwars-backup", "--stack", "x", "--dir", "/x", "--node", "a b"]);
    expect(node.stderr).toMatch(/--node must be a DOCKER_HOST value or default, got 'a b'/);
  });

  it("schedules daily by default with a service that runs the same script", () => {
    const service = backupServiceUnit(s, DEFAULT_BACKUP_SCHEDULE, "/usr/local/lib/sectorwars");
    expect(service).toContain(
      `ExecStart=/bin/bash /usr/local/lib/sectorwars/backup-backuptest.sh --stack backuptest --dir /var/backups/sectorwars --parallelism 2 --retention-days 30\n`,
    );
    // A wrong stack name must fail the scheduled run, not back up nothing.
    expect(service).not.toContain("--allow-empty");
    // A swarm's: the same script, told each node's engine.
    expect(backupServiceUnit(swarm, DEFAULT_BACKUP_SCHEDULE, "/usr/local/lib/sectorwars")).toContain(
      `ExecStart=/bin/bash /usr/local/lib/sectorwars/backup-backuptest.sh --stack backuptest --dir /var/backups/sectorwars --parallelism 2 --retention-days 30 --node default --node ssh://ops@node-2\n`,
    );
    expect(backupTimerUnit(s, DEFAULT_BACKUP_SCHEDULE)).toMatch(/^OnCalendar=daily$/m);
    const custom = backupTimerUnit(s, { onCalendar: "*-*-* 03:30:00 UTC" });
    expect(custom).toMatch(/^OnCalendar=\*-\*-\* 03:30:00 UTC$/m);
    expect(() => backupTimerUnit(s, { onCalendar: "daily\nExecStart=/bin/evil" })).toThrow(/calendar/);
    expect(() => backupServiceUnit(s, { onCalendar: "daily", environment: { DOCKER_HOST: "a b" } }, "/x")).toThrow(
      /DOCKER_HOST/,
    );
  });

  it("writes unit files that systemd-analyze verifies", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sw-units-"));
    try {
      const unit = scheduleUnitName(s.stack);
      const schedule = { ...DEFAULT_BACKUP_SCHEDULE, environment: { DOCKER_HOST: "ssh://ops@docker-host" } };
      fs.writeFileSync(path.join(dir, `${unit}.service`), backupServiceUnit(s, schedule, dir));
      fs.writeFileSync(path.join(dir, `${unit}.timer`), backupTimerUnit(s, schedule));
      const verify = run(
        "systemd-analyze",
        ["verify", "--man=no", path.join(dir, `${unit}.timer`), path.join(dir, `${unit}.service`)],
        { timeoutMs: 60_000, env: { ...process.env, SYSTEMD_LOG_LEVEL: "warning" } },
      );
      const ours = (verify.stdout + verify.stderr).split("\n").filter((l) => l.includes(unit));
      expect(ours).toEqual([]);
      expect(run("systemd-analyze", ["calendar", "daily"]).status).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it("parses restore targets and arguments", () => {
    expect(parseRestoreTarget("nexus")).toEqual({ kind: "nexus" });
    expect(parseRestoreTarget("region:beta-2")).toEqual({ kind: "region", regionId: "beta-2" });
    expect(() => parseRestoreTarget("region:")).toThrow();
    expect(() => parseRestoreTarget("postgres")).toThrow();
    expect(parseRestoreArgs(["--backup", "/b/x", "--target", "redis", "--stack", "prod", "--force"])).toEqual({
      backup: "/b/x",
      fromRepository: false,
      target: { kind: "redis" },
      stack: "prod",
      force: true,
      allowOtherStack: false,
    });
    expect(parseRestoreArgs(["--from-repository", "--target", "redis", "--stack", "prod"])).toMatchObject({
      backup: "",
      fromRepository: true,
    });
    expect(() => parseRestoreArgs(["--backup", "/b/x", "--target", "redis"])).toThrow(/usage/);
    expect(() => parseRestoreArgs(["--backup", "--target", "redis", "--stack", "s"])).toThrow(/needs a value/);
    const both = ["--backup", "/b/x", "--from-repository", "--target", "redis", "--stack", "s"];
    expect(() => parseRestoreArgs(both)).toThrow(/usage/);
    expect(() => parseRestoreArgs(["--from-repository", "--target", "nexus", "--stack", "s"])).toThrow(
      /--from-repository restores Redis; a database comes back from the repository with --to <time>/,
    );
  });

  const good = {
    file: "nexus.dump",
    kind: "pg_dump",
    role: "nexus-db",
    container: "c",
    regionId: null,
    database: "d",
    user: "u",
    serverVersion: "15",
    size: 1,
    sha256: "a".repeat(64),
  };

  it("rejects manifests that are not ours", () => {
    expect(() => parseManifest("{")).toThrow(/not valid JSON/);
    expect(() => parseManifest(JSON.stringify({ format: "other" }))).toThrow(/not a sectorwars-backup/);
    const entry = { ...good, file: "../etc/passwd" };
    const manifest = {
      format: "sectorwars-backup/1",
      stack: "s",
      name: "20250101T000000Z",
      createdAt: "x",
      files: [entry],
    };
    expect(() => parseManifest(JSON.stringify(manifest))).toThrow(/plain file name/);
    expect(
      parseManifest(JSON.stringify({ ...manifest, files: [{ ...entry, file: "nexus.dump" }] })).files,
    ).toHaveLength(1);
  });

  const withFiles = (...files: unknown[]) =>
    JSON.stringify({ format: "sectorwars-backup/1", stack: "s", name: "n", createdAt: "x", files });
  it.each([
    ["a manifest that is not an object", "[]", "manifest.json is not a sectorwars-backup/1 manifest"],
    [
      "no files",
      JSON.stringify({ format: "sectorwars-backup/1", stack: "s", name: "n", createdAt: "x" }),
      "manifest.json lacks stack, name, createdAt or files",
    ],
    ["a file that is not an object", withFiles(good, null), "manifest.json files[1] is not an object"],
    [
      "a file listed twice",
      withFiles(good, { ...good, kind: "bogus" }),
      "manifest.json files[1]: nexus.dump is listed twice",
    ],
    ["an unknown kind", withFiles({ ...good, kind: "tar" }), 'manifest.json files[0].kind "tar" is unknown'],
    ["an unknown role", withFiles({ ...good, role: "nginx" }), 'manifest.json files[0].role "nginx" is unknown'],
    [
      "a digest that is not one",
      withFiles({ ...good, sha256: "A".repeat(64) }),
      "manifest.json files[0].sha256 is not a sha256",
    ],
    ["a negative size", withFiles({ ...good, size: -1 }), "manifest.json files[0].size is not a size"],
    ["no container", withFiles({ ...good, container: 7 }), "manifest.json files[0].container is missing"],
    // The first problem in field order, the earlier file first: the later file's kind is not it.
    [
      "two problems",
      withFiles({ ...good, sha256: "x", role: "x" }, { ...good, kind: "x" }),
      'manifest.json files[0].role "x" is unknown',
    ],
  ])("rejects %s, saying what is wrong", (_what, text, message) => {
    expect(() => parseManifest(text)).toThrow(message);
  });

  it("keeps what it does not check, as the script wrote it", () => {
    const manifest = parseManifest(withFiles({ ...good, regionId: "orion", note: "kept" }));
    expect(manifest.files[0]).toEqual({ ...good, regionId: "orion", note: "kept" });
  });
});
