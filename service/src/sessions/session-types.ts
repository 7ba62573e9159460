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
    /** The user's credential version when the session began: a password change ends it. */
    credentialVersion: number;
    /**
     * The id of the secret that signed the cookie this session was last issued with (see
     * signingSecretId): the record is saved exactly when the cookie is (re-)issued.
     */
    signedWith: string;
    /** The user's groups when the session began (a change ends the user's sessions: UserRepository.setGroups). */
    groups: string[];
  }
}
