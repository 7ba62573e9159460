import type { RequestHandler } from 'express';

/**
 * Responses that carry or depend on a session must never be cached by a browser or a shared
 * proxy (a cached dashboard would show one user's data to the next).
 */
export function noStore(): RequestHandler {
  return (_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  };
}
