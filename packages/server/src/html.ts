import { escapeHtml } from '@caregaps/report';
import type { Purpose } from '@caregaps/access';
import type { AuthenticatorMeta, Session } from './authenticator.js';

/** Escapes text for HTML content and attribute values. */
export const esc = (value: unknown): string => escapeHtml(String(value ?? ''));

/** What every page's frame needs: who is signed in, for which purpose, and whether the sign-in is for development. */
export interface Frame {
  title: string;
  session?: Session;
  purpose?: Purpose;
  authenticator: AuthenticatorMeta;
  /** The SSE address the page listens on for live updates of its `#live` region. */
  live?: string;
}

/** A whole page: skip link, header with navigation and the signed-in user, the development warning, main content. */
export function page(frame: Frame, body: string): string {
  const { session, purpose, authenticator } = frame;
  const warning = authenticator.production
    ? ''
    : `<p class="warning" role="note"><strong>Development sign-in — not for production.</strong> Anyone can act as any of these users; use a production authenticator (docs/serve.md) for real data.</p>`;
  const who = session
    ? `<p class="who">Signed in as <strong>${esc(session.label)}</strong> (${esc(session.principal.organisation)}), purpose <strong>${esc(purpose)}</strong>.
       ${session.purposes
         .filter((p) => p !== purpose)
         .map((p) => `<a href="/dashboard?purpose=${esc(p)}">Switch to ${esc(p)}</a>`)
         .join(' ')} <a href="/login">Switch user</a> <form method="post" action="/logout" class="inline"><button type="submit" class="link">Sign out</button></form></p>`
    : '';
  const nav = session
    ? `<nav aria-label="Main"><ul><li><a href="/dashboard">Dashboard</a></li><li><a href="/scorecard">Scorecard</a></li><li><a href="/gaps">Gap lists</a></li><li><a href="/audit">Access reports</a></li><li><a href="/agreements">Sharing agreements</a></li><li><a href="/opt-outs">Opt-out register</a></li></ul></nav>`
    : '';
  return `<!doctype html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(frame.title)} — Caregaps</title>
<link rel="stylesheet" href="/static/app.css">
<script src="/static/app.js" defer></script>
</head>
<body${frame.live ? ` data-live="${esc(frame.live)}"` : ''}>
<a class="skip" href="#main">Skip to content</a>
<header><p class="brand">Caregaps</p>${nav}${who}</header>
${warning}
<main id="main" tabindex="-1">
<h1>${esc(frame.title)}</h1>
${body}
</main>
</body>
</html>`;
}

/** The hidden field that keeps a form's purpose when it is submitted. */
export function purposeField(purpose: string | undefined): string {
  return purpose ? `<input type="hidden" name="purpose" value="${esc(purpose)}">` : '';
}

/** A short page for a refusal or an error: says what happened and what to do, never a stack trace. */
export function messagePage(frame: Frame, message: string): string {
  return page(frame, `<p class="message">${esc(message)}</p>`);
}
