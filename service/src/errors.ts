/**
 * The service's error vocabulary. An AppError knows its HTTP answer: a status, a stable
 * machine-readable code (a contract: clients and tests match on it) and a message safe to show
 * the client. The domain throws these; http/ only maps them to responses. Anything else that
 * reaches the error handler is a 5xx whose message is never echoed.
 */
export class AppError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Record<string, string>;

  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'AppError';
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

const retryAfter = (ms: number) => ({ 'Retry-After': String(Math.max(1, Math.ceil(ms / 1000))) });

export const invalidRequest = (message: string) => new AppError(400, 'invalid_request', message);
export const weakPassword = (message: string) => new AppError(400, 'weak_password', message);
export const unauthenticated = () => new AppError(401, 'unauthenticated', 'Sign in to continue.');
export const invalidCredentials = () => new AppError(401, 'invalid_credentials', 'Wrong username or password.');
export const crossOrigin = () => new AppError(403, 'cross_origin', 'Cross-origin requests are not allowed.');
export const notFound = (message = 'Not found.') => new AppError(404, 'not_found', message);
export const usernameTaken = (lookAlike = false) =>
  new AppError(
    409,
    'username_taken',
    lookAlike ? 'That username looks too much like one that is taken.' : 'That username is taken.',
  );
export const unsupportedMediaType = (message = 'Send the body as application/json.') =>
  new AppError(415, 'unsupported_media_type', message);
/** Throttling answers: the client learns when to come back, nothing else. */
export const tooManyAttempts = (retryAfterMs: number) =>
  new AppError(429, 'too_many_attempts', 'Too many attempts. Try again later.', retryAfter(retryAfterMs));
/** The hashing queue is full: come back in a second (a login flood must not starve everyone). */
export const busy = () => new AppError(503, 'busy', 'The server is busy. Try again in a moment.', retryAfter(1000));
/** A dependency (Redis) is not answering. The one 503 body for it, wherever it is detected. */
export const unavailable = () =>
  new AppError(503, 'unavailable', 'The service is temporarily unavailable. Try again shortly.', retryAfter(2000));
