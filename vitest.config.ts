import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // Brings up the real broker, registry and simulator (or reuses a running local stack).
          globalSetup: ['test/setup/stack.ts'],
          // The same filter as the launcher's: drop kafkajs's negative-timer warning (tulios/kafkajs#1751).
          setupFiles: ['scripts/stack/quiet-warnings.ts'],
          // One file at a time: two cores, one broker; each test still uses its own topics.
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 240_000,
        },
      },
    ],
  },
});
