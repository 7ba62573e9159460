import { randomBytes } from 'node:crypto';
import { postJson, type RequestOptions, type Response } from './http.ts';
import { secret } from './stack.ts';
import { COOKIE_NAMES } from '../../service/src/config/config.ts';

/** A username that exists nowhere: failure tests must never throttle the real admin. */
export const randomUsername = (): string => `smoke-${randomBytes(6).toString('hex')}`;

export interface Cookie {
  name: string;
  value: string;
  /** Attributes as written, e.g. ["Path=/", "HttpOnly", "Secure", "SameSite=Lax"]. */
  attributes: string[];
}

export function parseSetCookie(header: string): Cookie {
  const [pair = '', ...attributes] = header.split(';').map((part) => part.trim());
  const eq = pair.indexOf('=');
  return { name: pair.slice(0, eq), value: pair.slice(eq + 1), attributes };
}

export interface Login {
  response: Response;
  /** `name=value`, ready for a Cookie header. */
  cookie: string;
}

/** Logs a user in through POST /api/login and returns the session cookie. */
export async function loginAs(username: string, password: string, options: RequestOptions = {}): Promise<Login> {
  const response = await postJson('/api/login', { username, password }, options);
  if (response.status !== 200) throw new Error(`login of ${username} failed: ${response.status} ${response.body}`);
  const session = response
    .all('set-cookie')
    .map(parseSetCookie)
    .find((c) => c.name === COOKIE_NAMES.session.secure);
  if (!session)
    throw new Error(`login of ${username} set no session cookie: ${JSON.stringify(response.all('set-cookie'))}`);
  return { response, cookie: `${session.name}=${session.value}` };
}

/** Logs the admin in through POST /api/login and returns the session cookie. */
export const loginAsAdmin = (options: RequestOptions = {}): Promise<Login> =>
  loginAs(secret('ADMIN_USERNAME'), secret('ADMIN_PASSWORD'), options);

/** Ends the session through POST /api/logout. */
export const logout = (cookie: string): Promise<Response> => postJson('/api/logout', {}, { headers: { cookie } });
