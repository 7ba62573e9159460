import { readEnvFile } from '../../testkit/env-file.ts';
import { atPort, httpClient } from '../../testkit/http.ts';

export interface StackAccess {
  /** native, docker or swarm (with details, e.g. the replica count). */
  shape: string;
  origin: string;
  httpsPort: number;
  envFile: string;
  /** The local CA the edge's certificate chains to, when it is a local one. */
  caFile?: string;
  /** How to run the user CLI against this stack, e.g. `make users` or `make users STACK=docker`. */
  usersCommand: (args: string) => string;
  /** Lines printed after the login: ports, logs, how to stop. */
  notes: string[];
}

export type LoginCheck = 'works' | 'other-password' | `unchecked: ${string}`;

/**
 * Tries .env's admin login through the edge, as the user is about to. The bootstrap only
 * creates a missing admin, so a Redis that outlived its .env (a volume kept by `make down`, a
 * second clone sharing it, a regenerated .env) keeps the old password. A failed try counts as
 * one failure for the admin's throttle, far below its limit; a successful one signs out again.
 */
export async function checkAdminLogin(
  access: Pick<StackAccess, 'origin' | 'httpsPort' | 'envFile' | 'caFile'>,
): Promise<LoginCheck> {
  const dotenv = readEnvFile(access.envFile);
  const { send, close } = httpClient({
    connectTo: '127.0.0.1',
    caFiles: access.caFile ? [access.caFile] : [],
    connections: 1,
    timeoutMs: 10_000,
  });
  const at = (path: string) => atPort(`${access.origin}${path}`, access.httpsPort);
  const headers = { origin: access.origin };
  try {
    const login = await send(at('/api/login'), {
      headers,
      json: { username: dotenv.ADMIN_USERNAME, password: dotenv.ADMIN_PASSWORD },
    });
    if (login.status === 401) return 'other-password';
    if (login.status !== 200) return `unchecked: POST /api/login answered ${login.status}`;
    const cookie = login.cookie();
    if (cookie) await send(at('/api/logout'), { headers: { ...headers, cookie }, json: {} });
    return 'works';
  } catch (error) {
    return `unchecked: ${error instanceof Error ? error.message : String(error)}`;
  } finally {
    await close();
  }
}

/** What `make up` prints: where the stack is and a login that was just tried. */
export async function announce(access: StackAccess): Promise<void> {
  const dotenv = readEnvFile(access.envFile);
  const username = dotenv.ADMIN_USERNAME ?? 'admin';
  // CI logs are kept and shared: the password is named, not printed.
  const password = process.env.CI ? `(ADMIN_PASSWORD in ${access.envFile})` : (dotenv.ADMIN_PASSWORD ?? '');
  const check = await checkAdminLogin(access);
  const tried = check === 'works' ? 'tried just now' : `not tried: ${check.slice('unchecked: '.length)}`;
  const login =
    check === 'other-password'
      ? [
          `    the user ${username} already exists in this stack's Redis with a password other than ADMIN_PASSWORD`,
          `    in ${access.envFile} (its data outlived an earlier .env). Log in with the old password, or reset it:`,
          `      ${access.usersCommand(`passwd ${username}`)}`,
        ].join('\n')
      : `    log in as:  ${username} / ${password}   (from ${access.envFile}; ${tried})`;
  process.stderr.write(
    `\n  authstack is up (${access.shape}): ${access.origin}\n${login}\n${access.notes.map((n) => `    ${n}\n`).join('')}`,
  );
}
