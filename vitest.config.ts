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
    // A Temporal client call still in gRPC retry backoff when a test stack closes its connection throws from a timer
    // in @temporalio/client's grpc-retry.js, outside any promise the test holds: teardown noise, not Herald's.
    onUnhandledError(error) {
      const fromClosedRetry = error.message === 'Channel has been shut down' && /grpc-retry/.test(error.stack ?? '');
      return fromClosedRetry ? false : undefined;
    },
  },
});
