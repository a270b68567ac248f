/**
 * One workload model behind both orchestrators (components/workload): the same config declared on
 * one host and in swarm mode, under Pulumi's mocks, gives the same workloads under the same
 * logical names, with the same environment and the same files at the same paths. What differs is
 * only what each backend decides: how a credential travels and how a file is delivered.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { kebab } from "../components/workload/workload";
import { SECRETS_DIR } from "../planning/swarm/secrets";
import { PROD_SECRETS } from "./support/configs";
import { envOf } from "./support/graph";
import {
  CONTAINER,
  type ProgramRun,
  type RegisteredResource,
  SERVICE,
  isSecretValue,
  runProgram,
} from "./support/pulumi";
import { swarmDevConfig } from "./support/swarmConfigs";

type ContainerSpec = {
  env?: Record<string, string>;
  secrets?: { fileName: string }[];
  configs?: { fileName: string }[];
};
const containerSpec = (s: RegisteredResource) => (s.inputs.taskSpec as { containerSpec: ContainerSpec }).containerSpec;
const uploads = (c: RegisteredResource) =>
  ((c.inputs.uploads as { file: string }[] | undefined) ?? []).map((u) => u.file).sort();
const byName = (resources: RegisteredResource[]) => new Map(resources.map((r) => [r.name, r]));

const PAYPAL = {
  "sectorwars:paypalClientId": PROD_SECRETS["sectorwars:paypalClientId"],
  "sectorwars:paypalClientSecret": PROD_SECRETS["sectorwars:paypalClientSecret"],
};

let oneHost: ProgramRun;
let swarm: ProgramRun;
beforeAll(async () => {
  const swarmConfig = swarmDevConfig();
  const { "sectorwars:orchestrator": _o, "sectorwars:swarm": _s, ...hostConfig } = swarmConfig;
  // One after the other: Pulumi's mocked runtime is process-global.
  oneHost = await runProgram({ config: hostConfig, secrets: PAYPAL, engine: "1.45" });
  swarm = await runProgram({ config: swarmConfig, secrets: PAYPAL, engine: "1.45" });
}, 120_000);

describe("the dev stack on one host and in swarm mode", () => {
  it("declares the same workloads under the same logical names", () => {
    const containers = oneHost.ofType(CONTAINER).map((c) => c.name);
    expect(containers.length).toBeGreaterThan(8);
    expect(
      swarm
        .ofType(SERVICE)
        .map((s) => s.name)
        .sort(),
    ).toEqual(containers.sort());
  });

  it("gives each the same environment; a credential is a secret variable on one host and a `<KEY>_FILE` Docker secret in swarm mode", () => {
    const services = byName(swarm.ofType(SERVICE));
    for (const container of oneHost.ofType(CONTAINER)) {
      const onHost = envOf(container);
      const spec = containerSpec(services.get(container.name) as RegisteredResource);
      const expected: Record<string, string> = {};
      for (const [key, value] of Object.entries(onHost)) {
        const file = `${SECRETS_DIR}/${kebab(key)}`;
        if (spec.env?.[key] === undefined && spec.secrets?.some((s) => s.fileName === file)) {
          expected[`${key}_FILE`] = file;
          // Only credentials travel as files, and on one host they keep the environment secret.
          expect(isSecretValue(container.rawInputs.envs), `${container.name}: ${key}`).toBe(true);
        } else expected[key] = value;
      }
      expect(spec.env ?? {}, container.name).toEqual(expected);
    }
  });

  it("delivers the same files at the same paths: uploads on one host, Docker secrets and configs in swarm mode", () => {
    const services = byName(swarm.ofType(SERVICE));
    for (const container of oneHost.ofType(CONTAINER)) {
      const spec = containerSpec(services.get(container.name) as RegisteredResource);
      // The files behind `<KEY>_FILE` variables that one host has as plain KEY (a credential).
      const onHost = envOf(container);
      const secretVariables = Object.keys(spec.env ?? {}).filter((k) => k.endsWith("_FILE") && !(k in onHost));
      const files = [...(spec.secrets ?? []), ...(spec.configs ?? [])]
        .map((f) => f.fileName)
        .filter((f) => !secretVariables.some((k) => spec.env?.[k] === f));
      expect(files.sort(), container.name).toEqual(uploads(container));
    }
  });

  it("keeps the credentials out of every swarm service's spec", () => {
    for (const service of swarm.ofType(SERVICE)) {
      const text = JSON.stringify(service.inputs);
      for (const secret of Object.values(PAYPAL)) expect(text, service.name).not.toContain(secret);
      expect(text, service.name).not.toMatch(/postgresql:\/\/[^@]*:[^@]+@|redis:\/\/:[^@]+@/);
    }
  });
});
