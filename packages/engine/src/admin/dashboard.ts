import crypto from 'node:crypto';

// The live dashboard (GET /): one self-contained page, no external assets. It holds no data of its
// own, so it is served without a token; everything it shows comes from GET /servers and GET /latency
// (polled every second) with the token the user typed, kept in sessionStorage and sent as a Bearer
// header. The table is narrow enough for a 1200 px window (error kinds are summed, each kind in the
// cell's tooltip); below it each server has three small SVG charts of the last five minutes.
// Action buttons are drawn only for an operator: the answer's x-webdat-role header names the role.
// The Content-Security-Policy allows exactly this page's inline script and style (by hash).

const STYLE = `
:root { color-scheme: light dark; font: 14px/1.4 system-ui, sans-serif; }
body { margin: 1rem 1.5rem; }
h1 { font-size: 1.3rem; margin: 0 0 .2rem; }
#status { color: GrayText; margin-bottom: 1rem; }
#status.bad { color: #c33; }
table { border-collapse: collapse; }
th, td { padding: .3rem .45rem; border-bottom: 1px solid #8884; text-align: right; white-space: nowrap; }
th { white-space: normal; vertical-align: bottom; }
td:first-child { white-space: normal; overflow-wrap: anywhere; max-width: 12rem; }
td[title] { text-decoration: underline dotted; }
#charts { display: flex; flex-wrap: wrap; gap: 1rem; margin-top: 1.5rem; }
.card { border: 1px solid #8884; border-radius: 4px; padding: .5rem .7rem; }
.card h2 { font-size: 1rem; margin: 0 0 .3rem; }
.card figure { display: inline-block; margin: 0 .6rem 0 0; }
.card figcaption { font-size: 12px; color: GrayText; }
.card figcaption b { color: CanvasText; font-weight: 600; }
.card svg { display: block; border-bottom: 1px solid #8886; }
.card path { fill: none; stroke: #37c; stroke-width: 1.5; }
th:first-child, th:nth-child(2), td:first-child, td.state { text-align: left; }
td.state.up::before { content: "\\25CF "; color: #2a2; }
td.state.down::before { content: "\\25CF "; color: #c33; }
button { margin-left: .2rem; }
[hidden] { display: none !important; }
form, #forget { margin-bottom: 1rem; }
`;

