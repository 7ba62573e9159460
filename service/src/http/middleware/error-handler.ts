import type { ErrorRequestHandler, RequestHandler } from 'express';
import {
  ClientClosedError,
  ClientOfflineError,
  CommandTimeoutDuringMaintenanceError,
  ConnectionTimeoutError,
  ErrorReply,
  ReconnectStrategyError,
  SocketClosedUnexpectedlyError,
  SocketTimeoutDuringMaintenanceError,
  SocketTimeoutError,
  TimeoutError,
} from 'redis';
import { AppError } from '../app-error.ts';
import { RedisDeadlineError } from '../../infra/redis-client.ts';
import type { Logger } from '../../infra/logger.ts';

/** Errors from body-parser carry `type`; map them to stable codes, never a 5xx. */
const BODY_PARSER_ERRORS: Record<string, { status: number; code: string; message: string }> = {
  'entity.parse.failed': { status: 400, code: 'invalid_request', message: 'The request body is not valid JSON.' },
  'entity.too.large': { status: 413, code: 'payload_too_large', message: 'The request body is too large.' },
  'encoding.unsupported': { status: 415, code: 'unsupported_media_type', message: 'Unsupported content encoding.' },
  'charset.unsupported': { status: 415, code: 'unsupported_media_type', message: 'Unsupported charset.' },
  'request.aborted': { status: 400, code: 'invalid_request', message: 'The request was aborted.' },
  'request.size.invalid': { status: 400, code: 'invalid_request', message: 'The request body length does not match Content-Length.' },
  'parameters.too.many': { status: 413, code: 'payload_too_large', message: 'Too many parameters.' },
  'stream.encoding.set': { status: 400, code: 'invalid_request', message: 'Invalid request stream.' },
};

const REDIS_ERROR_CLASSES = [
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  SocketClosedUnexpectedlyError,
  SocketTimeoutError,
  TimeoutError,
  ReconnectStrategyError,
  CommandTimeoutDuringMaintenanceError,
  SocketTimeoutDuringMaintenanceError,
  RedisDeadlineError,
];
/** Error replies that mean "Redis cannot serve right now", not "our command was wrong". */
const UNAVAILABLE_REPLY = /^(OOM|READONLY|MISCONF|LOADING|BUSY|NOAUTH|WRONGPASS|MASTERDOWN|TRYAGAIN|CLUSTERDOWN)\b/;
const NETWORK_CODES = /^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN)$/;

/** True for errors that mean "Redis is not answering": the request gets 503, not 500. */
export function isRedisUnavailable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  if (REDIS_ERROR_CLASSES.some((cls) => error instanceof cls)) return true;
  const { message = '', code = '' } = error as { message?: string; code?: string };
  if (error instanceof ErrorReply) return UNAVAILABLE_REPLY.test(message);
  // Socket errors come from Node core (possibly another realm): matched by their code.
  return NETWORK_CODES.test(String(code));
}

export function notFoundHandler(): RequestHandler {
  return (_req, res) => {
    res.status(404).json({ error: 'not_found', message: 'No such route.' });
  };
}

export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    let status = 500;
    let code = 'internal_error';
    let message = 'Something went wrong. It has been logged.';
    let headers: Record<string, string> = {};

    const bodyError = typeof (error as { type?: unknown })?.type === 'string' ? BODY_PARSER_ERRORS[(error as { type: string }).type] : undefined;
    if (error instanceof AppError) {
      ({ status, code, message, headers } = error);
    } else if (bodyError) {
      ({ status, code, message } = bodyError);
    } else if (isRedisUnavailable(error)) {
      status = 503;
      code = 'unavailable';
      message = 'The service is temporarily unavailable. Try again shortly.';
      headers = { 'Retry-After': '2' };
    } else if (typeof (error as { status?: unknown })?.status === 'number') {
      // http-errors from express internals (e.g. a malformed URI): trust 4xx, hide 5xx.
      const httpStatus = (error as { status: number }).status;
      if (httpStatus >= 400 && httpStatus < 500) {
        status = httpStatus;
        code = 'invalid_request';
        message = 'The request is malformed.';
      }
    }

    const log = (req as { log?: Logger }).log ?? logger;
    // Expected overload answers (Redis away, hashing queue full) are warnings without a
    // stack: a login flood must not turn into a flood of error reports.
    if (code === 'unavailable' || code === 'busy') log.warn({ event: `request.${code}`, reason: (error as Error)?.message }, 'request refused: service overloaded or dependency unavailable');
    else if (status >= 500) log.error({ err: error, event: 'request.error', code }, 'request failed');
    else log.debug({ code, status }, 'request rejected');

    res.set(headers);
    res.status(status).json({ error: code, message });
  };
}
