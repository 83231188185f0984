import { html, type SafeHtml } from './html.js';
import type { AdminSession } from './session.js';

/** Where the console lives on the HTTP server. */
export const ADMIN_PREFIX = '/admin';

/** The pages in the navigation; optional ones appear only when their service is wired in. */
export type PageName = 'dashboard' | 'queue' | 'quarantine' | 'challenge' | 'trustlist' | 'im2000';

const PAGE_TITLES: Record<PageName, string> = {
  dashboard: 'Dashboard',
  queue: 'Queue',
  quarantine: 'Quarantine',
  challenge: 'Challenges',
  trustlist: 'Trust list',
  im2000: 'IM2000',
};

function pagePath(page: PageName): string {
  return page === 'dashboard' ? ADMIN_PREFIX : `${ADMIN_PREFIX}/${page}`;
}

/** What every page of a logged-in operator shares. */
export interface PageFrame {
  session: AdminSession;
  pages: PageName[];
  active: PageName;
  /** A fixed, server-chosen sentence about the last action (never text from the URL). */
  notice?: string;
}

function head(title: string): SafeHtml {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${title} · outpost</title>
<link rel="stylesheet" href="${ADMIN_PREFIX}/assets/admin.css">
<script src="${ADMIN_PREFIX}/assets/htmx.min.js" defer></script>
</head>`;
}

/** A whole page for a logged-in operator: navigation, notice area, content. */
export function page(frame: PageFrame, title: string, content: SafeHtml, scripts: string[] = []): SafeHtml {
  const nav = frame.pages.map(
    (name) =>
      html`<a href="${pagePath(name)}" class="${name === frame.active ? 'active' : ''}">${PAGE_TITLES[name]}</a>`,
  );
  return html`${head(title)}
<body>
<header>
  <span class="brand">outpost</span>
  <nav>${nav}</nav>
  <form method="post" action="${ADMIN_PREFIX}/logout" class="logout">
    ${csrfField(frame.session)}
    <span class="who">${frame.session.subject === 'token' ? 'API token' : frame.session.subject}</span>
    <button type="submit">Log out</button>
  </form>
</header>
<main>
  <h1>${title}</h1>
  <div id="flash" role="status">${frame.notice ? html`<p class="notice">${frame.notice}</p>` : ''}</div>
  ${content}
</main>
${scripts.map((src) => html`<script src="${ADMIN_PREFIX}/assets/${src}" defer></script>`)}
</body>
</html>`;
}

/** The login page (no session yet). */
export function loginPage(problem: string | undefined, tokenLogin: boolean): SafeHtml {
  return html`${head('Log in')}
<body class="login">
<main>
  <h1>outpost admin</h1>
  ${problem ? html`<p class="error">${problem}</p>` : ''}
  <form method="post" action="${ADMIN_PREFIX}/login">
    <label>Admin user <input name="user" autocomplete="username" placeholder="${tokenLogin ? 'empty: log in with the API token' : 'postmaster@example.org'}"></label>
    <label>Password or API token <input name="secret" type="password" autocomplete="current-password" required></label>
    <button type="submit">Log in</button>
  </form>
</main>
</body>
</html>`;
}

/** A page for errors of a logged-out or failed request. */
export function errorPage(status: number, message: string): SafeHtml {
  return html`${head(`Error ${status}`)}
<body class="login">
<main>
  <h1>Error ${status}</h1>
  <p class="error">${message}</p>
  <p><a href="${ADMIN_PREFIX}">Back to the console</a></p>
</main>
</body>
</html>`;
}

export function csrfField(session: AdminSession): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${session.csrf}">`;
}

/**
 * A one-button form for an operator action: a plain POST without JavaScript, an htmx request with
 * it (errors land in the notice area, success reloads the page the server names).
 */
export function actionButton(
  session: AdminSession,
  action: string,
  label: string,
  options: { fields?: Record<string, string>; confirm?: string; danger?: boolean } = {},
): SafeHtml {
  const fields = Object.entries(options.fields ?? {}).map(
    ([name, value]) => html`<input type="hidden" name="${name}" value="${value}">`,
  );
  return html`<form method="post" action="${action}" hx-post="${action}" hx-target="#flash" class="inline"${
    options.confirm ? html` hx-confirm="${options.confirm}"` : ''
  }>${csrfField(session)}${fields}<button type="submit" class="${options.danger ? 'danger' : ''}">${label}</button></form>`;
}

/** Milliseconds since the epoch as a short UTC time. */
export function when(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '';
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
}
