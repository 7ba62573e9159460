/**
 * An error that knows its HTTP answer: a status, a stable machine-readable code and a message
 * safe to show the client. Anything else that reaches the error handler is a 5xx whose
 * message is never echoed.
 */
export class AppError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    code: string,
    message: string,
    headers: Record<string, string> = {},
  ) {
    super(message);
    this.status = status;
    this.code = code;
    this.headers = headers;
    this.name = 'AppError';
  }
}

export const unauthenticated = () => new AppError(401, 'unauthenticated', 'Sign in to continue.');
export const invalidRequest = (message: string) => new AppError(400, 'invalid_request', message);
export const unavailable = () =>
  new AppError(503, 'unavailable', 'The service is temporarily unavailable. Try again shortly.', { 'Retry-After': '2' });
export const notFound = (message = 'Not found.') => new AppError(404, 'not_found', message);

/** Throttling answers: the client learns when to come back, nothing else. */
export const tooManyAttempts = (retryAfterMs: number) =>
  new AppError(429, 'too_many_attempts', 'Too many attempts. Try again later.', {
    'Retry-After': String(Math.max(1, Math.ceil(retryAfterMs / 1000))),
  });
