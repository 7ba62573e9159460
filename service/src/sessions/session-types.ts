import 'express-session';

/** What a signed-in session holds. Times are epoch milliseconds from the injected clock. */
declare module 'express-session' {
  interface SessionData {
    userId: string;
    username: string;
    createdAt: number;
    lastSeenAt: number;
    ip: string;
    userAgent: string;
    /** The user's passwordChangedAt when the session began: a later change invalidates it. */
    credentialVersion: number;
  }
}
