/** The one stylesheet, served at /static/app.css (the CSP allows no inline style). */
export const STYLESHEET = `
:root { color-scheme: light dark; font-family: system-ui, sans-serif; --danger: #c6281b; }
body { margin: 0; min-height: 100vh; box-sizing: border-box; padding: 1.5rem 0; display: grid; place-content: center; gap: 0.75rem; background: Canvas; }
.masthead { width: min(44rem, 92vw); }
.masthead .product { font-weight: 700; font-size: 1.1rem; letter-spacing: 0.02em; color: CanvasText; text-decoration: none; }
.card { width: min(44rem, 92vw); box-sizing: border-box; padding: 2rem; border: 1px solid color-mix(in srgb, CanvasText 15%, transparent); border-radius: 0.75rem; }
h1 { font-size: 1.4rem; margin-top: 0; }
h2 { font-size: 1.1rem; }
a { color: LinkText; }
/* Keyboard focus is always visible, in both colour schemes (LinkText has contrast on Canvas). */
:focus-visible { outline: 3px solid LinkText; outline-offset: 2px; }
.field { margin-top: 0.9rem; }
label { display: block; font-weight: 600; }
.hint { margin: 0.2rem 0 0; font-size: 0.9rem; color: color-mix(in srgb, CanvasText 80%, Canvas); }
/* Not colour alone: the message is text, bold and set off by a bar. */
.field-error { margin: 0.3rem 0 0; padding-left: 0.6rem; border-left: 4px solid var(--danger); font-weight: 600; }
input { width: 100%; box-sizing: border-box; padding: 0.55rem; font: inherit; margin-top: 0.3rem; }
input[aria-invalid="true"] { border: 2px solid var(--danger); }
input[readonly] { background: color-mix(in srgb, CanvasText 6%, Canvas); }
button { margin-top: 1.1rem; padding: 0.55rem 1.2rem; font: inherit; cursor: pointer; }
button.link { margin: 0; padding: 0; border: 0; background: none; color: LinkText; text-decoration: underline; }
button.secondary { margin-right: 0.5rem; }
.aside { margin: 1.2rem 0 0; }
.error { padding: 0.6rem 0.8rem; border-radius: 0.4rem; background: color-mix(in srgb, red 15%, Canvas); }
.notice { margin-top: 0; padding: 0.6rem 0.8rem; border-radius: 0.4rem; background: color-mix(in srgb, green 15%, Canvas); }
.times { display: grid; grid-template-columns: max-content 1fr; gap: 0.3rem 1rem; }
.times dt { font-weight: 600; }
.times dd { margin: 0; }
table.sessions { width: 100%; border-collapse: collapse; font-size: 0.9rem; }
table.sessions th, table.sessions td { text-align: left; padding: 0.35rem 0.4rem; border-bottom: 1px solid color-mix(in srgb, CanvasText 12%, transparent); }
table.sessions tr.current { font-weight: 600; }
td.ua { max-width: 14rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
/* Read by screen readers, not shown (e.g. the header of the column of revoke buttons). */
.visually-hidden { position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0; overflow: hidden; clip-path: inset(50%); white-space: nowrap; border: 0; }
`;
