import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Pulumi's mock runtime is process-global state, so each test file gets its own process.
    pool: "forks",
    // The default summary, then one line per engine suite: what ran, what was skipped and why.
    reporters: ["default", "./test/support/engineSuitesReporter.ts"],
    testTimeout: 60_000,
    hookTimeout: 600_000,
  },
});
