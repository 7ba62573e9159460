import { randomUUID } from 'node:crypto';
import type { Express, RequestHandler } from 'express';
import { requestLineLogger, type Logger } from '../../infra/logger.ts';

declare module 'express-serve-static-core' {
  interface Request {
    /** The request id: the edge's X-Request-Id when it is well-formed, else generated. */
    id: string;
    /** A logger whose lines carry this request's id (created when first used). */
    log: Logger;
  }
}

/** Request ids we accept from the edge: nginx's $request_id is 32 hex characters. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
/** Probes and scrapes every few seconds would drown the audit trail. */
const QUIET_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * The request id and one structured line per request ({requestId, req: {id, method, url,
 * userAgent}, res: {statusCode}, responseTime}), error level for 5xx. Why not pino-http (used
 * here before): it builds two child loggers per request and serializes the request into the
 * child's bindings up front, whether or not anything else is logged; that was a tenth of the
 * CPU of a signed-in read. Here the per-request child logger (req.log) is made only when a
 * route logs an audit event, and the request is serialized once, into its line.
 */
export function requestLog(app: Express, logger: Logger): RequestHandler {
  const lines = requestLineLogger(logger);
  const childOf = new WeakMap<object, Logger>();
  // On the app's request prototype once, not on every request object.
  Object.defineProperty(app.request, 'log', {
    configurable: true,
    get(this: { id: string }) {
      let child = childOf.get(this);
      if (!child) childOf.set(this, (child = logger.child({ requestId: this.id })));
      return child;
    },
  });
  return (req, res, next) => {
    const incoming = req.headers['x-request-id'];
    const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    req.id = id;
    res.setHeader('X-Request-Id', id);
    if (QUIET_PATHS.has(req.url)) return next();
    const started = performance.now();
    const done = () => {
      res.removeListener('finish', done);
      res.removeListener('close', done);
      const line = {
        requestId: id,
        req: { id, method: req.method, url: req.originalUrl, userAgent: req.headers['user-agent'] },
        res: { statusCode: res.statusCode },
        responseTime: Math.round(performance.now() - started),
      };
      if (!res.writableFinished) lines.info(line, 'request aborted by the client');
      else if (res.statusCode >= 500) lines.error(line, 'request errored');
      else lines.info(line, 'request completed');
    };
    res.on('finish', done);
    res.on('close', done);
    next();
  };
}
