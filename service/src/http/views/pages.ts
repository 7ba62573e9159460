import type { SessionSummary, SessionTimes } from '../../sessions/session-manager.ts';
import { html, layout } from './html.ts';

export function loginPage(options: { error?: string; username?: string } = {}): string {
  return layout(
    'Sign in',
    html`<h1>Sign in</h1>
      ${options.error ? html`<p class="error" role="alert">${options.error}</p>` : ''}
      <form method="post" action="/login">
        <label for="username">Username</label>
        <input id="username" name="username" autocomplete="username" required maxlength="64" value="${options.username ?? ''}" autofocus />
        <label for="password">Password</label>
        <input id="password" name="password" type="password" autocomplete="current-password" required />
        <button type="submit">Sign in</button>
      </form>`,
  );
}

function when(iso: string) {
  return html`<time datetime="${iso}">${iso.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}</time>`;
}

export function dashboardPage(data: { username: string; times: SessionTimes; sessions: SessionSummary[] }): string {
  const rows = data.sessions.map(
    (s) => html`<tr${s.current ? html` class="current"` : ''}>
  <td>${s.ip}</td><td class="ua">${s.userAgent || '—'}</td><td>${when(s.createdAt)}</td><td>${when(s.lastSeenAt)}</td>
  <td>${
    s.current ? html`this session` : html`<form method="post" action="/sessions/${s.id}/revoke"><button type="submit" class="link">Revoke</button></form>`
  }</td>
</tr>`,
  );
  return layout(
    'Dashboard',
    html`<h1>Signed in as <span class="username">${data.username}</span></h1>
      <dl class="times">
        <dt>Signed in</dt>
        <dd>${when(data.times.createdAt)}</dd>
        <dt>Expires if idle</dt>
        <dd>${when(data.times.expiresAt)}</dd>
        <dt>Expires at the latest</dt>
        <dd>${when(data.times.absoluteExpiresAt)}</dd>
      </dl>
      <h2>Your sessions</h2>
      <table class="sessions">
        <thead>
          <tr>
            <th>IP</th>
            <th>Browser</th>
            <th>Signed in</th>
            <th>Last seen</th>
            <th></th>
          </tr>
        </thead>
        <tbody>
          ${rows}
        </tbody>
      </table>
      ${data.sessions.length > 1 ? html`<form method="post" action="/sessions/revoke-others"><button type="submit" class="secondary">Sign out everywhere else</button></form>` : ''}
      <form method="post" action="/logout"><button type="submit">Sign out</button></form>`,
  );
}

export function messagePage(title: string, message: string): string {
  return layout(
    title,
    html`<h1>${title}</h1>
      <p>${message}</p>
      <p><a href="/login">Back to sign in</a></p>`,
  );
}
