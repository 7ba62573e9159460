/**
 * Where a sign-in may send the browser back to: only an https URL on an allowed origin (the
 * public origin, and the hosts the access rules protect, on the public origin's port). Anything
 * else, and anything the URL parser would read differently from a browser's address bar
 * (control characters, backslashes, userinfo), gives the fallback. The URL parser decides the
 * origin, so `//evil`, `/\evil`, `https://example.com.evil`, `https://example.com@evil` and
 * their encodings end up either on another origin (refused) or as a path on ours.
 */
export function safeReturnUrl(raw: unknown, allowedOrigins: ReadonlySet<string>, fallback = '/'): string {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > 2048) return fallback;
  // C0 controls (CR/LF: header injection), DEL, and backslashes (browsers read them as slashes).
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f\\]/.test(raw)) return fallback;
  const [base] = allowedOrigins;
  if (!base || !(raw.startsWith('/') || /^https:\/\//i.test(raw))) return fallback;
  let url: URL;
  try {
    url = new URL(raw, base);
  } catch {
    return fallback;
  }
  if (url.protocol !== 'https:' || url.username || url.password || !allowedOrigins.has(url.origin)) return fallback;
  return url.href;
}

/** The public origin first, then each protected host on the public origin's port. */
export function returnOrigins(publicOrigin: string, hosts: readonly string[]): Set<string> {
  const { port } = new URL(publicOrigin);
  return new Set([publicOrigin, ...hosts.map((host) => new URL(`https://${host}${port ? `:${port}` : ''}`).origin)]);
}
