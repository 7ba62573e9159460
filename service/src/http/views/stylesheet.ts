/** The one stylesheet, served at /static/app.css (the CSP allows no inline style). */
export const STYLESHEET = `
:root { color-scheme: light dark; font-family: system-ui, sans-serif; }
body { margin: 0; min-height: 100vh; display: grid; place-items: center; background: Canvas; }
.card { width: min(44rem, 92vw); padding: 2rem; border: 1px solid color-mix(in srgb, CanvasText 15%, transparent); border-radius: 0.75rem; }
h1 { font-size: 1.4rem; margin-top: 0; }
h2 { font-size: 1.1rem; }
label { display: block; margin-top: 0.9rem; font-weight: 600; }
input { width: 100%; box-sizing: border-box; padding: 0.55rem; font: inherit; margin-top: 0.3rem; }
button { margin-top: 1.1rem; padding: 0.55rem 1.2rem; font: inherit; cursor: pointer; }
button.link { margin: 0; padding: 0; border: 0; background: none; color: LinkText; text-decoration: underline; }
button.secondary { margin-right: 0.5rem; }
.error { padding: 0.6rem 0.8rem; border-radius: 0.4rem; background: color-mix(in srgb, red 15%, Canvas); }
.times { display: grid; grid-template-columns: max-content 1fr; gap: 0.3rem 1rem; }
.times dt { font-weight: 600; }
.times dd { margin: 0; }
table.sessions { width: 100%; border-collapse: collapse; font-size: 0.9rem; }
table.sessions th, table.sessions td { text-align: left; padding: 0.35rem 0.4rem; border-bottom: 1px solid color-mix(in srgb, CanvasText 12%, transparent); }
table.sessions tr.current { font-weight: 600; }
td.ua { max-width: 14rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
`;
