import { defineConfig } from 'vitest/config';

// Longer tests that kill and overload real servers: `npm run test:stress`.
export default defineConfig({
  test: {
    include: ['test/stress/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 60_000,
  },
});
