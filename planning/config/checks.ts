/**
 * The rules of the stack config that span fields (a region's size against the sizes, Redis'
 * maxmemory against its profile, host ports against each other, an nginx image against
 * upstreamKeepalive, what prod demands) and the checks that need the caller's world (build
 * contexts and directories exist). Each problem carries the path of the key to change.
 */
import { APP_IMAGE_KEYS, IMAGE_KEYS } from "./images";
import { CONFIG_NAMESPACE, type ConfigProblem, configPath, problemAt } from "./errors";
import type { ParseContext, PlatformConfig } from "./resolve";
import { type ParsedConfig, REDIS_MAXMEMORY_SHARE } from "./schema";
import { UPSTREAM_RESOLVE_SINCE, nginxVersionOfImage, supportsUpstreamResolve } from "../edge/capabilities";
import { GAME_SERVICES, serviceProblems } from "../stack/services";
import { CORE_SERVICES } from "../stack/sizes";
import { swarmProblems } from "../swarm/checks";
import { formatMemoryMb, parseRedisMemoryMb } from "../units";

export function crossCheck(
  config: PlatformConfig,
  raw: ParsedConfig,
  context: Pick<ParseContext, "presentSecrets" | "secretValued" | "directoryExists">,
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const add = (path: PropertyKey[], message: string) => problems.push(problemAt(path, message));

  for (const key of context.secretValued ?? []) {
    if (key !== "services") {
      add([key], "holds a value set with --secret, but is not a secret setting: set it without --secret");
    }
  }
  for (const service of GAME_SERVICES) {
    problems.push(...serviceProblems(service, config.services[service]));
  }
  problems.push(...swarmProblems(config));

  config.regions.forEach((r, i) => {
    if (r.type === "default" && r.state === "retired") {
      add(
        ["regions", i, "state"],
        "the default region serves legacy /api/ and cannot be retired; make another region the default first",
      );
    }
    if (!(r.size in config.regionSizes)) {
      add(
        ["regions", i, "size"],
        `unknown region size "${r.size}" (known: ${Object.keys(config.regionSizes).join(", ")})`,
      );
    }
  });

  for (const [name, size] of Object.entries(raw.regionSizes)) {
    for (const part of ["api", "db"] as const) {
      if (!(size[part] in config.sizeProfiles)) {
        add(["regionSizes", name, part], `unknown size profile "${size[part]}"`);
      }
    }
  }

  for (const service of CORE_SERVICES) {
    if (!(service in config.sizeProfiles)) add(["sizeProfiles", service], "the core service's profile is missing");
  }

  const redisLimit = config.sizeProfiles.redis?.limits.memoryMb;
  const maxmemoryMb = parseRedisMemoryMb(config.redis.maxmemory);
  if (redisLimit !== undefined && maxmemoryMb !== undefined && maxmemoryMb > redisLimit * REDIS_MAXMEMORY_SHARE) {
    add(
      ["redis", "maxmemory"],
      `${config.redis.maxmemory} leaves no headroom under the redis container's ${formatMemoryMb(redisLimit)} limit ` +
        `(at most ${Math.floor(redisLimit * REDIS_MAXMEMORY_SHARE)}mb)`,
    );
  }

  if (config.debugPorts.publish) {
    const used = new Map<number, string>([
      [config.edge.httpPort, "sectorwars:edge.httpPort"],
      [config.edge.httpsPort, "sectorwars:edge.httpsPort"],
    ]);
    const claim = (port: number, path: PropertyKey[]) => {
      const owner = used.get(port);
      if (port > 65535) add(path, `host port ${port} is above 65535`);
      else if (owner !== undefined) add(path, `host port ${port} is already used by ${owner}`);
      else used.set(port, configPath(path));
    };
    claim(config.debugPorts.redis, ["debugPorts", "redis"]);
    claim(config.debugPorts.postgresBase, ["debugPorts", "postgresBase"]);
    config.regions.forEach((r, i) => claim(config.debugPorts.postgresBase + r.slot, ["regions", i, "slot"]));
  } else if (config.edge.httpPort === config.edge.httpsPort) {
    add(["edge", "httpsPort"], `host port ${config.edge.httpsPort} is already used by sectorwars:edge.httpPort`);
  }

  if (config.edge.upstreamKeepalive > 0) {
    // Older nginx rejects `resolve` in upstream blocks: a new edge container would not start. Only
    // a tag that names a version can be checked; nginx:alpine and nginx:stable are recent enough.
    const nginx = config.images.nginx;
    const ref = nginx.kind === "ref" ? nginx.ref : "";
    const version = nginxVersionOfImage(ref);
    if (version !== undefined && !supportsUpstreamResolve(version)) {
      add(
        ["edge", "upstreamKeepalive"],
        `needs nginx >= ${UPSTREAM_RESOLVE_SINCE} (\`server ... resolve\` in upstream blocks), but images.nginx is ${ref}`,
      );
    }
  }

  if (context.directoryExists) {
    for (const key of IMAGE_KEYS) {
      const image = config.images[key];
      if (image.kind === "build" && !context.directoryExists(image.context)) {
        add(["images", key], `build context "${image.context}" does not exist`);
      }
    }
    const from = config.edge.staticFrom;
    if (from?.kind === "directory" && !context.directoryExists(from.directory)) {
      add(
        ["edge", "staticFrom", "directory"],
        `"${from.directory}" is not a directory (relative paths start at the project directory)`,
      );
    }
  }

  if (config.backup.repository !== undefined) {
    for (const key of ["backupRepositoryPassword", "backupRepositoryCredentials"] as const) {
      if (!context.presentSecrets.has(key)) {
        add([key], `required with backup.repository: pulumi config set --secret ${CONFIG_NAMESPACE}:${key} ...`);
      }
    }
  }
  if (config.environment === "prod") {
    for (const key of APP_IMAGE_KEYS) {
      const image = config.images[key];
      if (raw.images[key] === undefined) {
        add(["images", key], "prod needs a real image reference (repo/name:tag); the probe is for dev only");
      } else if (image.kind !== "ref") {
        add(["images", key], "prod needs an image reference from a registry, not a local build");
      } else if (!/[:@][^/]*$/.test(image.ref.slice(image.ref.lastIndexOf("/") + 1))) {
        add(["images", key], `"${image.ref}" has no tag or digest; prod pins what it runs`);
      }
    }
    // With edge.acme the certificate comes from the CA.
    const tlsKeys = config.edge.acme ? [] : (["tlsCertificate", "tlsPrivateKey"] as const);
    for (const key of ["paypalClientId", "paypalClientSecret", ...tlsKeys] as const) {
      if (!context.presentSecrets.has(key)) {
        add([key], `prod refuses to deploy without it: pulumi config set --secret ${CONFIG_NAMESPACE}:${key} ...`);
      }
    }
  }
  if (config.edge.acme) {
    if (config.orchestrator === "swarm") {
      add(["edge", "acme"], "swarm mode has no ACME client yet; use the tlsCertificate and tlsPrivateKey secrets");
    }
    if (context.presentSecrets.has("tlsCertificate") || context.presentSecrets.has("tlsPrivateKey")) {
      add(
        ["edge", "acme"],
        `the certificate comes from the ACME CA or from the tlsCertificate/tlsPrivateKey secrets, not both: unset edge.acme or pulumi config rm ${CONFIG_NAMESPACE}:tlsCertificate and ${CONFIG_NAMESPACE}:tlsPrivateKey`,
      );
    }
    if (!/^(?=.*[a-z])[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(config.edge.hostname)) {
      add(
        ["edge", "hostname"],
        `an ACME CA certifies public DNS names only, not "${config.edge.hostname}" (edge.acme is set)`,
      );
    }
  }
  if (
    config.monitoring.enabled &&
    config.environment === "prod" &&
    !context.presentSecrets.has("monitoringAlertWebhook")
  ) {
    add(
      ["monitoringAlertWebhook"],
      `required with monitoring on in prod, or no alert reaches anyone: pulumi config set --secret ${CONFIG_NAMESPACE}:monitoringAlertWebhook https://... (or ${CONFIG_NAMESPACE}:monitoring.enabled false)`,
    );
  }
  return problems;
}
