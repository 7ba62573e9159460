import type { ErrorRequestHandler, RequestHandler } from 'express';
import { AppError, invalidRequest, unavailable } from '../../errors.ts';
import { isRedisUnavailable } from '../../infra/redis-client.ts';
import type { Logger } from '../../infra/logger.ts';

/** Errors from body-parser carry `type`; map them to stable codes, never a 5xx. */
const BODY_PARSER_ERRORS: Record<string, () => AppError> = {
  'entity.parse.failed': () => invalidRequest('The request body is not valid JSON.'),
  'entity.too.large': () => new AppError(413, 'payload_too_large', 'The request body is too large.'),
  'encoding.unsupported': () => new AppError(415, 'unsupported_media_type', 'Unsupported content encoding.'),
  'charset.unsupported': () => new AppError(415, 'unsupported_media_type', 'Unsupported charset.'),
  'request.aborted': () => invalidRequest('The request was aborted.'),
  'request.size.invalid': () => invalidRequest('The request body length does not match Content-Length.'),
  'parameters.too.many': () => new AppError(413, 'payload_too_large', 'Too many parameters.'),
  'stream.encoding.set': () => invalidRequest('Invalid request stream.'),
};

const INTERNAL = () => new AppError(500, 'internal_error', 'Something went wrong. It has been logged.');

/**
 * The one mapping from anything thrown to what the client is told: an AppError as it is, a
 * body-parser or Redis-outage error to its stable code, a 4xx from Express internals as
 * invalid_request, and everything else a 500 whose message is never echoed.
 */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const type = (error as { type?: unknown } | null)?.type;
  const bodyError = typeof type === 'string' ? BODY_PARSER_ERRORS[type] : undefined;
  if (bodyError) return bodyError();
  if (isRedisUnavailable(error)) return unavailable();
  // http-errors from express internals (e.g. a malformed URI): trust 4xx, hide 5xx.
  const status = (error as { status?: unknown } | null)?.status;
  if (typeof status === 'number' && status >= 400 && status < 500)
    return new AppError(status, 'invalid_request', 'The request is malformed.');
  return INTERNAL();
}

export function notFoundHandler(): RequestHandler {
  return (_req, res) => {
    // For the route label (request-metrics.ts): no route answered this.
    res.locals.unmatched = true;
    res.status(404).json({ error: 'not_found', message: 'No such route.' });
  };
}

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const answer = toAppError(error);
    const log = (req as { log?: Logger }).log ?? logger;
    // Expected overload answers (Redis away, hashing queue full) are warnings without a
    // stack: a login flood must not turn into a flood of error reports.
    if (answer.code === 'unavailable' || answer.code === 'busy') {
      log.warn(
        { event: `request.${answer.code}`, reason: (error as Error | null)?.message },
        'request refused: service overloaded or dependency unavailable',
      );
    } else if (answer.status >= 500)
      log.error({ err: error, event: 'request.error', code: answer.code }, 'request failed');
    else log.debug({ code: answer.code, status: answer.status }, 'request rejected');

    res.set(answer.headers);
    res.status(answer.status).json({ error: answer.code, message: answer.message });
  };
}