const SCRIPT = `
'use strict';
const KEY = 'webdat-admin-token';
const ERRORS = [
  ['exceptions', 'errors_exception'],
  ['timeouts', 'errors_timeout'],
  ['memory', 'errors_memory'],
  ['overloaded', 'errors_overloaded'],
  ['internal', 'errors_internal'],
  ['over output', 'errors_output'],
  ['over headers', 'header_budget_breaches'],
];
// [heading, value, tooltip]
const COLUMNS = [
  ['port', (s) => s.port],
  ['WebSockets', (s) => s.websocket_connections],
  ['requests', (s) => s.requests],
  ['req/s', (s, rate) => rate],
  ['errors', (s) => ERRORS.reduce((n, [, key]) => n + s[key], 0), (s) => ERRORS.map(([name, key]) => name + ' ' + s[key]).join(', ')],
  ['logs dropped', (s) => s.log_lines_dropped],
  ['memory restarts', (s) => s.memory_restarts],
  ['in', (s) => bytes(s.bytes_in)],
  ['out', (s) => bytes(s.bytes_out)],
  ['heap', (s) => bytes(s.isolate_heap_bytes)],
  ['CPU ms', (s) => s.cpu_time_ms.toFixed(1)],
];
// [series name, heading, index in a GET /latency sample, format]
const CHARTS = [
  ['rps', 'req/s', 1, (v) => v.toFixed(1)],
  ['p50', 'p50', 2, ms],
  ['p99', 'p99', 3, ms],
];
const CHART_W = 150;
const CHART_H = 36;
const SVG = 'http://www.w3.org/2000/svg';
const $ = (id) => document.getElementById(id);
const previous = new Map();
let busy = false;
let role = 'read';

function bytes(n) {
  if (n < 1024) return n + ' B';
  if (n < 1048576) return (n / 1024).toFixed(1) + ' KiB';
  if (n < 1073741824) return (n / 1048576).toFixed(1) + ' MiB';
  return (n / 1073741824).toFixed(2) + ' GiB';
}

function ms(v) {
  return v < 1 ? (v * 1000).toFixed(0) + ' µs' : v < 100 ? v.toFixed(1) + ' ms' : v.toFixed(0) + ' ms';
}

function headers() {
  const token = sessionStorage.getItem(KEY);
  return token ? { authorization: 'Bearer ' + token } : {};
}

function status(text, bad) {
  $('status').textContent = text;
  $('status').className = bad ? 'bad' : '';
}

async function call(method, path) {
  const r = await fetch(path, { method, headers: headers(), cache: 'no-store' });
  if (r.status === 401) {
    $('login').hidden = false;
    throw new Error(sessionStorage.getItem(KEY) ? 'the token was refused' : 'a token is required');
  }
  const body = await r.json();
  if (!r.ok) throw new Error(body.message || r.statusText);
  role = r.headers.get('x-webdat-role') || role;
  return body;
}

function setCell(td, text, cls, title) {
  td.textContent = String(text);
  td.className = cls || '';
  td.title = title || '';
}

// Rows live as long as their server and are updated in place: a row rebuilt by the poll between a
// button's mousedown and mouseup would swallow the click.
const rows = new Map();
function rowFor(name) {
  const known = rows.get(name);
  if (known && known.role === role) return known;
  if (known) known.row.remove();
  const row = document.createElement('tr');
  row.dataset.server = name;
  const cells = Array.from({ length: 2 + COLUMNS.length }, () => row.insertCell());
  const actions = row.insertCell();
  const buttons = [];
  if (role === 'operator') {
    for (const action of ['start', 'stop', 'restart']) {
      const b = document.createElement('button');
      b.textContent = action;
      b.dataset.action = action;
      b.onclick = () => act(name, action);
      actions.append(b);
      buttons.push(b);
    }
  }
  const made = { row, cells, buttons, role };
  rows.set(name, made);
  return made;
}

// One line over the last five minutes, scaled to its own maximum; gaps where there were no requests.
function chartPath(samples, index, until, span) {
  const max = Math.max(1e-9, ...samples.map((x) => x[index] ?? 0));
  let d = '';
  let pen = 'M';
  for (const x of samples) {
    if (x[index] === null) { pen = 'M'; continue; }
    const px = CHART_W - (until - x[0]) * CHART_W / span;
    const py = CHART_H - 1 - x[index] * (CHART_H - 2) / max;
    d += pen + px.toFixed(1) + ' ' + py.toFixed(1) + ' ';
    pen = 'L';
  }
  return d.trim();
}

function renderCharts(history) {
  const span = history.intervalSeconds * 60 * 1000;
  const until = Date.now();
  const cards = [];
  for (const { name, samples } of history.servers) {
    const card = document.createElement('section');
    card.className = 'card';
    card.dataset.server = name;
    const h = document.createElement('h2');
    h.textContent = name;
    card.append(h);
    const last = samples[samples.length - 1];
    for (const [series, heading, index, format] of CHARTS) {
      const figure = document.createElement('figure');
      const caption = document.createElement('figcaption');
      const value = document.createElement('b');
      value.textContent = last && last[index] !== null ? format(last[index]) : '–';
      caption.append(heading + ' ', value);
      const svg = document.createElementNS(SVG, 'svg');
      svg.setAttribute('width', CHART_W);
      svg.setAttribute('height', CHART_H);
      svg.setAttribute('viewBox', '0 0 ' + CHART_W + ' ' + CHART_H);
      const path = document.createElementNS(SVG, 'path');
      path.dataset.series = series;
      path.setAttribute('d', chartPath(samples, index, until, span));
      svg.append(path);
      figure.append(caption, svg);
      card.append(figure);
    }
    cards.push(card);
  }
  $('charts').replaceChildren(...cards);
}

function render(servers) {
  const head = $('servers').tHead.rows[0];
  if (head.cells.length === 1) {
    for (const name of ['state', ...COLUMNS.map((c) => c[0]), '']) {
      const th = document.createElement('th');
      th.textContent = name;
      head.append(th);
    }
  }
  const body = $('servers').tBodies[0];
  const now = performance.now();
  const shown = new Set();
  servers.forEach((s, at) => {
    const before = previous.get(s.name);
    const rate = before ? ((s.requests - before.requests) * 1000 / (now - before.at)).toFixed(1) : '';
    previous.set(s.name, { requests: s.requests, at: now });
    const { row, cells, buttons } = rowFor(s.name);
    shown.add(s.name);
    setCell(cells[0], s.name);
    setCell(cells[1], s.running ? 'running' : 'stopped', 'state ' + (s.running ? 'up' : 'down'));
    COLUMNS.forEach(([, read, title], i) => setCell(cells[2 + i], read(s, rate), '', title && title(s)));
    for (const b of buttons) b.disabled = b.dataset.action === 'start' ? s.running : b.dataset.action === 'stop' ? !s.running : false;
    if (body.rows[at] !== row) body.insertBefore(row, body.rows[at] || null);
  });
  for (const [name, r] of rows) if (!shown.has(name)) { r.row.remove(); rows.delete(name); }
}

async function act(name, action) {
  status(action + ' ' + name + '…');
  try {
    await call('POST', '/servers/' + encodeURIComponent(name) + '/' + action);
    await poll();
  } catch (e) {
    status(action + ' ' + name + ' failed: ' + e.message, true);
  }
}

async function poll() {
  if (busy) return;
  busy = true;
  try {
    const { servers } = await call('GET', '/servers');
    $('login').hidden = true;
    $('forget').hidden = !sessionStorage.getItem(KEY);
    render(servers);
    renderCharts(await call('GET', '/latency'));
    status('updated ' + new Date().toLocaleTimeString() + (role === 'operator' ? '' : ' (read-only token)'));
  } catch (e) {
    status(e.message, true);
  } finally {
    busy = false;
  }
}

$('login').onsubmit = (e) => {
  e.preventDefault();
  sessionStorage.setItem(KEY, $('token').value);
  $('token').value = '';
  poll();
};
$('forget').onclick = () => { sessionStorage.removeItem(KEY); previous.clear(); poll(); };
poll();
setInterval(poll, 1000);
`;

const hash = (text: string) => `'sha256-${crypto.createHash('sha256').update(text).digest('base64')}'`;

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>webdat admin</title>
<style>${STYLE}</style>
</head>
<body>
<h1>webdat</h1>
<div id="status">loading…</div>
<form id="login" hidden>
  <label>Admin token <input id="token" type="password" autocomplete="off" required></label>
  <button type="submit">Use token</button>
</form>
<button type="button" id="forget" hidden>Forget token</button>
<table id="servers"><thead><tr><th>server</th></tr></thead><tbody></tbody></table>
<div id="charts"></div>
<script>${SCRIPT}</script>
</body>
</html>
`;

export const DASHBOARD_HEADERS: Record<string, string> = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': `default-src 'none'; script-src ${hash(SCRIPT)}; style-src ${hash(STYLE)}; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'`,
  'referrer-policy': 'no-referrer',
};
