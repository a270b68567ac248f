/**
 * The archive planner (planning/backup/archive.ts): the repository URL, the credentials and key it
 * accepts and refuses, and the pgBackRest configuration it renders. test/pitr.docker.test.ts runs
 * that configuration against a real S3 server and PostgreSQL.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type ArchiveSettings,
  archiveFlags,
  archivingDatabaseCommand,
  stanzaCommand,
  checkRepositoryPassword,
  checkedSecret,
  parseRepositoryUrl,
  parseS3Credentials,
  pgbackrestConf,
} from "../planning/backup/archive";

describe("parseRepositoryUrl", () => {
  it.each([
    ["s3:https://s3.example.com/game-backups", { host: "s3.example.com", port: 443, bucket: "game-backups", path: "" }],
    [
      "s3:https://minio.internal:9000/bkp/prod/eu",
      { host: "minio.internal", port: 9000, bucket: "bkp", path: "prod/eu" },
    ],
    ["s3:https://10.0.0.7/bk.2026/x/", { host: "10.0.0.7", port: 443, bucket: "bk.2026", path: "x" }],
  ])("reads %s", (url, expected) => {
    expect(parseRepositoryUrl(url)).toEqual({ ok: true, value: { kind: "s3", ...expected } });
  });

  const refused: [string, string][] = [
    ["s3:http://s3.example.com/bk", "pgBackRest speaks only HTTPS to S3: use s3:https://<host>[:<port>]/<bucket>[/<path>]"],
    ["rest:https://backup.example.com/repo", "pgBackRest has no REST repository type; use s3:https://<host>[:<port>]/<bucket>[/<path>]"],
    ["sftp:ops@backup.example.com:/srv/bk", "SFTP repositories need pgBackRest 2.46 or later, which the platform does not check for yet; use s3:https://<host>[:<port>]/<bucket>[/<path>]"],
    ["s3.example.com/bk", "must be s3:https://<host>[:<port>]/<bucket>[/<path>]"],
    ["s3:https://s3.example.com", "must be s3:https://<host>[:<port>]/<bucket>[/<path>]"],
    ["s3:https://S3.example.com/bk", '"S3.example.com" is not a host name or IPv4 address'],
    ["s3:https://s3.example.com:70000/bk", "port 70000 is not from 1 to 65535"],
    ["s3:https://s3.example.com/Backups", '"Backups" is not an S3 bucket name (3 to 63 lowercase letters, digits, dots and hyphens)'],
    ["s3:https://s3.example.com/bkp/a/../b", 'path segment ".." must be letters, digits and ._- (not . or ..)'],
    ["s3:https://s3.example.com/bkp/a b", 'path segment "a b" must be letters, digits and ._- (not . or ..)'],
    ["s3:https://s3.example.com/bkp/x\nrepo1-type=posix", 'path segment "x\nrepo1-type=posix" must be letters, digits and ._- (not . or ..)'],
  ]; // prettier-ignore
  it.each(refused)("refuses %j", (url, problem) => {
    expect(parseRepositoryUrl(url)).toEqual({ ok: false, problem });
  });
});

describe("credentials and key", () => {
  it.each([
    ["no colon", "AKIAEXAMPLE", "must be KEY_ID:SECRET"],
    ["no key id", ":secret", "must be KEY_ID:SECRET"],
    ["no secret", "AKIAEXAMPLE:", "must be KEY_ID:SECRET"],
    ["a line break", "AKIA:se\ncret", "must not contain line breaks or control characters"],
  ])("refuses credentials with %s", (_what, value, problem) => {
    expect(parseS3Credentials(value)).toEqual({ ok: false, problem });
  });

  it("fails naming the key when a secret is refused", () => {
    expect(() => checkedSecret("sectorwars:backupRepositoryPassword", checkRepositoryPassword("short"))).toThrow(
      "sectorwars:backupRepositoryPassword: must be at least 20 characters (e.g. openssl rand -base64 32)",
    );
    expect(checkedSecret("k", parseS3Credentials("A:b"))).toEqual({ keyId: "A", secret: "b" });
  });

  it("splits at the first colon: a secret may hold colons", () => {
    expect(parseS3Credentials("AKIA:a:b")).toEqual({ ok: true, value: { keyId: "AKIA", secret: "a:b" } });
  });

  it.each([
    ["short", "s3cret", "must be at least 20 characters (e.g. openssl rand -base64 32)"],
    [
      "with a line break",
      "0123456789abcdefghij\nrepo1-cipher-type=none",
      "must not contain line breaks or control characters",
    ],
  ])("refuses a key that is %s", (_what, value, problem) => {
    expect(checkRepositoryPassword(value)).toEqual({ ok: false, problem });
  });
});

const SETTINGS: ArchiveSettings = {
  repository: { kind: "s3", host: "s3.example.com", port: 9000, bucket: "bk", path: "prod" },
  credentials: { keyId: "AKIAEXAMPLE", secret: "wJalr/EXAMPLEKEY" },
  password: "correct horse battery staple",
  retention: { fullBackups: 5, pitrDays: 7 },
};
const STANZAS = [
  { name: "nexus", dataDirectory: "/var/lib/postgresql/data", user: "sectorwars" },
  { name: "region-orion", dataDirectory: "/var/lib/postgresql/data", user: "sectorwars" },
];

/** The options of one section, as pgBackRest reads the file. */
function section(conf: string, name: string): Record<string, string> {
  const lines = conf.split("\n");
  const start = lines.indexOf(`[${name}]`);
  expect(start, `section [${name}]`).toBeGreaterThanOrEqual(0);
  const body = lines.slice(start + 1);
  const end = body.findIndex((l) => l.startsWith("["));
  return Object.fromEntries(
    body
      .slice(0, end === -1 ? undefined : end)
      .filter((l) => l.includes("="))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
}

describe("pgbackrestConf", () => {
  const conf = pgbackrestConf(SETTINGS, STANZAS);

  it("points repository 1 at the bucket over HTTPS, encrypted, path-style", () => {
    expect(section(conf, "global")).toMatchObject({
      "repo1-type": "s3",
      "repo1-s3-endpoint": "s3.example.com",
      "repo1-storage-port": "9000",
      "repo1-s3-bucket": "bk",
      "repo1-s3-uri-style": "path",
      "repo1-s3-key": "AKIAEXAMPLE",
      "repo1-s3-key-secret": "wJalr/EXAMPLEKEY",
      "repo1-path": "/prod/pgbackrest",
      "repo1-cipher-type": "aes-256-cbc",
      "repo1-cipher-pass": "correct horse battery staple",
    });
    expect(section(conf, "global")).not.toHaveProperty("repo1-storage-ca-file");
    expect(section(pgbackrestConf({ ...SETTINGS, caFile: "/etc/pgbackrest/ca.crt" }, STANZAS), "global")).toMatchObject(
      { "repo1-storage-ca-file": "/etc/pgbackrest/ca.crt" },
    );
  });

  it("keeps five fulls and the WAL of the last seven differentials, starting each backup at once", () => {
    expect(section(conf, "global")).toMatchObject({
      "repo1-retention-full-type": "count",
      "repo1-retention-full": "5",
      "repo1-retention-archive-type": "diff",
      "repo1-retention-archive": "7",
      "repo1-retention-diff": "7",
      "start-fast": "y",
    });
  });

  it("writes only under /tmp (swarm mode's one writable place), keeps no log files, forks no push", () => {
    const global = section(conf, "global");
    expect(global).toMatchObject({ "lock-path": "/tmp/pgbackrest/lock", "log-level-file": "off" });
    expect(Object.keys(global).filter((k) => ["log-path", "spool-path", "archive-async"].includes(k))).toEqual([]);
  });

  it("gives each database its stanza, logged in to over the local socket", () => {
    expect(section(conf, "region-orion")).toEqual({
      "pg1-path": "/var/lib/postgresql/data",
      "pg1-user": "sectorwars",
      "pg1-socket-path": "/var/run/postgresql",
    });
  });

  it("puts the repository at the bucket's root without a path", () => {
    const root = pgbackrestConf({ ...SETTINGS, repository: { ...SETTINGS.repository, path: "" } }, STANZAS);
    expect(section(root, "global")["repo1-path"]).toBe("/pgbackrest");
  });

  it("renders one option per line whatever accepted credentials and key hold", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }),
        fc.string({ minLength: 1 }),
        fc.string({ minLength: 20 }),
        (id, secret, key) => {
          const credentials = parseS3Credentials(`${id.replace(/:/g, "")}:${secret}`);
          const password = checkRepositoryPassword(key);
          if (!credentials.ok || !password.ok) return;
          const text = pgbackrestConf(
            { ...SETTINGS, credentials: credentials.value, password: password.value },
            STANZAS,
          );
          expect(section(text, "global")["repo1-cipher-pass"]).toBe(key);
          expect(section(text, "global")["repo1-s3-key-secret"]).toBe(secret);
          expect(section(text, "global")["repo1-cipher-type"]).toBe("aes-256-cbc");
        },
      ),
      { numRuns: 300 },
    );
  });

  it.each(["Nexus", "region orion", "", "-x".repeat(40)])("refuses the stanza name %j", (name) => {
    expect(() => pgbackrestConf(SETTINGS, [{ ...STANZAS[0]!, name }])).toThrow(/stanza .* must be lowercase/);
    expect(() => archiveFlags(name, 30)).toThrow(/stanza .* must be lowercase/);
  });
});

