// Smoke tests: black-box checks of a running stack over HTTPS, through nginx, as a browser and
// a client see it. They read only BASE_URL and friends (smoke/support/stack.ts, docs/edge.md),
// so the same suites run against the native stack and the compose stack.
// Files are *.smoke.ts: the unit/integration runs (root jest.config.js) never pick them up.
const tsJest = ['ts-jest', { tsconfig: '<rootDir>/../tsconfig.json', diagnostics: { warnOnly: false } }];

/** @type {import('jest').Config} */
module.exports = {
  rootDir: __dirname,
  displayName: 'smoke',
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': tsJest },
  testMatch: ['<rootDir>/**/*.smoke.ts'],
  // Real handshakes, argon2 logins and a browser: generous, but a hung stack still fails.
  testTimeout: 60000,
  // The test names are the behaviour list of the edge; print them.
  verbose: true,
};
