import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // End-to-end tests spawn servers and a simulator; two cores, so keep the pool small.
    pool: 'forks',
    maxWorkers: 2,
  },
});