describe("archiveFlags", () => {
  it("archives through pgBackRest with a segment switch at least every archiveTimeout seconds", () => {
    expect(archiveFlags("region-orion", 30)).toEqual([
      "-c",
      "archive_mode=on",
      "-c",
      "archive_command=pgbackrest --stanza=region-orion archive-push %p",
      "-c",
      "archive_timeout=30",
    ]);
  });
});

describe("stanzaCommand", () => {
  it("creates the stanza, takes a first full backup only when there is none, checks, then wakes the checkpointer", () => {
    const lines = stanzaCommand({ container: '"$c"', stanza: "region-orion", user: "region_orion_user" }).split("\n");
    const inDb = 'docker exec -u postgres "$c"';
    expect(lines).toEqual([
      "set -e",
      `${inDb} pgbackrest --stanza=region-orion stanza-create`,
      `if ${inDb} pgbackrest --stanza=region-orion info --output=json | grep -q '"backup":\\[\\]'; then ${inDb} pgbackrest --stanza=region-orion backup --type=full; fi`,
      `${inDb} pgbackrest --stanza=region-orion check`,
      `${inDb} psql -X -q -U region_orion_user -d postgres -c CHECKPOINT`,
    ]);
  });
});

describe("archivingDatabaseCommand", () => {
  it("runs the empty-directory restore first, then the image's entrypoint with postgres and the flags", () => {
    const [shell, flag, script, argv0, stanza, ...rest] = archivingDatabaseCommand("region-orion", 30);
    expect([shell, flag, argv0, stanza]).toEqual(["sh", "-c", "sectorwars-db", "region-orion"]);
    expect(rest).toEqual(["postgres", ...archiveFlags("region-orion", 30)]);
    // Only on an empty data directory, and only from a backup the repository holds.
    expect(script).toMatch(/if \[ ! -s "\$PGDATA\/PG_VERSION" \]/);
    expect(script).toContain(`grep -q '"backup":\\[{'`);
    expect(script).toContain("--target-timeline=latest");
    expect(script?.trimEnd().split("\n").at(-1)).toBe('exec docker-entrypoint.sh "$@"');
  });

  it("refuses a stanza that is not a plain name", () => {
    expect(() => archivingDatabaseCommand("region orion; rm -rf /", 30)).toThrow(/stanza .* must be lowercase/);
  });

  /**
   * The script under sh, with stand-ins on PATH: gosu runs its command, pgbackrest answers `info`
   * with the case's JSON (exit 0, as pgBackRest does for an unreachable repository too) and logs
   * `restore`, the entrypoint says it started. The real tools: test/pitr.docker.test.ts.
   */
  function startOn(info: string | null, pgVersion = false) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "empty-start-"));
    const bin = path.join(dir, "bin");
    const data = path.join(dir, "data");
    fs.mkdirSync(bin);
    fs.mkdirSync(data);
    if (pgVersion) fs.writeFileSync(path.join(data, "PG_VERSION"), "15\n");
    const tool = (name: string, body: string) =>
      fs.writeFileSync(path.join(bin, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    tool("gosu", 'shift; exec "$@"');
    tool("chown", "exit 0");
    tool(
      "pgbackrest",
      info === null
        ? "exit 1"
        : `case "$*" in *info*) cat <<'EOF'\n${info}\nEOF\n;; *restore*) echo "restore $*";; esac`,
    );
    tool("docker-entrypoint.sh", 'echo "entrypoint $*"');
    const [shell = "", ...args] = archivingDatabaseCommand("region-orion", 30);
    const result = spawnSync(shell, args, {
      encoding: "utf8",
      env: { PATH: `${bin}:/usr/bin:/bin`, PGDATA: data },
    });
    fs.rmSync(dir, { recursive: true, force: true });
    return { status: result.status, out: `${result.stdout}${result.stderr}` };
  }
  const status = (code: number, message: string, backups = "[]") =>
    `[{"archive":[],"backup":${backups},"name":"region-orion","repo":[{"key":1,"status":{"code":${code},"message":"${message}"}}],"status":{"code":${code},"lock":{"backup":{"held":false}},"message":"${message}"}}]`;
  const BACKUP = '[{"label":"20261206-180116F","type":"full"}]';

  it.each([
    [
      "restores: the repository holds a backup",
      status(0, "ok", BACKUP),
      0,
      /restore --stanza=region-orion --target-timeline=latest --recovery-option=hot_standby=off restore[\s\S]*entrypoint postgres/,
    ],
    [
      "initialises: no stanza yet (a new stack or region)",
      status(1, "missing stanza path"),
      0,
      /^entrypoint postgres -c archive_mode=on/,
    ],
    ["initialises: stanza data missing", status(3, "missing stanza data"), 0, /^entrypoint postgres/],
    [
      "refuses: a stanza without a complete backup",
      status(2, "no valid backups"),
      1,
      /cannot restore region-orion: not starting an empty database[\s\S]*no valid backups/,
    ],
    ["refuses: the repository does not answer", status(99, "other"), 1, /cannot restore region-orion/],
    ["refuses: pgbackrest info fails", null, 1, /cannot restore region-orion[\s\S]*pgbackrest info failed/],
  ] as const)("on an empty data directory %s", (_what, info, exit, output) => {
    const result = startOn(info);
    expect(result.status, result.out).toBe(exit);
    expect(result.out).toMatch(output);
    if (exit !== 0) expect(result.out).not.toContain("entrypoint");
  });

  it("asks the repository nothing when the data directory holds a cluster", () => {
    const result = startOn(null, true);
    expect([result.status, result.out.trim()]).toEqual([0, expect.stringMatching(/^entrypoint postgres/)]);
  });
});
