import { describe, expect, it } from '@jest/globals';
import type { Request } from 'express';
import { UNMATCHED_ROUTE, routeLabel } from '../../src/http/middleware/request-metrics.ts';

const req = (parts: { route?: string; baseUrl?: string; mountPath?: string; status?: number }) =>
  ({
    route: parts.route === undefined ? undefined : { path: parts.route },
    baseUrl: parts.baseUrl ?? '',
    res: {
      statusCode: parts.status ?? 200,
      locals: parts.mountPath === undefined ? {} : { mountPath: parts.mountPath },
    },
  }) as unknown as Request;

describe('routeLabel', () => {
  it('when a route matched, then its template joined to the mount path, without a trailing slash', () => {
    expect(routeLabel(req({ route: '/:id', mountPath: '/api/sessions' }))).toBe('/api/sessions/:id');
    expect(routeLabel(req({ route: '/', mountPath: '/api/sessions' }))).toBe('/api/sessions');
    expect(routeLabel(req({ route: '/', mountPath: '' }))).toBe('/');
  });

  it('when nothing matched, then the shared unmatched label', () => {
    expect(routeLabel(req({ status: 404 }))).toBe(UNMATCHED_ROUTE);
  });
});
