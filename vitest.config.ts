import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['@caregaps/source'] },
  ssr: { resolve: { conditions: ['@caregaps/source'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'examples/**/*.test.ts'],
    // The default output, plus the reliability plan's figures as JSON in CI (docs/reliability.md).
    reporters: ['default', './scripts/figures-reporter.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
