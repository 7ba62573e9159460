import './global-setup.ts';

/** jest globalTeardown of the integration project: stops the redis-server globalSetup started. */
export default async function globalTeardown(): Promise<void> {
  await globalThis.authstackTestRedis?.stop();
}
