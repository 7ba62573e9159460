// Two projects: unit (pure logic, no I/O) and integration (real redis-server, real HTTP).
// Integration tests share one redis-server started in globalSetup (or REDIS_URL when set);
// each test file uses its own random key prefix, so files never see each other's data.
const tsJest = ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: { warnOnly: false } }];

/** @type {import('jest').Config} */
module.exports = {
  collectCoverageFrom: [
    'service/src/**/*.ts',
    // Process entry points: exercised as real child processes (test/process/*), whose
    // coverage jest cannot see; everything they call is covered in-process.
    '!service/src/server.ts',
    '!service/src/cli/users.ts',
  ],
  coverageReporters: ['text-summary', 'lcov'],
  coverageThreshold: { global: { lines: 85 } },
  globalSetup: '<rootDir>/service/test/helpers/global-setup.ts',
  globalTeardown: '<rootDir>/service/test/helpers/global-teardown.ts',
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': tsJest },
      testMatch: ['<rootDir>/service/test/**/*.unit.test.ts'],
    },
    {
      displayName: 'integration',
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': tsJest },
      testMatch: ['<rootDir>/service/test/**/*.test.ts'],
      testPathIgnorePatterns: ['\\.unit\\.test\\.ts$'],
      testTimeout: 30000,
    },
  ],
};
