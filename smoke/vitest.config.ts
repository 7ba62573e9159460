import { defineConfig } from 'vitest/config';

/**
 * Smoke tests: black-box checks of a running stack over HTTPS, through nginx, as a browser and
 * a client see it. They read only BASE_URL and friends (smoke/support/stack.ts, docs/edge.md),
 * so the same suites run against the native stack and the compose stack. Files are *.smoke.ts:
 * the unit/integration runs never pick them up.
 */
export default defineConfig({
  test: {
    name: 'smoke',
    root: import.meta.dirname,
    include: ['**/*.smoke.ts'],
    // One file at a time: the rate-limit suite must not share the edge's budget with others.
    fileParallelism: false,
    // Real handshakes, argon2 logins and a browser: generous, but a hung stack still fails.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // The test names are the behaviour list of the edge; print them.
    reporters: ['verbose'],
    // Vite puts its own BASE_URL ('/') into process.env; the smoke tests' BASE_URL (the stack's
    // origin) is handed through explicitly so the caller's value wins.
    env: process.env.BASE_URL ? { BASE_URL: process.env.BASE_URL } : {},
  },
});
