import { parse as parseCookies } from 'cookie';
import type { CookieOptions, Request, Response } from 'express';

/** The device cookie (auth/device-trust.ts) as the flows read and write it. */
export interface DeviceCookie {
  /** The value the request presents, if any. */
  presented(req: Request): string | undefined;
  /** Sets it; like the session cookie, a Secure cookie only over a connection the edge vouched for. */
  set(req: Request, res: Response, token: string): void;
}

export function deviceCookie(name: string, options: CookieOptions & { maxAge: number }): DeviceCookie {
  return {
    presented(req) {
      const header = req.headers.cookie;
      if (!header || !header.includes(name)) return undefined;
      try {
        return parseCookies(header)[name];
      } catch {
        return undefined;
      }
    },
    set(req, res, token) {
      if (req.secure || !options.secure) res.cookie(name, token, options);
    },
  };
}
