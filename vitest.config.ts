import { defineConfig } from 'vitest/config';

/**
 * Two projects: unit (pure logic, no I/O, no Redis) and integration (a real redis-server
 * started once by globalSetup, or REDIS_URL when set; real HTTP through the app). Every
 * integration test file uses its own random key prefix, so files never see each other's data.
 */
export default defineConfig({
  test: {
    coverage: {
      provider: 'v8',
      include: ['service/src/**/*.ts'],
      exclude: [
        // Process entry points: exercised as real child processes (test/process/*), whose
        // coverage the runner cannot see; everything they call is covered in-process.
        'service/src/server.ts',
        'service/src/cli/users.ts',
      ],
      reporter: ['text-summary', 'lcov'],
      thresholds: { lines: 85 },
    },
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['service/test/**/*.unit.test.ts', 'ops/**/*.test.ts'], exclude: ['ops/**/*.integration.test.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          // Real redis-server, real nginx, real processes.
          include: ['service/test/**/*.test.ts', 'ops/**/*.integration.test.ts'],
          exclude: ['service/test/**/*.unit.test.ts'],
          globalSetup: ['service/test/helpers/global-setup.ts'],
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
    ],
  },
});
