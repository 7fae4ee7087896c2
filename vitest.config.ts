import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts', 'test/e2e/**/*.test.ts'],
    // End-to-end tests start real partiscid processes and native addons:
    // separate processes, not threads.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: end-to-end files each run servers with several threads.
    fileParallelism: true,
    maxWorkers: 2,
  },
});
