/**
 * The browser side, served from the server itself (no build step, nothing from a CDN): the stylesheet, and a
 * script that keeps a page's `#live` region current from the server-sent events named by `body[data-live]`.
 * @module
 */

/** Colours pass WCAG AA contrast on white; focus is always visible. */
export const STYLESHEET = `
:root { font-family: system-ui, sans-serif; color: #1a1a1a; background: #fff; line-height: 1.45; }
body { margin: 0; }
header { background: #003087; color: #fff; padding: 0.5rem 1.5rem; display: flex; flex-wrap: wrap; gap: 1rem 2rem; align-items: center; }
header a { color: #fff; }
.brand { font-weight: 700; font-size: 1.2rem; margin: 0; }
nav ul { list-style: none; display: flex; gap: 1.25rem; margin: 0; padding: 0; }
.who { margin: 0 0 0 auto; }
main { padding: 1rem 1.5rem 3rem; max-width: 84rem; }
.warning { background: #ffeb3b; color: #1a1a1a; margin: 0; padding: 0.5rem 1.5rem; border-bottom: 2px solid #1a1a1a; }
.skip { position: absolute; left: -999px; }
.skip:focus { left: 0.5rem; top: 0.5rem; background: #fff; color: #003087; padding: 0.5rem; z-index: 2; }
a { color: #005eb8; }
a:focus, button:focus, select:focus, input:focus, main:focus-visible { outline: 3px solid #ffb81c; outline-offset: 2px; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; }
caption { text-align: left; font-weight: 700; padding: 0.25rem 0; }
th, td { border: 1px solid #768692; padding: 0.3rem 0.6rem; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
thead th { background: #e8edee; }
form.query { display: flex; flex-wrap: wrap; gap: 1rem; align-items: end; margin-bottom: 1rem; }
form.query label { display: flex; flex-direction: column; font-weight: 600; }
button { font: inherit; padding: 0.35rem 0.9rem; background: #005eb8; color: #fff; border: 0; border-radius: 3px; cursor: pointer; }
.provisional { color: #8a1538; font-weight: 600; }
.status-gap { color: #8a1538; font-weight: 600; }
.status-met { color: #006747; }
.choices { list-style: none; padding: 0; }
.choices li { margin: 0.4rem 0; }
figure.chart { margin: 0.5rem 0 1.5rem; }
figure.chart svg { max-width: 100%; height: auto; }
form.inline { display: inline-block; margin-right: 0.5rem; }
button.link { background: none; color: inherit; text-decoration: underline; padding: 0; }
label.check { margin-right: 1rem; }
fieldset { margin: 0.5rem 0; }
.live-status { font-size: 0.9rem; color: #425563; }
td[data-since] { white-space: nowrap; }
.message { font-size: 1.1rem; }
`;

/** Replaces `#live` with each `update` event's HTML and says so in a polite live region. */
export const SCRIPT = `
(function () {
  var address = document.body.getAttribute('data-live');
  var region = document.getElementById('live');
  var status = document.getElementById('live-status');
  if (!address || !region || typeof EventSource === 'undefined') return;
  var source = new EventSource(address);
  source.addEventListener('update', function (event) {
    var data = JSON.parse(event.data);
    region.innerHTML = data.html;
    region.setAttribute('data-version', String(data.version));
    if (status) status.textContent = 'Updated at ' + new Date().toLocaleTimeString('en-GB') + '.';
  });
  source.addEventListener('denied', function () {
    source.close();
    if (status) status.textContent = 'Live updates stopped: access was refused.';
  });
})();
`;
