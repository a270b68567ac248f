import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConfigError, type FileRead, type ParseContext, configPath, parseConfig } from "../planning/config";
import { MAX_INIT_SQL_BYTES } from "../planning/stack/databaseSchema";
import { DEFAULT_BACKUP_SETTINGS } from "../planning/backup/run";
import { DEFAULT_BACKUP_SCHEDULE } from "../planning/backup/schedule";
import { DEFAULTS } from "../planning/config/defaults";
import { DEFAULT_UPSTREAM_KEEPALIVE } from "../planning/edge/capabilities";
import { BUILT_IN_PROFILES } from "../planning/stack/sizes";
import { DEFAULT_STOP } from "../planning/stack/services";
import { PROD_SECRET_KEYS, generatedRegions, rawOf } from "./support/configs";
import { readStackFile } from "./support/pulumi";

const noSecrets: ParseContext = { presentSecrets: new Set() };
const allSecrets: ParseContext = {
  presentSecrets: PROD_SECRET_KEYS,
};

const dev = rawOf(readStackFile("dev"));
const prod = rawOf(readStackFile("prod"));

/** The problems parseConfig reports, as "path: message" lines. */
function problemsOf(raw: unknown, context: ParseContext = noSecrets): string[] {
  try {
    parseConfig(raw, context);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.path}: ${p.message}`);
    throw err;
  }
  return [];
}

const regions = (...entries: Record<string, unknown>[]) => ({ ...dev, regions: entries });
const orion = { id: "orion", name: "Orion", type: "player_owned", slot: 3 };
const home = { id: "home", name: "Home", type: "default", slot: 1 };

describe("edge.upstreamKeepalive", () => {
  it("is off unless set, and accepted with an nginx image that supports it", () => {
    expect(parseConfig(dev, noSecrets).edge.upstreamKeepalive).toBe(0);
    for (const nginx of ["nginx:alpine", "nginx:1.27.3-alpine", "nginx:1.29", "registry.example/nginx:2.0.0"]) {
      const config = parseConfig(
        { ...dev, edge: { upstreamKeepalive: 16 }, images: { ...(dev.images as object), nginx } },
        noSecrets,
      );
      expect(config.edge.upstreamKeepalive, nginx).toBe(16);
    }
  });
});

/** Files as readProjectFile would read them: bytes, or its problem; anything else does not exist. */
const FILES: Record<string, FileRead | number> = {
  "database/nexus-init.sql": { bytes: Buffer.from("CREATE TABLE players (id int);\n") },
  "database/region-init.sql": { bytes: Buffer.from("CREATE TABLE sectors (id int);\n") },
  "database/latin1.sql": { bytes: Buffer.from([0x43, 0x52, 0xe9, 0x0a]) },
  "database/blank.sql": { bytes: Buffer.from(" \n\t\n") },
  "database/nul.sql": { bytes: Buffer.from("SELECT 1;\0") },
  "database/dir.sql": { problem: "is not a regular file" },
  "database/huge.sql": MAX_INIT_SQL_BYTES + 1,
};
function fakeReadFile(file: string, maxBytes: number): FileRead {
  const entry = FILES[file];
  if (entry === undefined) return { problem: "does not exist (relative to /project)" };
  if (typeof entry === "number")
    return entry > maxBytes
      ? { problem: `is ${entry} bytes; at most ${maxBytes}` }
      : { bytes: Buffer.alloc(entry, 0x41) };
  return entry;
}

describe("database", () => {
  const withFiles: ParseContext = { ...noSecrets, readFile: fakeReadFile };

  it("has no init SQL and no migration step unless set, an explicit empty one included", () => {
    for (const database of [undefined, {}, { initSql: {} }]) {
      expect(parseConfig({ ...dev, database }, withFiles).database, JSON.stringify(database)).toEqual({ initSql: {} });
    }
  });

  it("reads each configured init SQL file as text, and only the ones configured", () => {
    const config = parseConfig({ ...dev, database: { initSql: { region: "database/region-init.sql" } } }, withFiles);
    expect(config.database.initSql).toEqual({
      region: { path: "database/region-init.sql", sql: "CREATE TABLE sectors (id int);\n" },
    });
  });

  it("leaves the text unread for callers that read no files (the report CLIs)", () => {
    const config = parseConfig({ ...dev, database: { initSql: { nexus: "database/nexus-init.sql" } } }, noSecrets);
    expect(config.database.initSql).toEqual({ nexus: { path: "database/nexus-init.sql", sql: null } });
  });

  it("keeps the migration command as given", () => {
    const command = ["alembic", "upgrade", "head"];
    expect(parseConfig({ ...dev, database: { migration: { command } } }, withFiles).database).toEqual({
      initSql: {},
      migration: { command },
    });
  });

  const initSql = (file: unknown, kind = "region") => ({ ...dev, database: { initSql: { [kind]: file } } });
  const migration = (value: unknown) => ({ ...dev, database: { migration: value } });
  const cases: [string, unknown, string][] = [
    [
      "missing init SQL file",
      initSql("database/none.sql"),
      'sectorwars:database.initSql.region: "database/none.sql" does not exist (relative to /project)',
    ],
    [
      "init SQL that is a directory",
      initSql("database/dir.sql", "nexus"),
      'sectorwars:database.initSql.nexus: "database/dir.sql" is not a regular file',
    ],
    [
      "init SQL over the size limit",
      initSql("database/huge.sql"),
      `sectorwars:database.initSql.region: "database/huge.sql" is ${MAX_INIT_SQL_BYTES + 1} bytes; at most ${MAX_INIT_SQL_BYTES}`,
    ],
    [
      "init SQL not UTF-8",
      initSql("database/latin1.sql"),
      'sectorwars:database.initSql.region: "database/latin1.sql" is not UTF-8 text',
    ],
    [
      "blank init SQL",
      initSql("database/blank.sql"),
      'sectorwars:database.initSql.region: "database/blank.sql" is empty',
    ],
    [
      "init SQL with a NUL byte",
      initSql("database/nul.sql"),
      'sectorwars:database.initSql.region: "database/nul.sql" contains a NUL byte',
    ],
    [
      "absolute init SQL path",
      initSql("/etc/init.sql"),
      "sectorwars:database.initSql.region: must be relative to the project directory",
    ],
    [
      "init SQL path leaving the project",
      initSql("../db/init.sql"),
      "sectorwars:database.initSql.region: must not contain ..",
    ],
    [
      "init SQL without .sql",
      initSql("database/init.sh"),
      "sectorwars:database.initSql.region: must be a path of letters, digits and ._+-/ ending in .sql",
    ],
    [
      "init SQL path with a space",
      initSql("data base/init.sql"),
      "sectorwars:database.initSql.region: must be a path of",
    ],
    ["init SQL path as a number", initSql(42), "sectorwars:database.initSql.region: "],
    [
      "init SQL for an unknown database",
      initSql("database/nexus-init.sql", "redis"),
      "sectorwars:database.initSql.redis: unknown key",
    ],
    ["unknown database key", { ...dev, database: { schema: "x" } }, "sectorwars:database.schema: unknown key"],
    ["migration without a command", migration({}), "sectorwars:database.migration.command: is required"],
    [
      "migration command as a string",
      migration({ command: "npm run migrate" }),
      "sectorwars:database.migration.command: ",
    ],
    [
      "empty migration command",
      migration({ command: [] }),
      "sectorwars:database.migration.command: needs the program and its arguments",
    ],
    [
      "empty word in the migration command",
      migration({ command: ["npm", ""] }),
      "sectorwars:database.migration.command[1]: must not be empty",
    ],
    [
      "line break in the migration command",
      migration({ command: ["sh", "-c", "a\nb"] }),
      "sectorwars:database.migration.command[2]: must not contain NUL or line breaks",
    ],
    [
      "unknown migration key",
      migration({ command: ["x"], timeout: 5 }),
      "sectorwars:database.migration.timeout: unknown key",
    ],
  ];
  it.each(cases)("rejects %s", (_label, raw, expected) => {
    const problems = problemsOf(raw, withFiles);
    expect(problems, `problems were: ${JSON.stringify(problems)}`).toContainEqual(expect.stringContaining(expected));
  });

  it("reports a bad init SQL file with the other problems, not after them", () => {
    const problems = problemsOf({ ...initSql("database/none.sql"), namePrefix: "Bad_Prefix" }, withFiles);
    expect(problems).toEqual([
      expect.stringMatching(/^sectorwars:namePrefix: /),
      expect.stringMatching(/^sectorwars:database\.initSql\.region: "database\/none\.sql" does not exist/),
    ]);
  });
});

describe("edge.httpsRedirect", () => {
  it("is on in prod and off in dev unless the stack says otherwise", () => {
    expect(parseConfig(dev, noSecrets).edge.httpsRedirect).toBe(false);
    expect(parseConfig(prod, allSecrets).edge.httpsRedirect).toBe(true);
    const set = (raw: Record<string, unknown>, httpsRedirect: boolean) => ({
      ...raw,
      edge: { ...(raw.edge as object), httpsRedirect },
    });
    expect(parseConfig(set(dev, true), noSecrets).edge.httpsRedirect).toBe(true);
    expect(parseConfig(set(prod, false), allSecrets).edge.httpsRedirect).toBe(false);
    // Set explicitly to its default, the parsed config is the same as unset.
    expect(parseConfig(set(dev, false), noSecrets)).toEqual(parseConfig(dev, noSecrets));
    expect(parseConfig(set(prod, true), allSecrets)).toEqual(parseConfig(prod, allSecrets));
  });

  it.each<[string, unknown, string]>([
    ["a string", "yes", "sectorwars:edge.httpsRedirect: Invalid input: expected boolean, received string"],
    ["a number", 1, "sectorwars:edge.httpsRedirect: Invalid input: expected boolean, received number"],
    ["null", null, "sectorwars:edge.httpsRedirect: Invalid input: expected boolean, received null"],
  ])("refuses %s, naming the key", (_what, httpsRedirect, problem) => {
    expect(problemsOf({ ...dev, edge: { httpsRedirect } })).toEqual([problem]);
  });
});

describe("edge.staticFrom", () => {
  const withStatic = (staticFrom: unknown) => ({ ...dev, edge: { ...(dev.edge as object), staticFrom } });
  const context = { ...noSecrets, directoryExists: (dir: string) => ["probe", "../player/build/static"].includes(dir) };

  it("fills nothing unless set, and takes a directory or a path in the player UI image", () => {
    expect(parseConfig(dev, context).edge.staticFrom).toBeNull();
    expect(parseConfig(withStatic({ directory: "../player/build/static" }), context).edge.staticFrom).toEqual({
      kind: "directory",
      directory: "../player/build/static",
    });
    expect(parseConfig(withStatic({ playerUiPath: "/app/build/static" }), context).edge.staticFrom).toEqual({
      kind: "playerUiImage",
      path: "/app/build/static",
    });
  });

  it.each<[string, unknown, string]>([
    [
      "neither key",
      {},
      "sectorwars:edge.staticFrom: set directory (on the machine that runs pulumi up) or playerUiPath (inside the player UI image)",
    ],
    [
      "both keys",
      { directory: "../player/build/static", playerUiPath: "/app/build/static" },
      "sectorwars:edge.staticFrom: set directory or playerUiPath, not both",
    ],
    [
      "a string instead of an object",
      "/app/build/static",
      "sectorwars:edge.staticFrom: Invalid input: expected object, received string",
    ],
    [
      "a directory that does not exist",
      { directory: "build/static" },
      'sectorwars:edge.staticFrom.directory: "build/static" is not a directory (relative paths start at the project directory)',
    ],
    [
      "a directory with a space",
      { directory: "my build" },
      "sectorwars:edge.staticFrom.directory: must be a path of letters, digits and ._+-/",
    ],
    [
      "a directory that would end a shell word",
      { directory: "x;rm -rf /" },
      "sectorwars:edge.staticFrom.directory: must be a path of letters, digits and ._+-/",
    ],
    ...[
      "app/build/static",
      "/",
      "/app/build/static/",
      "/app/../etc",
      "/app/./build",
      "/app//build",
      "/app/$HOME",
      "/app/a b",
    ].map((playerUiPath): [string, unknown, string] => [
      `the image path ${JSON.stringify(playerUiPath)}`,
      { playerUiPath },
      "sectorwars:edge.staticFrom.playerUiPath: must be an absolute directory path inside the image, such as /app/build/static",
    ]),
  ])("refuses %s, naming the key", (_what, staticFrom, problem) => {
    expect(problemsOf(withStatic(staticFrom), context)).toEqual([problem]);
  });

  it("names an unknown key, and that neither source is set", () => {
    expect(problemsOf(withStatic({ image: "playerUi" }), context)).toEqual([
      "sectorwars:edge.staticFrom.image: unknown key",
      "sectorwars:edge.staticFrom: set directory (on the machine that runs pulumi up) or playerUiPath (inside the player UI image)",
    ]);
  });
});

describe("engine and services", () => {
  it("leaves the engine's API version to the engine unless the stack pins it", () => {
    expect(parseConfig(dev, noSecrets).engine).toEqual({});
    expect(parseConfig({ ...dev, engine: { apiVersion: "1.45" } }, noSecrets).engine).toEqual({ apiVersion: "1.45" });
  });

  it("refuses a --secret value anywhere but sectorwars:services, and keeps the services' environment secret", () => {
    const secretValued = (...keys: string[]) => ({ ...noSecrets, secretValued: new Set(keys) });
    expect(problemsOf(dev, secretValued("regions"))).toEqual([
      "sectorwars:regions: holds a value set with --secret, but is not a secret setting: set it without --secret",
    ]);
    expect(parseConfig(dev, secretValued("services")).servicesSecret).toBe(true);
    expect(parseConfig(dev, noSecrets).servicesSecret).toBe(false);
  });

  it("gives every game service its stop signal and grace, a field set alone keeping the other's default", () => {
    expect(parseConfig(dev, noSecrets).services).toEqual(DEFAULT_STOP);
    const tuned = parseConfig({ ...dev, services: { "region-api": { stopGraceSeconds: 120 } } }, noSecrets).services;
    expect(tuned["region-api"]).toEqual({ stopSignal: "SIGTERM", stopGraceSeconds: 120 });
    expect(tuned["nexus-api"]).toEqual(DEFAULT_STOP["nexus-api"]);
  });
});

describe("stack files", () => {
  it("parses the dev stack file with defaults filled in", () => {
    const config = parseConfig(dev, noSecrets);
    expect(config.environment).toBe("dev");
    expect(config.namePrefix).toBe("sectorwars-dev");
    expect(config.images.postgres).toEqual({ kind: "ref", ref: "postgres:15-alpine" });
    expect(config.images.gameserver).toEqual({ kind: "build", context: "probe" });
    expect(config.regions.map((r) => r.size)).toEqual(["standard", "standard"]);
    expect(config.sizeProfiles["nexus-api"]?.limits).toEqual({ cpus: 0.5, memoryMb: 256 });
  });

  it("parses the prod stack file with the seed's numbers once its secrets are set", () => {
    const config = parseConfig(prod, allSecrets);
    expect(config.sizeProfiles).toEqual(BUILT_IN_PROFILES);
    expect(config.images.gameserver.kind).toBe("ref");
  });

  it("refuses prod without PayPal credentials and TLS material, naming each key", () => {
    expect(problemsOf(prod)).toEqual([
      expect.stringMatching(/^sectorwars:paypalClientId: prod refuses to deploy without it/),
      expect.stringMatching(/^sectorwars:paypalClientSecret: /),
      expect.stringMatching(/^sectorwars:tlsCertificate: /),
      expect.stringMatching(/^sectorwars:tlsPrivateKey: /),
      expect.stringMatching(/^sectorwars:monitoringAlertWebhook: required with monitoring on in prod/),
    ]);
  });
});

describe("defaults", () => {
  const minimal = { environment: "dev", host: { cpus: 8, memoryGb: 16 }, regions: [home] };

  it("fills every unset object with its fields' defaults, which are DEFAULTS", () => {
    const config = parseConfig(minimal, noSecrets);
    expect(config.namePrefix).toBe(DEFAULTS.namePrefix);
    expect(config.regions[0]).toMatchObject(DEFAULTS.region);
    expect(config.redis).toEqual(DEFAULTS.redis);
    expect(config.paypal).toEqual(DEFAULTS.paypal);
    expect(config.edge).toEqual({ ...DEFAULTS.edge, httpsRedirect: false, staticFrom: null });
    expect(config.services).toEqual(DEFAULTS.services);
    expect(config.debugPorts).toEqual(DEFAULTS.debugPorts);
    expect(config.backup).toEqual(DEFAULTS.backup);
    const { reserve, overcommit } = DEFAULTS.capacity;
    expect(config.capacity).toEqual({ reserve: { cpus: reserve.cpus, memoryMb: reserve.memory }, overcommit });
  });

  it("keeps an object's other defaults when one of its fields is set", () => {
    const config = parseConfig(
      { ...minimal, backup: { retentionDays: 7 }, capacity: { reserve: { cpus: 1 } } },
      noSecrets,
    );
    expect(config.backup).toEqual({ ...DEFAULTS.backup, retentionDays: 7 });
    expect(config.capacity.reserve).toEqual({ cpus: 1, memoryMb: DEFAULTS.capacity.reserve.memory });
  });

  it("are the backup script's own defaults and the nginx generator's", () => {
    expect(DEFAULTS.backup).toMatchObject({
      parallelism: DEFAULT_BACKUP_SETTINGS.parallelism,
      retentionDays: DEFAULT_BACKUP_SETTINGS.retentionDays,
      schedule: DEFAULT_BACKUP_SCHEDULE.onCalendar,
    });
    expect(DEFAULTS.edge.upstreamKeepalive).toBe(DEFAULT_UPSTREAM_KEEPALIVE);
  });
});

describe("rejected configs", () => {
  const cases: [string, unknown, string][] = [
    ["missing environment", { ...dev, environment: undefined }, "sectorwars:environment: is required"],
    ["unknown environment", { ...dev, environment: "staging" }, "sectorwars:environment: "],
    ["unknown top-level key (typo)", { ...dev, region: [] }, "sectorwars:region: unknown key"],
    ["no regions", regions(), "sectorwars:regions: at least one region is needed"],
    [
      "duplicate slot",
      regions(home, orion, { ...orion, id: "vega" }),
      'sectorwars:regions[2].slot: 3 is already used by region "orion"',
    ],
    [
      "duplicate id",
      regions(home, orion, { ...orion, slot: 4 }),
      'sectorwars:regions[2].id: "orion" is already used by regions[1]',
    ],
    ["no default region", regions(orion), 'sectorwars:regions: exactly one region must have type "default"'],
    [
      "two default regions",
      regions(home, { ...orion, type: "default" }),
      'sectorwars:regions[1].type: only one region can be "default"',
    ],
    [
      "id with upper case",
      regions(home, { ...orion, id: "Orion" }),
      "sectorwars:regions[1].id: must be a lowercase slug or UUID",
    ],
    ["id with a slash", regions(home, { ...orion, id: "a/b" }), "sectorwars:regions[1].id: "],
    ["slot zero", regions(home, { ...orion, slot: 0 }), "sectorwars:regions[1].slot: "],
    ["fractional slot", regions(home, { ...orion, slot: 2.5 }), "sectorwars:regions[1].slot: "],
    ["slot too large", regions(home, { ...orion, slot: 5000 }), "sectorwars:regions[1].slot: "],
    ["unknown region type", regions(home, { ...orion, type: "public" }), "sectorwars:regions[1].type: "],
    [
      "unknown region size",
      regions(home, { ...orion, size: "huge" }),
      'sectorwars:regions[1].size: unknown region size "huge"',
    ],
    ["empty region name", regions(home, { ...orion, name: " " }), "sectorwars:regions[1].name: "],
    [
      "unknown field in a region",
      regions(home, { ...orion, colour: "red" }),
      "sectorwars:regions[1].colour: unknown key",
    ],
    [
      "bad image reference",
      { ...dev, images: { postgres: "Postgres 15!" } },
      "sectorwars:images.postgres: is not a Docker image reference",
    ],
    [
      "build context missing",
      { ...dev, images: { gameserver: { context: "no/such/dir" } } },
      'sectorwars:images.gameserver: build context "no/such/dir" does not exist',
    ],
    ["unknown image key", { ...dev, images: { mysql: "mysql:8" } }, "sectorwars:images.mysql: unknown key"],
    ["negative host cpus", { ...dev, host: { cpus: -1, memoryGb: 8 } }, "sectorwars:host.cpus: "],
    [
      "bad memory size",
      {
        ...dev,
        sizeProfiles: { nginx: { limits: { cpus: 1, memory: "lots" }, reservations: { cpus: 1, memory: "1G" } } },
      },
      'sectorwars:sizeProfiles.nginx.limits.memory: "lots" is not a memory size',
    ],
    [
      "reservation above limit",
      {
        ...dev,
        sizeProfiles: { nginx: { limits: { cpus: 1, memory: "1G" }, reservations: { cpus: 2, memory: "1G" } } },
      },
      "sectorwars:sizeProfiles.nginx.reservations.cpus: 2 exceeds the limit of 1",
    ],
    [
      "a CPU limit the docker provider reads back otherwise",
      {
        ...dev,
        sizeProfiles: { nginx: { limits: { cpus: 0.05, memory: "1G" }, reservations: { cpus: 0.05, memory: "1G" } } },
      },
      "sectorwars:sizeProfiles.nginx.limits.cpus: the docker provider reads 0.05 CPUs back as 0.1, so every preview would replace the container",
    ],
    [
      "region size naming an unknown profile",
      { ...dev, regionSizes: { big: { api: "region-api", db: "huge-db" } } },
      'sectorwars:regionSizes.big.db: unknown size profile "huge-db"',
    ],
    [
      "redis maxmemory above the container limit",
      { ...dev, redis: { maxmemory: "1gb" } },
      "sectorwars:redis.maxmemory: 1gb leaves no headroom under the redis container's 256M limit",
    ],
    ["unknown redis policy", { ...dev, redis: { maxmemoryPolicy: "lru" } }, "sectorwars:redis.maxmemoryPolicy: "],
    [
      "name prefix with underscore",
      { ...dev, namePrefix: "sector_wars" },
      "sectorwars:namePrefix: must start with a letter",
    ],
    [
      "edge ports equal",
      { ...dev, edge: { httpPort: 8443, httpsPort: 8443 } },
      "sectorwars:edge.httpsPort: host port 8443 is already used by sectorwars:edge.httpPort",
    ],
    ["negative upstream keepalive", { ...dev, edge: { upstreamKeepalive: -1 } }, "sectorwars:edge.upstreamKeepalive: "],
    [
      "a backup repository over plain HTTP",
      { ...dev, backup: { repository: { url: "s3:http://s3.example.com/bkp" } } },
      "sectorwars:backup.repository.url: pgBackRest speaks only HTTPS to S3",
    ],
    [
      "a REST backup repository",
      { ...dev, backup: { repository: { url: "rest:https://bk.example.com/r" } } },
      "sectorwars:backup.repository.url: pgBackRest has no REST repository type",
    ],
    [
      "an archive timeout above a minute",
      { ...dev, backup: { repository: { url: "s3:https://s3.example.com/bkp", archiveTimeoutSeconds: 90 } } },
      "sectorwars:backup.repository.archiveTimeoutSeconds: Too big",
    ],
    [
      "a backup repository without its key",
      { ...dev, backup: { repository: { url: "s3:https://s3.example.com/bkp" } } },
      "sectorwars:backupRepositoryPassword: required with backup.repository: pulumi config set --secret sectorwars:backupRepositoryPassword ...",
    ],
    [
      "a repository CA that is not PEM",
      { ...dev, backup: { repository: { url: "s3:https://s3.example.com/bkp", caCertificate: "MIIB..." } } },
      "sectorwars:backup.repository.caCertificate: must be one PEM certificate",
    ],
    [
      "upstream keepalive with an nginx image older than 1.27.3",
      { ...dev, edge: { upstreamKeepalive: 16 }, images: { ...(dev.images as object), nginx: "nginx:1.26.2-alpine" } },
      "sectorwars:edge.upstreamKeepalive: needs nginx >= 1.27.3 (`server ... resolve` in upstream blocks), but images.nginx is nginx:1.26.2-alpine",
    ],
    [
      "debug port collides with a region's port",
      { ...dev, debugPorts: { publish: true, postgresBase: 15432, redis: 15434 } },
      "sectorwars:regions[1].slot: host port 15434 is already used by sectorwars:debugPorts.redis",
    ],
    [
      "prod with the probe",
      { ...prod, images: { ...(prod.images as object), gameserver: undefined } },
      "sectorwars:images.gameserver: prod needs a real image reference",
    ],
    [
      "prod with a local build",
      { ...prod, images: { ...(prod.images as object), paypal: { context: "probe" } } },
      "sectorwars:images.paypal: prod needs an image reference from a registry",
    ],
    [
      "prod with an untagged image",
      { ...prod, images: { ...(prod.images as object), adminUi: "registry.example:5000/admin" } },
      'sectorwars:images.adminUi: "registry.example:5000/admin" has no tag or digest',
    ],
    [
      "engine API version without a minor",
      { ...dev, engine: { apiVersion: "1" } },
      "sectorwars:engine.apiVersion: must be a Docker Engine API version such as",
    ],
    ["engine API version as a number", { ...dev, engine: { apiVersion: 1.44 } }, "sectorwars:engine.apiVersion: "],
    [
      "engine API version of Docker itself",
      { ...dev, engine: { apiVersion: "26.1" } },
      "sectorwars:engine.apiVersion: must be a Docker Engine API version",
    ],
    ["unknown engine key", { ...dev, engine: { version: "1.45" } }, "sectorwars:engine.version: unknown key"],
    [
      "unknown service",
      { ...dev, services: { "nexus-db": { stopGraceSeconds: 5 } } },
      "sectorwars:services.nexus-db: unknown key",
    ],
    [
      "SIGKILL as stop signal",
      { ...dev, services: { "region-api": { stopSignal: "SIGKILL" } } },
      "sectorwars:services.region-api.stopSignal: ",
    ],
    [
      "stop signal without SIG",
      { ...dev, services: { paypal: { stopSignal: "TERM" } } },
      "sectorwars:services.paypal.stopSignal: ",
    ],
    [
      "zero stop grace",
      { ...dev, services: { "admin-ui": { stopGraceSeconds: 0 } } },
      "sectorwars:services.admin-ui.stopGraceSeconds: ",
    ],
    [
      "stop grace above an hour",
      { ...dev, services: { "player-ui": { stopGraceSeconds: 3601 } } },
      "sectorwars:services.player-ui.stopGraceSeconds: ",
    ],
    [
      "fractional stop grace",
      { ...dev, services: { "nexus-api": { stopGraceSeconds: 1.5 } } },
      "sectorwars:services.nexus-api.stopGraceSeconds: ",
    ],
    [
      "unknown service setting",
      { ...dev, services: { "nexus-api": { stopTimeout: 5 } } },
      "sectorwars:services.nexus-api.stopTimeout: unknown key",
    ],
    [
      "privileged mode",
      { ...dev, services: { "region-api": { privileged: true } } },
      "sectorwars:services.region-api.privileged: refused: a privileged container can take over the host",
    ],
    [
      "privileged: false is refused too (not a setting)",
      { ...dev, services: { paypal: { privileged: false } } },
      "sectorwars:services.paypal.privileged: refused",
    ],
    [
      "host networking",
      { ...dev, services: { "nexus-api": { networkMode: "host" } } },
      "sectorwars:services.nexus-api.networkMode: refused: the host's network",
    ],
    [
      "the Docker socket as a mount",
      { ...dev, services: { "admin-ui": { mounts: ["/var/run/docker.sock:/var/run/docker.sock"] } } },
      "sectorwars:services.admin-ui.mounts: refused: host paths (the Docker socket among them)",
    ],
    [
      "the Docker socket as a writable path",
      { ...dev, services: { "region-api": { writablePaths: { "/var/run/docker.sock": "1m" } } } },
      "sectorwars:services.region-api.writablePaths./var/run/docker.sock: refused: /var/run/docker.sock belongs to the kernel or the engine",
    ],
    [
      "a writable path under /proc",
      { ...dev, services: { "region-api": { writablePaths: { "/proc/sys": "1m" } } } },
      "sectorwars:services.region-api.writablePaths./proc/sys: refused",
    ],
    [
      "a relative writable path",
      { ...dev, services: { "region-api": { writablePaths: { cache: "64m" } } } },
      "sectorwars:services.region-api.writablePaths.cache: must be an absolute path",
    ],
    [
      "a writable path with ..",
      { ...dev, services: { "region-api": { writablePaths: { "/app/../etc": "64m" } } } },
      "sectorwars:services.region-api.writablePaths./app/../etc: must not contain . or ..",
    ],
    [
      "a writable size without unit",
      { ...dev, services: { "region-api": { writablePaths: { "/app/cache": "64" } } } },
      'sectorwars:services.region-api.writablePaths./app/cache: must be a size such as "64m"',
    ],
    [
      "SYS_ADMIN",
      { ...dev, services: { "region-api": { capabilities: ["SYS_ADMIN"] } } },
      "sectorwars:services.region-api.capabilities[0]: refused: SYS_ADMIN is not one of CHOWN",
    ],
    [
      "CAP_NET_ADMIN",
      { ...dev, services: { "player-ui": { capabilities: ["NET_BIND_SERVICE", "CAP_NET_ADMIN"] } } },
      "sectorwars:services.player-ui.capabilities[1]: refused: NET_ADMIN",
    ],
    [
      "an env key the platform sets",
      { ...dev, services: { "region-api": { env: { DATABASE_URL: "postgres://x" } } } },
      "sectorwars:services.region-api.env.DATABASE_URL: is set by the platform",
    ],
    [
      "a lowercase env key",
      { ...dev, services: { "region-api": { env: { log_level: "debug" } } } },
      "sectorwars:services.region-api.env.log_level: must be an environment variable name",
    ],
    [
      "health path and command together",
      { ...dev, services: { "region-api": { healthcheck: { path: "/h", command: "true" } } } },
      "sectorwars:services.region-api.healthcheck: give path or command, not both",
    ],
    [
      "a health path that is not a path",
      { ...dev, services: { "region-api": { healthcheck: { path: "health" } } } },
      "sectorwars:services.region-api.healthcheck.path: must be a URL path",
    ],
    [
      "a privileged port",
      { ...dev, services: { "region-api": { port: 80 } } },
      "sectorwars:services.region-api.port: ",
    ],
  ];

  it.each(cases)("rejects %s", (_label, raw, expected) => {
    const context = { ...allSecrets, directoryExists: (dir: string) => dir === "probe" };
    const problems = problemsOf(raw, context);
    expect(problems, `problems were: ${JSON.stringify(problems)}`).toContainEqual(expect.stringContaining(expected));
  });

  it("reports every problem at once, not just the first", () => {
    const problems = problemsOf({ ...regions({ ...home, slot: 0 }, { ...orion, id: "BAD" }), environment: "x" });
    expect(problems.length).toBeGreaterThanOrEqual(3);
  });

  it("formats the message as a list operators can read", () => {
    expect(() => parseConfig(regions(home, orion, { ...orion, id: "vega" }), noSecrets)).toThrow(
      /Invalid stack configuration \(1 problem\):\n {2}- sectorwars:regions\[2\]\.slot: 3 is already used by region "orion"/,
    );
  });
});

describe("config paths", () => {
  it.each([
    [["regions", 2, "slot"], "sectorwars:regions[2].slot"],
    [["images", "postgres"], "sectorwars:images.postgres"],
    [[], "sectorwars"],
    [["host"], "sectorwars:host"],
  ] as const)("%j → %s", (path, expected) => {
    expect(configPath(path)).toBe(expected);
  });
});

describe("properties", () => {
  const regionList = fc
    .uniqueArray(fc.integer({ min: 1, max: 999 }), { minLength: 1, maxLength: 60 })
    .chain((slots) =>
      fc.tuple(
        fc.constant(slots),
        fc.nat({ max: slots.length - 1 }),
        fc.shuffledSubarray(slots, { minLength: slots.length, maxLength: slots.length }),
      ),
    )
    .map(([slots, defaultIndex, order]) =>
      order.map((slot) => ({
        id: `r-${slot}`,
        name: `Region ${slot}`,
        type: slot === slots[defaultIndex] ? "default" : "player_owned",
        slot,
      })),
    );

  it("accepts any list of unique ids and slots with one default, in any order", () => {
    fc.assert(
      fc.property(regionList, (list) => {
        const config = parseConfig(regions(...list), noSecrets);
        expect(config.regions.map((r) => r.id)).toEqual(list.map((r) => r.id));
      }),
    );
  });

  it("names the exact entry that reuses a slot", () => {
    fc.assert(
      fc.property(
        regionList.filter((l) => l.length >= 2),
        fc.nat(),
        (list, pick) => {
          const victim = list[pick % list.length];
          if (!victim) return;
          const copy = { id: "copycat", name: "Copy", type: "player_owned", slot: victim.slot };
          const problems = problemsOf(regions(...list, copy));
          expect(problems).toContain(
            `sectorwars:regions[${list.length}].slot: ${victim.slot} is already used by region "${victim.id}"`,
          );
        },
      ),
    );
  });

  it("accepts generated configs of 1, 5 and 50 regions", () => {
    for (const n of [1, 5, 50]) expect(parseConfig(regions(...generatedRegions(n)), noSecrets).regions).toHaveLength(n);
  });
});
