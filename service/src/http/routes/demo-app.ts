import { Router } from 'express';
import { html, layout } from '../views/html.ts';

/** The identity headers forward auth sets (nginx/snippets/protect.conf), percent-encoded UTF-8. */
const IDENTITY_HEADERS = ['Remote-User', 'Remote-Groups', 'Remote-Name'] as const;

const decoded = (value: string | undefined) => {
  try {
    return value === undefined ? undefined : decodeURIComponent(value);
  } catch {
    return value;
  }
};

/**
 * The demo app behind forward auth, at /demo/: a whoami page showing the identity headers it
 * received, which is what any app behind `include snippets/protect.conf` gets. It lives in the
 * service so that every shape (native, compose, swarm, Kubernetes) has it without another
 * container. Case-sensitive and strict, and nginx strips client-sent Remote-* headers from
 * every other location (snippets/proxy.conf): only /demo/ through protect.conf carries them.
 */
export function demoAppRouter(): Router {
  const router = Router({ caseSensitive: true, strict: true });
  router.get(/^\/demo\/.*/, (req, res) => {
    const identity = Object.fromEntries(IDENTITY_HEADERS.map((name) => [name, decoded(req.get(name))]));
    if (req.accepts(['html', 'json']) === 'json') return res.json({ identity, path: req.path });
    const rows = IDENTITY_HEADERS.map(
      (name) =>
        html`<dt>${name}</dt>
          <dd data-header="${name}">${identity[name] ?? '(none)'}</dd>`,
    );
    res.type('html').send(
      layout(
        'Demo app',
        html`<h1>Demo app</h1>
          <p>This page sits behind forward authentication. It received:</p>
          <dl class="times">${rows}</dl>`,
      ),
    );
  });
  return router;
}
