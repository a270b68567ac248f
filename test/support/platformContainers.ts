/**
 * `docker create` arguments that give a test container what the platform gives its own: the
 * run's labels plus the platform's, the role's capabilities and security options, health checks,
 * and files uploaded before the start (as the provider's `uploads` do).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { hardeningFor } from "../../planning/stack/hardening";
import type { HealthcheckPlan } from "../../planning/stack/healthchecks";
import { PGDATA } from "../../planning/stack/topology";
import { type Role } from "../../planning/roles";
import { POSTGRES_PASSWORD_FILE } from "../../planning/stack/postgres";
import { type EngineOption, type TestRun, docker } from "./docker";

/**
 * The platform's capability set, no-new-privileges, read-only root file system and its scratch
 * tmpfs mounts for a role (planning/stack/hardening.ts), as components/stack/dockerResources.ts applies them.
 */
export function hardeningArgs(role: Role): string[] {
  const h = hardeningFor(role);
  return [
    ...h.capabilityDrops.flatMap((c) => ["--cap-drop", c]),
    ...h.capabilityAdds.flatMap((c) => ["--cap-add", c]),
    ...h.securityOpts.flatMap((o) => ["--security-opt", o]),
    ...(h.readOnlyRootfs ? ["--read-only"] : []),
    ...Object.entries(h.tmpfs).flatMap(([target, options]) => ["--tmpfs", `${target}:${options}`]),
  ];
}

/** `--label` arguments: the run's labels (so cleanup finds it) and the given ones. */
export function labelArgs(run: TestRun, labels: Record<string, string>): string[] {
  return [...run.labels, ...Object.entries(labels).map(([k, v]) => `${k}=${v}`)].flatMap((l) => ["--label", l]);
}

/**
 * Writes a file into a created (not yet started) container, as the provider's `uploads` do;
 * `workDir` holds the local copy for the moment of the copy.
 */
export function upload(
  workDir: string,
  container: string,
  file: string,
  content: string,
  engine: EngineOption = {},
): void {
  const local = path.join(workDir, `upload-${path.basename(file)}`);
  fs.writeFileSync(local, content, { mode: 0o444 });
  docker(["cp", local, `${container}:${file}`], engine);
  fs.rmSync(local);
}

/**
 * The health check as `docker create` flags. `interval` replaces the plan's, so that a test sees
 * "healthy" (or "unhealthy") within a second or two instead of the production 10 s.
 */
export function healthcheckArgs(check: HealthcheckPlan, interval?: string): string[] {
  const [kind, command] = check.tests;
  if (kind !== "CMD-SHELL" || command === undefined)
    throw new Error(`unsupported health check ${check.tests.join(" ")}`);
  return [
    "--health-cmd",
    command,
    "--health-interval",
    interval ?? check.interval,
    "--health-timeout",
    check.timeout,
    "--health-retries",
    String(check.retries),
    "--health-start-period",
    check.startPeriod,
  ];
}

/**
 * A PostgreSQL container's environment and data volume as components/stack/gameApi.ts creates them:
 * the official image's variables, the password as a file (upload it to POSTGRES_PASSWORD_FILE
 * before the start), the volume exactly at PGDATA.
 */
export function postgresArgs(db: { database: string; user: string; volume: string }): string[] {
  return [
    ...["-e", `POSTGRES_DB=${db.database}`, "-e", `POSTGRES_USER=${db.user}`],
    ...["-e", `POSTGRES_PASSWORD_FILE=${POSTGRES_PASSWORD_FILE}`, "-e", `PGDATA=${PGDATA}`],
    ...["--mount", `type=volume,source=${db.volume},target=${PGDATA}`],
  ];
}
