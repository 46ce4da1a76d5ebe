import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 60_000,
          // Groups run in order: unit (0), integration (1), cluster (2).
          sequence: { groupOrder: 0 },
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
          sequence: { groupOrder: 1 },
        },
      },
      {
        test: {
          name: 'cluster',
          include: ['test/cluster/**/*.test.ts'],
          // The three-node cluster: its tests start it when they begin (test/helpers/cluster.ts).
          globalSetup: ['test/setup/cluster.ts'],
          setupFiles: ['scripts/stack/quiet-warnings.ts'],
          // After the single-broker projects: the cluster's three brokers and the single one do
          // not share two cores with the other tests.
          sequence: { groupOrder: 2 },
          fileParallelism: false,
          testTimeout: 600_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
