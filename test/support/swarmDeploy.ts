/**
 * A swarm stack as `pulumi up` would bring it up from the program's declarations, on a test
 * swarm: objects, node labels, all services at once, the password syncs once the databases are
 * healthy, then the rest healthy. Shared by the swarm tests on one node and on three.
 */
import { type EngineOption } from "./docker";
import { sh, waitUntil } from "./process";
import { COMMAND, type ProgramRun, SERVICE } from "./pulumi";
import { type ServiceRunAs, createService, createSwarmObjects, healthyTasks, serviceNamed } from "./serviceSpec";

const DATA_SERVICES = ["nexus-db", "region-default-db", "region-orion-db", "redis-server"];

/**
 * Runs a declared command as `pulumi up` would (its create, stdin, environment), where the
 * environment names no engine (DOCKER_HOST) with `host`: the provider's, on the deploy machine.
 */
export function runDeclaredCommand(run: ProgramRun, name: string, host: string): string {
  const c = run.ofType(COMMAND).find((r) => r.name === name);
  if (!c) throw new Error(`no command ${name} declared`);
  const declared = c.inputs.environment as Record<string, string>;
  const env = { ...process.env, ...declared, DOCKER_HOST: declared.DOCKER_HOST ?? host };
  const stdin = typeof c.inputs.stdin === "string" ? c.inputs.stdin : undefined;
  const r = sh(String(c.inputs.create), env, stdin);
  if (r.status !== 0) throw new Error(`${name} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** Waits until each named service runs as many healthy tasks as it declares (one per edge node for the edge). */
function waitConverged(
  run: ProgramRun,
  names: readonly string[],
  engines: readonly EngineOption[],
  edgeNodes = 1,
): Promise<void[]> {
  return Promise.all(
    names.map((name) => {
      const s = serviceNamed(run, name);
      const mode = s.inputs.mode as { replicated?: { replicas: number } };
      const want = mode.replicated?.replicas ?? edgeNodes;
      const service = String(s.inputs.name);
      const healthy = () => engines.reduce((n, on) => n + healthyTasks(service, on).length, 0);
      return waitUntil(`${service} to run ${want} healthy task(s)`, () => healthy() === want, 180_000);
    }),
  );
}

/**
 * Creates the whole declared stack. `manager` is the provider's engine; `engines` every node's
 * (health is read where the tasks run).
 */
export async function deploySwarmStack(
  run: ProgramRun,
  as: ServiceRunAs,
  c: { manager: string; engines: readonly EngineOption[]; nodeNames: readonly string[] },
): Promise<void> {
  createSwarmObjects(run, as);
  for (const node of c.nodeNames) runDeclaredCommand(run, `edge-node-${node}`, c.manager);
  // All at once, as `pulumi up` starts whatever does not wait for another: the APIs' plain health
  // check needs no database, and the password syncs run once the databases are up.
  const names = run.ofType(SERVICE).map((s) => s.name);
  for (const name of names) createService(run, name, as);
  await waitConverged(run, DATA_SERVICES, c.engines);
  for (const owner of ["nexus", "region-default", "region-orion"]) {
    runDeclaredCommand(run, `${owner}-db-password-sync`, c.manager);
  }
  await waitConverged(
    run,
    names.filter((n) => n !== "edge" && !DATA_SERVICES.includes(n)),
    c.engines,
  );
}
