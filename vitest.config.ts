import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Temporal's native core and worker threads do not mix: one process per test file.
    pool: 'forks',
    maxWorkers: 2,
    globalSetup: ['./test/global-setup.ts'],
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    reporters: ['default'],
  },
});
