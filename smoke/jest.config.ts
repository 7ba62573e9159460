import type { Config } from 'jest';
import { swcTransform } from '../jest.config.ts';

/**
 * Smoke tests: black-box checks of a running stack over HTTPS, through nginx, as a browser and
 * a client see it. They read only BASE_URL and friends (smoke/support/stack.ts, docs/edge.md),
 * so the same suites run against the native stack and the compose stack. Files are *.smoke.ts:
 * the unit and integration projects never pick them up. Run in band (one file at a time, the
 * npm script passes --runInBand): the rate-limit suite must not share the edge's budget with
 * others.
 */
const config: Config = {
  displayName: 'smoke',
  rootDir: import.meta.dirname,
  testMatch: ['<rootDir>/**/*.smoke.ts'],
  extensionsToTreatAsEsm: ['.ts'],
  transform: swcTransform,
  testEnvironment: 'node',
  // Real handshakes, argon2 logins and a browser: generous, but a hung stack still fails.
  testTimeout: 60_000,
  // The test names are the behaviour list of the edge; print them.
  verbose: true,
};

export default config;
