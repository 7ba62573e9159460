/** Minimal, safe HTML templating: every interpolated value goes through escapeHtml. */
const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** Tagged template that escapes interpolations unless they are already-rendered Html. */
export class Html {
  readonly value: string;

  constructor(value: string) {
    this.value = value;
  }
  toString() {
    return this.value;
  }
}

export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    const rendered = Array.isArray(value)
      ? value.map((v) => (v instanceof Html ? v.value : escapeHtml(v))).join('')
      : value instanceof Html
        ? value.value
        : escapeHtml(value ?? '');
    out += rendered + (strings[i + 1] ?? '');
  });
  return new Html(out);
}

export const PRODUCT_NAME = 'authstack';

/**
 * The page shell. No inline script or style: the CSP allows only /static stylesheets. Every
 * page names itself first in its title (what a screen reader reads and a tab shows), then the
 * product; a page showing errors says so first, as the title is announced on load.
 */
export function layout(title: string, body: Html, options: { hasErrors?: boolean } = {}): string {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${options.hasErrors ? 'Error: ' : ''}${title} · ${PRODUCT_NAME}</title>
        <link rel="stylesheet" href="/static/app.css" />
      </head>
      <body>
        <header class="masthead"><a class="product" href="/">${PRODUCT_NAME}</a></header>
        <main class="card">${body}</main>
      </body>
    </html> `.value;
}
