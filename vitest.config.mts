import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Pulumi's mock runtime is process-global state, so each test file gets its own process.
    pool: "forks",
    testTimeout: 60_000,
    hookTimeout: 600_000,
  },
});
