import type { Config } from 'jest';

/**
 * jest runs every test in the repository: this config the unit and integration projects,
 * smoke/jest.config.ts the smoke suite against a running stack.
 *
 * ES modules throughout (package.json "type": "module"; jest's ESM mode needs
 * --experimental-vm-modules, set by the npm scripts). TypeScript goes through @swc/jest: it
 * strips types file by file (the code base is erasable-syntax only, so nothing needs a type
 * checker to compile) and is the fastest maintained transform; tsc type-checks the same files in
 * `npm run lint`. ts-jest's ESM preset would type-check a second time, file by file, for minutes.
 */
export const swcTransform: Config['transform'] = {
  '^.+\\.ts$': [
    '@swc/jest',
    { jsc: { parser: { syntax: 'typescript' }, target: 'es2024' }, module: { type: 'es6' }, sourceMaps: 'inline' },
  ],
};

const shared = {
  extensionsToTreatAsEsm: ['.ts'],
  transform: swcTransform,
  testEnvironment: 'node',
} satisfies Config;

const config: Config = {
  // Two cores here: jest's default (cores - 1) would run one file at a time.
  maxWorkers: '100%',
  // Real Redis, real nginx, real processes and argon2: generous, but a hang still fails.
  testTimeout: 30_000,
  coverageProvider: 'v8',
  collectCoverageFrom: [
    'service/src/**/*.ts',
    // Process entry points: exercised as real child processes (test/process/*), whose coverage
    // the runner cannot see; everything they call is covered in-process.
    '!service/src/server.ts',
    '!service/src/cli/users.ts',
    '!service/src/acme-renewer.ts',
  ],
  coverageReporters: ['text-summary', 'lcov'],
  coverageThreshold: { global: { lines: 85 } },
  projects: [
    {
      ...shared,
      displayName: 'unit',
      // Pure logic: no I/O, no Redis.
      testMatch: [
        '<rootDir>/service/test/**/*.unit.test.ts',
        '<rootDir>/ops/**/*.test.ts',
        '<rootDir>/testkit/**/*.test.ts',
      ],
      testPathIgnorePatterns: ['/node_modules/', '\\.integration\\.test\\.ts$'],
    },
    {
      ...shared,
      displayName: 'integration',
      // Real redis-server (started once by globalSetup, or REDIS_URL), real nginx, real processes.
      // Every integration test file uses its own random key prefix, so files never see each
      // other's data.
      testMatch: ['<rootDir>/service/test/**/*.test.ts', '<rootDir>/ops/**/*.integration.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '\\.unit\\.test\\.ts$'],
      globalSetup: '<rootDir>/service/test/helpers/global-setup.ts',
      globalTeardown: '<rootDir>/service/test/helpers/global-teardown.ts',
    },
  ],
};

export default config;
