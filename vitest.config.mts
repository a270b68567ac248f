import { defineConfig } from "vitest/config";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * The files that drive Docker engines, test swarms and the real Pulumi engine run in lanes, one file
 * at a time per lane (test/support/engineLock.ts): a lane's files share its engines and time what
 * happens on them. The `swarm` lane owns the test swarms (their own dockerds); `one-host` owns the
 * default and modern engines as deploy targets. Swarm files still use the default engine for side
 * servers (S3, image loads), under names of their own, which is safe beside the other lane.
 * Everything else (`host`: mocks, planners, real nginx and servers on 127.0.0.1) needs no lane.
 */
const SWARM_LANE = ["test/swarm*.docker.test.ts", "test/schema.docker.test.ts", "test/real-engine/swarm*.test.ts"];
/** Upgrades both kinds of stack: it waits for both lanes. */
const BOTH_LANES = ["test/real-engine/upgrade.test.ts"];
const ENGINE_FILES = ["test/**/*.docker.test.ts", "test/real-engine/**/*.test.ts"];

const lane = (name: string, lanes: string, include: string[], exclude: string[] = []) => ({
  extends: true,
  test: {
    name,
    include,
    exclude,
    env: { SECTORWARS_ENGINE_LANES: lanes },
    setupFiles: ["test/support/engineLock.ts"],
  },
});

/** Interleaves two lists: a, b, a, b, ... then the rest of the longer one. */
const interleave = <T,>(a: T[], b: T[]): T[] =>
  Array.from({ length: Math.max(a.length, b.length) }, (_, i) => [a[i], b[i]])
    .flat()
    .filter((x): x is T => x !== undefined);

/**
 * Each lane's first (longest) file, then the host files, then the lanes' other files alternately.
 * Four workers: one per lane, two for the host files while they last, then a spare, so that a
 * worker waiting on one lane's lock never leaves the other lane without a file.
 */
class LanesBesideHost extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const of = (name: string) => sorted.filter((f) => f.project.name === name);
    const [oneHost, swarm] = [of("engines:one-host"), of("engines:swarm")];
    const host = sorted.filter((f) => !f.project.name.startsWith("engines:"));
    return [
      ...oneHost.slice(0, 1),
      ...swarm.slice(0, 1),
      ...host,
      ...interleave(oneHost.slice(1), swarm.slice(1)),
      ...of("engines:both"),
    ];
  }
}

export default defineConfig({
  test: {
    // Pulumi's mock runtime is process-global state, so each test file gets its own process.
    pool: "forks",
    maxWorkers: 4,
    sequence: { sequencer: LanesBesideHost },
    // The default summary, then one line per engine suite: what ran, what was skipped and why.
    reporters: ["default", "./test/support/engineSuitesReporter.ts"],
    testTimeout: 60_000,
    hookTimeout: 600_000,
    projects: [
      { extends: true, test: { name: "host", include: ["test/**/*.test.ts"], exclude: ENGINE_FILES } },
      lane("engines:one-host", "one-host", ENGINE_FILES, [...SWARM_LANE, ...BOTH_LANES]),
      lane("engines:swarm", "swarm", SWARM_LANE),
      lane("engines:both", "one-host,swarm", BOTH_LANES),
    ],
  },
});
