import { defineConfig } from 'vitest/config';

/**
 * One vitest setup for every package: unit tests (`*.test.ts`) and integration tests
 * (`*.integration.test.ts`, real sockets and real servers) as separate projects, and a JSON
 * report per package that `.ci/run` adds up into its `N passed, N failed` line.
 */
export function packageTestConfig(options: { integrationTimeout?: number } = {}) {
  // Workspace packages resolve to their TypeScript sources in tests, so no stale dist/ is ever tested.
  const conditions = ['@x/source', 'node', 'import', 'module', 'default'];
  return defineConfig({
    resolve: { conditions },
    ssr: { resolve: { conditions, externalConditions: ['@x/source'] } },
    test: {
      reporters: ['default', ['json', { outputFile: 'test-results.json' }]],
      passWithNoTests: true,
      projects: [
        {
          extends: true,
          test: {
            name: 'unit',
            include: ['test/**/*.test.ts'],
            exclude: ['test/**/*.integration.test.ts'],
          },
        },
        {
          extends: true,
          test: {
            name: 'integration',
            include: ['test/**/*.integration.test.ts'],
            testTimeout: options.integrationTimeout ?? 30_000,
            hookTimeout: 30_000,
            // Integration tests start servers and bind ports: one file at a time on a 2-core machine.
            fileParallelism: false,
          },
        },
      ],
    },
  });
}
