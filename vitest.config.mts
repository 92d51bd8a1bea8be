import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // TF.js backends are process-global; one fork per file keeps tests independent.
    pool: 'forks',
    testTimeout: 300_000,
    hookTimeout: 120_000,
    reporters: ['default', './test/summaryReporter.ts'],
  },
});
