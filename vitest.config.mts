import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * Two projects in two workers. `engines`: the files that drive Docker engines, test swarms and the
 * real Pulumi engine; they share those, so test/support/engineLock.ts lets one run at a time. `host`:
 * everything else (mocks, planners, real nginx and servers on 127.0.0.1, containers of their own);
 * these run in the other worker, beside the engine files, instead of after them.
 */
const ENGINE_FILES = ["test/**/*.docker.test.ts", "test/real-engine/**/*.test.ts"];

/** The first engine file, then the host files, then the other engine files: the second worker
 *  works through the host files while the first engine file runs, instead of waiting on the lock. */
class EnginesBesideHost extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const engines = sorted.filter((f) => f.project.name === "engines");
    const host = sorted.filter((f) => f.project.name !== "engines");
    return [...engines.slice(0, 1), ...host, ...engines.slice(1)];
  }
}

export default defineConfig({
  test: {
    // Pulumi's mock runtime is process-global state, so each test file gets its own process.
    pool: "forks",
    maxWorkers: 2,
    sequence: { sequencer: EnginesBesideHost },
    // The default summary, then one line per engine suite: what ran, what was skipped and why.
    reporters: ["default", "./test/support/engineSuitesReporter.ts"],
    testTimeout: 60_000,
    hookTimeout: 600_000,
    projects: [
      { extends: true, test: { name: "host", include: ["test/**/*.test.ts"], exclude: ENGINE_FILES } },
      { extends: true, test: { name: "engines", include: ENGINE_FILES, setupFiles: ["test/support/engineLock.ts"] } },
    ],
  },
});
