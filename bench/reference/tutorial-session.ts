// Reference app 2 for make bench: express-session + connect-redis as the tutorials write it
// (resave false, saveUninitialized false, a Redis store, a secure cookie behind one proxy),
// with a login that puts a user in the session and GET /me that reads it. No revocation
// check, no timeouts beyond the cookie, no logs, no metrics: what authstack does on top of this
// is what the ratio prices.
import { RedisStore } from 'connect-redis';
import express from 'express';
import session from 'express-session';
import { createClient } from 'redis';

declare module 'express-session' {
  interface SessionData {
    user: { id: string; username: string };
  }
}

const redis = createClient({ url: process.env.REDIS_URL });
await redis.connect();
const app = express();
app.set('trust proxy', 1);
app.use(express.json());
app.use(
  session({
    store: new RedisStore({ client: redis, prefix: 'tutorial:' }),
    secret: process.env.SESSION_SECRET ?? 'a tutorial secret that is long enough',
    resave: false,
    saveUninitialized: false,
    cookie: { secure: true, httpOnly: true, sameSite: 'lax', maxAge: 30 * 60_000 },
  }),
);
app.post('/login', (req, res) => {
  req.session.user = { id: 'u1', username: 'tutorial' };
  res.json({ ok: true });
});
app.get('/me', (req, res) => {
  if (!req.session.user) {
    res.status(401).json({ error: 'unauthenticated' });
    return;
  }
  res.json({ user: req.session.user });
});
const port = Number(process.env.PORT);
app.listen(port, '127.0.0.1', () => process.stdout.write(`tutorial session app on ${port}\n`));
