import { defineConfig } from 'vitest/config';

// One run over every package. Integration tests start their own servers on random ports,
// so files may run in parallel; the machine has 2 cores, hence maxWorkers 2.
export default defineConfig({
  test: {
    include: [
      'lib/*/src/**/*.test.ts',
      'lib/*/tests/**/*.test.ts',
      'agents/*/src/**/*.test.ts',
      'agents/*/tests/**/*.test.ts',
      'scripts/**/*.test.ts',
      'deploy/**/*.test.ts',
    ],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
